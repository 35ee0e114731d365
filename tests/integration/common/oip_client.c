/* oip_client.c - the protocol documents' client (oip_client.h). */
#include "oip_client.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int violation(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "protocol violation: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return -1;
}

/* ---- building a request ($inference_request) ---------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void add(sbuf *b, const void *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void addf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    add(b, tmp, (size_t)n);
}

static void add_outputs(sbuf *b, const oip_request *q) {
    if (q->n_outputs == 0) return;
    add(b, ",\"outputs\":[", 12);
    for (int i = 0; i < q->n_outputs; i++) {
        addf(b, "%s{\"name\":\"%s\",\"parameters\":{", i ? "," : "", q->output_names[i]);
        int any = 0;
        if (q->output_binary[i] >= 0) {
            addf(b, "\"binary_data\":%s", q->output_binary[i] ? "true" : "false");
            any = 1;
        }
        if (q->classification[i] > 0)
            addf(b, "%s\"classification\":%d", any ? "," : "", q->classification[i]);
        add(b, "}}", 2);
    }
    add(b, "]", 1);
}

/* The JSON header; *binary (malloc'ed) the bytes after it, or NULL. */
static char *build(const float *x, int rows, int width, const oip_request *q, size_t *json_len,
                   unsigned char **binary, size_t *bin_len) {
    sbuf b = {0};
    add(&b, "{", 1);
    if (q->id) addf(&b, "\"id\":\"%s\",", q->id);
    if (q->binary_data_output) add(&b, "\"parameters\":{\"binary_data_output\":true},", 41);
    addf(&b, "\"inputs\":[{\"name\":\"input\",\"shape\":[%d,%d],\"datatype\":\"%s\"", rows, width,
         q->datatype ? q->datatype : "FP32");
    size_t n = (size_t)rows * (size_t)width;
    *binary = NULL;
    *bin_len = 0;
    if (q->binary_input) {
        addf(&b, ",\"parameters\":{\"binary_data_size\":%lld}}]",
             (long long)(n * 4) + (long long)q->size_delta);
        *binary = malloc(n * 4 + 1);
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            unsigned char *o = *binary + 4 * i;
            o[0] = (unsigned char)u;
            o[1] = (unsigned char)(u >> 8);
            o[2] = (unsigned char)(u >> 16);
            o[3] = (unsigned char)(u >> 24);
        }
        *bin_len = n * 4;
    } else {
        add(&b, ",\"data\":[", 9);
        for (int r = 0; r < rows; r++) {
            if (q->nested) addf(&b, "%s[", r ? "," : "");
            for (int c = 0; c < width; c++)
                addf(&b, "%s%.9g", (c || (r && !q->nested)) ? "," : "",
                     (double)x[(size_t)r * width + c]);
            if (q->nested) add(&b, "]", 1);
        }
        add(&b, "]}]", 3);
    }
    add_outputs(&b, q);
    add(&b, "}", 1);
    *json_len = b.len;
    return b.p;
}

/* ---- reading an answer ($inference_response) ---------------------------------------- */

static size_t elem_size(const char *dt) {
    static const struct {
        const char *name;
        size_t size;
    } types[] = {{"BOOL", 1}, {"UINT8", 1}, {"UINT16", 2}, {"UINT32", 4}, {"UINT64", 8},
                 {"INT8", 1}, {"INT16", 2}, {"INT32", 4},  {"INT64", 8},  {"FP16", 2},
                 {"FP32", 4}, {"FP64", 8},  {"BYTES", 0}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].name, dt)) return types[i].size;
    return (size_t)-1;
}

