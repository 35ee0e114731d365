/* routes_predict.c - POST /predict: one vector or a batch, against a cached model. */
#include <stdlib.h>

#include "config.h"
#include "encode.h"
#include "metrics.h"
#include "model_cache.h"
#include "predict_request.h"
#include "router.h"

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
    char err[256] = "";
    int rc = model_cache_get(a->models, pr.model_id, &cm, err, sizeof err);
    if (rc == MC_NOTFOUND) {
        /* No model (yet) is a missing resource, not a conflict: 404 either way,
         * and the detail says which case it is. */
        if (pr.model_id)
            http_reply_problem(res, 404, "not-found", "/model", "no model with id %lld",
                               (long long)pr.model_id);
        else
            http_reply_problem(res, 404, "no-model", "/model",
                               "there is no model yet: train one (POST /train) or upload one "
                               "(POST /models)");
        api_predict_request_free(&pr);
        return;
    }
    if (rc != MC_OK) {
        http_reply_problem(res, 500, "internal", NULL, "%s", err);
        api_predict_request_free(&pr);
        return;
    }
    const mlp_model *m = cm->model;
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    if (pr.width != inputs) {
        http_reply_problem(res, 422, "width-mismatch", pr.batch_form ? "/inputs" : "/input",
                           "%s has %d value%s per row but model %lld takes %d inputs",
                           pr.batch_form ? "inputs" : "input", pr.width, pr.width == 1 ? "" : "s",
                           (long long)cm->id, inputs);
        goto out;
    }
    float *probs = malloc((size_t)pr.n * (size_t)outputs * sizeof *probs);
    int *labels = malloc((size_t)pr.n * sizeof *labels);
    float *scratch = malloc(mlp_scratch_floats(m, pr.n) * sizeof *scratch);
    if (probs && labels && scratch) {
        mlp_predict(m, pr.x, pr.n, probs, labels, scratch);
        http_reply_json(res, 200, api_encode_predictions(cm->id, pr.n, outputs, probs, labels));
        metrics_count_prediction(a->metrics, pr.n);
    } else {
        http_reply_problem(res, 500, "internal", NULL, "out of memory");
    }
    free(probs);
    free(labels);
    free(scratch);
out:
    model_cache_release(a->models, cm);
    api_predict_request_free(&pr);
}
