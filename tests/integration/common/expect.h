/* expect.h - cmocka assertions over the harness of daemon.h, shared by the
 * integration tests so that each states only what is particular to it.
 *
 * Every function here fails the running test (cmocka assert_*) when the
 * daemon does not answer as expected, after printing the request and the
 * answer to stderr; functions returning a cJSON hand it to the caller, who
 * deletes it.
 */
#ifndef MLPD_TEST_EXPECT_H
#define MLPD_TEST_EXPECT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "daemon.h"

/* GET path; the status must be `want` and the body JSON, which is returned. */
cJSON *expect_json(const mlpd_daemon *d, const char *path, long want);

/* Send a request (ctype, body, header may be NULL) and return its status;
 * only the transfer itself must succeed. */
long request_status(const mlpd_daemon *d, const char *method, const char *path, const char *ctype,
                    const void *body, size_t len, const char *header);

/* Send a request; the answer must be `status` with an RFC 9457 body:
 * application/problem+json whose "status" member agrees, with "type",
 * "title" and "detail" strings. Returns the problem. When keep is not NULL
 * the raw answer is left there for more checks (the caller frees it). */
cJSON *expect_problem(const mlpd_daemon *d, const char *method, const char *path, const char *ctype,
                      const void *body, size_t len, const char *header, long status,
                      http_result *keep);

/* The problem names JSON pointer `pointer` (its "pointer" member). */
void expect_problem_pointer(const cJSON *problem, const char *pointer);
/* The problem's detail contains `needle`. */
void expect_detail_mentions(const cJSON *problem, const char *needle);
/* The answer has a Retry-After header of a positive number of seconds. */
void expect_retry_after(const http_result *r);

/* /healthz and /readyz both answer 200. */
void expect_healthy(const mlpd_daemon *d);

/* Wait up to timeout_s for job id to end; its final status must be `status`
 * ("succeeded", "cancelled", ...). Returns the Job. */
cJSON *expect_job_end(const mlpd_daemon *d, int64_t id, double timeout_s, const char *status);

#endif /* MLPD_TEST_EXPECT_H */
