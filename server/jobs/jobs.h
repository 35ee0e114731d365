/* jobs.h - the training job runner: runs queued in the store (FIFO) and up to
 * max_running worker threads that claim and train them with the engine,
 * recording everything in the store.
 *
 * The queue is the store's (store_run_claim): every daemon on one database
 * may submit, and every daemon that trains (not api_only) claims the oldest
 * queued run, holds a lease it renews every lease_seconds / 3 and records
 * its node name as the run's worker. Any daemon queues again a run whose
 * lease expired (its daemon died), up to max_attempts claims; a run claimed
 * again starts over (its earlier metrics are removed with the claim).
 *
 * Lifecycle of a run: queued -> running -> succeeded | failed | cancelled.
 * Per epoch the runner appends the metrics loss, accuracy, val_loss,
 * val_accuracy, seconds (store_metrics_append) and updates the run's progress;
 * per step it appends "step_loss" and "step_accuracy" every STEP_METRIC_INTERVAL batches. On
 * success it evaluates the test split (when the dataset has one), stores the
 * model and calls store_run_finish.
 *
 * Crash recovery (jobs_start): runs found "running" under this daemon's own
 * node name (or none) were interrupted by its crash; they are queued again
 * and resume after their checkpoint's epoch (failed "interrupted" once they
 * have had max_attempts claims). Runs of other daemons are left to their
 * leases. Queued runs simply stay queued.
 *
 * Thread safety: every function may be called from any HTTP thread.
 *
 * Errors follow mlpd_error.h: the functions return MLPD_OK or a negative
 * mlpd_status; a store failure passes the store's code up (MLPD_ENOSPC for a
 * full disk, MLPD_ESTORE otherwise).
 */
#ifndef MLPD_JOBS_H
#define MLPD_JOBS_H

#include <stdint.h>

#include "histogram.h"
#include "store.h"
#include "train_request.h"

typedef struct jobs jobs;

#define JOBS_SERVING_QUIET_SECONDS 0.25

typedef struct {
    store *st;
    const char *data_dir;     /* datasets' paths are relative to it */
    size_t max_dataset_bytes; /* a data set decoded in memory (mlp_load_opts.max_bytes) */
    int max_running;          /* runs training at once (--max-jobs), >= 1 */
    int api_only;             /* --role api: submit and cancel, never claim */
    const char *node_name;    /* the worker name recorded on claimed runs; NULL: "local" */
    double lease_seconds;     /* --lease-seconds; 0: 30 */
    int max_attempts;         /* claims of one run before it fails; 0: 3 */
    int max_queued;           /* queued runs accepted before MLPD_EBUSY */
    int blas_threads;         /* OpenBLAS threads while training (and no predictions
                               are served: see serving), 0 = OpenBLAS' setting at start */
    /* Predictions answered so far (may be NULL). With one job at a time,
     * training drops to one OpenBLAS thread from the batch after this count
     * moved until JOBS_SERVING_QUIET_SECONDS pass without it moving: a
     * second thread only helps training while a core is free, and under
     * prediction load it made training and predictions both slower (make
     * bench: tests/bench/section_2_train_jobs.sh measures both). A job's weights are therefore reproducible
     * bit for bit only when no predictions are served during it. */
    uint64_t (*serving)(void *user);
    void *serving_user;
    /* Called after a job's model is committed to the store (may be NULL):
     * the model cache forgets which model is the latest. */
    void (*model_saved)(void *user);
    void *model_saved_user;
    /* Called for job lifecycle log lines ("job 3 started", ...); may be NULL. */
    void (*log)(void *user, const char *fmt, ...);
    void *log_user;
} jobs_config;

/* Recover (see above) and start the worker threads. */
int jobs_start(const jobs_config *cfg, jobs **out, mlpd_error *err);

/* Record a new run (status queued, config = api_train_request_encode(req)) and
 * queue it. Returns MLPD_OK with *run_id, MLPD_EBUSY when the queue is full,
 * MLPD_ENOSPC when the disk is full, MLPD_EINTERNAL while shutting down or
 * out of memory, or the store's code. The dataset and warm-start model are
 * checked here: an unknown one gives MLPD_ENOTFOUND and a width mismatch
 * MLPD_ECONFLICT. The reason is in err. */
int jobs_submit(jobs *j, const api_train_request *req, int64_t *run_id, mlpd_error *err);
/* The same for a child of sweep sweep_id (recorded with the run; 0: none). */
int jobs_submit_in(jobs *j, const api_train_request *req, int64_t sweep_id, int64_t *run_id,
                   mlpd_error *err);
/* Check that req can be trained: its dataset exists (MLPD_ENOTFOUND), its
 * network fits the dataset (MLPD_ECONFLICT) and a warm-start model exists
 * (MLPD_ENOTFOUND) with the same layers (MLPD_ECONFLICT). Reason in err.
 * jobs_submit does it; a sweep checks its base with it before any child. */
int jobs_check_request(jobs *j, const api_train_request *req, mlpd_error *err);
/* MLPD_OK when a submit would find room in the queue now, MLPD_EBUSY (reason
 * in err) when it is full, MLPD_EINTERNAL while shutting down. */
int jobs_has_room(jobs *j, mlpd_error *err);

/* Cancel a queued run (it ends cancelled at once) or a running one (it stops
 * at the next batch boundary and ends cancelled; what it recorded stays).
 * MLPD_ENOTFOUND for an unknown id, MLPD_ECONFLICT for a run already ended,
 * MLPD_ENOSPC when its end cannot be recorded because the disk is full (it
 * then stays queued), the store's code on another store failure. */
int jobs_cancel(jobs *j, int64_t run_id);
/* jobs_cancel recording why (the run's error, e.g. a sweep's pruning); why
 * may be NULL. */
int jobs_cancel_why(jobs *j, int64_t run_id, const char *why);

/* What another daemon did (store_listen's events; call from the listener):
 * STORE_EVENT_JOBS wakes the idle workers to claim, STORE_EVENT_CANCEL stops
 * run id at its next batch if it trains here. Cheap, takes no store call. */
void jobs_on_event(jobs *j, store_event ev, int64_t id);

/* Live state of a run being trained, fresher than the store (per batch). */
typedef struct {
    int epoch, epochs;
    int64_t step, steps;
    double progress;       /* 0..1 over the whole run */
    double loss, accuracy; /* the latest batch's (running mean of the epoch) */
    double samples_per_sec;
    double eta_seconds; /* NaN when unknown */
} jobs_live;
/* MLPD_OK and *out when run_id is training now, MLPD_ENOTFOUND otherwise. */
int jobs_get_live(jobs *j, int64_t run_id, jobs_live *out);

/* Counts for /metrics. */
typedef struct {
    int queued, running;
    double train_samples_per_sec; /* sum over running jobs */
} jobs_stats;
void jobs_get_stats(jobs *j, jobs_stats *out);

/* Counters and histograms for /metrics, updated by the training threads with
 * atomics; owned by j, valid until jobs_free. */
typedef struct {
    atomic_uint_fast64_t samples; /* samples trained, over every job so far */
    hist epoch_seconds;           /* per completed epoch */
    hist job_seconds;             /* per ended job: from running to its final status */
} jobs_counters;
const jobs_counters *jobs_get_counters(const jobs *j);

/* Shutdown: stop accepting, stop running jobs at their next batch boundary and
 * queue them again (they resume from their checkpoints, on the next start or
 * another daemon), join the workers. Queued runs stay queued in the store. */
void jobs_stop(jobs *j);
void jobs_free(jobs *j);

#endif /* MLPD_JOBS_H */
