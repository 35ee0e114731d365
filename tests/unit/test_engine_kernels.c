/* test_engine_kernels.c - the fast paths of the engine against plain references.
 *
 * - mlp_dense_bias_act_forward (layers.c): act(x W^T + b) for every activation,
 *   on both of its paths (a few rows: one sgemv per row; more: one sgemm with
 *   the bias as the starting value), against a double-precision triple loop.
 *   Tolerance: |got - want| <= 2e-6 * (1 + sum_k |x_k w_k|), a few times
 *   the float rounding seen in a dot product of this length (~1e-7).
 * - The same rows give the same outputs whichever path a batch takes
 *   (mlp_predict on 1 row and on 40 rows agree to float rounding).
 * - Single rows predicted from several threads at once (the sgemv path) give
 *   the same bits as one thread alone: the path keeps no state of its own.
 * - The packed prediction kernel (packed.c, mlp_model_pack): a packed model
 *   gives what the CBLAS path gives, to float rounding, for every batch size
 *   on either side of the kernel's row tiles, input blocks and batch limit,
 *   every hidden activation and both output kinds, with widths that are not
 *   multiples of the kernel's 16-output panels or 8-float vectors, and
 *   mlp_train drops the copy. This runs once per instruction-set variant
 *   (mlp_kernel_select: avx512, avx2, portable), each forced in turn.
 *   How a variant this machine lacks is kept honest: the portable variant
 *   runs everywhere, so the packed layout and driver are always checked;
 *   forcing a variant whose instructions the CPU lacks (by
 *   __builtin_cpu_supports, asked here independently of packed.c) must select
 *   the best variant the CPU has and say "unsupported" in mlp_kernel_name():
 *   that is asserted, not skipped, and the message names the fallback. Its
 *   own numbers are then checked on a CPU that has it (CI or a developer's).
 * - mlp_dataset_gather (dataset.c) on uint8 pixels: every byte value v comes
 *   out as exactly (float)v / 255.0f, rows in index order, with labels, for
 *   counts below and above the prefetch distance.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static float *random_floats(mlp_rng *r, size_t n, float lo, float hi) {
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * mlp_rng_uniform(r);
    return v;
}

/* Reference for one layer in double: want (B,O), mag (B,O) = sum |x w| + |b|. */
static void reference_layer(double *want, double *mag, const float *x, const float *W,
                            const float *b, mlp_act act, int B, int In, int O) {
    for (int i = 0; i < B; i++) {
        double *row = want + (size_t)i * O;
        for (int o = 0; o < O; o++) {
            double z = b[o], s = fabs((double)b[o]);
            for (int k = 0; k < In; k++) {
                double p = (double)x[(size_t)i * In + k] * W[(size_t)o * In + k];
                z += p;
                s += fabs(p);
            }
            mag[(size_t)i * O + o] = s;
            switch (act) {
            case MLP_ACT_RELU: row[o] = z > 0 ? z : 0; break;
            case MLP_ACT_SIGMOID: row[o] = 1.0 / (1.0 + exp(-z)); break;
            case MLP_ACT_TANH: row[o] = tanh(z); break;
            case MLP_ACT_SOFTMAX:
            case MLP_ACT_LINEAR: row[o] = z; break;
            }
        }
        if (act == MLP_ACT_SOFTMAX) {
            double mx = row[0], sum = 0;
            for (int o = 1; o < O; o++) mx = row[o] > mx ? row[o] : mx;
            for (int o = 0; o < O; o++) sum += exp(row[o] - mx);
            for (int o = 0; o < O; o++) row[o] = exp(row[o] - mx) / sum;
        }
    }
}

