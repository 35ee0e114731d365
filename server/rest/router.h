/* router.h - the daemon's route table and the state every handler shares.
 *
 * The table (router.c) is data, read top to bottom like Valkey's command
 * table: {method, path pattern, handler, body kind, allowed content types,
 * auth scope}.
 * Each route carries its own counters (calls, status classes, a latency
 * histogram), updated with atomics after every response and rendered by
 * metrics.c. One admission step checks, before any handler runs and before
 * the body is read: unknown path -> 404, OPTIONS on a known path -> 204 (CORS
 * preflight, cors.h), known path but wrong method -> 405 with Allow, missing
 * or wrong bearer token -> 401, token of another scope -> 403 (auth.h),
 * declared body larger than the route's limit -> 413, wrong Content-Type ->
 * 415. Every response, refusals included, gets the CORS headers first.
 *
 * Patterns: literal segments, "{id}"/"{name}" for one segment, and "{file*}"
 * (last only) for the rest of the path. A route may add an existence
 * predicate (the static web files): when it says no, the path is unknown.
 */
#ifndef MLPD_ROUTER_H
#define MLPD_ROUTER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "cors.h"
#include "histogram.h"
#include "http.h"
#include "jobs.h"
#include "store.h"
#include "train_request.h"

struct model_cache;
struct model_stats;
struct registry;
struct mlpd_metrics;
struct sse_hub;
struct sweeps;
typedef struct router router;

/* The settings the handlers read (the daemon fills it from its own
 * configuration, daemon/config.h). Strings are borrowed. */
typedef struct rest_config {
    const char *data_dir;      /* packaged and uploaded datasets */
    const char *web_dir;       /* the dashboard's files */
    const char *api_dir;       /* holds openapi.yaml */
    int max_epochs;            /* epochs of one training job */
    int max_params;            /* weights + biases of a network trained by POST /train */
    size_t max_dataset_bytes;  /* a data set decoded in memory (uploads, jobs) */
    size_t max_job_memory;     /* a training job's estimate (mlp_train_memory) */
    int max_predict_batch;     /* rows per POST /predict (and per v1/v2 inference request) */
    const char *default_alias; /* --default-alias ("" = none) */
    float max_precision_drop;  /* percentage points of test accuracy bf16/int8 may lose */
    int quiet;                 /* no per-request log lines */
    int trainer_only;          /* --role trainer: every route but health and metrics is 404 */
} rest_config;

/* Everything a handler may use; built by serve.c, read-only after start
 * except for the atomics. */
typedef struct app {
    const rest_config *cfg;
    store *st;
    jobs *jobs;
    struct sweeps *sweeps; /* the sweep scheduler (sweeps.h) */
    struct model_cache *models;
    struct registry *registry; /* names, aliases, canaries (registry.h) */
    struct model_stats *stats; /* per model version statistics (model_stats.h) */
    struct mlpd_metrics *metrics;
    struct sse_hub *sse;
    router *router;
    const auth_keys *auth;        /* NULL or no token set: every route is open */
    const cors_policy *cors;      /* NULL or empty: CORS off */
    const struct web_assets *web; /* the web dir's files that are served (NULL: none) */
    atomic_int draining;          /* 1 once shutdown began: /readyz answers 503 */
    atomic_int stopping;          /* 1 once the listener closed (after --shutdown-delay):
                                     new work (jobs, predictions) is refused, 503 */
    double started_at;            /* seconds since the epoch */
    /* The HTTP server, once started (its listener counters, for /metrics). */
    _Atomic(struct http_server *) http;
} app;

typedef void (*route_handler)(app *a, const http_request *req, http_response *res);

typedef enum {
    ROUTE_BODY_NONE = 0, /* no body expected; anything sent counts against 0 bytes */
    ROUTE_BODY_JSON,     /* cfg->max_body */
    ROUTE_BODY_UPLOAD    /* cfg->max_upload */
} route_body;

/* Statuses counted one by one (Prometheus' code="404"): 100..599; anything
 * else (499: the client left first, is inside) lands in by_code[ROUTE_CODES]. */
