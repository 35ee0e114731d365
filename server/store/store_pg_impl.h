/* store_pg_impl.h - what the PostgreSQL store's files (store_pg.c,
 * store_pg_runs.c, store_pg_models.c) share. Not part of the store's
 * interface: only those files include it.
 *
 * One libpq connection guarded by a mutex, like the SQLite store: mlpd's
 * write rate is a commit per epoch and per STEP_METRIC_INTERVAL batches, and
 * reads are single-row lookups, so one connection per replica is enough and
 * keeps a fleet's connection count at one per replica (docs/scale-out.md).
 * Every statement is sent with PQexecParams (parameters never spliced into
 * SQL). A broken connection is reset on the next call (pgs_exec), so the
 * daemon reconnects by itself after PostgreSQL restarts.
 */
#ifndef MLPD_STORE_PG_IMPL_H
#define MLPD_STORE_PG_IMPL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "clock.h"
#include "store_backend.h"

typedef struct {
    store base; /* first: a pg_store is a store */
    PGconn *conn;
    pthread_mutex_t mu; /* guards conn */
    char *conninfo;     /* the URI, to reconnect */
    int schema_version;
    int keep_step_metrics; /* step_loss rows kept per run, 0 = all (store_set_keep_step_metrics) */
    char last_sqlstate[6]; /* SQLSTATE of the last failed statement ("" if none) */
    /* store_listen (store_pg_listen.c) */
    int listening;
    pthread_t listen_thread;
    atomic_int listen_stop;
    store_event_fn listen_fn;
    void *listen_user;
} pg_store;

static inline pg_store *pgs_of(store *s) {
    return (pg_store *)s;
}

/* A libpq connection to conninfo (a URI) with mlpd's connect_timeout
 * default (store_pg.c). */
PGconn *pgs_connect(const char *conninfo);
/* NOTIFY channel (s->mu held): in a transaction, delivered at its commit. */
void pgs_notify(pg_store *s, const char *channel);
/* Stop and join the listener thread, if any (store_close). */
void pgs_listen_stop(pg_store *s);

/* Parameters of one statement, as text (binary for bytes). */
#define PGS_MAX_PARAMS 12
typedef struct {
    const char *v[PGS_MAX_PARAMS];
    int len[PGS_MAX_PARAMS];
    int fmt[PGS_MAX_PARAMS];
    char buf[PGS_MAX_PARAMS][32];
    int n;
} pgs_params;

void pgs_p_i64(pgs_params *p, int64_t v);
/* NaN and infinities go as NULL (the SQLite store's convention). */
void pgs_p_metric(pgs_params *p, double v);
void pgs_p_double(pgs_params *p, double v);
void pgs_p_text(pgs_params *p, const char *text); /* NULL goes as NULL */
void pgs_p_bytes(pgs_params *p, const void *bytes, size_t len);
/* An id that is 0 goes as NULL (run_id of an upload, model_id not yet). */
void pgs_p_id_or_null(pgs_params *p, int64_t id);

/* Run sql with p (may be NULL); the caller holds s->mu. Returns the result
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK; PQclear it) or NULL after filling err
 * with "<what>: <server's message>". binary_result asks for binary columns.
 * A connection found broken is reset once and the statement retried when
 * not inside a transaction. */
PGresult *pgs_exec(pg_store *s, const char *sql, const pgs_params *p, int binary_result,
                   const char *what, mlpd_error *err);
/* A statement with no rows to read: MLPD_OK or MLPD_ESTORE. *changed (may be
 * NULL) gets the number of rows it changed. */
int pgs_cmd(pg_store *s, const char *sql, const pgs_params *p, const char *what, int64_t *changed,
            mlpd_error *err);
/* BEGIN / COMMIT / ROLLBACK; the caller holds s->mu. */
int pgs_begin(pg_store *s, mlpd_error *err);
int pgs_commit(pg_store *s, mlpd_error *err);
void pgs_rollback(pg_store *s);

/* Column readers: NULL reads as 0 (ints, times), NaN (metrics) or NULL
 * (text; *oom set when the copy failed). */
int64_t pgs_i64(const PGresult *r, int row, int col);
double pgs_metric(const PGresult *r, int row, int col);
double pgs_time(const PGresult *r, int row, int col);
char *pgs_text(const PGresult *r, int row, int col, int *oom);

/* Fills item (zeroed first) from row `row` of r; on failure it leaves
 * nothing in item to free. */
