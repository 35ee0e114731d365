/* contract_log.h - records every exchange the integration harness makes, so
 * that tests/contract/check-responses.mjs can validate the live answers
 * against api/openapi.yaml after the suite (tests/run.sh wires the two).
 *
 * Recording is on when $MLPD_CONTRACT_LOG names a file: each exchange is
 * appended to it as one JSON line (one write(2) on an O_APPEND descriptor,
 * so threads and successive test binaries never interleave lines):
 *   {"test": argv[0]'s name, "method", "path" (with its query), "status",
 *    "headers": {lower-case name: value, ...} (a repeated name keeps the last),
 *    "body": the text (absent when the body is not UTF-8 text without NUL,
 *    is content-encoded, or is over 4 MiB; then "body_skipped" says why)}.
 * Exchanges that failed at transport level (status 0) are not recorded.
 */
#ifndef MLPD_TEST_CONTRACT_LOG_H
#define MLPD_TEST_CONTRACT_LOG_H

#include <stddef.h>

/* Record one exchange when recording is on; never fails the caller. */
void contract_log_exchange(const char *method, const char *path, long status, const char *headers,
                           const char *body, size_t len);

#endif /* MLPD_TEST_CONTRACT_LOG_H */
