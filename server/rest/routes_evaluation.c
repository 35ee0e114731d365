/* routes_evaluation.c - GET /models/{id}/evaluation, POST /models/{id}/evaluate.
 *
 * The evaluation runs on the HTTP thread that received the request: one
 * forward pass over the split (about 0.1 s for 10,000 MNIST test images on
 * the reference network) and two over nothing else; the answer is the stored
 * record, so what POST answers is what GET will answer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "evaluate_request.h"
#include "evaluation.h"
#include "model_cache.h"
#include "router.h"
#include "views.h"

/* Answer with the newest evaluation of model id (status on success). */
static void reply_evaluation(app *a, int64_t id, int status, http_response *res) {
    store_evaluation ev;
    mlpd_error se = {0};
    int rc = store_evaluation_latest(a->st, id, &ev, &se);
    if (rc == MLPD_ENOTFOUND) {
        store_model m;
        if (route_store_check(store_model_get(a->st, id, &m, &se), &se, res,
                              "no model with id %lld", (long long)id) != 0)
            return;
        store_model_clear(&m);
        http_reply_problem(res, 404, "not-found", NULL,
                           "model %lld has no evaluation yet: POST /models/%lld/evaluate with a "
                           "dataset",
                           (long long)id, (long long)id);
        return;
    }
    if (route_store_check(rc, &se, res, "no model with id %lld", (long long)id) != 0) return;
    http_reply_json(res, status, view_evaluation(&ev));
    if (status == 201) http_set_header(res, "Location", "/models/%lld/evaluation", (long long)id);
    store_evaluation_clear(&ev);
}

void route_model_evaluation(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "model", &id, res) != 0) return;
    reply_evaluation(a, id, 200, res);
}

/* Map an EVAL_* result to its answer. */
static void reply_failure(int rc, const char *why, http_response *res) {
    switch (rc) {
    case EVAL_NO_DATASET:
    case EVAL_NO_SPLIT:
    case EVAL_MISMATCH:
        http_reply_problem(res, 422, rc == EVAL_MISMATCH ? "width-mismatch" : "invalid-field",
                           rc == EVAL_NO_SPLIT ? "/split" : "/dataset", "%s", why);
        break;
    case EVAL_NO_MODEL: http_reply_problem(res, 404, "not-found", NULL, "%s", why); break;
    default: http_reply_problem(res, 500, "internal", NULL, "%s", why);
    }
}

void route_model_evaluate(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "model", &id, res) != 0) return;
    api_evaluate_request r;
    api_problem prob;
    if (api_evaluate_request_decode(req->body, req->body_len, &r, &prob) != 0) {
        http_reply_api_problem(res, &prob);
        return;
    }
    cached_model *cm = NULL;
    char why[320];
    mlpd_error me = {0};
    int rc = model_cache_get(a->models, id, &cm, &me);
    if (rc == MLPD_ENOTFOUND) {
        route_reply_error(res, rc, NULL, NULL, "no model with id %lld", (long long)id);
        return;
    }
    if (rc != MLPD_OK) { /* "internal", whatever failed */
        route_reply_error(res, route_failure_code(rc), NULL, NULL, "%s", me.msg);
        return;
    }
    mlp_dataset *d = NULL;
    rc = evaluation_load_split(a->st, a->cfg->data_dir, a->cfg->max_dataset_bytes, r.dataset,
                               r.split, &d, why, sizeof why);
    if (rc == EVAL_OK)
        rc = evaluation_record(a->st, id, cm->model, r.dataset, r.split, d, NULL, why, sizeof why);
    mlp_dataset_free(d);
    model_cache_release(a->models, cm);
    if (rc != EVAL_OK) {
        reply_failure(rc, why, res);
        return;
    }
    reply_evaluation(a, id, 201, res);
}