typedef int (*pgs_row_reader)(const PGresult *r, int row, void *item, mlpd_error *err);
/* Every row of r read into a new array of item_size items (*out, *n); on a
 * failure the items read so far are cleared with clear and freed, and *out is
 * NULL. r stays the caller's. */
int pgs_read_rows(const PGresult *r, pgs_row_reader read, void (*clear)(void *), size_t item_size,
                  void **out, size_t *n, mlpd_error *err);

/* One page of a list and, when total is not NULL, its count: page_sql with
 * p, then count_sql with p's first parameter alone (the status filter), both
 * under s->mu; the rows are read as pgs_read_rows does. */
int pgs_read_page(pg_store *s, const char *page_sql, const pgs_params *p, const char *count_sql,
                  const char *what, pgs_row_reader read, void (*clear)(void *), size_t item_size,
                  void **out, size_t *n, int64_t *total, mlpd_error *err);

/* A run's columns in the order pgs_read_run_row reads them (store_pg_runs.c). */
#define PGS_RUN_COLUMNS                                                                            \
    "id, status, config_json, dataset, error, created_at, started_at, finished_at, "               \
    "epoch, epochs, step, steps, loss, accuracy, val_loss, val_accuracy, "                         \
    "samples_per_sec, test_loss, test_accuracy, model_id, worker, attempts, sweep_id, "            \
    "(SELECT max(value) FROM metrics WHERE metrics.run_id = runs.id AND key = 'val_accuracy')"
int pgs_read_run_row(const PGresult *r, int row, void *run, mlpd_error *err); /* a store_run */
void pgs_clear_run(void *run);                                                /* store_run_clear */

/* The model INSERT and its registration as the next version of meta->name
 * (store_pg_models.c); the caller holds s->mu and has begun a transaction. */
int pgs_model_insert(pg_store *s, const store_model *meta, const unsigned char *file, size_t len,
                     int64_t *id_out, int *version_out, mlpd_error *err);
/* Register model id as the next version of name (store_pg_registry.c); same
 * conditions. */
int pgs_register_version(pg_store *s, int64_t id, const char *name, int *version_out,
                         mlpd_error *err);

/* The operations, for the backend table (store_pg.c). */
int pgs_dataset_put(store *s, const store_dataset *d, int64_t *id_out, mlpd_error *err);
int pgs_dataset_get(store *s, const char *name, store_dataset *out, mlpd_error *err);
int pgs_dataset_list(store *s, store_dataset **out, size_t *n, mlpd_error *err);
int pgs_dataset_delete(store *s, const char *name, mlpd_error *err);
int pgs_model_class_names(store *s, int64_t model_id, char **json_out, mlpd_error *err);
int pgs_run_create(store *s, const char *config_json, const char *dataset, int epochs,
                   int64_t sweep_id, int64_t *id_out, mlpd_error *err);
int pgs_run_set_status(store *s, int64_t id, run_status st, const char *error, mlpd_error *err);
int pgs_run_set_progress(store *s, int64_t id, int epoch, int64_t step, int64_t steps, double loss,
                         double accuracy, double val_loss, double val_accuracy,
                         double samples_per_sec, mlpd_error *err);
int pgs_run_finish(store *s, int64_t id, double test_loss, double test_accuracy, int64_t model_id,
                   mlpd_error *err);
int pgs_run_get(store *s, int64_t id, store_run *out, mlpd_error *err);
int pgs_run_list(store *s, const store_run_query *q, store_run **out, size_t *n, int64_t *total,
                 mlpd_error *err);
int pgs_run_ids_with_status(store *s, run_status st, int64_t **ids, size_t *n, mlpd_error *err);
int pgs_metrics_append(store *s, const store_metric *m, size_t n, mlpd_error *err);
void pgs_set_keep_step_metrics(store *s, int keep);
int pgs_run_record_epoch(store *s, int64_t id, const store_metric *m, size_t n, int epoch,
                         int64_t steps, double loss, double accuracy, double val_loss,
                         double val_accuracy, double samples_per_sec, const unsigned char *ckpt,
                         size_t ckpt_len, mlpd_error *err);
int pgs_run_checkpoint(store *s, int64_t id, unsigned char **data, size_t *len, int *epoch,
                       mlpd_error *err);
int pgs_metrics_get(store *s, int64_t run_id, int64_t since_id, int limit, store_metric **out,
                    size_t *n, mlpd_error *err);
