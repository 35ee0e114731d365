/* batcher.c - one thread that runs queued predictions in batches (batcher.h). */
#include "clock.h"
#include "batcher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A FIFO of items. */
typedef struct {
    batch_item *head, *tail;
    int rows;
} batch_queue;

/* Buffers of one predicting thread: the packed batch, grown only when a
 * bigger batch or model needs it, so a steady load allocates nothing. */
typedef struct {
    float *x, *probs, *scratch;
    int *labels;
    size_t x_cap, probs_cap, scratch_cap, labels_cap;
} batch_bufs;

struct batcher {
    batcher_options opt;
    pthread_t thread;
    pthread_mutex_t lock; /* guards q/stopping/idle/running/last_* */
    pthread_cond_t wake;  /* signalled when the idle thread has work or must stop */
    batch_queue q;
    int stopping;
    int idle;                    /* the thread waits on `wake`: only then is it signalled */
    int running;                 /* batches being predicted now by the batcher thread */
    uint64_t last_arrival_ns;    /* when the newest item was queued (with a delay set) */
    int last_rows;               /* rows of the previous batch (batcher thread) */
    batch_bufs bufs;             /* the batcher thread's */
    atomic_int predicting;       /* threads predicting now (any of them) */
    atomic_int serving;          /* requests between batcher_begin and batcher_end */
    _Atomic uint64_t overlap_ns; /* when one last began while another was served */
    atomic_uint_fast64_t batches, items, rows;
};

/* Items gathered on this thread (batcher_gather) and not yet predicted, and
 * the thread's buffers (freed when the thread exits: bufs_key). */
static _Thread_local batch_queue gathered;
static _Thread_local batch_bufs *thread_bufs;
static pthread_key_t bufs_key;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;

static void bufs_release(batch_bufs *bb) {
    free(bb->x);
    free(bb->probs);
    free(bb->scratch);
    free(bb->labels);
}

static void bufs_free(void *p) {
    bufs_release(p);
    free(p);
}

static void bufs_key_make(void) {
    if (pthread_key_create(&bufs_key, bufs_free) != 0) abort();
}

