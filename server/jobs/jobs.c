/* jobs.c - the job runner's queue, worker threads and public calls (see jobs.h).
 *
 * Training one run is jobs_worker.c's. Capacity: at most max_running runs train
 * while up to max_queued more wait; a submit beyond that answers MLPD_EBUSY. The
 * check counts queued + running against max_queued + max_running so that the
 * answer does not depend on whether an idle worker has already picked up the
 * previous submit.
 */
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    pthread_mutex_init(&jb->live_mu, NULL);
    return jb;
}

static void job_free(job *jb) {
    if (!jb) return;
    pthread_mutex_destroy(&jb->live_mu);
    free(jb);
}

/* Under mu. */
static void enqueue(jobs *j, job *jb) {
    jb->next = NULL;
    if (j->tail)
        j->tail->next = jb;
    else
        j->head = jb;
    j->tail = jb;
    j->n_queued++;
    pthread_cond_signal(&j->cv);
}

/* Under mu: the queued job of run_id, NULL when not queued. */
static job *find_queued(jobs *j, int64_t run_id) {
    for (job *jb = j->head; jb; jb = jb->next)
        if (jb->run_id == run_id) return jb;
    return NULL;
}

/* Under mu: unlink the queued job of run_id, NULL when not queued. */
static job *unqueue(jobs *j, int64_t run_id) {
    job *prev = NULL;
    for (job *jb = j->head; jb; prev = jb, jb = jb->next) {
        if (jb->run_id != run_id) continue;
        if (prev)
            prev->next = jb->next;
        else
            j->head = jb->next;
        if (j->tail == jb) j->tail = prev;
        j->n_queued--;
        jb->next = NULL;
        return jb;
    }
    return NULL;
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
    job_stop_reason why = atomic_load(&jb->cancel)    ? JOB_STOP_CANCEL
                          : atomic_load(&j->stopping) ? JOB_STOP_SHUTDOWN
                                                      : JOB_STOP_NONE;
    pthread_mutex_unlock(&j->mu);
    return why;
}

static void *worker_main(void *arg) {
    pthread_setname_np(pthread_self(), "mlpd-job"); /* as top -H and perf show it */
    jobs *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!atomic_load(&j->stopping) && !j->head) pthread_cond_wait(&j->cv, &j->mu);
        if (atomic_load(&j->stopping)) break;
        job *jb = j->head;
        j->head = jb->next;
        if (!j->head) j->tail = NULL;
        j->n_queued--;
        int slot = 0;
        while (j->running[slot]) slot++; /* a free slot exists: one per worker */
        j->running[slot] = jb;
        j->n_running++;
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

/* Start-up recovery (see jobs.h): running -> failed "interrupted"; queued -> queue. */
static int recover(jobs *j, mlpd_error *err) {
    mlpd_error se = {0};
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_run_ids_with_status(j->cfg.st, RUN_RUNNING, &ids, &n, &se) != MLPD_OK)
        return mlpd_fail(err, se.code, "recovery: %s", se.msg);
    for (size_t i = 0; i < n; i++) {
        if (store_run_set_status(j->cfg.st, ids[i], RUN_FAILED, "interrupted", &se) != MLPD_OK) {
            free(ids);
            return mlpd_fail(err, se.code, "recovery of run %lld: %s", (long long)ids[i], se.msg);
        }
        jobs_logf(j, "job %lld was running when mlpd stopped: marked failed (interrupted)",
                  (long long)ids[i]);
    }
    free(ids);
    if (store_run_ids_with_status(j->cfg.st, RUN_QUEUED, &ids, &n, &se) != MLPD_OK)
        return mlpd_fail(err, se.code, "recovery: %s", se.msg);
    int rc = MLPD_OK;
    for (size_t i = 0; rc == MLPD_OK && i < n; i++) {
        store_run run;
        if (store_run_get(j->cfg.st, ids[i], &run, &se) != MLPD_OK) continue;
        api_train_request req;
        api_problem prob;
        memset(&prob, 0, sizeof prob);
        const char *cfg_json = run.config_json ? run.config_json : "";
        if (api_train_request_decode(cfg_json, strlen(cfg_json), &req, &prob) != 0) {
            char why[400];
            snprintf(why, sizeof why, "stored config cannot be read back: %s", prob.detail);
            store_run_set_status(j->cfg.st, ids[i], RUN_FAILED, why, NULL);
            jobs_logf(j, "job %lld: %s", (long long)ids[i], why);
        } else {
            job *jb = job_new(j, ids[i], &req);
            if (!jb) {
                rc = mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
            } else {
                enqueue(j, jb); /* no worker runs yet: no lock needed */
                jobs_logf(j, "job %lld queued again after restart", (long long)ids[i]);
            }
        }
        store_run_clear(&run);
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
    int recovered = j->n_queued; /* read before the workers start taking from the queue */
    for (int i = 0; i < cfg->max_running; i++) {
        if (pthread_create(&j->threads[i], NULL, worker_main, j) != 0) {
            jobs_free(j); /* stops and joins the ones started */
            return mlpd_fail(err, MLPD_EINTERNAL, "cannot start job worker thread %d", i + 1);
        }
        j->n_threads++;
    }
    jobs_logf(j, "job runner started: %d worker(s), queue of %d, %d run(s) recovered",
              cfg->max_running, cfg->max_queued, recovered);
    *out = j;
    return MLPD_OK;
}

