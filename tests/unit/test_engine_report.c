/* test_engine_report.c - mlp_evaluate_report on a data set whose answers are
 * known by construction.
 *
 * A one-layer 3-3 softmax network with W = 5 I and b = 0 predicts the argmax
 * of its input, so each row's prediction is chosen by its values and its
 * label by hand: the confusion matrix, per-class precision/recall/F1, the
 * averages, the confused pairs and the order of the worst misclassified rows
 * are worked out below, not taken from the code under test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"

/* rows: (input, label); the prediction is the input's argmax */
static const float X[7][3] = {
    {1, 0, 0},       /* label 0, predicted 0 */
    {0.9f, 0.1f, 0}, /* label 0, predicted 0 */
    {0, 1, 0},       /* label 1, predicted 1 */
    {0, 0.2f, 1},    /* label 1, predicted 2: p = e^5 / (1 + e + e^5) = 0.9755 */
    {0, 0, 1},       /* label 2, predicted 2 */
    {0.5f, 0, 0.4f}, /* label 2, predicted 0: p = e^2.5 / (e^2.5 + 1 + e^2) = 0.5917 */
    {0, 2, 0},       /* label 0, predicted 1: p = e^10 / (e^10 + 2) = 0.99991 */
};
static const int32_t Y[7] = {0, 0, 1, 1, 2, 2, 0};

static mlp_model *argmax_model(void) {
    mlp_arch a;
    mlp_model *m = NULL;
    assert_int_equal(
        mlp_arch_make(&a, 3, NULL, 0, MLP_ACT_RELU, 3, MLP_LOSS_CROSS_ENTROPY, -1, NULL), MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 1, &m, NULL), MLP_OK);
    memset(m->params, 0, m->n_params * sizeof(float));
    for (int k = 0; k < 3; k++) m->W[0][k * 3 + k] = 5.0f;
    return m;
}

static mlp_dataset *rows(void) {
    mlp_dataset *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->n = 7;
    d->features = 3;
    d->classes = 3;
    d->x_f32 = malloc(sizeof X);
    d->labels = malloc(sizeof Y);
    assert_non_null(d->x_f32);
    assert_non_null(d->labels);
    memcpy(d->x_f32, X, sizeof X);
    memcpy(d->labels, Y, sizeof Y);
    return d;
}

static void test_report_by_hand(void **state) {
    (void)state;
    mlp_model *m = argmax_model();
    mlp_dataset *d = rows();
    mlp_report r;
    mlp_error err = {{0}};
    assert_int_equal(mlp_evaluate_report(m, d, 10, 2, &r, &err), MLP_OK);
    static const uint32_t want_conf[9] = {2, 1, 0, 0, 1, 1, 1, 0, 1};
    assert_int_equal(r.eval.classes, 3);
    assert_memory_equal(r.eval.confusion, want_conf, sizeof want_conf);
    assert_true(fabs(r.eval.accuracy - 4.0 / 7.0) < 1e-12);
    const double want_p[3] = {2.0 / 3, 0.5, 0.5}, want_r[3] = {2.0 / 3, 0.5, 0.5};
    const uint32_t want_support[3] = {3, 2, 2};
    for (int c = 0; c < 3; c++) {
        assert_true(fabs(r.precision[c] - want_p[c]) < 1e-12);
        assert_true(fabs(r.recall[c] - want_r[c]) < 1e-12);
        assert_true(fabs(r.f1[c] - want_p[c]) < 1e-12); /* p == r, so f1 == p */
        assert_int_equal(r.support[c], want_support[c]);
    }
    for (int f = 0; f < 3; f++) {
        assert_true(fabs(r.macro[f] - 5.0 / 9.0) < 1e-12);
        assert_true(fabs(r.weighted[f] - 4.0 / 7.0) < 1e-12);
    }
    /* every off-diagonal count is 1: true-class order */
    assert_int_equal(r.n_pairs, 3);
    const int want_pairs[3][2] = {{0, 1}, {1, 2}, {2, 0}};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(r.pairs[k].true_class, want_pairs[k][0]);
        assert_int_equal(r.pairs[k].predicted, want_pairs[k][1]);
        assert_int_equal(r.pairs[k].count, 1);
    }
    /* the two most confident mistakes: row 6 (0.99991), then row 3 (0.9755) */
    assert_int_equal(r.n_worst, 2);
    assert_int_equal(r.worst[0].index, 6);
    assert_int_equal(r.worst[0].label, 0);
    assert_int_equal(r.worst[0].predicted, 1);
    assert_true(fabsf(r.worst[0].p_predicted - (float)(exp(10) / (exp(10) + 2))) < 1e-6f);
    assert_true(fabsf(r.worst[0].p_label - (float)(1 / (exp(10) + 2))) < 1e-7f);
    assert_int_equal(r.worst[1].index, 3);
    assert_true(fabsf(r.worst[1].p_predicted - (float)(exp(5) / (1 + exp(1) + exp(5)))) < 1e-6f);
    mlp_report_free(&r);

    /* fewer pairs than cells, all the mistakes, and a row the network gets right */
    assert_int_equal(mlp_evaluate_report(m, d, 1, 10, &r, &err), MLP_OK);
    assert_int_equal(r.n_pairs, 1);
    assert_int_equal(r.n_worst, 3);
    assert_int_equal(r.worst[2].index, 5);
    mlp_report_free(&r);
    mlp_dataset_free(d);
    mlp_model_free(m);
}

/* A class never predicted has precision 0 (not NaN); a width mismatch is refused. */
static void test_zero_division_and_width(void **state) {
    (void)state;
    mlp_model *m = argmax_model();
    mlp_dataset *d = rows();
    d->n = 2; /* rows 0 and 1 only: class 0, predicted 0 */
    mlp_report r;
    assert_int_equal(mlp_evaluate_report(m, d, 5, 5, &r, NULL), MLP_OK);
    assert_true(r.precision[1] == 0.0 && r.recall[1] == 0.0 && r.f1[1] == 0.0);
    assert_true(r.precision[0] == 1.0);
    assert_int_equal(r.n_pairs, 0);
    assert_int_equal(r.n_worst, 0);
    assert_true(fabs(r.macro[0] - 1.0 / 3.0) < 1e-12);
    assert_true(fabs(r.weighted[0] - 1.0) < 1e-12);
    mlp_report_free(&r);
    d->features = 4;
    mlp_error err = {{0}};
    assert_int_equal(mlp_evaluate_report(m, d, 5, 5, &r, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "features"));
    mlp_report_free(&r);
    d->features = 3;
    mlp_dataset_free(d);
    mlp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_by_hand),
        cmocka_unit_test(test_zero_division_and_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
