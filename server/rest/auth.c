/* auth.c - bearer tokens: loading, checking, constant-time comparison (auth.h). */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A token is visible ASCII only: it travels in a header and sits in a file. */
static int token_chars_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

/* Copy a validated token into out (cap AUTH_TOKEN_MAX + 1). 0 or -1. */
static int set_token(char *out, size_t *out_len, const char *tok, size_t n, const char *from,
                     char *err, size_t errlen) {
    if (n < AUTH_TOKEN_MIN || n > AUTH_TOKEN_MAX) {
        snprintf(err, errlen, "%s: a token must be %d..%d characters long (got %zu)", from,
                 AUTH_TOKEN_MIN, AUTH_TOKEN_MAX, n);
        return -1;
    }
    if (!token_chars_ok(tok, n)) {
        snprintf(err, errlen, "%s: a token may hold only visible ASCII characters", from);
        return -1;
    }
    memcpy(out, tok, n);
    out[n] = '\0';
    *out_len = n;
    return 0;
}

/* The first line of `path`, trailing blanks and line ends removed. */
static int read_token_file(const char *path, char *out, size_t *out_len, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[AUTH_TOKEN_MAX + 8];
    int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got) line[0] = '\0';
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                 line[n - 1] == '\t'))
        n--;
    char from[600];
    snprintf(from, sizeof from, "token file %s", path);
    return set_token(out, out_len, line, n, from, err, errlen);
}

/* One scope: the raw token (environment) or the file, not both. */
static int load_one(char *out, size_t *out_len, const char *raw, const char *file,
                    const char *raw_name, const char *file_name, char *err, size_t errlen) {
    *out_len = 0;
    out[0] = '\0';
    if (raw[0] && file[0]) {
        snprintf(err, errlen, "set %s or %s, not both", raw_name, file_name);
        return -1;
    }
    if (raw[0]) return set_token(out, out_len, raw, strlen(raw), raw_name, err, errlen);
    if (file[0]) return read_token_file(file, out, out_len, err, errlen);
    return 0;
}

static const char *or_empty(const char *s) {
    return s ? s : "";
}

int auth_keys_load(auth_keys *k, const auth_sources *src, char *err, size_t errlen) {
    memset(k, 0, sizeof *k);
    if (load_one(k->management, &k->management_len, or_empty(src->management_token),
                 or_empty(src->management_token_file), "MLPD_MANAGEMENT_TOKEN",
                 "--management-token-file", err, errlen) != 0 ||
        load_one(k->inference, &k->inference_len, or_empty(src->inference_token),
                 or_empty(src->inference_token_file), "MLPD_INFERENCE_TOKEN",
                 "--inference-token-file", err, errlen) != 0)
        return -1;
    if (k->management_len && k->management_len == k->inference_len &&
        !memcmp(k->management, k->inference, k->management_len)) {
        snprintf(err, errlen, "the management and inference tokens must differ");
        return -1;
    }
    return 0;
}

int auth_enabled(const auth_keys *k) {
    return k && (k->management_len || k->inference_len);
}

int auth_token_equal(const char *a, size_t alen, const char *b, size_t blen) {
    /* Walk the presented token (its length is no secret) and fold every
     * difference into one accumulator; b is indexed modulo its length so the
     * loop never reads past it. No early exit. */
    unsigned diff = (unsigned)(alen != blen);
    for (size_t i = 0; i < alen; i++) diff |= (unsigned char)a[i] ^ (unsigned char)b[i % blen];
    return diff == 0;
}

auth_result auth_check(const auth_keys *k, auth_scope scope, const char *authorization) {
    if (scope == AUTH_OPEN || !auth_enabled(k)) return AUTH_OK;
    if (!authorization) return AUTH_MISSING;
    const char *p = authorization;
    while (*p == ' ' || *p == '\t') p++;
    if (strncasecmp(p, "Bearer", 6) || (p[6] != ' ' && p[6] != '\t')) return AUTH_MISSING;
    p += 6;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    if (n == 0 || n > AUTH_TOKEN_MAX) return AUTH_INVALID;
    /* Compare with both configured tokens every time. */
    int is_mgmt = k->management_len && auth_token_equal(p, n, k->management, k->management_len);
    int is_infer = k->inference_len && auth_token_equal(p, n, k->inference, k->inference_len);
    if (!is_mgmt && !is_infer) return AUTH_INVALID;
    if (is_mgmt) return AUTH_OK; /* management covers every scope */
    return scope == AUTH_MANAGE ? AUTH_FORBIDDEN : AUTH_OK;
}

const char *auth_scope_name(auth_scope s) {
    switch (s) {
    case AUTH_OPEN: return "open";
    case AUTH_READ: return "read";
    case AUTH_INFER: return "inference";
    case AUTH_MANAGE: return "management";
    }
    return "?";
}
