/* json_util.c - parsing, JSON pointers and number checks for the decoders. */
#include "json_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int api_json_nul_problem(api_problem *prob, size_t at) {
    api_problem_set(prob, 422, API_SLUG_INVALID, NULL,
                    "a JSON string holds U+0000 (\\u0000 at byte %zu); no name or value may "
                    "contain NUL",
                    at);
    return -1;
}

/* Offset of the first \u0000 escape in the strings of json, a text cJSON
 * has accepted (so quotes and escapes pair up), or -1. */
static long find_nul_escape(const char *json, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            in_string = json[i] == '"';
        } else if (json[i] == '"') {
            in_string = 0;
        } else if (json[i] == '\\') {
            if (i + 5 < len && json[i + 1] == 'u' && !memcmp(json + i + 2, "0000", 4))
                return (long)i;
            i++; /* the escaped character */
        }
    }
    return -1;
}

/* Arrays and objects still open at byte `at` of json, strings skipped: a
 * valid body that cJSON refuses because it nests deeper than
 * CJSON_NESTING_LIMIT has that many open where cJSON stopped. */
static size_t open_depth(const char *json, size_t at) {
    size_t depth = 0;
    int in_string = 0;
    for (size_t i = 0; i < at; i++) {
        char c = json[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return depth;
}

cJSON *api_json_parse(const char *json, size_t len, api_problem *prob) {
    size_t lead = 0;
    while (lead < len && is_json_space(json[lead])) lead++;
    if (lead == len) {
        api_problem_set(prob, 400, API_SLUG_MALFORMED, NULL, "the request body is empty");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = (end && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        if (open_depth(json, at) >= CJSON_NESTING_LIMIT)
            api_problem_set(prob, 400, API_SLUG_MALFORMED, NULL,
                            "the body nests arrays and objects more than %d deep (at byte %zu)",
                            CJSON_NESTING_LIMIT, at);
        else
            api_problem_set(prob, 400, API_SLUG_MALFORMED, NULL,
                            "the body is not valid JSON (error near byte %zu)", at);
        return NULL;
    }
    size_t off = (size_t)(end - json);
    while (off < len && is_json_space(json[off])) off++;
    if (off != len) {
        cJSON_Delete(root);
        api_problem_set(prob, 400, API_SLUG_MALFORMED, NULL,
                        "unexpected data after the JSON value at byte %zu", off);
        return NULL;
    }
    /* A raw NUL byte ends the text cJSON reads: "{}\0..." must not pass as "{}". */
    const char *zero = memchr(json, '\0', len);
    if (zero) {
        cJSON_Delete(root);
        api_problem_set(prob, 400, API_SLUG_MALFORMED, NULL,
                        "the body is not valid JSON: a NUL byte at byte %zu",
                        (size_t)(zero - json));
        return NULL;
    }
    long nul = find_nul_escape(json, len);
    if (nul >= 0) {
        cJSON_Delete(root);
        api_json_nul_problem(prob, (size_t)nul);
        return NULL;
    }
    return root;
}

void api_json_pointer(char *dst, size_t cap, const char *base, const char *token) {
    if (cap == 0) return;
    size_t n = 0;
    for (const char *s = base; *s && n + 1 < cap; s++) dst[n++] = *s;
    if (n + 1 < cap) dst[n++] = '/';
    for (const char *s = token; *s; s++) {
        const char *rep = *s == '~' ? "~0" : *s == '/' ? "~1" : NULL;
        size_t need = rep ? 2 : 1;
        if (n + need >= cap) break;
        if (rep) {
            dst[n++] = rep[0];
            dst[n++] = rep[1];
        } else {
            dst[n++] = *s;
        }
    }
    dst[n] = '\0';
}

void api_json_pointer_index(char *dst, size_t cap, const char *base, long index) {
    char tok[24];
    snprintf(tok, sizeof tok, "%ld", index);
    api_json_pointer(dst, cap, base, tok);
}

int api_json_get_int(const cJSON *v, double lo, double hi, int64_t *out) {
    if (!cJSON_IsNumber(v)) return API_JSON_TYPE;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi) return API_JSON_RANGE;
    *out = (int64_t)d;
    return API_JSON_OK;
}

void api_json_format_float(char *buf, size_t cap, float f) {
    if (!isfinite(f)) { /* never produced by the decoders; keep the output JSON */
        snprintf(buf, cap, "null");
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) return;
    }
    /* 9 significant digits always round-trip a float; not reached. */
}

int api_json_members_check(const cJSON *o, const char *base, const char *const known[],
                           const char *expected, api_problem *prob) {
    for (const cJSON *m = o ? o->child : NULL; m; m = m->next) {
        const char *name = m->string ? m->string : "";
        char ptr[sizeof prob->pointer];
        api_json_pointer(ptr, sizeof ptr, base, name);
        size_t k = 0;
        while (known[k] && strcmp(known[k], name)) k++;
        if (!known[k])
            return api_json_invalid(prob, ptr, "unknown field \"%.64s\" (%s)", name, expected);
        for (const cJSON *e = o->child; e != m; e = e->next)
            if (!strcmp(e->string ? e->string : "", name))
                return api_json_invalid(prob, ptr, "field \"%.64s\" appears twice", name);
    }
    return 0;
}

int api_json_invalid(api_problem *prob, const char *pointer, const char *detail_fmt, ...) {
    char detail[sizeof prob->detail];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    api_problem_set(prob, 422, API_SLUG_INVALID, pointer, "%s", detail);
    return -1;
}
