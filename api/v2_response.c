/* v2_response.c - the Open Inference Protocol v2 inference response (JSON,
 * binary tensor data, classification) and model metadata (v2_infer.h).
 *
 * The response is written straight into one growing buffer: the JSON header,
 * then the binary tensors in the order of the outputs that carry them, so a
 * binary answer costs one allocation and no per-value printf (probabilities
 * use api_format_probability, exactly "%.9g"). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "v2_infer.h"

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} buf;

/* Room for n more bytes. */
static char *room(buf *b, size_t n) {
    if (b->oom) return NULL;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->oom = 1;
            return NULL;
        }
        b->p = grown;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void put(buf *b, const void *s, size_t n) {
    char *at = room(b, n);
    if (!at) return;
    memcpy(at, s, n);
    b->len += n;
}

static void puts_(buf *b, const char *s) {
    put(b, s, strlen(s));
}

static void putf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal (escaped by cJSON). */
static void put_string(buf *b, const char *s) {
    cJSON *str = cJSON_CreateString(s);
    char *text = str ? cJSON_PrintUnformatted(str) : NULL;
    if (text)
        puts_(b, text);
    else
        b->oom = 1;
    cJSON_free(text);
    cJSON_Delete(str);
}

static void put_u32le(buf *b, uint32_t u) {
    unsigned char x[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 24)};
    put(b, x, 4);
}

/* One classification: "value:index" (the protocol's format; mlpd models
 * carry no class labels) into out (>= 48 bytes). */
static void class_string(char *out, const float *row, int idx) {
    char v[API_PROBABILITY_MAX];
    api_format_probability(v, row[idx]);
    snprintf(out, 48, "%s:%d", v, idx);
}

/* order[0..k) = the indices of the k largest values of row, largest first
 * (ties: the lower index first). */
static void top_k(const float *row, int classes, int k, int *order) {
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int c = 0; c < classes; c++) {
            int taken = 0;
            for (int q = 0; q < r && !taken; q++) taken = order[q] == c;
            if (!taken && (best < 0 || row[c] > row[best])) best = c;
        }
        order[r] = best;
    }
}

