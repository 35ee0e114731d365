/* route_errors.c - the one place where the daemon's error codes
 * (mlpd_error.h) become HTTP answers: status, problem type (RFC 9457) and
 * Retry-After. Handlers never choose a status for a code themselves. */
#include <stdarg.h>
#include <stdio.h>

#include "router.h"

/* A full job queue clears as jobs finish: minutes of training at most. */
#define RETRY_AFTER_BUSY_SECONDS 30
/* A draining daemon is gone or back (restarted) within seconds. */
#define RETRY_AFTER_DRAINING_SECONDS 5
/* Another process's write lock on the store (a backup, a sqlite3 shell):
 * usually brief; the writer already waited the store's busy timeout. */
#define RETRY_AFTER_LOCKED_SECONDS 5

/* code -> answer. The types are documented in api/openapi.yaml. */
static const struct {
    mlpd_status code;
    int status;
    const char *type;
    int retry_after; /* seconds, 0 = no header */
} http_of[] = {
    {MLPD_ENOTFOUND, 404, "not-found", 0},
    {MLPD_ECONFLICT, 409, "conflict", 0},
    {MLPD_EBUSY, 429, "queue-full", RETRY_AFTER_BUSY_SECONDS},
    {MLPD_ENOSPC, 507, "insufficient-storage", 0},
    {MLPD_ESTORE, 500, "store", 0},
    {MLPD_EIO, 500, "internal", 0},
    {MLPD_EINTERNAL, 500, "internal", 0},
    {MLPD_ELOCKED, 503, "store-locked", RETRY_AFTER_LOCKED_SECONDS},
    {MLPD_EINVAL, 422, "invalid-field", 0},
    {MLPD_EUNLOADED, 503, "model-unloaded", 0},
    {MLPD_EDRAINING, 503, "draining", RETRY_AFTER_DRAINING_SECONDS},
};

mlpd_status route_failure_code(int rc) {
    return rc == MLPD_ELOCKED ? MLPD_ELOCKED : MLPD_EINTERNAL;
}

int route_http_status(mlpd_status code, const char **type, int *retry_after) {
    *type = "internal"; /* MLPD_OK or an unknown code: a bug */
    *retry_after = 0;
    for (size_t i = 0; i < sizeof http_of / sizeof http_of[0]; i++) {
        if (http_of[i].code == code) {
            *type = http_of[i].type;
            *retry_after = http_of[i].retry_after;
            return http_of[i].status;
        }
    }
    return 500;
}

int route_reply_error(http_response *res, mlpd_status code, const char *type, const char *pointer,
                      const char *detail_fmt, ...) {
    int retry_after;
    const char *table_type;
    int status = route_http_status(code, &table_type, &retry_after);
    /* A locked store is one answer on every route: no narrower type. */
    if (code == MLPD_ELOCKED) type = NULL;
    char detail[sizeof((api_problem *)0)->detail];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    http_reply_problem(res, status, type ? type : table_type, pointer, "%s", detail);
    if (retry_after) http_set_header(res, "Retry-After", "%d", retry_after);
    return -1;
}

int route_store_check(int rc, const mlpd_error *se, http_response *res, const char *notfound_fmt,
                      ...) {
    if (rc == MLPD_OK) return 0;
    const char *msg = se ? se->msg : "";
    if (rc == MLPD_ENOTFOUND) {
        char detail[256];
        va_list ap;
        va_start(ap, notfound_fmt);
        vsnprintf(detail, sizeof detail, notfound_fmt, ap);
        va_end(ap);
        return route_reply_error(res, rc, NULL, NULL, "%s", detail);
    }
    if (rc == MLPD_ECONFLICT) return route_reply_error(res, rc, NULL, NULL, "%s", msg);
    if (rc == MLPD_ENOSPC)
        return route_reply_error(res, rc, NULL, NULL, "the disk is full: %s", msg);
    return route_reply_error(res, rc, "store", NULL, "store: %s", msg);
}

void route_reply_draining(http_response *res) {
    route_reply_error(res, MLPD_EDRAINING, NULL, NULL, "the daemon is shutting down");
}
