/* test_engine_grad.c - backpropagation against central finite differences.
 *
 * For small networks and batches of several rows, every parameter's gradient
 * from mlp_backprop() (engine/internal.h) is compared with
 *     (L(w + h) - L(w - h)) / (2 h)
 * where L is the objective mlp_backprop() reports (mean data loss + L1/L2
 * penalty). The forward pass is float32, so h is 1e-3 and a value passes when
 *     |analytic - numeric| <= RTOL * max(|analytic|, |numeric|) + ATOL;
 * the worst relative difference is printed for each case.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define STEP  1e-3
#define RTOL  2e-2
#define ATOL  1e-4
#define BATCH 6

typedef struct {
    const char *name;
    int inputs, n_hidden, hidden[3], outputs;
    mlp_act hidden_act;
    mlp_loss loss;
    int out_act; /* -1: follows the loss */
    float l1, l2, dropout;
} grad_case;

/* Objective for the current parameters; ws->grad is overwritten. The rng is
 * copied so every call draws the same dropout masks. */
static double objective(const mlp_model *m, mlp_workspace *ws, const grad_case *c,
                        const mlp_rng *rng) {
    mlp_rng r = *rng;
    mlp_batch_stats st;
    mlp_backprop(m, ws, BATCH, c->l1, c->l2, c->dropout > 0 ? &r : NULL, &st);
    return st.loss_sum / BATCH + st.penalty;
}

static void check_case(const grad_case *c) {
    mlp_arch a;
    mlp_error err = {{0}};
    assert_int_equal(mlp_arch_make(&a, c->inputs, c->hidden, c->n_hidden, c->hidden_act, c->outputs,
                                   c->loss, c->out_act, &err),
                     MLP_OK);
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 42, &m, &err), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 7);
    /* Non-zero biases so their gradients are exercised away from 0; weights
     * kept at least 4h away from 0 so the L1 kink is never crossed. */
    for (int l = 0; l < a.n_layers; l++)
        for (int j = 0; j < a.sizes[l + 1]; j++)
            m->b[l][j] = 0.2f * (2.0f * mlp_rng_uniform(&r) - 1.0f);
    for (size_t i = 0; i < m->n_params; i++)
        if (fabsf(m->params[i]) < 4 * STEP) m->params[i] = m->params[i] < 0 ? -0.05f : 0.05f;

    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&a, BATCH, c->dropout, &ws, &err), MLP_OK);
    for (int i = 0; i < BATCH * c->inputs; i++) ws->x[i] = 2.0f * mlp_rng_uniform(&r) - 1.0f;
    int classes = c->outputs >= 2 ? c->outputs : 2;
    for (int i = 0; i < BATCH; i++) ws->y[i] = (int32_t)(mlp_rng_next(&r) % (uint64_t)classes);
    mlp_rng dropout_rng;
    mlp_rng_seed(&dropout_rng, 99);

    double loss = objective(m, ws, c, &dropout_rng);
    assert_true(isfinite(loss) && loss > 0);
    float *analytic = malloc(m->n_params * sizeof *analytic);
    assert_non_null(analytic);
    memcpy(analytic, ws->grad, m->n_params * sizeof *analytic);

    double worst = 0;
    size_t worst_i = 0, nonzero = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        float saved = m->params[i];
        m->params[i] = saved + (float)STEP;
        double up = objective(m, ws, c, &dropout_rng);
        m->params[i] = saved - (float)STEP;
        double down = objective(m, ws, c, &dropout_rng);
        m->params[i] = saved;
        /* the real step, as the float parameter actually moved */
        double h2 = (double)(saved + (float)STEP) - (double)(saved - (float)STEP);
        double numeric = (up - down) / h2;
        double an = analytic[i];
        double scale = fmax(fabs(an), fabs(numeric));
        double diff = fabs(an - numeric);
        if (scale > ATOL) nonzero++;
        if (diff > RTOL * scale + ATOL)
            fail_msg("%s: param %zu analytic %.6g numeric %.6g", c->name, i, an, numeric);
        double used = diff / (RTOL * scale + ATOL); /* share of the tolerance used */
        if (used > worst) {
            worst = used;
            worst_i = i;
        }
    }
    printf("  %-34s loss %.5f  %zu params (%zu non-zero)  worst diff %.0f%% of tolerance at %zu\n",
           c->name, loss, m->n_params, nonzero, worst * 100, worst_i);
    /* A check where every gradient is ~0 would prove nothing. */
    assert_true(nonzero > m->n_params / 2);
    free(analytic);
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