#define ROUTE_CODE_MIN 100
#define ROUTE_CODES    500

typedef struct {
    atomic_uint_fast64_t calls;
    atomic_uint_fast64_t by_code[ROUTE_CODES + 1]; /* [status - ROUTE_CODE_MIN]; last: other */
    hist duration; /* seconds from request headers to response sent */
} route_stats;

typedef struct route {
    const char *method;
    const char *pattern;
    route_handler handler;
    route_body body;
    const char *content_types;               /* "a/b|c/d"; NULL: not checked */
    int (*exists)(app *a, const char *path); /* optional; see above */
    auth_scope scope;                        /* who may call it when tokens are set (auth.h) */
    const char *query;                       /* query parameters it takes, "a|b"; NULL: none;
                                                "*": any (static files) */
    size_t body_limit;                       /* resolved from body and the config */
    route_stats stats;
} route;

/* Build the table with body limits for JSON bodies and uploads. NULL on ENOMEM. */
/* json_limit: JSON bodies; upload_limit: model and data set uploads;
 * infer_limit: JSON bodies of the inference routes (scope AUTH_INFER:
 * /predict, /explain, v1 and v2 inference), sized for a full batch. */
router *router_create(size_t json_limit, size_t upload_limit, size_t infer_limit);
void router_free(router *r);

/* Admission of a request whose headers are known. Returns NULL and fills res
 * with a problem (404/405/413/415) when refused; otherwise the route, with
 * req->params/n_params set (values are copied into param_buf).
 * content_length is 0 for a request without a body, -1 for a body of
 * unknown length (chunked). *matched is set to the route that path and
 * method name even when the request is refused for its body (413/415), NULL
 * for 404/405: the route whose counters get the request. */
route *router_admit(router *r, app *a, http_request *req, const char *content_type,
                    long long content_length, char param_buf[HTTP_MAX_PARAMS][160],
                    http_response *res, route **matched);

/* Count a finished request (status, wall time) on the route (NULL: the
 * "unmatched" pseudo-route). */
void router_record(router *r, route *rt, int status, double seconds);

/* The route table as the HTTP transport's handler (http.h): admission,
 * dispatch, then counting and the request's log line (unless cfg->quiet). */
http_handler router_http_handler(app *a);

/* Visit every route's stats, "unmatched" last (route NULL, name "unmatched"). */
void router_foreach(router *r,
                    void (*fn)(void *user, const char *method, const char *pattern,
                               const route_stats *st),
                    void *user);

/* ---- handlers (routes_*.c) ------------------------------------------------------ */
void route_train(app *a, const http_request *req, http_response *res);
void route_jobs_list(app *a, const http_request *req, http_response *res);
void route_job_get(app *a, const http_request *req, http_response *res);
void route_job_metrics(app *a, const http_request *req, http_response *res);
void route_job_events(app *a, const http_request *req, http_response *res); /* sse.c */
void route_job_cancel(app *a, const http_request *req, http_response *res);
/* sweeps (routes_sweeps.c, sse_sweep.c) */
void route_sweep_create(app *a, const http_request *req, http_response *res);
void route_sweeps_list(app *a, const http_request *req, http_response *res);
void route_sweep_get(app *a, const http_request *req, http_response *res);
void route_sweep_cancel(app *a, const http_request *req, http_response *res);
void route_sweep_events(app *a, const http_request *req, http_response *res);
void route_predict(app *a, const http_request *req, http_response *res);
void route_explain(app *a, const http_request *req, http_response *res); /* routes_explain.c */
/* The model a /predict or /explain body names (0: the latest), referenced:
 * 0, or -1 with res filled (404 not-found / no-model with pointer /model, 500). */