static int flatten(const cJSON *v, oip_tensor *t, size_t *n) {
    for (const cJSON *e = v->child; e; e = e->next) {
        if (cJSON_IsArray(e)) {
            if (flatten(e, t, n)) return -1;
            continue;
        }
        if (*n >= t->count) return violation("output %s: more data than its shape", t->name);
        if (!strcmp(t->datatype, "BYTES")) {
            if (!cJSON_IsString(e)) return violation("output %s: BYTES data not strings", t->name);
            t->str[(*n)++] = strdup(e->valuestring);
        } else {
            if (!cJSON_IsNumber(e)) return violation("output %s: data not numbers", t->name);
            t->num[(*n)++] = e->valuedouble;
        }
    }
    return 0;
}

/* Binary tensor data of t from bin (at *off, of bin_len bytes). */
static int read_binary(oip_tensor *t, const unsigned char *bin, size_t bin_len, size_t *off,
                       int64_t size) {
    if (size < 0 || *off + (size_t)size > bin_len)
        return violation("output %s: binary_data_size %lld beyond the body", t->name,
                         (long long)size);
    const unsigned char *p = bin + *off, *end = p + size;
    size_t es = elem_size(t->datatype);
    if (es && (size_t)size != t->count * es)
        return violation("output %s: binary_data_size %lld for %zu %s values", t->name,
                         (long long)size, t->count, t->datatype);
    for (size_t i = 0; i < t->count; i++) {
        if (!es) { /* BYTES: 4-byte little-endian length, then the bytes */
            if (end - p < 4) return violation("output %s: BYTES element cut", t->name);
            uint32_t len = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
            p += 4;
            if ((size_t)(end - p) < len) return violation("output %s: BYTES element cut", t->name);
            t->str[i] = strndup((const char *)p, len);
            p += len;
        } else if (!strcmp(t->datatype, "FP32")) {
            uint32_t u = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
            float f;
            memcpy(&f, &u, 4);
            t->num[i] = f;
            p += 4;
        } else if (!strcmp(t->datatype, "INT64")) {
            uint64_t u = 0;
            for (int k = 7; k >= 0; k--) u = u << 8 | p[k];
            t->num[i] = (double)(int64_t)u;
            p += 8;
        } else {
            return violation("output %s: this client reads FP32, INT64, BYTES only", t->name);
        }
    }
    if (p != end) return violation("output %s: binary data longer than its values", t->name);
    *off += (size_t)size;
    t->was_binary = 1;
    return 0;
}

static int read_output(const cJSON *o, oip_tensor *t, const unsigned char *bin, size_t bin_len,
                       size_t *off) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "parameters");
    if (!cJSON_IsString(name) || !cJSON_IsString(dt) || !cJSON_IsArray(shape))
        return violation("$response_output needs name, datatype and shape");
    snprintf(t->name, sizeof t->name, "%s", name->valuestring);
    snprintf(t->datatype, sizeof t->datatype, "%s", dt->valuestring);
    if (elem_size(t->datatype) == (size_t)-1) return violation("unknown datatype %s", t->datatype);
    t->count = 1;
    for (const cJSON *d = shape->child; d; d = d->next) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble != floor(d->valuedouble) ||
            t->rank == 8)
            return violation("output %s: bad shape", t->name);
        t->shape[t->rank++] = (int64_t)d->valuedouble;
        t->count *= (size_t)d->valuedouble;
    }
    t->num = calloc(t->count + 1, sizeof *t->num);
    t->str = calloc(t->count + 1, sizeof *t->str);
    const cJSON *bsize =
        params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_size") : NULL;
    if (bsize) {
        if (data) return violation("output %s: both data and binary_data_size", t->name);
        if (!cJSON_IsNumber(bsize)) return violation("binary_data_size is not a number");
        return read_binary(t, bin, bin_len, off, (int64_t)bsize->valuedouble);
    }
    if (!cJSON_IsArray(data)) return violation("output %s: no data", t->name);
    size_t n = 0;
    if (flatten(data, t, &n)) return -1;
    if (n != t->count)
        return violation("output %s: %zu values for shape of %zu", t->name, n, t->count);
    return 0;
}