static void run_cases(const grad_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) check_case(&cases[i]);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_softmax_cross_entropy(void **state) {
    (void)state;
    static const grad_case cases[] = {
        {"relu / softmax+ce", 5, 2, {7, 6}, 4, MLP_ACT_RELU, MLP_LOSS_CROSS_ENTROPY, -1, 0, 0, 0},
        {"sigmoid / softmax+ce",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_SIGMOID,
         MLP_LOSS_CROSS_ENTROPY,
         -1,
         0,
         0,
         0},
        {"tanh / softmax+ce", 5, 2, {7, 6}, 4, MLP_ACT_TANH, MLP_LOSS_CROSS_ENTROPY, -1, 0, 0, 0},
        {"no hidden / softmax+ce", 5, 0, {0}, 3, MLP_ACT_RELU, MLP_LOSS_CROSS_ENTROPY, -1, 0, 0, 0},
        {"3 hidden tanh / softmax+ce",
         4,
         3,
         {6, 5, 4},
         3,
         MLP_ACT_TANH,
         MLP_LOSS_CROSS_ENTROPY,
         -1,
         0,
         0,
         0},
    };
    run_cases(cases, N(cases));
}

static void test_mse(void **state) {
    (void)state;
    static const grad_case cases[] = {
        {"relu / linear+mse", 5, 2, {7, 6}, 4, MLP_ACT_RELU, MLP_LOSS_MSE, MLP_ACT_LINEAR, 0, 0, 0},
        {"relu / sigmoid+mse",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_RELU,
         MLP_LOSS_MSE,
         MLP_ACT_SIGMOID,
         0,
         0,
         0},
        {"sigmoid / sigmoid+mse",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_SIGMOID,
         MLP_LOSS_MSE,
         MLP_ACT_SIGMOID,
         0,
         0,
         0},
        {"sigmoid / linear+mse",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_SIGMOID,
         MLP_LOSS_MSE,
         MLP_ACT_LINEAR,
         0,
         0,
         0},
        {"tanh / linear+mse", 5, 2, {7, 6}, 4, MLP_ACT_TANH, MLP_LOSS_MSE, MLP_ACT_LINEAR, 0, 0, 0},
        {"tanh / sigmoid+mse",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_TANH,
         MLP_LOSS_MSE,
         MLP_ACT_SIGMOID,
         0,
         0,
         0},
        {"tanh / one sigmoid unit+mse",
         5,
         1,
         {6},
         1,
         MLP_ACT_TANH,
         MLP_LOSS_MSE,
         MLP_ACT_SIGMOID,
         0,
         0,
         0},
    };
    run_cases(cases, N(cases));
}

static void test_penalties(void **state) {
    (void)state;
    static const grad_case cases[] = {
        {"relu / softmax+ce, l1",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_RELU,
         MLP_LOSS_CROSS_ENTROPY,
         -1,
         0.01f,
         0,
         0},
        {"sigmoid / softmax+ce, l2",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_SIGMOID,
         MLP_LOSS_CROSS_ENTROPY,
         -1,
         0,
         0.02f,
         0},
        {"tanh / linear+mse, l1+l2",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_TANH,
         MLP_LOSS_MSE,
         MLP_ACT_LINEAR,
         0.01f,
         0.02f,
         0},
        {"relu / sigmoid+mse, l1+l2",
         5,
         2,
         {7, 6},
         4,
         MLP_ACT_RELU,
         MLP_LOSS_MSE,
         MLP_ACT_SIGMOID,
         0.005f,
         0.05f,
         0},
    };
    run_cases(cases, N(cases));
}

/* Dropout with fixed masks is a fixed function of the parameters. */
static void test_dropout(void **state) {
    (void)state;
    static const grad_case cases[] = {
        {"relu / softmax+ce, dropout 0.3",
         5,
         2,
         {8, 7},
         4,
         MLP_ACT_RELU,
         MLP_LOSS_CROSS_ENTROPY,
         -1,
         0,
         0,
         0.3f},
        {"sigmoid / linear+mse, dropout 0.5",
         5,
         2,
         {8, 7},
         4,
         MLP_ACT_SIGMOID,
         MLP_LOSS_MSE,
         MLP_ACT_LINEAR,
         0,
         0.01f,
         0.5f},
    };
    run_cases(cases, N(cases));
}

/* The generic softmax backward composed with d(CE)/dp = -onehot / p gives the
 * fused softmax+cross-entropy gradient p - onehot. */
