/* store_evals.c - the SQLite store's evaluation reports and training-set means
 * of models (store.h; tables of migrations/003_evaluations.sql).
 *
 * A reference to a missing model is a foreign-key failure in SQLite; it is
 * reported as MLPD_ENOTFOUND (the model was deleted meanwhile) by checking
 * the model first inside the same lock.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

void store_evaluation_clear(store_evaluation *e) {
    if (!e) return;
    free(e->dataset);
    free(e->split);
    free(e->report_json);
    memset(e, 0, sizeof *e);
}

/* MLPD_OK when model id exists, MLPD_ENOTFOUND, or MLPD_ESTORE. Lock held. */
static int model_exists(sqlite_store *s, int64_t id, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT 1 FROM models WHERE id = ?1", &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    rc = step == SQLITE_ROW    ? MLPD_OK
         : step == SQLITE_DONE ? MLPD_ENOTFOUND
                               : store_fail_sql(s, err, "find model");
    sqlite3_finalize(st);
    return rc;
}

int store_evaluation_insert(sqlite_store *s, int64_t model_id, const char *dataset,
                            const char *split, const char *report_json, int64_t *id_out,
                            mlpd_error *err) {
    if (!dataset || !split || !report_json)
        return mlpd_fail(err, MLPD_ESTORE, "an evaluation needs its dataset, split and report");
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO evaluations (model_id, dataset, split, created_at,"
                           " report_json) VALUES (?1, ?2, ?3, ?4, ?5)",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, model_id);
    sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, split, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, wall_seconds());
    sqlite3_bind_text(st, 5, report_json, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) {
        if (id_out) *id_out = sqlite3_last_insert_rowid(s->db);
    } else {
        rc = store_fail_sql(s, err, "store evaluation");
    }
    sqlite3_finalize(st);
    return rc;
}

int sqlite_evaluation_put(store *base, const store_evaluation *e, int64_t *id_out,
                          mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = model_exists(s, e->model_id, err);
    if (rc == MLPD_OK)
        rc = store_evaluation_insert(s, e->model_id, e->dataset, e->split, e->report_json, id_out,
                                     err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int read_evaluation(sqlite3_stmt *st, void *item, mlpd_error *err) {
    store_evaluation *e = item;
    int oom = 0;
    e->id = sqlite3_column_int64(st, 0);
    e->model_id = sqlite3_column_int64(st, 1);
    e->dataset = store_column_text(st, 2, &oom);
    e->split = store_column_text(st, 3, &oom);
    e->created_at = store_column_time(st, 4);
    e->report_json = store_column_text(st, 5, &oom);
    if (!oom) return MLPD_OK;
    store_evaluation_clear(e);
    return mlpd_fail(err, MLPD_ESTORE, "out of memory");
}

int sqlite_evaluation_latest(store *base, int64_t model_id, store_evaluation *out,
                             mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT id, model_id, dataset, split, created_at, report_json"
                           " FROM evaluations WHERE model_id = ?1 ORDER BY id DESC LIMIT 1",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, model_id);
        rc = store_read_one(s, st, read_evaluation, out, "get evaluation: not found",
                            "get evaluation", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The floats are stored as their bytes: the daemon reads them back on the
 * same machine (x86-64 and arm64 are both little-endian, as documented). */
int store_model_mean_insert(sqlite_store *s, int64_t model_id, const char *dataset,
                            const float *mean, int features, mlpd_error *err) {
    if (!dataset || !mean || features < 1) return mlpd_fail(err, MLPD_ESTORE, "no mean to store");
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT OR REPLACE INTO model_input_means (model_id, dataset, features,"
                           " mean) VALUES (?1, ?2, ?3, ?4)",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, model_id);
    sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, features);
    sqlite3_bind_blob(st, 4, mean, features * (int)sizeof(float), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "store mean");
    sqlite3_finalize(st);
    return rc;
}

int sqlite_model_mean_put(store *base, int64_t model_id, const char *dataset, const float *mean,
                          int features, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = model_exists(s, model_id, err);
    if (rc == MLPD_OK) rc = store_model_mean_insert(s, model_id, dataset, mean, features, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_model_mean_get(store *base, int64_t model_id, float **mean, int *features,
                          mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *mean = NULL;
    *features = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT features, mean FROM model_input_means WHERE model_id = ?1",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, model_id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            int n = sqlite3_column_int(st, 0);
            const void *blob = sqlite3_column_blob(st, 1);
            if (n < 1 || sqlite3_column_bytes(st, 1) != n * (int)sizeof(float) || !blob) {
                rc = mlpd_fail(err, MLPD_ESTORE, "model %lld: malformed recorded mean",
                               (long long)model_id);
            } else if (!(*mean = malloc((size_t)n * sizeof(float)))) {
                rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
            } else {
                memcpy(*mean, blob, (size_t)n * sizeof(float));
                *features = n;
            }
        } else {
            rc = step == SQLITE_DONE ? mlpd_fail(err, MLPD_ENOTFOUND, "get mean: not found")
                                     : store_fail_sql(s, err, "get mean");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
