/* test_engine_train.c - mlp_train() and what surrounds it: optimizer
 * steps, dropout and determinism, on the synthetic blobs of engine_fixtures.h.
 * Early stopping, callbacks, numeric errors, the validation split and the
 * watched metrics: test_engine_watch.c. Validation, initialisers and
 * concurrent inference: test_engine_model.c.
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

#include "engine_fixtures.h"

/* ---- optimizers ------------------------------------------------------------------ */

static void train_and_check(mlp_optimizer opt, int nesterov, float lr, const char *name) {
    mlp_dataset d = make_blobs(600, 1, 0);
    mlp_model *m = make_model(16, MLP_ACT_RELU, 2);
    mlp_eval_result before = eval(m, &d);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.optimizer = opt;
    c.nesterov = nesterov;
    c.lr = lr;
    c.batch_size = 32;
    c.epochs = 5;
    mlp_train_result res;
    mlp_error err;
    assert_int_equal(mlp_train(m, &d, &c, &res, &err), MLP_OK);
    mlp_eval_result after = eval(m, &d);
    printf("  %-9s loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", name, before.loss, after.loss,
           before.accuracy, after.accuracy);
    assert_int_equal(res.epochs_run, 5);
    assert_true(after.loss < 0.5 * before.loss);
    assert_true(after.accuracy > 0.95);
    mlp_eval_result_free(&before);
    mlp_eval_result_free(&after);
    mlp_model_free(m);
    free_blobs(&d);
}

static void test_optimizers_reduce_loss(void **state) {
    (void)state;
    train_and_check(MLP_OPT_SGD, 0, 0.1f, "sgd");
    train_and_check(MLP_OPT_MOMENTUM, 0, 0.02f, "momentum");
    train_and_check(MLP_OPT_MOMENTUM, 1, 0.02f, "nesterov");
    train_and_check(MLP_OPT_ADAM, 0, 0.01f, "adam");
    train_and_check(MLP_OPT_ADAMW, 0, 0.01f, "adamw");
}

/* One step of each rule on a single parameter, against the formulas written
 * out here in double precision. */
static void test_optimizer_rules(void **state) {
    (void)state;
    const double g1 = 0.5, g2 = -0.25, w0 = 1.0, lr = 0.1, mu = 0.9;
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.lr = (float)lr;
    float w, g;
    mlp_optim o;
    for (int kind = 0; kind < 4; kind++) {
        c.optimizer = kind == 0 ? MLP_OPT_SGD : kind == 3 ? MLP_OPT_ADAM : MLP_OPT_MOMENTUM;
        c.nesterov = kind == 2;
        assert_int_equal(mlp_optim_init(&o, &c, 1, NULL), MLP_OK);
        w = (float)w0;
        g = (float)g1;
        mlp_optim_step(&o, &w, &g);
        g = (float)g2;
        mlp_optim_step(&o, &w, &g);
        double want;
        if (kind == 0) {
            want = w0 - lr * g1 - lr * g2;
        } else if (kind == 1) { /* b = mu b + g; w -= lr b */
            double b1 = g1, b2 = mu * b1 + g2;
            want = w0 - lr * b1 - lr * b2;
        } else if (kind == 2) { /* w -= lr (g + mu b) */
            double b1 = g1, b2 = mu * b1 + g2;
            want = w0 - lr * (g1 + mu * b1) - lr * (g2 + mu * b2);
        } else {
            double b1 = 0.9, b2 = 0.999, eps = 1e-7, m = 0, v = 0, ww = w0;
            double gs[2] = {g1, g2};
            for (int t = 1; t <= 2; t++) {
                m = b1 * m + (1 - b1) * gs[t - 1];
                v = b2 * v + (1 - b2) * gs[t - 1] * gs[t - 1];
                double mh = m / (1 - pow(b1, t)), vh = v / (1 - pow(b2, t));
                ww -= lr * mh / (sqrt(vh) + eps);
            }
            want = ww;
        }
        if (fabs(w - want) > 1e-6)
            fail_msg("optimizer %d: got %.9g want %.9g", kind, (double)w, want);
        mlp_optim_free(&o);
    }
}

/* ---- dropout ------------------------------------------------------------------------ */

