/* test_api_v2.c - the Open Inference Protocol v2 and TF Serving v1 routes,
 * read through the conformance client (oip_client.h, written from the
 * protocol documents, sharing nothing with the daemon's codecs): metadata,
 * health and readiness, inference in JSON (flat and nested), output
 * selection, classification, the binary tensor data extension both ways,
 * statistics, the model repository extension, per-model Prometheus
 * families, the v1 predict and status routes, and the bad inputs the issue
 * lists, each a 4xx {"error"} with the daemon healthy after. */
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
#include "oip_client.h"

#define ROWS 3
static mlpd_daemon D;
static float *x;             /* ROWS test digits */
static double ref[ROWS][10]; /* version 2's probabilities, from POST /predict */
static int ref_label[ROWS];

static int64_t upload(uint64_t seed) {
    static const int hidden[] = {24};
    return upload_model_file(&D, "mnist", hidden, 1, seed) > 0 ? 0 : -1;
}

static int reference(void) {
    char *body = predict_body(0, x, ROWS, 784, 1);
    /* predict_body names no model: ask for version 2 by name. */
    char *named = malloc(strlen(body) + 32);
    sprintf(named, "{\"model\":\"mnist/2\",%s", body + 1);
    free(body);
    http_result r;
    int rc = http_post_json(&D, "/predict", named, &r);
    free(named);
    cJSON *j = rc == 0 && r.status == 200 ? http_result_json(&r) : NULL;
    http_result_free(&r);
    if (!j) return -1;
    int i = 0;
    cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(j, "predictions")) {
        ref_label[i] = (int)json_num(p, "label");
        int k = 0;
        cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(p, "probabilities")) ref[i][k++] =
            v->valuedouble;
        i++;
    }
    cJSON_Delete(j);
    return i == ROWS ? 0 : -1;
}

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0 || upload(11) != 0 || upload(12) != 0) return -1;
    if (load_test_digits(&D, ROWS, &x, NULL) != 0) return -1;
    return reference();
}

static int teardown(void **state) {
    (void)state;
    free(x);
    return daemon_finish(&D);
}

static oip_request plain(void) {
    oip_request q = {0};
    q.output_binary[0] = q.output_binary[1] = -1;
    return q;
}

/* The answer is version 2's, with both outputs as the reference says. */
static void expect_reference(const oip_response *r, int rows) {
    assert_int_equal(r->status, 200);
    assert_string_equal(r->model_name, "mnist");
    assert_string_equal(r->model_version, "2");
    const oip_tensor *p = oip_output(r, "probabilities"), *l = oip_output(r, "label");
    assert_non_null(p);
    assert_non_null(l);
    assert_string_equal(p->datatype, "FP32");
    assert_int_equal(p->rank, 2);
    assert_int_equal(p->shape[0], rows);
    assert_int_equal(p->shape[1], 10);
    assert_string_equal(l->datatype, "INT64");
    assert_int_equal(l->rank, 1);
    for (int i = 0; i < rows; i++) {
        assert_int_equal((int)l->num[i], ref_label[i]);
        for (int k = 0; k < 10; k++) assert_float_equal(p->num[i * 10 + k], ref[i][k], 1e-6);
    }
}

