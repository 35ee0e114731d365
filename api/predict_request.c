/* predict_request.c - decode and validate the POST /predict body.
 *
 * The body is on the serving hot path and is mostly numbers (784 per MNIST
 * row), so it is read by a single-pass scanner written for this one shape
 * instead of building a cJSON tree: numbers go straight into one float block,
 * nothing is allocated per value, and most numbers are converted without
 * strtod (see scan_number).
 *
 * The scanner accepts exactly RFC 8259 JSON (no leading zeros, no "1.",
 * no NaN, whitespace = space, tab, CR, LF; nesting up to 1000 levels, as
 * cJSON). It always checks the whole body's syntax, so malformed JSON is 400
 * even when an earlier member was already found wrong; otherwise the first
 * problem in document order is reported (422, or 413 for too many rows).
 */
#include "predict_request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "mlp.h"

#define MAX_DEPTH 1000

typedef struct {
    const char *p, *end, *start;
    api_problem *prob;
    int failed;        /* a 4xx is recorded in *prob; from now on only syntax is checked */
    float *x;          /* values stored so far (row-major) */
    size_t n_vals, cap;
} scanner;

/* ---- errors -------------------------------------------------------------------- */

/* Malformed JSON: stop at once (it overrides any problem found earlier). */
static int syntax_error(scanner *s, const char *what) {
    api_problem_set(s->prob, 400, API_SLUG_MALFORMED, NULL,
                    "the body is not valid JSON: %s at byte %zu", what,
                    (size_t)(s->p - s->start));
    return -1;
}

/* A problem with the content: keep the first one, go on checking syntax. */
static void content_error(scanner *s, int status, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void content_error(scanner *s, int status, const char *pointer, const char *fmt, ...) {
    if (s->failed) return;
    s->failed = 1;
    char detail[sizeof s->prob->detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    api_problem_set(s->prob, status, status == 413 ? API_SLUG_TOO_LARGE : API_SLUG_INVALID,
                    pointer, "%s", detail);
}

/* ---- lexical pieces ---------------------------------------------------------------- */

static void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* A string at s->p (the opening quote). Its UTF-8 text goes to buf (cut to
 * cap - 1 bytes, *cut set) when buf is not NULL. Surrogate escapes must pair,
 * as cJSON requires. */
static int scan_string(scanner *s, char *buf, size_t cap, int *cut) {
    size_t n = 0;
    if (cut) *cut = 0;
    s->p++; /* opening quote */
    for (;;) {
        if (s->p >= s->end) return syntax_error(s, "unterminated string");
        unsigned char c = (unsigned char)*s->p;
        char enc[4];
        size_t enc_len = 1;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c < 0x20) return syntax_error(s, "control character in a string");
        if (c != '\\') {
            enc[0] = (char)c;
            s->p++;
        } else {
            if (s->end - s->p < 2) return syntax_error(s, "unterminated escape");
            char e = s->p[1];
            s->p += 2;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != 'u') {
                if (!e || !simple) return syntax_error(s, "invalid escape");
                enc[0] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            } else {
                unsigned cp, lo;
                if (s->end - s->p < 4 || hex4(s->p, &cp)) return syntax_error(s, "invalid \\u escape");
                s->p += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return syntax_error(s, "lone low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                        hex4(s->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return syntax_error(s, "unpaired surrogate");
                    s->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp < 0x80) {
                    enc[0] = (char)cp;
                } else if (cp < 0x800) {
                    enc[0] = (char)(0xC0 | (cp >> 6));
                    enc[1] = (char)(0x80 | (cp & 0x3F));
                    enc_len = 2;
                } else if (cp < 0x10000) {
                    enc[0] = (char)(0xE0 | (cp >> 12));
                    enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    enc[2] = (char)(0x80 | (cp & 0x3F));
                    enc_len = 3;
                } else {
                    enc[0] = (char)(0xF0 | (cp >> 18));
                    enc[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    enc[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    enc[3] = (char)(0x80 | (cp & 0x3F));
                    enc_len = 4;
                }
            }
        }
        if (buf) {
            if (n + enc_len < cap) {
                memcpy(buf + n, enc, enc_len);
                n += enc_len;
            } else if (cut) {
                *cut = 1;
            }
        }
    }
    if (buf && cap) buf[n] = '\0';
    return 0;
}

/* Exact powers of ten as doubles (10^22 is the largest a double holds exactly). */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Whether every double within 16 units in the last place of d rounds to the
 * same float as d: d is a normal float's magnitude and its bits below float
 * precision are not near the halfway pattern (float midpoints are doubles). */
static int float_rounding_is_clear(double d) {
    double a = fabs(d);
    if (!(a >= 0x1p-125 && a <= 0x1p127)) return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t low = bits & ((UINT64_C(1) << 29) - 1), half = UINT64_C(1) << 28;
    return (low > half ? low - half : half - low) > 16;
}

/* A JSON number at s->p into *out.
 * - Exact path (Clinger): at most 15 significant digits (an exact double) and
 *   a decimal exponent within +-22 (an exact power): one multiplication or
 *   division rounds exactly as strtod does. Values such as 0.5 or 0.25098 and
 *   every id take it.
 * - With for_float, longer mantissas (0.12156862745098039, what JavaScript
 *   prints for 31/255) are converted with two roundings (error < 2 units of
 *   the double), which gives the float strtod-then-cast gives unless the value
 *   lies next to a float rounding boundary (float_rounding_is_clear).
 * - Anything else goes to strtod. */
static int scan_number(scanner *s, double *out, int for_float) {
    const char *p = s->p, *end = s->end, *begin = s->p;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    uint64_t m = 0;
    int digits = 0, exp10 = 0, exact = 1;
    if (p >= end || !is_digit(*p)) {
        s->p = p;
        return syntax_error(s, "invalid number");
    }
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && is_digit(*p); p++) {
            if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                digits++;
            } else {
                exp10++;
                exact = 0;
            }
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) {
            s->p = p;
            return syntax_error(s, "invalid number");
        }
        for (; p < end && is_digit(*p); p++) {
            if (m == 0 && *p == '0') { /* leading zeros of 0.000x are not significant */
                exp10--;
            } else if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                digits++;
                exp10--;
            } else {
                exact = 0;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || !is_digit(*p)) {
            s->p = p;
            return syntax_error(s, "invalid exponent");
        }
        for (; p < end && is_digit(*p); p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }
    s->p = p;
    if (exp10 >= -22 && exp10 <= 22 && (m == 0 || (exact && digits <= 15) || for_float)) {
        double d = (double)m;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        if (m == 0 || (exact && digits <= 15) || float_rounding_is_clear(d)) {
            *out = neg ? -d : d;
            return 0;
        }
    }
    /* strtod needs a NUL-terminated copy: the body may end right after the number. */
    char small[64];
    size_t len = (size_t)(p - begin);
    char *tok = len < sizeof small ? small : malloc(len + 1);
    if (!tok) {
        api_problem_set(s->prob, 500, NULL, NULL, "out of memory");
        return -1;
    }
    memcpy(tok, begin, len);
    tok[len] = '\0';
    *out = strtod(tok, NULL);
    if (tok != small) free(tok);
    return 0;
}

