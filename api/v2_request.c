/* v2_request.c - decoding the Open Inference Protocol v2 inference request,
 * binary tensor data included (contract in v2_infer.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "v2_infer.h"

/* Values of one input, at most this many (a 64 MiB float tensor). */
#define MAX_VALUES (16 * 1024 * 1024)

static int bad(api_problem *p, const char *fmt, const char *arg) {
    api_problem_set(p, 400, "invalid-inference-request", NULL, fmt, arg ? arg : "");
    return -1;
}

/* A member that must be a bool when present: 0/1 in *out, -1 when ill-typed. */
static int get_bool(const cJSON *params, const char *key, int *out) {
    const cJSON *v = params ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return -1;
    *out = cJSON_IsTrue(v);
    return 0;
}

/* The input's shape: [rows, width] or [width]. */
static int read_shape(const cJSON *shape, int max_rows, api_v2_request *r, api_problem *p) {
    int n = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
    if (n != 1 && n != 2)
        return bad(p, "input '" API_V2_INPUT "' needs a shape of [rows, width] or [width]%s", NULL);
    int64_t dims[2] = {1, 0};
    int i = 2 - n;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        if (api_json_get_int(d, 0, API_JSON_MAX_SAFE_INT, &dims[i]) != API_JSON_OK)
            return bad(p,
                       "input '" API_V2_INPUT "' has a shape dimension that is not an "
                       "unsigned integer%s",
                       NULL);
    }
    if (dims[0] < 1 || dims[1] < 1)
        return bad(p, "input '" API_V2_INPUT "' has an empty shape dimension%s", NULL);
    if (dims[0] > max_rows) {
        api_problem_set(p, 413, API_SLUG_TOO_LARGE, NULL,
                        "input '" API_V2_INPUT "' has %lld rows; at most %d are accepted at once",
                        (long long)dims[0], max_rows);
        return -1;
    }
    if (dims[1] > MAX_VALUES || dims[0] * dims[1] > MAX_VALUES)
        return bad(p, "input '" API_V2_INPUT "' is larger than this server accepts%s", NULL);
    r->rows = (int)dims[0];
    r->width = (int)dims[1];
    return 0;
}

/* Flatten nested arrays of numbers into x (row-major); *n counts the values. */
static int flatten(const cJSON *v, float *x, size_t cap, size_t *n, api_problem *p) {
    for (const cJSON *e = v->child; e; e = e->next) {
        if (cJSON_IsArray(e)) {
            if (flatten(e, x, cap, n, p)) return -1;
            continue;
        }
        if (!cJSON_IsNumber(e))
            return bad(p, "input '" API_V2_INPUT "' data must hold only numbers%s", NULL);
        float f = (float)e->valuedouble;
        if (!isfinite(f))
            return bad(p, "input '" API_V2_INPUT "' data holds a value outside FP32's range%s",
                       NULL);
        if (*n >= cap)
            return bad(p, "input '" API_V2_INPUT "' has more data values than its shape%s", NULL);
        x[(*n)++] = f;
    }
    return 0;
}

/* Little-endian float32 values from bin into x. */
static int read_binary(const unsigned char *bin, size_t count, float *x, api_problem *p) {
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = bin + 4 * i;
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&x[i], &u, sizeof u);
        if (!isfinite(x[i]))
            return bad(p, "input '" API_V2_INPUT "' binary data holds a NaN or infinity%s", NULL);
    }
    return 0;
}

/* The one $request_input; bin/bin_len: the binary part of the body. */
static int read_input(const cJSON *in, int max_rows, const unsigned char *bin, size_t bin_len,
                      api_v2_request *r, api_problem *p) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (!cJSON_IsObject(in) || !cJSON_IsString(name))
        return bad(p, "each input must be an object with a string name%s", NULL);
    if (strcmp(name->valuestring, API_V2_INPUT))
        return bad(p, "unexpected inference input '%s': the model's input is '" API_V2_INPUT "'",
                   name->valuestring);
    if (!cJSON_IsString(dt)) return bad(p, "input '" API_V2_INPUT "' needs a datatype%s", NULL);
    if (strcmp(dt->valuestring, "FP32"))
        return bad(p, "input '" API_V2_INPUT "' has datatype %s; the model expects FP32",
                   dt->valuestring);
    if (params && !cJSON_IsObject(params))
        return bad(p, "input '" API_V2_INPUT "' parameters must be an object%s", NULL);
    if (read_shape(cJSON_GetObjectItemCaseSensitive(in, "shape"), max_rows, r, p)) return -1;
    size_t count = (size_t)r->rows * (size_t)r->width;
    const cJSON *bsize =
        params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_size") : NULL;
    if (bsize) {
        int64_t size;
        if (api_json_get_int(bsize, 0, API_JSON_MAX_SAFE_INT, &size) != API_JSON_OK)
            return bad(p, "binary_data_size must be a non-negative integer%s", NULL);
        if (data)
            return bad(p, "input '" API_V2_INPUT "' has both data and binary_data_size%s", NULL);
        if ((uint64_t)size != count * 4) {
            char msg[160];
            snprintf(msg, sizeof msg, "%lld bytes but shape needs %zu (FP32)", (long long)size,
                     count * 4);
            return bad(p, "input '" API_V2_INPUT "' binary_data_size is %s", msg);
        }
        if ((uint64_t)size != bin_len) {
            char msg[160];
            snprintf(msg, sizeof msg, "%lld, but the body holds %zu bytes of binary data",
                     (long long)size, bin_len);
            return bad(p, "binary_data_size is %s after the JSON header", msg);
        }
        r->binary_input = 1;
    } else {
        if (bin_len)
            return bad(p,
                       "the body has binary data after the JSON header but no input has "
                       "binary_data_size%s",
                       NULL);
        if (!cJSON_IsArray(data)) return bad(p, "input '" API_V2_INPUT "' needs data%s", NULL);
    }
    r->x = malloc(count * sizeof *r->x);
    if (!r->x) {
        api_problem_set(p, 500, "internal", NULL, "out of memory");
        return -1;
    }
    if (bsize) return read_binary(bin, count, r->x, p);
    size_t n = 0;
    if (flatten(data, r->x, count, &n, p)) return -1;
    if (n != count) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu data values but its shape [%d, %d] needs %zu", n, r->rows,
                 r->width, count);
        return bad(p, "input '" API_V2_INPUT "' has %s", msg);
    }
    return 0;
}

