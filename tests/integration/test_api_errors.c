/* test_api_errors.c - bad requests: each gets its status and an RFC 9457
 * problem+json body, and the daemon stays healthy afterwards. */
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

static mlpd_daemon D;
static int64_t model_id;

static int setup(void **state) {
    (void)state;
    const char *const extra[] = {"--max-body", "64K", "--max-predict-body", "64K", "--max-queue",
                                 "1",          NULL};
    if (daemon_start(&D, extra) != 0) return -1;
    model_id = train_model(&D, "{\"hidden\":[8],\"epochs\":1,\"seed\":4}", 120, NULL);
    return model_id > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

/* Send, expect `status` with a full problem body (expect.h); when pointer
 * is given, the problem must name it. */
static void problem(const char *method, const char *path, const char *ctype, const char *body,
                    size_t len, long status, const char *pointer) {
    cJSON *j = expect_problem(&D, method, path, ctype, body, len, NULL, status, NULL);
    if (pointer) expect_problem_pointer(j, pointer);
    cJSON_Delete(j);
}

static void post_json(const char *path, const char *json, long status, const char *pointer) {
    problem("POST", path, "application/json", json, strlen(json), status, pointer);
}

static void test_malformed_json_is_400(void **state) {
    (void)state;
    post_json("/train", "{\"epochs\": 3", 400, NULL);
    post_json("/train", "{\"epochs\": 3} trailing", 400, NULL);
    post_json("/predict", "[1, 2,", 400, NULL);
    post_json("/predict", "{\"input\":[NaN, 1]}", 400, NULL); /* NaN is not JSON */
    /* valid JSON nested past the decoders' 1000 levels: said so, not "not valid JSON" */
    static const char *const deep_paths[] = {"/train", "/sweeps", "/explain", "/predict"};
    char deep[2 * 1200 + 1];
    for (int i = 0; i < 1200; i++) deep[i] = '[', deep[2 * 1200 - 1 - i] = ']';
    deep[2 * 1200] = '\0';
    for (size_t i = 0; i < sizeof deep_paths / sizeof deep_paths[0]; i++) {
        cJSON *j = expect_problem(&D, "POST", deep_paths[i], "application/json", deep, strlen(deep),
                                  NULL, 400, NULL);
        expect_detail_mentions(j, "deep");
        cJSON_Delete(j);
    }
}

static void test_wrong_types_and_ranges_are_422(void **state) {
    (void)state;
    post_json("/train", "{\"epochs\":\"ten\"}", 422, "/epochs");
    post_json("/train", "{\"epochs\":-1}", 422, "/epochs");
    post_json("/train", "{\"batch_size\":0}", 422, "/batch_size");
    post_json("/train", "{\"hidden\":[32, 1000000000]}", 422, "/hidden/1");
    post_json("/train", "{\"learning_rate\":0}", 422, "/learning_rate");
    post_json("/train", "{\"no_such_field\":1}", 422, "/no_such_field");
    /* issue 16: schedules, monitors, options that need another member */
    post_json("/train", "{\"lr_schedule\":{\"type\":\"step\",\"step_epochs\":0}}", 422,
              "/lr_schedule/step_epochs");
    post_json("/train", "{\"lr_schedule\":{\"type\":\"cosine\",\"min_lr\":0.5}}", 422,
              "/lr_schedule/min_lr");
    post_json("/train", "{\"lr_schedule\":{\"type\":\"cyclic\"}}", 422, "/lr_schedule/type");
    post_json("/train", "{\"early_stopping\":{\"monitor\":\"val_f1\"}}", 422,
              "/early_stopping/monitor");
    post_json("/train", "{\"loss\":\"mse\",\"label_smoothing\":0.1}", 422, "/label_smoothing");
    /* augmentation's ranges (its need for images: test_api_datasets) */
    post_json("/train", "{\"augment\":{\"shift\":-1}}", 422, "/augment/shift");
    post_json("/train", "{\"augment\":{\"rotate\":5}}", 422, "/augment/rotate");
    post_json("/train", "[1,2,3]", 422, NULL);
    post_json("/predict", "{\"input\":\"pixels\"}", 422, "/input");
}

static void test_bad_vectors_are_422(void **state) {
    (void)state;
    char body[256];
    /* too short for the model's 784 inputs */
    snprintf(body, sizeof body, "{\"model\":%lld,\"input\":[0.5,0.5,0.5]}", (long long)model_id);
    post_json("/predict", body, 422, "/input");
    /* a string and an overflowing number in the vector */
    snprintf(body, sizeof body, "{\"model\":%lld,\"input\":[0.5,\"NaN\",0.5]}",
             (long long)model_id);
    post_json("/predict", body, 422, "/input/1");
    snprintf(body, sizeof body, "{\"model\":%lld,\"input\":[0.5,0.5,1e999]}", (long long)model_id);
    post_json("/predict", body, 422, "/input/2");
    /* ragged batch */
    post_json("/predict", "{\"inputs\":[[1,2],[1]]}", 422, "/inputs/1");
    post_json("/predict", "{\"input\":[1],\"inputs\":[[1]]}", 422, NULL);
}

static void test_oversized_body_is_413(void **state) {
    (void)state;
    size_t n = 200 * 1024; /* --max-body 64K */
    char *big = malloc(n + 32);
    size_t len = (size_t)sprintf(big, "{\"input\":[");
    while (len < n) len += (size_t)sprintf(big + len, "0.5,");
    len += (size_t)sprintf(big + len, "0.5]}");
    problem("POST", "/predict", "application/json", big, len, 413, NULL);
    problem("POST", "/train", "application/json", big, len, 413, NULL);
    /* without a Content-Length (chunked) the limit is enforced while reading */
    cJSON_Delete(expect_problem(&D, "POST", "/predict", "application/json", big, len,
                                "Transfer-Encoding: chunked", 413, NULL));
    free(big);
}

static void test_unknown_things_are_404(void **state) {
    (void)state;
    problem("GET", "/jobs/987654", NULL, NULL, 0, 404, NULL);
    problem("GET", "/jobs/0", NULL, NULL, 0, 404, NULL);
    problem("GET", "/jobs/-3", NULL, NULL, 0, 404, NULL);
    problem("GET", "/jobs/12abc", NULL, NULL, 0, 404, NULL);
    /* one spelling per id: blanks, signs and leading zeros name no job
     * (strtoll took "%091", "%0A1" and "01" as job 1) */
    static const char *const aliases[] = {"/jobs/%091", "/jobs/%0A1", "/jobs/01",
                                          "/jobs/+1",   "/jobs/-0",   "/models/%091/file"};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        problem("GET", aliases[i], NULL, NULL, 0, 404, NULL);
    problem("GET", "/models/987654", NULL, NULL, 0, 404, NULL);
    problem("DELETE", "/models/987654", NULL, NULL, 0, 404, NULL);
    problem("GET", "/datasets/nope", NULL, NULL, 0, 404, NULL);
    problem("GET", "/no/such/route", NULL, NULL, 0, 404, NULL);
    problem("POST", "/no/such/route", "application/json", "{}", 2, 404, NULL);
    post_json("/train", "{\"dataset\":\"no-such-set\"}", 404, "/dataset");
    post_json("/train", "{\"warm_start_model\":987654,\"hidden\":[8]}", 404, "/warm_start_model");
}

static void test_wrong_method_is_405_with_allow(void **state) {
    (void)state;
    http_result r;
    cJSON_Delete(expect_problem(&D, "DELETE", "/jobs", NULL, NULL, 0, NULL, 405, &r));
    char allow[128];
    assert_int_equal(http_result_header(&r, "Allow", allow, sizeof allow), 0);
    assert_non_null(strstr(allow, "GET"));
    http_result_free(&r);
    cJSON_Delete(expect_problem(&D, "PUT", "/models/1", NULL, NULL, 0, NULL, 405, &r));
    assert_int_equal(http_result_header(&r, "Allow", allow, sizeof allow), 0);
    assert_non_null(strstr(allow, "GET"));
    assert_non_null(strstr(allow, "DELETE"));
    http_result_free(&r);
    /* every method listed is answered, OPTIONS included (RFC 9110 section 10.2.1) */
    cJSON_Delete(
        expect_problem(&D, "POST", "/jobs/1/metrics", "application/json", "{}", 2, NULL, 405, &r));
    assert_int_equal(http_result_header(&r, "Allow", allow, sizeof allow), 0);
    assert_string_equal(allow, "GET, HEAD, OPTIONS");
    http_result_free(&r);
    assert_int_equal(request_status(&D, "OPTIONS", "/jobs/1/metrics", NULL, NULL, 0, NULL), 204);
    problem("GET", "/train", NULL, NULL, 0, 405, NULL);
    problem("GET", "/predict", NULL, NULL, 0, 405, NULL);
}

static void test_wrong_content_type_is_415(void **state) {
    (void)state;
    problem("POST", "/train", "text/plain", "{}", 2, 415, NULL);
    problem("POST", "/predict", "application/x-www-form-urlencoded", "input=1", 7, 415, NULL);
    /* parameters after the media type are fine */
    /* accepted as JSON; refused for its width */
    problem("POST", "/predict", "application/json; charset=utf-8", "{\"input\":[1]}", 13, 422,
            "/input");
}

static void test_unknown_or_repeated_query_parameters_are_400(void **state) {
    (void)state;
    static const struct {
        const char *path, *mentions;
    } bad[] = {
        {"/jobs?foo=1", "'foo'"},              /* unknown */
        {"/jobs?limit=1&limit=2", "repeated"}, /* which one would count? */
        {"/healthz?x", "takes none"},          /* a route without parameters */
        {"/models/1?verbose=1", "'verbose'"},
        {"/jobs/1/metrics?since=0&offset=3", "'offset'"},
        {"/sweeps?cursor=5", "'cursor'"}, /* sweeps page by offset only (was ignored) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = expect_problem(&D, "GET", bad[i].path, NULL, NULL, 0, NULL, 400, NULL);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
        assert_string_equal(type->valuestring, "/problems/unknown-query-parameter");
        expect_detail_mentions(j, bad[i].mentions);
        cJSON_Delete(j);
    }
    /* a declared parameter without a value is refused, never read as absent;
     * so are blanks, signs and leading zeros in its number */
    static const struct {
        const char *path, *mentions;
    } bad_value[] = {
        {"/jobs?limit", "no value"},
        {"/jobs?status&limit=2", "'status' has no value"},
        {"/jobs?limit=+5", "limit"},
        {"/jobs?limit=%205", "limit"},
        {"/jobs?limit=05", "limit"},
        {"/jobs?cursor=%095", "cursor"},
        {"/jobs?offset=9007199254740992", "offset"}, /* 2^53: beyond what JSON echoes exactly */
        {"/jobs/1/metrics?since=-0", "since"},
    };
    for (size_t i = 0; i < sizeof bad_value / sizeof bad_value[0]; i++) {
        cJSON *j = expect_problem(&D, "GET", bad_value[i].path, NULL, NULL, 0, NULL, 422, NULL);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
        assert_string_equal(type->valuestring, "/problems/invalid-query");
        expect_detail_mentions(j, bad_value[i].mentions);
        cJSON_Delete(j);
    }
    /* the largest offset is echoed exactly (cJSON's double printing gave 9.00719925474099e+15) */
    http_result big;
    assert_int_equal(http_get(&D, "/jobs?offset=9007199254740991", &big), 0);
    assert_int_equal(big.status, 200);
    assert_non_null(strstr(big.body, "\"offset\":9007199254740991"));
    http_result_free(&big);
    /* what a route declares passes; static files take any query (cache busting) */
    static const char *const good[] = {"/jobs?status=queued&limit=5&offset=0", "/models?limit=2",
                                       "/index.html?v=3", "/?from=mail"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        http_result r;
        assert_int_equal(http_get(&D, good[i], &r), 0);
        if (r.status != 200) fprintf(stderr, "%s -> %ld\n", good[i], r.status);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
    }
}

static void test_full_queue_is_429_with_retry_after(void **state) {
    (void)state;
    /* --max-queue 1 and one job running: the third submission is refused. */
    int64_t a = train_job(&D, "{\"hidden\":[32],\"epochs\":500}");
    int64_t b = train_job(&D, "{\"hidden\":[32],\"epochs\":500}");
    assert_true(a > 0 && b > 0);
    const char *third = "{\"hidden\":[8],\"epochs\":1}";
    http_result r;
    cJSON_Delete(expect_problem(&D, "POST", "/train", "application/json", third, strlen(third),
                                NULL, 429, &r));
    expect_retry_after(&r);
    http_result_free(&r);
    assert_int_equal(cancel_job(&D, b), 202);
    assert_int_equal(cancel_job(&D, a), 202);
    cJSON_Delete(expect_job_end(&D, a, 60, "cancelled"));
}

/* A model whose hidden units see inf - inf for inputs near FLT_MAX:
 * 2 inputs -> 2 linear units with weights (2, -2) -> 2 classes. 3e38 * 2
 * overflows to inf and 3e38 * -2 to -inf in any summation order; the linear
 * units pass the NaN on (a kernel's tanh may clamp it away). Uploaded;
 * returns its id. */
static int64_t upload_overflowing_model(mlp_act act) {
    const int hidden[] = {2};
    mlp_arch a;
    mlp_model *m = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(mlp_arch_make(&a, 2, hidden, 1, act, 2, MLP_LOSS_CROSS_ENTROPY, -1, NULL),
                     MLP_OK);
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 1, &m, NULL), MLP_OK);
    for (int k = 0; k < 4; k++) m->W[0][k] = k % 2 ? -2.0f : 2.0f;
    for (int k = 0; k < 2; k++) m->b[0][k] = 0.0f;
    assert_int_equal(mlp_model_to_buffer(m, &buf, &len, NULL), MLP_OK);
    mlp_model_free(m);
    http_result r;
    assert_int_equal(http_do(&D, "POST", "/models?name=overflow", "application/octet-stream", buf,
                             len, NULL, 0, &r),
                     0);
    free(buf);
    assert_int_equal(r.status, 201);
    cJSON *j = http_result_json(&r);
    int64_t id = (int64_t)json_num(j, "id");
    cJSON_Delete(j);
    http_result_free(&r);
    return id;
}

