/* v2_scan.h - the state of the v2 inference request decoder and the small
 * lexing steps its two files share (v2_request.c reads the request's
 * members, v2_request_data.c an input's data, JSON or binary). Private to
 * those files: the contract is v2_infer.h. */
#ifndef MLPD_API_V2_SCAN_H
#define MLPD_API_V2_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "json_scan.h"
#include "v2_infer.h"

/* Values of one input, at most this many (a 64 MiB float tensor). */
#define MAX_VALUES (16 * 1024 * 1024)
/* Lists nested deeper than this in an input's data are refused. */
#define DATA_MAX_DEPTH 32

/* The decoder's state: the lexer, the request being filled, and what the
 * body said so far (checked once it is read). */
typedef struct {
    api_json_scan lx;
    api_v2_request *r;
    int max_rows;
    /* what the body said, checked once it is read */
    int seen_inputs, seen_outputs, seen_params, binary_out;
    int n_inputs;
    char in_name[72], in_dtype[24];
    int in_seen_name, in_seen_dtype, in_seen_shape, in_seen_params, in_seen_data;
    int64_t dims[8];
    int rank;
    int has_bsize;
    int64_t bsize;
    size_t n_vals, cap;
    /* data's regularity: the depth numbers sit at (-1 until seen) and the
     * length of the lists at each depth below data (-1 until seen) */
    int leaf_depth;
    int64_t level_len[DATA_MAX_DEPTH];
    int n_out_objs;
    struct {
        char name[72];
        int binary; /* -1: unset */
        int classification;
        int seen_name, seen_params, seen_binary, seen_class;
    } outs[2];
    int seen_binary_out, seen_precision;
} v2_scan;

/* A 400 invalid-inference-request with the formatted detail; returns -1. */
int v2_bad(v2_scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The input's "data" array at s->lx.p, flattened row-major into r->x
 * (s->n_vals values; regular nesting only). 0 or -1. */
int v2_scan_data(v2_scan *s);

/* count little-endian float32 values from bin into r->x (finite only). 0 or -1. */
int v2_scan_binary(v2_scan *s, const unsigned char *bin, size_t count);

static inline char peek(v2_scan *s) {
    return s->lx.p < s->lx.end ? *s->lx.p : '\0';
}

static inline int expect(v2_scan *s, char c, const char *what) {
    api_json_scan_ws(&s->lx);
    if (peek(s) != c) return api_json_scan_syntax_error(&s->lx, what);
    s->lx.p++;
    api_json_scan_ws(&s->lx);
    return 0;
}

/* The opening bracket `open` and the blanks after it: 1 when `close`
 * follows at once (an empty container, consumed), 0 when items follow, -1
 * on a syntax error. */
static inline int open_container(v2_scan *s, char open, char close, const char *what) {
    if (expect(s, open, what)) return -1;
    if (peek(s) != close) return 0;
    s->lx.p++;
    return 1;
}

/* What follows an item: 1 for ',' (another item follows), 0 for `close`
 * (the container ended), both consumed; -1 on anything else. */
static inline int next_item(v2_scan *s, char close, const char *what) {
    api_json_scan_ws(&s->lx);
    if (peek(s) == close) {
        s->lx.p++;
        return 0;
    }
    if (peek(s) != ',') return api_json_scan_syntax_error(&s->lx, what);
    s->lx.p++;
    api_json_scan_ws(&s->lx);
    return 1;
}

#endif /* MLPD_API_V2_SCAN_H */