static void test_metadata_health_ready(void **state) {
    (void)state;
    long st;
    cJSON *j = oip_call(&D, "GET", "/v2", NULL, "server_metadata", &st);
    assert_non_null(j);
    assert_int_equal(st, 200);
    const char *ext = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "extensions"));
    assert_non_null(strstr(ext, "binary_tensor_data"));
    assert_non_null(strstr(ext, "classification"));
    assert_non_null(strstr(ext, "statistics"));
    assert_non_null(strstr(ext, "model_repository"));
    cJSON_free((void *)ext);
    cJSON_Delete(j);
    cJSON_Delete(oip_call(&D, "GET", "/v2/health/live", NULL, "server_live", &st));
    assert_int_equal(st, 200);
    cJSON_Delete(oip_call(&D, "GET", "/v2/health/ready", NULL, "server_ready", &st));
    assert_int_equal(st, 200);
    static const char *const paths[] = {"/v2/models/mnist", "/v2/models/mnist/versions/1"};
    for (int i = 0; i < 2; i++) {
        j = oip_call(&D, "GET", paths[i], NULL, "model_metadata", &st);
        assert_non_null(j);
        assert_int_equal(st, 200);
        char *s = cJSON_PrintUnformatted(j);
        assert_non_null(strstr(s, "\"versions\":[\"1\",\"2\"]"));
        assert_non_null(strstr(s, "{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[-1,784]}"));
        assert_non_null(
            strstr(s, "{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[-1,10]}"));
        assert_non_null(strstr(s, "{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[-1]}"));
        cJSON_free(s);
        cJSON_Delete(j);
    }
    j = oip_call(&D, "GET", "/v2/models/mnist/versions/2/ready", NULL, "model_ready", &st);
    assert_int_equal(st, 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ready")));
    cJSON_Delete(j);
    static const char *const missing[] = {"/v2/models/nosuch", "/v2/models/mnist/versions/9",
                                          "/v2/models/mnist/versions/nosuchalias/ready",
                                          "/v2/models/nosuch/stats", "/v2/nothing/here"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        cJSON_Delete(oip_call(&D, "GET", missing[i], NULL, "error", &st));
        assert_int_equal(st, 404);
    }
    cJSON_Delete(oip_call(&D, "DELETE", "/v2/models/mnist/infer", NULL, "error", &st));
    assert_int_equal(st, 405);
}

static void test_infer_json(void **state) {
    (void)state;
    oip_request q = plain();
    q.id = "req-42";
    oip_response r;
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    expect_reference(&r, ROWS);
    assert_true(r.has_id);
    assert_string_equal(r.id, "req-42");
    assert_false(r.binary);
    oip_response_free(&r);
    q.id = NULL;
    q.nested = 1; /* the same rows as nested lists */
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/versions/2/infer", x, ROWS, 784, &q, &r), 0);
    expect_reference(&r, ROWS);
    assert_false(r.has_id);
    oip_response_free(&r);
    /* outputs: only the label; then the top 3 classes (classification). */
    q.n_outputs = 1;
    q.output_names[0] = "label";
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    assert_int_equal(r.n_outputs, 1);
    assert_int_equal((int)oip_output(&r, "label")->num[2], ref_label[2]);
    oip_response_free(&r);
    q.output_names[0] = "probabilities";
    q.classification[0] = 3;
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    const oip_tensor *c = oip_output(&r, "probabilities");
    assert_string_equal(c->datatype, "BYTES");
    assert_int_equal(c->shape[0], ROWS);
    assert_int_equal(c->shape[1], 3);
    for (int i = 0; i < ROWS; i++) {
        double v;
        int idx;
        assert_int_equal(sscanf(c->str[i * 3], "%lf:%d", &v, &idx), 2);
        assert_int_equal(idx, ref_label[i]); /* the top class is the label */
        assert_float_equal(v, ref[i][idx], 1e-6);
    }
    oip_response_free(&r);
}

static void test_infer_binary_both_ways(void **state) {
    (void)state;
    oip_response r;
    oip_request q = plain();
    q.binary_input = 1; /* binary in, JSON out */
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    expect_reference(&r, ROWS);
    assert_false(r.binary);
    oip_response_free(&r);
    q = plain(); /* JSON in, binary out (the request-level parameter) */
    q.binary_data_output = 1;
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    expect_reference(&r, ROWS);
    assert_true(r.binary);
    assert_true(oip_output(&r, "probabilities")->was_binary);
    assert_true(oip_output(&r, "label")->was_binary);
    oip_response_free(&r);
    q = plain(); /* both binary; one output overrides to JSON */
    q.binary_input = 1;
    q.n_outputs = 2;
    q.output_names[0] = "probabilities";
    q.output_binary[0] = 1;
    q.output_names[1] = "label";
    q.output_binary[1] = 0;
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    expect_reference(&r, ROWS);
    assert_true(oip_output(&r, "probabilities")->was_binary);
    assert_false(oip_output(&r, "label")->was_binary);
    oip_response_free(&r);
    q.classification[0] = 2; /* classification strings as binary BYTES */
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    const oip_tensor *c = oip_output(&r, "probabilities");
    assert_string_equal(c->datatype, "BYTES");
    assert_true(c->was_binary);
    int idx;
    double v;
    assert_int_equal(sscanf(c->str[2], "%lf:%d", &v, &idx), 2);
    assert_int_equal(idx, ref_label[1]);
    oip_response_free(&r);
}

