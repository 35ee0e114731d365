/* store_pg_evals.c - the PostgreSQL store's evaluation reports and
 * training-set means of models (store.h; the SQLite twin is store_evals.c,
 * the tables migrations/postgresql/003_evaluations.sql). A reference to a
 * model deleted meanwhile fails the foreign key: reported MLPD_ENOTFOUND. */
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

/* 23503: foreign_key_violation (the model is gone). */
static int insert_failed(pg_store *s, int64_t model_id, mlpd_error *err) {
    const char *state = s->last_sqlstate;
    if (!strcmp(state, "23503"))
        return mlpd_fail(err, MLPD_ENOTFOUND, "no model with id %lld", (long long)model_id);
    return MLPD_ESTORE;
}

int pgs_evaluation_insert(pg_store *s, int64_t model_id, const char *dataset, const char *split,
                          const char *report_json, int64_t *id_out, mlpd_error *err) {
    if (!dataset || !split || !report_json)
        return mlpd_fail(err, MLPD_ESTORE, "an evaluation needs its dataset, split and report");
    pgs_params p = {0};
    pgs_p_i64(&p, model_id);
    pgs_p_text(&p, dataset);
    pgs_p_text(&p, split);
    pgs_p_double(&p, wall_seconds());
    pgs_p_text(&p, report_json);
    PGresult *r = pgs_exec(s,
                           "INSERT INTO evaluations (model_id, dataset, split, created_at,"
                           " report_json) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                           &p, 0, "store evaluation", err);
    if (!r) return insert_failed(s, model_id, err);
    if (id_out) *id_out = pgs_i64(r, 0, 0);
    PQclear(r);
    return MLPD_OK;
}

int pgs_evaluation_put(store *base, const store_evaluation *e, int64_t *id_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int rc =
        pgs_evaluation_insert(s, e->model_id, e->dataset, e->split, e->report_json, id_out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_evaluation_latest(store *base, int64_t model_id, store_evaluation *out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    memset(out, 0, sizeof *out);
    pgs_params p = {0};
    pgs_p_i64(&p, model_id);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s,
                           "SELECT id, model_id, dataset, split, created_at, report_json"
                           " FROM evaluations WHERE model_id = $1 ORDER BY id DESC LIMIT 1",
                           &p, 0, "get evaluation", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK, oom = 0;
    if (PQntuples(r) == 1) {
        out->id = pgs_i64(r, 0, 0);
        out->model_id = pgs_i64(r, 0, 1);
        out->dataset = pgs_text(r, 0, 2, &oom);
        out->split = pgs_text(r, 0, 3, &oom);
        out->created_at = pgs_time(r, 0, 4);
        out->report_json = pgs_text(r, 0, 5, &oom);
        if (oom) {
            store_evaluation_clear(out);
            rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
        }
    } else {
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "model %lld has no evaluation", (long long)model_id);
    }
    PQclear(r);
    return rc;
}

/* The floats as their bytes (little-endian, as store_evals.c documents). */
int pgs_model_mean_insert(pg_store *s, int64_t model_id, const char *dataset, const float *mean,
                          int features, mlpd_error *err) {
    if (!dataset || !mean || features < 1) return mlpd_fail(err, MLPD_ESTORE, "no mean to store");
    pgs_params p = {0};
    pgs_p_i64(&p, model_id);
    pgs_p_text(&p, dataset);
    pgs_p_i64(&p, features);
    pgs_p_bytes(&p, mean, (size_t)features * sizeof(float));
    PGresult *r = pgs_exec(s,
                           "INSERT INTO model_input_means (model_id, dataset, features, mean)"
                           " VALUES ($1, $2, $3, $4) ON CONFLICT (model_id) DO UPDATE SET"
                           " dataset = excluded.dataset, features = excluded.features,"
                           " mean = excluded.mean",
                           &p, 0, "store mean", err);
    if (!r) return insert_failed(s, model_id, err);
    PQclear(r);
    return MLPD_OK;
}

int pgs_model_mean_put(store *base, int64_t model_id, const char *dataset, const float *mean,
                       int features, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = pgs_model_mean_insert(s, model_id, dataset, mean, features, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_model_mean_get(store *base, int64_t model_id, float **mean, int *features,
                       mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *mean = NULL;
    *features = 0;
    pgs_params p = {0};
    pgs_p_i64(&p, model_id);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s, "SELECT features, mean FROM model_input_means WHERE model_id = $1",
                           &p, 1, "get mean", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (PQntuples(r) != 1) {
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "model %lld has no recorded mean", (long long)model_id);
    } else {
        /* Binary result: features is a big-endian int4. */
        const unsigned char *b = (const unsigned char *)PQgetvalue(r, 0, 0);
        int n =
            PQgetlength(r, 0, 0) == 4
                ? (int)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3])
                : 0;
        if (n < 1 || PQgetlength(r, 0, 1) != n * (int)sizeof(float))
            rc = mlpd_fail(err, MLPD_ESTORE, "model %lld: malformed recorded mean",
                           (long long)model_id);
        else if (!(*mean = malloc((size_t)n * sizeof(float))))
            rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
        else {
            memcpy(*mean, PQgetvalue(r, 0, 1), (size_t)n * sizeof(float));
            *features = n;
        }
    }
    PQclear(r);
    return rc;
}