static int scan_literal(scanner *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n)) return syntax_error(s, "invalid literal");
    s->p += n;
    return 0;
}

/* Any JSON value, checked and discarded. depth counts the arrays and objects
 * around it; like cJSON, at most MAX_DEPTH may nest. */
static int skip_value(scanner *s, int depth) {
    if (s->p >= s->end) return syntax_error(s, "value expected");
    double ignored;
    switch (*s->p) {
    case '"': return scan_string(s, NULL, 0, NULL);
    case 't': return scan_literal(s, "true");
    case 'f': return scan_literal(s, "false");
    case 'n': return scan_literal(s, "null");
    case '[':
    case '{': {
        if (depth >= MAX_DEPTH) return syntax_error(s, "nested too deeply");
        char close = *s->p == '[' ? ']' : '}';
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (close == '}') {
                if (s->p >= s->end || *s->p != '"') return syntax_error(s, "member name expected");
                if (scan_string(s, NULL, 0, NULL)) return -1;
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':') return syntax_error(s, "':' expected");
                s->p++;
                skip_ws(s);
            }
            if (skip_value(s, depth + 1)) return -1;
            skip_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                skip_ws(s);
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                return 0;
            }
            return syntax_error(s, close == ']' ? "',' or ']' expected" : "',' or '}' expected");
        }
    }
    default:
        if (*s->p == '-' || is_digit(*s->p)) return scan_number(s, &ignored, 0);
        return syntax_error(s, "value expected");
    }
}

/* ---- the predict shape ------------------------------------------------------------- */

static int grow(scanner *s) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    float *x = realloc(s->x, cap * sizeof *x);
    if (!x) {
        api_problem_set(s->prob, 500, NULL, NULL, "out of memory");
        return -1;
    }
    s->x = x;
    s->cap = cap;
    return 0;
}

/* A row: an array of numbers at s->p. Values are stored while `store` holds
 * and nothing has failed. *width receives the count of elements. `base` names
 * the row for errors ("/input" or "/inputs/3"). */
static int scan_row(scanner *s, const char *base, int store, int *width) {
    char ptr[sizeof s->prob->pointer];
    int n = 0;
    s->p++; /* '[' */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        *width = 0;
        content_error(s, 422, base, "must hold at least one number");
        return 0;
    }
    for (;;) {
        if (s->p < s->end && (*s->p == '-' || is_digit(*s->p))) {
            double d;
            if (scan_number(s, &d, 1)) return -1;
            float v = (float)d;
            if (!isfinite(v) && !s->failed) {
                api_json_pointer_index(ptr, sizeof ptr, base, n);
                content_error(s, 422, ptr, "value is not a finite 32-bit float");
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
            if (skip_value(s, 3)) return -1;
        }
        n++;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            *width = n;
            return 0;
        }
        return syntax_error(s, "',' or ']' expected");
    }
}

