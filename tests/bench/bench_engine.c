/* bench_engine.c - in-process engine figures for `make bench`.
 *
 *   bench_engine infer    batch-1 latency (median, p99), batch-16 and batch-128
 *                         throughput of the reference network (784-512-256-10),
 *                         weights from glorot init (speed does not depend on
 *                         their values), packed as the daemon packs its models;
 *                         batch 16 also without packing (the CBLAS path), the
 *                         size of a batch the daemon's batcher runs under load;
 *                         then batch-1 median and batch-16 throughput again
 *                         for each packed-kernel variant this CPU runs
 *                         (mlpd_b1_median_us_<variant>, ...; MLPD_KERNEL's names);
 *                         batch-1 median and batch-128 rows/s in float32, bf16
 *                         and int8 (mlpd_b1_median_us_bf16, ...), one core, then
 *                         bf16 and int8 by each of their variants (amx, avx512,
 *                         avx2) this CPU runs (mlpd_b1_median_us_bf16_amx, ...)
 *                         (float32 not split); the first figures (mlpd_b1_*,
 *                         mlpd_b128_*) use every idle core as the daemon does
 *                         (mlp_predict_cores), _1core ones refuse to split
 *   bench_engine explain  integrated gradients (50 steps, zero baseline, probability
 *                         of the predicted class) of one input on the reference
 *                         network, packed, one OpenBLAS thread as the daemon runs
 *                         it: median and p99 latency; saliency's alongside
 *   bench_engine accuracy MODEL DATA
 *                         test accuracy of a model file on DATA's test split in
 *                         float32, bf16 and int8 (mlpd_accuracy_<p>)
 *   bench_engine sgemm    OpenBLAS sgemm GFLOP/s at 2048^3, and the time bound of
 *                         one epoch of the reference recipe's eight products
 *
 * Prints key=value lines (tests/bench/run.sh parses them); never asserts.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h" /* mlp_kernel_select: time each packed-kernel variant */
#include "mlp.h"

/* OpenBLAS extension: the name of the kernel set in use (e.g. "Haswell"). */
char *openblas_get_corename(void);

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static mlp_model *reference_model(void) {
    static const int hidden[] = {512, 256};
    mlp_arch arch;
    mlp_model *m = NULL;
    mlp_error err;
    if (mlp_arch_make(&arch, 784, hidden, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, &err) ||
        mlp_model_create(&arch, MLP_INIT_GLOROT_UNIFORM, 1, &m, &err)) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        exit(1);
    }
    return m;
}

/* The figures above with splitting refused (mlp_predict_split_here(0), left
 * so for the rest of bench_infer: every later figure is one core's): as
 * before the split and as a loaded daemon runs (_1core); and how many
 * helpers were lent / came too late over the split runs. */
static void bench_one_core(const mlp_model *m, const float *x, float *probs, int *labels,
                           float *scratch, double *lat) {
    enum { B = 128, REPS = 4000, BATCH_REPS = 300 };
    unsigned long lent, late;
    mlp_predict_split_counts(&lent, &late);
    printf("mlpd_predict_cores=%d\nmlpd_split_helpers_lent=%lu\nmlpd_split_helpers_late=%lu\n",
           mlp_predict_cores(), lent, late);
    mlp_predict_split_here(0);
    for (int i = 0; i < REPS; i++) {
        double t0 = now_sec();
        mlp_predict(m, x, 1, probs, labels, scratch);
        lat[i] = now_sec() - t0;
    }
    qsort(lat, REPS, sizeof(double), cmp_double);
    printf("mlpd_b1_median_us_1core=%.2f\n", lat[REPS / 2] * 1e6);
    double t0 = now_sec();
    for (int i = 0; i < BATCH_REPS; i++) mlp_predict(m, x, B, probs, labels, scratch);
    printf("mlpd_b128_samples_per_sec_1core=%.1f\n", (double)BATCH_REPS * B / (now_sec() - t0));
}

/* Batch-1 median and batch-16 throughput of each packed-kernel variant this
 * CPU runs, forced in turn; the automatic choice is restored after. */
