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
