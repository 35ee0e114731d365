/* routes_explain.c - attributions of a prediction (explain_request.h):
 *   POST /explain                                     mlpd's body, problem+json errors
 *   POST /v2/models/{name}[/versions/{v}]/explain     the Open Inference Protocol v2
 *        infer body, the options as request "parameters", {"error"} errors; the
 *        answer's outputs add "target", "attributions" [N, width] FP32 and, for
 *        integrated gradients, "convergence_delta" (api_v2_explain_encode)
 *
 * Runs on the HTTP thread, not through the batcher: an explanation is tens of
 * forward and backward passes per row (mlp_explain batches them itself), so
 * coalescing requests would gain nothing. The model is read-only; the
 * request's buffers (outputs, attributions, the engine's scratch) are one
 * allocation of its own, freed before the answer is sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "explain_request.h"
#include "infer.h"
#include "json_util.h"
#include "model_cache.h"
#include "model_ref.h"
#include "router.h"
#include "v2_infer.h"

/* baseline "mean": the training set's mean input the job recorded for the
 * model, into r->baseline. 0, or -1 with res filled (422 when there is none). */
static int load_mean(app *a, api_explain_request *r, int64_t id, infer_error_style style,
                     http_response *res) {
    mlpd_error se = {0};
    int rc = store_model_mean_get(a->st, id, &r->baseline, &r->baseline_width, &se);
    if (rc == MLPD_ENOTFOUND) {
        infer_reply_error(style, res, MLPD_EINVAL, "invalid-field", "/baseline",
                          "no training-set mean is recorded for model %lld (models uploaded "
                          "rather than trained here have none): give \"zeros\" or a vector",
                          (long long)id);
        return -1;
    }
    if (rc != MLPD_OK) {
        infer_reply_error(style, res, MLPD_ESTORE, NULL, NULL, "store: %s", se.msg);
        return -1;
    }
    r->baseline_kind = API_BASELINE_VECTOR;
    return 0;
}

/* One request's work, in weight visits: rows x passes x the model's
 * parameters, a pass being one forward and backward over the network (the
 * method's points per row, plus the answer's own prediction). Capped so that
 * a request holds its HTTP thread for a second or two, not a minute: the
 * 784-512-256-10 network still takes the full 32 rows x 1000 steps (1.7e10
 * visits, ~1 s), a 16M-parameter model about 2,000 passes (two explanations
 * of 32 x 1000 on one held both HTTP threads, and /healthz, for 52 s). */
#define EXPLAIN_MAX_VISITS 34359738368.0 /* 2^35 */

static int passes_per_row(const mlp_explain_config *c) {
    return 1 + (c->method == MLP_EXPLAIN_INTEGRATED_GRADIENTS ? c->n_steps + 2
                : c->method == MLP_EXPLAIN_SMOOTHGRAD         ? c->samples
                                                              : 1);
}

/* 422 limit-exceeded (400 for the protocol) when r's work on m passes the cap. */
static int check_work(const api_explain_request *r, const cached_model *cm, infer_error_style style,
                      http_response *res) {
    double params = (double)cm->model->n_params, per_row = passes_per_row(&r->cfg);
    double visits = (double)r->n * per_row * params;
    if (visits <= EXPLAIN_MAX_VISITS) return 0;
    int ig = r->cfg.method == MLP_EXPLAIN_INTEGRATED_GRADIENTS;
    int sg = r->cfg.method == MLP_EXPLAIN_SMOOTHGRAD;
    const char *option = ig ? "n_steps" : sg ? "samples" : NULL;
    /* the most points per row that fit with these rows (may be none) */
    long fit = (long)(EXPLAIN_MAX_VISITS / ((double)r->n * params)) - (ig ? 3 : 1);
    char hint[96] = "send fewer rows";
    if (option && fit >= 1)
        snprintf(hint, sizeof hint, "with %d row%s, %s may be at most %ld (or send fewer rows)",
                 r->n, r->n == 1 ? "" : "s", option, fit);
    char ptr[16];
    snprintf(ptr, sizeof ptr, "/%s", option ? option : r->batch_form ? "inputs" : "input");
    infer_reply_error(style, res, MLPD_EINVAL, "limit-exceeded", ptr,
                      "explaining %d row%s takes %.0f passes over model %lld's %.0f parameters "
                      "(%.3g weight visits; one request may take %.3g): %s",
                      r->n, r->n == 1 ? "" : "s", (double)r->n * per_row, (long long)cm->id, params,
                      visits, EXPLAIN_MAX_VISITS, hint);
    return -1;
}

