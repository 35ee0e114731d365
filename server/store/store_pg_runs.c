/* store_pg_runs.c - the PostgreSQL store's runs and metrics (see store.h for
 * contracts; the SQLite twin is store_runs.c). Every write is one statement
 * in autocommit or one explicit transaction, so what a call reported as done
 * is committed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

#define MAX_METRICS_PER_GET 100000

void pgs_clear_run(void *run) {
    store_run_clear(run);
}

int pgs_read_run_row(const PGresult *r, int row, void *run, mlpd_error *err) {
    store_run *out = run;
    memset(out, 0, sizeof *out);
    int oom = 0;
    out->id = pgs_i64(r, row, 0);
    const char *status = PQgetvalue(r, row, 1);
    if (run_status_from_name(status, &out->status) != 0)
        return mlpd_fail(err, MLPD_ESTORE, "run %lld has an unknown status '%s'",
                         (long long)out->id, status);
    out->config_json = pgs_text(r, row, 2, &oom);
    out->dataset = pgs_text(r, row, 3, &oom);
    out->error = pgs_text(r, row, 4, &oom);
    out->created_at = pgs_time(r, row, 5);
    out->started_at = pgs_time(r, row, 6);
    out->finished_at = pgs_time(r, row, 7);
    out->epoch = (int)pgs_i64(r, row, 8);
    out->epochs = (int)pgs_i64(r, row, 9);
    out->step = pgs_i64(r, row, 10);
    out->steps = pgs_i64(r, row, 11);
    out->loss = pgs_metric(r, row, 12);
    out->accuracy = pgs_metric(r, row, 13);
    out->val_loss = pgs_metric(r, row, 14);
    out->val_accuracy = pgs_metric(r, row, 15);
    out->samples_per_sec = pgs_metric(r, row, 16);
    out->test_loss = pgs_metric(r, row, 17);
    out->test_accuracy = pgs_metric(r, row, 18);
    out->model_id = pgs_i64(r, row, 19);
    out->worker = pgs_text(r, row, 20, &oom);
    out->attempts = (int)pgs_i64(r, row, 21);
    out->sweep_id = pgs_i64(r, row, 22);
    out->best_val_accuracy = pgs_metric(r, row, 23);
    if (oom) {
        store_run_clear(out);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

/* An UPDATE of one row by id: MLPD_ENOTFOUND when no row matched. */
static int update_one(pg_store *s, const char *sql, const pgs_params *p, const char *what,
                      mlpd_error *err) {
    int64_t changed = 0;
    int rc = pgs_cmd(s, sql, p, what, &changed, err);
    if (rc == MLPD_OK && changed == 0) rc = mlpd_fail(err, MLPD_ENOTFOUND, "%s: no such row", what);
    return rc;
}

int pgs_run_create(store *base, const char *config_json, const char *dataset, int epochs,
                   int64_t sweep_id, int64_t *id_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, config_json);
    pgs_p_text(&p, dataset);
    pgs_p_i64(&p, epochs);
    pgs_p_double(&p, wall_seconds());
    pgs_p_id_or_null(&p, sweep_id);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s,
                           "INSERT INTO runs (status, config_json, dataset, epochs, created_at,"
                           " sweep_id) VALUES ('queued', $1, $2, $3, $4, $5) RETURNING id",
                           &p, 0, "create run", err);
    if (r) pgs_notify(s, "mlpd_jobs"); /* trainers on any daemon claim it now */
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    if (id_out) *id_out = pgs_i64(r, 0, 0);
    PQclear(r);
    return MLPD_OK;
}

/* The status UPDATE; the caller holds s->mu. */
static int update_status(pg_store *s, int64_t id, run_status status, const char *error,
                         mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_text(&p, run_status_name(status));
    pgs_p_text(&p, error);
    pgs_p_double(&p, wall_seconds());
    return update_one(s,
                      "UPDATE runs SET status = $2,"
                      " error = coalesce($3, CASE WHEN $2 = 'cancelled' THEN cancel_reason END),"
                      " started_at = CASE WHEN $2 = 'running' THEN $4 ELSE started_at END,"
                      " finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'cancelled')"
                      "               THEN $4 ELSE finished_at END "
                      "WHERE id = $1",
                      &p, "set run status", err);
}

