/* sweeps.c - the sweep scheduler's thread and public calls (see sweeps.h);
 * one sweep's step is sweep_tick.c's. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "sweeps_impl.h"

void sweeps_logf(const sweeps *s, const char *fmt, ...) {
    if (!s->cfg.log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->cfg.log(s->cfg.log_user, "%s", line);
}

static sweep_state *state_new(int64_t id, const api_sweep_request *req) {
    sweep_state *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->id = id;
    w->req = *req; /* takes the params' values */
    w->best_value = NAN;
    return w;
}

/* Under mu. */
static void link_state(sweeps *s, sweep_state *w) {
    sweep_state **pp = &s->active;
    while (*pp) pp = &(*pp)->next; /* oldest first: launched in the order submitted */
    *pp = w;
    s->n_active++;
    pthread_cond_signal(&s->cv);
}

/* Under mu: unlink and return the active sweep id, NULL when not active. */
static sweep_state *unlink_state(sweeps *s, int64_t id) {
    for (sweep_state **pp = &s->active; *pp; pp = &(*pp)->next) {
        if ((*pp)->id != id) continue;
        sweep_state *w = *pp;
        *pp = w->next;
        s->n_active--;
        return w;
    }
    return NULL;
}

static void resume_one(sweeps *s, int64_t id);

/* Under mu: is sweep id active here? */
static int is_active(const sweeps *s, int64_t id) {
    for (const sweep_state *w = s->active; w; w = w->next)
        if (w->id == id) return 1;
    return 0;
}

/* Under mu: claim active sweeps for this daemon (own: also the ones it held
 * before it stopped) while fewer than max_active are active here, and resume
 * each. Another daemon's claims are never waited for (SKIP LOCKED). */
static void claim_sweeps(sweeps *s, int own) {
    int64_t id = 0;
    while (own || s->n_active < s->cfg.max_active) {
        if (store_sweep_claim(s->cfg.st, s->node, s->cfg.lease_seconds, own, id, &id, NULL) !=
            MLPD_OK)
            return; /* none left (or the store is down: the next pass tries again) */
        if (is_active(s, id)) continue; /* ours already (its lease had lapsed) */
        resume_one(s, id);
    }
}

/* Under mu, every lease_seconds/3: renew this daemon's leases, forget the
 * sweeps it no longer holds, then take over the ones whose daemon died. */
static void lease_pass(sweeps *s) {
    s->renewed_at = mono_seconds();
    for (sweep_state *w = s->active, *next; w; w = next) {
        next = w->next;
        mlpd_error se = {0};
        if (store_sweep_renew(s->cfg.st, w->id, s->node, s->cfg.lease_seconds, &se) !=
            MLPD_ECONFLICT)
            continue; /* renewed (or the store is down: its lease runs on meanwhile) */
        sweeps_logf(s, "sweep %lld left to others: %s", (long long)w->id, se.msg);
        sweep_state_free(unlink_state(s, w->id));
    }
    claim_sweeps(s, 0);
}

static void *scheduler_main(void *arg) {
    pthread_setname_np(pthread_self(), "mlpd-sweeps");
    sweeps *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stopping)) {
        if (mono_seconds() - s->renewed_at >= s->cfg.lease_seconds / 3) lease_pass(s);
        for (sweep_state *w = s->active, *next; w && !atomic_load(&s->stopping); w = next) {
            next = w->next;
            if (sweep_tick(s, w)) sweep_state_free(unlink_state(s, w->id));
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SWEEPS_TICK_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (!atomic_load(&s->stopping)) pthread_cond_timedwait(&s->cv, &s->mu, &until);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* One sweep found active at start: decoded again, its children loaded. */
static void resume_one(sweeps *s, int64_t id) {
    store_sweep row;
    mlpd_error se = {0};
    if (store_sweep_get(s->cfg.st, id, &row, &se) != MLPD_OK) return;
    api_sweep_request req;
    api_problem prob;
    memset(&prob, 0, sizeof prob);
    const char *cfg = row.config_json ? row.config_json : "";
    if (api_sweep_request_decode(cfg, strlen(cfg), &req, &prob) != 0) {
        char why[400];
        snprintf(why, sizeof why, "stored config cannot be read back: %s", prob.detail);
        store_sweep_set_status(s->cfg.st, id, RUN_FAILED, why, NULL);
        sweeps_logf(s, "sweep %lld: %s", (long long)id, why);
        store_sweep_clear(&row);
        return;
    }
    sweep_state *w = state_new(id, &req);
    if (!w) {
        api_sweep_request_free(&req);
        store_sweep_clear(&row);
        return;
    }
    w->running = row.status == RUN_RUNNING;
    w->started_at = row.started_at;
    store_sweep_clear(&row);
    if (sweep_load_children(s, w, &se) != MLPD_OK) {
        sweeps_logf(s, "sweep %lld cannot be resumed: %s", (long long)id, se.msg);
        sweep_state_free(w);
        return;
    }
    link_state(s, w);
    sweeps_logf(s, "sweep %lld resumed with %d child(ren)", (long long)id, w->n_children);
}

int sweeps_start(const sweeps_config *cfg, sweeps **out, mlpd_error *err) {
    *out = NULL;
    if (!cfg->st || !cfg->jobs)
        return mlpd_fail(err, MLPD_EINTERNAL, "sweeps: needs a store and jobs");
    sweeps *s = calloc(1, sizeof *s);
    if (!s) return mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    s->cfg = *cfg;
    if (s->cfg.max_active < 1) s->cfg.max_active = 1;
    if (!(s->cfg.lease_seconds >= 1)) s->cfg.lease_seconds = 30;
    snprintf(s->node, sizeof s->node, "%s", cfg->node && cfg->node[0] ? cfg->node : "mlpd");
    s->cfg.node = s->node;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->stopping, 0);
    pthread_mutex_lock(&s->mu);
    claim_sweeps(s, 1); /* the ones it held before it stopped, and orphans */
    s->renewed_at = mono_seconds();
    pthread_mutex_unlock(&s->mu);
    int rc = MLPD_OK;
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0)
        rc = mlpd_fail(err, MLPD_EINTERNAL, "cannot start the sweep scheduler thread");
    if (rc != MLPD_OK) {
        sweeps_free(s);
        return rc;
    }
    s->thread_running = 1;
    *out = s;
    return MLPD_OK;
}

