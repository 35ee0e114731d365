/* store_models.c - the SQLite store's models and datasets (see store.h for contracts).
 *
 * A model row holds its metadata and its file (the engine's format) as a BLOB,
 * written in one INSERT so that a model is never seen without its bytes.
 * Reading metadata never touches the BLOB (it is the table's last column).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

/* A model's metadata with its registered name and version (models m JOIN
 * model_versions v). */
#define MODEL_COLUMNS                                                                              \
    "m.id, m.run_id, v.name, m.arch_json, m.config_json, m.metrics_json, m.checksum, "             \
    "m.size_bytes, m.n_params, m.created_at, v.version"
#define MODEL_FROM " FROM models m JOIN model_versions v ON v.model_id = m.id "
#define DATASET_COLUMNS                                                                            \
    "id, name, source, path, format, n_train, n_test, features, classes, created_at, class_names"

/* ---- models ----------------------------------------------------------------------- */

void store_model_clear(store_model *m) {
    if (!m) return;
    free(m->name);
    free(m->arch_json);
    free(m->config_json);
    free(m->metrics_json);
    free(m->checksum);
    memset(m, 0, sizeof *m);
}

static void clear_model(void *m) {
    store_model_clear(m);
}

void store_model_list_free(store_model *list, size_t n) {
    store_free_items(list, n, sizeof *list, clear_model);
}

static int read_model_row(sqlite3_stmt *st, void *item, mlpd_error *err) {
    store_model *m = item;
    memset(m, 0, sizeof *m);
    int oom = 0;
    m->id = sqlite3_column_int64(st, 0);
    m->run_id = sqlite3_column_int64(st, 1); /* NULL (upload) reads as 0 */
    m->name = store_column_text(st, 2, &oom);
    m->arch_json = store_column_text(st, 3, &oom);
    m->config_json = store_column_text(st, 4, &oom);
    m->metrics_json = store_column_text(st, 5, &oom);
    m->checksum = store_column_text(st, 6, &oom);
    m->size_bytes = sqlite3_column_int64(st, 7);
    m->n_params = sqlite3_column_int64(st, 8);
    m->created_at = store_column_time(st, 9);
    m->version = sqlite3_column_int(st, 10);
    if (oom) {
        store_model_clear(m);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

static void bind_text_or_null(sqlite3_stmt *st, int idx, const char *text) {
    if (text)
        sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, idx);
}

/* The next version of name, registered for model id (s->mu held, inside the
 * caller's transaction). */
static int register_version(sqlite_store *s, int64_t id, const char *name, int *version_out,
                            mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO model_versions (model_id, name, version) "
                           "SELECT ?1, ?2, coalesce(max(version), 0) + 1 FROM model_versions "
                           "WHERE name = ?2 RETURNING version",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (version_out) *version_out = sqlite3_column_int(st, 0);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "register version");
    } else {
        rc = store_fail_sql(s, err, "register version");
    }
    sqlite3_finalize(st);
    return rc;
}

int store_model_insert(sqlite_store *s, const store_model *meta, const unsigned char *file,
                       size_t len, int64_t *id_out, int *version_out, mlpd_error *err) {
    /* store.c checked the model and set its checksum (store_model_check). */
    const char *checksum = meta->checksum;
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO models (run_id, arch_json, config_json,"
                           " metrics_json, checksum, size_bytes, n_params, created_at, file) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    if (meta->run_id > 0)
        sqlite3_bind_int64(st, 1, meta->run_id);
    else
        sqlite3_bind_null(st, 1);
    bind_text_or_null(st, 2, meta->arch_json);
    bind_text_or_null(st, 3, meta->config_json);
    bind_text_or_null(st, 4, meta->metrics_json);
    bind_text_or_null(st, 5, checksum);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)len);
    sqlite3_bind_int64(st, 7, meta->n_params);
    sqlite3_bind_double(st, 8, wall_seconds());
    sqlite3_bind_blob(st, 9, file, (int)len, SQLITE_STATIC);
    int64_t id = 0;
    if (sqlite3_step(st) == SQLITE_DONE)
        id = sqlite3_last_insert_rowid(s->db);
    else
        rc = store_fail_sql(s, err, "store model");
    sqlite3_finalize(st);
    if (rc == MLPD_OK) rc = register_version(s, id, meta->name, version_out, err);
    if (rc == MLPD_OK && id_out) *id_out = id;
    return rc;
}

