/* jobs_progress.c - the training callbacks of one run (jobs_progress.h): the
 * live state every batch, step metrics, progress rows and epoch metrics
 * written as jobs_worker.c describes, the samples counter, and OpenBLAS's
 * thread count adapted to serving. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "jobs_progress.h"

#define EPOCH_LOG_SECONDS 5.0

int train_ctx_should_stop(const train_ctx *c) {
    return atomic_load(&c->jb->cancel) || atomic_load(&c->jb->lost) ||
           atomic_load(&c->j->stopping) || c->store_failed[0];
}

/* ---- callbacks ----------------------------------------------------------------------- */

/* Commit the held step metrics (its own transaction). */
void train_ctx_flush(train_ctx *c) {
    mlpd_error se = {0};
    if (c->n_pending > 0 && !c->store_failed[0] &&
        store_metrics_append(c->j->cfg.st, c->pending, c->n_pending, &se) != MLPD_OK)
        snprintf(c->store_failed, sizeof c->store_failed, "store: %s", se.msg);
    c->n_pending = 0; /* after a store failure they are dropped: training stops anyway */
}

/* Between batches (the training thread is the only OpenBLAS caller then):
 * one OpenBLAS thread while predictions are being served, blas_max when
 * they have been quiet for JOBS_SERVING_QUIET_SECONDS (jobs.h). */
static void adapt_blas_threads(train_ctx *c, double now) {
    int want = c->j->blas_max;
    if (c->j->cfg.serving && want > 1) {
        uint64_t served = c->j->cfg.serving(c->j->cfg.serving_user);
        if (served != c->served_seen) {
            c->served_seen = served;
            c->t_served = now;
        }
        if (now - c->t_served < JOBS_SERVING_QUIET_SECONDS) want = 1;
    }
    if (want != c->blas_now) {
        openblas_set_num_threads(want);
        c->blas_now = want;
    }
}

/* Add the samples trained since the last call to the runner's counter. The
 * engine reports the epoch's rate and time; their product is the epoch's
 * sample count so far (rounded: it is an integer divided then multiplied). */
static void count_samples(train_ctx *c, const mlp_progress *p) {
    double v = p->samples_per_sec * p->seconds;
    if (!isfinite(v)) return;
    long long now = llround(v);
    if (now > c->counted) {
        atomic_fetch_add_explicit(&c->j->counters.samples, (uint_fast64_t)(now - c->counted),
                                  memory_order_relaxed);
        c->counted = now;
    }
}

int train_ctx_on_batch(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    train_ctx *c = user;
    adapt_blas_threads(c, mono_seconds());
    if (p->epoch != c->cur_epoch) {
        c->cur_epoch = p->epoch;
        c->sum_loss = c->sum_acc = 0;
        c->n_batches = 0;
        c->counted = 0;
    }
    count_samples(c, p);
    c->sum_loss += p->loss;
    c->sum_acc += p->accuracy;
    c->n_batches++;
    double now = mono_seconds(), elapsed = now - c->t_start;
    double total = (double)p->epochs * (double)p->steps;
    double done = (double)(p->epoch - 1) * (double)p->steps + (double)p->step;

    pthread_mutex_lock(&c->jb->live_mu);
    jobs_live *l = &c->jb->live;
    l->epoch = p->epoch;
    l->epochs = p->epochs;
    l->step = p->step;
    l->steps = p->steps;
    l->progress = total > 0 ? done / total : 0;
    l->loss = c->sum_loss / (double)c->n_batches;
    l->accuracy = c->sum_acc / (double)c->n_batches;
    l->samples_per_sec = p->samples_per_sec;
    l->eta_seconds = done > 0 && elapsed > 0 ? elapsed / done * (total - done) : NAN;
    pthread_mutex_unlock(&c->jb->live_mu);

    store *st = c->j->cfg.st;
    mlpd_error se = {0};
    if (p->global_step % STEP_METRIC_INTERVAL == 0 && isfinite(p->loss)) {
        /* The batch's loss and the epoch's running accuracy: the dashboard
         * draws them while the first epoch has no per-epoch point yet. */
        const struct {
            const char *key;
            double value;
        } step_vals[] = {{"step_loss", p->loss},
                         {"step_accuracy", c->sum_acc / (double)c->n_batches}};
        for (size_t i = 0; i < sizeof step_vals / sizeof step_vals[0]; i++) {
            if (!isfinite(step_vals[i].value)) continue;
            store_metric *sm = &c->pending[c->n_pending++];
            *sm = (store_metric){.run_id = c->jb->run_id,
                                 .epoch = p->epoch,
                                 .step = p->global_step,
                                 .value = step_vals[i].value};
            snprintf(sm->key, sizeof sm->key, "%s", step_vals[i].key);
        }
        if (c->n_pending >= STEP_METRICS_PENDING) train_ctx_flush(c);
    }
    if (now - c->t_progress >= PROGRESS_WRITE_SECONDS) {
        c->t_progress = now;
        train_ctx_flush(c);
        if (store_run_set_progress(st, c->jb->run_id, p->epoch - 1, p->step, p->steps, c->ep_loss,
                                   c->ep_acc, c->ep_val_loss, c->ep_val_acc, p->samples_per_sec,
                                   &se) != MLPD_OK)
            snprintf(c->store_failed, sizeof c->store_failed, "store: %s", se.msg);
    }
    return train_ctx_should_stop(c);
}