/* Make *buf hold at least n elements of size sz. 0, or -1 out of memory. */
static int reserve(void **buf, size_t *cap, size_t n, size_t sz) {
    if (n <= *cap) return 0;
    void *p = realloc(*buf, n * sz);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void queue_push(batch_queue *q, batch_item *it) {
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->rows += it->rows;
}

/* Unlink the head item of q (not empty) and every later item for the same
 * model and precision while they fit in max_rows (the head always goes,
 * however many rows it has). Returns the taken list in queue order and its
 * row count. */
static batch_item *take_batch(batch_queue *q, int max_rows, int *rows_out) {
    batch_item *first = q->head, *taken_tail = first;
    const mlp_model *m = first->model;
    int rows = first->rows;
    q->head = first->next;
    first->next = NULL;
    /* Walk the rest, moving matches to the taken list. */
    batch_item *prev = NULL, *it = q->head;
    while (it && rows < max_rows) {
        batch_item *next = it->next;
        if (it->model == m && it->precision == first->precision && rows + it->rows <= max_rows) {
            if (prev)
                prev->next = next;
            else
                q->head = next;
            if (q->tail == it) q->tail = prev;
            it->next = NULL;
            taken_tail->next = it;
            taken_tail = it;
            rows += it->rows;
        } else {
            prev = it;
        }
        it = next;
    }
    if (!q->head) q->tail = NULL;
    q->rows -= rows;
    *rows_out = rows;
    return first;
}

/* Predict `rows` rows of the items in `list` (all for one model) with the
 * buffers bb, mark them ready and, with call_done, answer them. alone: the
 * list is one request and nothing else waits; if also no other thread is
 * predicting now (b->predicting), the other cores are likely idle and the
 * engine may borrow them (mlp_predict_cores); a batch gathered from
 * concurrent requests means HTTP threads are busy on them, and splitting
 * would only take their cores. */
static void run_batch(batcher *b, batch_bufs *bb, batch_item *list, int rows, int alone,
                      int call_done) {
    const mlp_model *m = list->model;
    alone = atomic_fetch_add(&b->predicting, 1) == 0 && alone;
    mlp_predict_split_here(alone);
    int in = m->arch.sizes[0], out = m->arch.sizes[m->arch.n_layers];
    uint64_t t0 = mono_ns();
    int failed = reserve((void **)&bb->scratch, &bb->scratch_cap, mlp_scratch_floats(m, rows),
                         sizeof(float)) != 0;
    if (!failed && !list->next) {
        /* One item: predict straight from and into its own buffers. */
        mlp_predict_precision(m, list->precision, list->x, rows, list->probs, list->labels,
                              bb->scratch);
    } else if (!failed) {
        failed = reserve((void **)&bb->x, &bb->x_cap, (size_t)rows * in, sizeof(float)) ||
                 reserve((void **)&bb->probs, &bb->probs_cap, (size_t)rows * out, sizeof(float)) ||
                 reserve((void **)&bb->labels, &bb->labels_cap, (size_t)rows, sizeof(int));
        if (!failed) {
            size_t r = 0;
            for (batch_item *it = list; it; it = it->next) {
                memcpy(bb->x + r * in, it->x, (size_t)it->rows * in * sizeof(float));
                r += (size_t)it->rows;
            }
            mlp_predict_precision(m, list->precision, bb->x, rows, bb->probs, bb->labels,
                                  bb->scratch);
            r = 0;
            for (batch_item *it = list; it; it = it->next) {
                memcpy(it->probs, bb->probs + r * out, (size_t)it->rows * out * sizeof(float));
                memcpy(it->labels, bb->labels + r, (size_t)it->rows * sizeof(int));
                r += (size_t)it->rows;
            }
        }
    }
    atomic_fetch_sub(&b->predicting, 1);
    /* Count before answering: a client that reads /metrics right after its
     * answer must already see its batch. */
    uint64_t n_items = 0, t1 = mono_ns();
    for (batch_item *it = list; it; it = it->next) {
        n_items++;
        it->started_ns = t0;
        it->compute_ns = t1 - t0;
        it->first_in_batch = it == list;
    }
    atomic_fetch_add_explicit(&b->batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->items, n_items, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->rows, (uint64_t)rows, memory_order_relaxed);
    while (list) {
        batch_item *next = list->next; /* done() may free the item */
        list->next = NULL;
        list->failed = failed;
        list->ready = 1;
        if (call_done) list->done(list);
        list = next;
    }
}

/* With the lock held and the queue not empty: with a delay configured, wait
 * until max_rows rows are queued, the oldest item is max_delay_us old, or
 * the batcher stops. With idle_gap_us as well, wait only under load (the
 * previous batch had several rows) and only while items keep coming: no
 * arrival for idle_gap_us ends the wait. */
static void wait_for_more(batcher *b) {
    if (b->opt.max_delay_us <= 0) return;
    uint64_t gap = (uint64_t)b->opt.idle_gap_us * 1000u;
    if (gap && b->last_rows < 2) return;
    uint64_t deadline = b->q.head->enqueued_ns + (uint64_t)b->opt.max_delay_us * 1000u;
    for (;;) {
        uint64_t now = mono_ns(), until = deadline;
        if (gap && b->last_arrival_ns + gap < until) until = b->last_arrival_ns + gap;
        if (b->stopping || b->q.rows >= b->opt.max_rows || now >= until) break;
        uint64_t left = until - now;
        if (left > 1000000000u) left = 1000000000u;
        struct timespec ts = mono_deadline(left);
        b->idle = 1;
        pthread_cond_timedwait(&b->wake, &b->lock, &ts);
        b->idle = 0;
    }
}

static void *batcher_main(void *arg) {
    batcher *b = arg;
    pthread_setname_np(pthread_self(), "mlpd-batcher");
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->q.head && !b->stopping) {
            b->idle = 1;
            pthread_cond_wait(&b->wake, &b->lock);
            b->idle = 0;
        }
        if (!b->q.head) break; /* stopping and nothing left */
        wait_for_more(b);
        int rows;
        batch_item *list = take_batch(&b->q, b->opt.max_rows, &rows);
        int alone = !list->next && !b->q.head && b->running == 0;
        b->last_rows = rows;
        b->running++;
        pthread_mutex_unlock(&b->lock);
        run_batch(b, &b->bufs, list, rows, alone, 1);
        pthread_mutex_lock(&b->lock);
        b->running--;
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

batcher *batcher_create(const batcher_options *o, mlpd_error *err) {
    batcher *b = calloc(1, sizeof *b);
    if (!b) {
        mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
        return NULL;
    }
    b->opt = *o;
    if (b->opt.max_rows < 1) b->opt.max_rows = BATCHER_DEFAULT_MAX_ROWS;
    if (b->opt.max_delay_us < 0) b->opt.max_delay_us = 0;
    if (b->opt.idle_gap_us < 0) b->opt.idle_gap_us = 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int ok = pthread_mutex_init(&b->lock, NULL) == 0;
    ok = ok && pthread_cond_init(&b->wake, &ca) == 0;
    pthread_condattr_destroy(&ca);
    /* The thread needs little stack: mlp_predict uses the heap scratch. */
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setstacksize(&ta, 256 * 1024);
    int rc = ok ? pthread_create(&b->thread, &ta, batcher_main, b) : -1;
    pthread_attr_destroy(&ta);
    if (rc != 0) {
        mlpd_fail(err, MLPD_EINTERNAL, "cannot start the prediction batcher thread");
        free(b);
        return NULL;
    }
    return b;
}

int batcher_submit(batcher *b, batch_item *it) {
    it->failed = 0;
    it->ready = 0;
    it->enqueued_ns = b->opt.max_delay_us > 0 ? mono_ns() : 0;
    pthread_mutex_lock(&b->lock);
    b->last_arrival_ns = it->enqueued_ns;
    if (b->stopping) {
        pthread_mutex_unlock(&b->lock);
        return -1;
    }
    queue_push(&b->q, it);
    /* A busy thread finds the item when its batch ends: no wake-up (and no
     * futex call) needed. A delay-waiting thread is woken only to see a full batch. */
    int signal =
        b->idle && (b->opt.max_delay_us <= 0 || b->q.head == it || b->q.rows >= b->opt.max_rows);
    pthread_mutex_unlock(&b->lock);
    if (signal) pthread_cond_signal(&b->wake);
    return 0;
}

void batch_item_predict_here(batch_item *it) {
    /* A one-row prediction of a model up to 2048 units wide fits on the
     * stack: the common case takes no allocation. */
    float stack_scratch[4096];
    size_t need = mlp_scratch_floats(it->model, it->rows);
    float *scratch = need <= sizeof stack_scratch / sizeof *stack_scratch
                         ? stack_scratch
                         : malloc(need * sizeof *scratch);
    it->failed = scratch == NULL;
    it->started_ns = mono_ns();
    if (scratch)
        mlp_predict_precision(it->model, it->precision, it->x, it->rows, it->probs, it->labels,
                              scratch);
    if (scratch != stack_scratch) free(scratch);
    it->compute_ns = mono_ns() - it->started_ns;
    it->first_in_batch = 1;
    it->ready = 1;
}

void batcher_begin(batcher *b) {
    if (atomic_fetch_add_explicit(&b->serving, 1, memory_order_relaxed) > 0)
        atomic_store_explicit(&b->overlap_ns, mono_ns(), memory_order_relaxed);
}

void batcher_end(batcher *b) {
    atomic_fetch_sub_explicit(&b->serving, 1, memory_order_relaxed);
}

/* Whether a lone request's prediction may borrow idle cores: it is the only
 * request served (batcher_begin) and none overlapped another lately. Under
 * load the other cores serve the other requests even in the instants when
 * none is open here, and a split then spins waiting for them (at 64
 * connections ~8% of the daemon's CPU went to such waits); one client's
 * requests never overlap, so its predictions still split. */
static int quiet(batcher *b) {
    return atomic_load_explicit(&b->serving, memory_order_relaxed) <= 1 &&
           mono_ns() - atomic_load_explicit(&b->overlap_ns, memory_order_relaxed) >
               BATCHER_QUIET_NS;
}

void batcher_predict_now(batcher *b, batch_item *it) {
    /* Alone: no other prediction runs (batcher thread, other HTTP threads)
     * and the load is quiet, so the other cores are likely idle and the
     * engine may borrow them. */
    int alone = atomic_fetch_add(&b->predicting, 1) == 0 && quiet(b);
    mlp_predict_split_here(alone);
    batch_item_predict_here(it);
    mlp_predict_split_here(1);
    atomic_fetch_sub(&b->predicting, 1);
    atomic_fetch_add_explicit(&b->batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->items, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->rows, (uint64_t)it->rows, memory_order_relaxed);
}

int batcher_gathers(const batcher *b) {
    return b->opt.max_delay_us <= 0;
}

void batcher_gather(batch_item *it) {
    it->failed = 0;
    it->ready = 0;
    it->enqueued_ns = 0;
    queue_push(&gathered, it);
}

int batcher_gathered_rows(void) {
    return gathered.rows;
}

void batcher_run_gathered(batcher *b) {
    if (!gathered.head) return;
    if (!thread_bufs) {
        pthread_once(&bufs_once, bufs_key_make);
        thread_bufs = calloc(1, sizeof *thread_bufs);
        if (thread_bufs && pthread_setspecific(bufs_key, thread_bufs) != 0) {
            free(thread_bufs);
            thread_bufs = NULL;
        }
    }
    while (gathered.head) {
        int rows;
        batch_item *list = take_batch(&gathered, b->opt.max_rows, &rows);
        if (!thread_bufs) { /* no memory for the thread's buffers */
            for (batch_item *it = list; it; it = it->next) it->failed = it->ready = 1;
            continue;
        }
        /* One request alone may borrow idle cores; several mean this thread's
         * connections are busy, and so, likely, is the other HTTP thread. */
        run_batch(b, thread_bufs, list, rows, !list->next && !gathered.head && quiet(b), 0);
    }
    mlp_predict_split_here(1); /* this thread's default again */
}

void batcher_get_stats(batcher *b, batcher_stats *out) {
    out->batches = atomic_load(&b->batches);
    out->items = atomic_load(&b->items);
    out->rows = atomic_load(&b->rows);
}

void batcher_free(batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    b->stopping = 1;
    pthread_mutex_unlock(&b->lock);
    pthread_cond_signal(&b->wake);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
    bufs_release(&b->bufs);
    free(b);
}
