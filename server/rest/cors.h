/* cors.h - cross-origin access for browsers (off unless origins are listed).
 *
 * --cors-origins / MLPD_CORS_ORIGINS is a comma-separated list of exact
 * origins ("https://dash.example:8443"): scheme http or https, a host, an
 * optional port, nothing after. No wildcards: a page on any other origin gets
 * no CORS headers, so the browser keeps the answer from it.
 *
 * For a request whose Origin is listed, every response (errors and event
 * streams included) carries Access-Control-Allow-Origin: <that origin>,
 * Access-Control-Expose-Headers: Location, Retry-After. Whenever CORS is on,
 * responses carry Vary: Origin (the answer depends on it).
 *
 * Preflight (OPTIONS with Origin): from a listed origin, 204 with
 * Access-Control-Allow-Methods (the path's methods), Access-Control-Allow-
 * Headers: Content-Type, Authorization, Last-Event-ID and
 * Access-Control-Max-Age: 600; from any other origin, 403 problem+json.
 */
#ifndef MLPD_CORS_H
#define MLPD_CORS_H

#include <stddef.h>

#include "http.h"

#define CORS_MAX_ORIGINS     16
#define CORS_ORIGIN_MAX      128 /* fits a response header value */
#define CORS_MAX_AGE_SECONDS 600
#define CORS_ALLOW_HEADERS   "Content-Type, Authorization, Last-Event-ID"
#define CORS_EXPOSE_HEADERS  "Location, Retry-After, X-Request-Id, Content-Disposition"

typedef struct cors_policy {
    int n; /* 0: CORS off */
    char origins[CORS_MAX_ORIGINS][CORS_ORIGIN_MAX];
} cors_policy;

/* Parse the list ("" or NULL: off). Blanks around entries are ignored.
 * Returns 0, or -1 with the reason in err (an entry that is not an origin,
 * "*", too many or too long entries). */
int cors_policy_parse(cors_policy *p, const char *list, char *err, size_t errlen);

/* Is CORS on? (NULL: no.) */
int cors_enabled(const cors_policy *p);

/* Is `origin` (NULL: none sent) one of the listed ones? Exact, case-sensitive
 * match as browsers serialise origins in lower case. */
int cors_origin_allowed(const cors_policy *p, const char *origin);

/* Add the headers every response gets (see above) for a request with this
 * Origin. Nothing when CORS is off. */
void cors_add_response_headers(const cors_policy *p, const char *origin, http_response *res);

/* Answer an OPTIONS request on a known path whose methods are `allow`
 * ("GET, HEAD, POST"): 204 with Allow, plus the preflight headers when the
 * origin is listed; 403 problem when an Origin is sent but not listed (or
 * CORS is off). A plain OPTIONS without Origin gets 204 with Allow only. */
void cors_reply_options(const cors_policy *p, const char *origin, const char *allow,
                        http_response *res);

#endif /* MLPD_CORS_H */