static void test_dense_forward_paths(void **state) {
    (void)state;
    static const int batches[] = {1, 2, 7, 8, 9, 33, 128};
    static const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_SIGMOID, MLP_ACT_TANH, MLP_ACT_SOFTMAX,
                                   MLP_ACT_LINEAR};
    enum { In = 300, O = 37 };
    mlp_rng r;
    mlp_rng_seed(&r, 11);
    float *W = random_floats(&r, (size_t)O * In, -0.1f, 0.1f);
    float *b = random_floats(&r, O, -0.5f, 0.5f);
    float *x = random_floats(&r, (size_t)128 * In, 0.0f, 1.0f);
    float *y = malloc((size_t)128 * O * sizeof *y);
    double *want = malloc((size_t)128 * O * sizeof *want);
    double *mag = malloc((size_t)128 * O * sizeof *mag);
    assert_non_null(y);
    assert_non_null(want);
    assert_non_null(mag);
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
            int B = batches[k];
            mlp_dense_bias_act_forward(y, x, W, b, acts[a], B, In, O);
            reference_layer(want, mag, x, W, b, acts[a], B, In, O);
            double worst = 0;
            for (int i = 0; i < B * O; i++) {
                double d = fabs((double)y[i] - want[i]);
                double tol = 2e-6 * (1.0 + mag[i]);
                if (d / tol > worst) worst = d / tol;
                if (d > tol)
                    fail_msg("%s, batch %d, element %d: got %.9g, want %.9g", mlp_act_name(acts[a]),
                             B, i, (double)y[i], want[i]);
            }
            print_message("%-8s batch %3d: worst difference %.3f of the tolerance\n",
                          mlp_act_name(acts[a]), B, worst);
        }
    }
    free(W), free(b), free(x), free(y), free(want), free(mag);
}

/* 784-64-32-10: a row predicted alone (sgemv path) and inside a batch of 40
 * (sgemm path) gives the same probabilities to float rounding, and the same label. */
static void test_predict_independent_of_batch(void **state) {
    (void)state;
    static const int hidden[] = {64, 32};
    enum { N = 40, IN = 784, OUT = 10 };
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(
        mlp_arch_make(&a, IN, hidden, 2, MLP_ACT_RELU, OUT, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 5, &m, NULL), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 3);
    float *x = random_floats(&r, (size_t)N * IN, 0.0f, 1.0f);
    float *scratch = malloc(mlp_scratch_floats(m, N) * sizeof *scratch);
    float all[N * OUT], one[OUT];
    int all_labels[N], one_label;
    assert_non_null(scratch);
    mlp_predict(m, x, N, all, all_labels, scratch);
    for (int i = 0; i < N; i++) {
        mlp_predict(m, x + (size_t)i * IN, 1, one, &one_label, scratch);
        double sum = 0;
        for (int j = 0; j < OUT; j++) {
            assert_true(fabsf(one[j] - all[i * OUT + j]) <= 1e-6f);
            sum += one[j];
        }
        assert_true(fabs(sum - 1.0) < 1e-5);
        assert_int_equal(one_label, all_labels[i]);
    }
    free(x), free(scratch);
    mlp_model_free(m);
}

/* A packed model against an unpacked copy of itself (the CBLAS path, checked
 * against double precision by test_dense_forward_paths). Widths 300 -> 37 ->
 * 21 -> out: 300 spans two input blocks (256 + 44), 37 and 21 end in
 * partial panels after a pair of whole panels (two-panel tiles) and a lone
 * one. */
static void check_packed_model(mlp_act hidden_act, mlp_loss loss, int outputs) {
    static const int hidden[] = {37, 21};
    enum { IN = 300, MAXB = MLP_PACKED_MAX_ROWS + 4 };
    mlp_arch a;
    mlp_model *packed = NULL, *plain = NULL;
    assert_int_equal(mlp_arch_make(&a, IN, hidden, 2, hidden_act, outputs, loss, -1, NULL), MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 9, &packed, NULL), MLP_OK);
    /* Biases non-zero, so their start value in the product is exercised. */
    for (int l = 0; l < a.n_layers; l++)
        for (int o = 0; o < a.sizes[l + 1]; o++) packed->b[l][o] = 0.01f * (float)(o % 7) - 0.03f;
    assert_int_equal(mlp_model_clone(packed, &plain, NULL), MLP_OK);
    assert_int_equal(mlp_model_pack(packed, NULL), MLP_OK);
    assert_non_null(packed->packed); /* every CPU runs at least the portable variant */
    assert_null(plain->packed);
    mlp_rng r;
    mlp_rng_seed(&r, 21);
    float *x = random_floats(&r, (size_t)MAXB * IN, 0.0f, 1.0f);
    float *scratch = malloc(mlp_scratch_floats(packed, MAXB) * sizeof *scratch);
    float *got = malloc((size_t)MAXB * outputs * sizeof *got);
    float *want = malloc((size_t)MAXB * outputs * sizeof *want);
    assert_non_null(scratch);
    assert_non_null(got);
    assert_non_null(want);
    double worst = 0;
    for (int B = 1; B <= MAXB; B++) {
        mlp_forward(packed, x, B, got, scratch);
        mlp_forward(plain, x, B, want, scratch);
        for (int i = 0; i < B * outputs; i++) {
            double d = fabs((double)got[i] - want[i]), tol = 1e-5 * (1.0 + fabs(want[i]));
            worst = d / tol > worst ? d / tol : worst;
            if (d > tol)
                fail_msg("%s/%s batch %d element %d: packed %.9g, CBLAS %.9g",
                         mlp_act_name(hidden_act), mlp_loss_name(loss), B, i, (double)got[i],
                         (double)want[i]);
        }
    }
    print_message("packed %-8s %-7s %-13s batches 1..%d: worst difference %.3f of the "
                  "tolerance\n",
                  mlp_kernel_name(), mlp_act_name(hidden_act), mlp_loss_name(loss), MAXB, worst);
    free(x), free(scratch), free(got), free(want);
    mlp_model_free(packed);
    mlp_model_free(plain);
}

