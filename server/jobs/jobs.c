/* jobs.c - the job runner's queue, worker threads and public calls (see jobs.h).
 *
 * Training one run is jobs_worker.c's. The queue lives in the store
 * (store_run_claim): idle workers claim when woken (a submit here, a
 * notification from another daemon) or every CLAIM_POLL_SECONDS; the janitor
 * thread renews leases and rescues expired ones. Capacity: at most
 * max_running runs train here while up to max_queued more wait in the store;
 * a submit beyond that answers MLPD_EBUSY. The check counts queued + running
 * against max_queued + max_running so that the answer does not depend on
 * whether an idle worker has already claimed the previous submit.
 */
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs_impl.h"

void jobs_logf(const jobs *j, const char *fmt, ...) {
    if (!j->cfg.log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    j->cfg.log(j->cfg.log_user, "%s", line);
}

static job *job_new(jobs *j, int64_t run_id, const api_train_request *req) {
    job *jb = calloc(1, sizeof *jb);
    if (!jb) return NULL;
    jb->owner = j;
    jb->run_id = run_id;
    jb->req = *req;
    atomic_init(&jb->cancel, 0);
    atomic_init(&jb->lost, 0);
    pthread_mutex_init(&jb->live_mu, NULL);
    return jb;
}

static void job_free(job *jb) {
    if (!jb) return;
    pthread_mutex_destroy(&jb->live_mu);
    free(jb);
}

/* Under mu. */
static job *find_running(jobs *j, int64_t run_id) {
    for (int i = 0; i < j->cfg.max_running; i++)
        if (j->running[i] && j->running[i]->run_id == run_id) return j->running[i];
    return NULL;
}

job_stop_reason jobs_enter_finishing(jobs *j, job *jb) {
    pthread_mutex_lock(&j->mu);
    jb->finishing = 1;
    job_stop_reason why = atomic_load(&jb->lost)      ? JOB_STOP_LOST
                          : atomic_load(&jb->cancel)  ? JOB_STOP_CANCEL
                          : atomic_load(&j->stopping) ? JOB_STOP_SHUTDOWN
                                                      : JOB_STOP_NONE;
    pthread_mutex_unlock(&j->mu);
    return why;
}

/* Under mu: wake the idle workers (a run may wait to be claimed). */
static void wake_workers(jobs *j) {
    j->wakes++;
    pthread_cond_broadcast(&j->cv);
}

/* The job of claimed run id, its config read back from the store; NULL when
 * it cannot be (the run is then failed with the reason). */
static job *job_of_claim(jobs *j, int64_t id) {
    store_run run;
    mlpd_error se = {0};
    if (store_run_get(j->cfg.st, id, &run, &se) != MLPD_OK) {
        jobs_logf(j, "job %lld claimed but unreadable: %s", (long long)id, se.msg);
        return NULL;
    }
    api_train_request req;
    api_problem prob;
    memset(&prob, 0, sizeof prob);
    const char *cfg_json = run.config_json ? run.config_json : "";
    job *jb = NULL;
    if (api_train_request_decode(cfg_json, strlen(cfg_json), &req, &prob) != 0) {
        char why[400];
        snprintf(why, sizeof why, "stored config cannot be read back: %s", prob.detail);
        store_run_set_status(j->cfg.st, id, RUN_FAILED, why, NULL);
        jobs_logf(j, "job %lld: %s", (long long)id, why);
    } else if (!(jb = job_new(j, id, &req))) {
        store_run_set_status(j->cfg.st, id, RUN_FAILED, "out of memory", NULL);
    }
    store_run_clear(&run);
    return jb;
}

/* Under mu: wait until woken, stopped or CLAIM_POLL_SECONDS passed. */
static void wait_for_work(jobs *j, uint64_t seen) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)CLAIM_POLL_SECONDS;
    while (!atomic_load(&j->stopping) && j->wakes == seen)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) != 0) break;
}