/* A request that must be refused with `status` and {"error"}. */
static void refused(const char *path, const oip_request *q, int width, long status) {
    oip_response r;
    assert_int_equal(oip_infer(&D, path, x, 1, width, q, &r), 0);
    if (r.status != status) fprintf(stderr, "%s: got %ld (%s)\n", path, r.status, r.error);
    assert_int_equal(r.status, status);
    assert_true(strlen(r.error) > 0);
    oip_response_free(&r);
}

static void test_bad_inputs_are_4xx_errors(void **state) {
    (void)state;
    const char *p = "/v2/models/mnist/infer";
    oip_request q = plain();
    q.datatype = "INT32";
    refused(p, &q, 784, 400);
    q.datatype = "BYTES";
    refused(p, &q, 784, 400);
    q = plain();
    refused(p, &q, 783, 400); /* a width the model does not take */
    q.binary_input = 1;
    q.size_delta = 4; /* binary_data_size larger than the bytes sent */
    refused(p, &q, 784, 400);
    q.size_delta = -4; /* smaller */
    refused(p, &q, 784, 400);
    q.size_delta = 0;
    q.header_delta = 100000; /* a header length beyond the body */
    refused(p, &q, 784, 400);
    q.header_delta = -3; /* the JSON cut short */
    refused(p, &q, 784, 400);
    q = plain();
    refused("/v2/models/nosuch/infer", &q, 784, 404);
    refused("/v2/models/mnist/versions/9/infer", &q, 784, 404);
    refused("/v2/models/mnist/versions/noalias/infer", &q, 784, 404);
    q.n_outputs = 1;
    q.output_names[0] = "logits";
    refused(p, &q, 784, 400);
    /* A shape that disagrees with its data, by hand. */
    static const char *const bodies[] = {
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,784],\"datatype\":\"FP32\",\"data\":[1,2]}]"
        "}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
        "{\"inputs\":[]}",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[-1,784],\"datatype\":\"FP32\",\"data\":[]}]}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        long st;
        cJSON_Delete(oip_call(&D, "POST", p, bodies[i], "error", &st));
        assert_int_equal(st, 400);
    }
    long st;
    cJSON_Delete(
        oip_call(&D, "PUT", "/models/mnist/canary", "{\"version\":2,\"percent\":-1}", "none", &st));
    assert_int_equal(st, 422);
    expect_healthy(&D);
}

static void test_stats_and_metrics(void **state) {
    (void)state;
    long st;
    cJSON *j = oip_call(&D, "GET", "/v2/models/mnist/versions/2/stats", NULL, "stats", &st);
    assert_non_null(j);
    cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "model_stats"), 0);
    double before = json_num(s, "inference_count");
    cJSON_Delete(j);
    oip_request q = plain();
    oip_response r;
    assert_int_equal(oip_infer(&D, "/v2/models/mnist/infer", x, ROWS, 784, &q, &r), 0);
    oip_response_free(&r);
    j = oip_call(&D, "GET", "/v2/models/mnist/versions/2/stats", NULL, "stats", &st);
    s = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "model_stats"), 0);
    assert_string_equal(json_str(s, "version"), "2");
    assert_float_equal(json_num(s, "inference_count"), before + ROWS, 0);
    cJSON *succ = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(s, "inference_stats"), "success");
    assert_true(json_num(succ, "count") >= 1 && json_num(succ, "ns") > 0);
    assert_true(json_num(s, "last_inference") > 1.7e12);
    cJSON_Delete(j);
    j = oip_call(&D, "GET", "/v2/models/stats", NULL, "stats", &st);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "model_stats")), 2);
    cJSON_Delete(j);
    http_result m;
    assert_int_equal(http_get(&D, "/metrics", &m), 0);
    assert_non_null(strstr(m.body, "mlpd_predict_model_rows_total{model=\"mnist\",version=\"2\"}"));
    assert_non_null(strstr(
        m.body, "mlpd_predict_queue_seconds_bucket{model=\"mnist\",version=\"2\",le=\"+Inf\"}"));
    assert_non_null(strstr(m.body, "# TYPE mlpd_predict_queue_seconds histogram"));
    http_result_free(&m);
}

