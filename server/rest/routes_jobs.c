/* routes_jobs.c - POST /train, GET /jobs, GET /jobs/{id}, GET /jobs/{id}/metrics,
 * POST /jobs/{id}/cancel. (GET /jobs/{id}/events is in sse.c.)
 *
 * POST /train enforces the daemon's own limits on top of the decoder's
 * (api/train_request.h: layers, widths, epochs <= 10000): --max-epochs and
 * --max-params (weights + biases for the data set's width and classes), both
 * 422 naming the field, and --max-queue (429 with Retry-After, jobs.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "json_util.h"
#include "paging.h"
#include "router.h"
#include "train_request.h"
#include "views.h"

/* The job as stored, with live progress while it trains. 0 or -1 (res filled). */
static int reply_job(app *a, int64_t id, int status, http_response *res) {
    store_run run;
    if (route_load_job(a, id, &run, res) != 0) return -1;
    jobs_live live;
    int has_live = run.status == RUN_RUNNING && jobs_get_live(a->jobs, id, &live) == MLPD_OK;
    http_reply_json(res, status, view_job(&run, has_live ? &live : NULL));
    store_run_clear(&run);
    return 0;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return 0;
    return 1;
}

/* Weights + biases of features -> hidden... -> classes. */
static uint64_t network_params(int features, const int *hidden, int n_hidden, int classes) {
    uint64_t total = 0;
    int in = features;
    for (int i = 0; i <= n_hidden; i++) {
        int out = i < n_hidden ? hidden[i] : classes;
        total += ((uint64_t)in + 1) * (uint64_t)out;
        in = out;
    }
    return total;
}

/* The pointer of `member` (a recipe name, dotted for an object's member) for
 * a refusal: under /space when the sweep's space varies it (its keys are the
 * dotted names), else prefix + member with its dots as slashes. */
static void limit_pointer(char *dst, size_t cap, const route_limit_ctx *ctx, const char *member) {
    if (ctx && ctx->space && cJSON_GetObjectItemCaseSensitive(ctx->space, member)) {
        snprintf(dst, cap, "/space/%s", member);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "%s", member);
    for (char *c = path; *c; c++)
        if (*c == '.') *c = '/';
    snprintf(dst, cap, "%s/%s", ctx && ctx->prefix ? ctx->prefix : "", path);
}

int route_check_train_limits(app *a, const api_train_request *tr, const route_limit_ctx *ctx,
                             http_response *res) {
    char ptr[96];
    if (tr->recipe.train.epochs > a->cfg->max_epochs) {
        limit_pointer(ptr, sizeof ptr, ctx, "epochs");
        http_reply_problem(res, 422, "limit-exceeded", ptr,
                           "epochs %d exceeds this daemon's limit of %d (--max-epochs)",
                           tr->recipe.train.epochs, a->cfg->max_epochs);
        return -1;
    }
    store_dataset ds;
    if (store_dataset_get(a->st, tr->dataset, &ds, NULL) != MLPD_OK)
        return 0; /* unknown data set: jobs_submit answers 404 */
    const mlp_recipe *rc = &tr->recipe;
    /* Augmentation needs square images: a data set's width is known here,
     * not when the body is decoded. */
    const char *member = NULL;
    mlp_error aug = {{0}};
    if (mlp_augment_check(&rc->train.augment, ds.features, &member, &aug) != MLP_OK) {
        store_dataset_clear(&ds);
        limit_pointer(ptr, sizeof ptr, ctx, member);
        http_reply_problem(res, 422, API_SLUG_INVALID, ptr, "%s (data set '%s')", aug.msg,
                           tr->dataset);
        return -1;
    }
    uint64_t params = network_params(ds.features, rc->hidden, rc->n_hidden, ds.classes);
    mlp_memory_estimate mem = {0};
    mlp_arch arch;
    int sized = mlp_arch_make(&arch, ds.features, rc->hidden, rc->n_hidden, rc->activation,
                              ds.classes, rc->loss, rc->output_activation, NULL) == MLP_OK;
    int is_idx = ds.format && !strcmp(ds.format, "idx");
    uint64_t data = mlp_dataset_bytes((uint64_t)ds.n_train, ds.features, is_idx) +
                    mlp_dataset_bytes((uint64_t)ds.n_test, ds.features, is_idx);
    if (sized) mlp_train_memory(&arch, &rc->train, (uint64_t)ds.n_train, data, &mem);
    store_dataset_clear(&ds);
    if (params > (uint64_t)a->cfg->max_params) {
        limit_pointer(ptr, sizeof ptr, ctx, "hidden");
        http_reply_problem(res, 422, "limit-exceeded", ptr,
                           "this network has %llu parameters for data set '%s'; the limit is %d "
                           "(--max-params)",
                           (unsigned long long)params, tr->dataset, a->cfg->max_params);
        return -1;
    }
    if (mem.total > a->cfg->max_job_memory) {
        limit_pointer(ptr, sizeof ptr, ctx, "batch_size");
        http_reply_problem(res, 422, "limit-exceeded", ptr,
                           "this job would need about %.1f MiB (parameters %.1f, optimizer %.1f, "
                           "batch of %d %.1f, data %.1f); the limit is %.1f MiB "
                           "(--max-job-memory)",
                           mem.total / 1048576.0, mem.params / 1048576.0, mem.optimizer / 1048576.0,
                           rc->train.batch_size, mem.activations / 1048576.0,
                           mem.dataset / 1048576.0, a->cfg->max_job_memory / 1048576.0);
        return -1;
    }
    return 0;
}