/* One $request_output into r->outputs; default_binary from the request. */
static int read_output(const cJSON *o, int default_binary, api_v2_request *r, api_problem *p) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "parameters");
    if (!cJSON_IsObject(o) || !cJSON_IsString(name))
        return bad(p, "each requested output must be an object with a string name%s", NULL);
    if (params && !cJSON_IsObject(params))
        return bad(p, "output parameters must be an object%s", NULL);
    api_v2_output out = {.binary = default_binary};
    if (!strcmp(name->valuestring, API_V2_PROBABILITIES))
        out.kind = API_V2_OUT_PROBABILITIES;
    else if (!strcmp(name->valuestring, API_V2_LABEL))
        out.kind = API_V2_OUT_LABEL;
    else
        return bad(p,
                   "unexpected inference output '%s': the model's outputs are "
                   "'" API_V2_PROBABILITIES "' and '" API_V2_LABEL "'",
                   name->valuestring);
    for (int i = 0; i < r->n_outputs; i++)
        if (r->outputs[i].kind == out.kind)
            return bad(p, "output '%s' is requested twice", name->valuestring);
    if (get_bool(params, "binary_data", &out.binary))
        return bad(p, "binary_data must be a boolean%s", NULL);
    const cJSON *k = params ? cJSON_GetObjectItemCaseSensitive(params, "classification") : NULL;
    if (k) {
        int64_t kv;
        if (api_json_get_int(k, 1, INT_MAX, &kv) != API_JSON_OK)
            return bad(p, "classification must be an integer >= 1%s", NULL);
        if (out.kind != API_V2_OUT_PROBABILITIES)
            return bad(p, "classification applies to output '" API_V2_PROBABILITIES "' only%s",
                       NULL);
        out.classification = (int)kv;
    }
    r->outputs[r->n_outputs++] = out;
    return 0;
}

static int read_request(const cJSON *root, const unsigned char *bin, size_t bin_len, int max_rows,
                        api_v2_request *r, api_problem *p) {
    if (!cJSON_IsObject(root)) return bad(p, "the inference request must be a JSON object%s", NULL);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (id && !cJSON_IsString(id)) return bad(p, "id must be a string%s", NULL);
    if (id && !(r->id = strdup(id->valuestring))) {
        api_problem_set(p, 500, "internal", NULL, "out of memory");
        return -1;
    }
    if (params && !cJSON_IsObject(params)) return bad(p, "parameters must be an object%s", NULL);
    int binary_out = 0;
    if (get_bool(params, "binary_data_output", &binary_out))
        return bad(p, "binary_data_output must be a boolean%s", NULL);
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) != 1)
        return bad(p, "inputs must be an array of exactly one input ('" API_V2_INPUT "')%s", NULL);
    if (read_input(inputs->child, max_rows, bin, bin_len, r, p)) return -1;
    if (outputs && !cJSON_IsArray(outputs)) return bad(p, "outputs must be an array%s", NULL);
    if (outputs && cJSON_GetArraySize(outputs) > 2)
        return bad(p,
                   "at most two outputs exist ('" API_V2_PROBABILITIES "', '" API_V2_LABEL "')%s",
                   NULL);
    for (const cJSON *o = outputs ? outputs->child : NULL; o; o = o->next)
        if (read_output(o, binary_out, r, p)) return -1;
    if (!outputs || r->n_outputs == 0) {
        r->n_outputs = 2;
        r->outputs[0] = (api_v2_output){.kind = API_V2_OUT_PROBABILITIES, .binary = binary_out};
        r->outputs[1] = (api_v2_output){.kind = API_V2_OUT_LABEL, .binary = binary_out};
    }
    return 0;
}

int api_v2_request_decode(const char *body, size_t len, long long header_len, int max_rows,
                          api_v2_request *out, api_problem *prob) {
    memset(out, 0, sizeof *out);
    size_t json_len = len;
    if (header_len >= 0) {
        if ((unsigned long long)header_len > len || header_len == 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "%lld, but the body has %zu bytes", header_len, len);
            return bad(prob, "Inference-Header-Content-Length is %s", msg);
        }
        json_len = (size_t)header_len;
    }
    cJSON *root = api_json_parse(body, json_len, prob);
    if (!root) {
        prob->status = 400;
        return -1;
    }
    int rc = read_request(root, (const unsigned char *)body + json_len, len - json_len, max_rows,
                          out, prob);
    cJSON_Delete(root);
    if (rc) api_v2_request_free(out);
    return rc;
}

void api_v2_request_free(api_v2_request *r) {
    if (!r) return;
    free(r->id);
    free(r->x);
    memset(r, 0, sizeof *r);
}