/* The checks that need the model; 0, or -1 with res filled (422 / 400). */
static int check_against_model(const api_explain_request *r, const cached_model *cm,
                               infer_error_style style, http_response *res) {
    const mlp_model *m = cm->model;
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    if (r->width != inputs) {
        infer_reply_error(style, res, MLPD_EINVAL, "width-mismatch",
                          r->batch_form ? "/inputs" : "/input",
                          "%s has %d value%s per row but model %lld takes %d inputs",
                          r->batch_form ? "inputs" : "input", r->width, r->width == 1 ? "" : "s",
                          (long long)cm->id, inputs);
        return -1;
    }
    if (r->baseline_kind == API_BASELINE_VECTOR && r->baseline_width != inputs) {
        infer_reply_error(style, res, MLPD_EINVAL, "width-mismatch", "/baseline",
                          "baseline has %d values but model %lld takes %d inputs",
                          r->baseline_width, (long long)cm->id, inputs);
        return -1;
    }
    mlp_error err = {{0}};
    if (mlp_explain_config_validate(&r->cfg, m, &err) != MLP_OK) {
        infer_reply_error(style, res, MLPD_EINVAL, "invalid-field", "/output", "%s", err.msg);
        return -1;
    }
    if (check_work(r, cm, style, res) != 0) return -1;
    for (int i = 0; i < r->n; i++)
        if (r->target[i] >= outputs) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "/target/%d", i);
            infer_reply_error(style, res, MLPD_EINVAL, "invalid-field",
                              r->target_array ? ptr : "/target",
                              "target %d is not a class of model %lld (0..%d)", r->target[i],
                              (long long)cm->id, outputs - 1);
            return -1;
        }
    return 0;
}

/* What mlp_predict and mlp_explain wrote for a request's rows. */
typedef struct {
    float *block; /* the one allocation */
    float *probs, *attr, *delta;
    int *labels;
    int classes, width;
} explained;

