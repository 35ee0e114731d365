/* routes_v1.c - TensorFlow Serving's REST API (api_rest.md), which KServe's
 * v1 protocol also speaks:
 *   GET  /v1/models                                                  names (KServe's v1 list)
 *   GET  /v1/models/{name}[/versions/{v}|/labels/{alias}]           version status
 *   GET  /v1/models/{name}[/versions/{v}|/labels/{alias}]/metadata  signature (GetModelMetadata)
 *   POST /v1/models/{name}[/versions/{v}|/labels/{alias}]:predict   predictions
 *   POST ...:classify   every class's score per tf.Example-style example
 *   POST ...:regress    the one output per example (models with one output)
 * The verb shares the last path segment with the name, so one
 * route takes the rest of the path ({path*}) and it is parsed here. Errors
 * are {"error": "..."}, as TF Serving writes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "infer.h"
#include "model_ref.h"
#include "tfs.h"
#include "v2_infer.h"

#define V1 INFER_ERR_PROTOCOL

/* "name", "name/versions/3" or "name/labels/stable" into ref. 0 or -1. */
static int parse_ref(const char *path, api_model_ref *ref) {
    char buf[256];
    if (strlen(path) >= sizeof buf) return -1;
    strcpy(buf, path);
    char *slash = strchr(buf, '/');
    if (!slash) return api_model_ref_from_parts(buf, NULL, ref);
    *slash = '\0';
    char *kind = slash + 1, *sel = strchr(kind, '/');
    if (!sel || strchr(sel + 1, '/')) return -1;
    *sel++ = '\0';
    if (!strcmp(kind, "versions") && api_model_version_parse(sel) > 0)
        return api_model_ref_from_parts(buf, sel, ref);
    if (!strcmp(kind, "labels") && api_model_name_ok(sel))
        return api_model_ref_from_parts(buf, sel, ref);
    return -1;
}

static void status_entry(cJSON *arr, int version, int unloaded) {
    cJSON *e = cJSON_CreateObject();
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    cJSON_AddStringToObject(e, "version", v);
    cJSON_AddStringToObject(e, "state", unloaded ? "END" : "AVAILABLE");
    cJSON *st = cJSON_AddObjectToObject(e, "status");
    cJSON_AddStringToObject(st, "error_code", "OK");
    cJSON_AddStringToObject(st, "error_message", "");
    cJSON_AddItemToArray(arr, e);
}