int pgs_run_set_status(store *base, int64_t id, run_status status, const char *error,
                       mlpd_error *err) {
    if ((int)status < RUN_QUEUED || status > RUN_CANCELLED)
        return mlpd_fail(err, MLPD_ESTORE, "invalid run status %d", (int)status);
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = update_status(s, id, status, error, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The progress UPDATE; the caller holds s->mu. */
static int update_progress(pg_store *s, int64_t id, int epoch, int64_t step, int64_t steps,
                           double loss, double accuracy, double val_loss, double val_accuracy,
                           double samples_per_sec, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_i64(&p, epoch);
    pgs_p_i64(&p, step);
    pgs_p_i64(&p, steps);
    pgs_p_metric(&p, loss);
    pgs_p_metric(&p, accuracy);
    pgs_p_metric(&p, val_loss);
    pgs_p_metric(&p, val_accuracy);
    pgs_p_metric(&p, samples_per_sec);
    return update_one(s,
                      "UPDATE runs SET epoch = $2, step = $3, steps = $4, loss = $5,"
                      " accuracy = $6, val_loss = $7, val_accuracy = $8,"
                      " samples_per_sec = $9 WHERE id = $1",
                      &p, "set run progress", err);
}

int pgs_run_set_progress(store *base, int64_t id, int epoch, int64_t step, int64_t steps,
                         double loss, double accuracy, double val_loss, double val_accuracy,
                         double samples_per_sec, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = update_progress(s, id, epoch, step, steps, loss, accuracy, val_loss, val_accuracy,
                             samples_per_sec, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The final-results UPDATE; the caller holds s->mu. */
static int update_finish(pg_store *s, int64_t id, double test_loss, double test_accuracy,
                         int64_t model_id, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_metric(&p, test_loss);
    pgs_p_metric(&p, test_accuracy);
    pgs_p_id_or_null(&p, model_id);
    return update_one(s,
                      "UPDATE runs SET test_loss = $2, test_accuracy = $3, model_id = $4 "
                      "WHERE id = $1",
                      &p, "finish run", err);
}

int pgs_run_finish(store *base, int64_t id, double test_loss, double test_accuracy,
                   int64_t model_id, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = update_finish(s, id, test_loss, test_accuracy, model_id, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_run_succeed(store *base, int64_t id, const store_model *meta, const unsigned char *file,
                    size_t len, double test_loss, double test_accuracy,
                    const store_model_derived *derived, int64_t *model_id_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    store_model m = *meta;
    m.run_id = id;
    int64_t model_id = 0;
    pthread_mutex_lock(&s->mu);
    int rc = pgs_begin(s, err);
    if (rc == MLPD_OK) {
        rc = pgs_model_insert(s, &m, file, len, &model_id, NULL, err);
        if (rc == MLPD_OK) rc = update_finish(s, id, test_loss, test_accuracy, model_id, err);
        if (rc == MLPD_OK) rc = update_status(s, id, RUN_SUCCEEDED, NULL, err);
        if (rc == MLPD_OK && derived && derived->eval_json)
            rc = pgs_evaluation_insert(s, model_id, derived->eval_dataset, derived->eval_split,
                                       derived->eval_json, NULL, err);
        if (rc == MLPD_OK && derived && derived->mean)
            rc = pgs_model_mean_insert(s, model_id, derived->mean_dataset, derived->mean,
                                       derived->mean_features, err);
        if (rc == MLPD_OK) pgs_notify(s, "mlpd_models");
        if (rc == MLPD_OK)
            rc = pgs_commit(s, err);
        else
            pgs_rollback(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && model_id_out) *model_id_out = model_id;
    return rc;
}

int pgs_run_get(store *base, int64_t id, store_run *out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pthread_mutex_lock(&s->mu);
    PGresult *r =
        pgs_exec(s, "SELECT " PGS_RUN_COLUMNS " FROM runs WHERE id = $1", &p, 0, "get run", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = PQntuples(r) == 1
                 ? pgs_read_run_row(r, 0, out, err)
                 : mlpd_fail(err, MLPD_ENOTFOUND, "no run with id %lld", (long long)id);
    PQclear(r);
    return rc;
}

int pgs_run_list(store *base, const store_run_query *q, store_run **out, size_t *n, int64_t *total,
                 mlpd_error *err) {
    pg_store *s = pgs_of(base);
    int limit = q->limit < 1 ? 1 : q->limit > 1001 ? 1001 : q->limit;
    int64_t offset = q->offset < 0 ? 0 : q->offset;
    pgs_params p = {0};
    pgs_p_text(&p, q->has_status ? run_status_name(q->status) : NULL);
    pgs_p_i64(&p, limit);
    pgs_p_i64(&p, offset);
    pgs_p_i64(&p, q->before_id > 0 ? q->before_id : INT64_MAX); /* a keyset cursor, or none */
    /* The page, then its total (ignoring the cursor, as store.h says): a count
     * over the runs_status_id index. PostgreSQL keeps no run_counts rows (see
     * migrations/postgresql/006_run_counts.sql). */
    return pgs_read_page(s,
                         "SELECT " PGS_RUN_COLUMNS " FROM runs"
                         " WHERE ($1::text IS NULL OR status = $1) AND id < $4"
                         " ORDER BY id DESC LIMIT $2 OFFSET $3",
                         &p, "SELECT count(*) FROM runs WHERE $1::text IS NULL OR status = $1",
                         "list runs", pgs_read_run_row, pgs_clear_run, sizeof **out, (void **)out,
                         n, total, err);
}

int pgs_run_ids_with_status(store *base, run_status status, int64_t **ids, size_t *n,
                            mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *ids = NULL;
    *n = 0;
    pgs_params p = {0};
    pgs_p_text(&p, run_status_name(status));
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s, "SELECT id FROM runs WHERE status = $1 ORDER BY id", &p, 0,
                           "list run ids", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rows = PQntuples(r);
    int64_t *list = malloc((rows > 0 ? (size_t)rows : 1) * sizeof *list);
    if (!list) {
        PQclear(r);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    for (int i = 0; i < rows; i++) list[i] = pgs_i64(r, i, 0);
    PQclear(r);
    *ids = list;
    *n = (size_t)rows;
    return MLPD_OK;
}

/* ---- metrics ------------------------------------------------------------------------ */

/* The metric INSERTs; the caller holds s->mu and has begun a transaction. */
static int insert_metrics(pg_store *s, const store_metric *m, size_t n, mlpd_error *err) {
    double now = wall_seconds();
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(m[i].value))
            return mlpd_fail(err, MLPD_ESTORE, "metric %.31s of run %lld is not a finite number",
                             m[i].key, (long long)m[i].run_id);
        char key[sizeof m[i].key + 1];
        snprintf(key, sizeof key, "%.*s", (int)strnlen(m[i].key, sizeof m[i].key), m[i].key);
        pgs_params p = {0};
        pgs_p_i64(&p, m[i].run_id);
        pgs_p_text(&p, key);
        pgs_p_i64(&p, m[i].epoch);
        pgs_p_i64(&p, m[i].step);
        pgs_p_double(&p, m[i].value);
        pgs_p_double(&p, m[i].time > 0 ? m[i].time : now);
        if (pgs_cmd(s,
                    "INSERT INTO metrics (run_id, key, epoch, step, value, time) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    &p, "append metric", NULL, err) != MLPD_OK)
            return MLPD_ESTORE;
    }
    return MLPD_OK;
}

/* --keep-step-metrics (store.h): thin run_id's rows of step metric `key` to at most
 * keep, every second one deleted (the first and last kept) until they fit,
 * as the SQLite store does; the caller holds s->mu inside a transaction. */
static int thin_steps(pg_store *s, int64_t run_id, const char *key, mlpd_error *err) {
    int keep = s->keep_step_metrics, rc = MLPD_OK;
    for (int round = 0; keep > 0 && rc == MLPD_OK && round < 64; round++) {
        pgs_params p = {0};
        pgs_p_i64(&p, run_id);
        pgs_p_i64(&p, keep);
        pgs_p_text(&p, key);
        int64_t deleted = 0;
        rc = pgs_cmd(s,
                     "DELETE FROM metrics WHERE id IN (SELECT id FROM (SELECT id,"
                     " row_number() OVER (ORDER BY id) AS i, count(*) OVER () AS n"
                     " FROM metrics WHERE run_id = $1 AND key = $3) x"
                     " WHERE n > $2 AND (i % 2 = 0 OR $2 < 2) AND i < n)",
                     &p, "thin step metrics", &deleted, err);
        if (deleted == 0) break;
    }
    return rc;
}

/* thin_steps for the run of each step metric in m. */
static int thin_after(pg_store *s, const store_metric *m, size_t n, mlpd_error *err) {
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

void pgs_set_keep_step_metrics(store *base, int keep) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    s->keep_step_metrics = keep > 0 ? keep : 0;
    pthread_mutex_unlock(&s->mu);
}

int pgs_metrics_append(store *base, const store_metric *m, size_t n, mlpd_error *err) {
    if (n == 0) return MLPD_OK;
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = pgs_begin(s, err);
    if (rc == MLPD_OK) {
        rc = insert_metrics(s, m, n, err);
        if (rc == MLPD_OK) rc = thin_after(s, m, n, err);
        if (rc == MLPD_OK)
            rc = pgs_commit(s, err);
        else
            pgs_rollback(s);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_run_record_epoch(store *base, int64_t id, const store_metric *m, size_t n, int epoch,
                         int64_t steps, double loss, double accuracy, double val_loss,
                         double val_accuracy, double samples_per_sec, const unsigned char *ckpt,
                         size_t ckpt_len, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params cp = {0};
    pgs_p_i64(&cp, id);
    pgs_p_i64(&cp, epoch);
    pgs_p_bytes(&cp, ckpt, ckpt_len);
    pthread_mutex_lock(&s->mu);
    int rc = pgs_begin(s, err);
    if (rc == MLPD_OK) {
        rc = update_progress(s, id, epoch, steps, steps, loss, accuracy, val_loss, val_accuracy,
                             samples_per_sec, err);
        if (rc == MLPD_OK) rc = insert_metrics(s, m, n, err);
        if (rc == MLPD_OK) rc = thin_after(s, m, n, err);
        /* The checkpoint after this epoch replaces the one before. */
        if (rc == MLPD_OK && ckpt)
            rc = pgs_cmd(s,
                         "INSERT INTO run_checkpoints (run_id, epoch, data) VALUES ($1, $2, $3)"
                         " ON CONFLICT (run_id) DO UPDATE SET epoch = excluded.epoch,"
                         " data = excluded.data",
                         &cp, "store checkpoint", NULL, err);
        if (rc == MLPD_OK)
            rc = pgs_commit(s, err);
        else
            pgs_rollback(s);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_metrics_get(store *base, int64_t run_id, int64_t since_id, int limit, store_metric **out,
                    size_t *n, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *out = NULL;
    *n = 0;
    if (limit < 1) limit = 1;
    if (limit > MAX_METRICS_PER_GET) limit = MAX_METRICS_PER_GET;
    pgs_params p = {0};
    pgs_p_i64(&p, run_id);
    pgs_p_i64(&p, since_id);
    pgs_p_i64(&p, limit);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s,
                           "SELECT id, run_id, key, epoch, step, value, time FROM metrics "
                           "WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                           &p, 0, "get metrics", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rows = PQntuples(r);
    store_metric *list = calloc(rows > 0 ? (size_t)rows : 1, sizeof *list);
    if (!list) {
        PQclear(r);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        store_metric *m = &list[i];
        m->id = pgs_i64(r, i, 0);
        m->run_id = pgs_i64(r, i, 1);
        snprintf(m->key, sizeof m->key, "%s", PQgetvalue(r, i, 2));
        m->epoch = (int)pgs_i64(r, i, 3);
        m->step = pgs_i64(r, i, 4);
        m->value = pgs_time(r, i, 5);
        m->time = pgs_time(r, i, 6);
    }
    PQclear(r);
    *out = list;
    *n = (size_t)rows;
    return MLPD_OK;
}
