/* histogram.c - see histogram.h. */
#include "histogram.h"

void hist_init(hist *h, const double *bounds, int n) {
    h->bounds = bounds;
    h->n_bounds = n < 0 ? 0 : n > HIST_MAX_BOUNDS ? HIST_MAX_BOUNDS : n;
    for (int b = 0; b <= HIST_MAX_BOUNDS; b++) atomic_init(&h->buckets[b], 0);
    atomic_init(&h->micros_sum, 0);
}

void hist_observe(hist *h, double seconds) {
    if (!(seconds > 0)) seconds = 0;
    int b = 0;
    while (b < h->n_bounds && seconds > h->bounds[b]) b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->micros_sum, (uint_fast64_t)(seconds * 1e6), memory_order_relaxed);
}

unsigned long long hist_count(const hist *h) {
    unsigned long long n = 0;
    for (int b = 0; b <= h->n_bounds; b++)
        n += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
    return n;
}
