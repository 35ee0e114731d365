/* encode_predict.c - the PredictResponse body (api_encode_predictions) and
 * the number formatter it uses. Kept apart from encode.c's cJSON builders
 * because it is on the serving hot path: every POST /predict ends here, so
 * the answer is written as text into one buffer, the probabilities without
 * printf (see encode.h for the contracts). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

/* 10^k, k = 0..12, all exact doubles. */
static const double pow10_12[13] = {1e0, 1e1, 1e2, 1e3,  1e4,  1e5, 1e6,
                                    1e7, 1e8, 1e9, 1e10, 1e11, 1e12};

/* Decade bounds 10^e, e = -4..9 (index e + 4), for finding v's decade. */
static const double decade[14] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2,
                                  1e3,  1e4,  1e5,  1e6,  1e7, 1e8, 1e9};

/* v (finite, |v| in [1e-4, 1e9)) as snprintf's "%.9g" writes it, into out;
 * returns the length, or 0 when v is outside that range or the digits do not
 * come out as 9 (the caller then uses snprintf).
 * Why integer arithmetic gives printf's digits: with 10^e <= |v| < 10^(e+1)
 * and e >= -4, |v| * 10^(8-e) is exact in a double (24 mantissa bits times
 * 5^(8-e) < 2^28), so rounding it to an integer half-to-even rounds the exact
 * value as glibc's printf does. 9 significant digits read back (strtof) as
 * the same float. */
static size_t format_float_9g(char *out, float v) {
    double a = fabs((double)v);
    if (!(a >= 1e-4 && a < 1e9)) return 0;
    int e = -4; /* 10^e <= a: from the small end, since probabilities are < 1 */
    while (e < 8 && a >= decade[e + 5]) e++;
    double scaled = a * pow10_12[8 - e];
    uint64_t d = (uint64_t)scaled;
    double rest = scaled - (double)d;
    if (rest > 0.5 || (rest == 0.5 && (d & 1))) d++;
    if (d == 1000000000u) { /* rounded up to the next power of ten */
        d = 100000000u;
        e++;
    }
    if (d < 100000000u || d >= 1000000000u || e > 8) return 0;
    char dig[9];
    for (int i = 8; i >= 0; i--, d /= 10) dig[i] = (char)('0' + d % 10);
    int nd = 9; /* significant digits kept: %g drops trailing zeros */
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    size_t n = 0;
    if (v < 0) out[n++] = '-';
    if (e < 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = 0; i < -e - 1; i++) out[n++] = '0';
        for (int i = 0; i < nd; i++) out[n++] = dig[i];
    } else {
        for (int i = 0; i <= e; i++) out[n++] = dig[i];
        if (nd > e + 1) {
            out[n++] = '.';
            for (int i = e + 1; i < nd; i++) out[n++] = dig[i];
        }
    }
    out[n] = '\0';
    return n;
}

size_t api_format_probability(char *out, float v) {
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    if (v == 0) {
        const char *z = signbit(v) ? "-0" : "0";
        size_t n = strlen(z);
        memcpy(out, z, n + 1);
        return n;
    }
    size_t n = format_float_9g(out, v);
    if (n) return n;
    int k = snprintf(out, API_PROBABILITY_MAX, "%.9g", (double)v);
    return k > 0 ? (size_t)k : 0;
}

/* Decimal digits of v at out (no terminator); returns their count. */
static size_t format_int(char *out, int64_t v) {
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) out[len++] = '-';
    while (n) out[len++] = tmp[--n];
    return len;
}

/* s as a JSON string literal (quotes included) at out, escaped as cJSON
 * prints strings: '"', '\\' and \b \f \n \r \t by their short escapes, the
 * other control characters as \u00XX, every other byte as it is. out needs
 * 6 * strlen(s) + 2 bytes. Returns the length written. */
static size_t put_json_string(char *out, const char *s) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            out[n++] = esc[0];
            out[n++] = esc[1];
        } else if (*p < 0x20) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[*p >> 4];
            out[n + 5] = hex[*p & 15];
            n += 6;
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    return n;
}

/* Appends the literal string s (no NUL) at out + *n. */
#define PUT_LIT(out, n, s) (memcpy((out) + (n), (s), sizeof(s) - 1), (n) += sizeof(s) - 1)

/* One prediction {"label":L,"class_name":"C","probabilities":[...]} at out;
 * returns its length. */
static size_t put_prediction(char *out, int label, int classes, const float *probs,
                             const char *name) {
    size_t n = 0;
    PUT_LIT(out, n, "{\"label\":");
    n += format_int(out + n, label);
    if (name) { /* checked when stored: no character JSON would escape */
        size_t len = strlen(name);
        PUT_LIT(out, n, ",\"class_name\":\"");
        memcpy(out + n, name, len);
        n += len;
        out[n++] = '"';
    }
    PUT_LIT(out, n, ",\"probabilities\":[");
    for (int k = 0; k < classes; k++) {
        if (k) out[n++] = ',';
        n += api_format_probability(out + n, probs[k]);
    }
    out[n++] = ']';
    out[n++] = '}';
    return n;
}

/* The class name row i's label names, or NULL. */
static const char *label_name(char *const *class_names, int classes, int label) {
    return class_names && label >= 0 && label < classes ? class_names[label] : NULL;
}

/* Written straight into one buffer sized for the worst case up front: one
 * allocation per answer, no tree and no printf. */
char *api_encode_predictions(const api_predictions *p, size_t *len) {
    const char *src = p->model_name && p->model_name[0] ? p->model_name : NULL;
    size_t row = 64 + (size_t)p->classes * (API_PROBABILITY_MAX + 1);
    size_t cap = 128 + (src ? 6 * strlen(src) : 0);
    for (int i = 0; i < p->n; i++) {
        const char *name = label_name(p->class_names, p->classes, p->labels[i]);
        cap += row + (name ? strlen(name) : 0);
    }
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = 0;
    PUT_LIT(out, n, "{\"model\":");
    n += format_int(out + n, p->model_id);
    PUT_LIT(out, n, ",\"predictions\":[");
    for (int i = 0; i < p->n; i++) {
        if (i) out[n++] = ',';
        n += put_prediction(out + n, p->labels[i], p->classes,
                            p->probs + (size_t)i * (size_t)p->classes,
                            label_name(p->class_names, p->classes, p->labels[i]));
    }
    out[n++] = ']';
    if (src) {
        PUT_LIT(out, n, ",\"model_name\":");
        n += put_json_string(out + n, src);
        PUT_LIT(out, n, ",\"model_version\":");
        n += format_int(out + n, p->model_version);
    }
    if (p->canary) PUT_LIT(out, n, ",\"canary\":true");
    out[n++] = '}';
    out[n] = '\0';
    *len = n;
    return out;
}
