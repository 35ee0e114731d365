/* routes_registry.c - the model registry over HTTP (MLflow's vocabulary):
 *   GET    /models/{name}                      versions, aliases, canary
 *   GET    /models/{name}/versions/{v}         one version
 *   DELETE /models/{name}/versions/{v}         409 while an alias or the canary points at it
 *   PUT    /models/{name}/aliases/{alias}      {"version": 3}: set or move, atomically
 *   DELETE /models/{name}/aliases/{alias}
 *   PUT    /models/{name}/canary               {"version": 4, "percent": 10} (0 ends it)
 *   DELETE /models/{name}/canary
 * Every change refreshes the serving layer's registry (model_cache_models_changed). */
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "model_cache.h"
#include "model_ref.h"
#include "registry.h"
#include "router.h"
#include "views.h"

/* params[0] as a registered name; 404 otherwise. */
static const char *param_name(const http_request *req, http_response *res) {
    const char *name = req->n_params > 0 ? req->params[0] : "";
    if (api_model_name_ok(name)) return name;
    http_reply_problem(res, 404, "not-found", NULL, "no model named '%s'", name);
    return NULL;
}

/* params[1] as a version number; 404 otherwise. */
static int param_version(const http_request *req, const char *name, http_response *res) {
    int v = req->n_params > 1 ? api_model_version_parse(req->params[1]) : 0;
    if (v <= 0)
        http_reply_problem(res, 404, "not-found", NULL, "model '%s' has no version '%s'", name,
                           req->n_params > 1 ? req->params[1] : "");
    return v;
}

void route_registered_model_get(app *a, const http_request *req, http_response *res) {
    const char *name = param_name(req, res);
    if (!name) return;
    store_model *list = NULL;
    size_t n = 0;
    mlpd_error se = {0};
    if (route_store_check(store_model_versions(a->st, name, &list, &n, &se), &se, res,
                          "no model named '%s'", name) != 0)
        return;
    store_registry reg;
    mlpd_error err = {0};
    if (registry_snapshot(a->registry, &reg, &err) != MLPD_OK) {
        http_reply_problem(res, 500, "store", NULL, "%s", err.msg);
    } else {
        http_reply_json(res, 200,
                        view_registered_model(name, list, n, &reg, a->cfg->default_alias));
        store_registry_free(&reg);
    }
    store_model_list_free(list, n);
}

/* The id of name's version v (from the path); 0 with res filled when unknown. */
static int64_t version_id(app *a, const http_request *req, http_response *res, const char **name,
                          int *v) {
    if (!(*name = param_name(req, res))) return 0;
    if ((*v = param_version(req, *name, res)) <= 0) return 0;
    int64_t id = 0;
    mlpd_error se = {0};
    if (route_store_check(store_model_find(a->st, *name, *v, &id, &se), &se, res,
                          "model '%s' has no version %d", *name, *v) != 0)
        return 0;
    return id;
}

void route_model_version_get(app *a, const http_request *req, http_response *res) {
    const char *name;
    int v;
    int64_t id = version_id(a, req, res, &name, &v);
    if (!id) return;
    store_model m;
    mlpd_error se = {0};
    if (route_store_check(store_model_get(a->st, id, &m, &se), &se, res,
                          "model '%s' has no version %d", name, v) != 0)
        return;
    http_reply_json(res, 200, view_model(&m));
    store_model_clear(&m);
}

void route_model_version_delete(app *a, const http_request *req, http_response *res) {
    const char *name;
    int v;
    int64_t id = version_id(a, req, res, &name, &v);
    if (!id) return;
    mlpd_error se = {0};
    if (route_store_check(store_model_delete(a->st, id, &se), &se, res,
                          "model '%s' has no version %d", name, v) != 0)
        return;
    model_cache_invalidate(a->models, id);
    http_reply_take(res, 204, NULL, NULL, 0);
}

/* The JSON object body of a registry PUT: the members in known only, each
 * once (api_json_members_check). NULL with 400/422 in res. */