static void *worker_main(void *arg) {
    pthread_setname_np(pthread_self(), "mlpd-job"); /* as top -H and perf show it */
    jobs *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!atomic_load(&j->stopping)) {
        uint64_t seen = j->wakes;
        /* Claimed under mu, counted running at once: a submit (which counts
         * under mu) never sees the run neither queued nor running. */
        int64_t id = 0;
        int claimed = store_run_claim(j->cfg.st, j->node, j->cfg.lease_seconds, &id, NULL);
        if (claimed != MLPD_OK) { /* nothing queued (or the store is down): wait */
            wait_for_work(j, seen);
            continue;
        }
        j->n_running++;
        pthread_mutex_unlock(&j->mu);
        job *jb = job_of_claim(j, id);
        pthread_mutex_lock(&j->mu);
        if (!jb) {
            j->n_running--;
            continue;
        }
        int slot = 0;
        while (j->running[slot]) slot++; /* a free slot exists: one per worker */
        j->running[slot] = jb;
        pthread_mutex_unlock(&j->mu);

        jobs_run_one(j, jb);

        pthread_mutex_lock(&j->mu);
        j->running[slot] = NULL;
        j->n_running--;
        job_free(jb);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Renew the leases of the runs training here (a lost one stops; a requested
 * cancel is passed on), then rescue the expired leases of dead daemons. */
static void janitor_pass(jobs *j) {
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->cfg.max_running; i++) {
        job *jb = j->running[i];
        if (!jb || jb->finishing) continue;
        int cancel = 0;
        mlpd_error se = {0};
        int rc =
            store_run_heartbeat(j->cfg.st, jb->run_id, j->node, j->cfg.lease_seconds, &cancel, &se);
        if (rc == MLPD_ECONFLICT) {
            atomic_store(&jb->lost, 1);
            jobs_logf(j, "job %lld: lease lost (%s); stopping without recording more",
                      (long long)jb->run_id, se.msg);
        } else if (rc == MLPD_OK && cancel && !atomic_exchange(&jb->cancel, 1)) {
            jobs_logf(j, "job %lld: cancel requested", (long long)jb->run_id);
        }
    }
    pthread_mutex_unlock(&j->mu);
    int requeued = 0, failed = 0;
    if (store_run_rescue(j->cfg.st, j->cfg.max_attempts, &requeued, &failed, NULL) == MLPD_OK &&
        (requeued || failed)) {
        jobs_logf(j,
                  "rescued %d run(s) whose daemon stopped renewing its lease (%d queued "
                  "again, %d ended)",
                  requeued + failed, requeued, failed);
        pthread_mutex_lock(&j->mu);
        wake_workers(j);
        pthread_mutex_unlock(&j->mu);
    }
}

static void *janitor_main(void *arg) {
    pthread_setname_np(pthread_self(), "mlpd-lease");
    jobs *j = arg;
    double period = j->cfg.lease_seconds / LEASE_RENEWALS;
    pthread_mutex_lock(&j->mu);
    while (!atomic_load(&j->stopping)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double t = (double)until.tv_nsec * 1e-9 + period;
        until.tv_sec += (time_t)t;
        until.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
        while (!atomic_load(&j->stopping) && pthread_cond_timedwait(&j->cv, &j->mu, &until) == 0) {
        }
        if (atomic_load(&j->stopping)) break;
        pthread_mutex_unlock(&j->mu);
        janitor_pass(j);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Start-up recovery (see jobs.h): this daemon's running runs (it died with
 * them) are queued again, to continue from their checkpoints, unless they
 * have had max_attempts claims: those fail "interrupted". Other daemons' runs
 * are left to their leases. */
static int recover(jobs *j, mlpd_error *err) {
    mlpd_error se = {0};
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_run_ids_with_status(j->cfg.st, RUN_RUNNING, &ids, &n, &se) != MLPD_OK)
        return mlpd_fail(err, se.code, "recovery: %s", se.msg);
    int rc = MLPD_OK;
    for (size_t i = 0; rc == MLPD_OK && i < n; i++) {
        store_run run;
        if (store_run_get(j->cfg.st, ids[i], &run, &se) != MLPD_OK) continue;
        int mine = !run.worker || !strcmp(run.worker, j->node);
        int again = run.attempts < j->cfg.max_attempts, epoch = run.epoch;
        store_run_clear(&run);
        if (!mine) continue;
        if (store_run_set_status(j->cfg.st, ids[i], again ? RUN_QUEUED : RUN_FAILED,
                                 again ? NULL : "interrupted", &se) != MLPD_OK)
            rc = mlpd_fail(err, se.code, "recovery of run %lld: %s", (long long)ids[i], se.msg);
        else if (again)
            jobs_logf(j, "job %lld was running when mlpd stopped: queued again (epoch %d done)",
                      (long long)ids[i], epoch);
        else
            jobs_logf(j,
                      "job %lld was running when mlpd stopped: marked failed (interrupted, "
                      "%d claims)",
                      (long long)ids[i], j->cfg.max_attempts);
    }
    free(ids);
    return rc;
}

/* Histogram bounds, seconds: an epoch takes from a fraction of a second (small
 * CSV sets) to minutes; a job from seconds to hours. */
static const double epoch_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
static const double job_bounds[] = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600};