int jobs_submit(jobs *j, const api_train_request *req, int64_t *run_id, mlpd_error *err) {
    return jobs_submit_in(j, req, 0, run_id, err);
}

/* Under mu. */
static int queue_full(const jobs *j, mlpd_error *err) {
    if (j->n_queued + j->n_running >= j->cfg.max_queued + j->cfg.max_running)
        return mlpd_fail(err, MLPD_EBUSY, "%d run(s) are queued already (the limit is %d)",
                         j->n_queued, j->cfg.max_queued);
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
    job *jb = rc == MLPD_OK ? job_new(j, id, req) : NULL;
    if (rc == MLPD_OK && !jb) {
        store_run_set_status(j->cfg.st, id, RUN_FAILED, "out of memory", NULL);
        rc = mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    }
    if (rc == MLPD_OK) {
        enqueue(j, jb);
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
    mlpd_error se = {0};
    pthread_mutex_lock(&j->mu);
    /* A queued run leaves the queue only once its end is recorded: were the
     * write refused (disk full), it would otherwise run again after a restart. */
    job *queued = find_queued(j, run_id);
    job *running = queued ? NULL : find_running(j, run_id);
    if (queued) {
        if (store_run_set_status(j->cfg.st, run_id, RUN_CANCELLED, why, &se) == MLPD_OK)
            unqueue(j, run_id);
        else {
            rc = se.code;
            queued = NULL;
        }
    } else if (running) {
        if (running->finishing) {
            rc = MLPD_ECONFLICT;
        } else {
            snprintf(running->cancel_why, sizeof running->cancel_why, "%s", why ? why : "");
            atomic_store(&running->cancel, 1); /* seen at the next batch boundary */
        }
    } else {
        /* Not in memory: ended, unknown, or left queued by a stopped runner. */
        store_run run;
        int got = store_run_get(j->cfg.st, run_id, &run, NULL);
        if (got != MLPD_OK)
            rc = got; /* MLPD_ENOTFOUND for an unknown id */
        else if (run.status == RUN_QUEUED || run.status == RUN_RUNNING)
            rc = store_run_set_status(j->cfg.st, run_id, RUN_CANCELLED, why, &se);
        else
            rc = MLPD_ECONFLICT;
        if (got == MLPD_OK) store_run_clear(&run);
    }
    pthread_mutex_unlock(&j->mu);
    if (queued) {
        jobs_logf(j, "job %lld cancelled while queued", (long long)run_id);
        job_free(queued);
    } else if (running && rc == MLPD_OK) {
        jobs_logf(j, "job %lld: cancel requested", (long long)run_id);
    }
    return rc;
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
    pthread_mutex_lock(&j->mu);
    out->queued = j->n_queued;
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
    int running = j->n_running, queued = j->n_queued;
    pthread_mutex_unlock(&j->mu);
    if (running || queued)
        jobs_logf(j, "job runner stopping: %d run(s) interrupted, %d stay queued", running, queued);
    for (int i = 0; i < j->n_threads; i++) pthread_join(j->threads[i], NULL);
    pthread_mutex_lock(&j->mu);
    j->stopped = 1;
    /* Queued runs stay "queued" in the store and run after the next start. */
    while (j->head) {
        job *jb = j->head;
        j->head = jb->next;
        job_free(jb);
    }
    j->tail = NULL;
    j->n_queued = 0;
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
