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
 * Restart: sweeps found queued or running at start are resumed: the job
 * runner has already failed their interrupted children and queued their
 * queued ones again (jobs.h); the scheduler counts the children that exist
 * and goes on making the next ones (child i's settings depend only on the
 * config and i). The budget counts wall time from the sweep's start, the
 * daemon's down time included.
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
    int max_active; /* sweeps queued or running at once; one more is MLPD_EBUSY */
    void (*log)(void *user, const char *fmt, ...);
    void *log_user;
} sweeps_config;

/* Resume the active sweeps (see above) and start the scheduler thread. */
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