/* Finite float32 inputs whose forward pass overflows have no answer: 422
 * naming the row (it was a 200 with "probabilities":[null,null] and label 0,
 * outside the contract's numbers). */
static void test_outputs_that_overflow_are_422(void **state) {
    (void)state;
    int64_t id = upload_overflowing_model(MLP_ACT_LINEAR);
    char body[256];
    static const struct {
        const char *path, *rows, *pointer;
    } cases[] = {
        {"/predict", "\"input\":[3e38,3e38]", "/input"},
        {"/predict", "\"inputs\":[[1,1],[3e38,3e38]]", "/inputs/1"},
        {"/explain", "\"input\":[3e38,3e38]", "/input"},
        {"/explain", "\"inputs\":[[1,1],[3e38,3e38]],\"method\":\"saliency\"", "/inputs/1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(body, sizeof body, "{\"model\":%lld,%s}", (long long)id, cases[i].rows);
        post_json(cases[i].path, body, 422, cases[i].pointer);
    }
    /* the same model answers ordinary values */
    static const char *const paths[] = {"/predict", "/explain"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"model\":%lld,\"inputs\":[[1,1],[-0.5,2]]}", (long long)id);
        http_result r;
        assert_int_equal(http_post_json(&D, paths[i], body, &r), 0);
        assert_int_equal(r.status, 200);
        assert_null(strstr(r.body, "null"));
        http_result_free(&r);
    }
    /* ReLU turns the NaN of inf - inf into 0: the row came back 200 with an
     * answer of biases alone (and NaN from another kernel's order). Rows
     * beyond the model's input bound (mlp_model_input_bound, ~2e37 here) are
     * refused whatever the kernel computed; within it they are answered. */
    int64_t relu = upload_overflowing_model(MLP_ACT_RELU);
    static const struct {
        const char *rows, *pointer;
        long status;
    } relu_cases[] = {
        {"\"input\":[3e38,3e38]", "/input", 422},
        {"\"inputs\":[[1,1],[3e38,3e38]]", "/inputs/1", 422},
        {"\"inputs\":[[1,1],[1e38,0]]", "/inputs/1", 422},
        {"\"inputs\":[[1,1],[1e30,-1e30]]", NULL, 200},
    };
    for (size_t i = 0; i < sizeof relu_cases / sizeof relu_cases[0]; i++) {
        snprintf(body, sizeof body, "{\"model\":%lld,%s}", (long long)relu, relu_cases[i].rows);
        if (relu_cases[i].status == 422) {
            post_json("/predict", body, 422, relu_cases[i].pointer);
            continue;
        }
        http_result r;
        assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
        assert_int_equal(r.status, 200);
        assert_null(strstr(r.body, "null"));
        http_result_free(&r);
    }
}

