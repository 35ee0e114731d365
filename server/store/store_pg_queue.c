/* store_pg_queue.c - the PostgreSQL store's job queue: claims with
 * FOR UPDATE SKIP LOCKED, leases, rescue, cancel requests (store.h; the
 * SQLite twin is store_queue.c). Every daemon on the database calls these;
 * correctness rests on row locks and single statements, not on s->mu (which
 * only guards this daemon's connection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

int pgs_run_claim(store *base, const char *worker, double lease_seconds, int64_t *id_out,
                  mlpd_error *err) {
    pg_store *s = pgs_of(base);
    double now = wall_seconds();
    pgs_params p = {0};
    pgs_p_text(&p, worker);
    pgs_p_double(&p, now);
    pgs_p_double(&p, now + lease_seconds);
    pthread_mutex_lock(&s->mu);
    int rc = pgs_begin(s, err);
    PGresult *r = NULL;
    /* SKIP LOCKED: a run another daemon is claiming right now is passed
     * over, not waited for; the UPDATE is in the same transaction as the
     * lock, so no two daemons ever claim one run. */
    if (rc == MLPD_OK)
        r = pgs_exec(s,
                     "UPDATE runs SET status = 'running', worker = $1, attempts = attempts + 1,"
                     " lease_until = $3, started_at = $2, cancel_requested = 0, error = NULL,"
                     " epoch = coalesce((SELECT c.epoch FROM run_checkpoints c"
                     "                   WHERE c.run_id = runs.id), 0),"
                     " step = 0, loss = NULL, accuracy = NULL, val_loss = NULL,"
                     " val_accuracy = NULL, samples_per_sec = NULL"
                     " WHERE id = (SELECT id FROM runs WHERE status = 'queued' ORDER BY id"
                     "             LIMIT 1 FOR UPDATE SKIP LOCKED)"
                     " RETURNING id, attempts, epoch",
                     &p, 0, "claim", err);
    if (rc == MLPD_OK && !r) rc = MLPD_ESTORE;
    int64_t id = r && PQntuples(r) == 1 ? pgs_i64(r, 0, 0) : 0;
    int64_t resume_after =
        r && PQntuples(r) == 1 ? pgs_i64(r, 0, 2) : 0; /* its checkpoint's epoch */
    PQclear(r);
    if (rc == MLPD_OK && id == 0) rc = mlpd_fail(err, MLPD_ENOTFOUND, "no queued run");
    /* Claimed again: it goes on after its checkpoint (none: from the start),
     * and the metrics of an epoch cut short go. */
    if (rc == MLPD_OK) {
        pgs_params d = {0};
        pgs_p_i64(&d, id);
        pgs_p_i64(&d, resume_after);
        rc = pgs_cmd(s, "DELETE FROM metrics WHERE run_id = $1 AND epoch > $2", &d, "claim", NULL,
                     err);
    }
    if (rc == MLPD_OK)
        rc = pgs_commit(s, err);
    else
        pgs_rollback(s);
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK) *id_out = id;
    return rc;
}

int pgs_run_checkpoint(store *base, int64_t id, unsigned char **data, size_t *len, int *epoch,
                       mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pthread_mutex_lock(&s->mu);
    /* Binary results (the bytes as they are): the epoch as text, read below. */
    PGresult *r = pgs_exec(s, "SELECT data, epoch::text FROM run_checkpoints WHERE run_id = $1", &p,
                           1, "read checkpoint", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (PQntuples(r) != 1) {
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "no checkpoint");
    } else {
        int n = PQgetlength(r, 0, 0);
        *data = malloc(n > 0 ? (size_t)n : 1);
        if (!*data) {
            rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
        } else {
            memcpy(*data, PQgetvalue(r, 0, 0), (size_t)n);
            *len = (size_t)n;
            *epoch = atoi(PQgetvalue(r, 0, 1));
        }
    }
    PQclear(r);
    return rc;
}

int pgs_run_heartbeat(store *base, int64_t id, const char *worker, double lease_seconds,
                      int *cancel_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_text(&p, worker);
    pgs_p_double(&p, wall_seconds() + lease_seconds);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s,
                           "UPDATE runs SET lease_until = $3 WHERE id = $1 AND worker = $2"
                           " AND status = 'running' RETURNING cancel_requested",
                           &p, 0, "heartbeat", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (PQntuples(r) == 1) {
        if (cancel_out) *cancel_out = pgs_i64(r, 0, 0) != 0;
    } else {
        rc = mlpd_fail(err, MLPD_ECONFLICT, "run %lld is no longer held by %s", (long long)id,
                       worker);
    }
    PQclear(r);
    return rc;
}