static void jobs_counters_init(jobs_counters *c) {
    atomic_init(&c->samples, 0);
    hist_init(&c->epoch_seconds, epoch_bounds, (int)(sizeof epoch_bounds / sizeof(double)));
    hist_init(&c->job_seconds, job_bounds, (int)(sizeof job_bounds / sizeof(double)));
}

const jobs_counters *jobs_get_counters(const jobs *j) {
    return &j->counters;
}

int jobs_start(const jobs_config *cfg, jobs **out, mlpd_error *err) {
    *out = NULL;
    if (!cfg->st || !cfg->data_dir || cfg->max_running < 1 || cfg->max_queued < 0)
        return mlpd_fail(err, MLPD_EINTERNAL,
                         "jobs: needs a store, a data dir, max_running >= 1, max_queued >= 0");
    jobs *j = calloc(1, sizeof *j);
    if (!j) return mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    j->cfg = *cfg;
    snprintf(j->node, sizeof j->node, "%s", cfg->node_name ? cfg->node_name : "local");
    if (j->cfg.lease_seconds <= 0) j->cfg.lease_seconds = 30;
    if (j->cfg.max_attempts <= 0) j->cfg.max_attempts = 3;
    /* Several jobs at once share the cores: one OpenBLAS thread each. */
    j->blas_max = cfg->max_running > 1    ? 1
                  : cfg->blas_threads > 0 ? cfg->blas_threads
                                          : openblas_get_num_threads();
    j->data_dir = strdup(cfg->data_dir);
    j->cfg.data_dir = j->data_dir;
    j->running = calloc((size_t)cfg->max_running, sizeof *j->running);
    j->threads = calloc((size_t)cfg->max_running, sizeof *j->threads);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    atomic_init(&j->stopping, 0);
    jobs_counters_init(&j->counters);
    if (!j->data_dir || !j->running || !j->threads) {
        jobs_free(j);
        return mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    }
    int rc = recover(j, err);
    if (rc != MLPD_OK) {
        jobs_free(j);
        return rc;
    }
    int workers = cfg->api_only ? 0 : cfg->max_running;
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&j->threads[i], NULL, worker_main, j) != 0) {
            jobs_free(j); /* stops and joins the ones started */
            return mlpd_fail(err, MLPD_EINTERNAL, "cannot start job worker thread %d", i + 1);
        }
        j->n_threads++;
    }
    if (pthread_create(&j->janitor, NULL, janitor_main, j) != 0) {
        jobs_free(j);
        return mlpd_fail(err, MLPD_EINTERNAL, "cannot start the lease thread");
    }
    j->janitor_started = 1;
    int64_t queued = 0;
    store_run_count(j->cfg.st, RUN_QUEUED, &queued, NULL);
    jobs_logf(j,
              "job runner started as %s: %d worker(s), queue of %d, %lld run(s) queued, "
              "lease %.0f s",
              j->node, workers, cfg->max_queued, (long long)queued, j->cfg.lease_seconds);
    *out = j;
    return MLPD_OK;
}

int jobs_submit(jobs *j, const api_train_request *req, int64_t *run_id, mlpd_error *err) {
    return jobs_submit_in(j, req, 0, run_id, err);
}

/* Under mu. The queue is the store's: its queued runs (of every daemon) and
 * the ones training here count against max_queued + max_running. */
static int queue_full(const jobs *j, mlpd_error *err) {
    int64_t queued = 0;
    mlpd_error se = {0};
    if (store_run_count(j->cfg.st, RUN_QUEUED, &queued, &se) != MLPD_OK)
        return mlpd_fail(err, se.code, "store: %s", se.msg);
    int capacity = j->cfg.max_queued + (j->cfg.api_only ? 0 : j->cfg.max_running);
    if (queued + j->n_running >= capacity)
        return mlpd_fail(err, MLPD_EBUSY, "%lld run(s) are queued already (the limit is %d)",
                         (long long)queued, j->cfg.max_queued);
    return MLPD_OK;
}

