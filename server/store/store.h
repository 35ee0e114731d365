/* store.h - mlpd's persistent record: datasets, runs, metrics, models.
 *
 * A narrow interface so that another backend (PostgreSQL for multi-node
 * deployments) can implement the same functions. The SQLite backend
 * (store_sqlite.c) opens one writer connection in WAL mode with a busy
 * timeout, applies migrations/NNN_*.sql in order inside transactions
 * (tracked by PRAGMA user_version) and uses prepared statements only.
 *
 * Contracts:
 * - Every function is safe to call from any thread: the backend serialises
 *   access internally (one mutex around the connection).
 * - Functions follow the daemon's error convention (mlpd_error.h): MLPD_OK,
 *   MLPD_ENOTFOUND for a missing row, MLPD_ECONFLICT when the registry's
 *   rules refuse (an aliased version), MLPD_ENOSPC when a write was refused
 *   because the disk is full (SQLite's SQLITE_FULL, or no room left to record
 *   a run's end: the caller may answer "insufficient storage"), MLPD_ESTORE
 *   for any other failure; err (when not NULL) gets the code and the reason.
 * - Strings in the structs below are owned by the struct: free them with the
 *   matching *_clear()/ *_free() function.
 * - Timestamps are seconds since the Unix epoch as doubles (sub-second).
 */
#ifndef MLPD_STORE_H
#define MLPD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mlpd_error.h"

typedef struct store store;

/* Open (creating if needed) and migrate. migrations_dir holds NNN_name.sql
 * files. A database whose schema version is newer than the newest migration
 * is refused with a clear message and MLPD_ECONFLICT (a binary to upgrade, not
 * a store failure). */
int store_open(const char *path, const char *migrations_dir, store **out, mlpd_error *err);
void store_close(store *s);
/* 1 when the connection answers a trivial query (for /readyz). */
int store_ping(store *s);
/* 1 when a write could begin now: the database's write lock is free within
 * STORE_WRITABLE_WAIT_MS (another process holding BEGIN EXCLUSIVE or
 * IMMEDIATE takes it; for /readyz). Nothing is written. */
#define STORE_WRITABLE_WAIT_MS 100
int store_writable(store *s);
/* The schema version in force (PRAGMA user_version). */
int store_schema_version(store *s);

/* ---- datasets ---------------------------------------------------------------- */
typedef struct {
    int64_t id;
    char *name;      /* unique, [A-Za-z0-9._-]{1,64} */
    char *source;    /* "package:dataset-fashion-mnist", "upload", ... */
    char *path;      /* folder (IDX) or file (CSV) relative to the data dir */
    char *format;    /* "idx" or "csv" */
    int64_t n_train; /* samples in the train split */
    int64_t n_test;  /* samples in the test split, 0 if none */
    int features;
    int classes;
    char *class_names; /* JSON array of strings in label order, or NULL (no names);
                          a put with NULL keeps the names stored */
    double created_at;
} store_dataset;
void store_dataset_clear(store_dataset *d);

/* Insert, or update every field but id/created_at of the row with that name. */
int store_dataset_put(store *s, const store_dataset *d, int64_t *id_out, mlpd_error *err);
int store_dataset_get(store *s, const char *name, store_dataset *out, mlpd_error *err);
/* A class name as data sets keep it: 1..64 bytes, no control character, no
 * quote or backslash (so it goes into JSON answers as it is). */
int store_class_name_ok(const char *s, size_t len);
/* The class names (JSON array text, malloc'ed, or NULL when none) of the
 * data set the run that made model_id trained on; NULL for an upload. */
int store_model_class_names(store *s, int64_t model_id, char **json_out, mlpd_error *err);
/* Forget data set `name` (its files are the caller's): MLPD_ENOTFOUND when
 * there is none, MLPD_ECONFLICT while a queued or running job trains on it.
 * Ended runs keep its name. */