static int read_response(const http_result *r, oip_response *out) {
    char hl[32] = "";
    size_t json_len = r->len;
    if (http_result_header(r, "Inference-Header-Content-Length", hl, sizeof hl) == 0) {
        char *end;
        long long v = strtoll(hl, &end, 10);
        if (*end || v <= 0 || (size_t)v > r->len)
            return violation("Inference-Header-Content-Length %s for a body of %zu", hl, r->len);
        json_len = (size_t)v;
        out->binary = 1;
    }
    cJSON *j = cJSON_ParseWithLength(r->body, json_len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return violation("the answer's JSON header is not an object");
    }
    int rc = 0;
    if (out->status != 200) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (!cJSON_IsString(e))
            rc = violation("error answer %ld without an error string", out->status);
        else
            snprintf(out->error, sizeof out->error, "%s", e->valuestring);
        cJSON_Delete(j);
        return rc;
    }
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(j, "model_name");
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(j, "model_version");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(j, "outputs");
    if (!cJSON_IsString(mn) || !cJSON_IsArray(outputs) || (mv && !cJSON_IsString(mv)) ||
        (id && !cJSON_IsString(id)))
        rc = violation(
            "$inference_response: model_name, outputs (and model_version, id as strings)");
    if (rc == 0) {
        snprintf(out->model_name, sizeof out->model_name, "%s", mn->valuestring);
        if ((out->has_version = mv != NULL))
            snprintf(out->model_version, sizeof out->model_version, "%s", mv->valuestring);
        if ((out->has_id = id != NULL)) snprintf(out->id, sizeof out->id, "%s", id->valuestring);
        size_t off = 0;
        const unsigned char *bin = (const unsigned char *)r->body + json_len;
        for (const cJSON *o = outputs->child; o && rc == 0; o = o->next) {
            if (out->n_outputs == OIP_MAX_TENSORS)
                rc = violation("too many outputs");
            else
                rc = read_output(o, &out->outputs[out->n_outputs++], bin, r->len - json_len, &off);
        }
        if (rc == 0 && off != r->len - json_len)
            rc = violation("%zu bytes of binary data but the outputs claim %zu", r->len - json_len,
                           off);
    }
    cJSON_Delete(j);
    return rc;
}

int oip_infer(const mlpd_daemon *d, const char *path, const float *x, int rows, int width,
              const oip_request *q, oip_response *out) {
    memset(out, 0, sizeof *out);
    size_t json_len, bin_len;
    unsigned char *bin;
    char *json = build(x, rows, width, q, &json_len, &bin, &bin_len);
    size_t total = json_len + bin_len;
    char *body = malloc(total + 1);
    memcpy(body, json, json_len);
    if (bin_len) memcpy(body + json_len, bin, bin_len);
    free(json);
    free(bin);
    char hl[96];
    const char *lines[3] = {"Content-Type: application/json", NULL, NULL};
    if (bin_len || q->header_delta) {
        lines[0] = "Content-Type: application/octet-stream";
        snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %lld",
                 (long long)json_len + q->header_delta);
        lines[1] = hl;
    }
    http_result r;
    int rc = http_do_lines(d, "POST", path, body, total, lines, 0, &r);
    free(body);
    if (rc != 0) return -1;
    out->status = r.status;
    rc = read_response(&r, out);
    if (rc) fprintf(stderr, "answer (%ld): %.300s\n", r.status, r.body);
    http_result_free(&r);
    return rc;
}

void oip_response_free(oip_response *r) {
    for (int i = 0; i < r->n_outputs; i++) {
        oip_tensor *t = &r->outputs[i];
        for (size_t k = 0; t->str && k < t->count; k++) free(t->str[k]);
        free(t->str);
        free(t->num);
    }
    memset(r, 0, sizeof *r);
}

const oip_tensor *oip_output(const oip_response *r, const char *name) {
    for (int i = 0; i < r->n_outputs; i++)
        if (!strcmp(r->outputs[i].name, name)) return &r->outputs[i];
    return NULL;
}