/* Whether this CPU has the instructions of MLPD_KERNEL's `option`, asked
 * here rather than of packed.c, so a wrong choice there is caught. */
static int cpu_has(const char *option) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (!strcmp(option, "avx512")) return __builtin_cpu_supports("avx512f");
    if (!strcmp(option, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    if (strcmp(option, "portable")) return 0;
#endif
    return 1;
}

/* Force the variant `option`; if the CPU has it, check its numbers on every
 * activation pairing, else check that the best variant took its place and
 * the name says why. Restores the automatic choice. */
static void check_variant(const char *option) {
    const char *best = mlp_kernel_select(NULL);
    char best_name[96];
    snprintf(best_name, sizeof best_name, "%s", best);
    const char *name = mlp_kernel_select(option);
    if (cpu_has(option)) {
        assert_true(mlp_kernel_is(option));
        assert_null(strstr(name, "unsupported"));
        check_packed_model(MLP_ACT_RELU, MLP_LOSS_CROSS_ENTROPY, 10);
        check_packed_model(MLP_ACT_SIGMOID, MLP_LOSS_CROSS_ENTROPY, 3);
        check_packed_model(MLP_ACT_TANH, MLP_LOSS_MSE, 1);
        check_packed_model(MLP_ACT_RELU, MLP_LOSS_MSE, 17);
    } else {
        assert_false(mlp_kernel_is(option));
        assert_non_null(strstr(name, "unsupported by this CPU"));
        assert_int_equal(strncmp(name, best_name, strlen(best_name)), 0);
        print_message("this CPU lacks %s: forcing it fell back as it must, to \"%s\"\n", option,
                      name);
    }
    mlp_kernel_select(NULL);
}

static void test_packed_avx512(void **state) {
    (void)state;
    check_variant("avx512");
}

static void test_packed_avx2(void **state) {
    (void)state;
    check_variant("avx2");
}

static void test_packed_portable(void **state) {
    (void)state;
    check_variant("portable");
}

/* The automatic choice is the best the CPU has; an unknown name gets it too. */
static void test_kernel_choice(void **state) {
    (void)state;
    const char *want = cpu_has("avx512") ? "avx512" : cpu_has("avx2") ? "avx2-fma" : "portable";
    assert_string_equal(mlp_kernel_select(NULL), want);
    assert_string_equal(mlp_kernel_select(""), want);
    const char *name = mlp_kernel_select("sse9");
    assert_int_equal(strncmp(name, want, strlen(want)), 0);
    assert_non_null(strstr(name, "MLPD_KERNEL=sse9 unknown"));
    assert_string_equal(mlp_kernel_select(NULL), want);
}

/* Training changes the weights, so it must not leave a stale packed copy. */
static void test_train_drops_packed(void **state) {
    (void)state;
    static const int hidden[] = {8};
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(
        mlp_arch_make(&a, 4, hidden, 1, MLP_ACT_RELU, 2, MLP_LOSS_CROSS_ENTROPY, -1, NULL), MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 1, &m, NULL), MLP_OK);
    assert_int_equal(mlp_model_pack(m, NULL), MLP_OK);
    float xs[16 * 4];
    int32_t ys[16];
    for (int i = 0; i < 16; i++) {
        ys[i] = i % 2;
        for (int k = 0; k < 4; k++) xs[i * 4 + k] = (float)((i + k) % 5) / 5.0f;
    }
    mlp_dataset d = {.n = 16, .features = 4, .classes = 2, .x_f32 = xs, .labels = ys};
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.epochs = 1;
    c.batch_size = 8;
    assert_int_equal(mlp_train(m, &d, &c, NULL, NULL), MLP_OK);
    assert_null(m->packed);
    mlp_model_unpack(m); /* harmless when not packed */
    mlp_model_free(m);
}

