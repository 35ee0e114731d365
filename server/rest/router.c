/* router.c - the route table, admission checks and per-route counters. */
#include "router.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_util.h"
#include "log.h"
#include "v2_infer.h"

#define CT_JSON "application/json"

/* The API, top to bottom. Handlers live in routes_*.c and sse.c. Scopes
 * (auth.h): OPEN never needs a token, READ either token, INFER the inference
 * (or management) token, MANAGE the management token. R declares a route
 * that takes no query parameter; RQ lists the ones it takes ("a|b"): any
 * other is refused with 400 before the handler runs, as unknown body members
 * are. */
// clang-format off
#define RQ(method, pattern, handler, body, types, scope, query) \
    {method, pattern, handler, body, types, NULL, scope, query, 0, {0}}
#define R(method, pattern, handler, body, types, scope)                                            \
    RQ(method, pattern, handler, body, types, scope, NULL)
#define OCTETS "application/octet-stream"
#define PAGE   "limit|offset|cursor"
static const route route_table[] = {
    /*  method   pattern                                    handler                      body               types     scope, query */
    R(  "POST",  "/train",                                  route_train,                 ROUTE_BODY_JSON,   CT_JSON,  AUTH_MANAGE),
    RQ( "GET",   "/jobs",                                   route_jobs_list,             ROUTE_BODY_NONE,   NULL,     AUTH_READ, "status|" PAGE),
    R(  "GET",   "/jobs/{id}",                              route_job_get,               ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    RQ( "GET",   "/jobs/{id}/metrics",                      route_job_metrics,           ROUTE_BODY_NONE,   NULL,     AUTH_READ, "since|limit"),
    R(  "GET",   "/jobs/{id}/events",                       route_job_events,            ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "POST",  "/jobs/{id}/cancel",                       route_job_cancel,            ROUTE_BODY_NONE,   NULL,     AUTH_MANAGE),
    R(  "POST",  "/sweeps",                                 route_sweep_create,          ROUTE_BODY_JSON,   CT_JSON,  AUTH_MANAGE),
    RQ( "GET",   "/sweeps",                                 route_sweeps_list,           ROUTE_BODY_NONE,   NULL,     AUTH_READ, "status|limit|offset"),
    R(  "GET",   "/sweeps/{id}",                            route_sweep_get,             ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/sweeps/{id}/events",                     route_sweep_events,          ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "POST",  "/sweeps/{id}/cancel",                     route_sweep_cancel,          ROUTE_BODY_NONE,   NULL,     AUTH_MANAGE),
    R(  "POST",  "/predict",                                route_predict,               ROUTE_BODY_JSON,   CT_JSON,  AUTH_INFER),
    R(  "POST",  "/explain",                                route_explain,               ROUTE_BODY_JSON,   CT_JSON,  AUTH_INFER),
    RQ( "GET",   "/models",                                 route_models_list,           ROUTE_BODY_NONE,   NULL,     AUTH_READ, PAGE),
    RQ( "POST",  "/models",                                 route_model_upload,          ROUTE_BODY_UPLOAD, OCTETS,   AUTH_MANAGE, "name"),
    R(  "GET",   "/models/{id}",                            route_model_get,             ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "DELETE","/models/{id}",                            route_model_delete,          ROUTE_BODY_NONE,   NULL,     AUTH_MANAGE),
    R(  "GET",   "/models/{id}/file",                       route_model_file,            ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/models/{name}/versions/{v}",             route_model_version_get,     ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "DELETE","/models/{name}/versions/{v}",             route_model_version_delete,  ROUTE_BODY_NONE,   NULL,     AUTH_MANAGE),
    R(  "GET",   "/models/{name}/versions/{v}/precision",   route_model_precision_get,   ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "PUT",   "/models/{name}/versions/{v}/precision",   route_model_precision_put,   ROUTE_BODY_JSON,   CT_JSON,  AUTH_MANAGE),
    R(  "PUT",   "/models/{name}/aliases/{alias}",          route_alias_put,             ROUTE_BODY_JSON,   CT_JSON,  AUTH_MANAGE),
    R(  "DELETE","/models/{name}/aliases/{alias}",          route_alias_delete,          ROUTE_BODY_NONE,   NULL,     AUTH_MANAGE),
    R(  "PUT",   "/models/{name}/canary",                   route_canary_put,            ROUTE_BODY_JSON,   CT_JSON,  AUTH_MANAGE),
    R(  "DELETE","/models/{name}/canary",                   route_canary_delete,         ROUTE_BODY_NONE,   NULL,     AUTH_MANAGE),
    /* Open Inference Protocol v2 (routes_v2.c, routes_v2_repo.c); "stats" before {name}. */
    R(  "GET",   "/v2",                                     route_v2_server,             ROUTE_BODY_NONE,   NULL,     AUTH_OPEN),
    R(  "GET",   "/v2/health/live",                         route_v2_live,               ROUTE_BODY_NONE,   NULL,     AUTH_OPEN),
    R(  "GET",   "/v2/health/ready",                        route_v2_ready,              ROUTE_BODY_NONE,   NULL,     AUTH_OPEN),
    R(  "GET",   "/v2/models/stats",                        route_v2_stats,              ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/v2/models/{name}",                       route_v2_model,              ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/v2/models/{name}/ready",                 route_v2_model_ready,        ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/v2/models/{name}/stats",                 route_v2_stats,              ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "POST",  "/v2/models/{name}/infer",                 route_v2_infer,              ROUTE_BODY_JSON,   NULL,     AUTH_INFER),
    R(  "POST",  "/v2/models/{name}/explain",               route_v2_explain,            ROUTE_BODY_JSON,   NULL,     AUTH_INFER),
    R(  "GET",   "/v2/models/{name}/versions/{v}",          route_v2_model,              ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/v2/models/{name}/versions/{v}/ready",    route_v2_model_ready,        ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/v2/models/{name}/versions/{v}/stats",    route_v2_stats,              ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "POST",  "/v2/models/{name}/versions/{v}/infer",    route_v2_infer,              ROUTE_BODY_JSON,   NULL,     AUTH_INFER),
    R(  "POST",  "/v2/models/{name}/versions/{v}/explain",  route_v2_explain,            ROUTE_BODY_JSON,   NULL,     AUTH_INFER),
    R(  "POST",  "/v2/repository/index",                    route_v2_repo_index,         ROUTE_BODY_JSON,   NULL,     AUTH_READ),
    R(  "POST",  "/v2/repository/models/{name}/load",       route_v2_repo_load,          ROUTE_BODY_JSON,   NULL,     AUTH_MANAGE),
    R(  "POST",  "/v2/repository/models/{name}/unload",     route_v2_repo_unload,        ROUTE_BODY_JSON,   NULL,     AUTH_MANAGE),
    /* TensorFlow Serving v1 (routes_v1.c): ":predict" ends the last segment. Any
     * Content-Type, as TF Serving: its documented `curl -d` sends a form type. */
    R(  "GET",   "/v1/models",                              route_v1_list,               ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/v1/models/{path*}",                      route_v1_get,                ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "POST",  "/v1/models/{path*}",                      route_v1_post,               ROUTE_BODY_JSON,   NULL,     AUTH_INFER),
    R(  "GET",   "/models/{id}/evaluation",                 route_model_evaluation,      ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "POST",  "/models/{id}/evaluate",                   route_model_evaluate,        ROUTE_BODY_JSON,   CT_JSON,  AUTH_MANAGE),
    RQ( "GET",   "/datasets",                               route_datasets_list,         ROUTE_BODY_NONE,   NULL,     AUTH_READ, PAGE),
    RQ( "POST",  "/datasets",                               route_dataset_upload,        ROUTE_BODY_UPLOAD, "text/csv", AUTH_MANAGE, "name|scale|classes"),
    R(  "GET",   "/datasets/{name}",                        route_dataset_get,           ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "DELETE","/datasets/{name}",                        route_dataset_delete,        ROUTE_BODY_NONE,   NULL,     AUTH_MANAGE),
    RQ( "GET",   "/datasets/{name}/samples",                route_dataset_samples,       ROUTE_BODY_NONE,   NULL,     AUTH_READ, "n|split|index"),
    R(  "PUT",   "/datasets/{name}/files/{file}",           route_dataset_file_upload,   ROUTE_BODY_UPLOAD, OCTETS,   AUTH_MANAGE),
    R(  "GET",   "/healthz",                                route_healthz,               ROUTE_BODY_NONE,   NULL,     AUTH_OPEN),
    R(  "GET",   "/readyz",                                 route_readyz,                ROUTE_BODY_NONE,   NULL,     AUTH_OPEN),
    R(  "GET",   "/metrics",                                route_metrics,               ROUTE_BODY_NONE,   NULL,     AUTH_READ),
    R(  "GET",   "/openapi.yaml",                           route_openapi,               ROUTE_BODY_NONE,   NULL,     AUTH_OPEN),
    RQ( "GET",   "/",                                       route_web_index,             ROUTE_BODY_NONE,   NULL,     AUTH_OPEN, "*"),
    /* Last: any other path names a dashboard file, if web/ has it (any query:
     * a browser's cache-busting "?v=" must not break a page). */
    {"GET", "/{file*}", route_web_file, ROUTE_BODY_NONE, NULL, route_web_exists, AUTH_OPEN, "*", 0, {0}},
};
// clang-format on
#undef R
#define N_ROUTES (sizeof route_table / sizeof route_table[0])

/* Latency histogram upper bounds, seconds (plus +Inf). */
static const double route_bucket_bounds[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BOUNDS ((int)(sizeof route_bucket_bounds / sizeof route_bucket_bounds[0]))

struct router {
    route routes[N_ROUTES];
    route unmatched; /* counts 404s and other refusals of unknown paths */
};

router *router_create(size_t json_limit, size_t upload_limit, size_t infer_limit) {
    router *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    for (size_t i = 0; i < N_ROUTES; i++) {
        route *rt = &r->routes[i];
        /* Copy field by field: the atomics are zeroed by calloc. */
        rt->method = route_table[i].method;
        rt->pattern = route_table[i].pattern;
        rt->handler = route_table[i].handler;
        rt->body = route_table[i].body;
        rt->content_types = route_table[i].content_types;
        rt->exists = route_table[i].exists;
        rt->scope = route_table[i].scope;
        rt->query = route_table[i].query;
        rt->body_limit = rt->body == ROUTE_BODY_JSON && rt->scope == AUTH_INFER ? infer_limit
                         : rt->body == ROUTE_BODY_JSON                          ? json_limit
                         : rt->body == ROUTE_BODY_UPLOAD                        ? upload_limit
                                                                                : 0;
        hist_init(&rt->stats.duration, route_bucket_bounds, N_BOUNDS);
    }
    r->unmatched.method = "";
    r->unmatched.pattern = "unmatched";
    hist_init(&r->unmatched.stats.duration, route_bucket_bounds, N_BOUNDS);
    return r;
}

void router_free(router *r) {
    free(r);
}

/* Does `path` fit `pattern`? Copies placeholders' values into params. */
static int match_path(const char *pattern, const char *path, char params[][160], int *n) {
    *n = 0;
    const char *p = pattern, *s = path;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close) return 0;
            int rest = close[-1] == '*';
            size_t len = rest ? strlen(s) : strcspn(s, "/");
            if (len == 0 || len >= 160 || *n >= HTTP_MAX_PARAMS) return 0;
            memcpy(params[*n], s, len);
            params[*n][len] = '\0';
            (*n)++;
            s += len;
            p = close + 1;
            continue;
        }
        if (*p != *s) return 0;
        p++;
        s++;
    }
    return *s == '\0';
}

/* Is the request's media type (before any ';') one of the '|'-separated list? */
static int content_type_ok(const char *allowed, const char *given) {
    if (!allowed) return 1;
    if (!given) return 0;
    size_t glen = strcspn(given, ";");
    while (glen && (given[glen - 1] == ' ' || given[glen - 1] == '\t')) glen--;
    for (const char *a = allowed; *a;) {
        size_t alen = strcspn(a, "|");
        if (alen == glen && !strncasecmp(a, given, glen)) return 1;
        a += alen;
        if (*a == '|') a++;
    }
    return 0;
}

/* A request header, NULL when absent or when there is no connection (the
 * unit tests admit requests without one). */
static const char *request_header(const http_request *req, const char *name) {
    return req->conn ? http_header(req, name) : NULL;
}

/* 401/403 for a refused token, with the challenge of RFC 6750. */
static void reply_auth_refused(auth_result ar, const route *rt, http_response *res) {
    if (ar == AUTH_FORBIDDEN) {
        http_reply_problem(res, 403, "forbidden", NULL,
                           "the token is valid but %s %s needs the %s token", rt->method,
                           rt->pattern, auth_scope_name(rt->scope));
        http_set_header(res, "WWW-Authenticate",
                        "Bearer realm=\"mlpd\", error=\"insufficient_scope\"");
    } else if (ar == AUTH_INVALID) {
        http_reply_problem(res, 401, "unauthorized", NULL,
                           "the bearer token is not valid for this daemon");
        http_set_header(res, "WWW-Authenticate", "Bearer realm=\"mlpd\", error=\"invalid_token\"");
    } else {
        http_reply_problem(res, 401, "unauthorized", NULL,
                           "%s %s needs a bearer token (Authorization: Bearer <token>) of scope %s",
                           rt->method, rt->pattern, auth_scope_name(rt->scope));
        http_set_header(res, "WWW-Authenticate", "Bearer realm=\"mlpd\"");
    }
}

/* ---- query parameters -------------------------------------------------------------- */
typedef struct {
    const char *allowed; /* the route's "a|b" list, or NULL */
    char bad[64];        /* the first parameter refused */
    const char *why;     /* "unknown" or "repeated" */
    char bare[64];       /* the first one sent without a value ("?limit") */
    char seen[8][32];    /* names met so far (a route takes at most a few) */
    int n_seen;
} query_check;

static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static int on_query(void *user, const char *key, const char *value) {
    query_check *q = user;
    const char *why = !listed(q->allowed, key) ? "unknown" : NULL;
    for (int i = 0; !why && i < q->n_seen; i++)
        if (!strcmp(q->seen[i], key)) why = "repeated";
    if (why) {
        snprintf(q->bad, sizeof q->bad, "%s", key);
        q->why = why;
        return 1;
    }
    if (q->n_seen < 8) snprintf(q->seen[q->n_seen++], sizeof q->seen[0], "%s", key);
    if (!value && !q->bare[0]) snprintf(q->bare, sizeof q->bare, "%s", key);
    return 0;
}

/* 400 for a query parameter the route does not take, or one given twice
 * (which of the two would count is a guess a client should not rely on);
 * 422 for one it takes sent bare ("?limit"): the handlers' lookups cannot
 * tell it from an absent one, so it would be silently ignored. */
static int check_query(const route *rt, const http_request *req, http_response *res) {
    if (rt->query && !strcmp(rt->query, "*")) return 0;
    query_check q = {.allowed = rt->query};
    http_query_each(req, on_query, &q);
    if (!q.why && q.bare[0]) {
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter '%s' has no value (send %s=<value>)", q.bare, q.bare);
        return -1;
    }
    if (!q.why) return 0;
    char takes[160];
    snprintf(takes, sizeof takes, "%s", rt->query ? rt->query : "");
    for (char *p = takes; *p; p++)
        if (*p == '|') *p = ',';
    http_reply_problem(res, 400, "unknown-query-parameter", NULL,
                       "%s query parameter '%s' on %s %s; it takes %s%s", q.why, q.bad, rt->method,
                       rt->pattern, rt->query ? "" : "none", takes);
    return -1;
}

route *router_admit(router *r, app *a, http_request *req, const char *content_type,
                    long long content_length, char param_buf[HTTP_MAX_PARAMS][160],
                    http_response *res, route **matched) {
    *matched = NULL;
    /* CORS headers go on every answer, refusals included, so a browser page
     * can read why it was refused. */
    const char *origin = request_header(req, "Origin");
    cors_add_response_headers(a->cors, origin, res);
    const char *method = strcmp(req->method, "HEAD") ? req->method : "GET";
    char allow[96] = "";
    route *found = NULL, *path_route = NULL;
    for (size_t i = 0; i < N_ROUTES && !found; i++) {
        route *rt = &r->routes[i];
        char tmp[HTTP_MAX_PARAMS][160];
        int n;
        if (!match_path(rt->pattern, req->path, tmp, &n)) continue;
        if (rt->exists && !rt->exists(a, req->path)) continue;
        if (!path_route) path_route = rt;
        if (strcmp(rt->method, method)) {
            /* Collect every method this path accepts for Allow. */
            if (!strstr(allow, rt->method) &&
                strlen(allow) + strlen(rt->method) + 3 < sizeof allow) {
                if (allow[0]) strcat(allow, ", ");
                strcat(allow, rt->method);
                if (!strcmp(rt->method, "GET")) strcat(allow, ", HEAD");
            }
            continue;
        }
        found = rt;
        memcpy(param_buf, tmp, sizeof tmp);
        req->n_params = n;
        for (int k = 0; k < n; k++) req->params[k] = param_buf[k];
    }
    if (!found) {
        if (allow[0] && !strcmp(method, "OPTIONS")) {
            /* Preflight (or a plain OPTIONS): answered here, no token needed,
             * counted on the path's first route. */
            *matched = path_route;
            cors_reply_options(a->cors, origin, allow, res);
        } else if (allow[0]) {
            /* OPTIONS is answered on every known path (just above). */
            http_reply_problem(res, 405, "method-not-allowed", NULL,
                               "%s is not allowed on %s; allowed: %s, OPTIONS", req->method,
                               req->path, allow);
            http_set_header(res, "Allow", "%s, OPTIONS", allow);
        } else {
            http_reply_problem(res, 404, "not-found", NULL, "no resource at %s", req->path);
        }
        return NULL;
    }
    *matched = found;
    if (a->cfg->trainer_only && found->handler != route_healthz && found->handler != route_readyz &&
        found->handler != route_metrics) {
        http_reply_problem(res, 404, "not-found", NULL,
                           "this daemon trains only (--role trainer): it answers /healthz, "
                           "/readyz and /metrics; ask an api daemon for %s",
                           req->path);
        return NULL;
    }
    /* The token before the body: an anonymous client learns nothing about limits. */
    auth_result ar = auth_check(a->auth, found->scope, request_header(req, "Authorization"));
    if (ar != AUTH_OK) {
        reply_auth_refused(ar, found, res);
        return NULL;
    }
    if (check_query(found, req, res) != 0) return NULL;
    /* A body is checked only when one is sent (POST /train accepts none). */
    if (content_length > (long long)found->body_limit) {
        http_reply_problem(res, 413, "body-too-large", NULL,
                           "the request body (%lld bytes) exceeds this route's limit of %zu bytes",
                           content_length, found->body_limit);
        found = NULL;
    } else if (found->body != ROUTE_BODY_NONE && content_length != 0 &&
               !content_type_ok(found->content_types, content_type)) {
        http_reply_problem(res, 415, "unsupported-media-type", NULL,
                           "Content-Type '%s' is not accepted here; send %s",
                           content_type ? content_type : "(none)", found->content_types);
        found = NULL;
    }
    return found;
}

void router_record(router *r, route *rt, int status, double seconds) {
    if (!rt) rt = &r->unmatched;
    route_stats *st = &rt->stats;
    atomic_fetch_add_explicit(&st->calls, 1, memory_order_relaxed);
    int i = status - ROUTE_CODE_MIN;
    atomic_fetch_add_explicit(&st->by_code[i >= 0 && i < ROUTE_CODES ? i : ROUTE_CODES], 1,
                              memory_order_relaxed);
    hist_observe(&st->duration, seconds);
}

/* ---- the transport's view (http_handler) ------------------------------------------ */
/* The v2 and v1 protocols' clients read errors as {"error": "..."}: a
 * refusal at admission (404, 405, 401, 413, 415) on their paths is rewritten
 * from the problem's detail; status and headers stay. */
static int protocol_path(const char *path) {
    return !strcmp(path, "/v2") || !strncmp(path, "/v2/", 4) || !strcmp(path, "/v1/models") ||
           !strncmp(path, "/v1/models/", 11);
}

static void protocol_error(http_response *res) {
    cJSON *p = res->body ? cJSON_ParseWithLength(res->body, res->body_len) : NULL;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "detail");
    char *body = api_v2_error_json(cJSON_IsString(d) ? d->valuestring : "refused");
    cJSON_Delete(p);
    if (!body) return;
    free(res->body);
    res->body = body;
    res->body_len = strlen(body);
    res->content_type = "application/json";
}

static void *on_admit(void *ctx, http_request *req, const char *content_type,
                      long long content_length, char param_buf[HTTP_MAX_PARAMS][160],
                      size_t *body_limit, http_response *res, void **counted) {
    app *a = ctx;
    route *matched = NULL;
    route *rt =
        router_admit(a->router, a, req, content_type, content_length, param_buf, res, &matched);
    *counted = matched;
    if (rt) *body_limit = rt->body_limit;
    if (!rt && res->status >= 400 && protocol_path(req->path)) protocol_error(res);
    return rt;
}

static void on_handle(void *ctx, void *target, const http_request *req, http_response *res) {
    ((route *)target)->handler(ctx, req, res);
}

static void on_done(void *ctx, void *counted, const http_request *req, int status, size_t bytes,
                    double seconds) {
    app *a = ctx;
    router_record(a->router, counted, status, seconds);
    if (!a->cfg->quiet)
        log_request(req->method, req->path, status, bytes, seconds, req->request_id);
}

http_handler router_http_handler(app *a) {
    return (http_handler){.ctx = a, .admit = on_admit, .handle = on_handle, .done = on_done};
}

void router_foreach(router *r,
                    void (*fn)(void *user, const char *method, const char *pattern,
                               const route_stats *st),
                    void *user) {
    for (size_t i = 0; i < N_ROUTES; i++)
        fn(user, r->routes[i].method, r->routes[i].pattern, &r->routes[i].stats);
    fn(user, "", "unmatched", &r->unmatched.stats);
}

/* ---- helpers shared by the handlers --------------------------------------------------- */
int route_parse_int(const char *s, long long *out) {
    /* strtoll alone would also take " 7", "\t7", "+7" and "007": one number,
     * one spelling, so that no two paths or cursors name the same row. */
    const char *d = s[0] == '-' ? s + 1 : s;
    if (d[0] < '0' || d[0] > '9' || (d[0] == '0' && (d[1] || d != s))) return -1; /* 07, -0 */
    for (const char *c = d; *c; c++)
        if (*c < '0' || *c > '9') return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno) return -1;
    *out = v;
    return 0;
}

int route_param_id(const http_request *req, int i, const char *what, int64_t *id,
                   http_response *res) {
    const char *s = i < req->n_params ? req->params[i] : "";
    long long v = 0;
    if (route_parse_int(s, &v) != 0 || v <= 0) {
        http_reply_problem(res, 404, "not-found", NULL, "no %s with id '%s'", what, s);
        return -1;
    }
    *id = v;
    return 0;
}

int route_query_int(const http_request *req, const char *name, long long lo, long long hi,
                    long long def, long long *out, http_response *res) {
    const char *s = http_query(req, name);
    if (!s) {
        *out = def;
        return 0;
    }
    long long v = 0;
    if (route_parse_int(s, &v) != 0 || v < lo || v > hi) {
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter '%s' must be an integer in [%lld, %lld], got '%s'",
                           name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int route_query_page(const http_request *req, long long *limit, long long *offset,
                     http_response *res) {
    if (route_query_int(req, "limit", 1, 1000, 50, limit, res) != 0) return -1;
    /* The answer echoes the offset as a JSON number: at most 2^53 - 1, which
     * every client reads exactly. */
    return route_query_int(req, "offset", 0, (long long)API_JSON_MAX_SAFE_INT, 0, offset, res);
}

int route_load_job(app *a, int64_t id, store_run *run, http_response *res) {
    mlpd_error se = {0};
    return route_store_check(store_run_get(a->st, id, run, &se), &se, res, "no job with id %lld",
                             (long long)id);
}