static void bench_variants(const mlp_model *m, const float *x, float *probs, int *labels,
                           float *scratch, double *lat) {
    static const char *const variants[] = {"avx512", "avx2", "portable"};
    enum { REPS = 2000, B16_REPS = 1000 };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        mlp_kernel_select(variants[v]);
        if (!mlp_kernel_is(variants[v])) {
            printf("mlpd_kernel_%s=unsupported\n", variants[v]);
            continue;
        }
        for (int i = 0; i < 200; i++) mlp_predict(m, x, 1, probs, labels, scratch);
        for (int i = 0; i < REPS; i++) {
            double t0 = now_sec();
            mlp_predict(m, x, 1, probs, labels, scratch);
            lat[i] = now_sec() - t0;
        }
        qsort(lat, REPS, sizeof(double), cmp_double);
        double t0 = now_sec();
        for (int i = 0; i < B16_REPS; i++) mlp_predict(m, x, 16, probs, labels, scratch);
        double b16 = (double)B16_REPS * 16 / (now_sec() - t0);
        printf("mlpd_b1_median_us_%s=%.2f\n", variants[v], lat[REPS / 2] * 1e6);
        printf("mlpd_b16_samples_per_sec_%s=%.1f\n", variants[v], b16);
    }
    mlp_kernel_select(NULL);
}

/* Batch-1 latencies (sorted into lat[0..reps)) and batch-128 rows/s of m in
 * precision p by the variant in use, on the calling thread. */
static double time_precision(const mlp_model *m, mlp_precision p, const float *x, float *probs,
                             int *labels, double *lat, int reps, int batch_reps) {
    enum { B = 128 };
    float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, B));
    for (int i = 0; i < 200; i++) mlp_predict_precision(m, p, x, 1, probs, labels, scratch);
    for (int i = 0; i < reps; i++) {
        double t0 = now_sec();
        mlp_predict_precision(m, p, x, 1, probs, labels, scratch);
        lat[i] = now_sec() - t0;
    }
    qsort(lat, reps, sizeof(double), cmp_double);
    double t0 = now_sec();
    for (int i = 0; i < batch_reps; i++) mlp_predict_precision(m, p, x, B, probs, labels, scratch);
    double rows = (double)batch_reps * B / (now_sec() - t0);
    free(scratch);
    return rows;
}

/* Batch-1 median and batch-128 rows/s in each precision (the variant chosen
 * for it on this CPU), on one core (float32 not split): mlpd_b1_median_us_<p>,
 * mlpd_b128_samples_per_sec_<p>, mlpd_kernel_<p>; then bf16 and int8 by
 * each of their variants this CPU runs, forced in turn (MLPD_KERNEL's
 * names): mlpd_b1_median_us_<p>_<variant>, ... or
 * mlpd_kernel_<p>_<variant>=unsupported. */
static void bench_precisions(mlp_model *m, const float *x, float *probs, int *labels, double *lat) {
    enum { REPS = 4000, BATCH_REPS = 300 };
    static const char *const variants[] = {"amx", "avx512", "avx2"};
    for (int p = 0; p < MLP_PRECISIONS; p++) {
        if (mlp_model_pack_precision(m, (mlp_precision)p, NULL) != MLP_OK) exit(1);
        const char *name = mlp_precision_name((mlp_precision)p);
        double rows = time_precision(m, (mlp_precision)p, x, probs, labels, lat, REPS, BATCH_REPS);
        printf("mlpd_kernel_%s=%s\n", name, mlp_kernel_name_for((mlp_precision)p));
        printf("mlpd_b1_median_us_%s=%.2f\n", name, lat[REPS / 2] * 1e6);
        printf("mlpd_b1_p99_us_%s=%.2f\n", name, lat[REPS * 99 / 100] * 1e6);
        printf("mlpd_b128_samples_per_sec_%s=%.1f\n", name, rows);
    }
    for (int p = MLP_PRECISION_BF16; p <= MLP_PRECISION_INT8; p++) {
        const char *name = mlp_precision_name((mlp_precision)p);
        for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
            mlp_kernel_select(variants[v]);
            const char *got = mlp_kernel_name_for((mlp_precision)p);
            size_t n = strlen(variants[v]); /* "amx-bf16", "avx2", not "avx512-bf16 (MLPD_...)" */
            if (strncmp(got, variants[v], n) || (got[n] != '-' && got[n] != '\0') ||
                strchr(got, ' ')) {
                printf("mlpd_kernel_%s_%s=unsupported\n", name, variants[v]);
                continue;
            }
            double rows = time_precision(m, (mlp_precision)p, x, probs, labels, lat, REPS / 2,
                                         BATCH_REPS / 3);
            printf("mlpd_kernel_%s_%s=%s\n", name, variants[v], got);
            printf("mlpd_b1_median_us_%s_%s=%.2f\n", name, variants[v], lat[REPS / 4] * 1e6);
            printf("mlpd_b128_samples_per_sec_%s_%s=%.1f\n", name, variants[v], rows);
        }
    }
    mlp_kernel_select(NULL);
}

