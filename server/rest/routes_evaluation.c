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
        route_reply_error(res, MLPD_ENOTFOUND, NULL, NULL,
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

/* The data set and split named in the body could not be loaded: ENOTFOUND
 * (no such data set) and EINVAL (no such split) are the request's fault. */
static void reply_load_failure(int rc, const mlpd_error *e, http_response *res) {
    if (rc == MLPD_ENOTFOUND || rc == MLPD_EINVAL)
        route_reply_error(res, MLPD_EINVAL, NULL, rc == MLPD_EINVAL ? "/split" : "/dataset", "%s",
                          e->msg);
    else
        route_reply_error(res, route_failure_code(rc), NULL, NULL, "%s", e->msg);
}

/* The report could not be recorded: EINVAL, the data set does not fit the
 * model; ENOTFOUND, the model was deleted meanwhile. */
static void reply_record_failure(int rc, const mlpd_error *e, http_response *res) {
    if (rc == MLPD_EINVAL)
        route_reply_error(res, rc, "width-mismatch", "/dataset", "%s", e->msg);
    else
        route_reply_error(res, rc == MLPD_ENOTFOUND ? rc : route_failure_code(rc), NULL, NULL, "%s",
                          e->msg);
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
    mlpd_error ee = {0};
    rc = evaluation_load_split(a->st, a->cfg->data_dir, a->cfg->max_dataset_bytes, r.dataset,
                               r.split, &d, &ee);
    if (rc != MLPD_OK)
        reply_load_failure(rc, &ee, res);
    else if ((rc = evaluation_record(a->st, id, cm->model, r.dataset, r.split, d, NULL, &ee)) !=
             MLPD_OK)
        reply_record_failure(rc, &ee, res);
    mlp_dataset_free(d);
    model_cache_release(a->models, cm);
    if (rc != MLPD_OK) return;
    reply_evaluation(a, id, 201, res);
}