static cJSON *body_object(const http_request *req, const char *const known[], const char *expected,
                          http_response *res) {
    api_problem p;
    cJSON *root = api_json_parse(req->body, req->body_len, &p);
    if (!root) {
        http_reply_api_problem(res, &p);
        return NULL;
    }
    if (!cJSON_IsObject(root))
        api_json_invalid(&p, "", "the body must be a JSON object");
    else if (api_json_members_check(root, "", known, expected, &p) == 0)
        return root;
    cJSON_Delete(root);
    http_reply_api_problem(res, &p);
    return NULL;
}

/* o's integer member key in [lo, hi] (required); 0, or -1 with 422 in res. */
static int member_int(const cJSON *o, const char *key, long long lo, long long hi, int64_t *out,
                      http_response *res) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v && api_json_get_int(v, (double)lo, (double)hi, out) == API_JSON_OK) return 0;
    char ptr[64];
    api_json_pointer(ptr, sizeof ptr, "", key);
    http_reply_problem(res, 422, "invalid-field", ptr, "%s must be an integer in [%lld, %lld]", key,
                       lo, hi);
    return -1;
}

void route_alias_put(app *a, const http_request *req, http_response *res) {
    const char *name = param_name(req, res);
    if (!name) return;
    const char *alias = req->params[1];
    if (!api_model_name_ok(alias)) {
        http_reply_problem(res, 422, "invalid-alias", NULL,
                           "an alias is a letter followed by up to 63 of A-Z a-z 0-9 . _ -");
        return;
    }
    static const char *const members[] = {"version", NULL};
    cJSON *body = body_object(req, members, "an alias takes version", res);
    if (!body) return;
    int64_t v;
    int rc = member_int(body, "version", 1, 2147483647, &v, res);
    cJSON_Delete(body);
    if (rc != 0) return;
    mlpd_error se = {0};
    if (route_store_check(store_alias_set(a->st, name, alias, (int)v, &se), &se, res,
                          "model '%s' has no version %lld", name, (long long)v) != 0)
        return;
    model_cache_models_changed(a->models);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "alias", alias);
    cJSON_AddNumberToObject(o, "version", (double)v);
    http_reply_json(res, 200, o);
}

void route_alias_delete(app *a, const http_request *req, http_response *res) {
    const char *name = param_name(req, res);
    if (!name) return;
    mlpd_error se = {0};
    if (route_store_check(store_alias_delete(a->st, name, req->params[1], &se), &se, res,
                          "model '%s' has no alias '%s'", name, req->params[1]) != 0)
        return;
    model_cache_models_changed(a->models);
    http_reply_take(res, 204, NULL, NULL, 0);
}

void route_canary_put(app *a, const http_request *req, http_response *res) {
    const char *name = param_name(req, res);
    if (!name) return;
    static const char *const members[] = {"version", "percent", NULL};
    cJSON *body = body_object(req, members, "a canary takes version and percent", res);
    if (!body) return;
    /* version is required unless percent is 0 (which ends the canary), and
     * checked whenever it is given. */
    int64_t v = 0, given = 0, pct;
    int rc = member_int(body, "percent", 0, 100, &pct, res);
    if (rc == 0 && (pct > 0 || cJSON_GetObjectItemCaseSensitive(body, "version")))
        rc = member_int(body, "version", 1, 2147483647, &given, res);
    cJSON_Delete(body);
    if (rc != 0) return;
    if (pct > 0) v = given;
    mlpd_error se = {0};
    if (route_store_check(store_canary_set(a->st, name, (int)v, (int)pct, &se), &se, res,
                          "model '%s' has no version %lld", name, (long long)v) != 0)
        return;
    model_cache_models_changed(a->models);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    if (pct > 0) {
        cJSON *c = cJSON_AddObjectToObject(o, "canary");
        cJSON_AddNumberToObject(c, "version", (double)v);
        cJSON_AddNumberToObject(c, "percent", (double)pct);
    } else {
        cJSON_AddNullToObject(o, "canary");
    }
    http_reply_json(res, 200, o);
}

void route_canary_delete(app *a, const http_request *req, http_response *res) {
    const char *name = param_name(req, res);
    if (!name) return;
    mlpd_error se = {0};
    if (route_store_check(store_canary_set(a->st, name, 0, 0, &se), &se, res, "no model '%s'",
                          name) != 0)
        return;
    model_cache_models_changed(a->models);
    http_reply_take(res, 204, NULL, NULL, 0);
}