int store_dataset_delete(store *s, const char *name, mlpd_error *err);
/* All datasets ordered by name; *out is an array of *n (free with store_dataset_list_free). */
int store_dataset_list(store *s, store_dataset **out, size_t *n, mlpd_error *err);
void store_dataset_list_free(store_dataset *list, size_t n);

/* ---- runs (a training job is a run) ---------------------------------------------- */
typedef enum { RUN_QUEUED = 0, RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED } run_status;
const char *run_status_name(run_status st);                  /* "queued", ... */
int run_status_from_name(const char *name, run_status *out); /* 0 ok, -1 unknown */

typedef struct {
    int64_t id;
    run_status status;
    char *config_json; /* the full, defaulted training config as JSON (written once) */
    char *dataset;     /* dataset name */
    char *error;       /* NULL unless failed (or cancelled with a reason) */
    double created_at, started_at, finished_at; /* 0 when not yet */
    int epoch, epochs;                          /* epochs completed / configured */
    int64_t step, steps;                        /* batches done in the current epoch / per epoch */
    double loss, accuracy, val_loss, val_accuracy; /* latest epoch values; NaN when unknown */
    double best_val_accuracy; /* the highest epoch val_accuracy recorded; NaN when none */
    double samples_per_sec;
    double test_loss, test_accuracy; /* NaN when unknown */
    int64_t model_id;                /* 0 until succeeded */
    int64_t sweep_id;                /* the sweep it is a child of, 0 for none */
    char *worker;                    /* --node-name of the daemon that claimed it last, or NULL */
    int attempts;                    /* claims so far (store_run_claim) */
} store_run;
void store_run_clear(store_run *r);

/* New run in status queued. Refused (MLPD_ENOSPC) when the disk is too full
 * to keep the space that recording its end needs (see store_run_set_status). */
int store_run_create(store *s, const char *config_json, const char *dataset, int epochs,
                     int64_t *id_out, mlpd_error *err);
/* The same for a child of sweep sweep_id (0: none, as store_run_create). */
int store_run_create_in(store *s, const char *config_json, const char *dataset, int epochs,
                        int64_t sweep_id, int64_t *id_out, mlpd_error *err);
/* Set status; started_at is set on RUNNING, finished_at on a final status.
 * error may be NULL. A final status is written even when the disk is full,
 * by spending space the store holds back for it (store_reserve.c). */
int store_run_set_status(store *s, int64_t id, run_status st, const char *error, mlpd_error *err);
/* Record the latest progress of a running run (called per epoch, and at a
 * coarse interval per step; cheap). */
int store_run_set_progress(store *s, int64_t id, int epoch, int64_t step, int64_t steps,
                           double loss, double accuracy, double val_loss, double val_accuracy,
                           double samples_per_sec, mlpd_error *err);
/* Final results: test metrics (NaN if none) and the model made. */
int store_run_finish(store *s, int64_t id, double test_loss, double test_accuracy, int64_t model_id,
                     mlpd_error *err);
int store_run_get(store *s, int64_t id, store_run *out, mlpd_error *err);

typedef struct {
    int has_status; /* filter by status when set */
    run_status status;
    int limit; /* 1..1001 (the API's 1000 and one row to see whether a next page exists) */
    int64_t offset;
    int64_t before_id; /* > 0: only runs with a smaller id (a keyset cursor) */
} store_run_query;
/* Newest first. *total is the count matching the filter, ignoring limit,
 * offset and before_id. */
int store_run_list(store *s, const store_run_query *q, store_run **out, size_t *n, int64_t *total,
                   mlpd_error *err);
void store_run_list_free(store_run *list, size_t n);
/* Ids of runs with the given status, oldest first (start-up recovery and queueing). */
int store_run_ids_with_status(store *s, run_status st, int64_t **ids, size_t *n, mlpd_error *err);

/* ---- metrics (MLflow style: key, value, step, time; appended, never changed) ---- */
typedef struct {
    int64_t id; /* increasing; usable as a cursor (?since=, Last-Event-ID) */
    int64_t run_id;
    char key
        [32]; /* "loss" "accuracy" "val_loss" "val_accuracy" "seconds" ("step_loss", "step_accuracy" per step) */
    int epoch;    /* 1-based */
    int64_t step; /* global step (batches since start) */
    double value;
    double time;
} store_metric;