static int bench_infer(void) {
    mlp_model *m = reference_model();
    if (mlp_model_pack(m, NULL) != MLP_OK) return 1;
    enum { B = 128, REPS = 4000, BATCH_REPS = 300 };
    float *x = malloc(sizeof(float) * B * 784), *probs = malloc(sizeof(float) * B * 10);
    float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, B));
    double *lat = malloc(sizeof(double) * REPS);
    int labels[B];
    for (int i = 0; i < B * 784; i++) x[i] = (float)((i * 37) % 256) / 255.0f;

    for (int i = 0; i < 200; i++) mlp_predict(m, x, 1, probs, labels, scratch);
    for (int i = 0; i < REPS; i++) {
        double t0 = now_sec();
        mlp_predict(m, x, 1, probs, labels, scratch);
        lat[i] = now_sec() - t0;
    }
    qsort(lat, REPS, sizeof(double), cmp_double);
    printf("mlpd_b1_median_us=%.2f\n", lat[REPS / 2] * 1e6);
    printf("mlpd_b1_p99_us=%.2f\n", lat[REPS * 99 / 100] * 1e6);

    double t0 = now_sec();
    for (int i = 0; i < BATCH_REPS; i++) mlp_predict(m, x, B, probs, labels, scratch);
    printf("mlpd_b128_samples_per_sec=%.1f\n", (double)BATCH_REPS * B / (now_sec() - t0));
    bench_one_core(m, x, probs, labels, scratch, lat);

    /* Both batch-16 paths on one core, as the daemon runs them (--blas-threads 1). */
    enum { B16 = 16, B16_REPS = 2000 };
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    bench_variants(m, x, probs, labels, scratch, lat);
    bench_precisions(m, x, probs, labels, lat);
    for (int packed = 1; packed >= 0; packed--) {
        if (!packed) mlp_model_unpack(m); /* also drops the reduced precisions */
        t0 = now_sec();
        for (int i = 0; i < B16_REPS; i++) mlp_predict(m, x, B16, probs, labels, scratch);
        printf("mlpd_b16%s_samples_per_sec=%.1f\n", packed ? "" : "_cblas",
               (double)B16_REPS * B16 / (now_sec() - t0));
    }
    openblas_set_num_threads(threads);
    free(x), free(probs), free(scratch), free(lat);
    mlp_model_free(m);
    return 0;
}

/* Latencies of one explanation of one input: median and p99 in microseconds. */
static void time_explain(const mlp_model *m, mlp_explain_method method, const char *key,
                         const float *x, float *scratch) {
    enum { REPS = 1000 };
    static double lat[REPS];
    float attr[784], delta;
    mlp_explain_config cfg;
    mlp_explain_config_default(&cfg);
    cfg.method = method;
    for (int i = 0; i < REPS / 10 + REPS; i++) {
        int target = -1;
        double t0 = now_sec();
        if (mlp_explain(m, &cfg, x, 1, &target, attr, &delta, scratch, NULL) != MLP_OK) exit(1);
        if (i >= REPS / 10) lat[i - REPS / 10] = now_sec() - t0;
    }
    qsort(lat, REPS, sizeof(double), cmp_double);
    printf("mlpd_%s_median_us=%.1f\n", key, lat[REPS / 2] * 1e6);
    printf("mlpd_%s_p99_us=%.1f\n", key, lat[REPS * 99 / 100] * 1e6);
}

