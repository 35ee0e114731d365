/* test_engine_split.c - float32 predictions split over idle cores (engine/pool.c,
 * engine/split.c) against the same predictions on one core.
 *
 * MLPD_PREDICT_CORES=3 is set before the first prediction, so two helper
 * threads run whatever the machine's core count (a one-core CI runner
 * included): the split path, its claiming across three parts and its
 * helper hand-over are exercised everywhere.
 * - Bit for bit: a split pass gives exactly the bytes of the one-core pass
 *   (mlp_predict_split_here(0)) for widths that end in partial 16-output
 *   panels, every elementwise hidden activation, a softmax and a wide linear
 *   output (which is split too), batches 1..260 across the register tiles,
 *   input blocks and the packed-batch limit, on every kernel variant this
 *   CPU runs; the pool must have lent helpers (the split really ran).
 * - Panel ranges without the pool: every range [pa, pb) of a layer of 8
 *   panels (mlp_dense_packed_panels) gives the whole layer's bytes in its
 *   columns and leaves the others alone, for batch sizes around every
 *   variant's row tiles, so pairs of panels (the AVX-512 two-panel tile),
 *   lone whole panels and the partial last panel give the same bits.
 * - Concurrent callers: four threads predicting batches of 1 and 64 at once,
 *   one of them refusing to split, each get the single-thread bytes (the
 *   helpers are try-acquired, scratch stays each caller's).
 * - A helper may still be leaving a job after its caller returned: models
 *   packed, predicted with and freed at once, 300 times, must not be read
 *   after the free (the sanitizer suite runs this file).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "mlp.h"

static float *random_floats(mlp_rng *r, size_t n) {
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (float)mlp_rng_uniform(r);
    return p;
}

static mlp_model *packed_model(int in, const int *hidden, int n_hidden, mlp_act act, int out,
                               mlp_loss loss, uint64_t seed) {
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(mlp_arch_make(&a, in, hidden, n_hidden, act, out, loss, -1, NULL), MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, seed, &m, NULL), MLP_OK);
    for (int l = 0; l < a.n_layers; l++) /* non-zero biases: their columns are split too */
        for (int o = 0; o < a.sizes[l + 1]; o++) m->b[l][o] = 0.01f * (float)(o % 7) - 0.03f;
    assert_int_equal(mlp_model_pack(m, NULL), MLP_OK);
    return m;
}

static unsigned long helpers_lent(void) {
    unsigned long lent, late;
    mlp_predict_split_counts(&lent, &late);
    return lent;
}

/* Split and one-core passes of m over batches 1..maxb, compared byte for byte. */
static void check_bits(const mlp_model *m, int maxb, const char *what) {
    int in = m->arch.sizes[0], out = m->arch.sizes[m->arch.n_layers];
    mlp_rng r;
    mlp_rng_seed(&r, 5);
    float *x = random_floats(&r, (size_t)maxb * in);
    float *scratch = malloc(mlp_scratch_floats(m, maxb) * sizeof *scratch);
    float *split = malloc((size_t)maxb * out * sizeof *split);
    float *one = malloc((size_t)maxb * out * sizeof *one);
    assert_non_null(scratch);
    assert_non_null(split);
    assert_non_null(one);
    /* The helpers must have been lent at least once: on a busy machine a
     * helper can still be leaving an earlier job (not lendable) for a whole
     * sweep, so a sweep without a lend is repeated a few times. */
    unsigned long lent = 0;
    for (int tries = 0; lent == 0 && tries < 50; tries++) {
        if (tries) usleep(2000);
        mlp_pool_backoff_reset(); /* late helpers earlier must not hide the split */
        unsigned long before = helpers_lent();
        for (int B = 1; B <= maxb; B += B < 20 ? 1 : 13) {
            mlp_predict_split_here(0);
            mlp_forward(m, x, B, one, scratch);
            mlp_predict_split_here(1);
            mlp_forward(m, x, B, split, scratch);
            for (int i = 0; i < B * out; i++)
                if (memcmp(&split[i], &one[i], sizeof *one))
                    fail_msg("%s, kernel %s, batch %d, output %d: split %.9g, one core %.9g", what,
                             mlp_kernel_name(), B, i, (double)split[i], (double)one[i]);
        }
        lent = helpers_lent() - before;
    }
    print_message("%-34s kernel %-9s batches 1..%d: identical bits, %lu helpers lent\n", what,
                  mlp_kernel_name(), maxb, lent);
    assert_true(lent > 0); /* the split path ran, not only the one-core one */
    free(x), free(scratch), free(split), free(one);
}

