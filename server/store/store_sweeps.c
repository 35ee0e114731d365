/* store_sweeps.c - the SQLite store's sweeps (contracts in store.h; the
 * table is migrations/007_sweeps.sql, the leases 011_sweep_leases.sql; the
 * PostgreSQL twin is store_pg_sweeps.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

#define SWEEP_COLUMNS                                                                              \
    "id, status, config_json, error, created_at, started_at, finished_at, best_run_id, "           \
    "best_value"
#define MAX_CHILDREN 10000

void store_sweep_clear(store_sweep *w) {
    if (!w) return;
    free(w->config_json);
    free(w->error);
    memset(w, 0, sizeof *w);
}

static void clear_sweep(void *w) {
    store_sweep_clear(w);
}

void store_sweep_list_free(store_sweep *list, size_t n) {
    store_free_items(list, n, sizeof *list, clear_sweep);
}

static int read_sweep_row(sqlite3_stmt *st, void *item, mlpd_error *err) {
    store_sweep *w = item;
    memset(w, 0, sizeof *w);
    int oom = 0;
    w->id = sqlite3_column_int64(st, 0);
    const char *status = (const char *)sqlite3_column_text(st, 1);
    if (run_status_from_name(status, &w->status) != 0)
        return mlpd_fail(err, MLPD_ESTORE, "sweep %lld has an unknown status '%s'",
                         (long long)w->id, status ? status : "");
    w->config_json = store_column_text(st, 2, &oom);
    w->error = store_column_text(st, 3, &oom);
    w->created_at = store_column_time(st, 4);
    w->started_at = store_column_time(st, 5);
    w->finished_at = store_column_time(st, 6);
    w->best_run_id = sqlite3_column_int64(st, 7);
    w->best_value = store_column_metric(st, 8);
    if (oom) {
        store_sweep_clear(w);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

/* Step an UPDATE of one sweep: MLPD_ENOTFOUND when no row matched. */
static int step_one(sqlite_store *s, sqlite3_stmt *st, const char *what, mlpd_error *err) {
    int rc = sqlite3_step(st) == SQLITE_DONE ? MLPD_OK : store_fail_sql(s, err, what);
    if (rc == MLPD_OK && sqlite3_changes(s->db) == 0)
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "%s: no such sweep", what);
    sqlite3_finalize(st);
    return rc;
}

