/* test_engine_model.c - what is checked before and around training:
 * architecture and configuration validation, initialisers and the one
 * parameter allocation, enum names, the RNG, and concurrent inference on one
 * model (several threads, own scratch each, same results as one thread).
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_fixtures.h"

/* ---- validation of configurations and architectures ------------------------------------ */

static void test_config_validation(void **state) {
    (void)state;
    mlp_train_config ok, c;
    mlp_train_config_default(&ok);
    assert_int_equal(mlp_train_config_validate(&ok, NULL), MLP_OK);
    assert_true(ok.lr == 0.01f && ok.batch_size == 128 && ok.epochs == 10 && ok.shuffle == 1);
#define REJECT(field, value)                                                                       \
    do {                                                                                           \
        mlp_error e = {{0}};                                                                       \
        c = ok;                                                                                    \
        c.field = value;                                                                           \
        assert_int_equal(mlp_train_config_validate(&c, &e), MLP_EINVAL);                           \
        assert_true(strlen(e.msg) > 0);                                                            \
    } while (0)
    REJECT(lr, 0.0f);
    REJECT(lr, -1.0f);
    REJECT(lr, NAN);
    REJECT(lr, INFINITY);
    REJECT(batch_size, 0);
    REJECT(batch_size, 1 << 30);
    REJECT(batch_size, 65537); /* the recipe's limits (engine/recipe.c) */
    REJECT(epochs, 10001);
    REJECT(lr, 10.5f);
    REJECT(validation_split, 0.95f);
    REJECT(epochs, 0);
    REJECT(epochs, -3);
    REJECT(dropout, 1.0f);
    REJECT(dropout, -0.1f);
    REJECT(dropout, NAN);
    REJECT(validation_split, 1.0f);
    REJECT(validation_split, -0.5f);
    REJECT(momentum, 1.0f);
    REJECT(beta1, 1.0f);
    REJECT(beta2, -0.1f);
    REJECT(epsilon, 0.0f);
    REJECT(l1, -0.01f);
    REJECT(l2, NAN);
    REJECT(patience, -1);
    REJECT(min_delta, -1.0f);
    REJECT(optimizer, (mlp_optimizer)7);
    REJECT(nesterov, 1); /* with sgd */
    REJECT(weight_decay, -0.1f);
    REJECT(label_smoothing, 1.0f);
    REJECT(label_smoothing, -0.1f);
    REJECT(clip_norm, -1.0f);
    REJECT(clip_norm, INFINITY);
    REJECT(monitor, (mlp_metric)9);
    REJECT(mode, (mlp_mode)5);
    REJECT(schedule.type, (mlp_lr_kind)9);
#undef REJECT
}

/* A schedule's members, each refused with a message naming it; the rules
 * between members apply only to the types that read them. */
static void test_schedule_validation(void **state) {
    (void)state;
    mlp_train_config ok, c;
    mlp_train_config_default(&ok);
#define REJECT_SCHED(kind, field, value, name)                                                     \
    do {                                                                                           \
        mlp_error e = {{0}};                                                                       \
        c = ok;                                                                                    \
        c.schedule.type = kind;                                                                    \
        c.schedule.field = value;                                                                  \
        assert_int_equal(mlp_train_config_validate(&c, &e), MLP_EINVAL);                           \
        if (!strstr(e.msg, name)) fail_msg("message \"%s\"", e.msg);                               \
    } while (0)
    REJECT_SCHED(MLP_LR_STEP, step_epochs, 0, "step_epochs");
    REJECT_SCHED(MLP_LR_STEP, step_epochs, -2, "step_epochs");
    REJECT_SCHED(MLP_LR_STEP, gamma, 0.0f, "gamma");
    REJECT_SCHED(MLP_LR_EXPONENTIAL, gamma, 1.5f, "gamma");
    REJECT_SCHED(MLP_LR_COSINE, min_lr, 0.02f, "min_lr"); /* above lr 0.01 */
    REJECT_SCHED(MLP_LR_COSINE, warmup_epochs, -1, "warmup_epochs");
    REJECT_SCHED(MLP_LR_COSINE, warmup_epochs, 10, "warmup_epochs"); /* = epochs */
    REJECT_SCHED(MLP_LR_PLATEAU, factor, 1.0f, "factor");
    REJECT_SCHED(MLP_LR_PLATEAU, patience, 0, "patience");
    REJECT_SCHED(MLP_LR_PLATEAU, cooldown, -1, "cooldown");
    REJECT_SCHED(MLP_LR_PLATEAU, monitor, (mlp_metric)8, "monitor");
    REJECT_SCHED(MLP_LR_PLATEAU, min_lr, 1.0f, "min_lr");
#undef REJECT_SCHED
    /* min_lr may equal the rate (a constant one), and the cross-member rules
     * apply only to the types that read the members */
    c = ok;
    c.schedule.type = MLP_LR_COSINE;
    c.schedule.min_lr = c.lr;
    assert_int_equal(mlp_train_config_validate(&c, NULL), MLP_OK);
    c.schedule.type = MLP_LR_STEP;
    c.schedule.min_lr = 2 * c.lr;
    c.schedule.warmup_epochs = c.epochs;
    assert_int_equal(mlp_train_config_validate(&c, NULL), MLP_OK);
}

