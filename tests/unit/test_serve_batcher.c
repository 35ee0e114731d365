/* test_serve_batcher.c - the prediction batcher (server/serving/batcher.h): rows
 * predicted in batches give each request what mlp_predict gives it alone;
 * concurrent submitters, mixed models, oversized items, batching under a
 * delay, and that batcher_free answers what is still queued. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "batcher.h"
#include "internal.h" /* mlp_pool_backoff_reset: a split declined only by the pool's backoff is no test */
#include "mlp.h"

/* One request and its reference answer. */
typedef struct {
    batch_item it;
    float x[64 * 8];
    float probs[64 * 5];
    int labels[64];
    atomic_int done_calls;
} req;

static void on_done(batch_item *it) {
    atomic_fetch_add(&((req *)it)->done_calls, 1);
}

static mlp_model *make_model(int in, int hidden, int out, uint64_t seed) {
    mlp_arch a;
    int h[1] = {hidden};
    assert_int_equal(
        mlp_arch_make(&a, in, h, 1, MLP_ACT_RELU, out, MLP_LOSS_CROSS_ENTROPY, -1, NULL), MLP_OK);
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, seed, &m, NULL), MLP_OK);
    /* non-zero biases, so a row mixed up with another is visible */
    for (int l = 0; l < m->arch.n_layers; l++)
        for (int o = 0; o < m->arch.sizes[l + 1]; o++) m->b[l][o] = 0.05f * (float)((o % 7) - 3);
    return m;
}

static void fill_req(req *r, const mlp_model *m, int rows, unsigned seed) {
    memset(r, 0, sizeof *r);
    int in = m->arch.sizes[0];
    for (int i = 0; i < rows * in; i++)
        r->x[i] = (float)((seed * 2654435761u + (unsigned)i * 40503u) % 1000u) / 500.0f - 1.0f;
    r->it = (batch_item){.model = m,
                         .x = r->x,
                         .rows = rows,
                         .probs = r->probs,
                         .labels = r->labels,
                         .done = on_done};
    atomic_init(&r->done_calls, 0);
}

/* r's outputs equal mlp_predict of its rows one by one (batched products may
 * round differently in the last bits); done() was called `calls` times. */
static void check_outputs(req *r, int calls) {
    assert_int_equal(atomic_load(&r->done_calls), calls);
    assert_int_equal(r->it.failed, 0);
    assert_int_equal(r->it.ready, 1);
    const mlp_model *m = r->it.model;
    int in = m->arch.sizes[0], out = m->arch.sizes[m->arch.n_layers];
    float scratch[256], probs[8];
    int label;
    for (int i = 0; i < r->it.rows; i++) {
        assert_true(mlp_scratch_floats(m, 1) <= 256);
        mlp_predict(m, r->x + (size_t)i * in, 1, probs, &label, scratch);
        for (int k = 0; k < out; k++) assert_true(fabsf(probs[k] - r->probs[i * out + k]) < 1e-5f);
        assert_int_equal(label, r->labels[i]);
    }
}

static void check_req(req *r) {
    check_outputs(r, 1);
}

static void wait_done(req *rs, int n) {
    struct timespec pause = {0, 1000000};
    for (int spins = 0; spins < 10000; spins++) {
        int all = 1;
        for (int i = 0; i < n && all; i++) all = atomic_load(&rs[i].done_calls) > 0;
        if (all) return;
        nanosleep(&pause, NULL);
    }
    fail_msg("items not answered within 10 s");
}

static void test_single_item(void **state) {
    (void)state;
    mlp_model *m = make_model(8, 16, 5, 1);
    mlpd_error err;
    batcher_options o = {.max_rows = 16, .max_delay_us = 0};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);
    static req r;
    fill_req(&r, m, 1, 7);
    assert_int_equal(batcher_submit(b, &r.it), 0);
    wait_done(&r, 1);
    check_req(&r);
    batcher_stats st;
    batcher_get_stats(b, &st);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.items, 1);
    assert_int_equal(st.rows, 1);
    batcher_free(b);
    mlp_model_free(m);
}