static void test_repository_unload_load(void **state) {
    (void)state;
    long st;
    cJSON *j = oip_call(&D, "POST", "/v2/repository/index", NULL, "index", &st);
    assert_int_equal(st, 200);
    assert_int_equal(cJSON_GetArraySize(j), 2);
    cJSON_Delete(j);
    cJSON_Delete(oip_call(&D, "POST", "/v2/repository/models/mnist/unload", NULL, "none", &st));
    assert_int_equal(st, 200);
    j = oip_call(&D, "GET", "/v2/models/mnist/ready", NULL, "model_ready", &st);
    assert_int_equal(st, 503);
    cJSON_Delete(j);
    oip_request q = plain();
    refused("/v2/models/mnist/infer", &q, 784, 503);
    j = oip_call(&D, "POST", "/v2/repository/index", "{\"ready\":true}", "index", &st);
    assert_int_equal(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);
    cJSON_Delete(oip_call(&D, "POST", "/v2/repository/models/mnist/load", NULL, "none", &st));
    assert_int_equal(st, 200);
    j = oip_call(&D, "POST", "/v2/repository/index", "{\"ready\":true}", "index", &st);
    assert_int_equal(cJSON_GetArraySize(j), 1); /* the default version, loaded and warmed up */
    assert_string_equal(json_str(cJSON_GetArrayItem(j, 0), "state"), "READY");
    cJSON_Delete(j);
    cJSON_Delete(oip_call(&D, "POST", "/v2/repository/models/nosuch/load", NULL, "error", &st));
    assert_int_equal(st, 400);
}

static void test_tf_serving_v1(void **state) {
    (void)state;
    static const char *const paths[] = {"/v1/models/mnist:predict",
                                        "/v1/models/mnist/versions/2:predict"};
    for (int columnar = 0; columnar < 2; columnar++) {
        double *v = NULL;
        int cols = 0;
        long st;
        assert_int_equal(tfs_predict(&D, paths[columnar], x, ROWS, 784, columnar, &v, &cols, &st),
                         0);
        assert_int_equal(st, 200);
        assert_int_equal(cols, 10);
        for (int i = 0; i < ROWS; i++)
            for (int k = 0; k < 10; k++) assert_float_equal(v[i * 10 + k], ref[i][k], 1e-6);
        free(v);
    }
    assert_int_equal(request_status(&D, "PUT", "/models/mnist/aliases/stable", "application/json",
                                    "{\"version\":1}", 13, NULL),
                     200);
    long st;
    cJSON *j = oip_call(&D, "GET", "/v1/models/mnist", NULL, "tfs_status", &st);
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "model_version_status")), 2);
    cJSON_Delete(j);
    j = oip_call(&D, "GET", "/v1/models/mnist/labels/stable", NULL, "tfs_status", &st);
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "model_version_status"), 0);
    assert_string_equal(json_str(e, "version"), "1");
    assert_string_equal(json_str(e, "state"), "AVAILABLE");
    cJSON_Delete(j);
    double *v = NULL;
    int cols;
    assert_int_equal(tfs_predict(&D, "/v1/models/nosuch:predict", x, 1, 784, 0, &v, &cols, &st), 0);
    assert_int_equal(st, 404);
    assert_int_equal(tfs_predict(&D, "/v1/models/mnist:predict", x, 1, 700, 0, &v, &cols, &st), 0);
    assert_int_equal(st, 400);
    cJSON_Delete(oip_call(&D, "POST", "/v1/models/mnist:predict",
                          "{\"instances\":[[1]],\"inputs\":[[1]]}", "error", &st));
    assert_int_equal(st, 400);
    cJSON_Delete(oip_call(&D, "GET", "/v1/models/nosuch", NULL, "error", &st));
    assert_int_equal(st, 404);
    expect_healthy(&D);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_health_ready),
        cmocka_unit_test(test_infer_json),
        cmocka_unit_test(test_infer_binary_both_ways),
        cmocka_unit_test(test_bad_inputs_are_4xx_errors),
        cmocka_unit_test(test_stats_and_metrics),
        cmocka_unit_test(test_repository_unload_load),
        cmocka_unit_test(test_tf_serving_v1),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
