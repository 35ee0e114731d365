/* store_pg.c - the PostgreSQL store: connecting, migrations, shared helpers,
 * the backend table (store_backend.h). Runs and metrics are in
 * store_pg_runs.c, models and datasets in store_pg_models.c.
 *
 * Migrations: migrations/postgresql/NNN_name.sql, each applied in its own
 * transaction that also records its number in mlpd_schema_migrations (the
 * counterpart of SQLite's PRAGMA user_version). The whole pass runs under
 * pg_advisory_lock(MIGRATION_LOCK), a session lock, so replicas starting
 * together apply each file once: the second waits, then finds nothing to do.
 * A database whose newest recorded migration is beyond this binary's newest
 * file is refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

/* Any constant shared by every mlpd binary: "mlpd" in ASCII. */
#define MIGRATION_LOCK "1835823204"
/* Seconds a connection attempt may take unless the URI or PGCONNECT_TIMEOUT
 * says otherwise: an unreachable host ends the start with a message. */
#define CONNECT_TIMEOUT "5"

/* ---- parameters and results ------------------------------------------------------ */

static void p_push(pgs_params *p, const char *v, int len, int fmt) {
    if (p->n >= PGS_MAX_PARAMS) abort(); /* a programming error: PGS_MAX_PARAMS is too small */
    p->v[p->n] = v;
    p->len[p->n] = len;
    p->fmt[p->n] = fmt;
    p->n++;
}

void pgs_p_i64(pgs_params *p, int64_t v) {
    snprintf(p->buf[p->n], sizeof p->buf[0], "%lld", (long long)v);
    p_push(p, p->buf[p->n], 0, 0);
}

void pgs_p_double(pgs_params *p, double v) {
    /* %.17g round-trips every double through text. */
    snprintf(p->buf[p->n], sizeof p->buf[0], "%.17g", v);
    p_push(p, p->buf[p->n], 0, 0);
}

void pgs_p_metric(pgs_params *p, double v) {
    if (isfinite(v))
        pgs_p_double(p, v);
    else
        p_push(p, NULL, 0, 0);
}

void pgs_p_text(pgs_params *p, const char *text) {
    p_push(p, text, 0, 0);
}

void pgs_p_bytes(pgs_params *p, const void *bytes, size_t len) {
    p_push(p, (const char *)bytes, (int)len, 1);
}

void pgs_p_id_or_null(pgs_params *p, int64_t id) {
    if (id > 0)
        pgs_p_i64(p, id);
    else
        p_push(p, NULL, 0, 0);
}

int64_t pgs_i64(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double pgs_metric(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NAN : strtod(PQgetvalue(r, row, col), NULL);
}

double pgs_time(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

char *pgs_text(const PGresult *r, int row, int col, int *oom) {
    if (PQgetisnull(r, row, col)) return NULL;
    char *copy = strdup(PQgetvalue(r, row, col));
    if (!copy) *oom = 1;
    return copy;
}

/* The server's one-line reason (libpq's message ends with a newline). */
static void conn_fail(PGconn *conn, mlpd_error *err, const char *what) {
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    size_t len = strcspn(msg, "\n");
    mlpd_fail(err, MLPD_ESTORE, "%s: %.*s", what, (int)len, msg);
}

PGresult *pgs_exec(pg_store *s, const char *sql, const pgs_params *p, int binary_result,
                   const char *what, mlpd_error *err) {
    /* A connection lost (PostgreSQL restarted, network cut) is made again
     * here, on the next use after the failure; the failed call reported an
     * error, so nothing it was asked to write was acknowledged. */
    if (PQstatus(s->conn) != CONNECTION_OK) PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        conn_fail(s->conn, err, what);
        return NULL;
    }
    PGresult *r = PQexecParams(s->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                               p ? p->fmt : NULL, binary_result);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->last_sqlstate, sizeof s->last_sqlstate, "%s", state ? state : "");
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn);
    if (!msg || !*msg) msg = PQerrorMessage(s->conn);
    mlpd_fail(err, MLPD_ESTORE, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
    PQclear(r);
    return NULL;
}

int pgs_cmd(pg_store *s, const char *sql, const pgs_params *p, const char *what, int64_t *changed,
            mlpd_error *err) {
    PGresult *r = pgs_exec(s, sql, p, 0, what, err);
    if (!r) return MLPD_ESTORE;
    if (changed) *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return MLPD_OK;
}

int pgs_begin(pg_store *s, mlpd_error *err) {
    return pgs_cmd(s, "BEGIN", NULL, "begin", NULL, err);
}

int pgs_commit(pg_store *s, mlpd_error *err) {
    int rc = pgs_cmd(s, "COMMIT", NULL, "commit", NULL, err);
    if (rc != MLPD_OK) pgs_rollback(s);
    return rc;
}

void pgs_rollback(pg_store *s) {
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE) PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* ---- migrations ------------------------------------------------------------------- */

static int read_version(pg_store *s, int *version, mlpd_error *err) {
    PGresult *r = pgs_exec(s, "SELECT coalesce(max(version), 0) FROM mlpd_schema_migrations", NULL,
                           0, "read the schema version", err);
    if (!r) return MLPD_ESTORE;
    *version = (int)pgs_i64(r, 0, 0);
    PQclear(r);
    return MLPD_OK;
}