static int bench_explain(void) {
    mlp_model *m = reference_model();
    if (mlp_model_pack(m, NULL) != MLP_OK) return 1;
    openblas_set_num_threads(1);
    float x[784], *scratch = malloc(sizeof(float) * mlp_explain_scratch_floats(m));
    for (int i = 0; i < 784; i++) x[i] = (float)((i * 37) % 256) / 255.0f;
    time_explain(m, MLP_EXPLAIN_INTEGRATED_GRADIENTS, "ig50", x, scratch);
    time_explain(m, MLP_EXPLAIN_SALIENCY, "saliency", x, scratch);
    free(scratch);
    mlp_model_free(m);
    return 0;
}

/* Best of a few timed runs of C(m,n) = A(m,k) B(k,n), in seconds. */
static double time_sgemm(int m, int n, int k, int transa, int transb, int reps) {
    float *a = calloc((size_t)m * k, sizeof(float)), *b = calloc((size_t)k * n, sizeof(float));
    float *c = calloc((size_t)m * n, sizeof(float));
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_sec();
        cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans,
                    transb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, transa ? m : k, b,
                    transb ? k : n, 0.0f, c, n);
        double dt = now_sec() - t0;
        if (dt < best) best = dt;
    }
    free(a), free(b), free(c);
    return best;
}

static int bench_sgemm(void) {
    const int N = 2048;
    time_sgemm(N, N, N, 0, 0, 1);
    double dt = time_sgemm(N, N, N, 0, 0, 3);
    printf("sgemm_2048_gflops=%.1f\n", 2.0 * N * N * N / dt / 1e9);

    /* One training step of 784-512-256-10 at batch 128: three forward products
     * (X W^T), three weight-gradient products (dY^T X) and two input-gradient
     * products (dY W; none for the first layer). */
    const int B = 128, sz[] = {784, 512, 256, 10};
    double step = 0;
    for (int l = 0; l < 3; l++) {
        int in = sz[l], out = sz[l + 1];
        step += time_sgemm(B, out, in, 0, 1, 20);            /* forward */
        step += time_sgemm(out, in, B, 1, 0, 20);            /* dW */
        if (l > 0) step += time_sgemm(B, in, out, 0, 0, 20); /* dX */
    }
    printf("sgemm_step_seconds=%.6f\n", step);
    printf("sgemm_epoch60k_bound_seconds=%.4f\n", step * (60000.0 / B));
    return 0;
}

/* Test accuracy of a model file on a data set's test split in each
 * precision (the check PUT .../precision makes): mlpd_accuracy_<p>. */
static int bench_accuracy(const char *model_path, const char *data) {
    mlp_model *m = NULL;
    mlp_dataset *d = NULL;
    mlp_error err;
    if (mlp_model_load(model_path, &m, &err) != MLP_OK ||
        mlp_dataset_load_path(data, "test", NULL, &d, &err) != MLP_OK) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        mlp_model_free(m);
        return 1;
    }
    for (int p = 0; p < MLP_PRECISIONS; p++) {
        mlp_eval_result r;
        if (mlp_model_pack_precision(m, (mlp_precision)p, &err) != MLP_OK ||
            mlp_evaluate_precision(m, (mlp_precision)p, d, &r, &err) != MLP_OK) {
            fprintf(stderr, "bench_engine: %s\n", err.msg);
            return 1;
        }
        printf("mlpd_accuracy_%s=%.4f\n", mlp_precision_name((mlp_precision)p), r.accuracy);
        mlp_eval_result_free(&r);
    }
    printf("mlpd_accuracy_rows=%zu\n", d->n);
    mlp_dataset_free(d);
    mlp_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    printf("openblas_core=%s\n", openblas_get_corename());
    printf("mlpd_kernel=%s\n", mlp_kernel_name());
    if (argc == 2 && !strcmp(argv[1], "infer")) return bench_infer();
    if (argc == 2 && !strcmp(argv[1], "sgemm")) return bench_sgemm();
    if (argc == 2 && !strcmp(argv[1], "explain")) return bench_explain();
    if (argc == 4 && !strcmp(argv[1], "accuracy")) return bench_accuracy(argv[2], argv[3]);
    fprintf(stderr, "usage: bench_engine infer|explain|sgemm|accuracy MODEL DATA\n");
    return 2;
}
