/* routes_v2.c - the Open Inference Protocol v2 over HTTP/REST (KServe's
 * open-inference-protocol specification, as Triton serves it):
 *   GET  /v2                                         server metadata
 *   GET  /v2/health/live, /v2/health/ready
 *   GET  /v2/models/{name}[/versions/{v}]            model metadata
 *   GET  /v2/models/{name}[/versions/{v}]/ready      model readiness
 *   POST /v2/models/{name}[/versions/{v}]/infer      inference (JSON or binary tensor data)
 * The version segment takes a version number or an alias. Errors are the
 * protocol's {"error": "..."} (infer_reply_error with INFER_ERR_PROTOCOL).
 * The statistics and model repository extensions are in routes_v2_repo.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "infer.h"
#include "json_scan.h"
#include "model_ref.h"
#include "v2_infer.h"
#include "version.h"

#define V2 INFER_ERR_PROTOCOL

void route_v2_server(app *a, const http_request *req, http_response *res) {
    (void)a;
    (void)req;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", "mlpd");
    cJSON_AddStringToObject(o, "version", MLPD_VERSION); /* the server's, as the protocol asks */
    cJSON *ext = cJSON_AddArrayToObject(o, "extensions");
    static const char *const names[] = {"binary_tensor_data", "classification", "statistics",
                                        "model_repository"};
    for (size_t i = 0; ext && i < sizeof names / sizeof names[0]; i++)
        cJSON_AddItemToArray(ext, cJSON_CreateString(names[i]));
    http_reply_json(res, 200, o);
}

void route_v2_live(app *a, const http_request *req, http_response *res) {
    (void)a;
    (void)req;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "live");
    http_reply_json(res, 200, o);
}

void route_v2_ready(app *a, const http_request *req, http_response *res) {
    (void)req;
    int ready = !atomic_load(&a->draining) && store_ping(a->st) && store_writable(a->st);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "live");
    cJSON_AddBoolToObject(o, "ready", ready);
    http_reply_json(res, ready ? 200 : 503, o);
}

/* The registry reference in the path: {name} and, in the versioned routes,
 * {v} (a version or an alias). 0, or -1 with a 404 {"error"} in res. */
static int path_ref(const http_request *req, api_model_ref *ref, http_response *res) {
    const char *sel = req->n_params > 1 ? req->params[1] : NULL;
    if (api_model_ref_from_parts(req->params[0], sel, ref) == 0) return 0;
    infer_reply_error(V2, res, MLPD_ENOTFOUND, NULL, NULL, "unknown model: '%s'%s%s",
                      req->params[0], sel ? " version " : "", sel ? sel : "");
    return -1;
}

/* The version the path names (no canary: metadata and readiness describe
 * what was asked for). 0, or -1 with a 404/500 {"error"} in res. */
static int path_target(app *a, const http_request *req, registry_target *t, http_response *res) {
    api_model_ref ref;
    if (path_ref(req, &ref, res) != 0) return -1;
    mlpd_error err = {0};
    int rc = registry_resolve(a->registry, ref.name, ref.alias, ref.version, 0, t, &err);
    if (rc == MLPD_OK) return 0;
    infer_reply_error(V2, res, rc == MLPD_ENOTFOUND ? rc : MLPD_EINTERNAL, "not-found", NULL, "%s",
                      err.msg);
    return -1;
}

