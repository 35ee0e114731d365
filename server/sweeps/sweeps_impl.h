/* sweeps_impl.h - what sweeps.c (thread, submit, cancel, resume) and
 * sweep_tick.c (one sweep's step) share. Not part of the interface.
 *
 * Everything here is guarded by sweeps.mu: the scheduler holds it for a
 * whole tick, the HTTP threads for a submit or a cancel.
 */
#ifndef MLPD_SWEEPS_IMPL_H
#define MLPD_SWEEPS_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "sweep_rule.h"
#include "sweeps.h"

/* What the scheduler knows of one child. */
typedef struct {
    int64_t run_id;
    int final;      /* ended: never read again */
    int succeeded;  /* ended succeeded: a peer of the median rule */
    int stop_asked; /* the rule or the budget asked it to stop */
    double *series; /* the sweep's metric per completed epoch (NaN: not seen) */
    int n_series;   /* epochs completed */
    int64_t cursor; /* last metric id read */
} sweep_child;

typedef struct sweep_state {
    int64_t id;
    api_sweep_request req;
    double started_at; /* wall seconds; 0 before the first tick */
    int running;       /* status running recorded */
    int budget_spent;
    sweep_child *children;
    int n_children, cap_children;
    int64_t best_run;
    double best_value;
    struct sweep_state *next;
} sweep_state;

struct sweeps {
    sweeps_config cfg;
    char node[160];    /* cfg.node's copy */
    double renewed_at; /* monotonic seconds of the last lease renewal pass */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a new sweep, or stop */
    sweep_state *active;
    int n_active;
    atomic_int stopping;
    int stopped;
    pthread_t thread;
    int thread_running;
};

void sweeps_logf(const sweeps *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One step of sweep w (under mu). Returns 1 when it has ended (its final
 * status recorded: the caller unlinks and frees it), 0 otherwise. */
int sweep_tick(sweeps *s, sweep_state *w);

/* Load the children w has in the store, with their series (resume). */
int sweep_load_children(sweeps *s, sweep_state *w, mlpd_error *err);

void sweep_state_free(sweep_state *w);

#endif /* MLPD_SWEEPS_IMPL_H */
