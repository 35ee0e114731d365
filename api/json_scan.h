/* json_scan.h - a strict JSON lexer for decoders that read a body in one pass
 * without building a tree (predict_request.c, where a body is mostly numbers).
 *
 * It accepts exactly RFC 8259 JSON: no leading zeros, no "1.", no NaN, no
 * comments; whitespace is space, tab, CR, LF; at most API_JSON_MAX_DEPTH arrays
 * and objects nest (cJSON's limit). It never reads outside [start, end) and
 * allocates only for a number longer than 63 characters.
 *
 * Every function looks at s->p, advances it past what it read and returns 0,
 * or returns -1 with a 400 malformed-json problem in *s->prob naming the byte
 * offset (or a 500 when out of memory). A string holding U+0000 (\u0000) is
 * valid JSON but refused with a 422 (api_json_nul_problem): every name and
 * value ends up in a C string, which would end at the NUL.
 */
#ifndef MLPD_API_JSON_SCAN_H
#define MLPD_API_JSON_SCAN_H

#include <stddef.h>

#include "problem.h"

#define API_JSON_MAX_DEPTH 1000

typedef struct {
    const char *p;     /* next byte to read */
    const char *end;   /* one past the last byte */
    const char *start; /* the body's first byte (for offsets in messages) */
    api_problem *prob; /* where a syntax error is described */
} api_json_scan;

static inline int api_json_is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Fill *s->prob with a 400 "what at byte N"; always returns -1. */
int api_json_scan_syntax_error(api_json_scan *s, const char *what);

/* Skip JSON whitespace (never fails). */
void api_json_scan_ws(api_json_scan *s);

/* A string (s->p at its opening quote). With buf, its UTF-8 text is written
 * there, cut to cap - 1 bytes (then *cut = 1; cut may be NULL). Escapes are
 * decoded; surrogate escapes must pair; raw control characters are refused. */
int api_json_scan_string(api_json_scan *s, char *buf, size_t cap, int *cut);

/* A number into *out, rounded as strtod rounds it. With for_float, the result
 * is only promised to give the same float as (float)strtod (which lets most
 * 16-19 digit mantissas skip strtod); ids and other doubles pass 0. */
int api_json_scan_number(api_json_scan *s, double *out, int for_float);

/* Exactly the bytes of `word` ("true", "false", "null"). */
int api_json_scan_literal(api_json_scan *s, const char *word);

/* Any value, checked and discarded; depth counts the arrays and objects
 * already open around it. */
int api_json_scan_skip(api_json_scan *s, int depth);

#endif /* MLPD_API_JSON_SCAN_H */
