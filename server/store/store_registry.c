/* store_registry.c - the SQLite store's model registry: versions by name,
 * aliases, canaries (see store.h for contracts, migrations/002_registry.sql
 * for the tables). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

/* Does version `version` of name exist? MLPD_OK / MLPD_ENOTFOUND (s->mu held). */
static int find_version(sqlite_store *s, const char *name, int version, int64_t *id_out,
                        mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(
        s, "SELECT model_id FROM model_versions WHERE name = ?1 AND version = ?2", &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, version);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (id_out) *id_out = sqlite3_column_int64(st, 0);
    } else {
        rc = step == SQLITE_DONE ? mlpd_fail(err, MLPD_ENOTFOUND, "find version: not found")
                                 : store_fail_sql(s, err, "find version");
    }
    sqlite3_finalize(st);
    return rc;
}

int sqlite_model_find(store *base, const char *name, int version, int64_t *id_out,
                      mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int rc = find_version(s, name, version, id_out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Run one write statement with text ?1, text ?2 (may be NULL: unbound) and
 * ints ?3, ?4 (s->mu held). *changes gets the rows it changed. */
static int exec_write(sqlite_store *s, const char *sql, const char *t1, const char *t2, int i3,
                      int i4, int *changes, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != MLPD_OK) return rc;
    sqlite3_bind_text(st, 1, t1, -1, SQLITE_STATIC);
    if (t2) sqlite3_bind_text(st, 2, t2, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 3) sqlite3_bind_int(st, 3, i3);
    if (sqlite3_bind_parameter_count(st) >= 4) sqlite3_bind_int(st, 4, i4);
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail_sql(s, err, "registry write");
    if (changes) *changes = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

int sqlite_alias_set(store *base, const char *name, const char *alias, int version,
                     mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    /* One statement: the alias moves atomically (readers see old or new). */
    int rc = find_version(s, name, version, NULL, err);
    if (rc == MLPD_OK)
        rc = exec_write(s,
                        "INSERT INTO model_aliases (name, alias, version) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                        name, alias, version, 0, NULL, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sqlite_alias_delete(store *base, const char *name, const char *alias, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int changes = 0;
    int rc = exec_write(s, "DELETE FROM model_aliases WHERE name = ?1 AND alias = ?2", name, alias,
                        0, 0, &changes, err);
    pthread_mutex_unlock(&s->mu);
    return rc == MLPD_OK && changes == 0 ? mlpd_fail(err, MLPD_ENOTFOUND, "alias not set") : rc;
}

int sqlite_canary_set(store *base, const char *name, int version, int percent, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    if (percent < 0 || percent > 100)
        return mlpd_fail(err, MLPD_ESTORE, "percent must be in [0, 100]");
    pthread_mutex_lock(&s->mu);
    int rc;
    if (percent == 0) {
        rc = exec_write(s, "DELETE FROM model_canaries WHERE name = ?1", name, NULL, 0, 0, NULL,
                        err);
    } else {
        rc = find_version(s, name, version, NULL, err);
        if (rc == MLPD_OK)
            rc = exec_write(s,
                            "INSERT INTO model_canaries (name, version, percent) "
                            "VALUES (?1, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
                            "version = excluded.version, percent = excluded.percent",
                            name, NULL, version, percent, NULL, err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- the whole registry ------------------------------------------------------------- */

void store_registry_free(store_registry *r) {
    if (!r) return;
    free(r->versions);
    free(r->aliases);
    free(r->canaries);
    memset(r, 0, sizeof *r);
}

/* Every row of sql into a growing array of elem-sized records, each filled by
 * fill(st, record) (s->mu held). */
static int load_rows(sqlite_store *s, const char *sql, size_t elem,
                     void (*fill)(sqlite3_stmt *, void *), void **out, size_t *n, mlpd_error *err) {
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != MLPD_OK) return rc;
    char *arr = NULL;
    size_t count = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            char *grown = realloc(arr, cap * elem);
            if (!grown) {
                rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
                break;
            }
            arr = grown;
        }
        memset(arr + count * elem, 0, elem);
        fill(st, arr + count * elem);
        count++;
    }
    if (rc == MLPD_OK && step != SQLITE_DONE) rc = store_fail_sql(s, err, "load registry");
    sqlite3_finalize(st);
    if (rc != MLPD_OK) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = count;
    return MLPD_OK;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void fill_version(sqlite3_stmt *st, void *rec) {
    store_reg_version *v = rec;
    copy_text(v->name, sizeof v->name, st, 0);
    v->version = sqlite3_column_int(st, 1);
    v->model_id = sqlite3_column_int64(st, 2);
}

static void fill_alias(sqlite3_stmt *st, void *rec) {
    store_reg_alias *a = rec;
    copy_text(a->name, sizeof a->name, st, 0);
    copy_text(a->alias, sizeof a->alias, st, 1);
    a->version = sqlite3_column_int(st, 2);
}

static void fill_canary(sqlite3_stmt *st, void *rec) {
    store_reg_canary *c = rec;
    copy_text(c->name, sizeof c->name, st, 0);
    c->version = sqlite3_column_int(st, 1);
    c->percent = sqlite3_column_int(st, 2);
}

int sqlite_registry_load(store *base, store_registry *out, mlpd_error *err) {
    sqlite_store *s = sqlite_of(base);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    /* One read transaction: the three tables at the same moment. */
    int rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
                 ? MLPD_OK
                 : store_fail_sql(s, err, "begin");
    if (rc == MLPD_OK)
        rc = load_rows(
            s, "SELECT name, version, model_id FROM model_versions ORDER BY name, version",
            sizeof *out->versions, fill_version, (void **)&out->versions, &out->n_versions, err);
    if (rc == MLPD_OK)
        rc = load_rows(s, "SELECT name, alias, version FROM model_aliases ORDER BY name, alias",
                       sizeof *out->aliases, fill_alias, (void **)&out->aliases, &out->n_aliases,
                       err);
    if (rc == MLPD_OK)
        rc = load_rows(s, "SELECT name, version, percent FROM model_canaries ORDER BY name",
                       sizeof *out->canaries, fill_canary, (void **)&out->canaries,
                       &out->n_canaries, err);
    store_tx_rollback(s); /* read-only: nothing to keep */
    pthread_mutex_unlock(&s->mu);
    if (rc != MLPD_OK) store_registry_free(out);
    return rc;
}
