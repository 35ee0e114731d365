/* jobs_progress.h - the callbacks that record one run's training as it goes
 * (jobs_progress.c), for jobs_worker.c. Private to server/jobs. All calls
 * are made on the run's training thread. */
#ifndef MLPD_JOBS_PROGRESS_H
#define MLPD_JOBS_PROGRESS_H

#include "jobs_impl.h"

/* What the callbacks keep between calls; lives on the training thread's stack. */
typedef struct {
    jobs *j;
    job *jb;
    double t_start;           /* monotonic seconds at training start */
    double t_progress;        /* last progress row write */
    double t_logged;          /* last epoch log line */
    double sum_loss, sum_acc; /* running sums of the current epoch's batches */
    long n_batches;
    int cur_epoch;
    double ep_loss, ep_acc, ep_val_loss, ep_val_acc; /* last finished epoch, NaN before */
    char store_failed[300]; /* set when a store write failed: training stops */
    store_metric pending[STEP_METRICS_PENDING + 6]; /* step metrics not committed yet,
                                                       + room for an epoch's six */
    size_t n_pending;
    int blas_now;         /* OpenBLAS threads set for this job now */
    long long counted;    /* samples of the current epoch added to counters.samples */
    uint64_t served_seen; /* jobs_config.serving() at the last check */
    double t_served;      /* monotonic seconds when it last moved */
} train_ctx;

/* Zero *c for run jb of j (epoch metrics NaN until an epoch ends). */
void train_ctx_init(train_ctx *c, jobs *j, job *jb);
/* Training starts now: the clocks, and OpenBLAS's threads for the serving load. */
void train_ctx_start(train_ctx *c);
/* 1 when the run should stop: cancelled, shutting down, or a store write failed. */
int train_ctx_should_stop(const train_ctx *c);
/* Commit the held step metrics now (after training stopped mid-epoch). */
void train_ctx_flush(train_ctx *c);
/* mlp_train_config.on_batch / on_epoch; user is the train_ctx. */
int train_ctx_on_batch(const mlp_progress *p, const mlp_model *m, void *user);
int train_ctx_on_epoch(const mlp_progress *p, const mlp_model *m, void *user);

#endif /* MLPD_JOBS_PROGRESS_H */
