/* store_sqlite_impl.h - what the SQLite store's files (store_sqlite.c,
 * store_runs.c, store_models.c) share. Not part of the store's interface:
 * only those files include it.
 *
 * Locking contract: every public store_* function takes s->mu for its whole
 * duration (one connection, one writer), so the helpers below assume the
 * caller holds it. Error texts are copied out of SQLite while it is held.
 */
#ifndef MLPD_STORE_SQLITE_IMPL_H
#define MLPD_STORE_SQLITE_IMPL_H

#include <pthread.h>
#include <sqlite3.h>

#include "clock.h"
#include "store_backend.h"

typedef struct sqlite_store {
    store base; /* first: a sqlite_store is a store (store_backend.h) */
    sqlite3 *db;
    pthread_mutex_t mu;    /* guards db and every statement made from it */
    int keep_step_metrics; /* step_loss rows kept per run, 0 = all (store_set_keep_step_metrics) */
    int schema_version;    /* user_version after migrations */
    char *reserve_path;    /* "<db>-reserve" (store_reserve.c), NULL in memory */
    int reserve_missing;   /* the reserve was used or could not be made */
} sqlite_store;

static inline sqlite_store *sqlite_of(store *s) {
    return (sqlite_store *)s;
}

/* Space held back for the writes that end a run (store_reserve.c; the
 * caller holds s->mu except in init/free). init makes "<db>-reserve" when it
 * can; release deletes it, returning 1 when that freed space (0: there was
 * none to free); refill makes it again if it is missing. */
void store_reserve_init(sqlite_store *s, const char *db_path);
int store_reserve_release(sqlite_store *s);
void store_reserve_refill(sqlite_store *s);
void store_reserve_free(sqlite_store *s);

/* Write a status change of one row (a run or a sweep) under the reserve rule:
 * sql has ?1 id, ?2 the status's name, ?3 the error (NULL binds NULL), ?4 the
 * time now. A final status must be recorded even on a full disk, so on
 * MLPD_ENOSPC the reserve is spent and the write tried once more; a final
 * status written refills it. An invalid status is MLPD_ESTORE "invalid <noun>
 * status", a row the UPDATE does not change MLPD_ENOTFOUND "<what>: no such
 * <noun>". Takes s->mu (the caller must not hold it). */
int store_write_status(sqlite_store *s, const char *sql, int64_t id, run_status status,
                       const char *error, const char *what, const char *noun, mlpd_error *err);

/* One try of that UPDATE, without the reserve rule, for a caller that holds
 * s->mu (inside its own transaction). */
int store_write_status_once(sqlite_store *s, const char *sql, int64_t id, run_status status,
                            const char *error, const char *what, const char *noun, mlpd_error *err);

/* "<what>: <sqlite's message>" into err; returns MLPD_ENOSPC when SQLite's
 * error was a full disk (SQLITE_FULL), MLPD_ELOCKED when another process
 * held the lock past the busy timeout (SQLITE_BUSY, SQLITE_LOCKED), else
 * MLPD_ESTORE. Other failures use
 * mlpd_fail(err, MLPD_ESTORE, ...); a missing row mlpd_fail(err,
 * MLPD_ENOTFOUND, ...). */
int store_fail_sql(sqlite_store *s, mlpd_error *err, const char *what);

/* Make room for element `count` of a growing array *arr of *cap elements of
 * elem bytes: nothing when count < *cap, else *cap doubles (first: its first
 * size) and *arr is realloc'ed. MLPD_OK, or MLPD_ESTORE "out of memory" with
 * *arr and *cap unchanged (the caller frees *arr). */
int store_grow(void **arr, size_t *cap, size_t count, size_t elem, size_t first, mlpd_error *err);

/* Reads the row st is on into *item, the columns as the caller's SELECT
 * lists them: MLPD_OK, or MLPD_ESTORE (memory, a bad value) having released
 * whatever it took for item. */
typedef int (*store_row_reader)(sqlite3_stmt *st, void *item, mlpd_error *err);

/* One row of st (prepared and bound): read into item; no row is
 * MLPD_ENOTFOUND with `notfound` as the reason, an SQLite failure
 * store_fail_sql(what). Finalizes st. */
int store_read_one(sqlite_store *s, sqlite3_stmt *st, store_row_reader read, void *item,
                   const char *notfound, const char *what, mlpd_error *err);

/* Every row of st (prepared and bound), at most max (0: no limit), each read
 * into a new element of elem bytes of a growing array (first: its first
 * size): *out (the caller frees it) and *n. On failure the rows read so far
 * are released with clear (NULL: the elements own nothing), the array is
 * freed and *out, *n stay NULL, 0. Finalizes st. */
