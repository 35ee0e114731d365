/* v2_request_data.c - an input's data in the v2 inference request: the
 * JSON "data" array (the hot loop: compact "number," runs go straight into
 * one float block) and binary tensor data (v2_scan.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_float.h"
#include "v2_scan.h"

/* Room for one more value in r->x. */
static int reserve_value(v2_scan *s) {
    if (s->n_vals < s->cap) return 0;
    if (s->cap >= MAX_VALUES) return v2_bad(s, "input '" API_V2_INPUT "' has too many values");
    size_t cap = s->cap ? s->cap * 2 : 1024;
    float *x = realloc(s->r->x, cap * sizeof *x);
    if (!x) {
        api_problem_set(s->lx.prob, 500, "internal", NULL, "out of memory");
        return -1;
    }
    s->r->x = x;
    s->cap = cap;
    return 0;
}

/* The hot loop: a run of compact "number," pairs stored straight away, as
 * many as fit; stops before anything else, which the general step reads. */
static void compact_run(v2_scan *s) {
    const char *p = s->lx.p, *end = s->lx.end;
    float *x = s->r->x;
    size_t n = s->n_vals;
    while (n < s->cap && end - p >= API_JSON_FAST_FLOAT_ROOM) {
        const char *q;
        if (!api_json_fast_float_roomy(p, &x[n], &q) || *q != ',') break;
        n++;
        p = q + 1;
    }
    s->n_vals = n;
    s->lx.p = p;
}

/* One value of data: a number (stored) or a nested array. */
static int data_value(v2_scan *s, int depth);

static int ragged(v2_scan *s) {
    return v2_bad(s, "input '" API_V2_INPUT "' data is ragged: its nested lists must all have the "
                     "same length and hold numbers at the same depth");
}

/* Nested arrays of numbers at s->lx.p, flattened row-major into r->x. level
 * counts from 0 (data itself). The lists must form a regular block (as a
 * tensor's natural representation does, or any reshaping of it): numbers
 * only at one depth, and every list at a depth of one length; flattening
 * ragged lists would silently misalign the values. */
static int data_array(v2_scan *s, int level) {
    if (level >= DATA_MAX_DEPTH)
        return v2_bad(s, "input '" API_V2_INPUT "' data is nested more than %d lists deep",
                      DATA_MAX_DEPTH);
    int more = open_container(s, '[', ']', "'[' expected");
    if (more < 0) return -1;
    int64_t len = 0;
    int numbers = 0, lists = 0;
    if (more == 0) {
        do {
            if (peek(s) != '[') {
                size_t before = s->n_vals;
                compact_run(s);
                len += (int64_t)(s->n_vals - before);
                numbers |= s->n_vals != before;
            }
            if (peek(s) == '[')
                lists = 1;
            else
                numbers = 1;
            if (data_value(s, level + 1)) return -1;
            len++;
        } while ((more = next_item(s, ']', "',' or ']' expected")) == 1);
    }
    if (more < 0) return -1;
    if (numbers && lists) return ragged(s);
    if (numbers) {
        if (s->leaf_depth < 0) s->leaf_depth = level + 1;
        if (s->leaf_depth != level + 1) return ragged(s);
    }
    if (s->level_len[level] < 0) s->level_len[level] = len;
    return s->level_len[level] == len ? 0 : ragged(s);
}

static int data_value(v2_scan *s, int depth) {
    if (peek(s) == '[') return data_array(s, depth);
    if (peek(s) != '-' && !api_json_is_digit(peek(s))) {
        if (peek(s) == ']' || peek(s) == ',') /* "[1,]", "[,1]": JSON has no empty element */
            return api_json_scan_syntax_error(&s->lx, "a value expected");
        return v2_bad(s, "input '" API_V2_INPUT "' data must hold only numbers");
    }
    float f;
    const char *after;
    if (api_json_fast_float(s->lx.p, s->lx.end, &f, &after)) { /* the usual short decimal */
        s->lx.p = after;
    } else {
        double d;
        if (api_json_scan_number(&s->lx, &d, 1)) return -1;
        f = (float)d;
        if (!isfinite(f))
            return v2_bad(s, "input '" API_V2_INPUT "' data holds a value outside FP32's range");
    }
    if (reserve_value(s)) return -1;
    s->r->x[s->n_vals++] = f;
    return 0;
}

int v2_scan_data(v2_scan *s) {
    return data_array(s, 0);
}

/* Little-endian float32 values from bin into r->x. */
int v2_scan_binary(v2_scan *s, const unsigned char *bin, size_t count) {
    float *x = realloc(s->r->x, (count ? count : 1) * sizeof *x);
    if (!x) {
        api_problem_set(s->lx.prob, 500, "internal", NULL, "out of memory");
        return -1;
    }
    s->r->x = x;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = bin + 4 * i;
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&x[i], &u, sizeof u);
        if (!isfinite(x[i]))
            return v2_bad(s, "input '" API_V2_INPUT "' binary data holds a NaN or infinity");
    }
    return 0;
}
