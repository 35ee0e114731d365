/* store_pg_sweeps.c - sweeps on the PostgreSQL store: not supported yet.
 * The sweep scheduler (server/sweeps) runs in every daemon and would start
 * a sweep's children once per daemon on a shared database; until it claims
 * sweeps as jobs are claimed (store_run_claim), a sweep is refused here with
 * that reason and none exists (docs/scale-out.md). */
#include "store_pg_impl.h"

#define NO_SWEEPS "sweeps need the SQLite store for now (one daemon): see docs/scale-out.md"

int pgs_sweep_create(store *s, const char *config_json, int64_t *id_out, mlpd_error *err) {
    (void)s, (void)config_json, (void)id_out;
    return mlpd_fail(err, MLPD_ECONFLICT, NO_SWEEPS);
}

int pgs_sweep_get(store *s, int64_t id, store_sweep *out, mlpd_error *err) {
    (void)s, (void)out;
    return mlpd_fail(err, MLPD_ENOTFOUND, "no sweep with id %lld", (long long)id);
}

int pgs_sweep_set_status(store *s, int64_t id, run_status st, const char *error, mlpd_error *err) {
    (void)s, (void)st, (void)error;
    return mlpd_fail(err, MLPD_ENOTFOUND, "no sweep with id %lld", (long long)id);
}

int pgs_sweep_set_best(store *s, int64_t id, int64_t run_id, double value, mlpd_error *err) {
    (void)s, (void)run_id, (void)value;
    return mlpd_fail(err, MLPD_ENOTFOUND, "no sweep with id %lld", (long long)id);
}

int pgs_sweep_list(store *s, const store_run_query *q, store_sweep **out, size_t *n, int64_t *total,
                   mlpd_error *err) {
    (void)s, (void)q, (void)err;
    *out = NULL;
    *n = 0;
    if (total) *total = 0;
    return MLPD_OK;
}

int pgs_sweep_ids_with_status(store *s, run_status st, int64_t **ids, size_t *n, mlpd_error *err) {
    (void)s, (void)st, (void)err;
    *ids = NULL;
    *n = 0;
    return MLPD_OK;
}

int pgs_sweep_children(store *s, int64_t sweep_id, int limit, store_run **out, size_t *n,
                       mlpd_error *err) {
    (void)s, (void)sweep_id, (void)limit, (void)err;
    *out = NULL;
    *n = 0;
    return MLPD_OK;
}
