/* routes_v2_repo.c - Triton's statistics and model repository extensions of
 * the v2 protocol (docs/protocol/extension_statistics.md,
 * extension_model_repository.md):
 *   GET  /v2/models/stats, /v2/models/{name}[/versions/{v}]/stats
 *   POST /v2/repository/index                     {"ready"?: bool}
 *   POST /v2/repository/models/{name}/load        loads and warms up the name's default version
 *                                                 (no load parameters: config, file:... refused)
 *   POST /v2/repository/models/{name}/unload      no inference until loaded again
 *                                                 ({"parameters": {"unload_dependents": bool}}?)
 * mlpd's repository is the registry: every version of every name is listed;
 * a version is READY once loaded (models load on first use, or by load). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "json_util.h"
#include "model_ref.h"

#define V2 INFER_ERR_PROTOCOL

static cJSON *duration(const model_duration *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)atomic_load(&d->count));
    cJSON_AddNumberToObject(o, "ns", (double)atomic_load(&d->ns));
    return o;
}

typedef struct {
    int64_t model_id;
    const model_stat *found;
} stat_find;

static void find_stat(void *user, const model_stat *s) {
    stat_find *f = user;
    if (s->model_id == f->model_id) f->found = s;
}

/* $model_stat of one version (zeros when it never answered). */
static cJSON *model_stat_json(app *a, const store_reg_version *v) {
    static const model_stat zero;
    stat_find f = {.model_id = v->model_id};
    model_stats_foreach(a->stats, find_stat, &f);
    const model_stat *s = f.found ? f.found : &zero;
    cJSON *o = cJSON_CreateObject();
    char ver[16];
    snprintf(ver, sizeof ver, "%d", v->version);
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "version", ver);
    cJSON_AddNumberToObject(o, "last_inference", (double)atomic_load(&s->last_inference_ms));
    cJSON_AddNumberToObject(o, "inference_count", (double)atomic_load(&s->inference_count));
    cJSON_AddNumberToObject(o, "execution_count", (double)atomic_load(&s->execution_count));
    cJSON *is = cJSON_AddObjectToObject(o, "inference_stats");
    cJSON_AddItemToObject(is, "success", duration(&s->success));
    cJSON_AddItemToObject(is, "fail", duration(&s->fail));
    cJSON_AddItemToObject(is, "queue", duration(&s->queue));
    cJSON_AddItemToObject(is, "compute_input", duration(&s->compute_input));
    cJSON_AddItemToObject(is, "compute_infer", duration(&s->compute_infer));
    cJSON_AddItemToObject(is, "compute_output", duration(&s->compute_output));
    cJSON_AddItemToObject(is, "cache_hit", duration(&zero.success)); /* no response cache */
    cJSON_AddArrayToObject(o, "batch_stats");
    return o;
}

