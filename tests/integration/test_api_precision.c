/* test_api_precision.c - serving a model version in bf16 or int8
 * (PUT/GET /models/{name}/versions/{v}/precision, "precision" in POST
 * /predict; docs/precision.md).
 *
 * - Opting a trained version into int8 measures both accuracies on the
 *   run's test split: the float32 one equals the job's own test accuracy,
 *   the drop is their difference; GET gives the same record; predictions
 *   then run in int8 (close to float32's, not the same bits), "float32" per
 *   request still gives float32's bits, a precision the version does not
 *   serve is 422.
 * - The accuracy check refuses: a copy of the model with one huge weight per
 *   first-layer output on pixel 0 (always 0 in these digits, so float32
 *   answers are unchanged, which the test checks through the reported
 *   float32 accuracy) makes every other int8 weight of that layer round to
 *   zero: 422 naming --max-precision-drop, and the version stays float32.
 * - The v2 protocol's parameters.precision follows the same rule (400).
 * - An uploaded model must name its dataset; bad bodies are 422; unknown
 *   versions 404; "float32" goes back.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"
#include "mlp.h"
#include "oip_client.h"

static mlpd_daemon D;
static int64_t model_id, job_id;
static double job_test_accuracy;
static float *digits;
static const char *JSON = "application/json";

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    model_id = train_model(&D,
                           "{\"hidden\":[64],\"epochs\":2,\"batch_size\":32,"
                           "\"learning_rate\":0.1,\"seed\":3,\"model_name\":\"digits\"}",
                           120, &job_id);
    if (model_id <= 0 || load_test_digits(&D, 4, &digits, NULL) != 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/jobs/%lld", (long long)job_id);
    http_result r;
    if (http_get(&D, path, &r) != 0) return -1;
    cJSON *j = http_result_json(&r);
    job_test_accuracy = j ? json_num(j, "test_accuracy") : NAN;
    cJSON_Delete(j);
    http_result_free(&r);
    return isnan(job_test_accuracy) ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    free(digits);
    int rc = daemon_stop(&D);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static cJSON *put_precision(const char *name, const char *body, long status) {
    char path[128];
    snprintf(path, sizeof path, "/models/%s/versions/1/precision", name);
    http_result r;
    assert_int_equal(http_do(&D, "PUT", path, JSON, body, strlen(body), NULL, 0, &r), 0);
    if (r.status != status) fail_msg("PUT %s %s: %ld %s", path, body, r.status, r.body);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(j);
    return j;
}

/* The probabilities of POST /predict of digit 0 with extra members `more`. */
static cJSON *predict(const char *more, long status) {
    char *body = predict_body(model_id, digits, 1, 784, 0);
    size_t n = strlen(body);
    body = realloc(body, n + strlen(more) + 1);
    body[n - 1] = '\0'; /* drop the closing brace */
    strcat(body, more);
    strcat(body, "}");
    http_result r;
    assert_int_equal(http_do(&D, "POST", "/predict", JSON, body, strlen(body), NULL, 0, &r), 0);
    free(body);
    if (r.status != status) fail_msg("predict %s: %ld %s", more, r.status, r.body);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(j);
    if (status != 200) return j;
    cJSON *p = cJSON_DetachItemFromObject(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "predictions"), 0), "probabilities");
    cJSON_Delete(j);
    return p;
}

/* POST /v2/models/digits/infer of digit 0 with parameters.precision; the
 * probabilities (caller deletes) on 200, else the error object. */
