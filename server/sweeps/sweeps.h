/* sweeps.h - hyperparameter sweeps: a job that runs jobs (docs/sweeps.md).
 *
 * A sweep (api/sweep_request.h) is recorded in the store and driven by one
 * scheduler thread. Every SWEEPS_TICK_MS it looks at each active sweep:
 * reads its children's new epochs from the store, stops the ones the median
 * rule finds clearly worse (sweep_rule.h; they end cancelled with an error
 * starting with SWEEP_PRUNED_PREFIX), records the best succeeded child,
 * spends the budget, and submits new children through the ordinary job
 * queue (jobs_submit_in) while fewer than `parallel` are queued or running
 * and fewer than max_runs exist. A full queue only delays a child.
 *
 * Lifecycle of a sweep: queued -> running (its first tick) -> succeeded
 * (every child ended and one succeeded: best_run_id names it), failed (none
 * succeeded) or cancelled (sweeps_cancel; its queued and running children are
 * cancelled too).
 *
 * Restart and fleets: a sweep is scheduled by one daemon at a time, the one
 * holding its lease in the store (store_sweep_claim; the daemon that accepted
 * it, first). The scheduler renews its leases every lease_seconds/3 and
 * forgets a sweep whose lease it lost (cancelled from another daemon, or
 * claimed by another after a stall). At start it claims the sweeps it held
 * before it stopped, and at each renewal any active sweep whose lease expired
 * (its daemon died): it resumes them from their children in the store (the
 * job runners have queued interrupted children again, jobs.h), counts the
 * children that exist and goes on making the next ones (child i's settings
 * depend only on the config and i). The budget counts wall time from the
 * sweep's start, down time included.
 *
 * Thread safety: every function may be called from any HTTP thread. Lock
 * order: sweeps' mutex, then the job runner's, then the store's.
 */
#ifndef MLPD_SWEEPS_H
#define MLPD_SWEEPS_H

#include <stdint.h>

#include "jobs.h"
#include "store.h"
#include "sweep_request.h"

#define SWEEPS_TICK_MS      200
#define SWEEP_PRUNED_PREFIX "pruned: "

typedef struct sweeps sweeps;

typedef struct {
    store *st;
    jobs *jobs;
    int max_active;       /* sweeps queued or running at once; one more is MLPD_EBUSY */
    const char *node;     /* this daemon's --node-name (copied): the leases' holder */
    double lease_seconds; /* --lease-seconds: how long a lease lasts unrenewed */
    void (*log)(void *user, const char *fmt, ...);
    void *log_user;
} sweeps_config;

/* Claim and resume this daemon's active sweeps (see above) and start the
 * scheduler thread. */
int sweeps_start(const sweeps_config *cfg, sweeps **out, mlpd_error *err);

/* Record a new sweep (config = api_sweep_request_encode(req)) and hand it to
 * the scheduler. MLPD_EBUSY when max_active sweeps are active or the job
 * queue is full now (jobs_has_room), MLPD_EINTERNAL while shutting down,
 * the store's code otherwise; reason in err. */
int sweeps_submit(sweeps *s, const api_sweep_request *req, int64_t *id, mlpd_error *err);

/* Cancel an active sweep and its queued and running children. MLPD_ENOTFOUND
 * for an unknown id, MLPD_ECONFLICT for a sweep already ended, the store's
 * code when its end cannot be recorded. */
int sweeps_cancel(sweeps *s, int64_t id, mlpd_error *err);

/* Stop the scheduler (active sweeps stay active in the store and resume at
 * the next start). Call before jobs_stop. */
void sweeps_stop(sweeps *s);
void sweeps_free(sweeps *s);

#endif /* MLPD_SWEEPS_H */
