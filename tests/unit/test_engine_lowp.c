/* test_engine_lowp.c - reduced-precision prediction (lowp.c and its variants).
 *
 * - Each variant this CPU runs (forced in turn: amx, avx512, avx2, portable),
 *   against float32 within the precision's error bound, computed here per
 *   output from the operands (not a fixed number):
 *     bf16: |got - want| <= (2^-7 + 1e-5) * sum_k |x_k w_k| + 1e-6, the
 *           rounding of both operands to 8 significant bits plus float32
 *           summation;
 *     int8: |got - want| <= sum_k (|x_k| s_w/2 + |w_k| s_x/2 + s_x s_w/4)
 *           + 1e-5 * sum_k |x_k w_k| + 1e-6, rounding each operand to its
 *           scale's grid (s_x = max|x_row|/127, s_w = max|w_row|/127).
 *   Batches 1..70 (every tile remainder of 12-, 4- and 2-row tiles and of
 *   AMX's 16-row tiles, the one row path), 600 inputs (five input blocks of
 *   128 words, an odd tail, rows padded to 16 words: 300 -> 304 bf16, 150 ->
 *   160 int8) and 99 outputs (seven panels: AMX groups of 4 and 3, the last
 *   panel partial), inputs of both signs and all-zero rows.
 * - Each vector variant against the portable one, which is the precision's
 *   arithmetic in plain C: int8 bit for bit; bf16 to 2^-27 of sum |x w| for
 *   the AVX variants (the only allowed difference is float32 denormal
 *   flushing), to 2 IN 2^-24 of it for AMX tiles (they add the same exact
 *   products in their own order: the bound of two float32 sums of IN terms);
 *   the number of differing outputs and the largest difference are printed.
 * - How a variant this CPU lacks is kept honest: the portable variant is the
 *   reference every run checks (layout, driver, quantization, scales);
 *   forcing a variant the CPU lacks (by __builtin_cpu_supports asked here,
 *   not of lowp.c) must select the best one it has, which is asserted by
 *   name; the missing variant's own numbers are checked on a CPU that has it.
 * - Linux refusing the tiles (a process with a too small sigaltstack) makes
 *   the choice fall back to the best variant without them (checked in a
 *   fresh process, by name).
 * - Three threads predicting at once with the automatic variant get the
 *   one-thread answers bit for bit (AMX: tiles configured per call).
 * - A model: float32 results unchanged by packing a reduced precision; a
 *   precision not packed runs as float32; mlp_train and mlp_model_unpack drop
 *   the copies; names parse both ways.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

enum { IN = 600, OUT = 99, MAXB = 70 };

static int cpu_has(const char *option, mlp_precision p) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (!strcmp(option, "amx")) /* and Linux lets this process use the tiles */
        return cpu_has("avx512", p) && __builtin_cpu_supports("amx-tile") &&
               (p == MLP_PRECISION_BF16 ? __builtin_cpu_supports("amx-bf16")
                                        : __builtin_cpu_supports("amx-int8")) &&
               syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
    if (!strcmp(option, "avx512"))
        return __builtin_cpu_supports("avx512f") &&
               (p == MLP_PRECISION_BF16
                    ? __builtin_cpu_supports("avx512bf16")
                    : __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni"));
    if (!strcmp(option, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    (void)p;
    if (strcmp(option, "portable")) return 0;
#endif
    return 1;
}

static const char *expected_name(const char *option, mlp_precision p) {
    if (!strcmp(option, "amx")) return p == MLP_PRECISION_BF16 ? "amx-bf16" : "amx-int8";
    if (!strcmp(option, "avx512")) return p == MLP_PRECISION_BF16 ? "avx512-bf16" : "avx512-vnni";
    if (!strcmp(option, "avx2")) return p == MLP_PRECISION_BF16 ? "avx2-fma" : "avx2";
    return "portable";
}

/* One linear layer IN -> OUT with random weights and biases, packed in p. */
static mlp_model *layer_model(mlp_precision p) {
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(mlp_arch_make(&a, IN, NULL, 0, MLP_ACT_RELU, OUT, MLP_LOSS_MSE, -1, NULL),
                     MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 5, &m, NULL), MLP_OK);
    for (int o = 0; o < OUT; o++) m->b[0][o] = 0.01f * (float)(o % 9) - 0.04f;
    assert_int_equal(mlp_model_pack_precision(m, p, NULL), MLP_OK);
    assert_true(mlp_model_has_precision(m, p));
    return m;
}

static float *inputs(void) {
    mlp_rng r;
    mlp_rng_seed(&r, 77);
    float *x = malloc(sizeof(float) * MAXB * IN);
    assert_non_null(x);
    for (int i = 0; i < MAXB * IN; i++) x[i] = 2.0f * mlp_rng_uniform(&r) - 1.0f;
    for (int k = 0; k < IN; k++) x[5 * IN + k] = 0.0f; /* an all-zero row */
    return x;
}

/* The error bound of output (row i, out o) of precision p (header). */
static double bound(const mlp_model *m, mlp_precision p, const float *x, int i, int o,
                    double *ref) {
    const float *xi = x + (size_t)i * IN, *w = m->W[0] + (size_t)o * IN;
    double z = m->b[0][o], mag = 0, xmax = 0, wmax = 0, qerr = 0;
    for (int k = 0; k < IN; k++) {
        z += (double)xi[k] * w[k];
        mag += fabs((double)xi[k] * w[k]);
        xmax = fmax(xmax, fabs(xi[k]));
        wmax = fmax(wmax, fabs(w[k]));
    }
    *ref = z;
    if (p == MLP_PRECISION_BF16) return (1.0 / 128 + 1e-5) * mag + 1e-6;
    double sx = xmax / 127, sw = wmax / 127;
    for (int k = 0; k < IN; k++) qerr += fabs(xi[k]) * sw / 2 + fabs(w[k]) * sx / 2 + sx * sw / 4;
    return qerr + 1e-5 * mag + 1e-6;
}

/* out (B, OUT) for batches 1..MAXB concatenated, by the variant in use. */
static float *run_all(const mlp_model *m, mlp_precision p, const float *x) {
    float *out = malloc(sizeof(float) * (size_t)MAXB * (MAXB + 1) / 2 * OUT);
    float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, MAXB));
    assert_non_null(out);
    assert_non_null(scratch);
    size_t at = 0;
    for (int B = 1; B <= MAXB; B++) {
        mlp_forward_precision(m, p, x, B, out + at, scratch);
        at += (size_t)B * OUT;
    }
    free(scratch);
    return out;
}

