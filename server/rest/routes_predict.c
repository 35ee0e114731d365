/* routes_predict.c - POST /predict: one vector or a batch, against a cached model.
 *
 * The hot path of the daemon. The HTTP thread decodes the body (one pass,
 * no cJSON tree: api/predict_request.c), resolves the model (an id, or a
 * registry reference: infer.h) and hands the rows to the shared inference
 * path (infer_run), which predicts them here at low load or through the
 * batcher, and then calls answer() below on the connection's thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "encode.h"
#include "infer.h"
#include "predict_request.h"

typedef struct {
    infer_job base; /* first */
    api_predict_request pr;
} predict_job;

static void answer(infer_job *base, http_response *res) {
    predict_job *j = (predict_job *)base;
    int bad = infer_untrusted_row(base);
    if (bad >= 0) {
        char ptr[32];
        snprintf(ptr, sizeof ptr, j->pr.batch_form ? "/inputs/%d" : "/input", bad);
        infer_reply_nonfinite(INFER_ERR_PROBLEM, ptr, base->cm->id, res);
        return;
    }
    /* Every answer says which name and version answered. */
    api_predictions p = {.model_id = base->cm->id,
                         .n = j->pr.n,
                         .classes = base->outputs,
                         .probs = base->item.probs,
                         .labels = base->item.labels,
                         .class_names = base->cm->class_names,
                         .model_name = base->target.name,
                         .model_version = base->target.version,
                         .canary = base->target.canary};
    size_t len = 0;
    char *text = api_encode_predictions(&p, &len);
    if (!text) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory encoding the response");
        return;
    }
    http_reply_take(res, 200, "application/json", text, len);
}

static void release(infer_job *base) {
    predict_job *j = (predict_job *)base;
    api_predict_request_free(&j->pr);
    free(j);
}

int route_model_lookup(app *a, int64_t id, cached_model **out, http_response *res) {
    registry_target t;
    return infer_resolve(a, INFER_ERR_PROBLEM, "/model", NULL, NULL, 0, id, &t, out, res);
}

void route_predict(app *a, const http_request *req, http_response *res) {
    if (infer_refuse_draining(a, INFER_ERR_PROBLEM, res)) return;
    uint64_t start = mono_ns();
    api_predict_request pr;
    api_problem prob;
    if (api_predict_request_decode(req->body, req->body_len, a->cfg->max_predict_batch, &pr,
                                   &prob) != 0) {
        http_reply_api_problem(res, &prob);
        return;
    }
    registry_target t;
    cached_model *cm = NULL;
    if (infer_resolve(a, INFER_ERR_PROBLEM, "/model", pr.has_ref ? pr.ref.name : NULL, pr.ref.alias,
                      pr.ref.version, pr.model_id, &t, &cm, res) != 0) {
        api_predict_request_free(&pr);
        return;
    }
    const mlp_model *m = cm->model;
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    if (pr.width != inputs) {
        route_reply_error(res, MLPD_EINVAL, "width-mismatch", pr.batch_form ? "/inputs" : "/input",
                          "%s has %d value%s per row but model %lld takes %d inputs",
                          pr.batch_form ? "inputs" : "input", pr.width, pr.width == 1 ? "" : "s",
                          (long long)cm->id, inputs);
        model_cache_release(a->models, cm);
        api_predict_request_free(&pr);
        return;
    }
    predict_job *j = infer_job_new(sizeof *j, pr.n, outputs);
    if (!j) {
        route_reply_error(res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        model_cache_release(a->models, cm);
        api_predict_request_free(&pr);
        return;
    }
    j->pr = pr;
    j->base.cm = cm;
    j->base.target = t;
    j->base.style = INFER_ERR_PROBLEM;
    j->base.start_ns = start;
    j->base.item.x = j->pr.x;
    j->base.item.rows = j->pr.n;
    j->base.answer = answer;
    j->base.release = release;
    if (infer_ask_precision(&j->base, pr.precision, "/precision", res) != 0) {
        model_cache_release(a->models, cm);
        release(&j->base);
        return;
    }
    infer_run(a, &j->base, req, res);
}