static void test_softmax_backward_matches_fused(void **state) {
    (void)state;
    enum { B = 4, O = 5 };
    mlp_rng r;
    mlp_rng_seed(&r, 3);
    float z[B * O], p[B * O], d[B * O];
    int32_t y[B];
    for (int i = 0; i < B * O; i++) z[i] = 4.0f * mlp_rng_uniform(&r) - 2.0f;
    for (int i = 0; i < B; i++) y[i] = (int32_t)(mlp_rng_next(&r) % O);
    memcpy(p, z, sizeof z);
    mlp_act_rows(p, MLP_ACT_SOFTMAX, B, O);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < O; j++) d[i * O + j] = j == y[i] ? -1.0f / (B * p[i * O + j]) : 0.0f;
    mlp_softmax_backward(d, p, B, O);
    long correct = 0;
    double loss = mlp_softmax_ce_backward(z, y, B, O, 1.0f / B, 0.0f, &correct);
    double want_loss = 0;
    for (int i = 0; i < B; i++) want_loss -= log(p[i * O + y[i]]);
    assert_true(fabs(loss - want_loss) < 1e-5 * want_loss);
    for (int i = 0; i < B * O; i++) assert_true(fabsf(z[i] - d[i]) < 1e-6f);
}

/* The SGD step fused into the backward products (mlp_backprop_sgd) lands on
 * the same weights as gradient + separate update, up to float rounding. */
static void test_fused_sgd_matches_two_pass(void **state) {
    (void)state;
    int hidden[2] = {9, 7};
    mlp_arch a;
    assert_int_equal(
        mlp_arch_make(&a, 5, hidden, 2, MLP_ACT_TANH, 4, MLP_LOSS_CROSS_ENTROPY, -1, NULL), MLP_OK);
    mlp_model *m1, *m2;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 5, &m1, NULL), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 11);
    for (int j = 0; j < 9; j++) m1->b[0][j] = mlp_rng_uniform(&r) - 0.5f;
    assert_int_equal(mlp_model_clone(m1, &m2, NULL), MLP_OK);
    mlp_workspace *ws;
    assert_int_equal(mlp_workspace_create(&a, BATCH, 0.25f, &ws, NULL), MLP_OK);
    for (int i = 0; i < BATCH * 5; i++) ws->x[i] = 2.0f * mlp_rng_uniform(&r) - 1.0f;
    for (int i = 0; i < BATCH; i++) ws->y[i] = (int32_t)(mlp_rng_next(&r) % 4);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.lr = 0.3f;
    mlp_optim o;
    assert_int_equal(mlp_optim_init(&o, &c, m1->n_params, NULL), MLP_OK);
    for (int step = 0; step < 3; step++) {
        mlp_rng d1, d2; /* the same dropout masks on both sides */
        mlp_rng_seed(&d1, 100 + step);
        d2 = d1;
        mlp_batch_stats s1, s2;
        mlp_backprop(m1, ws, BATCH, 0, 0, &d1, &s1);
        mlp_optim_step(&o, m1->params, ws->grad);
        mlp_backprop_sgd(m2, ws, BATCH, c.lr, &d2, &s2);
        assert_true(fabs(s1.loss_sum - s2.loss_sum) < 1e-5 * s1.loss_sum);
        assert_int_equal(s1.correct, s2.correct);
        double worst = 0;
        for (size_t i = 0; i < m1->n_params; i++)
            worst = fmax(worst, fabs((double)m1->params[i] - m2->params[i]));
        printf("  step %d: max |fused - two-pass| = %.2e\n", step + 1, worst);
        assert_true(worst < 1e-6);
    }
    /* and the step really moved the weights */
    mlp_model *m0;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 5, &m0, NULL), MLP_OK);
    assert_memory_not_equal(m0->W[0], m2->W[0], 9 * 5 * sizeof(float));
    mlp_optim_free(&o);
    mlp_workspace_free(ws);
    mlp_model_free(m0);
    mlp_model_free(m1);
    mlp_model_free(m2);
}

/* log-sum-exp keeps the loss finite and exact for logits far beyond expf's range. */
static void test_cross_entropy_stable(void **state) {
    (void)state;
    float z[3] = {1000.0f, -1000.0f, 0.0f};
    int32_t y = 1;
    int pred;
    double loss = mlp_softmax_ce_loss(z, &y, 1, 3, 0.0f, &pred);
    assert_true(isfinite(loss));
    assert_true(fabs(loss - 2000.0) < 1e-3);
    assert_int_equal(pred, 0);
    long correct = 0;
    double loss2 = mlp_softmax_ce_backward(z, &y, 1, 3, 1.0f, 0.0f, &correct);
    assert_true(fabs(loss2 - 2000.0) < 1e-3);
    assert_true(fabsf(z[0] - 1.0f) < 1e-6f && fabsf(z[1] + 1.0f) < 1e-6f);
    assert_int_equal(correct, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_cross_entropy),
        cmocka_unit_test(test_mse),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_softmax_backward_matches_fused),
        cmocka_unit_test(test_cross_entropy_stable),
        cmocka_unit_test(test_fused_sgd_matches_two_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