static void check_against_f32(const mlp_model *m, mlp_precision p, const float *x,
                              const float *got) {
    double worst = 0;
    size_t at = 0;
    for (int B = 1; B <= MAXB; B++)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < OUT; o++, at++) {
                double ref, tol = bound(m, p, x, i, o, &ref), d = fabs(got[at] - ref);
                worst = d / tol > worst ? d / tol : worst;
                if (d > tol)
                    fail_msg("%s %s batch %d row %d out %d: %.9g, float64 %.9g, bound %.3g",
                             mlp_precision_name(p), mlp_kernel_name_for(p), B, i, o,
                             (double)got[at], ref, tol);
            }
    print_message("%-5s %-12s batches 1..%d vs float64: worst %.3f of the bound\n",
                  mlp_precision_name(p), mlp_kernel_name_for(p), MAXB, worst);
}

static void check_against_portable(const mlp_model *m, mlp_precision p, const float *x,
                                   const float *got, const float *ref) {
    size_t n = (size_t)MAXB * (MAXB + 1) / 2 * OUT;
    if (p == MLP_PRECISION_INT8) {
        assert_memory_equal(got, ref, n * sizeof(float));
        print_message("int8  %-12s identical to portable, bit for bit\n", mlp_kernel_name_for(p));
        return;
    }
    /* The AVX variants add as portable does (only denormal flushing may
     * differ): 2^-27 of sum |x w|. AMX tiles add the same exact products in
     * their own order: two float32 sums of IN products in any order differ
     * by at most 2 IN 2^-24 of sum |x w|. */
    int amx = !strcmp(mlp_kernel_name_for(p), "amx-bf16");
    double worst = 0, allowed = amx ? 2.0 * IN * 0x1p-24 : 0x1p-27;
    size_t at = 0, differ = 0;
    for (int B = 1; B <= MAXB; B++)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < OUT; o++, at++) {
                double mag = 0, d = fabs(got[at] - ref[at]);
                for (int k = 0; k < IN; k++)
                    mag += fabs((double)x[(size_t)i * IN + k] * m->W[0][(size_t)o * IN + k]);
                differ += got[at] != ref[at];
                worst = fmax(worst, d / mag);
                if (d > allowed * mag)
                    fail_msg("bf16 %s batch %d row %d out %d: %.9g, portable %.9g",
                             mlp_kernel_name_for(p), B, i, o, (double)got[at], (double)ref[at]);
            }
    print_message("bf16  %-12s vs portable: %zu of %zu outputs differ, worst %.3g of sum|xw|\n",
                  mlp_kernel_name_for(p), differ, n, worst);
}

