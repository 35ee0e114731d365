/* model_cache.h - models loaded for predictions, shared by the HTTP threads.
 *
 * A prediction looks its model up here instead of reading the store: the hit
 * path takes a read lock (readers never wait for each other), bumps an atomic
 * reference count and returns the engine's model, whose weights are read-only
 * (mlp.h), so any number of threads predict with it at once. A miss reads the
 * file from the store and parses it outside any lock.
 *
 * "The latest model" (model 0) is resolved through the store once and
 * remembered until model_cache_models_changed() is called: after a model is
 * uploaded or deleted, and by the job runner after a job's model is
 * committed (jobs_config.model_saved), so a model made by a job is never
 * hidden behind an older cached answer, and predictions during training do
 * not query the store (they did: SQLite was 9% of the daemon's time).
 *
 * Predictions go through the cache's batcher (batcher.h), started on the
 * first model_cache_batcher() call, so a daemon that never predicts has no
 * batcher thread. Its settings are given to model_cache_create (from
 * --predict-batch-rows, --predict-batch-delay-us, --predict-batch-gap-us:
 * config.h); max_rows 0 turns batching off: predictions then run on the
 * HTTP threads.
 *
 * References: every successful model_cache_get() must be paired with one
 * model_cache_release(); an entry dropped from the cache (DELETE, eviction)
 * is freed when its last reference goes.
 */
#ifndef MLPD_MODEL_CACHE_H
#define MLPD_MODEL_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "batcher.h"
#include "mlp.h"
#include "store.h"

typedef struct model_cache model_cache;

typedef struct cached_model {
    int64_t id;
    const mlp_model *model;
    mlp_precision precision; /* the version's serving precision (packed) */
    /* The names of its outputs (its training set's class names, one per
     * output), or NULL (an upload, or a set without names). */
    char **class_names;
    /* mlp_model_input_bound: rows with a larger |value| are refused
     * (infer.c), so no answer depends on the kernel or batch that computed
     * it; 0 = no bound known, only the outputs are checked. */
    float max_input;
    atomic_int refs;                /* internal */
    atomic_uint_fast64_t last_used; /* internal: LRU tick */
} cached_model;

/* capacity: models kept loaded (LRU beyond it), >= 1. batch: the batcher's
 * settings (copied; max_rows 0 = no batcher); NULL means
 * BATCHER_DEFAULT_MAX_ROWS rows and no waiting. */
model_cache *model_cache_create(store *st, int capacity, const batcher_options *batch);
void model_cache_free(model_cache *c);

/* Look up model `id` (0: the latest). MLPD_OK with *out referenced;
 * MLPD_ENOTFOUND for no model with that id (or no model at all for id 0),
 * the store's code when it fails, MLPD_EINTERNAL for a stored file the engine
 * refuses or no memory; the reason in err (mlpd_error.h). */
int model_cache_get(model_cache *c, int64_t id, cached_model **out, mlpd_error *err);
void model_cache_release(model_cache *c, cached_model *m);

/* Forget model `id` (after DELETE); in-flight users keep their reference. */
void model_cache_invalidate(model_cache *c, int64_t id);
/* The set of models may have changed: forget the remembered latest id (and
 * the attached registry's snapshot). */
void model_cache_models_changed(model_cache *c);
/* Another daemon on the same database changed models (a notification: which
 * ones is not said): forget every loaded model, the latest id and the
 * registry's snapshot, so the next request reads the store again and a
 * deleted model is never served. In-flight users keep their reference. */
void model_cache_changed_elsewhere(model_cache *c);
/* Let model_cache_models_changed also call registry_changed(r) (registry.h),
 * so every path that changes models (uploads, jobs, deletes) refreshes the
 * names too. Call before serving. */
struct registry;
void model_cache_attach_registry(model_cache *c, struct registry *r);
/* 1 when model id is loaded, packed and warmed up (one forward pass done):
 * what "ready" means for the v2 protocol. Never loads it. */
int model_cache_loaded(model_cache *c, int64_t id);

/* The prediction batcher, started on first use; NULL when batching is off or
 * its thread cannot start. Stopped (queued work answered) by model_cache_free. */
struct batcher *model_cache_batcher(model_cache *c);
/* The batcher's counters (batcher_get_stats); all zero while it has not
 * started. Never starts it (a /metrics scrape must not spawn a thread). */
void model_cache_batcher_stats(model_cache *c, batcher_stats *out);

/* Models loaded now. */
int model_cache_size(model_cache *c);

#endif /* MLPD_MODEL_CACHE_H */
