/* sweep_tick.c - one step of one sweep: read its children's progress, apply
 * the median rule and the budget, record the best child, launch children,
 * end the sweep (see sweeps.h). Runs on the scheduler thread under mu. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "sweeps_impl.h"

#define METRICS_PAGE 1000

void sweep_state_free(sweep_state *w) {
    if (!w) return;
    for (int i = 0; i < w->n_children; i++) free(w->children[i].series);
    free(w->children);
    api_sweep_request_free(&w->req);
    free(w);
}

static sweep_child *add_child(sweep_state *w, int64_t run_id) {
    if (w->n_children == w->cap_children) {
        int cap = w->cap_children ? w->cap_children * 2 : 16;
        sweep_child *c = realloc(w->children, (size_t)cap * sizeof *c);
        if (!c) return NULL;
        w->children = c;
        w->cap_children = cap;
    }
    sweep_child *c = &w->children[w->n_children++];
    memset(c, 0, sizeof *c);
    c->run_id = run_id;
    return c;
}

/* Record value at epoch (1-based) in c's series. */
static void series_put(sweep_child *c, int epoch, double value) {
    if (epoch < 1 || epoch > 100000) return;
    if (epoch > c->n_series) {
        double *v = realloc(c->series, (size_t)epoch * sizeof *v);
        if (!v) return;
        for (int i = c->n_series; i < epoch; i++) v[i] = NAN;
        c->series = v;
        c->n_series = epoch;
    }
    c->series[epoch - 1] = value;
}

/* Read c's new metrics (the sweep's metric only) from the store. */
static void read_series(sweeps *s, const sweep_state *w, sweep_child *c) {
    const char *key = mlp_metric_name(w->req.metric);
    for (;;) {
        store_metric *m = NULL;
        size_t n = 0;
        if (store_metrics_get(s->cfg.st, c->run_id, c->cursor, METRICS_PAGE, &m, &n, NULL) !=
            MLPD_OK)
            return;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(m[i].key, key)) series_put(c, m[i].epoch, m[i].value);
            c->cursor = m[i].id;
        }
        free(m);
        if (n < METRICS_PAGE) return;
    }
}

/* A child that ended: a success may be the new best. */
static void child_ended(sweeps *s, sweep_state *w, sweep_child *c, const store_run *run) {
    c->final = 1;
    if (run->status != RUN_SUCCEEDED) return;
    c->succeeded = 1;
    double v = api_sweep_metric_of(w->req.metric, run->loss, run->accuracy, run->val_loss,
                                   run->val_accuracy);
    if (w->best_run && !api_sweep_better(w->req.mode, v, w->best_value)) return;
    mlpd_error se = {0};
    if (store_sweep_set_best(s->cfg.st, w->id, run->id, v, &se) != MLPD_OK) {
        sweeps_logf(s, "sweep %lld: cannot record its best child: %s", (long long)w->id, se.msg);
        return;
    }
    w->best_run = run->id;
    w->best_value = v;
    sweeps_logf(s, "sweep %lld: best so far is job %lld (%s %.4f)", (long long)w->id,
                (long long)run->id, mlp_metric_name(w->req.metric), v);
}

/* Bring every unfinished child up to date. */
static void refresh(sweeps *s, sweep_state *w) {
    for (int i = 0; i < w->n_children; i++) {
        sweep_child *c = &w->children[i];
        if (c->final) continue;
        store_run run;
        if (store_run_get(s->cfg.st, c->run_id, &run, NULL) != MLPD_OK) continue;
        read_series(s, w, c);
        if (run.status == RUN_SUCCEEDED || run.status == RUN_FAILED || run.status == RUN_CANCELLED)
            child_ended(s, w, c, &run);
        store_run_clear(&run);
    }
}

/* The median rule over the running children. */
static void apply_rule(sweeps *s, sweep_state *w) {
    if (!w->req.prune_median) return;
    sweep_rule rule = {.mode = w->req.mode,
                       .grace_epochs = w->req.grace_epochs,
                       .min_children = w->req.min_children};
    double *peers = malloc((size_t)(w->n_children ? w->n_children : 1) * sizeof *peers);
    if (!peers) return;
    for (int i = 0; i < w->n_children; i++) {
        sweep_child *c = &w->children[i];
        if (c->final || c->stop_asked || c->n_series == 0) continue;
        int e = c->n_series;
        size_t n = 0;
        for (int k = 0; k < w->n_children; k++) {
            const sweep_child *p = &w->children[k];
            if (k != i && p->succeeded && p->n_series >= e) peers[n++] = p->series[e - 1];
        }
        double best = NAN, median = NAN;
        if (!sweep_rule_should_stop(&rule, c->series, e, peers, n, &best, &median)) continue;
        char why[200];
        snprintf(why, sizeof why,
                 SWEEP_PRUNED_PREFIX "median rule of sweep %lld at epoch %d: best %s %.4f is worse "
                                     "than the median %.4f of %zu finished children",
                 (long long)w->id, e, mlp_metric_name(w->req.metric), best, median, n);
        if (jobs_cancel_why(s->cfg.jobs, c->run_id, why) == MLPD_OK) {
            c->stop_asked = 1;
            sweeps_logf(s, "sweep %lld: job %lld %s", (long long)w->id, (long long)c->run_id, why);
        }
    }
    free(peers);
}