/* KServe's v1 "List Models": {"models": [name, ...]}, each registered name once. */
void route_v1_list(app *a, const http_request *req, http_response *res) {
    (void)req;
    store_registry reg;
    mlpd_error err = {0};
    if (registry_snapshot(a->registry, &reg, &err) != MLPD_OK) {
        infer_reply_error(V1, res, MLPD_ESTORE, NULL, NULL, "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(o, "models");
    for (size_t i = 0; names && i < reg.n_versions; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(reg.versions[k].name, reg.versions[i].name);
        if (!seen) cJSON_AddItemToArray(names, cJSON_CreateString(reg.versions[i].name));
    }
    store_registry_free(&reg);
    if (!names) {
        cJSON_Delete(o);
        infer_reply_error(V1, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        return;
    }
    http_reply_json(res, 200, o);
}

/* GET .../metadata: the version's signature (the default version when the
 * path names none, as TF Serving answers with the latest). */
static void reply_metadata(app *a, const api_model_ref *ref, http_response *res) {
    registry_target t;
    mlpd_error err = {0};
    int rc = registry_resolve(a->registry, ref->name, ref->alias, ref->version, 0, &t, &err);
    store_model m;
    if (rc == MLPD_OK) rc = store_model_get(a->st, t.model_id, &m, &err);
    if (rc != MLPD_OK) {
        infer_reply_error(V1, res, rc == MLPD_ENOTFOUND ? rc : MLPD_EINTERNAL, "not-found", NULL,
                          "%s", err.msg);
        return;
    }
    int width, classes;
    api_arch_io(m.arch_json, &width, &classes);
    store_model_clear(&m);
    cJSON *o = api_tfs_metadata(t.name, t.version, width, classes);
    if (!o) {
        infer_reply_error(V1, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        return;
    }
    http_reply_json(res, 200, o);
}

void route_v1_get(app *a, const http_request *req, http_response *res) {
    char path[160];
    snprintf(path, sizeof path, "%s", req->params[0]);
    size_t len = strlen(path);
    static const char md[] = "/metadata";
    int metadata = len > sizeof md - 1 && !strcmp(path + len - (sizeof md - 1), md);
    if (metadata) path[len - (sizeof md - 1)] = '\0';
    api_model_ref ref;
    if (parse_ref(path, &ref) != 0) {
        infer_reply_error(V1, res, MLPD_ENOTFOUND, NULL, NULL, "no model at /v1/models/%s",
                          req->params[0]);
        return;
    }
    if (metadata) {
        reply_metadata(a, &ref, res);
        return;
    }
    int all = !ref.alias[0] && ref.version == 0;
    registry_target t;
    mlpd_error err = {0};
    int rc = registry_resolve(a->registry, ref.name, ref.alias, ref.version, 0, &t, &err);
    if (rc != MLPD_OK) {
        infer_reply_error(V1, res, rc == MLPD_ENOTFOUND ? rc : MLPD_EINTERNAL, "not-found", NULL,
                          "%s", err.msg);
        return;
    }
    int unloaded = registry_is_unloaded(a->registry, t.name);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "model_version_status");
    store_registry reg;
    if (all && registry_snapshot(a->registry, &reg, &err) == MLPD_OK) {
        /* Newest first, as TF Serving lists them. */
        for (size_t i = reg.n_versions; i-- > 0;)
            if (!strcmp(reg.versions[i].name, t.name))
                status_entry(arr, reg.versions[i].version, unloaded);
        store_registry_free(&reg);
    } else {
        status_entry(arr, t.version, unloaded);
    }
    http_reply_json(res, 200, o);
}

typedef struct {
    infer_job base; /* first */
    api_tfs_request r;
} v1_job;

static void v1_answer(infer_job *base, http_response *res) {
    v1_job *j = (v1_job *)base;
    /* No tensor holds NaN: an input that overflows inside the network is refused. */
    if (infer_untrusted_row(base) >= 0) {
        infer_reply_nonfinite(V1, NULL, base->cm->id, res);
        return;
    }
    char *body = api_tfs_response_encode(&j->r, base->outputs, base->item.probs);
    if (!body) {
        infer_reply_error(V1, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        return;
    }
    http_reply_take(res, 200, "application/json", body, strlen(body));
    /* Which version answered (the body has no member for it in TF Serving). */
    http_set_header(res, "Model-Version", "%s/%d", base->target.name, base->target.version);
}

static void v1_release(infer_job *base) {
    v1_job *j = (v1_job *)base;
    api_tfs_request_free(&j->r);
    free(j);
}

void route_v1_post(app *a, const http_request *req, http_response *res) {
    if (infer_refuse_draining(a, V1, res)) return;
    uint64_t start = mono_ns();
    const char *path = req->params[0];
    const char *colon = strrchr(path, ':');
    char ref_text[256];
    api_model_ref ref;
    int verb = colon ? api_tfs_verb_parse(colon) : -1;
    if (verb < 0 || (size_t)(colon - path) >= sizeof ref_text) {
        /* A verb TF Serving does not have is a request this route cannot
         * serve; no verb at all names no model. */
        infer_reply_error(V1, res, colon ? MLPD_EINVAL : MLPD_ENOTFOUND, "not-found", NULL,
                          "POST /v1/models/{name}[/versions/{v}|/labels/{label}]:predict, "
                          ":classify or :regress are the verbs served (not '%s')",
                          colon ? colon : path);
        return;
    }
    memcpy(ref_text, path, (size_t)(colon - path));
    ref_text[colon - path] = '\0';
    if (parse_ref(ref_text, &ref) != 0) {
        infer_reply_error(V1, res, MLPD_ENOTFOUND, NULL, NULL, "no model at /v1/models/%s",
                          ref_text);
        return;
    }
    /* An unknown model is a 404 whatever the body holds (no canary draw here:
     * infer_resolve below picks the version that answers). */
    registry_target t;
    mlpd_error err = {0};
    if (registry_resolve(a->registry, ref.name, ref.alias, ref.version, 0, &t, &err) ==
        MLPD_ENOTFOUND) {
        infer_reply_error(V1, res, MLPD_ENOTFOUND, NULL, NULL, "%s", err.msg);
        return;
    }
    api_tfs_request r;
    api_problem prob;
    if (api_tfs_request_decode(req->body, req->body_len, (api_tfs_verb)verb,
                               a->cfg->max_predict_batch, &r, &prob)) {
        infer_reply_status(V1, res, prob.status, "invalid", NULL, "%s", prob.detail);
        return;
    }
    cached_model *cm = NULL;
    if (infer_resolve(a, V1, NULL, ref.name, ref.alias, ref.version, 0, &t, &cm, res) != 0) {
        api_tfs_request_free(&r);
        return;
    }
    const mlp_model *m = cm->model;
    int inputs = m->arch.sizes[0], outputs = m->arch.sizes[m->arch.n_layers];
    int bad_width = r.width != inputs;
    int bad_regress = !bad_width && r.verb == API_TFS_REGRESS && outputs != 1;
    v1_job *j = bad_width || bad_regress ? NULL : infer_job_new(sizeof *j, r.rows, outputs);
    if (!j) {
        if (bad_width)
            infer_reply_error(V1, res, MLPD_EINVAL, "invalid", NULL,
                              "each %s has %d values but model '%s' version %d takes %d",
                              r.verb == API_TFS_PREDICT ? "instance" : "example", r.width, t.name,
                              t.version, inputs);
        else if (bad_regress)
            infer_reply_error(V1, res, MLPD_EINVAL, "invalid", NULL,
                              ":regress needs a model with one output; model '%s' version %d has "
                              "%d (ask :classify)",
                              t.name, t.version, outputs);
        else
            infer_reply_error(V1, res, MLPD_EINTERNAL, NULL, NULL, "out of memory");
        model_cache_release(a->models, cm);
        api_tfs_request_free(&r);
        return;
    }
    j->r = r;
    j->base.cm = cm;
    j->base.target = t;
    j->base.style = V1;
    j->base.start_ns = start;
    j->base.item.x = j->r.x;
    j->base.item.rows = j->r.rows;
    j->base.answer = v1_answer;
    j->base.release = v1_release;
    infer_run(a, &j->base, req, res);
}