static void check_models(void) {
    static const int ref[] = {512, 256}, odd[] = {300, 130}, wide[] = {64};
    mlp_model *m = packed_model(784, ref, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, 1);
    check_bits(m, 260, "784-512-256-10 relu softmax");
    mlp_model_free(m);
    m = packed_model(300, odd, 2, MLP_ACT_SIGMOID, 17, MLP_LOSS_CROSS_ENTROPY, 2);
    check_bits(m, 70, "300-300-130-17 sigmoid softmax");
    mlp_model_free(m);
    m = packed_model(300, odd, 2, MLP_ACT_TANH, 1, MLP_LOSS_MSE, 3);
    check_bits(m, 70, "300-300-130-1 tanh linear");
    mlp_model_free(m);
    m = packed_model(700, wide, 1, MLP_ACT_RELU, 600, MLP_LOSS_MSE, 4); /* output layer split */
    check_bits(m, 40, "700-64-600 relu linear");
    mlp_model_free(m);
}

static void test_split_bits_every_variant(void **state) {
    (void)state;
    assert_int_equal(mlp_predict_cores(), 3);
    static const char *const variants[] = {"avx512", "avx2", "portable"};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        mlp_kernel_select(variants[v]);
        if (!mlp_kernel_is(variants[v])) { /* the CPU lacks it: test_engine_kernels checks that */
            print_message("this CPU lacks %s: its split is checked where it runs\n", variants[v]);
            continue;
        }
        check_models();
    }
    mlp_kernel_select(NULL);
}

/* Every panel range [pa, pb) of one layer against the whole layer, byte for
 * byte, with the columns outside the range untouched: the contract split.c
 * relies on, checked without the pool, so each way the driver can tile a
 * range (pairs of whole panels, a lone whole panel, the partial last panel)
 * meets each other. 300 inputs span two input blocks; 8 panels, the last of
 * 5 outputs. */
static void check_panel_ranges(void) {
    enum { IN = 300, O = 7 * MLP_PACKED_NR + 5, NP = 8, MAXB = MLP_PACKED_MAX_ROWS + 4 };
    static const int batches[] = {1,  2,  3,  4,  5,  6,  7,   11,  12,
                                  13, 14, 16, 23, 25, 37, 128, 129, MAXB};
    mlp_rng r;
    mlp_rng_seed(&r, 8);
    float *x = random_floats(&r, (size_t)MAXB * IN), *b = random_floats(&r, O);
    float *W = random_floats(&r, (size_t)O * IN), *Wp = malloc((size_t)NP * MLP_PACKED_NR * IN * 4);
    float *whole = malloc((size_t)MAXB * O * sizeof *whole), *part = malloc((size_t)MAXB * O * 4);
    assert_non_null(Wp);
    assert_non_null(whole);
    assert_non_null(part);
    assert_int_equal(mlp_packed_panels(O), NP);
    for (int p = 0; p < NP; p++) /* packed.c's layout, written here independently */
        for (int k = 0; k < IN; k++)
            for (int j = 0; j < MLP_PACKED_NR; j++) {
                int o = p * MLP_PACKED_NR + j;
                Wp[((size_t)p * IN + k) * MLP_PACKED_NR + j] =
                    o < O ? W[(size_t)o * IN + k] - 0.5f : 0;
            }
    int ranges = 0;
    for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
        int B = batches[bi];
        mlp_dense_packed_forward(whole, x, Wp, b, MLP_ACT_TANH, B, IN, O);
        for (int pa = 0; pa < NP; pa++)
            for (int pb = pa + 1; pb <= NP; pb++, ranges++) {
                for (int i = 0; i < B * O; i++) part[i] = -7.0f;
                mlp_dense_packed_panels(part, x, Wp, b, MLP_ACT_TANH, B, IN, O, pa, pb);
                for (int i = 0; i < B * O; i++) {
                    int col = i % O, in = col >= pa * MLP_PACKED_NR && col < pb * MLP_PACKED_NR;
                    float want = in ? whole[i] : -7.0f;
                    if (memcmp(&part[i], &want, sizeof want))
                        fail_msg("kernel %s, batch %d, panels [%d, %d), row %d, column %d: %.9g, "
                                 "want %.9g",
                                 mlp_kernel_name(), B, pa, pb, i / O, col, (double)part[i],
                                 (double)want);
                }
            }
    }
    print_message("%-34s kernel %-9s %d ranges: identical bits\n", "panel ranges of 300 -> 117",
                  mlp_kernel_name(), ranges);
    free(x), free(b), free(W), free(Wp), free(whole), free(part);
}

