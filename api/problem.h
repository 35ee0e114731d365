/* problem.h - RFC 9457 problem details, as every error of the REST API is reported.
 *
 * Body: {"type": "...", "title": "...", "status": N, "detail": "...",
 *        "pointer": "/field"}  (pointer only when a field is to blame),
 * served as application/problem+json. When several members of a body are to
 * blame (POST /train), "errors": [{"pointer", "detail"}, ...] lists them all
 * and detail/pointer repeat the first.
 */
#ifndef MLPD_API_PROBLEM_H
#define MLPD_API_PROBLEM_H

#define API_PROBLEM_MAX_ERRORS 8

typedef struct {
    int status;        /* HTTP status, 4xx/5xx */
    char type[96];     /* URI reference; "about:blank" or "/problems/<slug>" */
    char title[96];    /* short, the same for every problem of this type */
    char detail[320];  /* this occurrence, human-readable */
    char pointer[128]; /* JSON pointer of the offending field, "" if none */
    int n_errors;      /* entries of errors[]; written only when > 1 */
    struct {
        char pointer[128];
        char detail[320];
    } errors[API_PROBLEM_MAX_ERRORS];
} api_problem;

/* Fill *p: title follows the status (e.g. 422 "Unprocessable Content") unless
 * a slug-specific one applies; detail is printf-formatted. pointer may be NULL. */
void api_problem_set(api_problem *p, int status, const char *slug, const char *pointer,
                     const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

/* Serialise to a malloc'ed JSON string (caller frees). */
char *api_problem_to_json(const api_problem *p);

#endif /* MLPD_API_PROBLEM_H */
