/* split.c - the float32 packed forward pass split by output panels over the
 * cores pool.c lends (why: pool.c).
 *
 * The leading layers worth splitting (an elementwise activation, at least
 * SPLIT_MIN_MACS multiply-adds, two panels or more) are cut into chunks of
 * whole panels; part p (the caller is part 0) owns the p-th share of every
 * layer's chunks, so a core reads the same weights on every call and keeps
 * them in its L2. A part claims its own chunks in order, then claims what is
 * left of the others' (a late or descheduled helper costs nothing but its
 * claimed chunk). Before layer l + 1 every part waits until all of layer l's
 * chunks are done: its input is complete and nobody reads the ping-pong
 * buffer it overwrites. Each output is computed by the same tile calls as
 * without splitting (packed.c), so results are bit for bit the same.
 *
 * Counters: one claim counter per layer and part, and one done counter per
 * part (chunks finished, over all layers), each on its own cache line and
 * written by one core except when claiming another part's chunks.
 */
#include <sched.h>
#include <stdatomic.h>

#include "internal.h"

#define SPLIT_MIN_MACS  (64 * 1024) /* a layer smaller than ~2 us of work runs whole */
#define CHUNKS_PER_PART 4           /* so that claiming evens out a slow part */
#define CHUNK_MAX_MACS  (4 << 20)   /* ~40 us: bounds the wait for a claimed chunk */
#define SLOW_WAIT_NS    20000       /* a wait this long means a helper lost its core */

typedef struct {
    _Alignas(64) atomic_int n;
} counter;

/* In pool memory, not the caller's stack: a helper may still be in run_part
 * after the caller returned (it then finds nothing to claim and touches
 * nothing else: the model, x and ys are used only for a claimed chunk). */
typedef struct {
    mlp_pool_job job; /* first: run gets it back as the split_job */
    const mlp_model *m;
    const float *x;
    float *ys[MLP_MAX_LAYERS];
    int B, n_split, parts;
    int chunk_panels[MLP_MAX_LAYERS], chunks[MLP_MAX_LAYERS];
    int done_through[MLP_MAX_LAYERS]; /* chunks in layers 0..l */
    counter claimed[MLP_MAX_LAYERS][MLP_POOL_MAX_PARTS];
    counter done[MLP_POOL_MAX_PARTS];
    atomic_int ready;  /* the fields above are written (helpers start before) */
    int slow;          /* the caller waited long for a helper (caller's) */
    uint64_t chunk_ns; /* the caller's longest chunk so far (caller's) */
} split_job;

static split_job slots[MLP_POOL_MAX_PARTS - 1]; /* enough: each holds a helper */

/* Forward passes running now, any precision (infer.c): a split only starts
 * when its pass is the only one, i.e. no other prediction keeps a core. */
atomic_int mlp_forwards_running;

static int worth_splitting(const mlp_arch *a, int l, int B) {
    int In = a->sizes[l], O = a->sizes[l + 1];
    return a->act[l] != MLP_ACT_SOFTMAX && mlp_packed_panels(O) >= 2 &&
           (size_t)B * (size_t)In * (size_t)O >= SPLIT_MIN_MACS;
}

