/* oip_schema.c - the protocol documents' JSON objects, checked (oip_client.h):
 * $metadata_server_response, $metadata_model_response, readiness, Triton's
 * $stats_model_response and $repository_index_response, TF Serving's model
 * status, metadata (GetModelMetadataResponse in protobuf's JSON mapping) and
 * predict answers, and {"error": string}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oip_client.h"

static int bad(const char *what, const char *why) {
    fprintf(stderr, "protocol violation in %s: %s\n", what, why);
    return -1;
}

static int is_str(const cJSON *o, const char *k) {
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int tensor_meta_ok(const cJSON *arr) {
    if (!cJSON_IsArray(arr)) return 0;
    for (const cJSON *t = arr->child; t; t = t->next) {
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        if (!is_str(t, "name") || !is_str(t, "datatype") || !cJSON_IsArray(shape)) return 0;
        for (const cJSON *d = shape->child; d; d = d->next)
            if (!cJSON_IsNumber(d) || d->valuedouble < -1) return 0;
    }
    return 1;
}

static int duration_ok(const cJSON *d) {
    return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "count")) &&
           cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "ns"));
}

static int stats_ok(const cJSON *j) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "model_stats");
    if (!cJSON_IsArray(arr)) return 0;
    static const char *const kinds[] = {"success",       "fail",          "queue",
                                        "compute_input", "compute_infer", "compute_output"};
    for (const cJSON *s = arr->child; s; s = s->next) {
        const cJSON *is = cJSON_GetObjectItemCaseSensitive(s, "inference_stats");
        if (!is_str(s, "name") || !cJSON_IsObject(is) ||
            !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "inference_count")) ||
            !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "execution_count")) ||
            !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "last_inference")))
            return 0;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "version");
        if (v && !cJSON_IsString(v)) return 0;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            if (!duration_ok(cJSON_GetObjectItemCaseSensitive(is, kinds[k]))) return 0;
    }
    return 1;
}

static int index_ok(const cJSON *j) {
    if (!cJSON_IsArray(j)) return 0;
    for (const cJSON *e = j->child; e; e = e->next) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "version");
        if (!is_str(e, "name") || !is_str(e, "state") || !is_str(e, "reason") ||
            (v && !cJSON_IsString(v)))
            return 0;
    }
    return 1;
}

static int tfs_status_ok(const cJSON *j) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "model_version_status");
    if (!cJSON_IsArray(arr) || !arr->child) return 0;
    for (const cJSON *e = arr->child; e; e = e->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
        if (!is_str(e, "version") || !is_str(e, "state") || !is_str(st, "error_code")) return 0;
    }
    return 1;
}

/* TF Serving's GetModelMetadataResponse: model_spec {name, version}, and
 * metadata.signature_def.signature_def, a map of SignatureDefs whose tensors
 * have a dtype, a name and tensor_shape.dim sizes (int64: JSON strings). */
static int tensor_infos_ok(const cJSON *map) {
    if (!cJSON_IsObject(map) || !map->child) return 0;
    for (const cJSON *t = map->child; t; t = t->next) {
        const cJSON *dims = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(t, "tensor_shape"), "dim");
        if (!is_str(t, "dtype") || !is_str(t, "name") || !cJSON_IsArray(dims)) return 0;
        for (const cJSON *d = dims->child; d; d = d->next)
            if (!is_str(d, "size")) return 0;
    }
    return 1;
}

static int tfs_metadata_ok(const cJSON *j) {
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "model_spec");
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metadata"),
                                         "signature_def"),
        "signature_def");
    if (!is_str(spec, "name") || !is_str(spec, "version") || !cJSON_IsObject(defs) || !defs->child)
        return 0;
    for (const cJSON *sig = defs->child; sig; sig = sig->next)
        if (!tensor_infos_ok(cJSON_GetObjectItemCaseSensitive(sig, "inputs")) ||
            !tensor_infos_ok(cJSON_GetObjectItemCaseSensitive(sig, "outputs")) ||
            !is_str(sig, "method_name"))
            return 0;
    return 1;
}

