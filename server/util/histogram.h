/* histogram.h - a fixed-bucket histogram of durations, updated with atomics.
 *
 * Prometheus histograms (route latencies, job and epoch durations) are kept
 * in this one shape: per-bucket counts (not cumulative; the last bucket is
 * +Inf) and a sum in microseconds. Observing takes no lock, so it may be
 * called from any thread on a hot path; readers load each field on its own
 * (a scrape may see an observation half-counted, never a torn number).
 */
#ifndef MLPD_HISTOGRAM_H
#define MLPD_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define HIST_MAX_BOUNDS 16

typedef struct {
    const double *bounds; /* ascending upper bounds, seconds; static storage */
    int n_bounds;         /* <= HIST_MAX_BOUNDS */
    atomic_uint_fast64_t buckets[HIST_MAX_BOUNDS + 1]; /* [n_bounds] is +Inf */
    atomic_uint_fast64_t micros_sum;
} hist;

/* Zero h and set its bounds (n is clamped to HIST_MAX_BOUNDS). */
void hist_init(hist *h, const double *bounds, int n);
/* Count one observation of `seconds` (negative counts as 0). */
void hist_observe(hist *h, double seconds);
/* Observations so far (the sum of the buckets). */
unsigned long long hist_count(const hist *h);

#endif /* MLPD_HISTOGRAM_H */
