/* model_cache.c - loaded models by id, reference-counted, LRU beyond capacity. */
#include "model_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batcher.h"
#include "registry.h"

struct model_cache {
    store *st;
    pthread_rwlock_t lock; /* guards entries/n and the latest_* fields */
    cached_model **entries;
    int n, capacity;
    atomic_uint_fast64_t tick; /* LRU clock */
    atomic_uint_fast64_t gen;  /* bumped by model_cache_models_changed() */
    int latest_known;          /* latest_id holds the answer for latest_gen */
    int64_t latest_id;         /* 0: there is no model */
    uint_fast64_t latest_gen;
    batcher_options batch_opt;    /* max_rows 0: batching off */
    pthread_mutex_t batcher_lock; /* guards starting the batcher */
    _Atomic(batcher *) batcher;   /* NULL until first used */
    int batcher_failed;           /* do not retry a thread that would not start */
    registry *reg;                /* refreshed with the models (may be NULL) */
};

model_cache *model_cache_create(store *st, int capacity, const batcher_options *batch) {
    model_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->entries = calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *c->entries);
    if (!c->entries || pthread_rwlock_init(&c->lock, NULL) != 0 ||
        pthread_mutex_init(&c->batcher_lock, NULL) != 0) {
        free(c->entries);
        free(c);
        return NULL;
    }
    c->st = st;
    c->capacity = capacity > 0 ? capacity : 1;
    atomic_init(&c->tick, 0);
    atomic_init(&c->gen, 0);
    atomic_init(&c->batcher, NULL);
    if (batch)
        c->batch_opt = *batch;
    else
        c->batch_opt = (batcher_options){.max_rows = BATCHER_DEFAULT_MAX_ROWS};
    if (c->batch_opt.max_rows < 0) c->batch_opt.max_rows = 0;
    return c;
}

static void unref(cached_model *m) {
    if (atomic_fetch_sub(&m->refs, 1) == 1) {
        mlp_model_free((mlp_model *)m->model);
        for (int i = 0; m->class_names && m->class_names[i]; i++) free(m->class_names[i]);
        free(m->class_names);
        free(m);
    }
}

void model_cache_free(model_cache *c) {
    if (!c) return;
    batcher_free(atomic_load(&c->batcher)); /* answers what is queued; its jobs hold references */
    pthread_mutex_destroy(&c->batcher_lock);
    for (int i = 0; i < c->n; i++) unref(c->entries[i]);
    pthread_rwlock_destroy(&c->lock);
    free(c->entries);
    free(c);
}

/* With the lock held (read or write): the entry for id, referenced, or NULL. */
static cached_model *find_ref(model_cache *c, int64_t id) {
    for (int i = 0; i < c->n; i++) {
        cached_model *m = c->entries[i];
        if (m->id == id) {
            atomic_fetch_add(&m->refs, 1);
            atomic_store_explicit(&m->last_used, atomic_fetch_add(&c->tick, 1),
                                  memory_order_relaxed);
            return m;
        }
    }
    return NULL;
}

/* Which id "latest" means now; MLPD_ENOTFOUND when there is no model. */
static int resolve_latest(model_cache *c, int64_t *id, mlpd_error *err) {
    pthread_rwlock_rdlock(&c->lock);
    int known = c->latest_known && c->latest_gen == atomic_load(&c->gen);
    int64_t cached = c->latest_id;
    pthread_rwlock_unlock(&c->lock);
    if (known) {
        *id = cached;
        return cached ? MLPD_OK : mlpd_fail(err, MLPD_ENOTFOUND, "there is no model yet");
    }
    /* Read gen before asking the store: a model committed after this point
     * (upload, or a job's, whose runner calls model_cache_models_changed
     * after its commit) bumps gen, so the answer below is not remembered. */
    uint_fast64_t g = atomic_load(&c->gen);
    mlpd_error se = {0};
    int64_t latest = 0;
    int rc = store_model_latest(c->st, &latest, &se);
    if (rc == MLPD_ENOTFOUND)
        latest = 0;
    else if (rc != MLPD_OK)
        return mlpd_fail(err, rc, "store: %s", se.msg);
    pthread_rwlock_wrlock(&c->lock);
    if (atomic_load(&c->gen) == g) {
        c->latest_known = 1;
        c->latest_id = latest;
        c->latest_gen = g;
    }
    pthread_rwlock_unlock(&c->lock);
    *id = latest;
    return latest ? MLPD_OK : mlpd_fail(err, MLPD_ENOTFOUND, "there is no model yet");
}

