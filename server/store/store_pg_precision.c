/* store_pg_precision.c - the PostgreSQL store's serving precision of model
 * versions (store.h; migrations/postgresql/005_model_precision.sql; the
 * SQLite twin is store_precision.c). A model with no row serves in float32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

int pgs_model_precision_put(store *base, const store_model_precision *p, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params q = {0};
    pgs_p_i64(&q, p->model_id);
    pgs_p_text(&q, p->precision);
    pgs_p_text(&q, p->dataset);
    pgs_p_i64(&q, p->test_rows);
    pgs_p_double(&q, p->accuracy_float32);
    pgs_p_double(&q, p->accuracy);
    pgs_p_double(&q, wall_seconds());
    int64_t changed = 0;
    pthread_mutex_lock(&s->mu);
    /* INSERT ... SELECT from models: no row when the model is gone. */
    int rc = pgs_cmd(s,
                     "INSERT INTO model_precisions (model_id, precision, dataset, test_rows,"
                     " accuracy_float32, accuracy, created_at)"
                     " SELECT id, $2, $3, $4, $5, $6, $7 FROM models WHERE id = $1"
                     " ON CONFLICT (model_id) DO UPDATE SET precision = excluded.precision,"
                     " dataset = excluded.dataset, test_rows = excluded.test_rows,"
                     " accuracy_float32 = excluded.accuracy_float32,"
                     " accuracy = excluded.accuracy, created_at = excluded.created_at",
                     &q, "store model precision", &changed, err);
    if (rc == MLPD_OK && changed) pgs_notify(s, "mlpd_models"); /* other daemons' caches */
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && changed == 0)
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "no model with id %lld", (long long)p->model_id);
    return rc;
}

int pgs_model_precision_clear(store *base, int64_t model_id, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params q = {0};
    pgs_p_i64(&q, model_id);
    pthread_mutex_lock(&s->mu);
    int64_t changed = 0;
    int rc = pgs_cmd(s, "DELETE FROM model_precisions WHERE model_id = $1", &q,
                     "clear model precision", &changed, err);
    if (rc == MLPD_OK && changed) pgs_notify(s, "mlpd_models");
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_model_precision_get(store *base, int64_t model_id, store_model_precision *out,
                            mlpd_error *err) {
    pg_store *s = pgs_of(base);
    memset(out, 0, sizeof *out);
    pgs_params q = {0};
    pgs_p_i64(&q, model_id);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s,
                           "SELECT precision, dataset, test_rows, accuracy_float32, accuracy,"
                           " created_at FROM model_precisions WHERE model_id = $1",
                           &q, 0, "get model precision", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (PQntuples(r) != 1) {
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "model serves in float32");
    } else {
        out->model_id = model_id;
        snprintf(out->precision, sizeof out->precision, "%s", PQgetvalue(r, 0, 0));
        snprintf(out->dataset, sizeof out->dataset, "%s", PQgetvalue(r, 0, 1));
        out->test_rows = pgs_i64(r, 0, 2);
        out->accuracy_float32 = pgs_metric(r, 0, 3);
        out->accuracy = pgs_metric(r, 0, 4);
        out->created_at = pgs_time(r, 0, 5);
    }
    PQclear(r);
    return rc;
}