/* Append several metrics of one run in one transaction. */
int store_metrics_append(store *s, const store_metric *m, size_t n, mlpd_error *err);
/* --keep-step-metrics: from now on, each commit of "step_loss" metrics of a
 * run (store_metrics_append, store_run_record_epoch) thins that run's step
 * rows to at most `keep`, evenly spread (every second one deleted, the first
 * and last kept, until they fit); keep 0 keeps all. Epoch metrics are never
 * thinned. Runs not written to are left as they are (a start-up pass over
 * every run would make start-up slow on a large store). */
void store_set_keep_step_metrics(store *s, int keep);
/* A finished epoch, atomically: store_metrics_append(m, n),
 * store_run_set_progress(id, epoch, steps, steps, ...) and, when ckpt is not
 * NULL, the run's checkpoint after that epoch (ckpt_len bytes, replacing the
 * one before) in one transaction, so a crash never leaves the run's
 * progress, its metrics and its checkpoint disagreeing. MLPD_ENOTFOUND
 * (nothing written) for an unknown run. */
int store_run_record_epoch(store *s, int64_t id, const store_metric *m, size_t n, int epoch,
                           int64_t steps, double loss, double accuracy, double val_loss,
                           double val_accuracy, double samples_per_sec, const unsigned char *ckpt,
                           size_t ckpt_len, mlpd_error *err);
/* The latest checkpoint of run id (malloc'ed into *data, *len bytes; the
 * caller frees it) and the epoch it follows. A run keeps one from its first
 * recorded epoch until it ends (succeeded, failed, cancelled: then it is
 * dropped). MLPD_ENOTFOUND when it has none. */
int store_run_checkpoint(store *s, int64_t id, unsigned char **data, size_t *len, int *epoch,
                         mlpd_error *err);
/* Metrics of a run with id > since_id, oldest first, at most limit. */
int store_metrics_get(store *s, int64_t run_id, int64_t since_id, int limit, store_metric **out,
                      size_t *n, mlpd_error *err);

/* ---- models ------------------------------------------------------------------------ */
typedef struct {
    int64_t id;
    int64_t run_id; /* 0 for an uploaded model */
    char *name;     /* registered name ([A-Za-z][A-Za-z0-9._-]{0,63}): required on put */
    int version;    /* 1, 2, 3... per name; given by the store on put */
    char
        *arch_json; /* {"inputs":784,"layers":[{"units":512,"activation":"relu"},...],"loss":...} */
    char *config_json;  /* training config, NULL for uploads */
    char *metrics_json; /* final metrics, NULL if none */
    char *checksum;     /* the CRC-32 the model file stores, 8 hex digits */
    int64_t size_bytes;
    int64_t n_params;
    double created_at;
} store_model;
void store_model_clear(store_model *m);

/* Insert a model with its file bytes (the engine's format) in one transaction,
 * as the next version of meta->name (the caller checked the name's syntax).
 * *version_out (may be NULL) gets that version. */
int store_model_put(store *s, const store_model *meta, const unsigned char *file, size_t len,
                    int64_t *id_out, int *version_out, mlpd_error *err);
/* A run's success, atomically: insert the model (as store_model_put, with
 * meta->run_id = id), record the test metrics and model id (as
 * store_run_finish) and set the status succeeded, in one transaction, so a
 * crash never leaves a model whose run is not succeeded or the reverse.
 * *model_id_out (may be NULL) gets the new model's id. */
/* What a job derives from its new model, stored in the same transaction
 * (store_run_succeed) so that a succeeded run's model never lacks them:
 * an evaluation (report_json NULL: none) and the training-set mean (mean
 * NULL: none), as store_evaluation_put and store_model_mean_put store them. */
