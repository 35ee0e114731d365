/* store_queue.c - the SQLite store's job queue: claims, leases, rescue,
 * cancel requests (store.h; the PostgreSQL twin is store_pg_queue.c). One
 * daemon writes a SQLite file, so a claim needs no row locks: each call runs
 * under s->mu in one transaction (BEGIN IMMEDIATE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

/* One statement with int64 ?1, text ?2 and double ?3, as far as it numbers
 * its parameters (a statement may skip one: SQLite binds an unused index);
 * *changes gets the rows it changed (s->mu held). */
static int exec3(sqlite_store *s, const char *sql, int64_t i1, const char *t2, double d3,
                 int *changes, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != MLPD_OK) return rc;
    int n = sqlite3_bind_parameter_count(st);
    sqlite3_bind_int64(st, 1, i1);
    if (n >= 2) sqlite3_bind_text(st, 2, t2, -1, SQLITE_STATIC);
    if (n >= 3) sqlite3_bind_double(st, 3, d3);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (step != SQLITE_DONE) rc = store_fail_sql(s, err, "job queue");
    if (changes) *changes = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

/* The id of the oldest queued run, 0 when none (s->mu held). */
static int oldest_queued(sqlite_store *s, int64_t *id, int *attempts, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(
        s, "SELECT id, attempts FROM runs WHERE status = 'queued' ORDER BY id LIMIT 1", &st, err);
    if (rc != MLPD_OK) return rc;
    int step = sqlite3_step(st);
    *id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *attempts = step == SQLITE_ROW ? sqlite3_column_int(st, 1) : 0;
    if (step != SQLITE_ROW && step != SQLITE_DONE) rc = store_fail_sql(s, err, "claim");
    sqlite3_finalize(st);
    return rc;
}

/* The claim's UPDATE (s->mu held, in the claim's transaction). */
static int mark_claimed(sqlite_store *s, int64_t id, const char *worker, double now,
                        double lease_until, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "UPDATE runs SET status = 'running', worker = ?2,"
                           " attempts = attempts + 1, lease_until = ?4, started_at = ?3,"
                           " cancel_requested = 0, error = NULL, epoch = coalesce((SELECT"
                           " c.epoch FROM run_checkpoints c WHERE c.run_id = ?1), 0), step = 0,"
                           " loss = NULL,"
                           " accuracy = NULL, val_loss = NULL, val_accuracy = NULL,"
                           " samples_per_sec = NULL WHERE id = ?1",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, now);
    sqlite3_bind_double(st, 4, lease_until);
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "claim");
    sqlite3_finalize(st);
    return rc;
}

int sqlite_run_claim(store *base, const char *worker, double lease_seconds, int64_t *id_out,
                     mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    double now = wall_seconds();
    int64_t id = 0;
    int attempts = 0;
    pthread_mutex_lock(&s->mu);
    int rc = store_tx_begin(s, err);
    if (rc == MLPD_OK) rc = oldest_queued(s, &id, &attempts, err);
    if (rc == MLPD_OK && id == 0) rc = mlpd_fail(err, MLPD_ENOTFOUND, "no queued run");
    /* Claimed again: it goes on after its checkpoint (none: from the start),
     * and the metrics of an epoch cut short go. */
    if (rc == MLPD_OK)
        rc = exec3(s,
                   "DELETE FROM metrics WHERE run_id = ?1 AND epoch > coalesce((SELECT c.epoch"
                   " FROM run_checkpoints c WHERE c.run_id = ?1), 0)",
                   id, NULL, 0, NULL, err);
    if (rc == MLPD_OK) rc = mark_claimed(s, id, worker, now, now + lease_seconds, err);
    if (rc == MLPD_OK)
        rc = store_tx_commit(s, err);
    else
        store_tx_rollback(s);
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK) *id_out = id;
    return rc;
}