int sweeps_submit(sweeps *s, const api_sweep_request *req, int64_t *id, mlpd_error *err) {
    if (atomic_load(&s->stopping))
        return mlpd_fail(err, MLPD_EINTERNAL, "the daemon is shutting down");
    int rc = jobs_has_room(s->cfg.jobs, err);
    if (rc != MLPD_OK) return rc;
    char *config = api_sweep_request_encode(req);
    if (!config) return mlpd_fail(err, MLPD_EINTERNAL, "cannot encode the sweep");
    /* The state keeps its own decoded copy: req stays the caller's. */
    api_sweep_request copy;
    api_problem prob;
    if (api_sweep_request_decode(config, strlen(config), &copy, &prob) != 0) {
        free(config);
        return mlpd_fail(err, MLPD_EINTERNAL, "the sweep does not read back: %s", prob.detail);
    }
    pthread_mutex_lock(&s->mu);
    int64_t new_id = 0;
    mlpd_error se = {0};
    if (s->n_active >= s->cfg.max_active)
        rc = mlpd_fail(err, MLPD_EBUSY, "%d sweep(s) are active already (the limit is %d)",
                       s->n_active, s->cfg.max_active);
    else if (store_sweep_create(s->cfg.st, config, s->node, s->cfg.lease_seconds, &new_id, &se) !=
             MLPD_OK)
        rc = mlpd_fail(err, se.code, "store: %s", se.msg);
    sweep_state *w = rc == MLPD_OK ? state_new(new_id, &copy) : NULL;
    if (rc == MLPD_OK && !w) {
        store_sweep_set_status(s->cfg.st, new_id, RUN_FAILED, "out of memory", NULL);
        rc = mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    }
    if (rc == MLPD_OK) {
        link_state(s, w);
        *id = new_id;
    } else {
        api_sweep_request_free(&copy);
    }
    pthread_mutex_unlock(&s->mu);
    free(config);
    if (rc == MLPD_OK)
        sweeps_logf(s, "sweep %lld queued: %s search, %d run(s), %d at once", (long long)new_id,
                    req->method == API_SWEEP_GRID ? "grid" : "random", req->max_runs,
                    req->parallel);
    return rc;
}

/* Cancel the unfinished children of sweep id as the store lists them. */
static void cancel_children_in_store(sweeps *s, int64_t id) {
    store_run *kids = NULL;
    size_t n = 0;
    if (store_sweep_children(s->cfg.st, id, 10000, &kids, &n, NULL) != MLPD_OK) return;
    char why[96];
    snprintf(why, sizeof why, "sweep %lld was cancelled", (long long)id);
    for (size_t i = 0; i < n; i++)
        if (kids[i].status == RUN_QUEUED || kids[i].status == RUN_RUNNING)
            jobs_cancel_why(s->cfg.jobs, kids[i].id, why);
    store_run_list_free(kids, n);
}

int sweeps_cancel(sweeps *s, int64_t id, mlpd_error *err) {
    pthread_mutex_lock(&s->mu);
    sweep_state *w = unlink_state(s, id);
    int rc = MLPD_OK;
    if (!w) {
        store_sweep row;
        rc = store_sweep_get(s->cfg.st, id, &row, err);
        if (rc == MLPD_OK) {
            rc =
                row.status == RUN_QUEUED || row.status == RUN_RUNNING
                    ? store_sweep_set_status(s->cfg.st, id, RUN_CANCELLED, NULL, err)
                    : mlpd_fail(err, MLPD_ECONFLICT, "sweep %lld has already ended", (long long)id);
            store_sweep_clear(&row);
        }
        pthread_mutex_unlock(&s->mu);
        /* Scheduled by another daemon (or by none): its children are ended
         * from here; that daemon's next renewal finds the sweep cancelled. */
        if (rc == MLPD_OK) cancel_children_in_store(s, id);
        return rc;
    }
    char why[96];
    snprintf(why, sizeof why, "sweep %lld was cancelled", (long long)id);
    for (int i = 0; i < w->n_children; i++)
        if (!w->children[i].final) jobs_cancel_why(s->cfg.jobs, w->children[i].run_id, why);
    rc = store_sweep_set_status(s->cfg.st, id, RUN_CANCELLED, NULL, err);
    if (rc != MLPD_OK) link_state(s, w); /* still active: the scheduler goes on with it */
    pthread_mutex_unlock(&s->mu);
    if (rc == MLPD_OK) {
        sweeps_logf(s, "sweep %lld cancelled", (long long)id);
        sweep_state_free(w);
    }
    return rc;
}

void sweeps_stop(sweeps *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stopping, 1);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_running) pthread_join(s->thread, NULL);
    s->thread_running = 0;
}

void sweeps_free(sweeps *s) {
    if (!s) return;
    sweeps_stop(s);
    while (s->active) {
        sweep_state *w = s->active;
        s->active = w->next;
        sweep_state_free(w);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