typedef struct {
    const char *eval_dataset, *eval_split, *eval_json;
    const char *mean_dataset;
    const float *mean;
    int mean_features;
} store_model_derived;
/* derived may be NULL. */
int store_run_succeed(store *s, int64_t id, const store_model *meta, const unsigned char *file,
                      size_t len, double test_loss, double test_accuracy,
                      const store_model_derived *derived, int64_t *model_id_out, mlpd_error *err);
int store_model_get(store *s, int64_t id, store_model *out, mlpd_error *err);
/* The file bytes (malloc'ed, caller frees). */
int store_model_file(store *s, int64_t id, unsigned char **file, size_t *len, mlpd_error *err);
/* Newest first. */
int store_model_list(store *s, int limit, int64_t offset, int64_t before_id, store_model **out,
                     size_t *n, int64_t *total, mlpd_error *err);
void store_model_list_free(store_model *list, size_t n);
/* MLPD_ECONFLICT (nothing deleted) when an alias or the canary of its name
 * points at this version. */
int store_model_delete(store *s, int64_t id, mlpd_error *err);
/* Id of the newest model, MLPD_ENOTFOUND when there is none. */
int store_model_latest(store *s, int64_t *id_out, mlpd_error *err);

/* ---- the registry: names, versions, aliases, canaries (MLflow's vocabulary) ------ */
#define STORE_NAME_MAX 64

/* The versions of one name, oldest first (free with store_model_list_free);
 * MLPD_ENOTFOUND when the name has none. */
int store_model_versions(store *s, const char *name, store_model **out, size_t *n, mlpd_error *err);
/* The model id of name's version; MLPD_ENOTFOUND when there is none. */
int store_model_find(store *s, const char *name, int version, int64_t *id_out, mlpd_error *err);
/* Set or move alias of name to version, atomically. MLPD_ENOTFOUND when the
 * version does not exist. */
int store_alias_set(store *s, const char *name, const char *alias, int version, mlpd_error *err);
/* MLPD_ENOTFOUND when the alias is not set. */
int store_alias_delete(store *s, const char *name, const char *alias, mlpd_error *err);
/* Send percent (1..100) of name's unversioned requests to version; percent 0
 * ends the canary (MLPD_OK even when there was none). MLPD_ENOTFOUND when
 * the version does not exist. */
int store_canary_set(store *s, const char *name, int version, int percent, mlpd_error *err);

/* The whole registry at one moment (the serving layer keeps it in memory,
 * so resolving a name costs no query). Arrays ordered by name, then version
 * or alias. Free with store_registry_free. */
typedef struct {
    char name[STORE_NAME_MAX + 1];
    int version;
    int64_t model_id;
} store_reg_version;
typedef struct {
    char name[STORE_NAME_MAX + 1];
    char alias[STORE_NAME_MAX + 1];
    int version;
} store_reg_alias;
typedef struct {
    char name[STORE_NAME_MAX + 1];
    int version;
    int percent;
} store_reg_canary;
typedef struct {
    store_reg_version *versions;
    size_t n_versions;
    store_reg_alias *aliases;
    size_t n_aliases;
    store_reg_canary *canaries;
    size_t n_canaries;
} store_registry;
int store_registry_load(store *s, store_registry *out, mlpd_error *err);
void store_registry_free(store_registry *r);
/* ---- evaluations and training-set means of models (store_evals.c) -------------------- */
typedef struct {
    int64_t id;
    int64_t model_id;
    char *dataset; /* data set name */
    char *split;   /* "train" or "test" */
    double created_at;
    char *report_json; /* EvaluationReport (api/openapi.yaml), as encoded by the daemon */
} store_evaluation;
void store_evaluation_clear(store_evaluation *e);

/* Append an evaluation of e->model_id (id and created_at are set here).
 * MLPD_ENOTFOUND when the model does not exist (any more). */
int store_evaluation_put(store *s, const store_evaluation *e, int64_t *id_out, mlpd_error *err);
/* The newest evaluation of a model, MLPD_ENOTFOUND when it has none. */
int store_evaluation_latest(store *s, int64_t model_id, store_evaluation *out, mlpd_error *err);

