/* store_pg_sweeps.c - the PostgreSQL store's sweeps (contracts in store.h;
 * tables in migrations/postgresql/007_sweeps.sql and 011_sweep_leases.sql;
 * the SQLite twin is store_sweeps.c). Several daemons share them: each
 * sweep is scheduled by the daemon holding its lease (store_sweep_claim). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

#define SWEEP_COLUMNS                                                                              \
    "id, status, config_json, error, created_at, started_at, finished_at, best_run_id, "           \
    "best_value"
#define MAX_CHILDREN 10000

static void clear_sweep(void *w) {
    store_sweep_clear(w);
}

static int read_sweep_row(const PGresult *r, int row, void *item, mlpd_error *err) {
    store_sweep *w = item;
    memset(w, 0, sizeof *w);
    int oom = 0;
    w->id = pgs_i64(r, row, 0);
    const char *status = PQgetvalue(r, row, 1);
    if (run_status_from_name(status, &w->status) != 0)
        return mlpd_fail(err, MLPD_ESTORE, "sweep %lld has an unknown status '%s'",
                         (long long)w->id, status);
    w->config_json = pgs_text(r, row, 2, &oom);
    w->error = pgs_text(r, row, 3, &oom);
    w->created_at = pgs_time(r, row, 4);
    w->started_at = pgs_time(r, row, 5);
    w->finished_at = pgs_time(r, row, 6);
    w->best_run_id = pgs_i64(r, row, 7);
    w->best_value = pgs_metric(r, row, 8);
    if (oom) {
        store_sweep_clear(w);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

/* Run a query under s->mu; NULL after filling err. */
static PGresult *query(pg_store *s, const char *sql, const pgs_params *p, const char *what,
                       mlpd_error *err) {
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s, sql, p, 0, what, err);
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* A statement changing one row under s->mu: MLPD_ENOTFOUND "<what>: <none>"
 * when no row changed. */
static int change_one(pg_store *s, const char *sql, const pgs_params *p, const char *what,
                      int none_code, const char *none, mlpd_error *err) {
    int64_t changed = 0;
    pthread_mutex_lock(&s->mu);
    int rc = pgs_cmd(s, sql, p, what, &changed, err);
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && changed == 0) rc = mlpd_fail(err, none_code, "%s: %s", what, none);
    return rc;
}

int pgs_sweep_create(store *base, const char *config_json, const char *worker, double lease_seconds,
                     int64_t *id_out, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_text(&p, config_json);
    pgs_p_double(&p, wall_seconds());
    pgs_p_text(&p, worker);
    pgs_p_double(&p, lease_seconds);
    PGresult *r = query(pgs_of(base),
                        "INSERT INTO sweeps (status, config_json, created_at, worker, lease_until)"
                        " VALUES ('queued', $1, $2, $3, $2::float8 + $4::float8) RETURNING id",
                        &p, "create sweep", err);
    if (!r) return MLPD_ESTORE;
    if (id_out) *id_out = pgs_i64(r, 0, 0);
    PQclear(r);
    return MLPD_OK;
}

