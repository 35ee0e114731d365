/* jobs_impl.h - what the job runner's files (jobs.c: queue, threads, public
 * calls; jobs_worker.c: training one run; jobs_progress.c: its callbacks;
 * datasets_scan.c: the data dir at start) share. Not part of the interface.
 *
 * Locking: jobs.mu guards the queue, the running slots, every job's `finishing`
 * and a job's lifetime (a job is freed only under mu, after it left the queue
 * or its slot). job.live_mu guards job.live only; it is taken inside mu (by
 * jobs_get_live / jobs_get_stats) or alone (by the training thread), never the
 * other way round. Store calls may be made while holding mu (the store's own
 * lock is always taken last).
 */
#ifndef MLPD_JOBS_IMPL_H
#define MLPD_JOBS_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "jobs.h"

/* "step_loss" and "step_accuracy" metrics are taken every this many batches; they are committed
 * with the next progress row or epoch, not one transaction (one fsync) each. */
#define STEP_METRIC_INTERVAL 50
/* Step metrics held before a commit at most (committed early when full). */
#define STEP_METRICS_PENDING 32
/* The run's progress row is rewritten at most this often during an epoch. */
#define PROGRESS_WRITE_SECONDS 1.0

/* Why training was asked to stop. */
typedef enum { JOB_STOP_NONE = 0, JOB_STOP_CANCEL, JOB_STOP_SHUTDOWN } job_stop_reason;

typedef struct job {
    struct jobs *owner;
    int64_t run_id;
    api_train_request req;
    struct job *next;     /* queue link (while queued) */
    atomic_int cancel;    /* set by jobs_cancel while running */
    int finishing;        /* training ended, outcome being recorded (under owner->mu) */
    char cancel_why[200]; /* the reason given with a cancel ("" none; under owner->mu until
                             finishing, read-only after) */
    pthread_mutex_t live_mu;
    jobs_live live; /* under live_mu */
} job;

struct jobs {
    jobs_config cfg; /* cfg.data_dir points at data_dir below */
    int blas_max;    /* OpenBLAS threads for training when nothing is served */
    char *data_dir;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a job is queued or on stop */
    job *head, *tail;  /* FIFO of queued jobs */
    int n_queued;
    job **running; /* cfg.max_running slots, NULL when free */
    int n_running;
    atomic_int stopping; /* jobs_stop was called: no new work, running jobs stop */
    int stopped;         /* workers joined */
    pthread_t *threads;
    int n_threads;
    jobs_counters counters; /* /metrics (jobs.h) */
};

/* A log line through cfg.log (no-op without one). */
void jobs_logf(const jobs *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Train one run (status running -> a final status, everything recorded in
 * the store). Called by a worker thread with jb in a running slot. */
void jobs_run_one(jobs *j, job *jb);

/* Training has ended: from now on jobs_cancel answers MLPD_ECONFLICT for jb.
 * Returns why training was asked to stop, if it was (cancel wins). */
job_stop_reason jobs_enter_finishing(jobs *j, job *jb);

#endif /* MLPD_JOBS_IMPL_H */