/* Queued items for one model become one product; the delay holds the first
 * item until max_rows rows are queued. */
static void test_delay_makes_one_batch(void **state) {
    (void)state;
    mlp_model *m = make_model(8, 16, 5, 2);
    mlpd_error err;
    batcher_options o = {.max_rows = 10, .max_delay_us = 5 * 1000 * 1000};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);
    static req rs[5];
    for (int i = 0; i < 5; i++) fill_req(&rs[i], m, 2, 100 + (unsigned)i);
    for (int i = 0; i < 5; i++) assert_int_equal(batcher_submit(b, &rs[i].it), 0);
    wait_done(rs, 5);
    for (int i = 0; i < 5; i++) check_req(&rs[i]);
    batcher_stats st;
    batcher_get_stats(b, &st);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.items, 5);
    assert_int_equal(st.rows, 10);
    batcher_free(b);
    mlp_model_free(m);
}

/* Two models interleaved in the queue, and an item larger than max_rows. */
static void test_mixed_models_and_big_item(void **state) {
    (void)state;
    mlp_model *a = make_model(8, 16, 5, 3), *c = make_model(6, 12, 3, 4);
    mlpd_error err;
    batcher_options o = {.max_rows = 8, .max_delay_us = 2000};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);
    static req rs[9];
    for (int i = 0; i < 8; i++) fill_req(&rs[i], i % 2 ? c : a, 1 + i % 3, 200 + (unsigned)i);
    fill_req(&rs[8], a, 20, 299); /* more rows than max_rows: runs alone */
    for (int i = 0; i < 9; i++) assert_int_equal(batcher_submit(b, &rs[i].it), 0);
    wait_done(rs, 9);
    for (int i = 0; i < 9; i++) check_req(&rs[i]);
    batcher_stats st;
    batcher_get_stats(b, &st);
    assert_int_equal(st.items, 9);
    assert_int_equal(st.rows, 1 + 2 + 3 + 1 + 2 + 3 + 1 + 2 + 20);
    assert_true(st.batches >= 3); /* at least: model a, model c, the big item */
    batcher_free(b);
    mlp_model_free(a);
    mlp_model_free(c);
}

typedef struct {
    batcher *b;
    req *rs;
    int n;
} submitter;

static void *submit_all(void *arg) {
    submitter *s = arg;
    for (int i = 0; i < s->n; i++) {
        if (batcher_submit(s->b, &s->rs[i].it) != 0) return (void *)1;
        if (i % 4 == 3) wait_done(&s->rs[i], 1); /* like a client waiting for its answer */
    }
    return NULL;
}

