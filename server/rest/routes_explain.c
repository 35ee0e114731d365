/* routes_explain.c - POST /explain: attributions of a prediction (explain_request.h).
 *
 * Runs on the HTTP thread, not through the batcher: an explanation is tens of
 * forward and backward passes per row (mlp_explain batches them itself), so
 * coalescing requests would gain nothing. The model is read-only; the
 * request's buffers (outputs, attributions, the engine's scratch) are one
 * allocation of its own, freed before the answer is sent.
 */
#include <stdio.h>
#include <stdlib.h>

#include "encode.h"
#include "explain_request.h"
#include "model_cache.h"
#include "router.h"

/* baseline "mean": the training set's mean input the job recorded for the
 * model, into r->baseline. 0, or -1 with res filled (422 when there is none). */
static int load_mean(app *a, api_explain_request *r, const cached_model *cm, http_response *res) {
    mlpd_error se = {0};
    int rc = store_model_mean_get(a->st, cm->id, &r->baseline, &r->baseline_width, &se);
    if (rc == MLPD_ENOTFOUND) {
        http_reply_problem(res, 422, "invalid-field", "/baseline",
                           "no training-set mean is recorded for model %lld (models uploaded "
                           "rather than trained here have none): give \"zeros\" or a vector",
                           (long long)cm->id);
        return -1;
    }
    if (route_store_check(rc, &se, res, "no model with id %lld", (long long)cm->id) != 0) return -1;
    r->baseline_kind = API_BASELINE_VECTOR;
    return 0;
}

/* The checks that need the model; 0, or -1 with res filled (422). */
static int check_against_model(const api_explain_request *r, const cached_model *cm,
                               http_response *res) {
    const mlp_model *m = cm->model;
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    if (r->width != inputs) {
        http_reply_problem(res, 422, "width-mismatch", r->batch_form ? "/inputs" : "/input",
                           "%s has %d value%s per row but model %lld takes %d inputs",
                           r->batch_form ? "inputs" : "input", r->width, r->width == 1 ? "" : "s",
                           (long long)cm->id, inputs);
        return -1;
    }
    if (r->baseline_kind == API_BASELINE_VECTOR && r->baseline_width != inputs) {
        http_reply_problem(res, 422, "width-mismatch", "/baseline",
                           "baseline has %d values but model %lld takes %d inputs",
                           r->baseline_width, (long long)cm->id, inputs);
        return -1;
    }
    mlp_error err = {{0}};
    if (mlp_explain_config_validate(&r->cfg, m, &err) != MLP_OK) {
        http_reply_problem(res, 422, "invalid-field", "/output", "%s", err.msg);
        return -1;
    }
    for (int i = 0; i < r->n; i++)
        if (r->target[i] >= outputs) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "/target/%d", i);
            http_reply_problem(res, 422, "invalid-field", r->target_array ? ptr : "/target",
                               "target %d is not a class of model %lld (0..%d)", r->target[i],
                               (long long)cm->id, outputs - 1);
            return -1;
        }
    return 0;
}

/* Predict and explain r's rows on m; the answer into res. */
static void explain_rows(api_explain_request *r, const cached_model *cm, http_response *res) {
    const mlp_model *m = cm->model;
    int n = r->n, In = m->arch.sizes[0], O = m->arch.sizes[m->arch.n_layers];
    size_t n_probs = (size_t)n * O, n_attr = (size_t)n * In;
    size_t n_pscr = mlp_scratch_floats(m, n), n_escr = mlp_explain_scratch_floats(m);
    float *block = malloc(sizeof(float) * (n_probs + n_attr + (size_t)n + n_pscr + n_escr) +
                          sizeof(int) * (size_t)n);
    if (!block) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory");
        return;
    }
    float *probs = block, *attr = probs + n_probs, *delta = attr + n_attr;
    float *pscr = delta + n, *escr = pscr + n_pscr;
    int *labels = (int *)(escr + n_escr);
    mlp_error err = {{0}};
    mlp_predict(m, r->x, n, probs, labels, pscr);
    if (mlp_explain(m, &r->cfg, r->x, n, r->target, attr, delta, escr, &err) != MLP_OK)
        http_reply_problem(res, 422, "invalid-field", NULL, "%s", err.msg);
    else
        http_reply_json(res, 200,
                        api_encode_explanations(cm->id, &r->cfg, n, O, probs, labels, r->target, In,
                                                attr, delta));
    free(block);
}

void route_explain(app *a, const http_request *req, http_response *res) {
    if (atomic_load(&a->draining)) {
        http_reply_problem(res, 503, "draining", NULL, "the daemon is shutting down");
        http_set_header(res, "Retry-After", "5");
        return;
    }
    api_explain_request r;
    api_problem prob;
    if (api_explain_request_decode(req->body, req->body_len, &r, &prob) != 0) {
        http_reply_api_problem(res, &prob);
        api_explain_request_free(&r);
        return;
    }
    cached_model *cm = NULL;
    if (route_model_lookup(a, r.model_id, &cm, res) == 0) {
        if ((r.baseline_kind != API_BASELINE_MEAN || load_mean(a, &r, cm, res) == 0) &&
            check_against_model(&r, cm, res) == 0) {
            r.cfg.baseline = r.baseline;
            explain_rows(&r, cm, res);
        }
        model_cache_release(a->models, cm);
    }
    api_explain_request_free(&r);
}