/* One output's JSON object; its binary bytes (if any) go to bin. */
static void put_output(buf *b, buf *bin, const api_v2_output *o, int rows, int classes,
                       const float *probs, const int *labels) {
    int k = o->classification > classes ? classes : o->classification;
    if (k > 1024) k = 1024; /* order[] below; no mlpd model has more classes than that */
    const char *name = o->kind == API_V2_OUT_LABEL ? API_V2_LABEL : API_V2_PROBABILITIES;
    const char *dt = k ? "BYTES" : o->kind == API_V2_OUT_LABEL ? "INT64" : "FP32";
    putf(b, "{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":", name, dt);
    int cols = k ? k : o->kind == API_V2_OUT_LABEL ? 0 : classes;
    if (cols)
        putf(b, "[%d,%d]", rows, cols);
    else
        putf(b, "[%d]", rows);
    size_t before = bin->len;
    if (!o->binary) puts_(b, ",\"data\":[");
    int order[1024];
    char s[48], num[API_PROBABILITY_MAX];
    for (int i = 0; i < rows; i++) {
        const float *row = probs + (size_t)i * classes;
        if (k) top_k(row, classes, k, order);
        for (int c = 0; c < (cols ? cols : 1); c++) {
            int first = i == 0 && c == 0;
            if (k) {
                class_string(s, row, order[c]);
                if (o->binary) {
                    put_u32le(bin, (uint32_t)strlen(s));
                    puts_(bin, s);
                } else {
                    putf(b, "%s\"%s\"", first ? "" : ",", s);
                }
            } else if (o->kind == API_V2_OUT_LABEL) {
                if (o->binary) {
                    uint64_t v = (uint64_t)(int64_t)labels[i];
                    put_u32le(bin, (uint32_t)v);
                    put_u32le(bin, (uint32_t)(v >> 32));
                } else {
                    putf(b, "%s%d", first ? "" : ",", labels[i]);
                }
            } else if (o->binary) {
                uint32_t u;
                memcpy(&u, &row[c], sizeof u);
                put_u32le(bin, u);
            } else {
                if (!first) put(b, ",", 1);
                put(b, num, api_format_probability(num, row[c]));
            }
        }
    }
    if (o->binary)
        putf(b, ",\"parameters\":{\"binary_data_size\":%zu}}", bin->len - before);
    else
        puts_(b, "]}");
}

int api_v2_response_encode(const api_v2_request *req, const char *model_name, int model_version,
                           int classes, const float *probs, const int *labels, char **body,
                           size_t *len, size_t *header_len) {
    buf b = {0}, bin = {0};
    size_t per_row = 24 + (size_t)classes * (API_PROBABILITY_MAX + 1);
    room(&b, 256 + (size_t)req->rows * per_row);
    puts_(&b, "{\"model_name\":");
    put_string(&b, model_name);
    putf(&b, ",\"model_version\":\"%d\"", model_version);
    if (req->id) {
        puts_(&b, ",\"id\":");
        put_string(&b, req->id);
    }
    puts_(&b, ",\"outputs\":[");
    for (int i = 0; i < req->n_outputs; i++) {
        if (i) put(&b, ",", 1);
        put_output(&b, &bin, &req->outputs[i], req->rows, classes, probs, labels);
    }
    puts_(&b, "]}");
    *header_len = bin.len ? b.len : 0;
    if (bin.len) put(&b, bin.p, bin.len);
    free(bin.p);
    if (b.oom || bin.oom) {
        free(b.p);
        return -1;
    }
    b.p[b.len] = '\0';
    *body = b.p;
    *len = b.len;
    return 0;
}

static cJSON *tensor_meta(const char *name, const char *dt, int cols) {
    cJSON *t = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray();
    if (!t || !shape) {
        cJSON_Delete(t);
        cJSON_Delete(shape);
        return NULL;
    }
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", dt);
    cJSON_AddItemToArray(shape, cJSON_CreateNumber(-1));
    if (cols > 0) cJSON_AddItemToArray(shape, cJSON_CreateNumber(cols));
    cJSON_AddItemToObject(t, "shape", shape);
    return t;
}

cJSON *api_v2_model_metadata(const char *name, const int *versions, size_t n_versions, int width,
                             int classes) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", name);
    cJSON *vs = cJSON_AddArrayToObject(o, "versions");
    for (size_t i = 0; vs && i < n_versions; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", versions[i]);
        cJSON_AddItemToArray(vs, cJSON_CreateString(v));
    }
    cJSON_AddStringToObject(o, "platform", "mlpd");
    cJSON *in = cJSON_AddArrayToObject(o, "inputs");
    cJSON *out = cJSON_AddArrayToObject(o, "outputs");
    if (in) cJSON_AddItemToArray(in, tensor_meta(API_V2_INPUT, "FP32", width));
    if (out) {
        cJSON_AddItemToArray(out, tensor_meta(API_V2_PROBABILITIES, "FP32", classes));
        cJSON_AddItemToArray(out, tensor_meta(API_V2_LABEL, "INT64", 0));
    }
    return o;
}

void api_arch_io(const char *arch_json, int *width, int *classes) {
    cJSON *arch = arch_json ? cJSON_Parse(arch_json) : NULL;
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(arch, "layers");
    cJSON *last = layers ? cJSON_GetArrayItem(layers, cJSON_GetArraySize(layers) - 1) : NULL;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(arch, "inputs");
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(last, "units");
    /* The store wrote these; a non-number reads as 0 rather than casting a NaN. */
    *width = cJSON_IsNumber(in) ? in->valueint : 0;
    *classes = cJSON_IsNumber(units) ? units->valueint : 0;
    cJSON_Delete(arch);
}

char *api_v2_error_json(const char *msg) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", msg)) {
        cJSON_Delete(o);
        return NULL;
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
