/* test_engine_watch.c - what mlp_train() watches and reports, on the
 * synthetic blobs of engine_fixtures.h: early stopping and restoring the
 * best weights, callbacks that stop training, a NaN loss, the validation
 * split, the monitored metric and its mode, reduce_on_plateau, and refused
 * combinations.
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

/* ---- early stopping and callbacks ------------------------------------------------------------ */

typedef struct {
    int epochs_seen;
    double val_loss[256];
    float *params[256]; /* weights after each epoch */
    size_t n_params;
    long batches, stop_at_batch;
    int stop_at_epoch;
    long samples_per_epoch_steps;
} recorder;

static int record_epoch(const mlp_progress *p, const mlp_model *m, void *user) {
    recorder *r = user;
    assert_int_equal(p->epoch, r->epochs_seen + 1);
    r->val_loss[r->epochs_seen] = p->val_loss;
    r->params[r->epochs_seen] = malloc(m->n_params * sizeof(float));
    memcpy(r->params[r->epochs_seen], m->params, m->n_params * sizeof(float));
    r->n_params = m->n_params;
    r->epochs_seen++;
    return r->stop_at_epoch && p->epoch == r->stop_at_epoch;
}

static int count_batch(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    recorder *r = user;
    r->batches++;
    assert_int_equal(p->global_step, r->batches);
    assert_true(isnan(p->val_loss));
    return r->stop_at_batch && r->batches == r->stop_at_batch;
}

static void recorder_free(recorder *r) {
    for (int i = 0; i < r->epochs_seen; i++) free(r->params[i]);
}

static void early_stopping_case(int restore) {
    /* Random labels: nothing to learn, so a big network with a high rate
     * overfits and the validation loss rises. */
    mlp_dataset d = make_blobs(200, 7, 1);
    mlp_model *m = make_model(64, MLP_ACT_RELU, 8);
    recorder rec = {0};
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.optimizer = MLP_OPT_ADAM;
    c.lr = 0.02f;
    c.batch_size = 16;
    c.epochs = 200;
    c.validation_split = 0.25f;
    c.patience = 3;
    c.restore_best = restore;
    c.on_epoch = record_epoch;
    c.user = &rec;
    mlp_train_result res;
    assert_int_equal(mlp_train(m, &d, &c, &res, NULL), MLP_OK);
    assert_true(res.stopped_early);
    assert_true(res.epochs_run < 200);
    assert_int_equal(rec.epochs_seen, res.epochs_run);
    /* the best epoch is the first minimum of val_loss, and patience epochs follow it */
    int best = 0;
    for (int e = 1; e < rec.epochs_seen; e++)
        if (rec.val_loss[e] < rec.val_loss[best]) best = e;
    printf("  restore %d: stopped after %d epochs, best %d (val_loss %.4f, last %.4f)\n", restore,
           res.epochs_run, best + 1, rec.val_loss[best], rec.val_loss[rec.epochs_seen - 1]);
    assert_int_equal(res.epochs_run, best + 1 + c.patience);
    if (restore) {
        assert_int_equal(res.best_epoch, best + 1);
        assert_memory_equal(m->params, rec.params[best], m->n_params * sizeof(float));
    } else {
        assert_int_equal(res.best_epoch, res.epochs_run);
        assert_memory_equal(m->params, rec.params[rec.epochs_seen - 1],
                            m->n_params * sizeof(float));
    }
    recorder_free(&rec);
    mlp_model_free(m);
    free_blobs(&d);
}

static void test_early_stopping(void **state) {
    (void)state;
    early_stopping_case(1);
    early_stopping_case(0);
}

static void test_callbacks_stop(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(100, 9, 0);
    mlp_model *m = make_model(8, MLP_ACT_TANH, 10);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.batch_size = 10; /* 10 batches per epoch */
    c.epochs = 5;
    recorder rec = {.stop_at_batch = 13};
    c.on_batch = count_batch;
    c.on_epoch = record_epoch;
    c.user = &rec;
    mlp_train_result res;
    mlp_error err;
    assert_int_equal(mlp_train(m, &d, &c, &res, &err), MLP_ESTOPPED);
    assert_int_equal(rec.batches, 13);
    assert_int_equal(res.epochs_run, 1);
    assert_int_equal(rec.epochs_seen, 1);
    assert_true(strlen(err.msg) > 0);
    recorder_free(&rec);

    recorder rec2 = {.stop_at_epoch = 2};
    c.on_batch = count_batch;
    c.user = &rec2;
    assert_int_equal(mlp_train(m, &d, &c, &res, NULL), MLP_ESTOPPED);
    assert_int_equal(res.epochs_run, 2);
    assert_int_equal(rec2.batches, 20);
    assert_int_equal(res.last.epoch, 2);
    assert_int_equal(res.last.steps, 10);
    recorder_free(&rec2);
    mlp_model_free(m);
    free_blobs(&d);
}

