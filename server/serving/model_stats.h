/* model_stats.h - per model version inference statistics: what Triton's
 * statistics extension reports (GET /v2/models/{name}/stats) and what
 * /metrics exports per {model, version}.
 *
 * One entry per model id, made on its first request and kept for the
 * daemon's life (a deleted version's figures stay, like Triton's since
 * start-up). Entries are never moved or freed before model_stats_free, so a
 * pointer from model_stats_get stays valid; counters are atomics updated
 * without a lock.
 *
 * Durations follow the extension: success / fail = the whole request,
 * queue = from hand-off to the start of its batch, compute_input = decoding
 * the body, compute_infer = the forward pass of its batch, compute_output =
 * encoding the answer; each a count and a sum of nanoseconds.
 */
#ifndef MLPD_MODEL_STATS_H
#define MLPD_MODEL_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "histogram.h"
#include "store.h"

/* Queue-time histogram bounds, seconds (plus +Inf). */
#define MODEL_STATS_N_BUCKETS 10
extern const double model_stats_queue_bounds[MODEL_STATS_N_BUCKETS];

typedef struct {
    atomic_uint_fast64_t count, ns;
} model_duration;

typedef struct {
    int64_t model_id;
    char name[STORE_NAME_MAX + 1];
    int version;
    atomic_uint_fast64_t inference_count;   /* rows predicted successfully */
    atomic_uint_fast64_t execution_count;   /* forward passes (batches) that included it */
    atomic_uint_fast64_t last_inference_ms; /* wall clock, ms since the epoch; 0: never */
    model_duration success, fail, queue, compute_input, compute_infer, compute_output;
    hist queue_hist; /* queue waits (model_stats_queue_bounds) */
} model_stat;

typedef struct model_stats model_stats;

model_stats *model_stats_create(void);
void model_stats_free(model_stats *t);

/* The entry of model_id (made with name/version on first use); NULL on ENOMEM. */
model_stat *model_stats_get(model_stats *t, int64_t model_id, const char *name, int version);

/* Add one occurrence of ns to d. */
void model_duration_add(model_duration *d, uint64_t ns);
/* A queue wait: the queue duration and its histogram bucket. */
void model_stat_queue(model_stat *s, uint64_t ns);

/* Visit every entry, in creation order. */
void model_stats_foreach(model_stats *t, void (*fn)(void *user, const model_stat *s), void *user);

#endif /* MLPD_MODEL_STATS_H */