int store_read_all(sqlite_store *s, sqlite3_stmt *st, store_row_reader read, void (*clear)(void *),
                   size_t elem, size_t first, size_t max, void **out, size_t *n, const char *what,
                   mlpd_error *err);

/* clear() every one of n elements of elem bytes of list, then free list
 * (NULL is fine): what the store_*_list_free calls do. */
void store_free_items(void *list, size_t n, size_t elem, void (*clear)(void *));

/* Prepare one statement (per call: statements are cheap next to the fsync of
 * a commit, and this keeps no state beside the connection). */
int store_prepare(sqlite_store *s, const char *sql, sqlite3_stmt **st, mlpd_error *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_tx_begin(sqlite_store *s, mlpd_error *err);
int store_tx_commit(sqlite_store *s, mlpd_error *err);
void store_tx_rollback(sqlite_store *s);

/* The model INSERT of store_model_put (run_id from meta, 0 = NULL) and its
 * registration as the next version of meta->name; the caller holds s->mu and
 * has begun a transaction (two statements). */
int store_model_insert(sqlite_store *s, const store_model *meta, const unsigned char *file,
                       size_t len, int64_t *id_out, int *version_out, mlpd_error *err);
/* store_evaluation_put and store_model_mean_put without the lock or the
 * model check (store_evals.c): for store_run_succeed's transaction. */
int store_evaluation_insert(sqlite_store *s, int64_t model_id, const char *dataset,
                            const char *split, const char *report_json, int64_t *id_out,
                            mlpd_error *err);
int store_model_mean_insert(sqlite_store *s, int64_t model_id, const char *dataset,
                            const float *mean, int features, mlpd_error *err);

/* The columns of a run, as store_runs.c selects them, and the reader of
 * such a row (store_sweeps.c lists a sweep's children with them). */
#define STORE_RUN_COLUMNS                                                                          \
    "id, status, config_json, dataset, error, created_at, started_at, finished_at, "               \
    "epoch, epochs, step, steps, loss, accuracy, val_loss, val_accuracy, "                         \
    "samples_per_sec, test_loss, test_accuracy, model_id, sweep_id, worker, attempts, "            \
    "(SELECT max(value) FROM metrics WHERE metrics.run_id = runs.id AND key = 'val_accuracy')"
int store_read_run_row(sqlite3_stmt *st, void *item, mlpd_error *err); /* a store_row_reader */
void store_clear_run(void *r);                                         /* store_run_clear */

/* NaN (and infinities) are stored as NULL; NULL reads back as NaN. */
int store_bind_metric(sqlite3_stmt *st, int idx, double v);
double store_column_metric(sqlite3_stmt *st, int col);
/* A NULL or zero timestamp column reads as 0. */
double store_column_time(sqlite3_stmt *st, int col);
/* strdup of a TEXT column, NULL for SQL NULL. *oom is set when the copy failed. */
char *store_column_text(sqlite3_stmt *st, int col, int *oom);

/* The operations, for the backend table (store_sqlite.c). */
int sqlite_dataset_put(store *s, const store_dataset *d, int64_t *id_out, mlpd_error *err);
int sqlite_dataset_get(store *s, const char *name, store_dataset *out, mlpd_error *err);
int sqlite_dataset_list(store *s, store_dataset **out, size_t *n, mlpd_error *err);
int sqlite_dataset_delete(store *s, const char *name, mlpd_error *err);
int sqlite_model_class_names(store *s, int64_t model_id, char **json_out, mlpd_error *err);
int sqlite_run_create(store *s, const char *config_json, const char *dataset, int epochs,
                      int64_t sweep_id, int64_t *id_out, mlpd_error *err);
int sqlite_run_set_status(store *s, int64_t id, run_status st, const char *error, mlpd_error *err);
int sqlite_run_set_progress(store *s, int64_t id, int epoch, int64_t step, int64_t steps,
                            double loss, double accuracy, double val_loss, double val_accuracy,
                            double samples_per_sec, mlpd_error *err);
int sqlite_run_finish(store *s, int64_t id, double test_loss, double test_accuracy,
                      int64_t model_id, mlpd_error *err);
int sqlite_run_get(store *s, int64_t id, store_run *out, mlpd_error *err);
int sqlite_run_list(store *s, const store_run_query *q, store_run **out, size_t *n, int64_t *total,
                    mlpd_error *err);
int sqlite_run_ids_with_status(store *s, run_status st, int64_t **ids, size_t *n, mlpd_error *err);
int sqlite_metrics_append(store *s, const store_metric *m, size_t n, mlpd_error *err);
void sqlite_set_keep_step_metrics(store *s, int keep);
int sqlite_run_record_epoch(store *s, int64_t id, const store_metric *m, size_t n, int epoch,
                            int64_t steps, double loss, double accuracy, double val_loss,
                            double val_accuracy, double samples_per_sec, const unsigned char *ckpt,
                            size_t ckpt_len, mlpd_error *err);
int sqlite_run_checkpoint(store *s, int64_t id, unsigned char **data, size_t *len, int *epoch,
                          mlpd_error *err);
int sqlite_metrics_get(store *s, int64_t run_id, int64_t since_id, int limit, store_metric **out,
                       size_t *n, mlpd_error *err);
int sqlite_model_put(store *s, const store_model *meta, const unsigned char *file, size_t len,
                     int64_t *id_out, int *version_out, mlpd_error *err);
int sqlite_run_succeed(store *s, int64_t id, const store_model *meta, const unsigned char *file,
                       size_t len, double test_loss, double test_accuracy,
                       const store_model_derived *derived, int64_t *model_id_out, mlpd_error *err);
int sqlite_evaluation_put(store *s, const store_evaluation *e, int64_t *id_out, mlpd_error *err);
int sqlite_evaluation_latest(store *s, int64_t model_id, store_evaluation *out, mlpd_error *err);
int sqlite_model_mean_put(store *s, int64_t model_id, const char *dataset, const float *mean,
                          int features, mlpd_error *err);
int sqlite_model_mean_get(store *s, int64_t model_id, float **mean, int *features, mlpd_error *err);
int sqlite_model_precision_put(store *s, const store_model_precision *p, mlpd_error *err);
int sqlite_model_precision_clear(store *s, int64_t model_id, mlpd_error *err);
int sqlite_model_precision_get(store *s, int64_t model_id, store_model_precision *out,
                               mlpd_error *err);
int sqlite_model_get(store *s, int64_t id, store_model *out, mlpd_error *err);
int sqlite_model_file(store *s, int64_t id, unsigned char **file, size_t *len, mlpd_error *err);
int sqlite_model_list(store *s, int limit, int64_t offset, int64_t before_id, store_model **out,
                      size_t *n, int64_t *total, mlpd_error *err);
int sqlite_model_delete(store *s, int64_t id, mlpd_error *err);
int sqlite_model_latest(store *s, int64_t *id_out, mlpd_error *err);
int sqlite_model_versions(store *s, const char *name, store_model **out, size_t *n,
                          mlpd_error *err);
int sqlite_model_find(store *s, const char *name, int version, int64_t *id_out, mlpd_error *err);
int sqlite_alias_set(store *s, const char *name, const char *alias, int version, mlpd_error *err);
int sqlite_alias_delete(store *s, const char *name, const char *alias, mlpd_error *err);
int sqlite_canary_set(store *s, const char *name, int version, int percent, mlpd_error *err);
int sqlite_registry_load(store *s, store_registry *out, mlpd_error *err);
int sqlite_run_claim(store *s, const char *worker, double lease_seconds, int64_t *id_out,
                     mlpd_error *err);
int sqlite_run_heartbeat(store *s, int64_t id, const char *worker, double lease_seconds,
                         int *cancel_out, mlpd_error *err);
int sqlite_run_rescue(store *s, int max_attempts, int *requeued, int *failed, mlpd_error *err);
int sqlite_run_cancel(store *s, int64_t id, const char *why, int *was_running, mlpd_error *err);
int sqlite_run_count(store *s, run_status st, int64_t *n, mlpd_error *err);

int sqlite_sweep_create(store *s, const char *config_json, const char *worker, double lease_seconds,
                        int64_t *id_out, mlpd_error *err);
int sqlite_sweep_claim(store *s, const char *worker, double lease_seconds, int own,
                       int64_t after_id, int64_t *id_out, mlpd_error *err);
int sqlite_sweep_renew(store *s, int64_t id, const char *worker, double lease_seconds,
                       mlpd_error *err);
int sqlite_sweep_get(store *s, int64_t id, store_sweep *out, mlpd_error *err);
int sqlite_sweep_set_status(store *s, int64_t id, run_status st, const char *error,
                            mlpd_error *err);
int sqlite_sweep_set_best(store *s, int64_t id, int64_t run_id, double value, mlpd_error *err);
int sqlite_sweep_list(store *s, const store_run_query *q, store_sweep **out, size_t *n,
                      int64_t *total, mlpd_error *err);
int sqlite_sweep_children(store *s, int64_t sweep_id, int limit, store_run **out, size_t *n,
                          mlpd_error *err);

#endif /* MLPD_STORE_SQLITE_IMPL_H */
