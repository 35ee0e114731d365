/* store_sqlite.c - the SQLite store: opening, pragmas, migrations, shared helpers.
 *
 * Runs and metrics live in store_runs.c, models and datasets in store_models.c,
 * the disk space held back for recording a run's end in store_reserve.c.
 *
 * Durability choice: journal_mode=WAL with synchronous=FULL. WAL alone (with
 * synchronous=NORMAL) already survives a SIGKILL of mlpd, but may lose the last
 * commits on a power cut; FULL adds one fsync of the WAL per commit, which
 * costs little at mlpd's write rate (a commit per epoch and one every
 * STEP_METRIC_INTERVAL batches), so a finished epoch's metrics survive a power
 * cut too.
 *
 * Migrations: migrations_dir holds NNN_name.sql files. Each one whose number is
 * above PRAGMA user_version is applied, in numeric order, inside a transaction
 * that also sets user_version to its number, so a failed migration leaves the
 * database as it was. Migration files must not contain BEGIN/COMMIT.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_sqlite_impl.h"

#define BUSY_TIMEOUT_MS 5000

/* ---- shared helpers ------------------------------------------------------------ */

int store_fail_sql(sqlite_store *s, mlpd_error *err, const char *what) {
    int primary = sqlite3_errcode(s->db) & 0xff;
    mlpd_status code = primary == SQLITE_FULL                               ? MLPD_ENOSPC
                       : primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? MLPD_ELOCKED
                                                                            : MLPD_ESTORE;
    return mlpd_fail(err, code, "%s: %s", what, sqlite3_errmsg(s->db));
}

int store_grow(void **arr, size_t *cap, size_t count, size_t elem, size_t first, mlpd_error *err) {
    if (count < *cap) return MLPD_OK;
    size_t n = *cap ? *cap * 2 : first;
    void *grown = realloc(*arr, n * elem);
    if (!grown) return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    *arr = grown;
    *cap = n;
    return MLPD_OK;
}

void store_free_items(void *list, size_t n, size_t elem, void (*clear)(void *)) {
    for (size_t i = 0; list && i < n; i++) clear((char *)list + i * elem);
    free(list);
}

int store_read_one(sqlite_store *s, sqlite3_stmt *st, store_row_reader read, void *item,
                   const char *notfound, const char *what, mlpd_error *err) {
    int step = sqlite3_step(st), rc;
    if (step == SQLITE_ROW)
        rc = read(st, item, err);
    else if (step == SQLITE_DONE)
        rc = mlpd_fail(err, MLPD_ENOTFOUND, "%s", notfound);
    else
        rc = store_fail_sql(s, err, what);
    sqlite3_finalize(st);
    return rc;
}

int store_read_all(sqlite_store *s, sqlite3_stmt *st, store_row_reader read, void (*clear)(void *),
                   size_t elem, size_t first, size_t max, void **out, size_t *n, const char *what,
                   mlpd_error *err) {
    *out = NULL;
    *n = 0;
    char *list = NULL;
    size_t count = 0, cap = 0;
    int rc = MLPD_OK, step = SQLITE_DONE;
    while ((max == 0 || count < max) && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = store_grow((void **)&list, &cap, count, elem, first, err)) != MLPD_OK) break;
        if ((rc = read(st, list + count * elem, err)) != MLPD_OK) break;
        count++;
    }
    if (rc == MLPD_OK && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_fail_sql(s, err, what);
    sqlite3_finalize(st);
    if (rc != MLPD_OK) {
        if (clear)
            store_free_items(list, count, elem, clear);
        else
            free(list);
        return rc;
    }
    *out = list;
    *n = count;
    return MLPD_OK;
}

int store_prepare(sqlite_store *s, const char *sql, sqlite3_stmt **st, mlpd_error *err) {
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return store_fail_sql(s, err, "prepare");
    }
    return MLPD_OK;
}

int store_tx_begin(sqlite_store *s, mlpd_error *err) {
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail_sql(s, err, "begin");
    return MLPD_OK;
}

int store_tx_commit(sqlite_store *s, mlpd_error *err) {
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = store_fail_sql(s, err, "commit");
        store_tx_rollback(s);
        return rc;
    }
    return MLPD_OK;
}