/* mlp_train refuses a bad configuration before touching the model, and data
 * that does not fit the model. */
static void test_train_refuses_bad_input(void **state) {
    (void)state;
    mlp_train_config ok, c;
    mlp_train_config_default(&ok);
    mlp_dataset d = make_blobs(20, 1, 0);
    mlp_model *m = make_model(4, MLP_ACT_RELU, 1), *copy;
    assert_int_equal(mlp_model_clone(m, &copy, NULL), MLP_OK);
    c = ok;
    c.lr = -1;
    assert_int_equal(mlp_train(m, &d, &c, NULL, NULL), MLP_EINVAL);
    assert_memory_equal(m->params, copy->params, m->n_params * sizeof(float));
    d.features = 5;
    assert_int_equal(mlp_train(m, &d, &ok, NULL, NULL), MLP_EINVAL);
    d.features = FEATURES;
    d.labels[3] = CLASSES;
    assert_int_equal(mlp_train(m, &d, &ok, NULL, NULL), MLP_EINVAL);
    mlp_model_free(m);
    mlp_model_free(copy);
    free_blobs(&d);
}

static void test_arch_validation(void **state) {
    (void)state;
    mlp_arch a;
    mlp_error e;
    int huge = 1000000000, h2[2] = {16, 16}, wide[15];
    assert_int_equal(
        mlp_arch_make(&a, 784, &huge, 1, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, &e),
        MLP_EINVAL);
    assert_int_equal(mlp_arch_make(&a, 0, h2, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, &e),
                     MLP_EINVAL);
    assert_int_equal(
        mlp_arch_make(&a, 784, h2, 2, MLP_ACT_RELU, 100000, MLP_LOSS_CROSS_ENTROPY, -1, &e),
        MLP_EINVAL);
    assert_int_equal(
        mlp_arch_make(&a, 784, h2, 2, MLP_ACT_SOFTMAX, 10, MLP_LOSS_CROSS_ENTROPY, -1, &e),
        MLP_EINVAL);
    assert_int_equal(
        mlp_arch_make(&a, 784, h2, 2, MLP_ACT_RELU, 10, MLP_LOSS_MSE, MLP_ACT_SOFTMAX, &e),
        MLP_EINVAL);
    assert_non_null(strstr(e.msg, "mse"));
    assert_int_equal(
        mlp_arch_make(&a, 784, h2, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, MLP_ACT_LINEAR, &e),
        MLP_EINVAL);
    assert_int_equal(mlp_arch_make(&a, 784, h2, MLP_MAX_LAYERS, MLP_ACT_RELU, 10,
                                   MLP_LOSS_CROSS_ENTROPY, -1, &e),
                     MLP_EINVAL);
    /* the widest network the limits allow is still under MLP_MAX_PARAMS
     * (validated only, not allocated), and counted without overflow */
    for (int i = 0; i < 15; i++) wide[i] = MLP_MAX_HIDDEN;
    assert_int_equal(mlp_arch_make(&a, MLP_MAX_INPUT, wide, 15, MLP_ACT_RELU, MLP_MAX_OUTPUT,
                                   MLP_LOSS_CROSS_ENTROPY, -1, &e),
                     MLP_OK);
    assert_int_equal(mlp_arch_param_count(&a), (size_t)15 * 4096 * 4097 + (size_t)1024 * 4097);
    /* hand-built archs: 0 layers, softmax on a hidden layer, unknown loss */
    assert_int_equal(
        mlp_arch_make(&a, 784, h2, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, &e), MLP_OK);
    mlp_arch bad = a;
    bad.n_layers = 0;
    assert_int_equal(mlp_arch_validate(&bad, &e), MLP_EINVAL);
    bad = a;
    bad.act[0] = MLP_ACT_SOFTMAX;
    assert_int_equal(mlp_arch_validate(&bad, &e), MLP_EINVAL);
    assert_non_null(strstr(e.msg, "softmax"));
    bad = a;
    bad.sizes[1] = 1000000000;
    assert_int_equal(mlp_arch_validate(&bad, &e), MLP_EINVAL);
    bad = a;
    bad.loss = (mlp_loss)9;
    assert_int_equal(mlp_arch_validate(&bad, &e), MLP_EINVAL);
    mlp_model *m = (mlp_model *)&e; /* must be reset to NULL on failure */
    assert_int_equal(mlp_model_create(&bad, MLP_INIT_HE_NORMAL, 1, &m, &e), MLP_EINVAL);
    assert_null(m);
    /* the default output activation follows the loss */
    assert_int_equal(a.act[2], MLP_ACT_SOFTMAX);
    assert_int_equal(mlp_arch_param_count(&a),
                     (size_t)(784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10));
    assert_int_equal(mlp_arch_make(&a, 3, NULL, 0, MLP_ACT_RELU, 2, MLP_LOSS_MSE, -1, &e), MLP_OK);
    assert_int_equal(a.act[0], MLP_ACT_LINEAR);
}