int sqlite_sweep_create(store *base, const char *config_json, const char *worker,
                        double lease_seconds, int64_t *id_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc =
        store_prepare(s,
                      "INSERT INTO sweeps (status, config_json, created_at, worker, lease_until)"
                      " VALUES ('queued', ?1, ?2, ?3, ?2 + ?4)",
                      &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, config_json, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, wall_seconds());
        sqlite3_bind_text(st, 3, worker, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, lease_seconds);
        if (sqlite3_step(st) == SQLITE_DONE) {
            if (id_out) *id_out = sqlite3_last_insert_rowid(s->db);
        } else {
            rc = store_fail_sql(s, err, "create sweep");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_sweep_claim(store *base, const char *worker, double lease_seconds, int own,
                       int64_t after_id, int64_t *id_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(
        s,
        "UPDATE sweeps SET worker = ?1, lease_until = ?2 + ?3 WHERE id = (SELECT id FROM sweeps"
        " WHERE status IN ('queued', 'running') AND (worker IS NULL OR lease_until < ?2"
        " OR (?4 AND worker = ?1)) AND id > ?5 ORDER BY id LIMIT 1) RETURNING id",
        &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, wall_seconds());
        sqlite3_bind_double(st, 3, lease_seconds);
        sqlite3_bind_int(st, 4, own != 0);
        sqlite3_bind_int64(st, 5, after_id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *id_out = sqlite3_column_int64(st, 0);
            if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "claim sweep");
        } else {
            rc = step == SQLITE_DONE ? mlpd_fail(err, MLPD_ENOTFOUND, "no sweep to claim")
                                     : store_fail_sql(s, err, "claim sweep");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_sweep_renew(store *base, int64_t id, const char *worker, double lease_seconds,
                       mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "UPDATE sweeps SET lease_until = ?3 + ?4 WHERE id = ?1 AND worker = ?2"
                           " AND status IN ('queued', 'running')",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, wall_seconds());
        sqlite3_bind_double(st, 4, lease_seconds);
        rc = sqlite3_step(st) == SQLITE_DONE ? MLPD_OK : store_fail_sql(s, err, "renew sweep");
        if (rc == MLPD_OK && sqlite3_changes(s->db) == 0)
            rc = mlpd_fail(err, MLPD_ECONFLICT, "sweep %lld is no longer held by %s", (long long)id,
                           worker);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_sweep_get(store *base, int64_t id, store_sweep *out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT " SWEEP_COLUMNS " FROM sweeps WHERE id = ?1", &st, err);
    if (rc == MLPD_OK) {
        char notfound[48];
        snprintf(notfound, sizeof notfound, "no sweep with id %lld", (long long)id);
        sqlite3_bind_int64(st, 1, id);
        rc = store_read_one(s, st, read_sweep_row, out, notfound, "get sweep", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_sweep_set_status(store *base, int64_t id, run_status status, const char *error,
                            mlpd_error *err) {
    return store_write_status(
        sqlite_of(base),
        "UPDATE sweeps SET status = ?2, error = ?3,"
        " started_at = CASE WHEN ?2 = 'running' AND started_at IS NULL THEN ?4"
        "              ELSE started_at END,"
        " finished_at = CASE WHEN ?2 IN ('succeeded', 'failed', 'cancelled') THEN ?4"
        "               ELSE finished_at END "
        "WHERE id = ?1",
        id, status, error, "set sweep status", "sweep", err);
}

int sqlite_sweep_set_best(store *base, int64_t id, int64_t run_id, double value, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "UPDATE sweeps SET best_run_id = ?2, best_value = ?3 WHERE id = ?1",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, run_id);
        store_bind_metric(st, 3, value);
        rc = step_one(s, st, "set sweep best", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void bind_status(sqlite3_stmt *st, const store_run_query *q) {
    if (q->has_status)
        sqlite3_bind_text(st, 1, run_status_name(q->status), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
}

/* The caller holds s->mu. */
static int count_sweeps(sqlite_store *s, const store_run_query *q, int64_t *total,
                        mlpd_error *err) {
    sqlite3_stmt *st;
    int rc =
        store_prepare(s, "SELECT count(*) FROM sweeps WHERE ?1 IS NULL OR status = ?1", &st, err);
    if (rc != MLPD_OK) return rc;
    bind_status(st, q);
    if (sqlite3_step(st) == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else
        rc = store_fail_sql(s, err, "count sweeps");
    sqlite3_finalize(st);
    return rc;
}

int sqlite_sweep_list(store *base, const store_run_query *q, store_sweep **out, size_t *n,
                      int64_t *total, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *out = NULL;
    *n = 0;
    int limit = q->limit < 1 ? 1 : q->limit > 1000 ? 1000 : q->limit;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = total ? count_sweeps(s, q, total, err) : MLPD_OK;
    if (rc == MLPD_OK)
        rc = store_prepare(s,
                           "SELECT " SWEEP_COLUMNS " FROM sweeps WHERE ?1 IS NULL OR status = ?1 "
                           "ORDER BY id DESC LIMIT ?2 OFFSET ?3",
                           &st, err);
    if (rc == MLPD_OK) {
        bind_status(st, q);
        sqlite3_bind_int(st, 2, limit);
        sqlite3_bind_int64(st, 3, q->offset < 0 ? 0 : q->offset);
        rc = store_read_all(s, st, read_sweep_row, clear_sweep, sizeof **out, 16, (size_t)limit,
                            (void **)out, n, "list sweeps", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_sweep_children(store *base, int64_t sweep_id, int limit, store_run **out, size_t *n,
                          mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *out = NULL;
    *n = 0;
    if (limit < 1) limit = 1;
    if (limit > MAX_CHILDREN) limit = MAX_CHILDREN;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT " STORE_RUN_COLUMNS " FROM runs WHERE sweep_id = ?1 "
                           "ORDER BY id LIMIT ?2",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, sweep_id);
        sqlite3_bind_int(st, 2, limit);
        rc = store_read_all(s, st, store_read_run_row, store_clear_run, sizeof **out, 16,
                            (size_t)limit, (void **)out, n, "list children", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