/* Record (replace) the mean input of the data set model_id was trained on:
 * features floats. MLPD_ENOTFOUND when the model does not exist. */
int store_model_mean_put(store *s, int64_t model_id, const char *dataset, const float *mean,
                         int features, mlpd_error *err);
/* The recorded mean (malloc'ed, caller frees) and its width; MLPD_ENOTFOUND
 * when none is recorded (an uploaded model). */
int store_model_mean_get(store *s, int64_t model_id, float **mean, int *features, mlpd_error *err);
/* ---- the job queue shared by the daemons on one database -------------------- */
/* Claim the oldest queued run for worker (a --node-name): status running,
 * worker set, attempts + 1, lease until now + lease_seconds, in one
 * statement (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent claims never
 * take the same run nor wait on each other). A run claimed again (after a
 * rescue, a restart or a drain) continues after its checkpoint's epoch (0
 * without one): its progress is set back to that epoch and the metrics of
 * later epochs (an epoch cut short) are removed in the same transaction, so
 * each epoch's metrics appear once.
 * MLPD_ENOTFOUND when nothing is queued. */
int store_run_claim(store *s, const char *worker, double lease_seconds, int64_t *id_out,
                    mlpd_error *err);
/* Renew worker's lease on run id; *cancel_out (may be NULL) is set when a
 * cancel was requested. MLPD_ECONFLICT when id is no longer worker's running
 * run (rescued and claimed by another, or ended): the caller stops at once
 * and records nothing more. */
int store_run_heartbeat(store *s, int64_t id, const char *worker, double lease_seconds,
                        int *cancel_out, mlpd_error *err);
/* Rescue the running runs whose lease expired: queued again while attempts
 * < max_attempts, else failed ("lease expired ..."); a run whose cancel was
 * requested ends cancelled. *requeued and *failed (may be NULL) count them. */
int store_run_rescue(store *s, int max_attempts, int *requeued, int *failed, mlpd_error *err);
/* Cancel from any daemon: a queued run ends cancelled at once, with why as
 * its error (*was_running = 0); a running one gets cancel_requested and why
 * as its cancel_reason (*was_running = 1: the daemon training it stops at its
 * next heartbeat or notification, and its final cancelled status takes that
 * reason when it has none of its own). why may be NULL or "" (no reason).
 * MLPD_ECONFLICT when the run already ended, MLPD_ENOTFOUND when there is
 * none. */
int store_run_cancel(store *s, int64_t id, const char *why, int *was_running, mlpd_error *err);
/* Runs with status st (the queue limit counts queued runs of every daemon). */
int store_run_count(store *s, run_status st, int64_t *n, mlpd_error *err);

/* ---- events between the daemons of one database ------------------------------ */
typedef enum {
    STORE_EVENT_JOBS = 1, /* a run was queued: claim now */
    STORE_EVENT_CANCEL,   /* id: cancel requested for that run */
    STORE_EVENT_MODELS    /* models, versions, aliases or canaries changed */
} store_event;
typedef void (*store_event_fn)(void *user, store_event ev, int64_t id);
/* Call fn (on a thread of the store's) for what other daemons on the same
 * database do: PostgreSQL LISTEN/NOTIFY. After a lost connection comes back,
 * JOBS and MODELS are reported once (events may have been missed). SQLite has
 * one daemon: nothing is ever reported. Call at most once; store_close stops
 * it. fn must be quick and must not call the store. */
int store_listen(store *s, store_event_fn fn, void *user, mlpd_error *err);
/* Stop calling fn (joins the thread); before freeing what fn uses. */
void store_listen_stop(store *s);
/* 1 when other daemons may share the database (PostgreSQL), 0 for SQLite. */
int store_is_shared(store *s);

/* 1 when path (--db) names a PostgreSQL database (a postgresql:// or
 * postgres:// URI, opened by store_open with libpq), 0 for a SQLite file. */
