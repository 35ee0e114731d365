/* auth.h - bearer tokens for the daemon's routes.
 *
 * Two optional secrets: a management token (train, cancel, upload, delete)
 * and an inference token (POST /predict). Each route has a scope (router.c):
 *
 *   AUTH_OPEN    never checked: /healthz, /readyz, /openapi.yaml, the dashboard's files
 *   AUTH_READ    GET of jobs, models, data sets, /metrics: either token
 *   AUTH_INFER   POST /predict: the inference or the management token
 *   AUTH_MANAGE  everything that changes state: the management token only
 *
 * With no token configured every route is open (the loopback default). Once
 * either token is set, every scope but AUTH_OPEN needs a valid token; a scope
 * whose own token is not set is then reachable only through the management
 * token (fail closed: setting only an inference token locks management).
 *
 * Tokens come from MLPD_MANAGEMENT_TOKEN / MLPD_INFERENCE_TOKEN or from files
 * (--management-token-file, alias --token-file, and --inference-token-file,
 * or MLPD_*_TOKEN_FILE); a file holds the token on its first line. A token is
 * 16..256 visible ASCII characters. Comparison takes time independent of
 * where the presented token differs.
 */
#ifndef MLPD_AUTH_H
#define MLPD_AUTH_H

#include <stddef.h>

#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 256

typedef enum { AUTH_OPEN = 0, AUTH_READ, AUTH_INFER, AUTH_MANAGE } auth_scope;

typedef enum {
    AUTH_OK = 0,   /* let it through */
    AUTH_MISSING,  /* 401: no Authorization: Bearer header */
    AUTH_INVALID,  /* 401: a token that is neither of the configured ones */
    AUTH_FORBIDDEN /* 403: a valid token of a scope that does not cover the route */
} auth_result;

typedef struct auth_keys {
    char management[AUTH_TOKEN_MAX + 1];
    size_t management_len; /* 0: not configured */
    char inference[AUTH_TOKEN_MAX + 1];
    size_t inference_len; /* 0: not configured */
} auth_keys;

/* Where the tokens come from: a raw token (from the environment) or a token
 * file per scope; "" or NULL when not given. Strings are borrowed. */
typedef struct auth_sources {
    const char *management_token, *management_token_file;
    const char *inference_token, *inference_token_file;
} auth_sources;

/* Fill k from src. Returns 0, or -1 with a reason in err (unreadable file, a
 * token too short or too long or with spaces/control characters, both a token
 * and a file given for one scope, the same token for both scopes). */
int auth_keys_load(auth_keys *k, const auth_sources *src, char *err, size_t errlen);

/* Is any token configured? (NULL: no.) */
int auth_enabled(const auth_keys *k);

/* May a request with this Authorization header value (NULL when absent) use
 * a route of `scope`? k may be NULL (no tokens). */
auth_result auth_check(const auth_keys *k, auth_scope scope, const char *authorization);

/* 1 when a[0..alen) equals b[0..blen); blen > 0. Runs over all of a whatever
 * the contents, so the time reveals neither b nor where a differs. */
int auth_token_equal(const char *a, size_t alen, const char *b, size_t blen);

/* "open", "read", "inference", "management". */
const char *auth_scope_name(auth_scope s);

#endif /* MLPD_AUTH_H */