/* Predict and explain r's rows on m into *e (free e->block). 0, or -1 with res filled. */
static int explain_rows(api_explain_request *r, const cached_model *cm, infer_error_style style,
                        explained *e, http_response *res) {
    const mlp_model *m = cm->model;
    int n = r->n, In = m->arch.sizes[0], O = m->arch.sizes[m->arch.n_layers];
    size_t n_probs = (size_t)n * O, n_attr = (size_t)n * In;
    size_t n_pscr = mlp_scratch_floats(m, n), n_escr = mlp_explain_scratch_floats(m);
    e->block = malloc(sizeof(float) * (n_probs + n_attr + (size_t)n + n_pscr + n_escr) +
                      sizeof(int) * (size_t)n);
    if (!e->block) {
        infer_reply_error(style, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        return -1;
    }
    e->probs = e->block;
    e->attr = e->probs + n_probs;
    e->delta = e->attr + n_attr;
    float *pscr = e->delta + n, *escr = pscr + n_pscr;
    e->labels = (int *)(escr + n_escr);
    e->classes = O;
    e->width = In;
    mlp_error err = {{0}};
    mlp_predict(m, r->x, n, e->probs, e->labels, pscr);
    if (mlp_explain(m, &r->cfg, r->x, n, r->target, e->attr, e->delta, escr, &err) != MLP_OK) {
        infer_reply_error(style, res, MLPD_EINVAL, "invalid-field", NULL, "%s", err.msg);
        free(e->block);
        return -1;
    }
    /* A row whose outputs, attributions or integral error overflowed has no
     * answer (infer_nonfinite_row): the first such row is refused. */
    int ig = r->cfg.method == MLP_EXPLAIN_INTEGRATED_GRADIENTS, bad = -1;
    for (int i = 0; i < n && bad < 0; i++)
        if (infer_nonfinite_row(e->probs + (size_t)i * O, 1, O) >= 0 ||
            infer_nonfinite_row(e->attr + (size_t)i * In, 1, In) >= 0 ||
            (ig && infer_nonfinite_row(e->delta + i, 1, 1) >= 0))
            bad = i;
    if (bad >= 0) {
        char ptr[32];
        snprintf(ptr, sizeof ptr, r->batch_form ? "/inputs/%d" : "/input", bad);
        infer_reply_nonfinite(style, ptr, cm->id, res);
        free(e->block);
        return -1;
    }
    return 0;
}

/* The checks, the mean baseline and the computation; 0 with *e, or -1 with res filled. */
static int run(app *a, api_explain_request *r, const cached_model *cm, infer_error_style style,
               explained *e, http_response *res) {
    if (r->baseline_kind == API_BASELINE_MEAN && load_mean(a, r, cm->id, style, res) != 0)
        return -1;
    if (check_against_model(r, cm, style, res) != 0) return -1;
    r->cfg.baseline = r->baseline;
    return explain_rows(r, cm, style, e, res);
}

void route_explain(app *a, const http_request *req, http_response *res) {
    if (infer_refuse_draining(a, INFER_ERR_PROBLEM, res)) return;
    api_explain_request r;
    api_problem prob;
    if (api_explain_request_decode(req->body, req->body_len, &r, &prob) != 0) {
        http_reply_api_problem(res, &prob);
        api_explain_request_free(&r);
        return;
    }
    registry_target t;
    cached_model *cm = NULL;
    explained e;
    if (infer_resolve(a, INFER_ERR_PROBLEM, "/model", r.has_ref ? r.ref.name : NULL, r.ref.alias,
                      r.ref.version, r.model_id, &t, &cm, res) == 0) {
        if (run(a, &r, cm, INFER_ERR_PROBLEM, &e, res) == 0) {
            http_reply_json(res, 200,
                            api_encode_explanations(cm->id, &r.cfg, r.n, e.classes, e.probs,
                                                    e.labels, r.target, e.width, e.attr, e.delta));
            free(e.block);
        }
        model_cache_release(a->models, cm);
    }
    api_explain_request_free(&r);
}

/* ---- the Open Inference Protocol v2 ------------------------------------------------- */

/* The Inference-Header-Content-Length value: -1 when absent, -2 when malformed. */
static long long header_length(const http_request *req) {
    const char *h = req->conn ? http_header(req, "Inference-Header-Content-Length") : NULL;
    if (!h) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(h, &end, 10);
    if (errno || end == h || *end || v < 0 || h[0] == '+' || h[0] == '-') return -2;
    return v;
}

/* The v2 body's tensor (api_v2_request_decode) and its request "parameters"
 * as the explanation's options into *r. 0, or -1 with a {"error"} in res. */
static int decode_v2(const http_request *req, api_v2_request *v2, api_explain_request *r,
                     http_response *res) {
    long long hl = header_length(req);
    api_problem prob;
    if (hl == -2 || (hl >= 0 && (size_t)hl > req->body_len)) {
        infer_reply_error(INFER_ERR_PROTOCOL, res, MLPD_EINVAL, "invalid", NULL,
                          "Inference-Header-Content-Length must be the JSON part's length");
        return -1;
    }
    if (api_v2_request_decode(req->body, req->body_len, hl, API_EXPLAIN_MAX_ROWS, v2, &prob) != 0) {
        infer_reply_status(INFER_ERR_PROTOCOL, res, prob.status, "invalid", NULL, "%s",
                           prob.detail);
        return -1;
    }
    cJSON *root = api_json_parse(req->body, hl >= 0 ? (size_t)hl : req->body_len, &prob);
    int rc = root ? api_explain_params_decode(cJSON_GetObjectItemCaseSensitive(root, "parameters"),
                                              v2->rows, r, &prob)
                  : -1;
    cJSON_Delete(root);
    if (rc != 0) {
        infer_reply_status(INFER_ERR_PROTOCOL, res, prob.status, "invalid", NULL,
                           "parameters%s: %s", prob.pointer, prob.detail);
        return -1;
    }
    /* the rows move over to r */
    r->x = v2->x;
    v2->x = NULL;
    r->n = v2->rows;
    r->width = v2->width;
    r->batch_form = 1;
    return 0;
}

void route_v2_explain(app *a, const http_request *req, http_response *res) {
    if (infer_refuse_draining(a, INFER_ERR_PROTOCOL, res)) return;
    const char *sel = req->n_params > 1 ? req->params[1] : NULL;
    api_model_ref ref;
    if (api_model_ref_from_parts(req->params[0], sel, &ref) != 0) {
        infer_reply_error(INFER_ERR_PROTOCOL, res, MLPD_ENOTFOUND, NULL, NULL,
                          "unknown model: '%s'%s%s", req->params[0], sel ? " version " : "",
                          sel ? sel : "");
        return;
    }
    api_v2_request v2;
    api_explain_request r;
    memset(&v2, 0, sizeof v2);
    memset(&r, 0, sizeof r);
    registry_target t;
    cached_model *cm = NULL;
    explained e;
    if (decode_v2(req, &v2, &r, res) == 0 &&
        infer_resolve(a, INFER_ERR_PROTOCOL, NULL, ref.name, ref.alias, ref.version, 0, &t, &cm,
                      res) == 0) {
        if (run(a, &r, cm, INFER_ERR_PROTOCOL, &e, res) == 0) {
            char *body =
                api_v2_explain_encode(t.name, t.version, v2.id, &r.cfg, r.n, e.classes, e.probs,
                                      e.labels, r.target, e.width, e.attr, e.delta);
            if (body)
                http_reply_take(res, 200, "application/json", body, strlen(body));
            else
                infer_reply_error(INFER_ERR_PROTOCOL, res, MLPD_EINTERNAL, NULL, NULL,
                                  "out of memory");
            free(e.block);
        }
        model_cache_release(a->models, cm);
    }
    api_v2_request_free(&v2);
    api_explain_request_free(&r);
}
