/* test_engine_optim.c - the optimizer step's numerics (engine/optim.c).
 *
 * - Adam's vectorised loop gives the bits of the same float expression
 *   evaluated one element at a time here (sqrt and division are correctly
 *   rounded in both forms), over a length that is no multiple of any vector
 *   width.
 * - Moments decaying through the denormal range are flushed to zero (a
 *   denormal multiply costs a microcode assist: a 75-epoch run slowed by
 *   40% before), and the step leaves the caller's floating-point mode as it
 *   found it.
 * The PyTorch reference tests (test_engine_reference) check the update rules
 * themselves.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#define N 1003 /* odd: the vector loop's tail runs too */

static mlp_train_config adam_config(void) {
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.optimizer = MLP_OPT_ADAM;
    c.lr = 1e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.epsilon = 1e-7f;
    return c;
}

static void test_adam_matches_scalar_expression(void **state) {
    (void)state;
    mlp_train_config c = adam_config();
    mlp_optim o;
    assert_int_equal(mlp_optim_init(&o, &c, N, NULL), MLP_OK);
    static float w[N], g[N], rw[N], rm[N], rv[N];
    mlp_rng r;
    mlp_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) rw[i] = w[i] = mlp_rng_uniform(&r) - 0.5f;
    for (long t = 1; t <= 5; t++) {
        for (int i = 0; i < N; i++) g[i] = (mlp_rng_uniform(&r) - 0.5f) * (i % 7 ? 1.0f : 1e-4f);
        mlp_optim_step(&o, w, g);
        double bc1 = 1.0 - pow((double)c.beta1, (double)t);
        double bc2 = 1.0 - pow((double)c.beta2, (double)t);
        float step = (float)((double)c.lr / bc1), inv = (float)(1.0 / sqrt(bc2));
        float c1 = 1.0f - c.beta1, c2 = 1.0f - c.beta2;
        for (int i = 0; i < N; i++) {
            volatile float mi = c.beta1 * rm[i] + c1 * g[i]; /* volatile: one at a time */
            volatile float vi = c.beta2 * rv[i] + c2 * g[i] * g[i];
            rm[i] = mi;
            rv[i] = vi;
            rw[i] -= step * rm[i] / (sqrtf(rv[i]) * inv + c.epsilon);
        }
        assert_memory_equal(w, rw, sizeof w);
        assert_memory_equal(o.m, rm, sizeof rm);
        assert_memory_equal(o.v, rv, sizeof rv);
    }
    mlp_optim_free(&o);
}

static void test_denormal_moments_flushed(void **state) {
    (void)state;
    mlp_train_config c = adam_config();
    mlp_optim o;
    assert_int_equal(mlp_optim_init(&o, &c, N, NULL), MLP_OK);
    static float w[N], g[N];
    for (int i = 0; i < N; i++) g[i] = 1e-3f * (float)(i % 5 + 1);
    mlp_optim_step(&o, w, g);
    memset(g, 0, sizeof g);
    /* m = 0.9^t m0 with m0 ~ 1e-4 crosses FLT_MIN (1.2e-38) after ~750
     * steps and would stay denormal until ~960; check every step between. */
    int flushed = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned csr = _mm_getcsr();
#endif
    for (int t = 0; t < 1100; t++) {
        mlp_optim_step(&o, w, g);
        for (int i = 0; i < N; i++) {
            assert_int_not_equal(fpclassify(o.m[i]), FP_SUBNORMAL);
            assert_int_not_equal(fpclassify(o.v[i]), FP_SUBNORMAL);
        }
        flushed += o.m[0] == 0.0f;
    }
    assert_true(flushed > 0); /* the moments did reach the range */
#if defined(__x86_64__) || defined(__i386__)
    assert_int_equal(_mm_getcsr(), csr);
    /* and this thread still computes with denormals outside the step */
    volatile float tiny = FLT_MIN;
    assert_int_equal(fpclassify(tiny / 4.0f), FP_SUBNORMAL);
#endif
    mlp_optim_free(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_matches_scalar_expression),
        cmocka_unit_test(test_denormal_moments_flushed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