/* Its training set's class names as a NULL-ended array when there is one
 * name per output, each fit for a JSON answer as it is; else NULL. */
static char **class_names_of(model_cache *c, int64_t id, int outputs) {
    char *json = NULL;
    if (store_model_class_names(c->st, id, &json, NULL) != MLPD_OK || !json) return NULL;
    cJSON *arr = cJSON_Parse(json);
    free(json);
    char **names = NULL;
    if (cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == outputs &&
        (names = calloc((size_t)outputs + 1, sizeof *names)) != NULL) {
        for (int i = 0; i < outputs; i++) {
            const cJSON *s = cJSON_GetArrayItem(arr, i);
            if (!cJSON_IsString(s) ||
                !store_class_name_ok(s->valuestring, strlen(s->valuestring)) ||
                !(names[i] = strdup(s->valuestring))) {
                for (int k = 0; k < i; k++) free(names[k]);
                free(names);
                names = NULL;
                break;
            }
        }
    }
    cJSON_Delete(arr);
    return names;
}

/* Read and parse model id from the store (no lock held). */
static int load(model_cache *c, int64_t id, cached_model **out, mlpd_error *err) {
    unsigned char *file = NULL;
    size_t len = 0;
    mlpd_error se = {0};
    int rc = store_model_file(c->st, id, &file, &len, &se);
    if (rc == MLPD_ENOTFOUND) return mlpd_fail(err, rc, "no model with id %lld", (long long)id);
    if (rc != MLPD_OK) return mlpd_fail(err, rc, "store: %s", se.msg);
    mlp_model *model = NULL;
    mlp_error me = {{0}};
    mlp_status st = mlp_model_from_buffer(file, len, &model, &me);
    free(file);
    if (st != MLP_OK)
        return mlpd_fail(err, MLPD_EINTERNAL, "stored model %lld is unreadable: %s", (long long)id,
                         me.msg);
    /* Weights in the prediction kernel's layout, packed once here, before the
     * model is shared. Without the memory for it the CBLAS path still works. */
    (void)mlp_model_pack(model, &me);
    /* The version's serving precision (docs/precision.md), packed beside the
     * float32 weights, which a request may still ask for. */
    mlp_precision prec = MLP_PRECISION_F32;
    store_model_precision mp;
    rc = store_model_precision_get(c->st, id, &mp, &se);
    if (rc == MLPD_OK && mlp_precision_from_name(mp.precision, &prec) == 0 &&
        mlp_model_pack_precision(model, prec, &me) != MLP_OK) {
        mlp_model_free(model);
        return mlpd_fail(err, MLPD_EINTERNAL, "model %lld: %s", (long long)id, me.msg);
    }
    if (rc != MLPD_OK && rc != MLPD_ENOTFOUND) {
        mlp_model_free(model);
        return mlpd_fail(err, rc, "store: %s", se.msg);
    }
    /* Warm-up: one forward pass of a zero row before anyone may use it. */
    float *zero =
        calloc((size_t)model->arch.sizes[0] + (size_t)model->arch.sizes[model->arch.n_layers],
               sizeof(float));
    int label = 0;
    if (zero) {
        batch_item warm = {.model = model,
                           .x = zero,
                           .rows = 1,
                           .probs = zero + model->arch.sizes[0],
                           .labels = &label};
        batch_item_predict_here(&warm);
        free(zero);
    }
    cached_model *m = calloc(1, sizeof *m);
    if (!m) {
        mlp_model_free(model);
        return mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    }
    m->id = id;
    m->model = model;
    m->precision = prec;
    m->max_input = mlp_model_input_bound(model);
    m->class_names = class_names_of(c, id, model->arch.sizes[model->arch.n_layers]);
    atomic_init(&m->refs, 1);
    atomic_init(&m->last_used, 0);
    *out = m;
    return MLPD_OK;
}