static void check_precision(mlp_precision p) {
    static const char *const options[] = {"portable", "avx2", "avx512", "amx"};
    mlp_model *m = layer_model(p);
    float *x = inputs(), *ref = NULL;
    for (size_t v = 0; v < sizeof options / sizeof *options; v++) {
        mlp_kernel_select(options[v]);
        if (!cpu_has(options[v], p)) {
            const char *now = mlp_kernel_name_for(p);
            assert_string_not_equal(now, expected_name(options[v], p));
            print_message("this CPU lacks %s for %s: forcing it chose \"%s\"\n", options[v],
                          mlp_precision_name(p), now);
            continue;
        }
        assert_string_equal(mlp_kernel_name_for(p), expected_name(options[v], p));
        float *got = run_all(m, p, x);
        check_against_f32(m, p, x, got);
        if (!ref)
            ref = got;
        else {
            check_against_portable(m, p, x, got, ref);
            free(got);
        }
    }
    mlp_kernel_select(NULL);
    free(ref), free(x);
    mlp_model_free(m);
}

static void test_bf16_variants(void **state) {
    (void)state;
    check_precision(MLP_PRECISION_BF16);
}

static void test_int8_variants(void **state) {
    (void)state;
    check_precision(MLP_PRECISION_INT8);
}

/* The automatic choice per precision is the best this CPU has. */
static void test_choice(void **state) {
    (void)state;
    mlp_kernel_select(NULL);
    for (int p = MLP_PRECISION_BF16; p <= MLP_PRECISION_INT8; p++) {
        const char *want = cpu_has("amx", (mlp_precision)p)      ? "amx"
                           : cpu_has("avx512", (mlp_precision)p) ? "avx512"
                           : cpu_has("avx2", (mlp_precision)p)   ? "avx2"
                                                                 : "portable";
        assert_string_equal(mlp_kernel_name_for((mlp_precision)p),
                            expected_name(want, (mlp_precision)p));
    }
    assert_string_equal(mlp_kernel_name_for(MLP_PRECISION_F32), mlp_kernel_name());
}

/* Threads predicting at once with the automatic variant (AMX where the CPU
 * has it: each layer call loads its own tile configuration and releases the
 * tiles, so a new thread needs no set-up and threads do not disturb each
 * other): every thread's answers equal the main thread's bit for bit. */
enum { THREADS = 3 };
typedef struct {
    const mlp_model *m;
    mlp_precision p;
    const float *x;
    float *out;
} thread_job;