static void test_daemon_is_healthy_after_all_that(void **state) {
    (void)state;
    expect_healthy(&D);
    int64_t id = train_job(&D, "{\"hidden\":[8],\"epochs\":1}");
    assert_true(id > 0);
    cJSON_Delete(expect_job_end(&D, id, 60, "succeeded"));
    /* the refusals were counted per route and status code */
    http_result r;
    assert_int_equal(http_get(&D, "/metrics", &r), 0);
    assert_non_null(
        strstr(r.body, "mlpd_http_requests_total{route=\"/train\",method=\"POST\",code=\"422\"}"));
    assert_non_null(
        strstr(r.body, "mlpd_http_requests_total{route=\"/train\",method=\"POST\",code=\"429\"}"));
    assert_non_null(strstr(r.body, "mlpd_http_requests_total{route=\"unmatched\""));
    /* the finished jobs were counted: samples trained, epochs and jobs timed */
    const char *samples = strstr(r.body, "\nmlpd_train_samples_total ");
    assert_non_null(samples);
    assert_true(atof(samples + strlen("\nmlpd_train_samples_total ")) > 0);
    const char *epochs = strstr(r.body, "\nmlpd_epoch_duration_seconds_count ");
    assert_non_null(epochs);
    assert_true(atof(epochs + strlen("\nmlpd_epoch_duration_seconds_count ")) >= 1);
    const char *jobs = strstr(r.body, "\nmlpd_job_duration_seconds_count ");
    assert_non_null(jobs);
    assert_true(atof(jobs + strlen("\nmlpd_job_duration_seconds_count ")) >= 2);
    http_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_json_is_400),
        cmocka_unit_test(test_wrong_types_and_ranges_are_422),
        cmocka_unit_test(test_bad_vectors_are_422),
        cmocka_unit_test(test_oversized_body_is_413),
        cmocka_unit_test(test_unknown_things_are_404),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_wrong_content_type_is_415),
        cmocka_unit_test(test_unknown_or_repeated_query_parameters_are_400),
        cmocka_unit_test(test_full_queue_is_429_with_retry_after),
        cmocka_unit_test(test_outputs_that_overflow_are_422),
        cmocka_unit_test(test_daemon_is_healthy_after_all_that),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
