/* store_runs.c - the SQLite store's runs and metrics (see store.h for contracts).
 *
 * Every write is one transaction (autocommit or an explicit BEGIN IMMEDIATE for
 * several rows), so what a call reported as done survives a crash.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

#define RUN_COLUMNS STORE_RUN_COLUMNS

#define MAX_METRICS_PER_GET 100000

void store_run_clear(store_run *r) {
    if (!r) return;
    free(r->config_json);
    free(r->dataset);
    free(r->error);
    free(r->worker);
    memset(r, 0, sizeof *r);
}

void store_clear_run(void *r) {
    store_run_clear(r);
}

void store_run_list_free(store_run *list, size_t n) {
    store_free_items(list, n, sizeof *list, store_clear_run);
}

/* Fill *r from a row selected with RUN_COLUMNS. */
int store_read_run_row(sqlite3_stmt *st, void *item, mlpd_error *err) {
    store_run *r = item;
    memset(r, 0, sizeof *r);
    int oom = 0;
    r->id = sqlite3_column_int64(st, 0);
    const char *status = (const char *)sqlite3_column_text(st, 1);
    if (run_status_from_name(status, &r->status) != 0)
        return mlpd_fail(err, MLPD_ESTORE, "run %lld has an unknown status '%s'", (long long)r->id,
                         status ? status : "");
    r->config_json = store_column_text(st, 2, &oom);
    r->dataset = store_column_text(st, 3, &oom);
    r->error = store_column_text(st, 4, &oom);
    r->created_at = store_column_time(st, 5);
    r->started_at = store_column_time(st, 6);
    r->finished_at = store_column_time(st, 7);
    r->epoch = sqlite3_column_int(st, 8);
    r->epochs = sqlite3_column_int(st, 9);
    r->step = sqlite3_column_int64(st, 10);
    r->steps = sqlite3_column_int64(st, 11);
    r->loss = store_column_metric(st, 12);
    r->accuracy = store_column_metric(st, 13);
    r->val_loss = store_column_metric(st, 14);
    r->val_accuracy = store_column_metric(st, 15);
    r->samples_per_sec = store_column_metric(st, 16);
    r->test_loss = store_column_metric(st, 17);
    r->test_accuracy = store_column_metric(st, 18);
    r->model_id = sqlite3_column_int64(st, 19); /* NULL reads as 0 */
    r->sweep_id = sqlite3_column_int64(st, 20);
    r->worker = store_column_text(st, 21, &oom);
    r->attempts = sqlite3_column_int(st, 22);
    r->best_val_accuracy = store_column_metric(st, 23);
    if (oom) {
        store_run_clear(r);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

/* Step an UPDATE of one row by id: MLPD_ENOTFOUND when no row matched. */
static int step_update(sqlite_store *s, sqlite3_stmt *st, const char *what, mlpd_error *err) {
    int rc = sqlite3_step(st) == SQLITE_DONE ? MLPD_OK : store_fail_sql(s, err, what);
    if (rc == MLPD_OK && sqlite3_changes(s->db) == 0)
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "%s: no such row", what);
    sqlite3_finalize(st);
    return rc;
}

int sqlite_run_create(store *base, const char *config_json, const char *dataset, int epochs,
                      int64_t sweep_id, int64_t *id_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    /* A run is only accepted while its end can surely be recorded: with the
     * reserve in place (store_reserve.c), made again here if it was spent. */
    store_reserve_refill(s);
    if (s->reserve_path && s->reserve_missing) {
        pthread_mutex_unlock(&s->mu);
        return mlpd_fail(err, MLPD_ENOSPC,
                         "the disk is full: no room is left to record a run (free "
                         "some space next to the database)");
    }
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO runs (status, config_json, dataset, epochs, created_at,"
                           " sweep_id) VALUES ('queued', ?1, ?2, ?3, ?4, ?5)",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, config_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, epochs);
        sqlite3_bind_double(st, 4, wall_seconds());
        if (sweep_id > 0)
            sqlite3_bind_int64(st, 5, sweep_id);
        else
            sqlite3_bind_null(st, 5);
        if (sqlite3_step(st) == SQLITE_DONE) {
            if (id_out) *id_out = sqlite3_last_insert_rowid(s->db);
        } else {
            rc = store_fail_sql(s, err, "create run");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* A run's status UPDATE (store_write_status's parameters). */
static const char RUN_STATUS_SQL[] =
    "UPDATE runs SET status = ?2,"
    " error = coalesce(?3, CASE WHEN ?2 = 'cancelled' THEN cancel_reason END),"
    " started_at = CASE WHEN ?2 = 'running' THEN ?4 ELSE started_at END,"
    " finished_at = CASE WHEN ?2 IN ('succeeded', 'failed', 'cancelled') THEN ?4"
    "               ELSE finished_at END "
    "WHERE id = ?1";

int sqlite_run_set_status(store *base, int64_t id, run_status status, const char *error,
                          mlpd_error *err) {
    return store_write_status(sqlite_of(base), RUN_STATUS_SQL, id, status, error, "set run status",
                              "run", err);
}

/* The progress UPDATE; the caller holds s->mu. */
static int update_progress(sqlite_store *s, int64_t id, int epoch, int64_t step, int64_t steps,
                           double loss, double accuracy, double val_loss, double val_accuracy,
                           double samples_per_sec, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "UPDATE runs SET epoch = ?2, step = ?3, steps = ?4, loss = ?5,"
                           " accuracy = ?6, val_loss = ?7, val_accuracy = ?8,"
                           " samples_per_sec = ?9 WHERE id = ?1",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, epoch);
        sqlite3_bind_int64(st, 3, step);
        sqlite3_bind_int64(st, 4, steps);
        store_bind_metric(st, 5, loss);
        store_bind_metric(st, 6, accuracy);
        store_bind_metric(st, 7, val_loss);
        store_bind_metric(st, 8, val_accuracy);
        store_bind_metric(st, 9, samples_per_sec);
        rc = step_update(s, st, "set run progress", err);
    }
    return rc;
}