static void test_panel_ranges_every_variant(void **state) {
    (void)state;
    static const char *const variants[] = {"avx512", "avx2", "portable"};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        mlp_kernel_select(variants[v]);
        if (!mlp_kernel_is(variants[v])) {
            print_message("this CPU lacks %s: its ranges are checked where it runs\n", variants[v]);
            continue;
        }
        check_panel_ranges();
    }
    mlp_kernel_select(NULL);
}

typedef struct {
    const mlp_model *m;
    const float *x; /* (64, 784) */
    const float *want1, *want64;
    int may_split;
    int bad; /* outputs that differed */
} caller;

static void *predict_often(void *arg) {
    caller *c = arg;
    float *scratch = malloc(mlp_scratch_floats(c->m, 64) * sizeof *scratch);
    float out[64 * 10];
    if (!scratch) return NULL;
    mlp_predict_split_here(c->may_split);
    for (int rep = 0; rep < 60; rep++) {
        int B = rep % 3 == 0 ? 64 : 1;
        mlp_forward(c->m, c->x, B, out, scratch);
        if (memcmp(out, B == 1 ? c->want1 : c->want64, (size_t)B * 10 * sizeof *out)) c->bad++;
    }
    free(scratch);
    return c;
}

static void test_concurrent_callers(void **state) {
    (void)state;
    enum { THREADS = 4 };
    static const int hidden[] = {512, 256};
    mlp_model *m = packed_model(784, hidden, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, 7);
    mlp_rng r;
    mlp_rng_seed(&r, 8);
    float *x = random_floats(&r, 64 * 784);
    float *scratch = malloc(mlp_scratch_floats(m, 64) * sizeof *scratch);
    static float want1[10], want64[64 * 10];
    assert_non_null(scratch);
    mlp_predict_split_here(0);
    mlp_forward(m, x, 1, want1, scratch);
    mlp_forward(m, x, 64, want64, scratch);
    mlp_predict_split_here(1);
    caller c[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (caller){m, x, want1, want64, i != 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, predict_often, &c[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *done = NULL;
        pthread_join(t[i], &done);
        assert_non_null(done);
        assert_int_equal(c[i].bad, 0);
    }
    free(x), free(scratch);
    mlp_model_free(m);
}

static void test_model_freed_after_split(void **state) {
    (void)state;
    static const int hidden[] = {256};
    mlp_rng r;
    mlp_rng_seed(&r, 11);
    float *x = random_floats(&r, 8 * 512);
    float out[8 * 10], scratch[2 * 8 * 256];
    mlp_pool_backoff_reset();
    unsigned long before = helpers_lent();
    for (int i = 0; i < 300; i++) {
        if (i % 50 == 0) mlp_pool_backoff_reset();
        mlp_model *m =
            packed_model(512, hidden, 1, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, (uint64_t)i);
        assert_true(mlp_scratch_floats(m, 8) <= sizeof scratch / sizeof *scratch);
        mlp_forward(m, x, 1 + i % 8, out, scratch);
        mlp_model_free(m); /* a helper may still be leaving the job */
    }
    assert_true(helpers_lent() > before);
    free(x);
}

int main(void) {
    setenv("MLPD_PREDICT_CORES", "3", 1); /* before the engine reads it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panel_ranges_every_variant),
        cmocka_unit_test(test_split_bits_every_variant),
        cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_model_freed_after_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