int store_path_is_uri(const char *path);
/* path as it may be logged: a URI's password replaced by "***" (at most
 * cap - 1 bytes into out). */
void store_path_display(const char *path, char *out, size_t cap);

/* ---- the precision a model version serves in (store_precision.c) -------------------- */
typedef struct {
    int64_t model_id;
    char precision[8];       /* "bf16" or "int8" */
    char dataset[65];        /* whose test split was measured */
    int64_t test_rows;       /* rows of that split */
    double accuracy_float32; /* on it, in float32 */
    double accuracy;         /* on it, in the precision */
    double created_at;
} store_model_precision;
/* Opt model p->model_id into p->precision (replacing any earlier choice);
 * MLPD_ENOTFOUND when the model does not exist. */
int store_model_precision_put(store *s, const store_model_precision *p, mlpd_error *err);
/* Back to float32 (no row): MLPD_OK also when there was none. */
int store_model_precision_clear(store *s, int64_t model_id, mlpd_error *err);
/* The model's choice; MLPD_ENOTFOUND when it serves in float32. */
int store_model_precision_get(store *s, int64_t model_id, store_model_precision *out,
                              mlpd_error *err);

/* ---- sweeps: jobs that run jobs (store_sweeps.c) ---------------------------------- */
typedef struct {
    int64_t id;
    run_status status; /* the runs' vocabulary: queued, running, then a final one */
    char *config_json; /* the full, defaulted SweepRequest */
    char *error;       /* NULL unless failed (or ended with a reason) */
    double created_at, started_at, finished_at; /* 0 when not yet */
    int64_t best_run_id;                        /* 0 while no child succeeded */
    double best_value;                          /* NaN while none */
} store_sweep;
void store_sweep_clear(store_sweep *w);
void store_sweep_list_free(store_sweep *list, size_t n);

/* New sweep in status queued, held by worker's scheduler (a --node-name) for
 * lease_seconds (see store_sweep_claim). */
int store_sweep_create(store *s, const char *config_json, const char *worker, double lease_seconds,
                       int64_t *id_out, mlpd_error *err);
/* A sweep is scheduled by one daemon at a time, under a lease like a run's
 * (migrations/011_sweep_leases.sql). Claim the oldest active (queued or
 * running) sweep that no daemon holds, whose lease expired (its daemon died)
 * or, with own set (at start), that worker held before it stopped: held by
 * worker until now + lease_seconds (PostgreSQL: FOR UPDATE SKIP LOCKED, so
 * two daemons never claim the same one). Only ids above after_id are looked
 * at, so a caller claiming in a loop (own set) moves past what it took.
 * MLPD_ENOTFOUND when there is none. */
int store_sweep_claim(store *s, const char *worker, double lease_seconds, int own, int64_t after_id,
                      int64_t *id_out, mlpd_error *err);
/* Renew worker's lease on sweep id. MLPD_ECONFLICT when it is no longer
 * worker's active sweep (ended, cancelled from another daemon, or claimed by
 * another after the lease expired): the caller forgets it at once. */
int store_sweep_renew(store *s, int64_t id, const char *worker, double lease_seconds,
                      mlpd_error *err);
int store_sweep_get(store *s, int64_t id, store_sweep *out, mlpd_error *err);
/* Set status (started_at on RUNNING, finished_at on a final status); error
 * may be NULL. A final status spends the run reserve on a full disk, as
 * store_run_set_status does. */
int store_sweep_set_status(store *s, int64_t id, run_status st, const char *error, mlpd_error *err);
int store_sweep_set_best(store *s, int64_t id, int64_t run_id, double value, mlpd_error *err);
/* Newest first, as store_run_list (q->status filters). */
int store_sweep_list(store *s, const store_run_query *q, store_sweep **out, size_t *n,
                     int64_t *total, mlpd_error *err);
/* The children of a sweep, oldest (child 0) first, at most limit (1..10000). */
int store_sweep_children(store *s, int64_t sweep_id, int limit, store_run **out, size_t *n,
                         mlpd_error *err);

#endif /* MLPD_STORE_H */