int jobs_has_room(jobs *j, mlpd_error *err) {
    if (atomic_load(&j->stopping))
        return mlpd_fail(err, MLPD_EINTERNAL, "the daemon is shutting down");
    pthread_mutex_lock(&j->mu);
    int rc = queue_full(j, err);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int jobs_submit_in(jobs *j, const api_train_request *req, int64_t sweep_id, int64_t *run_id,
                   mlpd_error *err) {
    if (atomic_load(&j->stopping))
        return mlpd_fail(err, MLPD_EINTERNAL, "the daemon is shutting down");
    int rc = jobs_check_request(j, req, err);
    if (rc != MLPD_OK) return rc;
    char *config_json = api_train_request_encode(req);
    if (!config_json) return mlpd_fail(err, MLPD_EINTERNAL, "cannot encode the training config");
    pthread_mutex_lock(&j->mu);
    rc = queue_full(j, err);
    int64_t id = 0;
    mlpd_error se = {0};
    if (rc == MLPD_OK &&
        store_run_create_in(j->cfg.st, config_json, req->dataset, req->recipe.train.epochs,
                            sweep_id, &id, &se) != MLPD_OK)
        rc = mlpd_fail(err, se.code, "store: %s", se.msg);
    if (rc == MLPD_OK) {
        wake_workers(j);
        if (run_id) *run_id = id;
    }
    pthread_mutex_unlock(&j->mu);
    free(config_json);
    if (rc == MLPD_OK)
        jobs_logf(j, "job %lld queued: dataset %s, %d epoch(s)", (long long)id, req->dataset,
                  req->recipe.train.epochs);
    return rc;
}

int jobs_cancel(jobs *j, int64_t run_id) {
    return jobs_cancel_why(j, run_id, NULL);
}

int jobs_cancel_why(jobs *j, int64_t run_id, const char *why) {
    int rc = MLPD_OK;
    pthread_mutex_lock(&j->mu);
    job *running = find_running(j, run_id);
    if (running) {
        if (running->finishing) {
            rc = MLPD_ECONFLICT;
        } else {
            snprintf(running->cancel_why, sizeof running->cancel_why, "%s", why ? why : "");
            atomic_store(&running->cancel, 1); /* seen at the next batch boundary */
        }
    }
    pthread_mutex_unlock(&j->mu);
    int was_running = 0;
    /* Queued: ended in the store at once, with the reason. Running on
     * another daemon: the request and its reason are recorded; that daemon
     * stops at its next heartbeat, or at once on the notification
     * (jobs_on_event), and its cancelled status takes the reason. */
    if (!running) rc = store_run_cancel(j->cfg.st, run_id, why, &was_running, NULL);
    if (rc == MLPD_OK)
        jobs_logf(j, "job %lld %s", (long long)run_id,
                  running || was_running ? "cancel requested" : "cancelled while queued");
    return rc;
}

void jobs_on_event(jobs *j, store_event ev, int64_t id) {
    pthread_mutex_lock(&j->mu);
    if (ev == STORE_EVENT_JOBS) wake_workers(j);
    job *jb = ev == STORE_EVENT_CANCEL ? find_running(j, id) : NULL;
    if (jb && !jb->finishing) atomic_store(&jb->cancel, 1);
    pthread_mutex_unlock(&j->mu);
}

int jobs_get_live(jobs *j, int64_t run_id, jobs_live *out) {
    int rc = MLPD_ENOTFOUND;
    pthread_mutex_lock(&j->mu);
    job *jb = find_running(j, run_id);
    if (jb && !jb->finishing) { /* finishing: its outcome is being recorded, training is over */
        pthread_mutex_lock(&jb->live_mu);
        *out = jb->live;
        pthread_mutex_unlock(&jb->live_mu);
        rc = MLPD_OK;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void jobs_get_stats(jobs *j, jobs_stats *out) {
    memset(out, 0, sizeof *out);
    int64_t queued = 0;
    if (store_run_count(j->cfg.st, RUN_QUEUED, &queued, NULL) == MLPD_OK) out->queued = (int)queued;
    pthread_mutex_lock(&j->mu);
    out->running = j->n_running;
    for (int i = 0; i < j->cfg.max_running; i++) {
        job *jb = j->running[i];
        if (!jb) continue;
        pthread_mutex_lock(&jb->live_mu);
        if (isfinite(jb->live.samples_per_sec))
            out->train_samples_per_sec += jb->live.samples_per_sec;
        pthread_mutex_unlock(&jb->live_mu);
    }
    pthread_mutex_unlock(&j->mu);
}

void jobs_stop(jobs *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    if (j->stopped) {
        pthread_mutex_unlock(&j->mu);
        return;
    }
    atomic_store(&j->stopping, 1);
    pthread_cond_broadcast(&j->cv);
    int running = j->n_running;
    pthread_mutex_unlock(&j->mu);
    if (running)
        jobs_logf(j,
                  "job runner stopping: %d run(s) stopped and queued again; queued runs stay "
                  "queued",
                  running);
    for (int i = 0; i < j->n_threads; i++) pthread_join(j->threads[i], NULL);
    if (j->janitor_started) pthread_join(j->janitor, NULL);
    pthread_mutex_lock(&j->mu);
    j->stopped = 1;
    pthread_mutex_unlock(&j->mu);
}

void jobs_free(jobs *j) {
    if (!j) return;
    jobs_stop(j);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->threads);
    free(j->running);
    free(j->data_dir);
    free(j);
}