/* "inputs": an array of rows, at most max_batch of them, all of one width. */
static int scan_batch(scanner *s, int max_batch, int *rows, int *width) {
    char ptr[sizeof s->prob->pointer];
    int n = 0, w0 = 0;
    s->p++; /* '[' */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        content_error(s, 422, "/inputs", "inputs must hold at least one row");
        return 0;
    }
    for (;;) {
        if (n == max_batch)
            content_error(s, 413, "/inputs", "inputs holds more than %d rows; at most %d are "
                                             "accepted per request", max_batch, max_batch);
        api_json_pointer_index(ptr, sizeof ptr, "/inputs", n);
        if (s->p < s->end && *s->p == '[') {
            int w;
            if (scan_row(s, ptr, 1, &w)) return -1;
            if (n == 0) w0 = w;
            else if (w != w0 && w > 0)
                content_error(s, 422, ptr, "row %d has %d values but row 0 has %d", n, w, w0);
        } else {
            content_error(s, 422, ptr, "must be an array of numbers");
            if (skip_value(s, 2)) return -1;
        }
        n++;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            *rows = n;
            *width = w0;
            return 0;
        }
        return syntax_error(s, "',' or ']' expected");
    }
}

static int scan_model(scanner *s, api_predict_request *out) {
    if (s->p < s->end && *s->p == 'n') return scan_literal(s, "null");
    if (s->p < s->end && (*s->p == '-' || is_digit(*s->p))) {
        double d;
        if (scan_number(s, &d, 0)) return -1;
        if (isfinite(d) && d == floor(d) && d >= 0 && d <= API_JSON_MAX_SAFE_INT) {
            out->model_id = (int64_t)d;
            return 0;
        }
    } else if (skip_value(s, 1)) {
        return -1;
    }
    content_error(s, 422, "/model", "model must be a model id (integer >= 0; 0 or null for the "
                                    "latest)");
    return 0;
}

static int scan_body(scanner *s, int max_batch, api_predict_request *out) {
    skip_ws(s);
    if (s->p >= s->end) {
        api_problem_set(s->prob, 400, API_SLUG_MALFORMED, NULL, "the request body is empty");
        return -1;
    }
    if (*s->p != '{') {
        if (skip_value(s, 0)) return -1;
        content_error(s, 422, "", "the body must be a JSON object");
        return 0;
    }
    s->p++;
    skip_ws(s);
    int seen_model = 0, seen_input = 0, seen_inputs = 0;
    int empty = s->p < s->end && *s->p == '}';
    if (empty) s->p++;
    while (!empty) {
        char key[72], ptr[sizeof s->prob->pointer];
        int cut;
        if (s->p >= s->end || *s->p != '"') return syntax_error(s, "member name expected");
        if (scan_string(s, key, sizeof key, &cut)) return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return syntax_error(s, "':' expected");
        s->p++;
        skip_ws(s);
        int *seen = cut ? NULL
                        : !strcmp(key, "model")  ? &seen_model
                        : !strcmp(key, "input")  ? &seen_input
                        : !strcmp(key, "inputs") ? &seen_inputs
                                                 : NULL;
        api_json_pointer(ptr, sizeof ptr, "", key);
        if (!seen) {
            content_error(s, 422, ptr, "unknown field \"%.64s\" (expected model, input or inputs)",
                          key);
            if (skip_value(s, 1)) return -1;
        } else if (*seen) {
            content_error(s, 422, ptr, "field \"%s\" appears twice", key);
            if (skip_value(s, 1)) return -1;
        } else if (seen == &seen_model) {
            *seen = 1;
            if (scan_model(s, out)) return -1;
        } else if ((seen == &seen_input && seen_inputs) || (seen == &seen_inputs && seen_input)) {
            *seen = 1;
            content_error(s, 422, ptr, "give either input (one row) or inputs (a batch), not both");
            if (skip_value(s, 1)) return -1;
        } else if (s->p < s->end && *s->p == '[') {
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
            content_error(s, 422, ptr, seen == &seen_input ? "input must be an array of numbers"
                                                           : "inputs must be an array of rows");
            if (skip_value(s, 1)) return -1;
        }
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            break;
        }
        return syntax_error(s, "',' or '}' expected");
    }
    if (!seen_input && !seen_inputs)
        content_error(s, 422, "/input", "input (one row) or inputs (a batch of rows) is required");
    return 0;
}

int api_predict_request_decode(const char *json, size_t len, int max_batch,
                               api_predict_request *out, api_problem *prob) {
    memset(out, 0, sizeof *out);
    if (max_batch < 1) max_batch = API_PREDICT_MAX_BATCH_DEFAULT;
    scanner s = {.p = json, .end = json + len, .start = json, .prob = prob};
    int rc = scan_body(&s, max_batch, out);
    if (rc == 0) {
        skip_ws(&s);
        if (s.p != s.end) {
            api_problem_set(prob, 400, API_SLUG_MALFORMED, NULL,
                            "unexpected data after the JSON value at byte %zu",
                            (size_t)(s.p - s.start));
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