int sqlite_model_put(store *base, const store_model *meta, const unsigned char *file, size_t len,
                     int64_t *id_out, int *version_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    /* The model row and its version together, or neither. */
    int rc = store_tx_begin(s, err);
    if (rc == MLPD_OK) rc = store_model_insert(s, meta, file, len, id_out, version_out, err);
    if (rc == MLPD_OK)
        rc = store_tx_commit(s, err);
    else
        store_tx_rollback(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_model_get(store *base, int64_t id, store_model *out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT " MODEL_COLUMNS MODEL_FROM "WHERE m.id = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = store_read_one(s, st, read_model_row, out, "get model: not found", "get model", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_model_file(store *base, int64_t id, unsigned char **file, size_t *len, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *file = NULL;
    *len = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT file FROM models WHERE id = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const void *blob = sqlite3_column_blob(st, 0);
            int n = sqlite3_column_bytes(st, 0);
            unsigned char *copy = malloc(n > 0 ? (size_t)n : 1);
            if (!copy) {
                rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
            } else {
                if (n > 0) memcpy(copy, blob, (size_t)n);
                *file = copy;
                *len = (size_t)n;
            }
        } else {
            rc = step == SQLITE_DONE ? mlpd_fail(err, MLPD_ENOTFOUND, "read model file: not found")
                                     : store_fail_sql(s, err, "read model file");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int count_rows(sqlite_store *s, const char *sql, int64_t *total, mlpd_error *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, err) != MLPD_OK) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else
        rc = store_fail_sql(s, err, "count");
    sqlite3_finalize(st);
    return rc;
}

int sqlite_model_list(store *base, int limit, int64_t offset, int64_t before_id, store_model **out,
                      size_t *n, int64_t *total, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *out = NULL;
    *n = 0;
    if (limit < 1) limit = 1;
    if (limit > 1001) limit = 1001; /* the API's 1000 and one look-ahead row */
    if (offset < 0) offset = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = MLPD_OK;
    if (total) rc = count_rows(s, "SELECT count(*) FROM models", total, err);
    if (rc == MLPD_OK)
        rc = store_prepare(s,
                           "SELECT " MODEL_COLUMNS MODEL_FROM "WHERE ?3 IS NULL OR m.id < ?3 "
                           "ORDER BY m.id DESC LIMIT ?1 OFFSET ?2",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int(st, 1, limit);
        sqlite3_bind_int64(st, 2, offset);
        if (before_id > 0) sqlite3_bind_int64(st, 3, before_id);
        rc = store_read_all(s, st, read_model_row, clear_model, sizeof **out, 16, (size_t)limit,
                            (void **)out, n, "list models", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* MLPD_ECONFLICT when an alias or a canary points at model id (s->mu held). */
static int check_unreferenced(sqlite_store *s, int64_t id, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT v.name, v.version, a.alias FROM model_versions v "
                           "JOIN model_aliases a ON a.name = v.name AND a.version = v.version "
                           "WHERE v.model_id = ?1 UNION ALL "
                           "SELECT v.name, v.version, NULL FROM model_versions v "
                           "JOIN model_canaries c ON c.name = v.name AND c.version = v.version "
                           "WHERE v.model_id = ?1 LIMIT 1",
                           &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *alias = (const char *)sqlite3_column_text(st, 2);
        int version = sqlite3_column_int(st, 1);
        if (alias)
            rc = mlpd_fail(err, MLPD_ECONFLICT,
                           "version %d of model '%s' is aliased as '%s': move or delete the alias "
                           "first",
                           version, name ? name : "", alias);
        else
            rc = mlpd_fail(err, MLPD_ECONFLICT,
                           "version %d of model '%s' is its canary: end the canary first", version,
                           name ? name : "");
    } else if (step != SQLITE_DONE) {
        rc = store_fail_sql(s, err, "delete model");
    }
    sqlite3_finalize(st);
    return rc;
}

int sqlite_model_delete(store *base, int64_t id, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    /* runs.model_id of the run that made it becomes NULL (ON DELETE SET NULL);
     * its model_versions row goes with it (ON DELETE CASCADE). */
    int rc = check_unreferenced(s, id, err);
    if (rc == MLPD_OK) rc = store_prepare(s, "DELETE FROM models WHERE id = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? MLPD_OK : store_fail_sql(s, err, "delete model");
        if (rc == MLPD_OK && sqlite3_changes(s->db) == 0)
            rc = mlpd_fail(err, MLPD_ENOTFOUND, "delete model: not found");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_model_versions(store *base, const char *name, store_model **out, size_t *n,
                          mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(
        s, "SELECT " MODEL_COLUMNS MODEL_FROM "WHERE v.name = ?1 ORDER BY v.version", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = store_read_all(s, st, read_model_row, clear_model, sizeof **out, 8, 0, (void **)out, n,
                            "list versions", err);
    } else {
        *out = NULL;
        *n = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK && *n == 0) {
        free(*out);
        *out = NULL;
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "no versions");
    }
    return rc;
}

int sqlite_model_latest(store *base, int64_t *id_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT id FROM models ORDER BY id DESC LIMIT 1", &st, err);
    if (rc == MLPD_OK) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *id_out = sqlite3_column_int64(st, 0);
        else
            rc = step == SQLITE_DONE ? mlpd_fail(err, MLPD_ENOTFOUND, "latest model: not found")
                                     : store_fail_sql(s, err, "latest model");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- datasets ----------------------------------------------------------------------- */

void store_dataset_clear(store_dataset *d) {
    if (!d) return;
    free(d->name);
    free(d->source);
    free(d->path);
    free(d->format);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

static void clear_dataset(void *d) {
    store_dataset_clear(d);
}

void store_dataset_list_free(store_dataset *list, size_t n) {
    store_free_items(list, n, sizeof *list, clear_dataset);
}

static int read_dataset_row(sqlite3_stmt *st, void *item, mlpd_error *err) {
    store_dataset *d = item;
    memset(d, 0, sizeof *d);
    int oom = 0;
    d->id = sqlite3_column_int64(st, 0);
    d->name = store_column_text(st, 1, &oom);
    d->source = store_column_text(st, 2, &oom);
    d->path = store_column_text(st, 3, &oom);
    d->format = store_column_text(st, 4, &oom);
    d->n_train = sqlite3_column_int64(st, 5);
    d->n_test = sqlite3_column_int64(st, 6);
    d->features = sqlite3_column_int(st, 7);
    d->classes = sqlite3_column_int(st, 8);
    d->created_at = store_column_time(st, 9);
    d->class_names = store_column_text(st, 10, &oom);
    if (oom) {
        store_dataset_clear(d);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    return MLPD_OK;
}

int sqlite_dataset_put(store *base, const store_dataset *d, int64_t *id_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    if (!d->name || !d->source || !d->path || !d->format)
        return mlpd_fail(err, MLPD_ESTORE, "a dataset needs a name, source, path and format");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(
        s,
        "INSERT INTO datasets (name, source, path, format, n_train, n_test, features, classes,"
        " created_at, class_names) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT (name) DO UPDATE SET source = excluded.source, path = excluded.path,"
        " format = excluded.format, n_train = excluded.n_train, n_test = excluded.n_test,"
        " features = excluded.features, classes = excluded.classes,"
        " class_names = coalesce(excluded.class_names, datasets.class_names) "
        "RETURNING id",
        &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, d->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, d->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, d->format, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, d->n_train);
        sqlite3_bind_int64(st, 6, d->n_test);
        sqlite3_bind_int(st, 7, d->features);
        sqlite3_bind_int(st, 8, d->classes);
        sqlite3_bind_double(st, 9, wall_seconds());
        if (d->class_names) sqlite3_bind_text(st, 10, d->class_names, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            if (id_out) *id_out = sqlite3_column_int64(st, 0);
            /* RETURNING: the write completes when the statement runs to its end. */
            if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "store dataset");
        } else {
            rc = store_fail_sql(s, err, "store dataset");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_dataset_delete(store *base, const char *name, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT count(*) FROM runs WHERE dataset = ?1 AND status IN "
                           "('queued', 'running')",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW)
            rc = store_fail_sql(s, err, "delete dataset");
        else if (sqlite3_column_int64(st, 0) > 0)
            rc = mlpd_fail(err, MLPD_ECONFLICT,
                           "data set '%s' is used by a queued or running job; cancel it first",
                           name);
        sqlite3_finalize(st);
    }
    if (rc == MLPD_OK) rc = store_prepare(s, "DELETE FROM datasets WHERE name = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? MLPD_OK : store_fail_sql(s, err, "delete dataset");
        if (rc == MLPD_OK && sqlite3_changes(s->db) == 0)
            rc = mlpd_fail(err, MLPD_ENOTFOUND, "no data set named '%s'", name);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_model_class_names(store *base, int64_t model_id, char **json_out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *json_out = NULL;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT d.class_names FROM models m JOIN runs r ON r.id = m.run_id "
                           "JOIN datasets d ON d.name = r.dataset WHERE m.id = ?1",
                           &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_int64(st, 1, model_id);
        int step = sqlite3_step(st), oom = 0;
        if (step == SQLITE_ROW)
            *json_out = store_column_text(st, 0, &oom);
        else if (step != SQLITE_DONE)
            rc = store_fail_sql(s, err, "class names");
        if (oom) rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_dataset_get(store *base, const char *name, store_dataset *out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT " DATASET_COLUMNS " FROM datasets WHERE name = ?1", &st, err);
    if (rc == MLPD_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = store_read_one(s, st, read_dataset_row, out, "get dataset: not found", "get dataset",
                            err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_dataset_list(store *base, store_dataset **out, size_t *n, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT " DATASET_COLUMNS " FROM datasets ORDER BY name", &st, err);
    if (rc == MLPD_OK)
        rc = store_read_all(s, st, read_dataset_row, clear_dataset, sizeof **out, 16, 0,
                            (void **)out, n, "list datasets", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