void route_v2_model(app *a, const http_request *req, http_response *res) {
    registry_target t;
    if (path_target(a, req, &t, res) != 0) return;
    store_model m;
    mlpd_error se = {0};
    if (store_model_get(a->st, t.model_id, &m, &se) != MLPD_OK) {
        infer_reply_error(V2, res, MLPD_ESTORE, NULL, NULL, "store: %s", se.msg);
        return;
    }
    int width, classes; /* from the stored architecture, without loading it */
    api_arch_io(m.arch_json, &width, &classes);
    store_model_clear(&m);
    store_registry reg;
    mlpd_error err = {0};
    if (registry_snapshot(a->registry, &reg, &err) != MLPD_OK) {
        infer_reply_error(V2, res, MLPD_ESTORE, NULL, NULL, "%s", err.msg);
        return;
    }
    int *versions = malloc((reg.n_versions + 1) * sizeof *versions);
    size_t n = 0;
    for (size_t i = 0; versions && i < reg.n_versions; i++)
        if (!strcmp(reg.versions[i].name, t.name)) versions[n++] = reg.versions[i].version;
    store_registry_free(&reg);
    cJSON *o = versions ? api_v2_model_metadata(t.name, versions, n, width, classes) : NULL;
    free(versions);
    if (!o) {
        infer_reply_error(V2, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        return;
    }
    http_reply_json(res, 200, o);
}

void route_v2_model_ready(app *a, const http_request *req, http_response *res) {
    registry_target t;
    if (path_target(a, req, &t, res) != 0) return;
    /* Ready = loaded, packed and warmed up (one forward pass, model_cache.h):
     * asking loads it, unless the repository extension unloaded the name. */
    int ready = 0;
    char err[256] = "";
    if (!registry_is_unloaded(a->registry, t.name)) {
        cached_model *cm = NULL;
        mlpd_error me = {0};
        ready = model_cache_get(a->models, t.model_id, &cm, &me) == MLPD_OK;
        if (!ready) snprintf(err, sizeof err, "%s", me.msg);
        model_cache_release(a->models, cm);
    } else {
        snprintf(err, sizeof err, "model '%s' is unloaded", t.name);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t.name);
    cJSON_AddBoolToObject(o, "ready", ready);
    if (!ready) cJSON_AddStringToObject(o, "error", err);
    http_reply_json(res, ready ? 200 : 503, o);
}

typedef struct {
    infer_job base; /* first */
    api_v2_request r;
} v2_job;

static void v2_answer(infer_job *base, http_response *res) {
    v2_job *j = (v2_job *)base;
    /* No tensor holds NaN: an input that overflows inside the network is refused. */
    if (infer_untrusted_row(base) >= 0) {
        infer_reply_nonfinite(V2, NULL, base->cm->id, res);
        return;
    }
    char *body = NULL;
    size_t len = 0, header_len = 0;
    if (api_v2_response_encode(&j->r, base->target.name, base->target.version, base->outputs,
                               base->item.probs, base->item.labels, &body, &len,
                               &header_len) != 0) {
        infer_reply_error(V2, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        return;
    }
    http_reply_take(res, 200, header_len ? "application/octet-stream" : "application/json", body,
                    len);
    if (header_len) http_set_header(res, "Inference-Header-Content-Length", "%zu", header_len);
}

static void v2_release(infer_job *base) {
    v2_job *j = (v2_job *)base;
    api_v2_request_free(&j->r);
    free(j);
}

/* The Inference-Header-Content-Length value: -1 when absent, -2 when
 * malformed. Digits only, between optional blanks (HTTP's OWS, which a
 * header parser may leave on the value). */
static long long header_length(const http_request *req) {
    const char *h = req->conn ? http_header(req, "Inference-Header-Content-Length") : NULL;
    if (!h) return -1;
    while (*h == ' ' || *h == '\t') h++;
    if (!api_json_is_digit(*h)) return -2;
    char *end;
    errno = 0;
    long long v = strtoll(h, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    return errno || *end ? -2 : v;
}

void route_v2_infer(app *a, const http_request *req, http_response *res) {
    if (infer_refuse_draining(a, V2, res)) return;
    uint64_t start = mono_ns();
    api_model_ref ref;
    if (path_ref(req, &ref, res) != 0) return;
    long long hl = header_length(req);
    if (hl == -2) {
        infer_reply_error(V2, res, MLPD_EINVAL, "invalid", NULL,
                          "Inference-Header-Content-Length must be a non-negative integer");
        return;
    }
    /* An unknown model is a 404 whatever the body holds (no canary draw here:
     * infer_resolve below picks the version that answers). */
    registry_target t;
    mlpd_error err = {0};
    if (registry_resolve(a->registry, ref.name, ref.alias, ref.version, 0, &t, &err) ==
        MLPD_ENOTFOUND) {
        infer_reply_error(V2, res, MLPD_ENOTFOUND, NULL, NULL, "%s", err.msg);
        return;
    }
    api_v2_request r;
    api_problem prob;
    if (api_v2_request_decode(req->body, req->body_len, hl, a->cfg->max_predict_batch, &r, &prob) !=
        0) {
        infer_reply_status(V2, res, prob.status, "invalid", NULL, "%s", prob.detail);
        return;
    }
    cached_model *cm = NULL;
    if (infer_resolve(a, V2, NULL, ref.name, ref.alias, ref.version, 0, &t, &cm, res) != 0) {
        api_v2_request_free(&r);
        return;
    }
    const mlp_model *m = cm->model;
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    v2_job *j = r.width == inputs ? infer_job_new(sizeof *j, r.rows, outputs) : NULL;
    if (!j) {
        if (r.width != inputs)
            infer_reply_error(V2, res, MLPD_EINVAL, "invalid", NULL,
                              "input '" API_V2_INPUT "' has shape [%d, %d] but model '%s' version "
                              "%d expects [-1, %d]",
                              r.rows, r.width, t.name, t.version, inputs);
        else
            infer_reply_error(V2, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        model_cache_release(a->models, cm);
        api_v2_request_free(&r);
        return;
    }
    j->r = r;
    j->base.cm = cm;
    j->base.target = t;
    j->base.style = V2;
    j->base.start_ns = start;
    j->base.item.x = j->r.x;
    j->base.item.rows = j->r.rows;
    j->base.answer = v2_answer;
    j->base.release = v2_release;
    if (infer_ask_precision(&j->base, j->r.precision, NULL, res) != 0) {
        model_cache_release(a->models, cm);
        v2_release(&j->base);
        return;
    }
    infer_run(a, &j->base, req, res);
}