int sqlite_run_checkpoint(store *base, int64_t id, unsigned char **data, size_t *len, int *epoch,
                          mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc =
        store_prepare(s, "SELECT epoch, data FROM run_checkpoints WHERE run_id = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            int n = sqlite3_column_bytes(st, 1);
            *data = malloc(n > 0 ? (size_t)n : 1);
            if (!*data) {
                rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
            } else {
                memcpy(*data, sqlite3_column_blob(st, 1), (size_t)n);
                *len = (size_t)n;
                *epoch = sqlite3_column_int(st, 0);
            }
        } else {
            rc = step == SQLITE_DONE ? mlpd_fail(err, MLPD_ENOTFOUND, "no checkpoint")
                                     : store_fail_sql(s, err, "read checkpoint");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_run_heartbeat(store *base, int64_t id, const char *worker, double lease_seconds,
                         int *cancel_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "UPDATE runs SET lease_until = ?3 WHERE id = ?1 AND worker = ?2"
                           " AND status = 'running' RETURNING cancel_requested",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, wall_seconds() + lease_seconds);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            if (cancel_out) *cancel_out = sqlite3_column_int(st, 0) != 0;
            step = sqlite3_step(st);
        } else if (step == SQLITE_DONE) {
            rc = mlpd_fail(err, MLPD_ECONFLICT, "run %lld is no longer held by %s", (long long)id,
                           worker);
        }
        if (rc == MLPD_OK && step != SQLITE_DONE) rc = store_fail_sql(s, err, "heartbeat");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_run_rescue(store *base, int max_attempts, int *requeued, int *failed, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    double now = wall_seconds();
    int n_cancel = 0, n_fail = 0, n_queue = 0;
    char why[96];
    snprintf(why, sizeof why, "lease expired on each of %d attempts", max_attempts);
    pthread_mutex_lock(&s->mu);
    int rc = store_tx_begin(s, err);
    if (rc == MLPD_OK)
        rc = exec3(s,
                   "UPDATE runs SET status = 'cancelled', error = cancel_reason, finished_at = ?3,"
                   " lease_until = NULL"
                   " WHERE status = 'running' AND lease_until < ?3 AND cancel_requested = 1",
                   0, "", now, &n_cancel, err);
    if (rc == MLPD_OK)
        rc = exec3(s,
                   "UPDATE runs SET status = 'failed', error = ?2, finished_at = ?3,"
                   " lease_until = NULL WHERE status = 'running' AND lease_until < ?3"
                   " AND attempts >= ?1",
                   max_attempts, why, now, &n_fail, err);
    if (rc == MLPD_OK)
        rc = exec3(s,
                   "UPDATE runs SET status = 'queued', lease_until = NULL WHERE status = 'running'"
                   " AND lease_until < ?3 AND attempts < ?1",
                   max_attempts, "", now, &n_queue, err);
    if (rc == MLPD_OK)
        rc = store_tx_commit(s, err);
    else
        store_tx_rollback(s);
    pthread_mutex_unlock(&s->mu);
    if (requeued) *requeued = rc == MLPD_OK ? n_queue : 0;
    if (failed) *failed = rc == MLPD_OK ? n_fail + n_cancel : 0;
    return rc;
}

int sqlite_run_cancel(store *base, int64_t id, const char *why, int *was_running, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    int changed = 0;
    *was_running = 0;
    const char *reason = why && why[0] ? why : NULL; /* binds NULL */
    pthread_mutex_lock(&s->mu);
    int rc =
        exec3(s,
              "UPDATE runs SET status = 'cancelled', error = ?2, finished_at = ?3 WHERE id = ?1"
              " AND status = 'queued'",
              id, reason, wall_seconds(), &changed, err);
    if (rc == MLPD_OK && !changed) {
        rc = exec3(s,
                   "UPDATE runs SET cancel_requested = 1, cancel_reason = ?2 WHERE id = ?1"
                   " AND status = 'running'",
                   id, reason, 0, &changed, err);
        *was_running = changed;
    }
    if (rc == MLPD_OK && !changed) {
        /* Ended, or no such run: which one decides the answer. */
        sqlite3_stmt *st;
        rc = store_prepare(s, "SELECT 1 FROM runs WHERE id = ?1", &st, err);
        if (rc == MLPD_OK) {
            sqlite3_bind_int64(st, 1, id);
            int step = sqlite3_step(st);
            rc = step == SQLITE_ROW
                     ? mlpd_fail(err, MLPD_ECONFLICT, "job %lld has already ended", (long long)id)
                 : step == SQLITE_DONE
                     ? mlpd_fail(err, MLPD_ENOTFOUND, "no job %lld", (long long)id)
                     : store_fail_sql(s, err, "cancel");
            sqlite3_finalize(st);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_run_count(store *base, run_status st_filter, int64_t *n, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT count(*) FROM runs WHERE status = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, run_status_name(st_filter), -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            *n = sqlite3_column_int64(st, 0);
        else
            rc = store_fail_sql(s, err, "count runs");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
