/* store_pg_registry.c - the PostgreSQL store's model registry: versions by
 * name, aliases, canaries (see store.h for contracts, the SQLite twin is
 * store_registry.c, the tables migrations/postgresql/002_registry.sql).
 *
 * Several daemons may register versions of one name at once: the version
 * number is taken under pg_advisory_xact_lock of the name's hash, so the
 * second waits for the first's commit and takes the next number (without
 * the lock both would read the same max(version) and one would fail on the
 * UNIQUE constraint). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

int pgs_register_version(pg_store *s, int64_t id, const char *name, int *version_out,
                         mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pgs_p_text(&p, name);
    /* Two statements: the lock must be held before max(version) is read. */
    pgs_params lp = {0};
    pgs_p_text(&lp, name);
    if (pgs_cmd(s, "SELECT pg_advisory_xact_lock(hashtext($1))", &lp, "lock the name", NULL, err) !=
        MLPD_OK)
        return MLPD_ESTORE;
    PGresult *r = pgs_exec(s,
                           "INSERT INTO model_versions (model_id, name, version) "
                           "SELECT $1, $2::text, coalesce(max(version), 0) + 1 FROM model_versions "
                           "WHERE name = $2::text RETURNING version",
                           &p, 0, "register version", err);
    if (!r) return MLPD_ESTORE;
    if (version_out) *version_out = (int)pgs_i64(r, 0, 0);
    PQclear(r);
    return MLPD_OK;
}

/* Does version `version` of name exist? (s->mu held) */
static int find_version(pg_store *s, const char *name, int version, int64_t *id_out,
                        mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_text(&p, name);
    pgs_p_i64(&p, version);
    PGresult *r =
        pgs_exec(s, "SELECT model_id FROM model_versions WHERE name = $1 AND version = $2", &p, 0,
                 "find version", err);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (PQntuples(r) == 1) {
        if (id_out) *id_out = pgs_i64(r, 0, 0);
    } else {
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "no version %d of model '%s'", version, name);
    }
    PQclear(r);
    return rc;
}

int pgs_model_find(store *base, const char *name, int version, int64_t *id_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = find_version(s, name, version, id_out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_alias_set(store *base, const char *name, const char *alias, int version, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, name);
    pgs_p_text(&p, alias);
    pgs_p_i64(&p, version);
    pthread_mutex_lock(&s->mu);
    /* One statement: the alias moves atomically (readers see old or new). */
    int rc = find_version(s, name, version, NULL, err);
    if (rc == MLPD_OK)
        rc = pgs_cmd(s,
                     "INSERT INTO model_aliases (name, alias, version) VALUES ($1, $2, $3) "
                     "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                     &p, "set alias", NULL, err);
    if (rc == MLPD_OK) pgs_notify(s, "mlpd_models");
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_alias_delete(store *base, const char *name, const char *alias, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, name);
    pgs_p_text(&p, alias);
    int64_t changed = 0;
    pthread_mutex_lock(&s->mu);
    int rc = pgs_cmd(s, "DELETE FROM model_aliases WHERE name = $1 AND alias = $2", &p,
                     "delete alias", &changed, err);
    if (rc == MLPD_OK && changed) pgs_notify(s, "mlpd_models");
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && changed == 0)
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "no alias '%s' of model '%s'", alias, name);
    return rc;
}

int pgs_canary_set(store *base, const char *name, int version, int percent, mlpd_error *err) {
    if (percent < 0 || percent > 100)
        return mlpd_fail(err, MLPD_ESTORE, "percent must be in [0, 100]");
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, name);
    pthread_mutex_lock(&s->mu);
    int rc;
    if (percent == 0) {
        rc = pgs_cmd(s, "DELETE FROM model_canaries WHERE name = $1", &p, "end canary", NULL, err);
    } else {
        pgs_p_i64(&p, version);
        pgs_p_i64(&p, percent);
        rc = find_version(s, name, version, NULL, err);
        if (rc == MLPD_OK)
            rc = pgs_cmd(s,
                         "INSERT INTO model_canaries (name, version, percent) VALUES ($1, $2, $3) "
                         "ON CONFLICT (name) DO UPDATE SET version = excluded.version,"
                         " percent = excluded.percent",
                         &p, "set canary", NULL, err);
    }
    if (rc == MLPD_OK) pgs_notify(s, "mlpd_models");
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- the whole registry ------------------------------------------------------------- */

static void copy_cell(char *dst, size_t cap, const PGresult *r, int row, int col) {
    snprintf(dst, cap, "%s", PQgetvalue(r, row, col));
}

/* The rows of r as an array of elem-sized records filled by fill. */
static int take_rows(const PGresult *r, size_t elem, void (*fill)(const PGresult *, int, void *),
                     void **out, size_t *n, mlpd_error *err) {
    int rows = PQntuples(r);
    char *arr = calloc(rows > 0 ? (size_t)rows : 1, elem);
    if (!arr) return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    for (int i = 0; i < rows; i++) fill(r, i, arr + (size_t)i * elem);
    *out = arr;
    *n = (size_t)rows;
    return MLPD_OK;
}

static void fill_version(const PGresult *r, int row, void *rec) {
    store_reg_version *v = rec;
    copy_cell(v->name, sizeof v->name, r, row, 0);
    v->version = (int)pgs_i64(r, row, 1);
    v->model_id = pgs_i64(r, row, 2);
}

static void fill_alias(const PGresult *r, int row, void *rec) {
    store_reg_alias *a = rec;
    copy_cell(a->name, sizeof a->name, r, row, 0);
    copy_cell(a->alias, sizeof a->alias, r, row, 1);
    a->version = (int)pgs_i64(r, row, 2);
}

static void fill_canary(const PGresult *r, int row, void *rec) {
    store_reg_canary *c = rec;
    copy_cell(c->name, sizeof c->name, r, row, 0);
    c->version = (int)pgs_i64(r, row, 1);
    c->percent = (int)pgs_i64(r, row, 2);
}

int pgs_registry_load(store *base, store_registry *out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    /* One snapshot for the three tables (REPEATABLE READ, read only). */
    int rc =
        pgs_cmd(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, "begin", NULL, err);
    PGresult *v = NULL, *a = NULL, *c = NULL;
    if (rc == MLPD_OK)
        v = pgs_exec(s, "SELECT name, version, model_id FROM model_versions ORDER BY name, version",
                     NULL, 0, "load registry", err);
    if (v)
        a = pgs_exec(s, "SELECT name, alias, version FROM model_aliases ORDER BY name, alias", NULL,
                     0, "load registry", err);
    if (a)
        c = pgs_exec(s, "SELECT name, version, percent FROM model_canaries ORDER BY name", NULL, 0,
                     "load registry", err);
    pgs_rollback(s); /* read-only: nothing to keep */
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && !c) rc = MLPD_ESTORE;
    if (rc == MLPD_OK)
        rc = take_rows(v, sizeof *out->versions, fill_version, (void **)&out->versions,
                       &out->n_versions, err);
    if (rc == MLPD_OK)
        rc = take_rows(a, sizeof *out->aliases, fill_alias, (void **)&out->aliases, &out->n_aliases,
                       err);
    if (rc == MLPD_OK)
        rc = take_rows(c, sizeof *out->canaries, fill_canary, (void **)&out->canaries,
                       &out->n_canaries, err);
    PQclear(v);
    PQclear(a);
    PQclear(c);
    if (rc != MLPD_OK) store_registry_free(out);
    return rc;
}