static void test_nan_loss(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(100, 11, 0);
    mlp_arch a;
    int hidden = 8;
    assert_int_equal(
        mlp_arch_make(&a, FEATURES, &hidden, 1, MLP_ACT_RELU, CLASSES, MLP_LOSS_MSE, -1, NULL),
        MLP_OK);
    mlp_model *m;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 1, &m, NULL), MLP_OK);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.lr = 10.0f; /* the largest allowed: MSE on these blobs diverges to inf */
    c.batch_size = 10;
    mlp_error err;
    assert_int_equal(mlp_train(m, &d, &c, NULL, &err), MLP_ENUMERIC);
    /* Said in words, with where it happened (not "loss is -nan"). */
    char what[16];
    int epoch = 0;
    long step = 0;
    assert_int_equal(
        sscanf(err.msg, "the loss became %15s at epoch %d, step %ld", what, &epoch, &step), 3);
    assert_true(!strcmp(what, "NaN") || !strcmp(what, "infinite"));
    assert_true(epoch >= 1 && step >= 1 && step <= 10);
    assert_null(strstr(err.msg, "nan"));
    mlp_model_free(m);
    free_blobs(&d);
}

/* ---- validation split ------------------------------------------------------------------------ */

static int remember_last(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    *(mlp_progress *)user = *p;
    return 0;
}

static void test_validation_split(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(1000, 15, 0);
    mlp_model *m = make_model(8, MLP_ACT_RELU, 16);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.batch_size = 1;
    c.epochs = 1;
    c.validation_split = 0.3f; /* Keras: int(1000 * (1 - 0.3)) = 700 rows train */
    mlp_progress last;
    c.on_epoch = remember_last;
    c.user = &last;
    mlp_train_result res;
    assert_int_equal(mlp_train(m, &d, &c, &res, NULL), MLP_OK);
    assert_int_equal(last.steps, 700);
    assert_int_equal(res.last.global_step, 700);
    /* the validation metrics are those of the last 300 rows */
    mlp_dataset tail = d;
    tail.n = 300;
    tail.x_f32 = d.x_f32 + 700 * FEATURES;
    tail.labels = d.labels + 700;
    mlp_eval_result e = eval(m, &tail);
    printf("  val_loss %.6f (evaluate %.6f), val_accuracy %.4f (evaluate %.4f)\n", last.val_loss,
           e.loss, last.val_accuracy, e.accuracy);
    assert_true(fabs(last.val_loss - e.loss) < 1e-6 * fabs(e.loss));
    assert_true(last.val_accuracy == e.accuracy);
    assert_true(isfinite(last.loss) && isfinite(last.accuracy));
    mlp_eval_result_free(&e);

    /* 0.2 of 8 rows: 6 train, 2 validation, batch 4 -> 2 steps */
    c.validation_split = 0.2f;
    c.batch_size = 4;
    tail.n = 8;
    assert_int_equal(mlp_train(m, &tail, &c, &res, NULL), MLP_OK);
    assert_int_equal(last.steps, 2);
    /* without a split there are no validation numbers */
    c.validation_split = 0;
    assert_int_equal(mlp_train(m, &tail, &c, &res, NULL), MLP_OK);
    assert_true(isnan(last.val_loss) && isnan(last.val_accuracy));
    /* a split that leaves no validation rows is refused */
    c.validation_split = 1e-30f; /* 8 * (1 - 1e-30) == 8 in double */
    assert_int_equal(mlp_train(m, &tail, &c, &res, NULL), MLP_EINVAL);
    mlp_model_free(m);
    free_blobs(&d);
}

/* Early stopping on val_accuracy (mode auto = max): the run stops `patience`
 * epochs after the first epoch of highest validation accuracy and restores
 * its weights; on val_loss with mode max the watcher looks for a rise. */
typedef struct {
    int n;
    double val_acc[256], val_loss[256], lr[256];
} metric_log;

static int log_metrics(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    metric_log *l = user;
    l->val_acc[l->n] = p->val_accuracy;
    l->val_loss[l->n] = p->val_loss;
    l->lr[l->n] = p->learning_rate;
    l->n++;
    return 0;
}

