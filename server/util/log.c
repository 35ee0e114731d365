/* log.c - logfmt lines on stderr, one write(2) each. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024

/* "2024-05-01T12:00:00.123Z" into buf; returns its length. */
static int timestamp(char *buf, size_t cap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(buf + n, cap - (size_t)n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

/* Write a whole line (adds the newline; cuts overlong lines). */
static void emit(char *line, int len) {
    if (len < 0) return;
    if (len > LINE_MAX_BYTES - 2) len = LINE_MAX_BYTES - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)len);
    (void)w;
}

/* Quote a message for logfmt: double quotes and newlines are escaped. */
static int quoted(char *dst, size_t cap, const char *src) {
    size_t o = 0;
    if (cap < 3) return 0;
    dst[o++] = '"';
    for (; *src && o + 3 < cap; src++) {
        if (*src == '"' || *src == '\\') dst[o++] = '\\';
        if (*src == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
            continue;
        }
        dst[o++] = *src;
    }
    dst[o++] = '"';
    dst[o] = '\0';
    return (int)o;
}

static void vlog(const char *level, const char *fmt, va_list ap) {
    char msg[768], line[LINE_MAX_BYTES];
    vsnprintf(msg, sizeof msg, fmt, ap);
    int n = timestamp(line, sizeof line);
    n += snprintf(line + n, sizeof line - (size_t)n, " level=%s msg=", level);
    n += quoted(line + n, sizeof line - (size_t)n, msg);
    emit(line, n);
}

void log_info(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("info", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("error", fmt, ap);
    va_end(ap);
}

void log_job(void *user, const char *fmt, ...) {
    (void)user;
    va_list ap;
    va_start(ap, fmt);
    vlog("info", fmt, ap);
    va_end(ap);
}

void log_request(const char *method, const char *path, int status, size_t bytes, double seconds,
                 const char *request_id) {
    char line[LINE_MAX_BYTES], qpath[512];
    quoted(qpath, sizeof qpath, path);
    int n = timestamp(line, sizeof line);
    n += snprintf(line + n, sizeof line - (size_t)n,
                  " level=info msg=request method=%s path=%s status=%d bytes=%zu"
                  " duration_ms=%.3f request_id=%s",
                  method, qpath, status, bytes, seconds * 1e3, request_id);
    emit(line, n);
}