/* ---- model creation ------------------------------------------------------------------------ */

static void test_init(void **state) {
    (void)state;
    mlp_arch a;
    int hidden = 300;
    assert_int_equal(
        mlp_arch_make(&a, 200, &hidden, 1, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    mlp_model *g, *h;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 1, &g, NULL), MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 1, &h, NULL), MLP_OK);
    /* one allocation: W0 b0 W1 b1 back to back */
    assert_ptr_equal(g->W[0], g->params);
    assert_ptr_equal(g->b[0], g->params + 200 * 300);
    assert_ptr_equal(g->W[1], g->b[0] + 300);
    assert_ptr_equal(g->b[1] + 10, g->params + g->n_params);
    size_t n = 200 * 300;
    double limit = sqrt(6.0 / 500), sum2 = 0, hmax = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(fabsf(g->W[0][i]) <= limit);
        sum2 += (double)h->W[0][i] * h->W[0][i];
        hmax = fmax(hmax, fabs(h->W[0][i]));
    }
    double sd = sqrt(sum2 / n), want = sqrt(2.0 / 200);
    printf("  he_normal std %.5f (want %.5f), max |w| %.4f\n", sd, want, hmax);
    assert_true(fabs(sd - want) < 0.02 * want);
    assert_true(hmax <= 2 * want / 0.87962566103423978 + 1e-6);
    for (int j = 0; j < 300; j++) assert_true(g->b[0][j] == 0.0f && h->b[0][j] == 0.0f);
    mlp_model *c;
    assert_int_equal(mlp_model_clone(h, &c, NULL), MLP_OK);
    assert_ptr_not_equal(c->params, h->params);
    assert_memory_equal(c->params, h->params, h->n_params * sizeof(float));
    assert_ptr_equal(c->W[1], c->b[0] + 300);
    mlp_model_free(g);
    mlp_model_free(h);
    mlp_model_free(c);
    mlp_model_free(NULL);
}

static void test_names_and_rng(void **state) {
    (void)state;
    for (int a = 0; a <= MLP_ACT_LINEAR; a++) {
        mlp_act back;
        assert_int_equal(mlp_act_from_name(mlp_act_name((mlp_act)a), &back), 0);
        assert_int_equal(back, a);
    }
    mlp_optimizer o;
    mlp_loss l;
    mlp_init in;
    assert_int_equal(mlp_optimizer_from_name("adam", &o), 0);
    assert_int_equal(o, MLP_OPT_ADAM);
    assert_int_equal(mlp_loss_from_name("mse", &l), 0);
    assert_int_equal(mlp_init_from_name("he_normal", &in), 0);
    assert_int_equal(in, MLP_INIT_HE_NORMAL);
    assert_int_equal(mlp_optimizer_from_name("Adam", &o), -1);
    assert_int_equal(mlp_act_from_name(NULL, NULL), -1);
    assert_string_equal(mlp_status_str(MLP_ENUMERIC), "numeric error (loss not finite)");
    assert_string_equal(mlp_act_name((mlp_act)42), "?");

    mlp_rng r;
    mlp_rng_seed(&r, 2024);
    double sum = 0, sum2 = 0;
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        float u = mlp_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        double z = mlp_rng_normal(&r);
        sum += z;
        sum2 += z * z;
    }
    assert_true(fabs(sum / N) < 0.02 && fabs(sum2 / N - 1) < 0.02);
    uint32_t perm[1000];
    int seen[1000] = {0};
    for (int i = 0; i < 1000; i++) perm[i] = (uint32_t)i;
    mlp_rng_shuffle(&r, perm, 1000);
    int moved = 0;
    for (int i = 0; i < 1000; i++) {
        seen[perm[i]]++;
        moved += perm[i] != (uint32_t)i;
    }
    for (int i = 0; i < 1000; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 900);
}