void store_tx_rollback(sqlite_store *s) {
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_bind_metric(sqlite3_stmt *st, int idx, double v) {
    if (!isfinite(v)) return sqlite3_bind_null(st, idx);
    return sqlite3_bind_double(st, idx, v);
}

double store_column_metric(sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return NAN;
    return sqlite3_column_double(st, col);
}

double store_column_time(sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return 0;
    return sqlite3_column_double(st, col);
}

char *store_column_text(sqlite3_stmt *st, int col, int *oom) {
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t) return NULL;
    char *copy = strdup((const char *)t);
    if (!copy) *oom = 1;
    return copy;
}

/* ---- run status names ------------------------------------------------------------ */

static const char *const status_names[] = {"queued", "running", "succeeded", "failed", "cancelled"};

const char *run_status_name(run_status st) {
    if ((int)st < 0 || (size_t)st >= sizeof status_names / sizeof status_names[0]) return "unknown";
    return status_names[st];
}

int run_status_from_name(const char *name, run_status *out) {
    for (size_t i = 0; name && i < sizeof status_names / sizeof status_names[0]; i++) {
        if (!strcmp(name, status_names[i])) {
            *out = (run_status)i;
            return 0;
        }
    }
    return -1;
}

/* ---- migrations ------------------------------------------------------------------- */

static int read_user_version(sqlite_store *s, int *version, mlpd_error *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "PRAGMA user_version", &st, err) != MLPD_OK) return MLPD_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? MLPD_OK : store_fail_sql(s, err, "read user_version");
}

/* Apply one migration in its own transaction. The version is re-read inside
 * the transaction so that two processes migrating at once cannot both apply it. */
static int apply_migration(sqlite_store *s, const char *dir, const store_migration *m,
                           mlpd_error *err) {
    char *sql = store_migration_text(dir, m, err);
    if (!sql) return MLPD_ESTORE;
    int rc = store_tx_begin(s, err), version = 0;
    if (rc == MLPD_OK) rc = read_user_version(s, &version, err);
    if (rc == MLPD_OK && version < m->number) {
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            rc = mlpd_fail(err, MLPD_ESTORE, "migration %s failed: %s", m->name, msg ? msg : "?");
            sqlite3_free(msg);
        }
        /* PRAGMA takes no bound parameters; the number is an int we parsed. */
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->number);
        if (rc == MLPD_OK && sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
            rc = store_fail_sql(s, err, "set user_version");
    }
    free(sql);
    if (rc == MLPD_OK) return store_tx_commit(s, err);
    store_tx_rollback(s);
    return rc;
}

static int migrate(sqlite_store *s, const char *dir, mlpd_error *err) {
    store_migration *list = NULL;
    size_t n = 0;
    if (store_migrations_list(dir, &list, &n, err) != MLPD_OK) return MLPD_ESTORE;
    int newest = list[n - 1].number, version = 0;
    int rc = read_user_version(s, &version, err);
    if (rc == MLPD_OK && version > newest)
        rc = mlpd_fail(err, MLPD_ECONFLICT,
                       "database schema version %d is newer than this mlpd (%d)", version, newest);
    for (size_t i = 0; rc == MLPD_OK && i < n; i++)
        if (list[i].number > version) rc = apply_migration(s, dir, &list[i], err);
    free(list);
    if (rc == MLPD_OK) rc = read_user_version(s, &s->schema_version, err);
    return rc;
}

/* ---- open / close ------------------------------------------------------------------ */

static int exec_pragma(sqlite_store *s, const char *sql, mlpd_error *err) {
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return store_fail_sql(s, err, sql);
    return MLPD_OK;
}

static int set_wal(sqlite_store *s, mlpd_error *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "PRAGMA journal_mode = WAL", &st, err) != MLPD_OK) return MLPD_ESTORE;
    int rc = MLPD_OK;
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_fail_sql(s, err, "journal_mode");
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        /* An in-memory database (tests, ":memory:") cannot use WAL. */
        if (!mode || (strcmp(mode, "wal") && strcmp(mode, "memory")))
            rc = mlpd_fail(err, MLPD_ESTORE, "cannot switch the database to WAL (mode %s)",
                           mode ? mode : "?");
    }
    sqlite3_finalize(st);
    return rc;
}

static const store_ops sqlite_ops;
static void sqlite_close(store *base);

