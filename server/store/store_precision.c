/* store_precision.c - the SQLite store's serving precision of model versions
 * (store.h; migrations/005_model_precision.sql; the PostgreSQL twin is
 * store_pg_precision.c). A model with no row serves in float32.
 */
#include <stdio.h>
#include <string.h>

#include "store_sqlite_impl.h"

int sqlite_model_precision_put(store *base, const store_model_precision *p, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    /* INSERT ... SELECT from models: no row when the model is gone, which is
     * told apart from a failure by sqlite3_changes. */
    int rc = store_prepare(s,
                           "INSERT OR REPLACE INTO model_precisions (model_id, precision, dataset,"
                           " test_rows, accuracy_float32, accuracy, created_at)"
                           " SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM models WHERE id = ?1",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, p->model_id);
        sqlite3_bind_text(st, 2, p->precision, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p->dataset, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, p->test_rows);
        sqlite3_bind_double(st, 5, p->accuracy_float32);
        sqlite3_bind_double(st, 6, p->accuracy);
        sqlite3_bind_double(st, 7, wall_seconds());
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = store_fail_sql(s, err, "store model precision");
        else if (sqlite3_changes(s->db) == 0)
            rc = mlpd_fail(err, MLPD_ENOTFOUND, "no model with id %lld", (long long)p->model_id);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_model_precision_clear(store *base, int64_t model_id, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "DELETE FROM model_precisions WHERE model_id = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, model_id);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "clear model precision");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_model_precision_get(store *base, int64_t model_id, store_model_precision *out,
                               mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT precision, dataset, test_rows, accuracy_float32, accuracy,"
                           " created_at FROM model_precisions WHERE model_id = ?1",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, model_id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            out->model_id = model_id;
            snprintf(out->precision, sizeof out->precision, "%s",
                     (const char *)sqlite3_column_text(st, 0));
            snprintf(out->dataset, sizeof out->dataset, "%s",
                     (const char *)sqlite3_column_text(st, 1));
            out->test_rows = sqlite3_column_int64(st, 2);
            out->accuracy_float32 = sqlite3_column_double(st, 3);
            out->accuracy = sqlite3_column_double(st, 4);
            out->created_at = sqlite3_column_double(st, 5);
        } else {
            rc = step == SQLITE_DONE ? mlpd_fail(err, MLPD_ENOTFOUND, "model serves in float32")
                                     : store_fail_sql(s, err, "get model precision");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