static int apply_migration(pg_store *s, const char *dir, const store_migration *m,
                           mlpd_error *err) {
    char *sql = store_migration_text(dir, m, err);
    if (!sql) return MLPD_ESTORE;
    int rc = pgs_begin(s, err);
    if (rc == MLPD_OK) {
        /* PQexec runs a file of several statements (no parameters there). */
        PGresult *r = PQexec(s->conn, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            char what[300];
            snprintf(what, sizeof what, "migration %s failed", m->name);
            conn_fail(s->conn, err, what);
            rc = MLPD_ESTORE;
        }
        PQclear(r);
    }
    if (rc == MLPD_OK) {
        pgs_params p = {0};
        pgs_p_i64(&p, m->number);
        pgs_p_text(&p, m->name);
        pgs_p_double(&p, wall_seconds());
        rc = pgs_cmd(s,
                     "INSERT INTO mlpd_schema_migrations (version, name, applied_at) "
                     "VALUES ($1, $2, $3)",
                     &p, "record the migration", NULL, err);
    }
    free(sql);
    if (rc == MLPD_OK) return pgs_commit(s, err);
    pgs_rollback(s);
    return rc;
}

/* The migration pass; the caller holds the advisory lock. */
static int migrate_locked(pg_store *s, const char *dir, mlpd_error *err) {
    store_migration *list = NULL;
    size_t n = 0;
    if (store_migrations_list(dir, &list, &n, err) != MLPD_OK) return MLPD_ESTORE;
    int rc = pgs_cmd(s,
                     "CREATE TABLE IF NOT EXISTS mlpd_schema_migrations ("
                     " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at DOUBLE PRECISION NOT NULL)",
                     NULL, "create mlpd_schema_migrations", NULL, err);
    int newest = list[n - 1].number, version = 0;
    if (rc == MLPD_OK) rc = read_version(s, &version, err);
    if (rc == MLPD_OK && version > newest)
        rc = mlpd_fail(err, MLPD_ECONFLICT,
                       "database schema version %d is newer than this mlpd (%d)", version, newest);
    for (size_t i = 0; rc == MLPD_OK && i < n; i++)
        if (list[i].number > version) rc = apply_migration(s, dir, &list[i], err);
    free(list);
    if (rc == MLPD_OK) rc = read_version(s, &s->schema_version, err);
    return rc;
}

static int migrate(pg_store *s, const char *migrations_dir, mlpd_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/postgresql", migrations_dir);
    /* Quiet the NOTICE that CREATE TABLE IF NOT EXISTS sends on every start. */
    PQclear(PQexec(s->conn, "SET client_min_messages = warning"));
    if (pgs_cmd(s, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", NULL, "take the migration lock",
                NULL, err) != MLPD_OK)
        return MLPD_ESTORE;
    int rc = migrate_locked(s, dir, err);
    pgs_cmd(s, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")", NULL, "release the migration lock",
            NULL, NULL);
    return rc;
}

/* ---- open / close ------------------------------------------------------------------ */

static const store_ops pg_ops;

PGconn *pgs_connect(const char *uri) {
    /* Keywords before dbname are overridden by what the expanded URI sets;
     * PGCONNECT_TIMEOUT, when set, is left to libpq. */
    const char *keys[3] = {NULL, NULL, NULL}, *vals[3] = {NULL, NULL, NULL};
    int k = 0;
    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[k] = "connect_timeout";
        vals[k++] = CONNECT_TIMEOUT;
    }
    keys[k] = "dbname";
    vals[k++] = uri;
    return PQconnectdbParams(keys, vals, 1);
}

