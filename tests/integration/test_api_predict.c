/* test_api_predict.c - POST /predict: one vector, a batch, the latest model,
 * and what is refused (unknown model, no model yet, width, batch limit). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

#define N_DIGITS 16

static mlpd_daemon D;
static int64_t model_id;
static float *digits;
static int labels[N_DIGITS];

static int setup(void **state) {
    (void)state;
    const char *const extra[] = {"--max-predict-batch", "32", NULL};
    if (daemon_start(&D, extra) != 0) return -1;
    model_id = train_model(&D,
                           "{\"hidden\":[32],\"epochs\":3,\"batch_size\":32,"
                           "\"learning_rate\":0.1,\"seed\":11}",
                           120, NULL);
    if (model_id <= 0) return -1;
    return load_test_digits(&D, N_DIGITS, &digits, labels);
}

static int teardown(void **state) {
    (void)state;
    free(digits);
    int rc = daemon_stop(&D);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* POST body to /predict; checks the status, returns the parsed body. */
static cJSON *predict(const char *body, long want) {
    http_result r;
    assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
    if (r.status != want) fprintf(stderr, "POST /predict -> %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, want);
    assert_string_equal(r.content_type,
                        want == 200 ? "application/json" : "application/problem+json");
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(j);
    return j;
}

/* Probabilities sum to 1 and the label is their argmax; returns the label. */
static int check_prediction(const cJSON *p, float *probs_out) {
    const cJSON *probs = cJSON_GetObjectItemCaseSensitive(p, "probabilities");
    assert_int_equal(cJSON_GetArraySize(probs), 10);
    double sum = 0, best = -1;
    int arg = -1, k = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, probs) {
        assert_true(cJSON_IsNumber(v));
        assert_true(v->valuedouble >= 0 && v->valuedouble <= 1);
        sum += v->valuedouble;
        if (v->valuedouble > best) best = v->valuedouble, arg = k;
        if (probs_out) probs_out[k] = (float)v->valuedouble;
        k++;
    }
    assert_true(fabs(sum - 1.0) < 1e-4);
    assert_int_equal((int)json_num(p, "label"), arg);
    return arg;
}

static void test_single_vector(void **state) {
    (void)state;
    char *body = predict_body(model_id, digits, 1, 784, 0);
    cJSON *j = predict(body, 200);
    free(body);
    assert_int_equal((int)json_num(j, "model"), (int)model_id);
    cJSON *preds = cJSON_GetObjectItemCaseSensitive(j, "predictions");
    assert_int_equal(cJSON_GetArraySize(preds), 1);
    check_prediction(cJSON_GetArrayItem(preds, 0), NULL);
    cJSON_Delete(j);
}

static void test_batch_matches_single_rows(void **state) {
    (void)state;
    char *body = predict_body(model_id, digits, N_DIGITS, 784, 1);
    cJSON *j = predict(body, 200);
    free(body);
    cJSON *preds = cJSON_GetObjectItemCaseSensitive(j, "predictions");
    assert_int_equal(cJSON_GetArraySize(preds), N_DIGITS);
    int correct = 0;
    for (int i = 0; i < N_DIGITS; i++) {
        float batch_p[10], single_p[10];
        int label = check_prediction(cJSON_GetArrayItem(preds, i), batch_p);
        correct += label == labels[i];
        if (i < 3) { /* the same row alone gives the same answer */
            char *one = predict_body(model_id, digits + (size_t)i * 784, 1, 784, 0);
            cJSON *s = predict(one, 200);
            free(one);
            int l1 = check_prediction(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "predictions"), 0),
                single_p);
            assert_int_equal(l1, label);
            for (int k = 0; k < 10; k++) assert_true(fabsf(batch_p[k] - single_p[k]) < 1e-5f);
            cJSON_Delete(s);
        }
    }
    /* 3 epochs reach well above 80% on the digits; 16 samples leave margin. */
    assert_true(correct >= N_DIGITS / 2);
    cJSON_Delete(j);
}

static void test_latest_model_is_the_default(void **state) {
    (void)state;
    char *body = predict_body(0, digits, 1, 784, 0);
    cJSON *j = predict(body, 200);
    free(body);
    assert_int_equal((int)json_num(j, "model"), (int)model_id);
    cJSON_Delete(j);
}

static void test_refusals(void **state) {
    (void)state;
    /* unknown model */
    char *body = predict_body(987654, digits, 1, 784, 0);
    cJSON *j = predict(body, 404);
    free(body);
    assert_string_equal(json_str(j, "pointer"), "/model");
    cJSON_Delete(j);
    /* wrong width: 783 values, single and batch */
    body = predict_body(model_id, digits, 1, 783, 0);
    j = predict(body, 422);
    free(body);
    assert_string_equal(json_str(j, "pointer"), "/input");
    assert_non_null(strstr(json_str(j, "detail"), "784"));
    cJSON_Delete(j);
    body = predict_body(model_id, digits, 2, 783, 1);
    j = predict(body, 422);
    free(body);
    assert_string_equal(json_str(j, "pointer"), "/inputs");
    cJSON_Delete(j);
    /* more rows than --max-predict-batch 32 */
    float *zeros = calloc(33 * 4, sizeof *zeros);
    body = predict_body(model_id, zeros, 33, 4, 1);
    j = predict(body, 413);
    free(body);
    free(zeros);
    assert_int_equal((int)json_num(j, "status"), 413);
    cJSON_Delete(j);
    /* the daemon still answers */
    body = predict_body(model_id, digits, 1, 784, 0);
    cJSON_Delete(predict(body, 200));
    free(body);
}

static void test_no_model_yet_is_404(void **state) {
    (void)state;
    mlpd_daemon fresh;
    assert_int_equal(daemon_start(&fresh, NULL), 0);
    char *body = predict_body(0, digits, 1, 784, 0);
    http_result r;
    assert_int_equal(http_post_json(&fresh, "/predict", body, &r), 0);
    free(body);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.content_type, "application/problem+json");
    cJSON *j = http_result_json(&r);
    assert_string_equal(json_str(j, "pointer"), "/model");
    assert_non_null(strstr(json_str(j, "detail"), "no model"));
    cJSON_Delete(j);
    http_result_free(&r);
    assert_int_equal(daemon_stop(&fresh), 0);
    daemon_cleanup(&fresh);
}

static void test_predictions_are_counted_in_metrics(void **state) {
    (void)state;
    http_result r;
    assert_int_equal(http_get(&D, "/metrics", &r), 0);
    assert_int_equal(r.status, 200);
    const char *line = strstr(r.body, "\nmlpd_predict_rows_total ");
    assert_non_null(line);
    /* every row predicted above: 1 + 16 + 3 + 1 + 1 */
    assert_true(atof(line + strlen("\nmlpd_predict_rows_total ")) >= 22);
    http_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_vector),
        cmocka_unit_test(test_batch_matches_single_rows),
        cmocka_unit_test(test_latest_model_is_the_default),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_no_model_yet_is_404),
        cmocka_unit_test(test_predictions_are_counted_in_metrics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