static void *predict_all(void *arg) {
    thread_job *j = arg;
    for (int round = 0; round < 3; round++) { /* overlap with the other threads */
        free(j->out);
        j->out = run_all(j->m, j->p, j->x);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    mlp_kernel_select(NULL);
    float *x = inputs();
    for (int p = MLP_PRECISION_BF16; p <= MLP_PRECISION_INT8; p++) {
        mlp_model *m = layer_model((mlp_precision)p);
        float *ref = run_all(m, (mlp_precision)p, x);
        pthread_t t[THREADS];
        thread_job jobs[THREADS];
        for (int i = 0; i < THREADS; i++) {
            jobs[i] = (thread_job){.m = m, .p = (mlp_precision)p, .x = x, .out = NULL};
            assert_int_equal(pthread_create(&t[i], NULL, predict_all, &jobs[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            assert_memory_equal(jobs[i].out, ref,
                                sizeof(float) * (size_t)MAXB * (MAXB + 1) / 2 * OUT);
            free(jobs[i].out);
        }
        print_message("%-5s %-12s %d threads at once: identical to one thread\n",
                      mlp_precision_name((mlp_precision)p), mlp_kernel_name_for((mlp_precision)p),
                      THREADS);
        free(ref);
        mlp_model_free(m);
    }
    free(x);
}

static mlp_model *small_model(void) {
    static const int hidden[] = {40, 24};
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(
        mlp_arch_make(&a, 30, hidden, 2, MLP_ACT_RELU, 5, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 3, &m, NULL), MLP_OK);
    return m;
}

/* float32 answers do not change when a model also holds reduced copies; a
 * precision it does not hold runs as float32; names parse. */
static void test_model_precisions(void **state) {
    (void)state;
    mlp_model *m = small_model();
    assert_int_equal(mlp_model_pack(m, NULL), MLP_OK);
    float x[8 * 30], before[8 * 5], after[8 * 5], lowp[8 * 5];
    for (int i = 0; i < 8 * 30; i++) x[i] = (float)(i % 13) / 13.0f;
    float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, 8));
    mlp_forward(m, x, 8, before, scratch);
    mlp_forward_precision(m, MLP_PRECISION_INT8, x, 8, lowp, scratch); /* not packed: float32 */
    assert_memory_equal(before, lowp, sizeof before);
    assert_false(mlp_model_has_precision(m, MLP_PRECISION_INT8));
    size_t plain = mlp_scratch_floats(m, 8);
    assert_int_equal(mlp_model_pack_precision(m, MLP_PRECISION_INT8, NULL), MLP_OK);
    assert_int_equal(mlp_model_pack_precision(m, MLP_PRECISION_BF16, NULL), MLP_OK);
    assert_true(mlp_scratch_floats(m, 8) > plain);
    free(scratch);
    scratch = malloc(sizeof(float) * mlp_scratch_floats(m, 8));
    mlp_forward(m, x, 8, after, scratch);
    assert_memory_equal(before, after, sizeof before);
    for (int p = MLP_PRECISION_BF16; p <= MLP_PRECISION_INT8; p++) {
        mlp_forward_precision(m, (mlp_precision)p, x, 8, lowp, scratch);
        int same = 0;
        for (int i = 0; i < 8 * 5; i++) {
            assert_true(fabsf(lowp[i] - before[i]) < 0.05f); /* probabilities */
            same += lowp[i] == before[i];
        }
        assert_true(same < 8 * 5); /* it did run in p */
    }
    mlp_model_unpack(m);
    assert_false(mlp_model_has_precision(m, MLP_PRECISION_BF16));
    assert_true(mlp_model_has_precision(m, MLP_PRECISION_F32));
    assert_int_equal(mlp_model_pack_precision(m, (mlp_precision)7, NULL), MLP_EINVAL);
    mlp_precision p;
    assert_int_equal(mlp_precision_from_name("bf16", &p), 0);
    assert_int_equal(p, MLP_PRECISION_BF16);
    assert_int_equal(mlp_precision_from_name("int8", &p), 0);
    assert_int_equal(p, MLP_PRECISION_INT8);
    assert_int_equal(mlp_precision_from_name("float32", &p), 0);
    assert_int_equal(p, MLP_PRECISION_F32);
    assert_int_equal(mlp_precision_from_name("fp16", &p), -1);
    assert_string_equal(mlp_precision_name(MLP_PRECISION_INT8), "int8");
    free(scratch);
    mlp_model_free(m);
}

static void test_train_drops_copies(void **state) {
    (void)state;
    mlp_model *m = small_model();
    assert_int_equal(mlp_model_pack_precision(m, MLP_PRECISION_INT8, NULL), MLP_OK);
    float xs[16 * 30];
    int32_t ys[16];
    for (int i = 0; i < 16; i++) {
        ys[i] = i % 5;
        for (int k = 0; k < 30; k++) xs[i * 30 + k] = (float)((i + k) % 5) / 5.0f;
    }
    mlp_dataset d = {.n = 16, .features = 30, .classes = 5, .x_f32 = xs, .labels = ys};
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.epochs = 1;
    c.batch_size = 8;
    assert_int_equal(mlp_train(m, &d, &c, NULL, NULL), MLP_OK);
    assert_false(mlp_model_has_precision(m, MLP_PRECISION_INT8));
    mlp_model_free(m);
}

/* Rounding to bfloat16: nearest, ties to even, denormals to zero. */
static void test_bf16_round(void **state) {
    (void)state;
    assert_int_equal(mlp_bf16_round(1.0f), 0x3f80);
    assert_int_equal(mlp_bf16_round(-2.0f), 0xc000);
    float tie_down, tie_up, above;
    uint32_t u = 0x3f808000u; /* halfway between 0x3f80 and 0x3f81: to even 0x3f80 */
    memcpy(&tie_down, &u, 4);
    u = 0x3f818000u; /* halfway between 0x3f81 and 0x3f82: to even 0x3f82 */
    memcpy(&tie_up, &u, 4);
    u = 0x3f808001u;
    memcpy(&above, &u, 4);
    assert_int_equal(mlp_bf16_round(tie_down), 0x3f80);
    assert_int_equal(mlp_bf16_round(tie_up), 0x3f82);
    assert_int_equal(mlp_bf16_round(above), 0x3f81);
    assert_int_equal(mlp_bf16_round(1e-40f), 0x0000);
    assert_int_equal(mlp_bf16_round(-1e-40f), 0x8000);
}

/* The fallback when Linux refuses the tiles, checked on a machine that has
 * AMX: a process whose signal stack (sigaltstack) is too small for the tile
 * state is refused them (arch_prctl ARCH_REQ_XCOMP_PERM fails with ENOSPC),
 * and must then run the best variant without tiles. The choice is made once
 * per process, so it runs in a fresh one: this binary with --small-altstack,
 * which prints the bf16 and int8 names. */
static int small_altstack_child(void) {
    static char small[4096];
    stack_t ss = {.ss_sp = small, .ss_size = sizeof small};
    if (sigaltstack(&ss, NULL) != 0) return 2;
    printf("%s %s\n", mlp_kernel_name_for(MLP_PRECISION_BF16),
           mlp_kernel_name_for(MLP_PRECISION_INT8));
    return 0;
}

static void test_tiles_refused(void **state) {
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        execl("/proc/self/exe", "test_engine_lowp", "--small-altstack", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char out[128] = "", bf16[64], int8[64];
    ssize_t n = read(fd[0], out, sizeof out - 1);
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0 && n > 0);
    assert_int_equal(sscanf(out, "%63s %63s", bf16, int8), 2);
    for (int p = MLP_PRECISION_BF16; p <= MLP_PRECISION_INT8; p++) {
        const char *want = cpu_has("avx512", (mlp_precision)p) ? "avx512"
                           : cpu_has("avx2", (mlp_precision)p) ? "avx2"
                                                               : "portable";
        assert_string_equal(p == MLP_PRECISION_BF16 ? bf16 : int8,
                            expected_name(want, (mlp_precision)p));
    }
    print_message("tiles refused (small sigaltstack): bf16 %s, int8 %s; here with tiles: %s, %s\n",
                  bf16, int8, mlp_kernel_name_for(MLP_PRECISION_BF16),
                  mlp_kernel_name_for(MLP_PRECISION_INT8));
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--small-altstack")) return small_altstack_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_round),       cmocka_unit_test(test_choice),
        cmocka_unit_test(test_bf16_variants),    cmocka_unit_test(test_int8_variants),
        cmocka_unit_test(test_threads),          cmocka_unit_test(test_tiles_refused),
        cmocka_unit_test(test_model_precisions), cmocka_unit_test(test_train_drops_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