static void test_concurrent_submitters(void **state) {
    (void)state;
    enum { THREADS = 6, PER = 40 };
    mlp_model *m = make_model(8, 16, 5, 5);
    mlpd_error err;
    batcher_options o = {.max_rows = 16, .max_delay_us = 0};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);
    req *rs = calloc(THREADS * PER, sizeof *rs);
    assert_non_null(rs);
    for (int i = 0; i < THREADS * PER; i++) fill_req(&rs[i], m, 1 + i % 2, 1000 + (unsigned)i);
    pthread_t th[THREADS];
    submitter sub[THREADS];
    for (int t = 0; t < THREADS; t++) {
        sub[t] = (submitter){b, rs + t * PER, PER};
        assert_int_equal(pthread_create(&th[t], NULL, submit_all, &sub[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        assert_null(ret);
    }
    wait_done(rs, THREADS * PER);
    int rows = 0;
    for (int i = 0; i < THREADS * PER; i++) {
        check_req(&rs[i]);
        rows += rs[i].it.rows;
    }
    batcher_stats st;
    batcher_get_stats(b, &st);
    assert_int_equal(st.items, THREADS * PER);
    assert_int_equal(st.rows, rows);
    assert_true(st.batches >= 1 && st.batches <= THREADS * PER);
    batcher_free(b);
    free(rs);
    mlp_model_free(m);
}

/* batcher_free answers everything still queued (here: held by a long delay)
 * before it returns, and promptly. */
static void test_free_answers_queued_items(void **state) {
    (void)state;
    mlp_model *m = make_model(8, 16, 5, 6);
    mlpd_error err;
    batcher_options o = {.max_rows = 1000, .max_delay_us = 10 * 1000 * 1000};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);
    static req rs[4];
    for (int i = 0; i < 4; i++) fill_req(&rs[i], m, 3, 300 + (unsigned)i);
    for (int i = 0; i < 4; i++) assert_int_equal(batcher_submit(b, &rs[i].it), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    batcher_free(b);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    assert_true(secs < 5.0);
    for (int i = 0; i < 4; i++) check_req(&rs[i]);
    mlp_model_free(m);
}

/* Items gathered on a thread are predicted there, in batches of one model
 * and precision up to max_rows rows (a bigger item alone), by
 * batcher_run_gathered: outputs written, ready set, done() never called;
 * items gathered on another thread are left to it. */
typedef struct {
    batcher *b;
    req *rs;
    int n;
    int rows_before_run; /* batcher_gathered_rows() just before running */
} gatherer;

static void *gather_and_run(void *arg) {
    gatherer *g = arg;
    for (int i = 0; i < g->n; i++) batcher_gather(&g->rs[i].it);
    g->rows_before_run = batcher_gathered_rows();
    batcher_run_gathered(g->b);
    return NULL;
}

static void test_gathered_on_the_thread(void **state) {
    (void)state;
    mlp_model *a = make_model(8, 16, 5, 7), *c = make_model(6, 12, 3, 8);
    mlpd_error err;
    batcher_options o = {.max_rows = 8, .max_delay_us = 0};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);
    assert_true(batcher_gathers(b));
    static req rs[9], other[3];
    int rows = 0;
    for (int i = 0; i < 8; i++) {
        fill_req(&rs[i], i % 2 ? c : a, 1 + i % 3, 400 + (unsigned)i);
        rows += rs[i].it.rows;
    }
    fill_req(&rs[8], a, 20, 499); /* more rows than max_rows: alone */
    rows += 20;
    for (int i = 0; i < 3; i++) fill_req(&other[i], a, 2, 450 + (unsigned)i);
    assert_int_equal(batcher_gathered_rows(), 0);
    for (int i = 0; i < 9; i++) batcher_gather(&rs[i].it);
    assert_int_equal(batcher_gathered_rows(), rows);
    /* Another thread's gathering is its own. */
    pthread_t th;
    gatherer g = {b, other, 3, 0};
    assert_int_equal(pthread_create(&th, NULL, gather_and_run, &g), 0);
    pthread_join(th, NULL);
    assert_int_equal(g.rows_before_run, 6);
    for (int i = 0; i < 3; i++) check_outputs(&other[i], 0);
    for (int i = 0; i < 9; i++) assert_int_equal(rs[i].it.ready, 0);
    assert_int_equal(batcher_gathered_rows(), rows);
    batcher_run_gathered(b);
    assert_int_equal(batcher_gathered_rows(), 0);
    for (int i = 0; i < 9; i++) check_outputs(&rs[i], 0);
    batcher_stats st;
    batcher_get_stats(b, &st);
    assert_int_equal(st.items, 12);
    assert_int_equal(st.rows, rows + 6);
    /* the other thread's one batch; here model a (1+3+2+1 = 7 rows), model
     * c (2+1+3+2 = 8 rows), the big item */
    assert_int_equal(st.batches, 1 + 3);
    batcher_run_gathered(b); /* nothing left: nothing happens */
    batcher_get_stats(b, &st);
    assert_int_equal(st.batches, 4);
    batcher_free(b);
    mlp_model_free(a);
    mlp_model_free(c);
}

/* batcher_predict_now: on the calling thread, counted as a batch; a delay
 * turns gathering off (its batches span threads). */
static void test_predict_now(void **state) {
    (void)state;
    mlp_model *m = make_model(8, 16, 5, 9);
    mlpd_error err;
    batcher_options o = {.max_rows = 8, .max_delay_us = 0};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);
    static req r;
    fill_req(&r, m, 3, 77);
    batcher_predict_now(b, &r.it);
    check_outputs(&r, 0);
    batcher_stats st;
    batcher_get_stats(b, &st);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.items, 1);
    assert_int_equal(st.rows, 3);
    batcher_free(b);
    o.max_delay_us = 100;
    b = batcher_create(&o, &err);
    assert_non_null(b);
    assert_false(batcher_gathers(b));
    batcher_free(b);
    mlp_model_free(m);
}