struct cached_model;
int route_model_lookup(app *a, int64_t id, struct cached_model **out, http_response *res);
void route_models_list(app *a, const http_request *req, http_response *res);
void route_model_get(app *a, const http_request *req, http_response *res);
void route_model_delete(app *a, const http_request *req, http_response *res);
void route_model_file(app *a, const http_request *req, http_response *res);
void route_model_upload(app *a, const http_request *req, http_response *res);
/* the registry (routes_registry.c) */
void route_registered_model_get(app *a, const http_request *req, http_response *res);
void route_model_version_get(app *a, const http_request *req, http_response *res);
void route_model_version_delete(app *a, const http_request *req, http_response *res);
void route_alias_put(app *a, const http_request *req, http_response *res);
/* routes_precision.c: the serving precision of a model version (docs/precision.md). */
void route_model_precision_get(app *a, const http_request *req, http_response *res);
void route_model_precision_put(app *a, const http_request *req, http_response *res);
void route_alias_delete(app *a, const http_request *req, http_response *res);
void route_canary_put(app *a, const http_request *req, http_response *res);
void route_canary_delete(app *a, const http_request *req, http_response *res);
/* Open Inference Protocol v2 (routes_v2.c, routes_v2_repo.c) */
void route_v2_server(app *a, const http_request *req, http_response *res);
void route_v2_live(app *a, const http_request *req, http_response *res);
void route_v2_ready(app *a, const http_request *req, http_response *res);
void route_v2_model(app *a, const http_request *req, http_response *res);
void route_v2_model_ready(app *a, const http_request *req, http_response *res);
void route_v2_infer(app *a, const http_request *req, http_response *res);
void route_v2_explain(app *a, const http_request *req, http_response *res); /* routes_explain.c */
void route_v2_stats(app *a, const http_request *req, http_response *res);
void route_v2_repo_index(app *a, const http_request *req, http_response *res);
void route_v2_repo_load(app *a, const http_request *req, http_response *res);
void route_v2_repo_unload(app *a, const http_request *req, http_response *res);
/* TensorFlow Serving v1 (routes_v1.c) */
void route_v1_list(app *a, const http_request *req, http_response *res);
void route_v1_get(app *a, const http_request *req, http_response *res);
void route_v1_post(app *a, const http_request *req, http_response *res);
void route_model_evaluation(app *a, const http_request *req,
                            http_response *res); /* routes_evaluation.c */
void route_model_evaluate(app *a, const http_request *req, http_response *res);
void route_datasets_list(app *a, const http_request *req, http_response *res);
void route_dataset_get(app *a, const http_request *req, http_response *res);
void route_dataset_upload(app *a, const http_request *req, http_response *res);
void route_dataset_delete(app *a, const http_request *req, http_response *res);
void route_dataset_file_upload(app *a, const http_request *req, http_response *res);
void route_dataset_samples(app *a, const http_request *req,
                           http_response *res); /* routes_samples.c */
void route_healthz(app *a, const http_request *req, http_response *res);
void route_readyz(app *a, const http_request *req, http_response *res);
void route_metrics(app *a, const http_request *req, http_response *res);
void route_openapi(app *a, const http_request *req, http_response *res);
void route_web_index(app *a, const http_request *req, http_response *res);
void route_web_file(app *a, const http_request *req, http_response *res);
int route_web_exists(app *a, const char *path);

/* The daemon's limits on a training request (--max-epochs, --max-params,
 * --max-job-memory): 0, or -1 with a 422 limit-exceeded in res. The pointer
 * names the member: ctx->prefix + "/epochs" (ctx NULL: no prefix), or
 * "/space/<member>" when ctx->space (a sweep's space) varies it. */
typedef struct {
    const char *prefix;
    const cJSON *space;
} route_limit_ctx;
int route_check_train_limits(app *a, const api_train_request *tr, const route_limit_ctx *ctx,
                             http_response *res);

/* ---- event streams (sse.c) -------------------------------------------------------- */
/* The hub keeps the open /jobs/{id}/events streams and a ticker thread that
 * wakes them (MHD_resume_connection) every SSE_TICK_MS to poll the store. */
#define SSE_TICK_MS 250
/* At most max_streams streams are open at once; one more gets 503 with
 * Retry-After (SSE_RETRY_AFTER_SECONDS). */
#define SSE_RETRY_AFTER_SECONDS 5
struct sse_hub *sse_hub_create(int max_streams, mlpd_error *err);
/* End every stream and stop the ticker; call after http_server_quiesce and
 * before http_server_stop (MHD must not stop with suspended connections). */