int pg_store_open(const char *uri, const char *migrations_dir, store **out, mlpd_error *err) {
    *out = NULL;
    /* A malformed URI is refused before any connection attempt. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &perr);
    if (!opts) {
        mlpd_fail(err, MLPD_ESTORE, "bad PostgreSQL URI: %.*s",
                  perr ? (int)strcspn(perr, "\n") : 13, perr ? perr : "out of memory");
        PQfreemem(perr);
        return MLPD_ESTORE;
    }
    PQconninfoFree(opts);
    pg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->conninfo = strdup(uri))) {
        free(s);
        return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    }
    s->base.ops = &pg_ops;
    pthread_mutex_init(&s->mu, NULL);
    s->conn = pgs_connect(uri);
    int rc = MLPD_OK;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        conn_fail(s->conn, err, "cannot connect to PostgreSQL");
        rc = MLPD_ESTORE;
    }
    if (rc == MLPD_OK) rc = migrate(s, migrations_dir, err);
    if (rc != MLPD_OK) {
        pg_ops.close(&s->base);
        return rc;
    }
    *out = &s->base;
    return MLPD_OK;
}

static void pgs_close(store *base) {
    pg_store *s = pgs_of(base);
    if (!s) return;
    pgs_listen_stop(s);
    PQfinish(s->conn);
    pthread_mutex_destroy(&s->mu);
    free(s->conninfo);
    free(s);
}

static int pgs_ping(store *base) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s, "SELECT 1", NULL, 0, "ping", NULL);
    int ok = r && PQntuples(r) == 1;
    PQclear(r);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

/* PostgreSQL has no database-wide write lock to probe: a writer that can
 * reach the server can write (row locks wait per row). */
static int pgs_writable(store *base) {
    return pgs_ping(base);
}

static int pgs_schema_version(store *base) {
    pg_store *s = pgs_of(base);
    pthread_mutex_lock(&s->mu);
    int v = s->schema_version;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static const store_ops pg_ops = {
    .name = "postgresql",
    .close = pgs_close,
    .ping = pgs_ping,
    .writable = pgs_writable,
    .schema_version = pgs_schema_version,
    .dataset_put = pgs_dataset_put,
    .dataset_get = pgs_dataset_get,
    .dataset_list = pgs_dataset_list,
    .dataset_delete = pgs_dataset_delete,
    .model_class_names = pgs_model_class_names,
    .run_create = pgs_run_create,
    .run_set_status = pgs_run_set_status,
    .run_set_progress = pgs_run_set_progress,
    .run_finish = pgs_run_finish,
    .run_get = pgs_run_get,
    .run_list = pgs_run_list,
    .run_ids_with_status = pgs_run_ids_with_status,
    .metrics_append = pgs_metrics_append,
    .sweep_create = pgs_sweep_create,
    .sweep_claim = pgs_sweep_claim,
    .sweep_renew = pgs_sweep_renew,
    .sweep_get = pgs_sweep_get,
    .sweep_set_status = pgs_sweep_set_status,
    .sweep_set_best = pgs_sweep_set_best,
    .sweep_list = pgs_sweep_list,
    .sweep_children = pgs_sweep_children,
    .set_keep_step_metrics = pgs_set_keep_step_metrics,
    .run_record_epoch = pgs_run_record_epoch,
    .run_checkpoint = pgs_run_checkpoint,
    .metrics_get = pgs_metrics_get,
    .model_put = pgs_model_put,
    .run_succeed = pgs_run_succeed,
    .model_get = pgs_model_get,
    .model_file = pgs_model_file,
    .model_list = pgs_model_list,
    .model_delete = pgs_model_delete,
    .model_latest = pgs_model_latest,
    .model_versions = pgs_model_versions,
    .model_find = pgs_model_find,
    .alias_set = pgs_alias_set,
    .alias_delete = pgs_alias_delete,
    .canary_set = pgs_canary_set,
    .registry_load = pgs_registry_load,
    .evaluation_put = pgs_evaluation_put,
    .evaluation_latest = pgs_evaluation_latest,
    .model_mean_put = pgs_model_mean_put,
    .model_mean_get = pgs_model_mean_get,
    .model_precision_put = pgs_model_precision_put,
    .model_precision_clear = pgs_model_precision_clear,
    .model_precision_get = pgs_model_precision_get,
    .run_claim = pgs_run_claim,
    .run_heartbeat = pgs_run_heartbeat,
    .run_rescue = pgs_run_rescue,
    .run_cancel = pgs_run_cancel,
    .run_count = pgs_run_count,
    .listen = pgs_listen,
    .listen_stop = pgs_listen_stop_op,
};

int pgs_read_rows(const PGresult *r, pgs_row_reader read, void (*clear)(void *), size_t item_size,
                  void **out, size_t *n, mlpd_error *err) {
    *out = NULL;
    *n = 0;
    int rows = PQntuples(r), rc = MLPD_OK;
    char *list = calloc(rows > 0 ? (size_t)rows : 1, item_size);
    if (!list) return mlpd_fail(err, MLPD_ESTORE, "out of memory");
    int count = 0;
    for (; rc == MLPD_OK && count < rows; count++)
        if ((rc = read(r, count, list + (size_t)count * item_size, err)) != MLPD_OK) break;
    if (rc != MLPD_OK) {
        for (int i = 0; i < count; i++) clear(list + (size_t)i * item_size);
        free(list);
        return rc;
    }
    *out = list;
    *n = (size_t)count;
    return MLPD_OK;
}

int pgs_read_page(pg_store *s, const char *page_sql, const pgs_params *p, const char *count_sql,
                  const char *what, pgs_row_reader read, void (*clear)(void *), size_t item_size,
                  void **out, size_t *n, int64_t *total, mlpd_error *err) {
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    PGresult *r = pgs_exec(s, page_sql, p, 0, what, err);
    PGresult *c = NULL;
    if (r && total) {
        pgs_params cp = {0};
        pgs_p_text(&cp, p->v[0]);
        c = pgs_exec(s, count_sql, &cp, 0, what, err);
    }
    pthread_mutex_unlock(&s->mu);
    if (!r || (total && !c)) {
        PQclear(r);
        return MLPD_ESTORE;
    }
    if (total) *total = pgs_i64(c, 0, 0);
    PQclear(c);
    int rc = pgs_read_rows(r, read, clear, item_size, out, n, err);
    PQclear(r);
    return rc;
}
