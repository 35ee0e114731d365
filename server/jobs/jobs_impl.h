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

/* Why training was asked to stop. LOST: the run's lease went to another
 * daemon (store_run_heartbeat answered MLPD_ECONFLICT): nothing more of it
 * may be written by this one. */
typedef enum {
    JOB_STOP_NONE = 0,
    JOB_STOP_CANCEL,
    JOB_STOP_SHUTDOWN,
    JOB_STOP_LOST
} job_stop_reason;

/* A claimed run's lease is renewed every lease_seconds / LEASE_RENEWALS
 * (jobs.c's janitor), which also rescues expired leases of other daemons. */
#define LEASE_RENEWALS 3
/* Idle workers look at the queue at least this often even when nothing woke
 * them (a notification missed while the database was unreachable). */
#define CLAIM_POLL_SECONDS 2.0

typedef struct job {
    struct jobs *owner;
    int64_t run_id;
    api_train_request req;
    atomic_int cancel;    /* set by jobs_cancel, a heartbeat or a notification while running */
    atomic_int lost;      /* the lease was lost (JOB_STOP_LOST) */
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
    pthread_cond_t cv; /* signalled when a run may be waiting to be claimed, or on stop */
    uint64_t wakes;    /* counts those signals (under mu), so none is missed */
    char node[128];    /* cfg.node_name, or "local" */
    job **running;     /* cfg.max_running slots, NULL when free */
    int n_running;
    atomic_int stopping; /* jobs_stop was called: no new work, running jobs stop */
    int stopped;         /* workers joined */
    pthread_t *threads;
    int n_threads;
    pthread_t janitor; /* leases and rescue (jobs.c) */
    int janitor_started;
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