int model_cache_get(model_cache *c, int64_t id, cached_model **out, mlpd_error *err) {
    if (id == 0) {
        int rc = resolve_latest(c, &id, err);
        if (rc != MLPD_OK) return rc;
    }
    pthread_rwlock_rdlock(&c->lock);
    cached_model *m = find_ref(c, id);
    pthread_rwlock_unlock(&c->lock);
    if (m) {
        *out = m;
        return MLPD_OK;
    }
    /* A DELETE racing with this load bumps gen: then the loaded model serves
     * this request only and is not inserted. */
    uint_fast64_t g = atomic_load(&c->gen);
    cached_model *fresh = NULL;
    int rc = load(c, id, &fresh, err);
    if (rc != MLPD_OK) return rc;
    pthread_rwlock_wrlock(&c->lock);
    m = find_ref(c, id); /* another thread may have loaded it meanwhile */
    if (!m && atomic_load(&c->gen) != g) {
        m = fresh; /* the caller's reference is the only one */
        fresh = NULL;
    } else if (!m) {
        if (c->n == c->capacity) { /* evict the least recently used */
            int lru = 0;
            for (int i = 1; i < c->n; i++)
                if (atomic_load(&c->entries[i]->last_used) <
                    atomic_load(&c->entries[lru]->last_used))
                    lru = i;
            unref(c->entries[lru]);
            c->entries[lru] = c->entries[--c->n];
        }
        c->entries[c->n++] = fresh;
        fresh = NULL;
        m = find_ref(c, id);
    }
    pthread_rwlock_unlock(&c->lock);
    if (fresh) unref(fresh);
    *out = m;
    return MLPD_OK;
}

void model_cache_release(model_cache *c, cached_model *m) {
    (void)c;
    if (m) unref(m);
}

void model_cache_invalidate(model_cache *c, int64_t id) {
    pthread_rwlock_wrlock(&c->lock);
    for (int i = 0; i < c->n; i++) {
        if (c->entries[i]->id == id) {
            unref(c->entries[i]);
            c->entries[i] = c->entries[--c->n];
            break;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    model_cache_models_changed(c);
}

void model_cache_changed_elsewhere(model_cache *c) {
    pthread_rwlock_wrlock(&c->lock);
    for (int i = 0; i < c->n; i++) unref(c->entries[i]);
    c->n = 0;
    pthread_rwlock_unlock(&c->lock);
    model_cache_models_changed(c);
}

void model_cache_models_changed(model_cache *c) {
    atomic_fetch_add(&c->gen, 1);
    registry_changed(c->reg);
}

void model_cache_attach_registry(model_cache *c, registry *r) {
    c->reg = r;
}

int model_cache_loaded(model_cache *c, int64_t id) {
    pthread_rwlock_rdlock(&c->lock);
    int found = 0;
    for (int i = 0; i < c->n && !found; i++) found = c->entries[i]->id == id;
    pthread_rwlock_unlock(&c->lock);
    return found;
}

struct batcher *model_cache_batcher(model_cache *c) {
    batcher *b = atomic_load_explicit(&c->batcher, memory_order_acquire);
    if (b || c->batch_opt.max_rows == 0) return b;
    pthread_mutex_lock(&c->batcher_lock);
    b = atomic_load(&c->batcher);
    if (!b && !c->batcher_failed) {
        b = batcher_create(&c->batch_opt, NULL);
        if (b)
            atomic_store_explicit(&c->batcher, b, memory_order_release);
        else
            c->batcher_failed = 1;
    }
    pthread_mutex_unlock(&c->batcher_lock);
    return b;
}

void model_cache_batcher_stats(model_cache *c, batcher_stats *out) {
    batcher *b = c ? atomic_load_explicit(&c->batcher, memory_order_acquire) : NULL;
    if (b)
        batcher_get_stats(b, out);
    else
        memset(out, 0, sizeof *out);
}

int model_cache_size(model_cache *c) {
    if (!c) return 0;
    pthread_rwlock_rdlock(&c->lock);
    int n = c->n;
    pthread_rwlock_unlock(&c->lock);
    return n;
}
