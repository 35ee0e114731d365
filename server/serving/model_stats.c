/* model_stats.c - per model version statistics (model_stats.h). */
#include "model_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double model_stats_queue_bounds[MODEL_STATS_N_BUCKETS] = {
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 1,
};

/* Entries in fixed chunks, so that a pointer handed out never moves. */
#define CHUNK 64

typedef struct chunk {
    model_stat items[CHUNK];
    struct chunk *next;
} chunk;

struct model_stats {
    pthread_mutex_t lock; /* guards adding entries; n is read with acquire */
    chunk *head, *tail;
    atomic_size_t n;
};

model_stats *model_stats_create(void) {
    model_stats *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->n, 0);
    return t;
}

void model_stats_free(model_stats *t) {
    if (!t) return;
    for (chunk *c = t->head; c;) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* The entry at index i (i < n). */
static model_stat *at(model_stats *t, size_t i) {
    chunk *c = t->head;
    while (i >= CHUNK) {
        c = c->next;
        i -= CHUNK;
    }
    return &c->items[i];
}

static model_stat *find(model_stats *t, int64_t model_id) {
    size_t n = atomic_load_explicit(&t->n, memory_order_acquire);
    chunk *c = t->head;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i % CHUNK == 0) c = c->next;
        if (c->items[i % CHUNK].model_id == model_id) return &c->items[i % CHUNK];
    }
    return NULL;
}

model_stat *model_stats_get(model_stats *t, int64_t model_id, const char *name, int version) {
    model_stat *s = find(t, model_id);
    if (s) return s;
    pthread_mutex_lock(&t->lock);
    s = find(t, model_id);
    size_t n = atomic_load(&t->n);
    if (!s && n % CHUNK == 0) { /* the last chunk is full (or there is none) */
        chunk *c = calloc(1, sizeof *c);
        if (c) {
            if (t->tail)
                t->tail->next = c;
            else
                t->head = c;
            t->tail = c;
        }
        if (!c) goto out;
    }
    if (!s) {
        s = at(t, n);
        s->model_id = model_id;
        snprintf(s->name, sizeof s->name, "%s", name ? name : "");
        s->version = version;
        hist_init(&s->queue_hist, model_stats_queue_bounds, MODEL_STATS_N_BUCKETS);
        /* Readers see the entry (and its chunk) only after this store. */
        atomic_store_explicit(&t->n, n + 1, memory_order_release);
    }
out:
    pthread_mutex_unlock(&t->lock);
    return s;
}

void model_duration_add(model_duration *d, uint64_t ns) {
    atomic_fetch_add_explicit(&d->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->ns, ns, memory_order_relaxed);
}

void model_stat_queue(model_stat *s, uint64_t ns) {
    model_duration_add(&s->queue, ns);
    hist_observe(&s->queue_hist, (double)ns * 1e-9);
}

void model_stats_foreach(model_stats *t, void (*fn)(void *user, const model_stat *s), void *user) {
    size_t n = atomic_load_explicit(&t->n, memory_order_acquire);
    for (size_t i = 0; i < n; i++) fn(user, at(t, i));
}