/* Forward pass written out naively, without any dropout scaling. */
static void naive_forward(const mlp_model *m, const float *x, float *out) {
    const mlp_arch *a = &m->arch;
    double cur[64], next[64];
    for (int j = 0; j < a->sizes[0]; j++) cur[j] = x[j];
    for (int l = 0; l < a->n_layers; l++) {
        int I = a->sizes[l], O = a->sizes[l + 1];
        double mx = -INFINITY, sum = 0;
        for (int o = 0; o < O; o++) {
            double z = m->b[l][o];
            for (int i = 0; i < I; i++) z += (double)m->W[l][o * I + i] * cur[i];
            next[o] = a->act[l] == MLP_ACT_RELU ? fmax(z, 0) : z;
            mx = fmax(mx, z);
        }
        if (a->act[l] == MLP_ACT_SOFTMAX) {
            for (int o = 0; o < O; o++) sum += exp(next[o] - mx);
            for (int o = 0; o < O; o++) next[o] = exp(next[o] - mx) / sum;
        }
        memcpy(cur, next, sizeof(double) * O);
    }
    for (int o = 0; o < a->sizes[a->n_layers]; o++) out[o] = (float)cur[o];
}

static void test_dropout_training_only(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(300, 3, 0);
    mlp_model *with = make_model(32, MLP_ACT_RELU, 4), *without = NULL;
    assert_int_equal(mlp_model_clone(with, &without, NULL), MLP_OK);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.epochs = 2;
    c.lr = 0.05f;
    c.dropout = 0.5f;
    assert_int_equal(mlp_train(with, &d, &c, NULL, NULL), MLP_OK);
    c.dropout = 0;
    assert_int_equal(mlp_train(without, &d, &c, NULL, NULL), MLP_OK);
    /* dropout changed training ... */
    assert_memory_not_equal(with->params, without->params, with->n_params * sizeof(float));
    /* ... but inference is the plain network, the same on every call */
    float *scratch = malloc(mlp_scratch_floats(with, 8) * sizeof(float));
    float out1[8 * CLASSES], out2[8 * CLASSES], want[CLASSES];
    mlp_forward(with, d.x_f32, 8, out1, scratch);
    mlp_forward(with, d.x_f32, 8, out2, scratch);
    assert_memory_equal(out1, out2, sizeof out1);
    for (int i = 0; i < 8; i++) {
        naive_forward(with, d.x_f32 + i * FEATURES, want);
        for (int o = 0; o < CLASSES; o++)
            assert_true(fabsf(out1[i * CLASSES + o] - want[o]) < 1e-5f);
    }
    free(scratch);
    mlp_model_free(with);
    mlp_model_free(without);
    free_blobs(&d);
}

static void test_dropout_mask_statistics(void **state) {
    (void)state;
    enum { N = 200001 };
    float *mask = malloc(N * sizeof(float));
    mlp_rng r;
    mlp_rng_seed(&r, 5);
    mlp_dropout_mask(mask, N, 0.3f, &r);
    size_t zeros = 0;
    for (size_t i = 0; i < N; i++) {
        if (mask[i] == 0.0f)
            zeros++;
        else
            assert_true(mask[i] == 1.0f / 0.7f);
    }
    double share = (double)zeros / N; /* std of the share: sqrt(.3*.7/N) ~ 0.001 */
    printf("  dropout 0.3: %.4f of %d entries dropped\n", share, N);
    assert_true(fabs(share - 0.3) < 0.005);
    free(mask);
}

/* ---- determinism ------------------------------------------------------------------------ */

static mlp_model *train_seeded(const mlp_dataset *d, uint64_t seed) {
    mlp_model *m = make_model(24, MLP_ACT_RELU, 12);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.optimizer = MLP_OPT_ADAM;
    c.lr = 0.005f;
    c.batch_size = 20;
    c.epochs = 3;
    c.dropout = 0.2f;
    c.validation_split = 0.1f;
    c.seed = seed;
    assert_int_equal(mlp_train(m, d, &c, NULL, NULL), MLP_OK);
    return m;
}

static void test_determinism(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(400, 13, 0);
    mlp_model *a = train_seeded(&d, 1), *b = train_seeded(&d, 1), *c = train_seeded(&d, 2);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_memory_not_equal(a->params, c->params, a->n_params * sizeof(float));
    /* initialisation: same seed same weights, other seed other weights */
    mlp_model *i1 = make_model(24, MLP_ACT_RELU, 12), *i2 = make_model(24, MLP_ACT_RELU, 12),
              *i3 = make_model(24, MLP_ACT_RELU, 13);
    assert_memory_equal(i1->params, i2->params, i1->n_params * sizeof(float));
    assert_memory_not_equal(i1->params, i3->params, i1->n_params * sizeof(float));
    mlp_model *ms[] = {a, b, c, i1, i2, i3};
    for (size_t i = 0; i < 6; i++) mlp_model_free(ms[i]);
    free_blobs(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optimizers_reduce_loss),
        cmocka_unit_test(test_optimizer_rules),
        cmocka_unit_test(test_dropout_training_only),
        cmocka_unit_test(test_dropout_mask_statistics),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
