/* log.h - the daemon's log: one line per event on stderr.
 *
 * Lines are built whole and written with a single write(2), so lines from
 * different threads never interleave. Format (logfmt, easy to grep):
 *   2024-05-01T12:00:00.123Z level=info msg="..." key=value ...
 * Thread-safe; never fails loudly (a failed write is dropped).
 */
#ifndef MLPD_LOG_H
#define MLPD_LOG_H

#include <stddef.h>

/* A free-form line: "msg=..." is added around the formatted text. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One finished HTTP request. */
void log_request(const char *method, const char *path, int status, size_t bytes, double seconds,
                 const char *request_id);

/* Adapter with jobs_config.log's signature: job lifecycle lines. */
void log_job(void *user, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* MLPD_LOG_H */