int pgs_sweep_claim(store *base, const char *worker, double lease_seconds, int own,
                    int64_t after_id, int64_t *id_out, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_text(&p, worker);
    pgs_p_double(&p, wall_seconds());
    pgs_p_double(&p, lease_seconds);
    pgs_p_i64(&p, own != 0);
    pgs_p_i64(&p, after_id);
    PGresult *r =
        query(pgs_of(base),
              "UPDATE sweeps SET worker = $1, lease_until = $2::float8 + $3::float8 WHERE id = ("
              "SELECT id FROM sweeps WHERE status IN ('queued', 'running')"
              " AND (worker IS NULL OR lease_until < $2 OR ($4::int = 1 AND worker = $1))"
              " AND id > $5 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
              &p, "claim sweep", err);
    if (!r) return MLPD_ESTORE;
    int rc = PQntuples(r) == 1 ? MLPD_OK : mlpd_fail(err, MLPD_ENOTFOUND, "no sweep to claim");
    if (rc == MLPD_OK) *id_out = pgs_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int pgs_sweep_renew(store *base, int64_t id, const char *worker, double lease_seconds,
                    mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_text(&p, worker);
    pgs_p_double(&p, wall_seconds());
    pgs_p_double(&p, lease_seconds);
    char none[200];
    snprintf(none, sizeof none, "sweep %lld is no longer held by %s", (long long)id, worker);
    return change_one(
        pgs_of(base),
        "UPDATE sweeps SET lease_until = $3::float8 + $4::float8 WHERE id = $1 AND worker = $2"
        " AND status IN ('queued', 'running')",
        &p, "renew sweep", MLPD_ECONFLICT, none, err);
}

int pgs_sweep_get(store *base, int64_t id, store_sweep *out, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    PGresult *r = query(pgs_of(base), "SELECT " SWEEP_COLUMNS " FROM sweeps WHERE id = $1", &p,
                        "get sweep", err);
    if (!r) return MLPD_ESTORE;
    int rc = PQntuples(r) == 1
                 ? read_sweep_row(r, 0, out, err)
                 : mlpd_fail(err, MLPD_ENOTFOUND, "no sweep with id %lld", (long long)id);
    PQclear(r);
    return rc;
}

int pgs_sweep_set_status(store *base, int64_t id, run_status st, const char *error,
                         mlpd_error *err) {
    if ((int)st < RUN_QUEUED || st > RUN_CANCELLED)
        return mlpd_fail(err, MLPD_ESTORE, "invalid sweep status %d", (int)st);
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_text(&p, run_status_name(st));
    pgs_p_text(&p, error);
    pgs_p_double(&p, wall_seconds());
    return change_one(pgs_of(base),
                      "UPDATE sweeps SET status = $2, error = $3,"
                      " started_at = CASE WHEN $2 = 'running' AND started_at IS NULL THEN $4"
                      "              ELSE started_at END,"
                      " finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'cancelled')"
                      "               THEN $4 ELSE finished_at END "
                      "WHERE id = $1",
                      &p, "set sweep status", MLPD_ENOTFOUND, "no such sweep", err);
}

int pgs_sweep_set_best(store *base, int64_t id, int64_t run_id, double value, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_i64(&p, run_id);
    pgs_p_metric(&p, value);
    return change_one(pgs_of(base),
                      "UPDATE sweeps SET best_run_id = $2, best_value = $3 WHERE id = $1", &p,
                      "set sweep best", MLPD_ENOTFOUND, "no such sweep", err);
}

int pgs_sweep_list(store *base, const store_run_query *q, store_sweep **out, size_t *n,
                   int64_t *total, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    int limit = q->limit < 1 ? 1 : q->limit > 1000 ? 1000 : q->limit;
    pgs_params p = {0};
    pgs_p_text(&p, q->has_status ? run_status_name(q->status) : NULL);
    pgs_p_i64(&p, limit);
    pgs_p_i64(&p, q->offset < 0 ? 0 : q->offset);
    return pgs_read_page(s,
                         "SELECT " SWEEP_COLUMNS " FROM sweeps WHERE $1::text IS NULL"
                         " OR status = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
                         &p, "SELECT count(*) FROM sweeps WHERE $1::text IS NULL OR status = $1",
                         "list sweeps", read_sweep_row, clear_sweep, sizeof **out, (void **)out, n,
                         total, err);
}

int pgs_sweep_children(store *base, int64_t sweep_id, int limit, store_run **out, size_t *n,
                       mlpd_error *err) {
    *out = NULL;
    *n = 0;
    if (limit < 1) limit = 1;
    if (limit > MAX_CHILDREN) limit = MAX_CHILDREN;
    pgs_params p = {0};
    pgs_p_i64(&p, sweep_id);
    pgs_p_i64(&p, limit);
    PGresult *r = query(pgs_of(base),
                        "SELECT " PGS_RUN_COLUMNS " FROM runs WHERE sweep_id = $1"
                        " ORDER BY id LIMIT $2",
                        &p, "list children", err);
    if (!r) return MLPD_ESTORE;
    int rc = pgs_read_rows(r, pgs_read_run_row, pgs_clear_run, sizeof **out, (void **)out, n, err);
    PQclear(r);
    return rc;
}
