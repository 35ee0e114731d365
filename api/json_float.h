/* json_float.h - the short-number fast path of the one-pass JSON decoders
 * (predict_request.c, v2_request.c): the common decimal -?int(.frac)? read
 * straight into a float, exactly as (float)strtod() rounds it, without
 * strtod. Anything else (exponents, long mantissas, malformed numbers) is
 * left to api_json_scan_number (json_scan.h), which also reports errors.
 * Static inline: these run once per value on the serving hot path.
 */
#ifndef MLPD_API_JSON_FLOAT_H
#define MLPD_API_JSON_FLOAT_H

#include <stdint.h>

#include "json_scan.h"

/* 10^-k as doubles (each the correctly rounded constant), k = 0..8. */
static const double api_json_pow10_inv[9] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8};

/* m / 10^k correctly rounded to float, for m < 2^24 and k <= 8.
 * Why a multiplication by the double 10^-k is enough: it is within 2^-52
 * relative of m / 10^k, i.e. closer than 2^(q-27) to it when the value is
 * near the float midpoint M * 2^q (M odd, 2^24 <= M < 2^25). A value
 * m / 10^k that is not that midpoint is at least 2^q / 10^k >= 2^(q-26.6)
 * away from it (m * 2^-q - M * 10^k is a nonzero integer), and it cannot be
 * a midpoint (M would divide m < 2^24). So the double lies on the same side
 * of every float midpoint as the exact value, and the cast gives the
 * correctly rounded float; so does (float)strtod() for the same reason (its
 * double is within half a unit of the value). */
static inline float api_json_decimal_to_float(uint32_t m, int k) {
    return (float)((double)m * api_json_pow10_inv[k]);
}

/* Bytes api_json_fast_float_roomy may look at: '-', 8 integer digits, '.', 8 fraction
 * digits and one more, and the byte after the number. */
#define API_JSON_FAST_FLOAT_ROOM 32

/* The common short number, -?int(.frac)?, straight to a float: at most 8
 * fraction digits and a digit string below 2^24 (7 significant digits), no
 * exponent; its float is exactly (float)strtod()'s (api_json_decimal_to_float).
 * Returns 1 with *v and *next set, or 0 (nothing consumed) for anything
 * else, which the general lexer then reads and, if malformed, reports: so
 * the JSON grammar is unchanged ("01", "1.", "-" fall through).
 * Precondition: API_JSON_FAST_FLOAT_ROOM bytes are readable at p, so no step checks
 * for the end (the number itself may be shorter: every read stops at the
 * first byte that does not belong to it). */
static inline int api_json_fast_float_roomy(const char *p, float *v, const char **next) {
    int neg = *p == '-';
    p += neg;
    if (!api_json_is_digit(*p)) return 0;
    uint32_t m = 0;
    int frac = 0;
    if (*p == '0') {
        p++;
        if (api_json_is_digit(*p)) return 0; /* leading zero: not JSON */
    } else {
        do { /* at most 8 digits: the 9th would make m >= 2^24 */
            m = m * 10u + (uint32_t)(*p++ - '0');
            if (m >= (1u << 24)) return 0;
        } while (api_json_is_digit(*p));
    }
    if (*p == '.') {
        p++;
        if (!api_json_is_digit(*p)) return 0;
        do { /* at most 9 fraction digits are read */
            m = m * 10u + (uint32_t)(*p++ - '0');
            if (m >= (1u << 24) || ++frac > 8) return 0;
        } while (api_json_is_digit(*p));
    }
    if (*p == 'e' || *p == 'E') return 0;
    float f = api_json_decimal_to_float(m, frac);
    *v = neg ? -f : f;
    *next = p;
    return 1;
}

/* api_json_fast_float_roomy near the end of the body: the same, checking every step. */
static inline int api_json_fast_float_tail(const char *p, const char *end, float *v,
                                           const char **next) {
    int neg = p < end && *p == '-';
    p += neg;
    if (p >= end || !api_json_is_digit(*p)) return 0;
    uint32_t m = 0;
    int frac = 0;
    if (*p == '0') {
        p++;
        if (p < end && api_json_is_digit(*p)) return 0; /* leading zero: not JSON */
    } else {
        for (; p < end && api_json_is_digit(*p); p++) {
            m = m * 10u + (uint32_t)(*p - '0');
            if (m >= (1u << 24)) return 0;
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !api_json_is_digit(*p)) return 0;
        for (; p < end && api_json_is_digit(*p); p++) {
            m = m * 10u + (uint32_t)(*p - '0');
            if (m >= (1u << 24) || ++frac > 8) return 0;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) return 0;
    float f = api_json_decimal_to_float(m, frac);
    *v = neg ? -f : f;
    *next = p;
    return 1;
}

static inline int api_json_fast_float(const char *p, const char *end, float *v, const char **next) {
    return end - p >= API_JSON_FAST_FLOAT_ROOM ? api_json_fast_float_roomy(p, v, next)
                                               : api_json_fast_float_tail(p, end, v, next);
}

#endif /* MLPD_API_JSON_FLOAT_H */
