/* encode_predict.c - the PredictResponse body (api_encode_predictions) and
 * the number formatter it uses. Kept apart from encode.c's cJSON builders
 * because it is on the serving hot path: every POST /predict ends here, so
 * the probabilities are written without printf and each row is one raw
 * cJSON item (see encode.h for the contracts). */
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

/* One prediction {"label":L,"probabilities":[...]} as JSON text in a raw
 * cJSON item: one allocation per row instead of one per value, and no
 * printf (cJSON prints raw items verbatim). */
static cJSON *prediction_raw(int label, int classes, const float *probs, const char *name) {
    static const char head[] = "{\"label\":", mid[] = ",\"probabilities\":[",
                      named[] = ",\"class_name\":\"";
    size_t name_len = name ? strlen(name) : 0;
    size_t cap = sizeof head + sizeof mid + 24 + (size_t)classes * (API_PROBABILITY_MAX + 1) + 4 +
                 (name ? sizeof named + name_len + 1 : 0);
    char stackbuf[1024];
    char *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!buf) return NULL;
    size_t n = 0;
    memcpy(buf + n, head, sizeof head - 1);
    n += sizeof head - 1;
    n += format_int(buf + n, label);
    if (name) { /* checked when stored: no character JSON would escape */
        memcpy(buf + n, named, sizeof named - 1);
        n += sizeof named - 1;
        memcpy(buf + n, name, name_len);
        n += name_len;
        buf[n++] = '"';
    }
    memcpy(buf + n, mid, sizeof mid - 1);
    n += sizeof mid - 1;
    for (int k = 0; k < classes; k++) {
        if (k) buf[n++] = ',';
        n += api_format_probability(buf + n, probs[k]);
    }
    buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
    cJSON *item = cJSON_CreateRaw(buf);
    if (buf != stackbuf) free(buf);
    return item;
}

/* The tree holds "model" and each prediction as raw JSON text: it prints as
 * PredictResponse, but its predictions are not cJSON objects to walk. */
cJSON *api_encode_predictions(int64_t model_id, int n, int classes, const float *probs,
                              const int *labels, char *const *class_names) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char id[24];
    id[format_int(id, model_id)] = '\0';
    cJSON *arr = NULL;
    if (!cJSON_AddRawToObject(o, "model", id) ||
        !(arr = cJSON_AddArrayToObject(o, "predictions"))) {
        cJSON_Delete(o);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const char *name =
            class_names && labels[i] >= 0 && labels[i] < classes ? class_names[labels[i]] : NULL;
        cJSON *p = prediction_raw(labels[i], classes, probs + (size_t)i * classes, name);
        if (!p) { /* out of memory: no half answer */
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(arr, p);
    }
    return o;
}