/* A lone request's prediction may borrow idle cores (mlp_predict_cores)
 * only while the load is quiet: it is the only request between
 * batcher_begin and batcher_end, and no two overlapped within
 * BATCHER_QUIET_NS. Under load a split waits for cores that serve other
 * requests. Split or not, the outputs are the same bits. */
typedef struct {
    batch_item it;
    float x[4 * 256], probs[4 * 5];
    int labels[4];
} big_req;

static void big_fill(big_req *r, const mlp_model *m) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 4 * 256; i++) r->x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    r->it = (batch_item){.model = m, .x = r->x, .rows = 4, .probs = r->probs, .labels = r->labels};
}

/* Helpers lent so far; the pool's back-off is cleared first, so that the
 * next prediction splits whenever the caller lets it (a late helper makes
 * the pool skip the next few splits by itself). */
static unsigned long helpers_lent(void) {
    unsigned long lent, late;
    mlp_pool_backoff_reset();
    mlp_predict_split_counts(&lent, &late);
    return lent;
}

static void test_split_only_when_quiet(void **state) {
    (void)state;
    /* 4 x 256 x 256 multiply-adds in 16 panels: worth splitting (engine/split.c) */
    mlp_model *m = make_model(256, 256, 5, 11);
    assert_int_equal(mlp_model_pack(m, NULL), MLP_OK);
    static big_req r;
    big_fill(&r, m);
    float want[4 * 5], *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, 4));
    int want_labels[4];
    assert_non_null(scratch);
    mlp_predict_split_here(0);
    mlp_predict(m, r.x, 4, want, want_labels, scratch);
    mlp_predict_split_here(1);
    free(scratch);
    mlpd_error err;
    batcher_options o = {.max_rows = 8, .max_delay_us = 0};
    batcher *b = batcher_create(&o, &err);
    assert_non_null(b);

    /* One request, nothing else: split when there is another core. */
    unsigned long lent = helpers_lent();
    batcher_begin(b);
    batcher_predict_now(b, &r.it);
    batcher_end(b);
    assert_memory_equal(r.probs, want, sizeof want);
    assert_memory_equal(r.labels, want_labels, sizeof want_labels);
    if (mlp_predict_cores() > 1) assert_true(helpers_lent() > lent);

    /* Two requests served at once: neither splits, now or gathered. */
    lent = helpers_lent();
    batcher_begin(b);
    batcher_begin(b);
    big_fill(&r, m);
    batcher_predict_now(b, &r.it);
    assert_memory_equal(r.probs, want, sizeof want);
    assert_int_equal(helpers_lent(), lent);
    big_fill(&r, m);
    batcher_gather(&r.it);
    batcher_run_gathered(b);
    assert_int_equal(r.it.ready, 1);
    assert_memory_equal(r.probs, want, sizeof want);
    assert_int_equal(helpers_lent(), lent);
    batcher_end(b);
    /* Alone again, but within BATCHER_QUIET_NS of an overlap (made just
     * now, so a slow machine cannot let the window pass): still not. */
    batcher_begin(b);
    batcher_end(b);
    big_fill(&r, m);
    batcher_predict_now(b, &r.it);
    batcher_end(b);
    assert_memory_equal(r.probs, want, sizeof want);
    assert_int_equal(helpers_lent(), lent);
    batcher_free(b);
    mlp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_item),
        cmocka_unit_test(test_delay_makes_one_batch),
        cmocka_unit_test(test_mixed_models_and_big_item),
        cmocka_unit_test(test_concurrent_submitters),
        cmocka_unit_test(test_free_answers_queued_items),
        cmocka_unit_test(test_gathered_on_the_thread),
        cmocka_unit_test(test_predict_now),
        cmocka_unit_test(test_split_only_when_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