static void test_monitor_val_accuracy(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(200, 7, 1); /* random labels: accuracy wanders */
    for (int mode = 0; mode < 2; mode++) {
        mlp_model *m = make_model(64, MLP_ACT_RELU, 8);
        metric_log log = {0};
        mlp_train_config c;
        mlp_train_config_default(&c);
        c.optimizer = MLP_OPT_ADAM;
        c.lr = 0.02f;
        c.batch_size = 16;
        c.epochs = 60;
        c.validation_split = 0.25f;
        c.patience = 4;
        c.monitor = mode == 0 ? MLP_METRIC_VAL_ACCURACY : MLP_METRIC_VAL_LOSS;
        c.mode = mode == 0 ? MLP_MODE_AUTO : MLP_MODE_MAX;
        c.on_epoch = log_metrics;
        c.user = &log;
        mlp_train_result res;
        assert_int_equal(mlp_train(m, &d, &c, &res, NULL), MLP_OK);
        const double *v = mode == 0 ? log.val_acc : log.val_loss;
        int best = 0; /* first maximum, as a strict improvement keeps the first */
        for (int e = 1; e < log.n; e++)
            if (v[e] > v[best]) best = e;
        printf("  %s max: stopped after %d epochs, best %d (%.4f)\n",
               mode ? "val_loss" : "val_accuracy", res.epochs_run, best + 1, v[best]);
        if (res.stopped_early) assert_int_equal(res.epochs_run, best + 1 + c.patience);
        assert_int_equal(res.best_epoch, res.stopped_early ? best + 1 : res.epochs_run);
        mlp_model_free(m);
    }
    free_blobs(&d);
}

/* reduce_on_plateau as Keras: with a min_delta no epoch can beat, the rate
 * falls by `factor` every `patience` epochs after the first, and never below
 * min_lr; the rate of each epoch is reported as learning_rate. */
static void test_reduce_on_plateau(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(64, 3, 0);
    mlp_model *m = make_model(8, MLP_ACT_RELU, 4);
    metric_log log = {0};
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.lr = 0.1f;
    c.epochs = 9;
    c.batch_size = 16;
    c.schedule.type = MLP_LR_PLATEAU;
    c.schedule.monitor = MLP_METRIC_LOSS;
    c.schedule.factor = 0.5f;
    c.schedule.patience = 2;
    c.schedule.min_delta = 1e9f;
    c.schedule.min_lr = 0.02f;
    c.on_epoch = log_metrics;
    c.user = &log;
    assert_int_equal(mlp_train(m, &d, &c, NULL, NULL), MLP_OK);
    /* epoch 1 improves on +inf; epochs 2-3 do not -> 0.05 from epoch 4, 0.025
     * from 6, then the floor 0.02 from 8 */
    const double want[9] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02};
    assert_int_equal(log.n, 9);
    for (int e = 0; e < 9; e++) {
        if (fabs(log.lr[e] - want[e]) > 1e-8)
            fail_msg("epoch %d: rate %g, want %g", e + 1, log.lr[e], want[e]);
    }
    mlp_model_free(m);
    free_blobs(&d);
}

/* Configurations mlp_train refuses with this model or state. */
static void test_refused_combinations(void **state) {
    (void)state;
    mlp_dataset d = make_blobs(32, 1, 0);
    mlp_model *m = make_model(4, MLP_ACT_RELU, 1);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.epochs = 1;
    mlp_error err = {{0}};
    /* a momentum state for an adam run, and a state of the wrong size */
    float buf[4096] = {0};
    assert_true(m->n_params <= 4096);
    mlp_optim_state st = {.kind = MLP_OPT_MOMENTUM, .step = 3, .n = m->n_params, .m = buf};
    c.optimizer = MLP_OPT_ADAM;
    c.init_state = &st;
    assert_int_equal(mlp_train(m, &d, &c, NULL, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "momentum"));
    c.optimizer = MLP_OPT_MOMENTUM;
    st.n = m->n_params - 1;
    assert_int_equal(mlp_train(m, &d, &c, NULL, &err), MLP_EINVAL);
    st.n = m->n_params;
    assert_int_equal(mlp_train(m, &d, &c, NULL, &err), MLP_OK);
    mlp_model_free(m);
    /* label smoothing needs cross-entropy */
    mlp_arch a;
    const int hidden[1] = {4};
    assert_int_equal(
        mlp_arch_make(&a, FEATURES, hidden, 1, MLP_ACT_RELU, CLASSES, MLP_LOSS_MSE, -1, &err),
        MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 1, &m, &err), MLP_OK);
    mlp_train_config_default(&c);
    c.label_smoothing = 0.1f;
    assert_int_equal(mlp_train(m, &d, &c, NULL, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "label_smoothing"));
    mlp_model_free(m);
    free_blobs(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_callbacks_stop),
        cmocka_unit_test(test_nan_loss),
        cmocka_unit_test(test_validation_split),
        cmocka_unit_test(test_monitor_val_accuracy),
        cmocka_unit_test(test_reduce_on_plateau),
        cmocka_unit_test(test_refused_combinations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