static int active_children(const sweep_state *w) {
    int n = 0;
    for (int i = 0; i < w->n_children; i++) n += !w->children[i].final;
    return n;
}

/* Once the budget is spent: no new child, the running ones stop. */
static void apply_budget(sweeps *s, sweep_state *w) {
    if (w->budget_spent || w->req.budget_seconds <= 0 ||
        wall_seconds() - w->started_at < w->req.budget_seconds)
        return;
    w->budget_spent = 1;
    char why[160];
    snprintf(why, sizeof why, "sweep %lld: its budget of %g s is spent", (long long)w->id,
             w->req.budget_seconds);
    sweeps_logf(s, "%s", why);
    for (int i = 0; i < w->n_children; i++)
        if (!w->children[i].final && !w->children[i].stop_asked &&
            jobs_cancel_why(s->cfg.jobs, w->children[i].run_id, why) == MLPD_OK)
            w->children[i].stop_asked = 1;
}

/* A child that cannot be queued for a lasting reason (its data set was
 * removed) is recorded as a failed run, so that the sweep moves on. */
static void record_failed_child(sweeps *s, sweep_state *w, const api_train_request *req,
                                const char *why) {
    char *config = api_train_request_encode(req);
    int64_t id = 0;
    if (config && store_run_create_in(s->cfg.st, config, req->dataset, req->recipe.train.epochs,
                                      w->id, &id, NULL) == MLPD_OK) {
        store_run_set_status(s->cfg.st, id, RUN_FAILED, why, NULL);
        sweep_child *c = add_child(w, id);
        if (c) c->final = 1;
    }
    free(config);
}

/* Queue children while there is room. */
static void launch(sweeps *s, sweep_state *w) {
    int active = active_children(w);
    while (!w->budget_spent && w->n_children < w->req.max_runs && active < w->req.parallel) {
        /* Still this daemon's sweep? A scheduler stalled past its lease may
         * have lost it to another daemon, which counts the children in the
         * store: making one here too would make child i twice. */
        if (store_sweep_renew(s->cfg.st, w->id, s->node, s->cfg.lease_seconds, NULL) ==
            MLPD_ECONFLICT)
            return; /* the next lease pass forgets it */
        api_train_request req;
        api_problem prob;
        if (api_sweep_child(&w->req, w->n_children, &req, NULL, &prob) != 0) {
            sweeps_logf(s, "sweep %lld: child %d: %s", (long long)w->id, w->n_children,
                        prob.detail);
            return;
        }
        int64_t id = 0;
        mlpd_error err = {0};
        int rc = jobs_submit_in(s->cfg.jobs, &req, w->id, &id, &err);
        if (rc == MLPD_ENOTFOUND || rc == MLPD_ECONFLICT) {
            record_failed_child(s, w, &req, err.msg);
            continue;
        }
        if (rc != MLPD_OK) return; /* a full queue or store: try again next tick */
        if (!add_child(w, id)) return;
        active++;
    }
}

static int finish(sweeps *s, sweep_state *w) {
    run_status st = w->best_run ? RUN_SUCCEEDED : RUN_FAILED;
    const char *why = w->best_run ? NULL : "no child succeeded";
    mlpd_error se = {0};
    if (store_sweep_set_status(s->cfg.st, w->id, st, why, &se) != MLPD_OK) {
        sweeps_logf(s, "sweep %lld: cannot record its end yet: %s", (long long)w->id, se.msg);
        return 0;
    }
    sweeps_logf(s, "sweep %lld %s: %d child(ren)%s", (long long)w->id, run_status_name(st),
                w->n_children, w->best_run ? "" : ", none succeeded");
    return 1;
}

int sweep_tick(sweeps *s, sweep_state *w) {
    if (!w->running) {
        mlpd_error se = {0};
        if (store_sweep_set_status(s->cfg.st, w->id, RUN_RUNNING, NULL, &se) != MLPD_OK) return 0;
        store_sweep row;
        if (store_sweep_get(s->cfg.st, w->id, &row, NULL) == MLPD_OK) {
            w->started_at = row.started_at;
            store_sweep_clear(&row);
        }
        if (w->started_at <= 0) w->started_at = wall_seconds();
        w->running = 1;
    }
    refresh(s, w);
    apply_rule(s, w);
    apply_budget(s, w);
    launch(s, w);
    int done = w->budget_spent || w->n_children >= w->req.max_runs;
    return done && active_children(w) == 0 ? finish(s, w) : 0;
}

int sweep_load_children(sweeps *s, sweep_state *w, mlpd_error *err) {
    store_run *runs = NULL;
    size_t n = 0;
    int rc = store_sweep_children(s->cfg.st, w->id, API_SWEEP_MAX_RUNS, &runs, &n, err);
    if (rc != MLPD_OK) return rc;
    for (size_t i = 0; i < n; i++) {
        sweep_child *c = add_child(w, runs[i].id);
        if (!c) {
            rc = mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
            break;
        }
        c->stop_asked = runs[i].status == RUN_CANCELLED && runs[i].error &&
                        !strncmp(runs[i].error, SWEEP_PRUNED_PREFIX, strlen(SWEEP_PRUNED_PREFIX));
    }
    store_run_list_free(runs, n);
    if (rc == MLPD_OK) refresh(s, w);
    return rc;
}