int train_ctx_on_epoch(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    train_ctx *c = user;
    const struct {
        const char *key;
        double value;
    } vals[] = {{"loss", p->loss},         {"accuracy", p->accuracy},
                {"val_loss", p->val_loss}, {"val_accuracy", p->val_accuracy},
                {"seconds", p->seconds},   {"learning_rate", p->learning_rate}};
    /* The held step metrics go first, in the epoch's own transaction. */
    store_metric *ms = c->pending;
    size_t n = c->n_pending;
    c->n_pending = 0;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        if (!isfinite(vals[i].value)) continue;
        memset(&ms[n], 0, sizeof ms[n]);
        ms[n].run_id = c->jb->run_id;
        snprintf(ms[n].key, sizeof ms[n].key, "%s", vals[i].key);
        ms[n].epoch = p->epoch;
        ms[n].step = p->global_step;
        ms[n].value = vals[i].value;
        n++;
    }
    hist_observe(&c->j->counters.epoch_seconds, p->seconds);
    c->ep_loss = p->loss;
    c->ep_acc = p->accuracy;
    c->ep_val_loss = p->val_loss;
    c->ep_val_acc = p->val_accuracy;
    mlpd_error se = {0};
    if (store_run_record_epoch(c->j->cfg.st, c->jb->run_id, ms, n, p->epoch, p->steps, p->loss,
                               p->accuracy, p->val_loss, p->val_accuracy, p->samples_per_sec,
                               p->checkpoint, p->checkpoint_len, &se) != MLPD_OK)
        snprintf(c->store_failed, sizeof c->store_failed, "store: %s", se.msg);
    c->t_progress = mono_seconds();
    /* Short epochs would flood the log: at most one epoch line per EPOCH_LOG_SECONDS. */
    if (p->epoch == 1 || p->epoch == p->epochs ||
        c->t_progress - c->t_logged >= EPOCH_LOG_SECONDS) {
        c->t_logged = c->t_progress;
        jobs_logf(c->j, "job %lld epoch %d/%d loss=%.4f accuracy=%.4f (%.1fs)",
                  (long long)c->jb->run_id, p->epoch, p->epochs, p->loss, p->accuracy, p->seconds);
    }
    return train_ctx_should_stop(c);
}

void train_ctx_init(train_ctx *c, jobs *j, job *jb) {
    memset(c, 0, sizeof *c);
    c->j = j;
    c->jb = jb;
    c->ep_loss = c->ep_acc = c->ep_val_loss = c->ep_val_acc = NAN;
}

void train_ctx_start(train_ctx *c) {
    c->t_start = c->t_progress = mono_seconds();
    if (c->j->cfg.serving) c->served_seen = c->j->cfg.serving(c->j->cfg.serving_user);
    c->t_served = -1e9;
    adapt_blas_threads(c, c->t_start);
}