static int all_done(split_job *s) {
    int n = 0;
    for (int p = 0; p < s->parts; p++)
        n += atomic_load_explicit(&s->done[p].n, memory_order_acquire);
    return n;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Until layer l's chunks are all done: the other parts' last chunks, a few
 * microseconds unless a part's thread lost its core; then yield to it.
 * For the caller (me 0; chunk_ns is its own), returns 1 when that took
 * SLOW_WAIT_NS more than two of its chunks would (a helper lost its core). */
static int wait_layer(split_job *s, int l, int me) {
    uint64_t since = 0, slow = SLOW_WAIT_NS + (me == 0 ? 2 * s->chunk_ns : 0);
    for (unsigned i = 1; all_done(s) < s->done_through[l]; i++) {
        cpu_relax();
        if (i % 256) continue;
        uint64_t t = mlp_now_ns();
        if (!since) since = t;
        if (t - since > slow) sched_yield();
    }
    return since && mlp_now_ns() - since > slow;
}

/* Chunks [first, end) of part p's share of layer l. */
static void share(const split_job *s, int l, int p, int *first, int *end) {
    *first = s->chunks[l] * p / s->parts;
    *end = s->chunks[l] * (p + 1) / s->parts;
}

static void run_part(mlp_pool_job *job, int me) {
    split_job *s = (split_job *)job;
    while (!atomic_load_explicit(&s->ready, memory_order_acquire)) cpu_relax();
    int mine = 0; /* chunks this part finished */
    for (int l = 0; l < s->n_split; l++) {
        if (l > 0 && wait_layer(s, l - 1, me) && me == 0) s->slow = 1;
        for (int q = 0; q < s->parts; q++) {
            int p = (me + q) % s->parts, first, end;
            share(s, l, p, &first, &end);
            for (;;) {
                int c =
                    first + atomic_fetch_add_explicit(&s->claimed[l][p].n, 1, memory_order_relaxed);
                if (c >= end) break;
                const mlp_arch *a = &s->m->arch;
                int In = a->sizes[l], O = a->sizes[l + 1], np = mlp_packed_panels(O);
                const float *in = l == 0 ? s->x : s->ys[l - 1], *Wp = mlp_packed_layer(s->m, l);
                int pa = c * s->chunk_panels[l], pb = pa + s->chunk_panels[l];
                uint64_t t0 = me == 0 ? mlp_now_ns() : 0;
                mlp_dense_packed_panels(s->ys[l], in, Wp, s->m->b[l], a->act[l], s->B, In, O, pa,
                                        pb < np ? pb : np);
                if (me == 0 && mlp_now_ns() - t0 > s->chunk_ns) s->chunk_ns = mlp_now_ns() - t0;
                atomic_store_explicit(&s->done[me].n, ++mine, memory_order_release);
            }
        }
    }
}

/* The chunks of layers [0, n_split) for s->parts parts. */
static void plan(split_job *s) {
    const mlp_arch *a = &s->m->arch;
    int through = 0;
    s->n_split = 0;
    for (int l = 0; l < a->n_layers && worth_splitting(a, l, s->B); l++) {
        int np = mlp_packed_panels(a->sizes[l + 1]);
        size_t panel_macs = (size_t)s->B * (size_t)a->sizes[l] * MLP_PACKED_NR;
        int fair = np / (s->parts * CHUNKS_PER_PART), most = (int)(CHUNK_MAX_MACS / panel_macs);
        int cp = fair < most ? fair : most;
        /* Whole pairs where enough chunks remain: packed.c's widest tiles
         * take two panels, a lone one runs at ~4/5 of their speed. */
        cp = cp >= 2 ? cp & ~1 : fair >= 2 ? 2 : 1;
        s->chunk_panels[l] = cp;
        s->chunks[l] = (np + s->chunk_panels[l] - 1) / s->chunk_panels[l];
        s->done_through[l] = through += s->chunks[l];
        for (int p = 0; p < s->parts; p++) atomic_init(&s->claimed[l][p].n, 0);
        s->n_split = l + 1;
    }
    for (int p = 0; p < s->parts; p++) atomic_init(&s->done[p].n, 0);
}

/* A free job slot (refs 0 -> 1), or NULL. */
static split_job *take_slot(void) {
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        int free_ = 0;
        if (atomic_load_explicit(&slots[i].job.refs, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&slots[i].job.refs, &free_, 1,
                                                    memory_order_acquire, memory_order_relaxed))
            return &slots[i];
    }
    return NULL;
}

int mlp_packed_forward_split(const mlp_model *m, const float *x, int B, float *const *ys) {
    if (!m->packed || !worth_splitting(&m->arch, 0, B) ||
        atomic_load_explicit(&mlp_forwards_running, memory_order_relaxed) > 1)
        return 0;
    split_job *s = take_slot();
    if (!s) return 0;
    s->job.run = run_part;
    s->m = m, s->x = x, s->B = B;
    for (int l = 0; l < m->arch.n_layers; l++) s->ys[l] = ys[l];
    atomic_store_explicit(&s->ready, 0, memory_order_relaxed);
    s->slow = 0, s->chunk_ns = 0, s->n_split = 0;
    int lent = mlp_pool_lend(&s->job, MLP_POOL_MAX_PARTS - 1);
    if (lent > 0) {
        /* Helpers may start now: they wait for `ready` before reading the plan. */
        s->parts = 1 + lent;
        plan(s);
        atomic_store_explicit(&s->ready, 1, memory_order_release);
        run_part(&s->job, 0);
        if (wait_layer(s, s->n_split - 1, 0)) s->slow = 1;
    }
    int n = s->n_split;
    mlp_pool_leave(&s->job, s->slow); /* s may be reused from here */
    return n;
}
