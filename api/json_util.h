/* json_util.h - small helpers shared by the request decoders (train_request.c, predict_request.c).
 *
 * They keep the decoders' error reporting uniform: every refusal is an
 * api_problem whose pointer (RFC 6901) names the offending member.
 * Problem types used by the decoders:
 *   /problems/malformed-json   400  the body is not one JSON value
 *   /problems/invalid-field    422  unknown, duplicate, ill-typed or out-of-range member
 *   /problems/batch-too-large  413  more rows than the server accepts at once
 */
#ifndef MLPD_API_JSON_UTIL_H
#define MLPD_API_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "problem.h"

#define API_SLUG_MALFORMED "malformed-json"
#define API_SLUG_INVALID   "invalid-field"
#define API_SLUG_TOO_LARGE "batch-too-large"

/* Largest integer a double (and so a JSON number in most clients) holds exactly. */
/* The largest integer every JSON client holds exactly (RFC 7493 section 2.2,
 * I-JSON; JavaScript's Number.MAX_SAFE_INTEGER). 2^53 itself is out: a
 * double cannot tell it from 2^53 + 1, so "9007199254740993" would be read
 * as 2^53 and name another id. Ids and seeds beyond it are refused. */
#define API_JSON_MAX_SAFE_INT 9007199254740991.0 /* 2^53 - 1 */

/* Parse exactly one JSON value from json[0..len): only whitespace may follow it
 * (cJSON's own require_null_terminated check wants a NUL inside len, which an
 * HTTP body does not have, so the check is done here). Returns the tree (caller
 * frees with cJSON_Delete) or NULL with a 400 malformed-json problem naming the
 * byte offset. A body of only whitespace is malformed too. */
cJSON *api_json_parse(const char *json, size_t len, api_problem *prob);

/* dst = base + "/" + token escaped per RFC 6901 (~ -> ~0, / -> ~1), truncated
 * to fit cap bytes (always NUL-terminated). dst and base may not overlap.
 * The result may end in a cut UTF-8 sequence; api_problem_set repairs that. */
void api_json_pointer(char *dst, size_t cap, const char *base, const char *token);
/* dst = base + "/" + index. */
void api_json_pointer_index(char *dst, size_t cap, const char *base, long index);

/* A 422 for the \u0000 escape found at byte `at`; returns -1. No member
 * name or string value may hold U+0000: it would cut a C string short
 * ("mnist-digits\u0000../x" read as "mnist-digits"). */
int api_json_nul_problem(api_problem *prob, size_t at);

/* Results of the typed getters below. */
#define API_JSON_OK    0
#define API_JSON_TYPE  (-1) /* not of the expected JSON type */
#define API_JSON_RANGE (-2) /* right type, value outside [lo, hi] or not integral */

/* A JSON number that is a whole value in [lo, hi] (bounds inclusive, both
 * within +-(2^53 - 1)). 3.0 counts as 3; 3.5, 1e999 and NaN are refused. */
int api_json_get_int(const cJSON *v, double lo, double hi, int64_t *out);

/* Write f as the shortest decimal that reads back (strtod then cast to float)
 * as exactly f, e.g. 0.01f -> "0.01". buf needs 32 bytes. */
void api_json_format_float(char *buf, size_t cap, float f);

/* The members of object o against the names a decoder takes (known, NULL-
 * terminated): the first that is not one of them, or that repeats an earlier
 * member (cJSON keeps both; a lookup by name would silently take the first),
 * is a 422 at base/<name>: 'unknown field "x" (<expected>)' or 'field "x"
 * appears twice'. Returns 0 when each member is known and given once, else -1. */
int api_json_members_check(const cJSON *o, const char *base, const char *const known[],
                           const char *expected, api_problem *prob);

/* Refuse: fill prob with 422 invalid-field for `pointer`. A convenience over
 * api_problem_set that always returns -1 so decoders can `return` it. */
int api_json_invalid(api_problem *prob, const char *pointer, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* MLPD_API_JSON_UTIL_H */