int sqlite_store_open(const char *path, const char *migrations_dir, store **out, mlpd_error *err) {
    *out = NULL;
    sqlite_store *s = calloc(1, sizeof *s);
    if (!s) return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    s->base.ops = &sqlite_ops;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        mlpd_fail(err, MLPD_ESTORE, "open %s: %s", path,
                  s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        free(s);
        return MLPD_ESTORE;
    }
    pthread_mutex_init(&s->mu, NULL);
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    int rc = set_wal(s, err);
    if (rc == MLPD_OK) rc = exec_pragma(s, "PRAGMA synchronous = FULL", err);
    if (rc == MLPD_OK) rc = exec_pragma(s, "PRAGMA foreign_keys = ON", err);
    if (rc == MLPD_OK) rc = migrate(s, migrations_dir, err);
    if (rc != MLPD_OK) {
        sqlite_close(&s->base);
        return rc;
    }
    store_reserve_init(s, path);
    *out = &s->base;
    return MLPD_OK;
}

static void sqlite_close(store *base) {
    sqlite_store *s = sqlite_of(base);
    if (!s) return;
    sqlite3_close(s->db);  /* every statement is finalized by the call that made it */
    store_reserve_free(s); /* the file stays, for the next open */
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int sqlite_ping(store *base) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int ok = 0;
    if (store_prepare(s, "SELECT 1", &st, NULL) == MLPD_OK) {
        ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static int sqlite_writable(store *base) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    /* BEGIN IMMEDIATE takes the write lock a write would need, and ROLLBACK
     * gives it back with nothing written. A short wait, not the writers'
     * BUSY_TIMEOUT_MS: /readyz must answer quickly. */
    sqlite3_busy_timeout(s->db, STORE_WRITABLE_WAIT_MS);
    int ok = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    if (ok) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static int sqlite_schema_version(store *base) {
    sqlite_store *s = sqlite_of(base);
    pthread_mutex_lock(&s->mu);
    int v = s->schema_version;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static const store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .ping = sqlite_ping,
    .writable = sqlite_writable,
    .schema_version = sqlite_schema_version,
    .dataset_put = sqlite_dataset_put,
    .dataset_get = sqlite_dataset_get,
    .dataset_list = sqlite_dataset_list,
    .dataset_delete = sqlite_dataset_delete,
    .model_class_names = sqlite_model_class_names,
    .run_create = sqlite_run_create,
    .run_set_status = sqlite_run_set_status,
    .run_set_progress = sqlite_run_set_progress,
    .run_finish = sqlite_run_finish,
    .run_get = sqlite_run_get,
    .run_list = sqlite_run_list,
    .run_ids_with_status = sqlite_run_ids_with_status,
    .metrics_append = sqlite_metrics_append,
    .sweep_create = sqlite_sweep_create,
    .sweep_claim = sqlite_sweep_claim,
    .sweep_renew = sqlite_sweep_renew,
    .sweep_get = sqlite_sweep_get,
    .sweep_set_status = sqlite_sweep_set_status,
    .sweep_set_best = sqlite_sweep_set_best,
    .sweep_list = sqlite_sweep_list,
    .sweep_children = sqlite_sweep_children,
    .set_keep_step_metrics = sqlite_set_keep_step_metrics,
    .run_record_epoch = sqlite_run_record_epoch,
    .run_checkpoint = sqlite_run_checkpoint,
    .metrics_get = sqlite_metrics_get,
    .model_put = sqlite_model_put,
    .run_succeed = sqlite_run_succeed,
    .model_get = sqlite_model_get,
    .model_file = sqlite_model_file,
    .model_list = sqlite_model_list,
    .model_delete = sqlite_model_delete,
    .model_latest = sqlite_model_latest,
    .model_versions = sqlite_model_versions,
    .model_find = sqlite_model_find,
    .alias_set = sqlite_alias_set,
    .alias_delete = sqlite_alias_delete,
    .canary_set = sqlite_canary_set,
    .registry_load = sqlite_registry_load,
    .evaluation_put = sqlite_evaluation_put,
    .evaluation_latest = sqlite_evaluation_latest,
    .model_mean_put = sqlite_model_mean_put,
    .model_mean_get = sqlite_model_mean_get,
    .model_precision_put = sqlite_model_precision_put,
    .model_precision_clear = sqlite_model_precision_clear,
    .model_precision_get = sqlite_model_precision_get,
    .run_claim = sqlite_run_claim,
    .run_heartbeat = sqlite_run_heartbeat,
    .run_rescue = sqlite_run_rescue,
    .run_cancel = sqlite_run_cancel,
    .run_count = sqlite_run_count,
};
