/* store_reserve.c - disk space held back for the writes that end a run.
 *
 * Why: when the disk fills, SQLite refuses every write that needs a new page
 * (SQLITE_FULL). Refusing new work is right, but a run that was training
 * must still be recorded as ended; otherwise it shows "running" until the
 * next start. So the store keeps a file "<db>-reserve" of RESERVE_BYTES next
 * to the database, allocated when the store opens. When a final status
 * cannot be written because the disk is full, the reserve is deleted and the
 * write tried once more (store_runs.c); the space it frees is far more than
 * the few WAL pages such an UPDATE needs. Once writes that end a run succeed
 * again, the reserve is made anew, if there is room.
 *
 * An in-memory database (":memory:", "") has no reserve. Failures to make
 * the reserve are not errors: the store works without one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_sqlite_impl.h"

#define RESERVE_BYTES (1024 * 1024)

/* Create the reserve file at its full size; remove it when that fails. */
static void make_reserve(sqlite_store *s) {
    int fd = open(s->reserve_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    /* posix_fallocate gives the file real blocks (a sparse file would free nothing). */
    int rc = posix_fallocate(fd, 0, RESERVE_BYTES);
    if (close(fd) != 0) rc = -1;
    if (rc != 0) {
        unlink(s->reserve_path);
        return;
    }
    s->reserve_missing = 0;
}

void store_reserve_init(sqlite_store *s, const char *db_path) {
    s->reserve_path = NULL;
    s->reserve_missing = 0;
    if (!db_path[0] || !strcmp(db_path, ":memory:") || !strncmp(db_path, "file:", 5)) return;
    size_t n = strlen(db_path) + sizeof "-reserve";
    s->reserve_path = malloc(n);
    if (!s->reserve_path) return;
    snprintf(s->reserve_path, n, "%s-reserve", db_path);
    make_reserve(s);
    if (access(s->reserve_path, F_OK) != 0) s->reserve_missing = 1;
}

int store_reserve_release(sqlite_store *s) {
    if (!s->reserve_path || s->reserve_missing) return 0;
    s->reserve_missing = 1;
    return unlink(s->reserve_path) == 0;
}

void store_reserve_refill(sqlite_store *s) {
    if (s->reserve_path && s->reserve_missing) make_reserve(s);
}

void store_reserve_free(sqlite_store *s) {
    free(s->reserve_path);
    s->reserve_path = NULL;
}

int store_write_status_once(sqlite_store *s, const char *sql, int64_t id, run_status status,
                            const char *error, const char *what, const char *noun,
                            mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, run_status_name(status), -1, SQLITE_STATIC);
    if (error)
        sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_double(st, 4, wall_seconds());
    rc = sqlite3_step(st) == SQLITE_DONE ? MLPD_OK : store_fail_sql(s, err, what);
    if (rc == MLPD_OK && sqlite3_changes(s->db) == 0)
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "%s: no such %s", what, noun);
    sqlite3_finalize(st);
    return rc;
}

int store_write_status(sqlite_store *s, const char *sql, int64_t id, run_status status,
                       const char *error, const char *what, const char *noun, mlpd_error *err) {
    if ((int)status < RUN_QUEUED || status > RUN_CANCELLED)
        return mlpd_fail(err, MLPD_ESTORE, "invalid %s status %d", noun, (int)status);
    int final = status == RUN_SUCCEEDED || status == RUN_FAILED || status == RUN_CANCELLED;
    pthread_mutex_lock(&s->mu);
    int rc = store_write_status_once(s, sql, id, status, error, what, noun, err);
    if (rc == MLPD_ENOSPC && final && store_reserve_release(s))
        rc = store_write_status_once(s, sql, id, status, error, what, noun, err);
    else if (rc == MLPD_OK && final)
        store_reserve_refill(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
