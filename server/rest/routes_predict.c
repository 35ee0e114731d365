/* routes_predict.c - POST /predict: one vector or a batch, against a cached model.
 *
 * The hot path of the daemon. The HTTP thread decodes the body (one pass,
 * no cJSON tree: api/predict_request.c), finds the model in the cache and
 * hands the rows to the cache's batcher (batcher.h), suspending the
 * connection (http_defer); the batcher thread predicts many requests' rows in
 * one matrix product and resumes each connection, whose HTTP thread then
 * encodes the answer; at low load the HTTP thread predicts the request itself
 * (batcher_run_here). Everything a request needs (rows, outputs, the model
 * reference) lives in one predict_job allocation, freed by finish_job().
 * Without a batcher or outside http.c the same job is predicted in place.
 */
#include <stdlib.h>

#include "batcher.h"
#include "encode.h"
#include "metrics.h"
#include "model_cache.h"
#include "predict_request.h"
#include "router.h"

typedef struct {
    batch_item item; /* first: the batcher hands it back to on_batched */
    app *a;
    cached_model *cm;       /* referenced until finish_job */
    api_predict_request pr; /* item.x points into pr.x */
    http_deferred *d;
    int outputs;
} predict_job;

/* The answer for a job whose outputs are written (or failed); releases everything. */
static void finish_job(void *arg, http_response *res) {
    predict_job *j = arg;
    if (j->item.failed) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory predicting");
    } else {
        http_reply_json(
            res, 200,
            api_encode_predictions(j->cm->id, j->pr.n, j->outputs, j->item.probs, j->item.labels));
        metrics_count_prediction(j->a->metrics, j->pr.n);
    }
    model_cache_release(j->a->models, j->cm);
    api_predict_request_free(&j->pr);
    free(j);
}

/* Batcher thread: the outputs are in; let the connection's thread answer. */
static void on_batched(batch_item *it) {
    http_deferred_resume(((predict_job *)it)->d);
}

int route_model_lookup(app *a, int64_t id, cached_model **out, http_response *res) {
    char err[256] = "";
    int rc = model_cache_get(a->models, id, out, err, sizeof err);
    if (rc == MC_OK) return 0;
    /* No model (yet) is a missing resource, not a conflict: 404 either way,
     * and the detail says which case it is. */
    if (rc == MC_NOTFOUND && id)
        http_reply_problem(res, 404, "not-found", "/model", "no model with id %lld", (long long)id);
    else if (rc == MC_NOTFOUND)
        http_reply_problem(res, 404, "no-model", "/model",
                           "there is no model yet: train one (POST /train) or upload one "
                           "(POST /models)");
    else
        http_reply_problem(res, 500, "internal", NULL, "%s", err);
    return -1;
}

void route_predict(app *a, const http_request *req, http_response *res) {
    if (atomic_load(&a->draining)) {
        http_reply_problem(res, 503, "draining", NULL, "the daemon is shutting down");
        http_set_header(res, "Retry-After", "5");
        return;
    }
    api_predict_request pr;
    api_problem prob;
    if (api_predict_request_decode(req->body, req->body_len, a->cfg->max_predict_batch, &pr,
                                   &prob) != 0) {
        http_reply_api_problem(res, &prob);
        return;
    }
    cached_model *cm = NULL;
    if (route_model_lookup(a, pr.model_id, &cm, res)) goto free_request;
    const mlp_model *m = cm->model;
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    if (pr.width != inputs) {
        http_reply_problem(res, 422, "width-mismatch", pr.batch_form ? "/inputs" : "/input",
                           "%s has %d value%s per row but model %lld takes %d inputs",
                           pr.batch_form ? "inputs" : "input", pr.width, pr.width == 1 ? "" : "s",
                           (long long)cm->id, inputs);
        goto release;
    }
    /* One allocation: the job, then its probabilities, then its labels. */
    size_t n_probs = (size_t)pr.n * (size_t)outputs;
    predict_job *j = malloc(sizeof *j + n_probs * sizeof(float) + (size_t)pr.n * sizeof(int));
    if (!j) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory");
        goto release;
    }
    float *probs = (float *)(j + 1);
    *j = (predict_job){.item = {.model = m,
                                .x = pr.x,
                                .rows = pr.n,
                                .probs = probs,
                                .labels = (int *)(probs + n_probs),
                                .done = on_batched},
                       .a = a,
                       .cm = cm,
                       .pr = pr,
                       .outputs = outputs};
    batcher *b = model_cache_batcher(a->models);
    if (b && batcher_run_here(b, &j->item)) { /* idle: no hand-off to the batcher thread */
        finish_job(j, res);
        return;
    }
    if (b && (j->d = http_defer(req, finish_job, j)) != NULL) {
        if (batcher_submit(b, &j->item) == 0) return;
        /* The batcher is stopping (shutdown): predict here, answer as deferred. */
        batch_item_predict_here(&j->item);
        http_deferred_resume(j->d);
        return;
    }
    batch_item_predict_here(&j->item); /* no batcher (--predict-batch-rows 0), or not deferrable */
    finish_job(j, res);
    return;
release:
    model_cache_release(a->models, cm);
free_request:
    api_predict_request_free(&pr);
}
