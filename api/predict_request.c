/* predict_request.c - decode and validate the POST /predict body.
 *
 * The body is on the serving hot path and is mostly numbers (784 per MNIST
 * row), so it is read in one pass with the strict lexer of json_scan.h
 * instead of building a cJSON tree: numbers go straight into one float block
 * and nothing is allocated per value.
 *
 * The whole body's syntax is always checked, so malformed JSON is 400 even
 * when an earlier member was already found wrong; otherwise the first problem
 * in document order is reported (422, or 413 for too many rows).
 */
#include "predict_request.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_float.h"
#include "json_scan.h"
#include "json_util.h"
#include "mlp.h"

typedef struct {
    api_json_scan lx; /* position in the body; lx.prob is also where content problems go */
    int failed;       /* a 4xx is recorded in *prob; from now on only syntax is checked */
    float *x;         /* values stored so far (row-major) */
    size_t n_vals, cap;
} scanner;

/* ---- errors -------------------------------------------------------------------- */

/* A problem with the content: keep the first one, go on checking syntax. */
static void content_error(scanner *s, int status, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void content_error(scanner *s, int status, const char *pointer, const char *fmt, ...) {
    if (s->failed) return;
    s->failed = 1;
    char detail[sizeof s->lx.prob->detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    api_problem_set(s->lx.prob, status, status == 413 ? API_SLUG_TOO_LARGE : API_SLUG_INVALID,
                    pointer, "%s", detail);
}

static inline int is_json_ws(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* ---- the predict shape ------------------------------------------------------------- */

static int grow(scanner *s) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    float *x = realloc(s->x, cap * sizeof *x);
    if (!x) {
        api_problem_set(s->lx.prob, 500, NULL, NULL, "out of memory");
        return -1;
    }
    s->x = x;
    s->cap = cap;
    return 0;
}

/* Whether the n (16 or 32) bytes at p are those of pattern: eight zeros in
 * a row, an image's background, are stored at once. */
_Static_assert(API_JSON_FAST_FLOAT_ROOM >= 32, "a run of eight zeros is read in the room");
static int same_bytes(const char *p, const char *pattern, size_t n) {
    uint64_t a[4], b[4], diff = 0;
    memcpy(a, p, n);
    memcpy(b, pattern, n);
    for (size_t i = 0; i < n / 8; i++) diff |= a[i] ^ b[i];
    return diff == 0;
}

/* The hot loop of a row: store the values of a run of "number," pairs that
 * api_json_fast_float_roomy reads (the usual compact body), as many as fit in the
 * buffer and in MLP_MAX_INPUT given the n values of the row already read.
 * Stops before anything else (the row's last value, a blank, a longer
 * number, the body's last API_JSON_FAST_FLOAT_ROOM bytes), which scan_row's general
 * step then reads. Returns the count stored; s->lx.p is past the last ','. */
static int store_compact_run(scanner *s, int n) {
    size_t room = s->cap - s->n_vals;
    if (room > (size_t)(MLP_MAX_INPUT - n)) room = (size_t)(MLP_MAX_INPUT - n);
    if (room == 0) return 0; /* also: no buffer yet (the general step makes it) */
    float *dst = s->x + s->n_vals;
    const char *p = s->lx.p, *end = s->lx.end;
    size_t k = 0;
    uint32_t zero_comma;
    memcpy(&zero_comma, "0.0,", 4);
    while (k < room && end - p >= API_JSON_FAST_FLOAT_ROOM) {
        float v;
        const char *q;
        uint32_t word;
        memcpy(&word, p, 4);
        /* "0.0," (Python's json) and "0," (JavaScript's JSON.stringify): most
         * pixels of an image are 0, so they skip even api_json_fast_float_roomy,
         * eight at a time in a run. */
        if (word == zero_comma) {
            if (room - k >= 8 && same_bytes(p, "0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,", 32)) {
                memset(dst + k, 0, 8 * sizeof *dst);
                k += 8;
                p += 32;
                continue;
            }
            dst[k++] = 0.0f;
            p += 4;
            continue;
        }
        if (p[0] == '0' && p[1] == ',') {
            if (room - k >= 8 && same_bytes(p, "0,0,0,0,0,0,0,0,", 16)) {
                memset(dst + k, 0, 8 * sizeof *dst);
                k += 8;
                p += 16;
                continue;
            }
            dst[k++] = 0.0f;
            p += 2;
            continue;
        }
        if (!api_json_fast_float_roomy(p, &v, &q) || *q != ',') break;
        dst[k++] = v;
        p = q + 1;
    }
    s->n_vals += k;
    s->lx.p = p;
    return (int)k;
}

/* A row: an array of numbers at s->lx.p. Values are stored while `store` holds
 * and nothing has failed. *width receives the count of elements. `base` names
 * the row for errors ("/input" or "/inputs/3"). */
static int scan_row(scanner *s, const char *base, int store, int *width) {
    char ptr[sizeof s->lx.prob->pointer];
    int n = 0;
    s->lx.p++; /* '[' */
    api_json_scan_ws(&s->lx);
    if (s->lx.p < s->lx.end && *s->lx.p == ']') {
        s->lx.p++;
        *width = 0;
        content_error(s, 422, base, "must hold at least one number");
        return 0;
    }
    for (;;) {
        if (store && !s->failed) {
            n += store_compact_run(s, n);
            if (s->lx.p < s->lx.end && is_json_ws(*s->lx.p)) api_json_scan_ws(&s->lx);
        }
        if (s->lx.p < s->lx.end && (*s->lx.p == '-' || api_json_is_digit(*s->lx.p))) {
            float v;
            const char *after;
            if (api_json_fast_float(s->lx.p, s->lx.end, &v, &after)) {
                s->lx.p = after; /* always finite: below 2^24 */
            } else {
                double d;
                if (api_json_scan_number(&s->lx, &d, 1)) return -1;
                v = (float)d;
                if (!isfinite(v) && !s->failed) {
                    api_json_pointer_index(ptr, sizeof ptr, base, n);
                    content_error(s, 422, ptr, "value is not a finite 32-bit float");
                }
            }
            if (n == MLP_MAX_INPUT)
                content_error(s, 422, base, "holds more than %d numbers", MLP_MAX_INPUT);
            if (store && !s->failed) {
                if (s->n_vals == s->cap && grow(s)) return -1;
                s->x[s->n_vals++] = v;
            }
        } else {
            if (!s->failed) {
                api_json_pointer_index(ptr, sizeof ptr, base, n);
                content_error(s, 422, ptr, "value must be a number");
            }
            if (api_json_scan_skip(&s->lx, 3)) return -1;
        }
        n++;
        /* Compact JSON has no blanks here: test for ',' before calling the lexer. */
        if (s->lx.p < s->lx.end && *s->lx.p != ',' && is_json_ws(*s->lx.p))
            api_json_scan_ws(&s->lx);
        if (s->lx.p < s->lx.end && *s->lx.p == ',') {
            s->lx.p++;
            if (s->lx.p < s->lx.end && is_json_ws(*s->lx.p)) api_json_scan_ws(&s->lx);
            continue;
        }
        if (s->lx.p < s->lx.end && *s->lx.p == ']') {
            s->lx.p++;
            *width = n;
            return 0;
        }
        return api_json_scan_syntax_error(&s->lx, "',' or ']' expected");
    }
}

/* "inputs": an array of rows, at most max_batch of them, all of one width. */
static int scan_batch(scanner *s, int max_batch, int *rows, int *width) {
    char ptr[sizeof s->lx.prob->pointer];
    int n = 0, w0 = 0;
    s->lx.p++; /* '[' */
    api_json_scan_ws(&s->lx);
    if (s->lx.p < s->lx.end && *s->lx.p == ']') {
        s->lx.p++;
        content_error(s, 422, "/inputs", "inputs must hold at least one row");
        return 0;
    }
    for (;;) {
        if (n == max_batch)
            content_error(s, 413, "/inputs",
                          "inputs holds more than %d rows; at most %d are "
                          "accepted per request",
                          max_batch, max_batch);
        api_json_pointer_index(ptr, sizeof ptr, "/inputs", n);
        if (s->lx.p < s->lx.end && *s->lx.p == '[') {
            int w;
            if (scan_row(s, ptr, 1, &w)) return -1;
            if (n == 0)
                w0 = w;
            else if (w != w0 && w > 0)
                content_error(s, 422, ptr, "row %d has %d values but row 0 has %d", n, w, w0);
        } else {
            content_error(s, 422, ptr, "must be an array of numbers");
            if (api_json_scan_skip(&s->lx, 2)) return -1;
        }
        n++;
        api_json_scan_ws(&s->lx);
        if (s->lx.p < s->lx.end && *s->lx.p == ',') {
            s->lx.p++;
            api_json_scan_ws(&s->lx);
            continue;
        }
        if (s->lx.p < s->lx.end && *s->lx.p == ']') {
            s->lx.p++;
            *rows = n;
            *width = w0;
            return 0;
        }
        return api_json_scan_syntax_error(&s->lx, "',' or ']' expected");
    }
}

static int scan_model(scanner *s, api_predict_request *out) {
    if (s->lx.p < s->lx.end && *s->lx.p == 'n') return api_json_scan_literal(&s->lx, "null");
    if (s->lx.p < s->lx.end && *s->lx.p == '"') {
        char text[2 * API_NAME_MAX + 4];
        int cut = 0;
        if (api_json_scan_string(&s->lx, text, sizeof text, &cut)) return -1;
        if (!cut && api_model_ref_parse(text, &out->ref) == 0) {
            out->has_ref = 1;
            return 0;
        }
        content_error(s, 422, "/model",
                      "model must be a model id or \"name\", \"name@alias\" or "
                      "\"name/version\" (a name is a letter then up to 63 of A-Z a-z 0-9 . _ -)");
        return 0;
    }
    if (s->lx.p < s->lx.end && (*s->lx.p == '-' || api_json_is_digit(*s->lx.p))) {
        double d;
        if (api_json_scan_number(&s->lx, &d, 0)) return -1;
        if (isfinite(d) && d == floor(d) && d >= 0 && d <= API_JSON_MAX_SAFE_INT) {
            out->model_id = (int64_t)d;
            return 0;
        }
    } else if (api_json_scan_skip(&s->lx, 1)) {
        return -1;
    }
    content_error(s, 422, "/model",
                  "model must be a model id (integer >= 0; 0 or null for the "
                  "latest) or a name reference (\"name\", \"name@alias\", \"name/version\")");
    return 0;
}

/* "precision": "float32", "bf16" or "int8" (whether the model serves it is
 * the route's check). */
static int scan_precision(scanner *s, api_predict_request *out) {
    if (s->lx.p < s->lx.end && *s->lx.p == '"') {
        char text[16];
        int cut = 0;
        mlp_precision p;
        if (api_json_scan_string(&s->lx, text, sizeof text, &cut)) return -1;
        if (!cut && mlp_precision_from_name(text, &p) == 0) {
            out->precision = (int)p;
            return 0;
        }
    } else if (api_json_scan_skip(&s->lx, 1)) {
        return -1;
    }
    content_error(s, 422, "/precision", "precision must be \"float32\", \"bf16\" or \"int8\"");
    return 0;
}

static int scan_body(scanner *s, int max_batch, api_predict_request *out) {
    api_json_scan_ws(&s->lx);
    if (s->lx.p >= s->lx.end) {
        api_problem_set(s->lx.prob, 400, API_SLUG_MALFORMED, NULL, "the request body is empty");
        return -1;
    }
    if (*s->lx.p != '{') {
        if (api_json_scan_skip(&s->lx, 0)) return -1;
        content_error(s, 422, "", "the body must be a JSON object");
        return 0;
    }
    s->lx.p++;
    api_json_scan_ws(&s->lx);
    int seen_model = 0, seen_input = 0, seen_inputs = 0, seen_precision = 0;
    int empty = s->lx.p < s->lx.end && *s->lx.p == '}';
    if (empty) s->lx.p++;
    while (!empty) {
        char key[72], ptr[sizeof s->lx.prob->pointer];
        int cut;
        if (s->lx.p >= s->lx.end || *s->lx.p != '"')
            return api_json_scan_syntax_error(&s->lx, "member name expected");
        if (api_json_scan_string(&s->lx, key, sizeof key, &cut)) return -1;
        api_json_scan_ws(&s->lx);
        if (s->lx.p >= s->lx.end || *s->lx.p != ':')
            return api_json_scan_syntax_error(&s->lx, "':' expected");
        s->lx.p++;
        api_json_scan_ws(&s->lx);
        int *seen = cut                         ? NULL
                    : !strcmp(key, "model")     ? &seen_model
                    : !strcmp(key, "input")     ? &seen_input
                    : !strcmp(key, "inputs")    ? &seen_inputs
                    : !strcmp(key, "precision") ? &seen_precision
                                                : NULL;
        api_json_pointer(ptr, sizeof ptr, "", key);
        if (!seen) {
            content_error(s, 422, ptr,
                          "unknown field \"%.64s\" (expected model, input, inputs or precision)",
                          key);
            if (api_json_scan_skip(&s->lx, 1)) return -1;
        } else if (*seen) {
            content_error(s, 422, ptr, "field \"%s\" appears twice", key);
            if (api_json_scan_skip(&s->lx, 1)) return -1;
        } else if (seen == &seen_model) {
            *seen = 1;
            if (scan_model(s, out)) return -1;
        } else if (seen == &seen_precision) {
            *seen = 1;
            if (scan_precision(s, out)) return -1;
        } else if ((seen == &seen_input && seen_inputs) || (seen == &seen_inputs && seen_input)) {
            *seen = 1;
            content_error(s, 422, ptr, "give either input (one row) or inputs (a batch), not both");
            if (api_json_scan_skip(&s->lx, 1)) return -1;
        } else if (s->lx.p < s->lx.end && *s->lx.p == '[') {
            *seen = 1;
            if (seen == &seen_input) {
                int w;
                if (scan_row(s, "/input", 1, &w)) return -1;
                out->n = 1;
                out->width = w;
            } else {
                if (scan_batch(s, max_batch, &out->n, &out->width)) return -1;
                out->batch_form = 1;
            }
        } else {
            *seen = 1;
            content_error(s, 422, ptr,
                          seen == &seen_input ? "input must be an array of numbers"
                                              : "inputs must be an array of rows");
            if (api_json_scan_skip(&s->lx, 1)) return -1;
        }
        api_json_scan_ws(&s->lx);
        if (s->lx.p < s->lx.end && *s->lx.p == ',') {
            s->lx.p++;
            api_json_scan_ws(&s->lx);
            continue;
        }
        if (s->lx.p < s->lx.end && *s->lx.p == '}') {
            s->lx.p++;
            break;
        }
        return api_json_scan_syntax_error(&s->lx, "',' or '}' expected");
    }
    if (!seen_input && !seen_inputs)
        content_error(s, 422, "/input", "input (one row) or inputs (a batch of rows) is required");
    return 0;
}

int api_predict_request_decode(const char *json, size_t len, int max_batch,
                               api_predict_request *out, api_problem *prob) {
    memset(out, 0, sizeof *out);
    out->precision = -1;
    if (max_batch < 1) max_batch = API_PREDICT_MAX_BATCH_DEFAULT;
    scanner s = {.lx = {.p = json, .end = json + len, .start = json, .prob = prob}};
    int rc = scan_body(&s, max_batch, out);
    if (rc == 0) {
        api_json_scan_ws(&s.lx);
        if (s.lx.p != s.lx.end) {
            api_problem_set(prob, 400, API_SLUG_MALFORMED, NULL,
                            "unexpected data after the JSON value at byte %zu",
                            (size_t)(s.lx.p - s.lx.start));
            rc = -1;
        }
    }
    if (rc == 0 && s.failed) rc = -1;
    if (rc) {
        free(s.x);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->x = s.x;
    return 0;
}

void api_predict_request_free(api_predict_request *r) {
    if (!r) return;
    free(r->x);
    memset(r, 0, sizeof *r);
}
