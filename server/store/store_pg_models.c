/* store_pg_models.c - the PostgreSQL store's models and datasets (see store.h
 * for contracts; the SQLite twin is store_models.c). A model's bytes are a
 * BYTEA column written by the same INSERT as its metadata, so every replica
 * sees a model whole or not at all; they travel as binary parameters and
 * results (no hex or escape encoding). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

/* A model's metadata with its registered name and version (models m JOIN
 * model_versions v). */
#define MODEL_COLUMNS                                                                              \
    "m.id, m.run_id, v.name, m.arch_json, m.config_json, m.metrics_json, m.checksum, "             \
    "m.size_bytes, m.n_params, m.created_at, v.version"
#define MODEL_FROM " FROM models m JOIN model_versions v ON v.model_id = m.id "
#define DATASET_COLUMNS                                                                            \
    "id, name, source, path, format, n_train, n_test, features, classes, created_at, class_names"

/* ---- models ----------------------------------------------------------------------- */

static void clear_model(void *m) {
    store_model_clear(m);
}

static int read_model_row(const PGresult *r, int row, void *item, mlpd_error *err) {
    store_model *m = item;
    memset(m, 0, sizeof *m);
    int oom = 0;
    m->id = pgs_i64(r, row, 0);
    m->run_id = pgs_i64(r, row, 1); /* NULL (upload) reads as 0 */
    m->name = pgs_text(r, row, 2, &oom);
    m->arch_json = pgs_text(r, row, 3, &oom);
    m->config_json = pgs_text(r, row, 4, &oom);
    m->metrics_json = pgs_text(r, row, 5, &oom);
    m->checksum = pgs_text(r, row, 6, &oom);
    m->size_bytes = pgs_i64(r, row, 7);
    m->n_params = pgs_i64(r, row, 8);
    m->created_at = pgs_time(r, row, 9);
    m->version = (int)pgs_i64(r, row, 10);
    if (oom) {
        store_model_clear(m);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

int pgs_model_insert(pg_store *s, const store_model *meta, const unsigned char *file, size_t len,
                     int64_t *id_out, int *version_out, mlpd_error *err) {
    /* store.c checked the model and set its checksum (store_model_check). */
    const char *checksum = meta->checksum;
    pgs_params p = {0};
    pgs_p_id_or_null(&p, meta->run_id);
    pgs_p_text(&p, meta->arch_json);
    pgs_p_text(&p, meta->config_json);
    pgs_p_text(&p, meta->metrics_json);
    pgs_p_text(&p, checksum);
    pgs_p_i64(&p, (int64_t)len);
    pgs_p_i64(&p, meta->n_params);
    pgs_p_double(&p, wall_seconds());
    pgs_p_bytes(&p, file, len);
    PGresult *r = pgs_exec(s,
                           "INSERT INTO models (run_id, arch_json, config_json,"
                           " metrics_json, checksum, size_bytes, n_params, created_at, file) "
                           "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                           &p, 0, "store model", err);
    if (!r) return MLPD_ESTORE;
    int64_t id = pgs_i64(r, 0, 0);
    PQclear(r);
    int rc = pgs_register_version(s, id, meta->name, version_out, err);
    if (rc == MLPD_OK && id_out) *id_out = id;
    return rc;
}

int pgs_model_put(store *base, const store_model *meta, const unsigned char *file, size_t len,
                  int64_t *id_out, int *version_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    /* The model row and its version together, or neither. */
    int rc = pgs_begin(s, err);
    if (rc == MLPD_OK) rc = pgs_model_insert(s, meta, file, len, id_out, version_out, err);
    if (rc == MLPD_OK) pgs_notify(s, "mlpd_models"); /* other daemons' caches */
    if (rc == MLPD_OK)
        rc = pgs_commit(s, err);
    else
        pgs_rollback(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pgs_model_get(store *base, int64_t id, store_model *out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pthread_mutex_lock(&s->mu);
    PGresult *r =
        pgs_exec(s, "SELECT " MODEL_COLUMNS MODEL_FROM "WHERE m.id = $1", &p, 0, "get model", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = PQntuples(r) == 1 ? read_model_row(r, 0, out, err)
                               : mlpd_fail(err, MLPD_ENOTFOUND, "get model: not found");
    PQclear(r);
    return rc;
}

int pgs_model_file(store *base, int64_t id, unsigned char **file, size_t *len, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *file = NULL;
    *len = 0;
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    pthread_mutex_lock(&s->mu);
    PGresult *r =
        pgs_exec(s, "SELECT file FROM models WHERE id = $1", &p, 1, "read model file", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (PQntuples(r) != 1) {
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "read model file: not found");
    } else {
        int n = PQgetlength(r, 0, 0);
        unsigned char *copy = malloc(n > 0 ? (size_t)n : 1);
        if (!copy) {
            rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
        } else {
            if (n > 0) memcpy(copy, PQgetvalue(r, 0, 0), (size_t)n);
            *file = copy;
            *len = (size_t)n;
        }
    }
    PQclear(r);
    return rc;
}

int pgs_model_list(store *base, int limit, int64_t offset, int64_t before_id, store_model **out,
                   size_t *n, int64_t *total, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *out = NULL;
    *n = 0;
    if (limit < 1) limit = 1;
    if (limit > 1001) limit = 1001; /* the API's 1000 and one look-ahead row */
    if (offset < 0) offset = 0;
    pgs_params p = {0};
    pgs_p_i64(&p, limit);
    pgs_p_i64(&p, offset);
    pgs_p_i64(&p, before_id > 0 ? before_id : INT64_MAX); /* a keyset cursor, or none */
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s,
                           "SELECT " MODEL_COLUMNS ", (SELECT count(*) FROM models)" MODEL_FROM
                           "WHERE m.id < $3 ORDER BY m.id DESC LIMIT $1 OFFSET $2",
                           &p, 0, "list models", err);
    PGresult *c = NULL;
    if (r && total && PQntuples(r) == 0)
        c = pgs_exec(s, "SELECT count(*) FROM models", NULL, 0, "count models", err);
    pthread_mutex_unlock(&s->mu);
    if (!r || (total && PQntuples(r) == 0 && !c)) {
        PQclear(r);
        return MLPD_ESTORE;
    }
    if (total) *total = PQntuples(r) > 0 ? pgs_i64(r, 0, 11) : pgs_i64(c, 0, 0);
    PQclear(c);
    int rc = pgs_read_rows(r, read_model_row, clear_model, sizeof **out, (void **)out, n, err);
    PQclear(r);
    return rc;
}

/* MLPD_ECONFLICT when an alias or a canary points at model id (s->mu held). */
static int check_unreferenced(pg_store *s, int64_t id, mlpd_error *err) {
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    PGresult *r = pgs_exec(s,
                           "SELECT v.name, v.version, a.alias FROM model_versions v "
                           "JOIN model_aliases a ON a.name = v.name AND a.version = v.version "
                           "WHERE v.model_id = $1 UNION ALL "
                           "SELECT v.name, v.version, NULL FROM model_versions v "
                           "JOIN model_canaries c ON c.name = v.name AND c.version = v.version "
                           "WHERE v.model_id = $1 LIMIT 1",
                           &p, 0, "delete model", err);
    if (!r) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (PQntuples(r) == 1) {
        const char *name = PQgetvalue(r, 0, 0);
        int version = (int)pgs_i64(r, 0, 1);
        if (!PQgetisnull(r, 0, 2))
            rc = mlpd_fail(err, MLPD_ECONFLICT,
                           "version %d of model '%s' is aliased as '%s': move or delete the alias "
                           "first",
                           version, name, PQgetvalue(r, 0, 2));
        else
            rc = mlpd_fail(err, MLPD_ECONFLICT,
                           "version %d of model '%s' is its canary: end the canary first", version,
                           name);
    }
    PQclear(r);
    return rc;
}

int pgs_model_delete(store *base, int64_t id, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_i64(&p, id);
    int64_t changed = 0;
    pthread_mutex_lock(&s->mu);
    /* In one transaction, so an alias set between the check and the delete
     * fails the delete on the foreign key rather than leaving a dangling alias. */
    int rc = pgs_begin(s, err);
    if (rc == MLPD_OK) rc = check_unreferenced(s, id, err);
    /* runs.model_id of the run that made it becomes NULL (ON DELETE SET NULL);
     * its model_versions row goes with it (ON DELETE CASCADE). */
    if (rc == MLPD_OK)
        rc = pgs_cmd(s, "DELETE FROM models WHERE id = $1", &p, "delete model", &changed, err);
    if (rc == MLPD_OK && changed) pgs_notify(s, "mlpd_models");
    if (rc == MLPD_OK)
        rc = pgs_commit(s, err);
    else
        pgs_rollback(s);
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && changed == 0)
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "delete model: not found");
    return rc;
}

int pgs_model_versions(store *base, const char *name, store_model **out, size_t *n,
                       mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *out = NULL;
    *n = 0;
    pgs_params p = {0};
    pgs_p_text(&p, name);
    pthread_mutex_lock(&s->mu);
    PGresult *r =
        pgs_exec(s, "SELECT " MODEL_COLUMNS MODEL_FROM "WHERE v.name = $1 ORDER BY v.version", &p,
                 0, "list versions", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = pgs_read_rows(r, read_model_row, clear_model, sizeof **out, (void **)out, n, err);
    PQclear(r);
    if (rc == MLPD_OK && *n == 0) {
        store_model_list_free(*out, *n);
        *out = NULL;
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "no model '%s'", name);
    }
    return rc;
}

int pgs_model_latest(store *base, int64_t *id_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    PGresult *r =
        pgs_exec(s, "SELECT id FROM models ORDER BY id DESC LIMIT 1", NULL, 0, "latest model", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc =
        PQntuples(r) == 1 ? MLPD_OK : mlpd_fail(err, MLPD_ENOTFOUND, "latest model: not found");
    if (rc == MLPD_OK) *id_out = pgs_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* ---- datasets ----------------------------------------------------------------------- */

static void clear_dataset(void *d) {
    store_dataset_clear(d);
}

static int read_dataset_row(const PGresult *r, int row, void *item, mlpd_error *err) {
    store_dataset *d = item;
    memset(d, 0, sizeof *d);
    int oom = 0;
    d->id = pgs_i64(r, row, 0);
    d->name = pgs_text(r, row, 1, &oom);
    d->source = pgs_text(r, row, 2, &oom);
    d->path = pgs_text(r, row, 3, &oom);
    d->format = pgs_text(r, row, 4, &oom);
    d->n_train = pgs_i64(r, row, 5);
    d->n_test = pgs_i64(r, row, 6);
    d->features = (int)pgs_i64(r, row, 7);
    d->classes = (int)pgs_i64(r, row, 8);
    d->created_at = pgs_time(r, row, 9);
    d->class_names = pgs_text(r, row, 10, &oom);
    if (oom) {
        store_dataset_clear(d);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

int pgs_dataset_put(store *base, const store_dataset *d, int64_t *id_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, d->name);
    pgs_p_text(&p, d->source);
    pgs_p_text(&p, d->path);
    pgs_p_text(&p, d->format);
    pgs_p_i64(&p, d->n_train);
    pgs_p_i64(&p, d->n_test);
    pgs_p_i64(&p, d->features);
    pgs_p_i64(&p, d->classes);
    pgs_p_double(&p, wall_seconds());
    pgs_p_text(&p, d->class_names); /* NULL keeps the stored names */
    pthread_mutex_lock(&s->mu);
    /* Idempotent: replicas that find the same packaged data set at start
     * register it once, whoever comes first. */
    PGresult *r = pgs_exec(s,
                           "INSERT INTO datasets (name, source, path, format, n_train, n_test,"
                           " features, classes, created_at, class_names)"
                           " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                           " ON CONFLICT (name) DO UPDATE SET source = excluded.source,"
                           " path = excluded.path, format = excluded.format,"
                           " n_train = excluded.n_train, n_test = excluded.n_test,"
                           " features = excluded.features, classes = excluded.classes,"
                           " class_names = coalesce(excluded.class_names, datasets.class_names)"
                           " RETURNING id",
                           &p, 0, "put dataset", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    if (id_out) *id_out = pgs_i64(r, 0, 0);
    PQclear(r);
    return MLPD_OK;
}

int pgs_dataset_get(store *base, const char *name, store_dataset *out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, name);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s, "SELECT " DATASET_COLUMNS " FROM datasets WHERE name = $1", &p, 0,
                           "get dataset", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = PQntuples(r) == 1 ? read_dataset_row(r, 0, out, err)
                               : mlpd_fail(err, MLPD_ENOTFOUND, "get dataset: not found");
    PQclear(r);
    return rc;
}

int pgs_dataset_list(store *base, store_dataset **out, size_t *n, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s, "SELECT " DATASET_COLUMNS " FROM datasets ORDER BY name", NULL, 0,
                           "list datasets", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int rc = pgs_read_rows(r, read_dataset_row, clear_dataset, sizeof **out, (void **)out, n, err);
    PQclear(r);
    return rc;
}

int pgs_dataset_delete(store *base, const char *name, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    pgs_params p = {0};
    pgs_p_text(&p, name);
    int64_t changed = 0;
    pthread_mutex_lock(&s->mu);
    /* One statement, so a job queued on another replica between a check and
     * the delete cannot slip through: the row goes only when no queued or
     * running run names it. */
    int rc = pgs_cmd(s,
                     "DELETE FROM datasets WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM runs"
                     " WHERE runs.dataset = $1 AND runs.status IN ('queued', 'running'))",
                     &p, "delete dataset", &changed, err);
    PGresult *r = NULL;
    if (rc == MLPD_OK && changed == 0)
        r = pgs_exec(s, "SELECT 1 FROM datasets WHERE name = $1", &p, 0, "delete dataset", err);
    pthread_mutex_unlock(&s->mu);
    if (rc != MLPD_OK) return rc;
    if (changed == 0) {
        if (!r) return MLPD_ESTORE;
        int exists = PQntuples(r) > 0;
        PQclear(r);
        if (exists)
            return mlpd_fail(err, MLPD_ECONFLICT,
                             "data set '%s' is used by a queued or running job; cancel it first",
                             name);
        return mlpd_fail(err, MLPD_ENOTFOUND, "no data set named '%s'", name);
    }
    return MLPD_OK;
}

int pgs_model_class_names(store *base, int64_t model_id, char **json_out, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    *json_out = NULL;
    pgs_params p = {0};
    pgs_p_i64(&p, model_id);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s,
                           "SELECT d.class_names FROM models m JOIN runs r ON r.id = m.run_id "
                           "JOIN datasets d ON d.name = r.dataset WHERE m.id = $1",
                           &p, 0, "class names", err);
    pthread_mutex_unlock(&s->mu);
    if (!r) return MLPD_ESTORE;
    int oom = 0;
    if (PQntuples(r) == 1) *json_out = pgs_text(r, 0, 0, &oom);
    PQclear(r);
    return oom ? mlpd_fail(err, MLPD_ESTORE, "out of memory") : MLPD_OK;
}