int pgs_model_put(store *s, const store_model *meta, const unsigned char *file, size_t len,
                  int64_t *id_out, int *version_out, mlpd_error *err);
int pgs_run_succeed(store *s, int64_t id, const store_model *meta, const unsigned char *file,
                    size_t len, double test_loss, double test_accuracy,
                    const store_model_derived *derived, int64_t *model_id_out, mlpd_error *err);
int pgs_evaluation_put(store *s, const store_evaluation *e, int64_t *id_out, mlpd_error *err);
int pgs_evaluation_latest(store *s, int64_t model_id, store_evaluation *out, mlpd_error *err);
int pgs_model_mean_put(store *s, int64_t model_id, const char *dataset, const float *mean,
                       int features, mlpd_error *err);
int pgs_model_mean_get(store *s, int64_t model_id, float **mean, int *features, mlpd_error *err);
int pgs_model_precision_put(store *s, const store_model_precision *p, mlpd_error *err);
int pgs_model_precision_clear(store *s, int64_t model_id, mlpd_error *err);
int pgs_model_precision_get(store *s, int64_t model_id, store_model_precision *out,
                            mlpd_error *err);
/* The evaluation and mean INSERTs (store_pg_evals.c); s->mu held, maybe in a
 * transaction. */
int pgs_evaluation_insert(pg_store *s, int64_t model_id, const char *dataset, const char *split,
                          const char *report_json, int64_t *id_out, mlpd_error *err);
int pgs_model_mean_insert(pg_store *s, int64_t model_id, const char *dataset, const float *mean,
                          int features, mlpd_error *err);
int pgs_model_get(store *s, int64_t id, store_model *out, mlpd_error *err);
int pgs_model_file(store *s, int64_t id, unsigned char **file, size_t *len, mlpd_error *err);
int pgs_model_list(store *s, int limit, int64_t offset, int64_t before_id, store_model **out,
                   size_t *n, int64_t *total, mlpd_error *err);
int pgs_model_delete(store *s, int64_t id, mlpd_error *err);
int pgs_model_latest(store *s, int64_t *id_out, mlpd_error *err);
int pgs_model_versions(store *s, const char *name, store_model **out, size_t *n, mlpd_error *err);
int pgs_model_find(store *s, const char *name, int version, int64_t *id_out, mlpd_error *err);
int pgs_alias_set(store *s, const char *name, const char *alias, int version, mlpd_error *err);
int pgs_alias_delete(store *s, const char *name, const char *alias, mlpd_error *err);
int pgs_canary_set(store *s, const char *name, int version, int percent, mlpd_error *err);
int pgs_registry_load(store *s, store_registry *out, mlpd_error *err);
int pgs_run_claim(store *s, const char *worker, double lease_seconds, int64_t *id_out,
                  mlpd_error *err);
int pgs_run_heartbeat(store *s, int64_t id, const char *worker, double lease_seconds,
                      int *cancel_out, mlpd_error *err);
int pgs_run_rescue(store *s, int max_attempts, int *requeued, int *failed, mlpd_error *err);
int pgs_run_cancel(store *s, int64_t id, const char *why, int *was_running, mlpd_error *err);
int pgs_run_count(store *s, run_status st, int64_t *n, mlpd_error *err);
int pgs_listen(store *s, store_event_fn fn, void *user, mlpd_error *err);
void pgs_listen_stop_op(store *s);

int pgs_sweep_create(store *s, const char *config_json, const char *worker, double lease_seconds,
                     int64_t *id_out, mlpd_error *err);
int pgs_sweep_claim(store *s, const char *worker, double lease_seconds, int own, int64_t after_id,
                    int64_t *id_out, mlpd_error *err);
int pgs_sweep_renew(store *s, int64_t id, const char *worker, double lease_seconds,
                    mlpd_error *err);
int pgs_sweep_get(store *s, int64_t id, store_sweep *out, mlpd_error *err);
int pgs_sweep_set_status(store *s, int64_t id, run_status st, const char *error, mlpd_error *err);
int pgs_sweep_set_best(store *s, int64_t id, int64_t run_id, double value, mlpd_error *err);
int pgs_sweep_list(store *s, const store_run_query *q, store_sweep **out, size_t *n, int64_t *total,
                   mlpd_error *err);
int pgs_sweep_children(store *s, int64_t sweep_id, int limit, store_run **out, size_t *n,
                       mlpd_error *err);

#endif /* MLPD_STORE_PG_IMPL_H */