void sse_hub_stop(struct sse_hub *h);
void sse_hub_free(struct sse_hub *h);

/* ---- helpers shared by the handlers ------------------------------------------------ */
/* Handlers follow one pattern: each step either succeeds or fills res with
 * the problem to answer and returns -1, so a handler reads
 *   if (route_param_id(req, 0, "job", &id, res) != 0) return;
 *   if (route_store_check(rc, &se, res, "no job with id %lld", id) != 0) return;
 */

/* s as a decimal integer written one way only: digits, an optional leading
 * '-', no leading zero (but "0"), no blank or '+'; within long long. 0 with
 * *out, else -1. */
int route_parse_int(const char *s, long long *out);
/* Parse params[i] as a positive id; on failure fill res with 404 naming
 * `what` ("job", "model") and return -1. */
int route_param_id(const http_request *req, int i, const char *what, int64_t *id,
                   http_response *res);
/* Parse query argument `name` as an integer in [lo, hi] (default when absent);
 * on failure fill res with 422 naming it and return -1. */
int route_query_int(const http_request *req, const char *name, long long lo, long long hi,
                    long long def, long long *out, http_response *res);
/* The page of a list: ?limit= in [1, 1000] (default 50) and ?offset= >= 0
 * (default 0), as route_query_int. */
int route_query_page(const http_request *req, long long *limit, long long *offset,
                     http_response *res);

/* ---- errors (route_errors.c): the only translation of mlpd_status to HTTP ------- */
/* Fill res with the answer for code (mlpd_error.h) and return -1:
 *   MLPD_ENOTFOUND  404 not-found
 *   MLPD_ECONFLICT  409 conflict
 *   MLPD_EBUSY      429 queue-full, Retry-After: 30
 *   MLPD_ENOSPC     507 insufficient-storage
 *   MLPD_ESTORE     500 store
 *   MLPD_EIO        500 internal
 *   MLPD_EINTERNAL  500 internal (so is MLPD_OK or an unknown code: a bug)
 *   MLPD_ELOCKED    503 store-locked, Retry-After: 5 (type is ignored: a locked
 *                   store is the same answer on every route)
 *   MLPD_EINVAL     422 invalid-field
 *   MLPD_EUNLOADED  503 model-unloaded
 *   MLPD_EDRAINING  503 draining, Retry-After: 5
 * type, when not NULL, names the problem more precisely where the API
 * documents a narrower type for that status (409 "does-not-fit" and
 * "job-ended", 404 "no-model", 422 "width-mismatch"); the status always
 * comes from the table. pointer (may be NULL) is the JSON pointer of the
 * offending field. */
/* The table's row for code: the HTTP status, the problem type and the
 * Retry-After seconds (0: none); 500 "internal" for an unknown code. For
 * answers that are not problem+json (the v1/v2 protocols, infer.h). */
int route_http_status(mlpd_status code, const char **type, int *retry_after);
/* The code for a failure a route documents as "internal", whatever it was:
 * MLPD_ELOCKED stays itself (503, retry), anything else is MLPD_EINTERNAL. */
mlpd_status route_failure_code(int rc);
int route_reply_error(http_response *res, mlpd_status code, const char *type, const char *pointer,
                      const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

/* The outcome of a store call: MLPD_OK returns 0 and leaves res alone;
 * MLPD_ENOTFOUND answers with notfound_fmt formatted as the detail,
 * MLPD_ECONFLICT with se's message, MLPD_ENOSPC with "the disk is full: <se's
 * message>", any other code 500 "store" with "store: <se's message>" (se may
 * be NULL); all through route_reply_error. Returns -1 whenever res was
 * filled. */
int route_store_check(int rc, const mlpd_error *se, http_response *res, const char *notfound_fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* 503 draining with Retry-After: the daemon is shutting down (a POST that
 * would start work). */
void route_reply_draining(http_response *res);
/* Job `id` as stored, into run (the caller store_run_clear()s it); 0, or -1
 * with 404/500 in res (route_store_check). */
int route_load_job(app *a, int64_t id, store_run *run, http_response *res);

#endif /* MLPD_ROUTER_H */
