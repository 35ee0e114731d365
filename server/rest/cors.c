/* cors.c - the allowed-origin list and the CORS headers (cors.h). */
#include "cors.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* "http(s)://host[:port]" with host = [a-z0-9.-]+ or a bracketed IPv6
 * literal; s (length n) is lower-cased already. */
static int origin_syntax_ok(const char *s, size_t n) {
    size_t skip;
    if (n > 7 && !strncmp(s, "http://", 7))
        skip = 7;
    else if (n > 8 && !strncmp(s, "https://", 8))
        skip = 8;
    else
        return 0;
    const char *h = s + skip, *end = s + n;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close || close == h + 1) return 0;
        for (const char *c = h + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') return 0;
        h = close + 1;
    } else {
        const char *start = h;
        while (h < end &&
               (islower((unsigned char)*h) || isdigit((unsigned char)*h) || *h == '.' || *h == '-'))
            h++;
        if (h == start) return 0;
    }
    if (h == end) return 1;
    if (*h != ':' || h + 1 == end || end - (h + 1) > 5) return 0;
    for (h++; h < end; h++)
        if (!isdigit((unsigned char)*h)) return 0;
    return 1;
}

int cors_policy_parse(cors_policy *p, const char *list, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    if (!list) return 0;
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ",");
        const char *a = s, *b = s + len;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        size_t n = (size_t)(b - a);
        s += len;
        if (*s == ',') s++;
        if (n == 0) continue;
        if (n >= CORS_ORIGIN_MAX) {
            snprintf(err, errlen, "--cors-origins: an origin is longer than %d characters",
                     CORS_ORIGIN_MAX - 1);
            return -1;
        }
        if (p->n == CORS_MAX_ORIGINS) {
            snprintf(err, errlen, "--cors-origins: at most %d origins", CORS_MAX_ORIGINS);
            return -1;
        }
        char *o = p->origins[p->n];
        for (size_t i = 0; i < n; i++) o[i] = (char)tolower((unsigned char)a[i]);
        o[n] = '\0';
        if (!origin_syntax_ok(o, n)) {
            snprintf(err, errlen,
                     "--cors-origins: '%.*s' is not an origin such as https://host:8443 "
                     "(exact origins only, no '*', no path)",
                     (int)n, a);
            memset(p, 0, sizeof *p);
            return -1;
        }
        p->n++;
    }
    return 0;
}

int cors_enabled(const cors_policy *p) {
    return p && p->n > 0;
}

int cors_origin_allowed(const cors_policy *p, const char *origin) {
    if (!cors_enabled(p) || !origin) return 0;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->origins[i], origin)) return 1;
    return 0;
}

void cors_add_response_headers(const cors_policy *p, const char *origin, http_response *res) {
    if (!cors_enabled(p)) return;
    http_add_vary(res, "Origin");
    if (!cors_origin_allowed(p, origin)) return;
    http_set_header(res, "Access-Control-Allow-Origin", "%s", origin);
    http_set_header(res, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

void cors_reply_options(const cors_policy *p, const char *origin, const char *allow,
                        http_response *res) {
    if (origin && !cors_origin_allowed(p, origin)) {
        http_reply_problem(res, 403, "origin-not-allowed", NULL,
                           "origin '%.120s' may not call this API from a browser (see "
                           "--cors-origins)",
                           origin);
        return;
    }
    http_reply_take(res, 204, NULL, NULL, 0);
    http_set_header(res, "Allow", "%s, OPTIONS", allow);
    if (!origin) return;
    http_set_header(res, "Access-Control-Allow-Methods", "%s", allow);
    http_set_header(res, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
    http_set_header(res, "Access-Control-Max-Age", "%d", CORS_MAX_AGE_SECONDS);
}