int pgs_run_rescue(store *base, int max_attempts, int *requeued, int *failed, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    char why[96];
    snprintf(why, sizeof why, "lease expired on each of %d attempts", max_attempts);
    double now = wall_seconds();
    pgs_params pc = {0}, pf = {0}, pq = {0};
    pgs_p_double(&pc, now);
    pgs_p_double(&pf, now);
    pgs_p_i64(&pf, max_attempts);
    pgs_p_text(&pf, why);
    pgs_p_double(&pq, now);
    pgs_p_i64(&pq, max_attempts);
    int64_t n_cancel = 0, n_fail = 0, n_queue = 0;
    pthread_mutex_lock(&s->mu);
    /* Each UPDATE locks the rows it changes; a daemon rescuing at the same
     * moment re-checks lease_until after the lock and changes nothing. */
    int rc = pgs_begin(s, err);
    if (rc == MLPD_OK)
        rc =
            pgs_cmd(s,
                    "UPDATE runs SET status = 'cancelled', error = cancel_reason, finished_at = $1,"
                    " lease_until = NULL"
                    " WHERE status = 'running' AND lease_until < $1 AND cancel_requested = 1",
                    &pc, "rescue", &n_cancel, err);
    if (rc == MLPD_OK)
        rc = pgs_cmd(s,
                     "UPDATE runs SET status = 'failed', error = $3, finished_at = $1,"
                     " lease_until = NULL WHERE status = 'running' AND lease_until < $1"
                     " AND attempts >= $2",
                     &pf, "rescue", &n_fail, err);
    if (rc == MLPD_OK)
        rc =
            pgs_cmd(s,
                    "UPDATE runs SET status = 'queued', lease_until = NULL WHERE status = 'running'"
                    " AND lease_until < $1 AND attempts < $2",
                    &pq, "rescue", &n_queue, err);
    if (rc == MLPD_OK && n_queue > 0)
        rc = pgs_cmd(s, "NOTIFY mlpd_jobs", NULL, "notify", NULL, err);
    if (rc == MLPD_OK)
        rc = pgs_commit(s, err);
    else
        pgs_rollback(s);
    pthread_mutex_unlock(&s->mu);
    if (requeued) *requeued = rc == MLPD_OK ? (int)n_queue : 0;
    if (failed) *failed = rc == MLPD_OK ? (int)(n_fail + n_cancel) : 0;
    return rc;
}

/* One cancel statement: under the row's lock it ends a queued run or flags a
 * running one; the last column is the status before (s->mu held). */
static PGresult *cancel_once(pg_store *s, int64_t id, const char *why, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_double(&p, wall_seconds());
    pgs_p_text(&p, why && why[0] ? why : NULL);
    return pgs_exec(s,
                    "WITH q AS (UPDATE runs SET status = 'cancelled', error = $3, finished_at = $2"
                    "           WHERE id = $1 AND status = 'queued' RETURNING 'queued'),"
                    " r AS (UPDATE runs SET cancel_requested = 1, cancel_reason = $3"
                    "       WHERE id = $1 AND status = 'running' RETURNING 'running')"
                    " SELECT (SELECT * FROM q), (SELECT * FROM r),"
                    " (SELECT status FROM runs WHERE id = $1)",
                    &p, 0, "cancel", err);
}

int pgs_run_cancel(store *base, int64_t id, const char *why, int *was_running, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *was_running = 0;
    int rc = MLPD_OK;
    pthread_mutex_lock(&s->mu);
    /* Twice at most: a queued run claimed by another daemon between this
     * statement's snapshot and its lock matches neither UPDATE; the second
     * try sees it running. */
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *r = cancel_once(s, id, why, err);
        if (!r) {
            rc = MLPD_ESTORE;
            break;
        }
        int done = !PQgetisnull(r, 0, 0) || !PQgetisnull(r, 0, 1);
        const char *before = PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2);
        *was_running = !PQgetisnull(r, 0, 1);
        int live = before && (!strcmp(before, "queued") || !strcmp(before, "running"));
        if (!done && !before)
            rc = mlpd_fail(err, MLPD_ENOTFOUND, "no job %lld", (long long)id);
        else if (!done && (!live || attempt == 1))
            rc = mlpd_fail(err, MLPD_ECONFLICT, "job %lld has already ended", (long long)id);
        PQclear(r);
        if (done || rc != MLPD_OK) break;
    }
    if (rc == MLPD_OK && *was_running) {
        /* The daemon training it stops at once on this (store_listen). */
        char sql[64];
        snprintf(sql, sizeof sql, "NOTIFY mlpd_cancel, '%lld'", (long long)id);
        PQclear(pgs_exec(s, sql, NULL, 0, "notify", NULL));
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_run_count(store *base, run_status st, int64_t *n, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, run_status_name(st));
    pthread_mutex_lock(&s->mu);
    PGresult *r =
        pgs_exec(s, "SELECT count(*) FROM runs WHERE status = $1", &p, 0, "count runs", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    *n = pgs_i64(r, 0, 0);
    PQclear(r);
    return MLPD_OK;
}