static cJSON *v2_infer(const char *precision, long want) {
    size_t cap = 784 * 16 + 256, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n,
                          "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],"
                          "\"datatype\":\"FP32\",\"data\":[");
    for (int k = 0; k < 784; k++)
        n += (size_t)snprintf(body + n, cap - n, "%s%.9g", k ? "," : "", (double)digits[k]);
    snprintf(body + n, cap - n, "]}],\"parameters\":{\"precision\":\"%s\"}}", precision);
    long status = 0;
    cJSON *j = oip_call(&D, "POST", "/v2/models/digits/infer", body, want == 200 ? "none" : "error",
                        &status);
    free(body);
    assert_non_null(j);
    if (status != want) fail_msg("v2 infer in %s: %ld", precision, status);
    if (want != 200) return j;
    cJSON *out = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "outputs"), 0);
    cJSON *data = cJSON_DetachItemFromObject(out, "data");
    cJSON_Delete(j);
    return data;
}

static void test_int8_opt_in(void **state) {
    (void)state;
    cJSON *f32_before = predict("", 200);
    cJSON *j = put_precision("digits", "{\"precision\":\"int8\"}", 200);
    assert_string_equal(json_str(j, "precision"), "int8");
    assert_string_equal(json_str(j, "dataset"), "mnist-digits");
    assert_true(json_num(j, "test_rows") == 2000);
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(j, "accuracy");
    double f32 = json_num(acc, "float32"), i8 = json_num(acc, "int8");
    assert_true(fabs(f32 - job_test_accuracy) < 1e-9);
    assert_true(fabs(json_num(j, "drop_pp") - (f32 - i8) * 100) < 1e-9);
    assert_true(json_num(j, "drop_pp") <= json_num(j, "max_drop_pp"));
    print_message("int8: float32 %.4f, int8 %.4f on 2000 test digits, kernel %s\n", f32, i8,
                  json_str(j, "kernel"));
    cJSON *g = expect_json(&D, "/models/digits/versions/1/precision", 200);
    assert_true(cJSON_Compare(j, g, 1));
    cJSON_Delete(g);
    cJSON_Delete(j);

    cJSON *by_default = predict("", 200), *asked = predict(",\"precision\":\"int8\"", 200);
    cJSON *f32_now = predict(",\"precision\":\"float32\"", 200);
    assert_true(cJSON_Compare(by_default, asked, 1));
    assert_true(cJSON_Compare(f32_now, f32_before, 1));
    int same = 1;
    for (int c = 0; c < 10; c++) {
        double a = cJSON_GetArrayItem(by_default, c)->valuedouble;
        double b = cJSON_GetArrayItem(f32_now, c)->valuedouble;
        assert_true(fabs(a - b) < 0.05);
        same &= a == b;
    }
    assert_false(same); /* it did compute in int8 */
    cJSON_Delete(by_default), cJSON_Delete(asked), cJSON_Delete(f32_now), cJSON_Delete(f32_before);

    /* The v2 protocol's parameters.precision: the same rule, its 400. */
    cJSON *v8 = v2_infer("int8", 200), *v32 = v2_infer("float32", 200);
    assert_false(cJSON_Compare(v8, v32, 1));
    cJSON_Delete(v8), cJSON_Delete(v32);
    cJSON *e = v2_infer("bf16", 400);
    assert_non_null(strstr(json_str(e, "error"), "serves float32 and int8"));
    cJSON_Delete(e);

    cJSON *p = predict(",\"precision\":\"bf16\"", 422);
    assert_string_equal(json_str(p, "type"), "/problems/precision-not-served");
    expect_problem_pointer(p, "/precision");
    cJSON_Delete(p);
    p = predict(",\"precision\":\"fp8\"", 422);
    expect_problem_pointer(p, "/precision");
    cJSON_Delete(p);
}

/* A copy of the model whose first layer has weight w on pixel 0 of every output. */
static void upload_outlier(const char *name, float w) {
    char path[64];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)model_id);
    http_result f;
    assert_int_equal(http_get(&D, path, &f), 0);
    assert_int_equal(f.status, 200);
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_from_buffer((unsigned char *)f.body, f.len, &m, NULL), MLP_OK);
    http_result_free(&f);
    for (int o = 0; o < m->arch.sizes[1]; o++) m->W[0][(size_t)o * 784] = w;
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(mlp_model_to_buffer(m, &buf, &len, NULL), MLP_OK);
    mlp_model_free(m);
    snprintf(path, sizeof path, "/models?name=%s", name);
    assert_int_equal(request_status(&D, "POST", path, "application/octet-stream", buf, len, NULL),
                     201);
    free(buf);
}

