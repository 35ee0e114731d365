/* routes_sweeps.c - POST /sweeps, GET /sweeps, GET /sweeps/{id},
 * POST /sweeps/{id}/cancel (GET /sweeps/{id}/events is in sse_sweep.c).
 *
 * POST /sweeps checks what POST /train checks, for the base and for every
 * child the sweep may make (api/sweep_request.h decodes them all): the
 * decoder's 422s, the base's data set (404) and fit (409), the daemon's
 * limits (422 naming /base/... or /space/<member>), and the queue (429 when
 * the job queue is full or --max-queue sweeps are active). */
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "sweep_request.h"
#include "sweeps.h"
#include "views.h"

#define MAX_CHILDREN_VIEW API_SWEEP_MAX_RUNS

/* The sweep with its children; 0, or -1 with res filled. */
static int reply_sweep(app *a, int64_t id, int status, http_response *res) {
    store_sweep w;
    mlpd_error se = {0};
    if (route_store_check(store_sweep_get(a->st, id, &w, &se), &se, res, "no sweep with id %lld",
                          (long long)id) != 0)
        return -1;
    store_run *kids = NULL;
    size_t n = 0;
    int rc = route_store_check(store_sweep_children(a->st, id, MAX_CHILDREN_VIEW, &kids, &n, &se),
                               &se, res, "no sweep with id %lld", (long long)id);
    if (rc == 0) http_reply_json(res, status, view_sweep(&w, kids, n, 1));
    store_run_list_free(kids, n);
    store_sweep_clear(&w);
    return rc;
}

/* The daemon's limits for every child; 0 or -1 (res filled). */
static int check_children(app *a, const api_sweep_request *sr, const char *body, size_t len,
                          http_response *res) {
    cJSON *root = cJSON_ParseWithLength(body, len);
    route_limit_ctx ctx = {.prefix = "/base",
                           .space = cJSON_GetObjectItemCaseSensitive(root, "space")};
    int rc = route_check_train_limits(a, &sr->base, &(route_limit_ctx){.prefix = "/base"}, res);
    for (int i = 0; rc == 0 && i < sr->max_runs; i++) {
        api_train_request child;
        api_problem prob;
        if (api_sweep_child(sr, i, &child, NULL, &prob) != 0) {
            http_reply_api_problem(res, &prob);
            rc = -1;
        } else {
            rc = route_check_train_limits(a, &child, &ctx, res);
        }
    }
    cJSON_Delete(root);
    return rc;
}

static void reply_submit_error(app *a, int rc, const mlpd_error *err, http_response *res) {
    switch (rc) {
    case MLPD_EBUSY: route_reply_error(res, rc, NULL, NULL, "%s; retry later", err->msg); return;
    case MLPD_ENOTFOUND:
        route_reply_error(res, rc, NULL,
                          strncmp(err->msg, "dataset", 7) ? "/base/warm_start_model"
                                                          : "/base/dataset",
                          "%s", err->msg);
        return;
    case MLPD_ECONFLICT:
        route_reply_error(res, rc, "does-not-fit", "/base", "%s", err->msg);
        return;
    case MLPD_ENOSPC: route_reply_error(res, rc, NULL, NULL, "%s", err->msg); return;
    default:
        if (atomic_load(&a->draining))
            route_reply_draining(res);
        else
            route_reply_error(res, route_failure_code(rc), NULL, NULL, "%s", err->msg);
    }
}

void route_sweep_create(app *a, const http_request *req, http_response *res) {
    if (atomic_load(&a->draining)) {
        route_reply_draining(res);
        return;
    }
    api_sweep_request sr;
    api_problem prob;
    memset(&prob, 0, sizeof prob);
    if (api_sweep_request_decode(req->body, req->body_len, &sr, &prob) != 0) {
        http_reply_api_problem(res, &prob);
        return;
    }
    mlpd_error err = {0};
    int64_t id = 0;
    int rc = check_children(a, &sr, req->body, req->body_len, res);
    if (rc == 0) {
        rc = jobs_check_request(a->jobs, &sr.base, &err);
        if (rc == MLPD_OK) rc = sweeps_submit(a->sweeps, &sr, &id, &err);
        if (rc != MLPD_OK)
            reply_submit_error(a, rc, &err, res);
        else if (reply_sweep(a, id, 202, res) == 0)
            http_set_header(res, "Location", "/sweeps/%lld", (long long)id);
    }
    api_sweep_request_free(&sr);
}

void route_sweeps_list(app *a, const http_request *req, http_response *res) {
    store_run_query q = {0};
    const char *status = http_query(req, "status");
    if (status) {
        if (run_status_from_name(status, &q.status) != 0) {
            http_reply_problem(res, 422, "invalid-query", NULL,
                               "status must be one of queued, running, succeeded, failed, "
                               "cancelled; got '%s'",
                               status);
            return;
        }
        q.has_status = 1;
    }
    long long limit, offset;
    if (route_query_page(req, &limit, &offset, res) != 0) return;
    q.limit = (int)limit;
    q.offset = offset;
    store_sweep *list = NULL;
    size_t n = 0;
    int64_t total = 0;
    mlpd_error se = {0};
    if (route_store_check(store_sweep_list(a->st, &q, &list, &n, &total, &se), &se, res,
                          "no sweeps") != 0)
        return;
    cJSON *body = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(body, "sweeps");
    for (size_t i = 0; i < n; i++) {
        store_run *kids = NULL;
        size_t nk = 0;
        store_sweep_children(a->st, list[i].id, MAX_CHILDREN_VIEW, &kids, &nk, NULL);
        cJSON_AddItemToArray(arr, view_sweep(&list[i], kids, nk, 0));
        store_run_list_free(kids, nk);
    }
    cJSON_AddNumberToObject(body, "total", (double)total);
    cJSON_AddNumberToObject(body, "limit", q.limit);
    view_add_integer(body, "offset", q.offset);
    store_sweep_list_free(list, n);
    http_reply_json(res, 200, body);
}

void route_sweep_get(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "sweep", &id, res) != 0) return;
    reply_sweep(a, id, 200, res);
}

void route_sweep_cancel(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "sweep", &id, res) != 0) return;
    mlpd_error err = {0};
    int rc = sweeps_cancel(a->sweeps, id, &err);
    if (rc == MLPD_ENOTFOUND)
        route_reply_error(res, rc, NULL, NULL, "no sweep with id %lld", (long long)id);
    else if (rc == MLPD_ECONFLICT)
        route_reply_error(res, rc, "sweep-ended", NULL, "sweep %lld has already ended",
                          (long long)id);
    else if (rc == MLPD_ENOSPC)
        route_reply_error(res, rc, NULL, NULL,
                          "the disk is full: sweep %lld's end cannot be recorded", (long long)id);
    else if (rc != MLPD_OK)
        route_reply_error(res, route_failure_code(rc), NULL, NULL, "cannot cancel sweep %lld",
                          (long long)id);
    else
        reply_sweep(a, id, 202, res);
}