typedef struct {
    const mlp_model *m;
    const float *x; /* (ROWS, 784) */
    float *out;     /* (ROWS, 10) */
} rows_job;

enum { ROWS = 24 };

static void *predict_rows(void *arg) {
    rows_job *j = arg;
    float *scratch = malloc(mlp_scratch_floats(j->m, 1) * sizeof *scratch);
    if (!scratch) return NULL;
    for (int rep = 0; rep < 10; rep++)
        for (int i = 0; i < ROWS; i++)
            mlp_predict(j->m, j->x + (size_t)i * 784, 1, j->out + i * 10, NULL, scratch);
    free(scratch);
    return j;
}

static void test_single_rows_concurrently(void **state) {
    (void)state;
    enum { THREADS = 4 };
    static const int hidden[] = {128, 64};
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(
        mlp_arch_make(&a, 784, hidden, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 8, &m, NULL), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 4);
    float *x = random_floats(&r, (size_t)ROWS * 784, 0.0f, 1.0f);
    static float ref[ROWS * 10], out[THREADS][ROWS * 10];
    rows_job one = {m, x, ref};
    assert_non_null(predict_rows(&one));
    rows_job jobs[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (rows_job){m, x, out[i]};
        assert_int_equal(pthread_create(&t[i], NULL, predict_rows, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *done = NULL;
        pthread_join(t[i], &done);
        assert_non_null(done);
        assert_memory_equal(out[i], ref, sizeof ref);
    }
    free(x);
    mlp_model_free(m);
}

static void test_gather_u8(void **state) {
    (void)state;
    enum { N = 300, F = 256 + 13 };
    mlp_dataset d = {.n = N, .features = F, .classes = 7};
    d.x_u8 = malloc((size_t)N * F);
    d.labels = malloc(N * sizeof *d.labels);
    assert_non_null(d.x_u8);
    assert_non_null(d.labels);
    for (int i = 0; i < N; i++) {
        d.labels[i] = (i * 5) % 7;
        for (int j = 0; j < F; j++) /* every byte value in every row, shifted per row */
            d.x_u8[(size_t)i * F + j] = (uint8_t)(i + j);
    }
    static const int counts[] = {1, 2, 3, 4, 5, 128, N};
    uint32_t idx[N];
    float *x = malloc((size_t)N * F * sizeof *x);
    int32_t y[N];
    assert_non_null(x);
    mlp_rng r;
    mlp_rng_seed(&r, 9);
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int n = counts[c];
        for (int i = 0; i < N; i++) idx[i] = (uint32_t)i;
        mlp_rng_shuffle(&r, idx, N);
        mlp_dataset_gather(&d, idx, n, x, y);
        for (int i = 0; i < n; i++) {
            assert_int_equal(y[i], d.labels[idx[i]]);
            for (int j = 0; j < F; j++) {
                float want = (float)d.x_u8[(size_t)idx[i] * F + j] / 255.0f;
                float got = x[(size_t)i * F + j];
                if (memcmp(&got, &want, sizeof got) != 0)
                    fail_msg("count %d, row %d, feature %d: got %.9g, want %.9g", n, i, j,
                             (double)got, (double)want);
            }
        }
    }
    free(x);
    free(d.x_u8);
    free(d.labels);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_forward_paths),
        cmocka_unit_test(test_predict_independent_of_batch),
        cmocka_unit_test(test_single_rows_concurrently),
        cmocka_unit_test(test_gather_u8),
        cmocka_unit_test(test_kernel_choice),
        cmocka_unit_test(test_packed_avx512),
        cmocka_unit_test(test_packed_avx2),
        cmocka_unit_test(test_packed_portable),
        cmocka_unit_test(test_train_drops_packed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