static void test_accuracy_drop_refused(void **state) {
    (void)state;
    upload_outlier("outlier", 50.0f);
    const char *body = "{\"precision\":\"int8\"}";
    cJSON *p = expect_problem(&D, "PUT", "/models/outlier/versions/1/precision", JSON, body,
                              strlen(body), NULL, 422, NULL);
    expect_problem_pointer(p, "/dataset"); /* an upload names its dataset */
    cJSON_Delete(p);
    body = "{\"precision\":\"int8\",\"dataset\":\"mnist-digits\"}";
    p = expect_problem(&D, "PUT", "/models/outlier/versions/1/precision", JSON, body, strlen(body),
                       NULL, 422, NULL);
    assert_string_equal(json_str(p, "type"), "/problems/precision-accuracy");
    expect_detail_mentions(p, "--max-precision-drop");
    char f32[32];
    snprintf(f32, sizeof f32, "float32 %.4f", job_test_accuracy); /* pixel 0 is always 0 */
    expect_detail_mentions(p, f32);
    print_message("refused: %s\n", json_str(p, "detail"));
    cJSON_Delete(p);
    cJSON *g = expect_json(&D, "/models/outlier/versions/1/precision", 200);
    assert_string_equal(json_str(g, "precision"), "float32");
    cJSON_Delete(g);
    /* bf16 keeps 8 bits of every weight whatever its row's largest: accepted. */
    cJSON *j =
        put_precision("outlier", "{\"precision\":\"bf16\",\"dataset\":\"mnist-digits\"}", 200);
    assert_string_equal(json_str(j, "precision"), "bf16");
    cJSON_Delete(j);
}

static void test_refusals_and_back(void **state) {
    (void)state;
    static const struct {
        const char *body, *pointer;
    } bad[] = {
        {"{\"precision\":\"fp8\"}", "/precision"},
        {"{\"precision\":8}", "/precision"},
        {"{}", "/precision"},
        {"{\"precision\":\"int8\",\"dataset\":\"no-such-set\"}", "/dataset"},
        {"{\"precision\":\"int8\",\"extra\":1}", "/extra"},
        /* a repeated member is refused, not resolved by a guess (was: the first won) */
        {"{\"precision\":\"float32\",\"precision\":\"int8\"}", "/precision"},
        {"{\"precision\":\"int8\",\"dataset\":\"mnist-digits\",\"dataset\":\"x\"}", "/dataset"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *p = expect_problem(&D, "PUT", "/models/digits/versions/1/precision", JSON,
                                  bad[i].body, strlen(bad[i].body), NULL, 422, NULL);
        expect_problem_pointer(p, bad[i].pointer);
        cJSON_Delete(p);
    }
    const char *body = "{\"precision\":\"int8\"}";
    cJSON_Delete(expect_problem(&D, "PUT", "/models/digits/versions/9/precision", JSON, body,
                                strlen(body), NULL, 404, NULL));
    cJSON_Delete(expect_problem(&D, "GET", "/models/nobody/versions/1/precision", NULL, NULL, 0,
                                NULL, 404, NULL));
    cJSON *j = put_precision("digits", "{\"precision\":\"float32\"}", 200);
    assert_string_equal(json_str(j, "precision"), "float32");
    cJSON_Delete(j);
    cJSON *a = predict("", 200), *b = predict(",\"precision\":\"float32\"", 200);
    assert_true(cJSON_Compare(a, b, 1));
    cJSON_Delete(a), cJSON_Delete(b);
    cJSON *p = predict(",\"precision\":\"int8\"", 422);
    cJSON_Delete(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_opt_in),
        cmocka_unit_test(test_accuracy_drop_refused),
        cmocka_unit_test(test_refusals_and_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