int sqlite_run_set_progress(store *base, int64_t id, int epoch, int64_t step, int64_t steps,
                            double loss, double accuracy, double val_loss, double val_accuracy,
                            double samples_per_sec, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = update_progress(s, id, epoch, step, steps, loss, accuracy, val_loss, val_accuracy,
                             samples_per_sec, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The final-results UPDATE; the caller holds s->mu. */
static int update_finish(sqlite_store *s, int64_t id, double test_loss, double test_accuracy,
                         int64_t model_id, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "UPDATE runs SET test_loss = ?2, test_accuracy = ?3, model_id = ?4 "
                           "WHERE id = ?1",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    store_bind_metric(st, 2, test_loss);
    store_bind_metric(st, 3, test_accuracy);
    if (model_id > 0)
        sqlite3_bind_int64(st, 4, model_id);
    else
        sqlite3_bind_null(st, 4);
    return step_update(s, st, "finish run", err);
}

int sqlite_run_finish(store *base, int64_t id, double test_loss, double test_accuracy,
                      int64_t model_id, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = update_finish(s, id, test_loss, test_accuracy, model_id, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_run_succeed(store *base, int64_t id, const store_model *meta, const unsigned char *file,
                       size_t len, double test_loss, double test_accuracy,
                       const store_model_derived *derived, int64_t *model_id_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    store_model m = *meta;
    m.run_id = id;
    int64_t model_id = 0;
    pthread_mutex_lock(&s->mu);
    int rc = store_tx_begin(s, err);
    if (rc == MLPD_OK) {
        rc = store_model_insert(s, &m, file, len, &model_id, NULL, err);
        if (rc == MLPD_OK) rc = update_finish(s, id, test_loss, test_accuracy, model_id, err);
        if (rc == MLPD_OK)
            rc = store_write_status_once(s, RUN_STATUS_SQL, id, RUN_SUCCEEDED, NULL,
                                         "set run status", "run", err);
        if (rc == MLPD_OK && derived && derived->eval_json)
            rc = store_evaluation_insert(s, model_id, derived->eval_dataset, derived->eval_split,
                                         derived->eval_json, NULL, err);
        if (rc == MLPD_OK && derived && derived->mean)
            rc = store_model_mean_insert(s, model_id, derived->mean_dataset, derived->mean,
                                         derived->mean_features, err);
        if (rc == MLPD_OK)
            rc = store_tx_commit(s, err);
        else
            store_tx_rollback(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && model_id_out) *model_id_out = model_id;
    return rc;
}

int sqlite_run_get(store *base, int64_t id, store_run *out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1", &st, err);
    if (rc == MLPD_OK) {
        char notfound[48];
        snprintf(notfound, sizeof notfound, "no run with id %lld", (long long)id);
        sqlite3_bind_int64(st, 1, id);
        rc = store_read_one(s, st, store_read_run_row, out, notfound, "get run", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ?1 is the status filter: NULL matches every run. */
static void bind_status_filter(sqlite3_stmt *st, const store_run_query *q) {
    if (q->has_status)
        sqlite3_bind_text(st, 1, run_status_name(q->status), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
}

/* From run_counts (migrations/006_run_counts.sql), kept by triggers: a
 * count(*) over runs walked an index of every run on each GET /jobs. */
static int count_runs(sqlite_store *s, const store_run_query *q, int64_t *total, mlpd_error *err) {
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "SELECT coalesce(sum(n), 0) FROM run_counts WHERE ?1 IS NULL OR status = ?1",
                      &st, err) != MLPD_OK)
        return MLPD_ESTORE;
    bind_status_filter(st, q);
    int rc = MLPD_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else
        rc = store_fail_sql(s, err, "count runs");
    sqlite3_finalize(st);
    return rc;
}

int sqlite_run_list(store *base, const store_run_query *q, store_run **out, size_t *n,
                    int64_t *total, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *out = NULL;
    *n = 0;
    int limit = q->limit < 1 ? 1 : q->limit > 1001 ? 1001 : q->limit;
    int64_t offset = q->offset < 0 ? 0 : q->offset;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = MLPD_OK;
    if (total) rc = count_runs(s, q, total, err);
    /* Two statements, not "?1 IS NULL OR status = ?1": with the OR, SQLite
     * plans one scan of the whole table for both (a rare status read every
     * run's row); apart, a status walks runs_status_id (status, id) and no
     * status walks the table backwards from the newest id. */
    if (rc == MLPD_OK)
        rc = store_prepare(s,
                           q->has_status ? "SELECT " RUN_COLUMNS " FROM runs WHERE status = ?1 "
                                           "AND id < ?4 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
                                         : "SELECT " RUN_COLUMNS " FROM runs WHERE ?1 IS NULL "
                                           "AND id < ?4 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
                           &st, err);
    if (rc == MLPD_OK) {
        bind_status_filter(st, q);
        sqlite3_bind_int(st, 2, limit);
        sqlite3_bind_int64(st, 3, offset);
        /* The keyset cursor: runs older than it (every run without one). */
        sqlite3_bind_int64(st, 4, q->before_id > 0 ? q->before_id : INT64_MAX);
        rc = store_read_all(s, st, store_read_run_row, store_clear_run, sizeof **out, 16,
                            (size_t)limit, (void **)out, n, "list runs", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int read_id(sqlite3_stmt *st, void *item, mlpd_error *err) {
    (void)err;
    *(int64_t *)item = sqlite3_column_int64(st, 0);
    return MLPD_OK;
}

int sqlite_run_ids_with_status(store *base, run_status status, int64_t **ids, size_t *n,
                               mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *ids = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT id FROM runs WHERE status = ?1 ORDER BY id", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, run_status_name(status), -1, SQLITE_STATIC);
        rc = store_read_all(s, st, read_id, NULL, sizeof **ids, 16, 0, (void **)ids, n,
                            "list run ids", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- metrics ------------------------------------------------------------------------ */

/* The metric INSERTs; the caller holds s->mu and has begun a transaction. */
static int insert_metrics(sqlite_store *s, const store_metric *m, size_t n, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO metrics (run_id, key, epoch, step, value, time) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           &st, err);
    double now = wall_seconds();
    for (size_t i = 0; rc == MLPD_OK && i < n; i++) {
        if (!isfinite(m[i].value)) {
            rc = mlpd_fail(err, MLPD_ESTORE, "metric %.31s of run %lld is not a finite number",
                           m[i].key, (long long)m[i].run_id);
            break;
        }
        sqlite3_bind_int64(st, 1, m[i].run_id);
        sqlite3_bind_text(st, 2, m[i].key, (int)strnlen(m[i].key, sizeof m[i].key), SQLITE_STATIC);
        sqlite3_bind_int(st, 3, m[i].epoch);
        sqlite3_bind_int64(st, 4, m[i].step);
        sqlite3_bind_double(st, 5, m[i].value);
        sqlite3_bind_double(st, 6, m[i].time > 0 ? m[i].time : now);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "append metric");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* --keep-step-metrics: while run_id has more than keep rows of step metric
 * `key` ("step_loss", "step_accuracy"), delete every second one of them (by
 * id; the first and the last stay), so what is kept stays spread evenly over
 * the whole run: between keep/2 and keep rows. keep 0: no bound. The caller
 * holds s->mu inside a transaction. */
static int thin_steps(sqlite_store *s, int64_t run_id, const char *key, mlpd_error *err) {
    int keep = s->keep_step_metrics;
    if (keep <= 0) return MLPD_OK;
    sqlite3_stmt *count, *thin;
    int rc = store_prepare(s, "SELECT count(*) FROM metrics WHERE run_id = ?1 AND key = ?2", &count,
                           err);
    if (rc != MLPD_OK) return rc;
    rc = store_prepare(s,
                       "DELETE FROM metrics WHERE id IN (SELECT id FROM (SELECT id,"
                       " row_number() OVER (ORDER BY id) AS i, count(*) OVER () AS n"
                       " FROM metrics WHERE run_id = ?1 AND key = ?3)"
                       " WHERE (i % 2 = 0 OR ?2 < 2) AND i < n)",
                       &thin, err);
    for (int round = 0; rc == MLPD_OK && round < 64; round++) {
        sqlite3_bind_int64(count, 1, run_id);
        sqlite3_bind_text(count, 2, key, -1, SQLITE_STATIC);
        int64_t n = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int64(count, 0) : -1;
        sqlite3_reset(count);
        if (n < 0) rc = store_fail_sql(s, err, "count step metrics");
        if (rc != MLPD_OK || n <= keep) break;
        sqlite3_bind_int64(thin, 1, run_id);
        sqlite3_bind_int(thin, 2, keep);
        sqlite3_bind_text(thin, 3, key, -1, SQLITE_STATIC);
        if (sqlite3_step(thin) != SQLITE_DONE) rc = store_fail_sql(s, err, "thin step metrics");
        sqlite3_reset(thin);
    }
    sqlite3_finalize(count);
    sqlite3_finalize(thin);
    return rc;
}

/* thin_steps for the run of each step metric in m (a commit holds one run's). */
static int thin_after(sqlite_store *s, const store_metric *m, size_t n, mlpd_error *err) {
    int64_t done = 0;
    int rc = MLPD_OK;
    for (size_t i = 0; rc == MLPD_OK && i < n; i++)
        if (m[i].run_id != done && !strcmp(m[i].key, "step_loss")) {
            rc = thin_steps(s, m[i].run_id, "step_loss", err);
            if (rc == MLPD_OK) rc = thin_steps(s, m[i].run_id, "step_accuracy", err);
            done = m[i].run_id;
        }
    return rc;
}

void sqlite_set_keep_step_metrics(store *base, int keep) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    s->keep_step_metrics = keep > 0 ? keep : 0;
    pthread_mutex_unlock(&s->mu);
}

int sqlite_metrics_append(store *base, const store_metric *m, size_t n, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    if (n == 0) return MLPD_OK;
    pthread_mutex_lock(&s->mu);
    int rc = store_tx_begin(s, err);
    if (rc == MLPD_OK) {
        rc = insert_metrics(s, m, n, err);
        if (rc == MLPD_OK) rc = thin_after(s, m, n, err);
        if (rc == MLPD_OK)
            rc = store_tx_commit(s, err);
        else
            store_tx_rollback(s);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The run's checkpoint after `epoch`, replacing the one before (s->mu held,
 * in the epoch's transaction). */
static int put_checkpoint(sqlite_store *s, int64_t id, int epoch, const unsigned char *ckpt,
                          size_t len, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO run_checkpoints (run_id, epoch, data) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT (run_id) DO UPDATE SET epoch = excluded.epoch,"
                           " data = excluded.data",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, epoch);
    sqlite3_bind_blob(st, 3, ckpt, (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "store checkpoint");
    sqlite3_finalize(st);
    return rc;
}

int sqlite_run_record_epoch(store *base, int64_t id, const store_metric *m, size_t n, int epoch,
                            int64_t steps, double loss, double accuracy, double val_loss,
                            double val_accuracy, double samples_per_sec, const unsigned char *ckpt,
                            size_t ckpt_len, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = store_tx_begin(s, err);
    if (rc == MLPD_OK) {
        rc = update_progress(s, id, epoch, steps, steps, loss, accuracy, val_loss, val_accuracy,
                             samples_per_sec, err);
        if (rc == MLPD_OK) rc = insert_metrics(s, m, n, err);
        if (rc == MLPD_OK) rc = thin_after(s, m, n, err);
        if (rc == MLPD_OK && ckpt) rc = put_checkpoint(s, id, epoch, ckpt, ckpt_len, err);
        if (rc == MLPD_OK)
            rc = store_tx_commit(s, err);
        else
            store_tx_rollback(s);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int read_metric(sqlite3_stmt *st, void *item, mlpd_error *err) {
    (void)err;
    store_metric *m = item;
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    m->run_id = sqlite3_column_int64(st, 1);
    const char *key = (const char *)sqlite3_column_text(st, 2);
    snprintf(m->key, sizeof m->key, "%s", key ? key : "");
    m->epoch = sqlite3_column_int(st, 3);
    m->step = sqlite3_column_int64(st, 4);
    m->value = sqlite3_column_double(st, 5);
    m->time = sqlite3_column_double(st, 6);
    return MLPD_OK;
}

int sqlite_metrics_get(store *base, int64_t run_id, int64_t since_id, int limit, store_metric **out,
                       size_t *n, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *out = NULL;
    *n = 0;
    if (limit < 1) limit = 1;
    if (limit > MAX_METRICS_PER_GET) limit = MAX_METRICS_PER_GET;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT id, run_id, key, epoch, step, value, time FROM metrics "
                           "WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, since_id);
        sqlite3_bind_int(st, 3, limit);
        rc = store_read_all(s, st, read_metric, NULL, sizeof **out, 64, 0, (void **)out, n,
                            "get metrics", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