/* ---- concurrent inference ------------------------------------------------------------------ */

typedef struct {
    const mlp_model *m;
    const float *x;
    int batch;
    float *out;
    int *labels;
} predict_job;

static void *predict_thread(void *arg) {
    predict_job *j = arg;
    float *scratch = malloc(mlp_scratch_floats(j->m, j->batch) * sizeof(float));
    for (int rep = 0; rep < 20; rep++)
        mlp_predict(j->m, j->x, j->batch, j->out, j->labels, scratch);
    free(scratch);
    return NULL;
}

static void test_concurrent_predict(void **state) {
    (void)state;
    enum { THREADS = 4, B = 64 };
    mlp_dataset d = make_blobs(B, 17, 0);
    mlp_model *m = make_model(128, MLP_ACT_RELU, 18);
    predict_job ref = {m, d.x_f32, B, malloc(B * CLASSES * sizeof(float)), malloc(B * sizeof(int))};
    predict_thread(&ref);
    predict_job jobs[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = ref;
        jobs[i].out = malloc(B * CLASSES * sizeof(float));
        jobs[i].labels = malloc(B * sizeof(int));
        assert_int_equal(pthread_create(&t[i], NULL, predict_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_memory_equal(jobs[i].out, ref.out, B * CLASSES * sizeof(float));
        assert_memory_equal(jobs[i].labels, ref.labels, B * sizeof(int));
        free(jobs[i].out);
        free(jobs[i].labels);
    }
    free(ref.out);
    free(ref.labels);
    mlp_model_free(m);
    free_blobs(&d);
}

/* mlp_model_input_bound: the formula on a small network, 0 for non-finite
 * weights, and rows at the bound (the worst signs included) give finite
 * outputs through the reference and the packed kernel of the reference
 * network. */
static void test_input_bound(void **state) {
    (void)state;
    const int small_hidden[] = {2};
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(
        mlp_arch_make(&a, 2, small_hidden, 1, MLP_ACT_RELU, 2, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 1, &m, NULL), MLP_OK);
    for (int k = 0; k < 4; k++) m->W[0][k] = k % 2 ? -2.0f : 2.0f; /* ||W||_inf 4 */
    m->b[0][0] = 0.5f, m->b[0][1] = 0.0f;                          /* + 0.5 */
    for (int k = 0; k < 4; k++) m->W[1][k] = 0.25f;                /* 0.5, below 1: 1 */
    m->b[1][0] = m->b[1][1] = 0.0f;
    double want = (double)FLT_MAX / 4.0 / 4.5;
    assert_true(fabs(mlp_model_input_bound(m) - want) <= want * 1e-6);
    m->W[1][3] = INFINITY;
    assert_true(mlp_model_input_bound(m) == 0.0f);
    mlp_model_free(m);

    const int hidden[] = {512, 256};
    assert_int_equal(
        mlp_arch_make(&a, 784, hidden, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 1, &m, NULL), MLP_OK);
    float bound = mlp_model_input_bound(m);
    fprintf(stderr, "input bound of a he_normal 784-512-256-10: %g\n", bound);
    assert_true(bound > 1e30f && bound < FLT_MAX);
    enum { ROWS = 3 };
    float *x = malloc(sizeof(float) * ROWS * 784), probs[ROWS * 10];
    float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, ROWS));
    for (int k = 0; k < 784; k++) {
        x[k] = bound;                                     /* all at the bound */
        x[784 + k] = k % 2 ? -bound : bound;              /* mixed signs */
        x[2 * 784 + k] = m->W[0][k] < 0 ? -bound : bound; /* unit 0's largest sum */
    }
    for (int packed = 0; packed < 2; packed++) {
        if (packed) assert_int_equal(mlp_model_pack(m, NULL), MLP_OK);
        mlp_predict(m, x, ROWS, probs, NULL, scratch);
        for (int k = 0; k < ROWS * 10; k++) assert_true(isfinite(probs[k]));
    }
    free(scratch);
    free(x);
    mlp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_validation),
        cmocka_unit_test(test_schedule_validation),
        cmocka_unit_test(test_train_refuses_bad_input),
        cmocka_unit_test(test_arch_validation),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_names_and_rng),
        cmocka_unit_test(test_concurrent_predict),
        cmocka_unit_test(test_input_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
