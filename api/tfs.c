/* tfs.c - TensorFlow Serving REST predict bodies (tfs.h). */
#include "tfs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "encode.h"
#include "json_util.h"

#define MAX_WIDTH (1 << 20)

static int bad(api_problem *p, const char *detail) {
    api_problem_set(p, 400, "invalid-predict-request", NULL, "%s", detail);
    return -1;
}

/* The values of one row (nested lists flattened) appended to x; *n counts. */
static int row_values(const cJSON *v, float *x, size_t cap, size_t *n, api_problem *p) {
    if (cJSON_IsNumber(v)) {
        float f = (float)v->valuedouble;
        if (!isfinite(f)) return bad(p, "a value is outside float32's range");
        if (*n >= cap) return bad(p, "the rows do not all have the same number of values");
        x[(*n)++] = f;
        return 0;
    }
    if (!cJSON_IsArray(v)) return bad(p, "input values must be numbers (or lists of numbers)");
    for (const cJSON *e = v->child; e; e = e->next)
        if (row_values(e, x, cap, n, p)) return -1;
    return 0;
}

/* Count the values of a row (nested lists flattened). */
static size_t count_values(const cJSON *v) {
    if (!cJSON_IsArray(v)) return 1;
    size_t n = 0;
    for (const cJSON *e = v->child; e; e = e->next) n += count_values(e);
    return n;
}

/* An instance in row format: a list, or {"input": list}. */
static const cJSON *unwrap_named(const cJSON *v, api_problem *p) {
    if (!cJSON_IsObject(v)) return v;
    if (!v->child || v->child->next || strcmp(v->child->string, "input")) {
        bad(p, "the model has one input, named \"input\"");
        return NULL;
    }
    return v->child;
}

/* rows: an array of rows. */
static int read_rows(const cJSON *rows, int max_rows, api_tfs_request *r, api_problem *p) {
    if (!cJSON_IsArray(rows) || !rows->child)
        return bad(p, "instances / inputs must be a non-empty list of rows");
    int n = cJSON_GetArraySize(rows);
    if (n > max_rows) {
        api_problem_set(p, 413, API_SLUG_TOO_LARGE, NULL,
                        "%d rows; at most %d are accepted at once", n, max_rows);
        return -1;
    }
    const cJSON *first = r->columnar ? rows->child : unwrap_named(rows->child, p);
    if (!first) return -1;
    if (!cJSON_IsArray(first)) return bad(p, "each row must be a list of the input's values");
    size_t w = count_values(first);
    if (w == 0 || w > MAX_WIDTH) return bad(p, "a row must hold 1 to 1048576 values");
    r->rows = n;
    r->width = (int)w;
    r->x = malloc((size_t)n * w * sizeof *r->x);
    if (!r->x) {
        api_problem_set(p, 500, "internal", NULL, "out of memory");
        return -1;
    }
    size_t i = 0;
    for (const cJSON *row = rows->child; row; row = row->next, i++) {
        const cJSON *v = r->columnar ? row : unwrap_named(row, p);
        if (!v) return -1;
        size_t got = 0;
        if (!cJSON_IsArray(v)) return bad(p, "each row must be a list of the input's values");
        if (row_values(v, r->x + i * w, w, &got, p)) return -1;
        if (got != w) return bad(p, "the rows do not all have the same number of values");
    }
    return 0;
}

static int read_body(const cJSON *root, int max_rows, api_tfs_request *r, api_problem *p) {
    if (!cJSON_IsObject(root)) return bad(p, "the body must be a JSON object");
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(root, "signature_name");
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "instances");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (sig && (!cJSON_IsString(sig) || strcmp(sig->valuestring, "serving_default")))
        return bad(p, "the only signature is \"serving_default\"");
    if (!inst == !inputs) return bad(p, "give exactly one of \"instances\" and \"inputs\"");
    if (inst) return read_rows(inst, max_rows, r, p);
    r->columnar = 1;
    if (cJSON_IsObject(inputs)) {
        if (!inputs->child || inputs->child->next || strcmp(inputs->child->string, "input"))
            return bad(p, "the model has one input, named \"input\"");
        inputs = inputs->child;
    }
    return read_rows(inputs, max_rows, r, p);
}

int api_tfs_request_decode(const char *json, size_t len, int max_rows, api_tfs_request *out,
                           api_problem *prob) {
    memset(out, 0, sizeof *out);
    cJSON *root = api_json_parse(json, len, prob);
    if (!root) {
        prob->status = 400;
        return -1;
    }
    int rc = read_body(root, max_rows, out, prob);
    cJSON_Delete(root);
    if (rc) api_tfs_request_free(out);
    return rc;
}

void api_tfs_request_free(api_tfs_request *r) {
    if (!r) return;
    free(r->x);
    memset(r, 0, sizeof *r);
}

char *api_tfs_response_encode(const api_tfs_request *req, int classes, const float *probs) {
    const char *key = req->columnar ? "{\"outputs\":[" : "{\"predictions\":[";
    size_t cap = strlen(key) + 4 + (size_t)req->rows * (3 + (size_t)classes * API_PROBABILITY_MAX);
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = strlen(key);
    memcpy(out, key, n);
    for (int i = 0; i < req->rows; i++) {
        if (i) out[n++] = ',';
        out[n++] = '[';
        for (int c = 0; c < classes; c++) {
            if (c) out[n++] = ',';
            n += api_format_probability(out + n, probs[(size_t)i * classes + c]);
        }
        out[n++] = ']';
    }
    memcpy(out + n, "]}", 3);
    return out;
}
