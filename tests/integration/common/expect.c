/* expect.c - cmocka assertions over the integration harness (see expect.h). */
#include "expect.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

cJSON *expect_json(const mlpd_daemon *d, const char *path, long want) {
    http_result r;
    assert_int_equal(http_get(d, path, &r), 0);
    if (r.status != want)
        fprintf(stderr, "GET %s -> %ld (want %ld): %s\n", path, r.status, want, r.body);
    assert_int_equal(r.status, want);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(j);
    return j;
}

long request_status(const mlpd_daemon *d, const char *method, const char *path, const char *ctype,
                    const void *body, size_t len, const char *header) {
    http_result r;
    assert_int_equal(http_do(d, method, path, ctype, body, len, header, 0, &r), 0);
    long status = r.status;
    http_result_free(&r);
    return status;
}

cJSON *expect_problem(const mlpd_daemon *d, const char *method, const char *path, const char *ctype,
                      const void *body, size_t len, const char *header, long status,
                      http_result *keep) {
    http_result r;
    assert_int_equal(http_do(d, method, path, ctype, body, len, header, 0, &r), 0);
    if (r.status != status)
        fprintf(stderr, "%s %s -> %ld (want %ld): %s\n", method, path, r.status, status, r.body);
    assert_int_equal(r.status, status);
    assert_string_equal(r.content_type, "application/problem+json");
    cJSON *j = http_result_json(&r);
    assert_non_null(j);
    assert_int_equal((int)json_num(j, "status"), (int)status);
    assert_non_null(json_str(j, "type"));
    assert_non_null(json_str(j, "title"));
    assert_non_null(json_str(j, "detail"));
    if (keep)
        *keep = r;
    else
        http_result_free(&r);
    return j;
}

void expect_problem_pointer(const cJSON *problem, const char *pointer) {
    const char *p = json_str(problem, "pointer");
    if (!p || strcmp(p, pointer))
        fprintf(stderr, "pointer %s, want %s (detail: %s)\n", p ? p : "(none)", pointer,
                json_str(problem, "detail"));
    assert_non_null(p);
    assert_string_equal(p, pointer);
}

void expect_detail_mentions(const cJSON *problem, const char *needle) {
    const char *detail = json_str(problem, "detail");
    if (!detail || !strstr(detail, needle))
        fprintf(stderr, "detail: %s (want it to mention %s)\n", detail ? detail : "(none)", needle);
    assert_non_null(detail);
    assert_non_null(strstr(detail, needle));
}

void expect_retry_after(const http_result *r) {
    char v[32];
    assert_int_equal(http_result_header(r, "Retry-After", v, sizeof v), 0);
    assert_true(atoi(v) > 0);
}

void expect_healthy(const mlpd_daemon *d) {
    assert_int_equal(request_status(d, "GET", "/healthz", NULL, NULL, 0, NULL), 200);
    assert_int_equal(request_status(d, "GET", "/readyz", NULL, NULL, 0, NULL), 200);
}

cJSON *expect_job_end(const mlpd_daemon *d, int64_t id, double timeout_s, const char *status) {
    cJSON *j = wait_job(d, id, timeout_s);
    assert_non_null(j);
    const char *st = json_str(j, "status");
    if (!st || strcmp(st, status))
        fprintf(stderr, "job %lld ended %s, want %s (error: %s)\n", (long long)id,
                st ? st : "(none)", status, json_str(j, "error") ? json_str(j, "error") : "none");
    assert_non_null(st);
    assert_string_equal(st, status);
    return j;
}