void route_train(app *a, const http_request *req, http_response *res) {
    if (atomic_load(&a->stopping)) {
        route_reply_draining(res);
        return;
    }
    api_train_request tr;
    api_problem prob;
    if (blank(req->body, req->body_len)) {
        api_train_request_default(&tr); /* no body: the reference recipe */
    } else if (api_train_request_decode(req->body, req->body_len, &tr, &prob) != 0) {
        http_reply_api_problem(res, &prob);
        return;
    }
    if (route_check_train_limits(a, &tr, NULL, res) != 0) return;
    int64_t id = 0;
    mlpd_error err = {0};
    int rc = jobs_submit(a->jobs, &tr, &id, &err);
    switch (rc) {
    case MLPD_OK:
        /* The job runner tells the model cache when the job's model is
         * committed (jobs_config.model_saved): nothing to forget yet. */
        if (reply_job(a, id, 202, res) == 0)
            http_set_header(res, "Location", "/jobs/%lld", (long long)id);
        return;
    case MLPD_EBUSY: route_reply_error(res, rc, NULL, NULL, "%s; retry later", err.msg); return;
    case MLPD_ENOTFOUND:
        route_reply_error(res, rc, NULL,
                          strncmp(err.msg, "dataset", 7) ? "/warm_start_model" : "/dataset", "%s",
                          err.msg);
        return;
    case MLPD_ECONFLICT: route_reply_error(res, rc, "does-not-fit", NULL, "%s", err.msg); return;
    case MLPD_ENOSPC: route_reply_error(res, rc, NULL, NULL, "%s", err.msg); return;
    default:
        if (atomic_load(&a->stopping))
            route_reply_draining(res);
        else /* POST /train documents "internal" for every other failure */
            route_reply_error(res, route_failure_code(rc), NULL, NULL, "%s", err.msg);
    }
}

void route_jobs_list(app *a, const http_request *req, http_response *res) {
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
    route_page pg;
    if (route_page_parse(req, 0, &pg, res) != 0) return;
    q.limit = (int)pg.limit + 1; /* one more: is there a next page? */
    q.offset = pg.offset;
    q.before_id = pg.cursor_id;
    store_run *runs = NULL;
    size_t n = 0;
    int64_t total = 0;
    mlpd_error se = {0};
    if (route_store_check(store_run_list(a->st, &q, &runs, &n, &total, &se), &se, res, "no jobs") !=
        0)
        return;
    char next[24] = "";
    size_t fetched = n;
    if (n > (size_t)pg.limit) {
        n = (size_t)pg.limit; /* the look-ahead row is not shown */
        snprintf(next, sizeof next, "%lld", (long long)runs[n - 1].id);
    }
    cJSON *body = view_job_list(runs, n, total, (int)pg.limit, pg.offset);
    route_page_next(req, &pg, "status", next[0] ? next : NULL, body, res);
    /* A running job's entry gets its live progress too, as GET /jobs/{id} would. */
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "jobs");
    for (size_t i = 0; i < n; i++) {
        jobs_live live;
        if (runs[i].status == RUN_RUNNING && jobs_get_live(a->jobs, runs[i].id, &live) == MLPD_OK)
            cJSON_ReplaceItemInArray(arr, (int)i, view_job(&runs[i], &live));
    }
    store_run_list_free(runs, fetched);
    http_reply_json(res, 200, body);
}

void route_job_get(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "job", &id, res) != 0) return;
    reply_job(a, id, 200, res);
}

void route_job_metrics(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "job", &id, res) != 0) return;
    long long since, limit;
    if (route_query_int(req, "since", 0, (long long)API_JSON_MAX_SAFE_INT, 0, &since, res) != 0 ||
        route_query_int(req, "limit", 1, 10000, 1000, &limit, res) != 0)
        return;
    store_run run;
    if (route_load_job(a, id, &run, res) != 0) return; /* 404 for an unknown job, not [] */
    store_run_clear(&run);
    store_metric *m = NULL;
    size_t n = 0;
    mlpd_error se = {0};
    if (route_store_check(store_metrics_get(a->st, id, since, (int)limit, &m, &n, &se), &se, res,
                          "no job with id %lld", (long long)id) != 0)
        return;
    http_reply_json(res, 200, view_metrics(id, m, n, since));
    free(m);
}

void route_job_cancel(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "job", &id, res) != 0) return;
    int rc = jobs_cancel(a->jobs, id);
    if (rc == MLPD_ENOTFOUND)
        route_reply_error(res, rc, NULL, NULL, "no job with id %lld", (long long)id);
    else if (rc == MLPD_ECONFLICT)
        route_reply_error(res, rc, "job-ended", NULL, "job %lld has already ended", (long long)id);
    else if (rc == MLPD_ENOSPC)
        route_reply_error(res, rc, NULL, NULL,
                          "the disk is full: job %lld's end cannot be recorded", (long long)id);
    else if (rc != MLPD_OK) /* documented as "internal", whatever failed */
        route_reply_error(res, route_failure_code(rc), NULL, NULL, "cannot cancel job %lld",
                          (long long)id);
    else
        reply_job(a, id, 202, res);
}