/* Does j fit schema `what` (given the status)? */
static int fits(const char *what, const cJSON *j, long status) {
    if (!strcmp(what, "none")) return 0; /* the caller checks only the status */
    if (!j) return bad(what, "the body is not JSON");
    if (!strcmp(what, "error") || status >= 400)
        return status >= 400 && is_str(j, "error") ? 0 : bad(what, "no {\"error\": string}");
    int ok = 1;
    if (!strcmp(what, "server_metadata"))
        ok = is_str(j, "name") && is_str(j, "version") &&
             cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "extensions"));
    else if (!strcmp(what, "model_metadata"))
        ok = is_str(j, "name") && is_str(j, "platform") &&
             tensor_meta_ok(cJSON_GetObjectItemCaseSensitive(j, "inputs")) &&
             tensor_meta_ok(cJSON_GetObjectItemCaseSensitive(j, "outputs"));
    else if (!strcmp(what, "model_ready"))
        ok = is_str(j, "name") && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "ready"));
    else if (!strcmp(what, "server_ready") || !strcmp(what, "server_live"))
        ok = cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "live"));
    else if (!strcmp(what, "stats"))
        ok = stats_ok(j);
    else if (!strcmp(what, "index"))
        ok = index_ok(j);
    else if (!strcmp(what, "tfs_status"))
        ok = tfs_status_ok(j);
    else if (!strcmp(what, "tfs_metadata"))
        ok = tfs_metadata_ok(j);
    return ok ? 0 : bad(what, "required members missing or of the wrong type");
}

cJSON *oip_call(const mlpd_daemon *d, const char *method, const char *path, const char *body,
                const char *what, long *status) {
    http_result r;
    if (http_do(d, method, path, body ? "application/json" : NULL, body, body ? strlen(body) : 0,
                NULL, 0, &r) != 0)
        return NULL;
    *status = r.status;
    cJSON *j = r.len ? cJSON_ParseWithLength(r.body, r.len) : NULL;
    if (fits(what, j, r.status) != 0) {
        fprintf(stderr, "%s %s -> %ld %.300s\n", method, path, r.status, r.body);
        cJSON_Delete(j);
        j = NULL;
    }
    http_result_free(&r);
    return j;
}

int tfs_predict(const mlpd_daemon *d, const char *path, const float *x, int rows, int width,
                int columnar, double **values, int *cols, long *status) {
    size_t cap = 64 + (size_t)rows * width * 18;
    char *body = malloc(cap);
    size_t n = (size_t)snprintf(body, cap, "{\"%s\":[", columnar ? "inputs" : "instances");
    for (int r = 0; r < rows; r++) {
        n += (size_t)snprintf(body + n, cap - n, "%s[", r ? "," : "");
        for (int c = 0; c < width; c++)
            n += (size_t)snprintf(body + n, cap - n, "%s%.9g", c ? "," : "",
                                  (double)x[(size_t)r * width + c]);
        n += (size_t)snprintf(body + n, cap - n, "]");
    }
    snprintf(body + n, cap - n, "]}");
    http_result res;
    int rc = http_post_json(d, path, body, &res);
    free(body);
    if (rc != 0) return -1;
    *status = res.status;
    cJSON *j = cJSON_ParseWithLength(res.body, res.len);
    const char *key = columnar ? "outputs" : "predictions";
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, key);
    rc = -1;
    if (res.status != 200) {
        rc = is_str(j, "error") ? 0 : bad("tfs error", "no {\"error\": string}");
    } else if (cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == rows) {
        *cols = cJSON_GetArraySize(arr->child);
        *values = calloc((size_t)rows * (size_t)*cols + 1, sizeof **values);
        rc = 0;
        int r = 0;
        for (const cJSON *row = arr->child; row && rc == 0; row = row->next, r++) {
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != *cols) rc = -1;
            int c = 0;
            for (const cJSON *v = row->child; v && rc == 0; v = v->next, c++) {
                if (!cJSON_IsNumber(v))
                    rc = -1;
                else
                    (*values)[(size_t)r * *cols + c] = v->valuedouble;
            }
        }
        if (rc) bad(key, "rows of numbers of one width expected");
    } else {
        bad(key, "a list of one entry per row expected");
    }
    if (rc) fprintf(stderr, "POST %s -> %ld %.300s\n", path, res.status, res.body);
    cJSON_Delete(j);
    http_result_free(&res);
    return rc;
}