void route_v2_stats(app *a, const http_request *req, http_response *res) {
    const char *name = req->n_params > 0 ? req->params[0] : NULL;
    registry_target t = {0};
    mlpd_error err = {0};
    if (name) {
        api_model_ref ref;
        const char *sel = req->n_params > 1 ? req->params[1] : NULL;
        int rc = api_model_ref_from_parts(name, sel, &ref) == 0
                     ? registry_resolve(a->registry, ref.name, ref.alias, ref.version, 0, &t, &err)
                     : mlpd_fail(&err, MLPD_ENOTFOUND, "unknown model: '%s'", name);
        if (rc != MLPD_OK) {
            infer_reply_error(V2, res, rc == MLPD_ENOTFOUND ? rc : MLPD_EINTERNAL, "not-found",
                              NULL, "%s", err.msg);
            return;
        }
    }
    int one_version = req->n_params > 1;
    store_registry reg;
    if (registry_snapshot(a->registry, &reg, &err) != MLPD_OK) {
        infer_reply_error(V2, res, MLPD_ESTORE, NULL, NULL, "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "model_stats");
    for (size_t i = 0; i < reg.n_versions; i++) {
        const store_reg_version *v = &reg.versions[i];
        if (name && strcmp(v->name, t.name)) continue;
        if (one_version && v->model_id != t.model_id) continue;
        cJSON_AddItemToArray(arr, model_stat_json(a, v));
    }
    store_registry_free(&reg);
    http_reply_json(res, 200, o);
}

/* The optional JSON body of a repository request: NULL (empty body) or an
 * object; -1 with a 400 {"error"} in res otherwise. */
static int optional_body(const http_request *req, cJSON **out, http_response *res) {
    *out = NULL;
    size_t i = 0;
    while (i < req->body_len && strchr(" \t\r\n", req->body[i])) i++;
    if (i == req->body_len) return 0;
    api_problem p;
    *out = api_json_parse(req->body, req->body_len, &p);
    if (*out && cJSON_IsObject(*out)) return 0;
    cJSON_Delete(*out);
    *out = NULL;
    infer_reply_error(V2, res, MLPD_EINVAL, "invalid", NULL, "the body must be a JSON object");
    return -1;
}

void route_v2_repo_index(app *a, const http_request *req, http_response *res) {
    cJSON *body;
    if (optional_body(req, &body, res) != 0) return;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(body, "ready");
    if (r && !cJSON_IsBool(r)) {
        cJSON_Delete(body);
        infer_reply_error(V2, res, MLPD_EINVAL, "invalid", NULL, "ready must be a boolean");
        return;
    }
    int only_ready = cJSON_IsTrue(r);
    cJSON_Delete(body);
    store_registry reg;
    mlpd_error err = {0};
    if (registry_snapshot(a->registry, &reg, &err) != MLPD_OK) {
        infer_reply_error(V2, res, MLPD_ESTORE, NULL, NULL, "%s", err.msg);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < reg.n_versions; i++) {
        const store_reg_version *v = &reg.versions[i];
        int unloaded = registry_is_unloaded(a->registry, v->name);
        int ready = !unloaded && model_cache_loaded(a->models, v->model_id);
        if (only_ready && !ready) continue;
        cJSON *e = cJSON_CreateObject();
        char ver[16];
        snprintf(ver, sizeof ver, "%d", v->version);
        cJSON_AddStringToObject(e, "name", v->name);
        cJSON_AddStringToObject(e, "version", ver);
        cJSON_AddStringToObject(e, "state", ready ? "READY" : "UNAVAILABLE");
        cJSON_AddStringToObject(e, "reason",
                                ready      ? ""
                                : unloaded ? "unloaded"
                                           : "not loaded yet (loads on first use)");
        cJSON_AddItemToArray(arr, e);
    }
    store_registry_free(&reg);
    http_reply_json(res, 200, arr);
}

/* The request's "parameters" ($parameters: an object) in *params (NULL when
 * absent); -1 with a 400 {"error"} in res when it is something else. */
static int body_parameters(const cJSON *body, const cJSON **params, http_response *res) {
    *params = cJSON_GetObjectItemCaseSensitive(body, "parameters");
    if (!*params || cJSON_IsObject(*params)) return 0;
    infer_reply_error(V2, res, MLPD_EINVAL, "invalid", NULL, "parameters must be an object");
    return -1;
}

void route_v2_repo_load(app *a, const http_request *req, http_response *res) {
    cJSON *body;
    if (optional_body(req, &body, res) != 0) return;
    /* Triton's load parameters ("config", "file:...") replace the model's
     * configuration or files; an mlpd version is loaded as registered, so
     * they are refused rather than silently ignored. */
    const cJSON *params;
    int refused = body_parameters(body, &params, res) != 0;
    if (!refused && params && params->child) {
        infer_reply_error(V2, res, MLPD_EINVAL, "invalid", NULL,
                          "load parameter '%.64s' is not supported: a registered version loads as "
                          "it was uploaded",
                          params->child->string);
        refused = 1;
    }
    cJSON_Delete(body);
    if (refused) return;
    registry_target t;
    mlpd_error err = {0};
    int rc = api_model_name_ok(req->params[0])
                 ? registry_resolve(a->registry, req->params[0], NULL, 0, 0, &t, &err)
                 : mlpd_fail(&err, MLPD_ENOTFOUND, "unknown model: '%s'", req->params[0]);
    if (rc != MLPD_OK) {
        infer_reply_error(V2, res, rc == MLPD_ENOTFOUND ? MLPD_EINVAL : MLPD_EINTERNAL, "not-found",
                          NULL, "%s", err.msg);
        return;
    }
    registry_set_unloaded(a->registry, t.name, 0);
    cached_model *cm = NULL; /* loads, packs and warms it up (model_cache.h) */
    mlpd_error me = {0};
    if (model_cache_get(a->models, t.model_id, &cm, &me) != MLPD_OK) {
        infer_reply_error(V2, res, MLPD_EINTERNAL, NULL, NULL, "failed to load '%s': %s", t.name,
                          me.msg);
        return;
    }
    model_cache_release(a->models, cm);
    http_reply_take(res, 200, NULL, NULL, 0);
}

void route_v2_repo_unload(app *a, const http_request *req, http_response *res) {
    cJSON *body;
    if (optional_body(req, &body, res) != 0) return;
    const cJSON *params, *dep = NULL; /* unload_dependents: mlpd models have none */
    int rc = body_parameters(body, &params, res);
    if (rc == 0 && (dep = cJSON_GetObjectItemCaseSensitive(params, "unload_dependents")) &&
        !cJSON_IsBool(dep)) {
        infer_reply_error(V2, res, MLPD_EINVAL, "invalid", NULL,
                          "parameter unload_dependents must be a boolean");
        rc = -1;
    }
    cJSON_Delete(body);
    if (rc != 0) return;
    store_registry reg;
    mlpd_error err = {0};
    if (!api_model_name_ok(req->params[0]) ||
        registry_snapshot(a->registry, &reg, &err) != MLPD_OK) {
        infer_reply_error(V2, res, MLPD_EINVAL, "not-found", NULL, "unknown model: '%s'",
                          req->params[0]);
        return;
    }
    int found = 0;
    for (size_t i = 0; i < reg.n_versions; i++) {
        if (strcmp(reg.versions[i].name, req->params[0])) continue;
        found = 1;
        registry_set_unloaded(a->registry, req->params[0], 1);
        model_cache_invalidate(a->models, reg.versions[i].model_id);
    }
    store_registry_free(&reg);
    if (!found) {
        infer_reply_error(V2, res, MLPD_EINVAL, "not-found", NULL, "unknown model: '%s'",
                          req->params[0]);
        return;
    }
    http_reply_take(res, 200, NULL, NULL, 0);
}
