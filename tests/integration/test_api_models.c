/* test_api_models.c - models over HTTP: list, get, download the file, upload
 * it again (same predictions), refuse bad uploads, delete. */
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

static mlpd_daemon D;
static int64_t trained; /* model made by a job in setup */
static int64_t job_id;

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    trained = train_model(&D, "{\"hidden\":[32],\"epochs\":1,\"learning_rate\":0.1,\"seed\":2}",
                          120, &job_id);
    return trained > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

static void test_list_and_get_describe_the_model(void **state) {
    (void)state;
    cJSON *l = expect_json(&D, "/models", 200);
    assert_true(json_num(l, "total") >= 1);
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(l, "models"), 0);
    assert_int_equal((int)json_num(first, "id"), (int)trained);
    cJSON_Delete(l);

    char path[64];
    snprintf(path, sizeof path, "/models/%lld", (long long)trained);
    cJSON *m = expect_json(&D, path, 200);
    assert_int_equal((int)json_num(m, "run_id"), (int)job_id);
    cJSON *arch = cJSON_GetObjectItemCaseSensitive(m, "arch");
    assert_int_equal((int)json_num(arch, "inputs"), 784);
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(arch, "layers");
    assert_int_equal(cJSON_GetArraySize(layers), 2);
    assert_int_equal((int)json_num(cJSON_GetArrayItem(layers, 0), "units"), 32);
    assert_string_equal(json_str(cJSON_GetArrayItem(layers, 0), "activation"), "relu");
    assert_int_equal((int)json_num(cJSON_GetArrayItem(layers, 1), "units"), 10);
    assert_string_equal(json_str(cJSON_GetArrayItem(layers, 1), "activation"), "softmax");
    assert_int_equal((int)json_num(m, "n_params"), 784 * 32 + 32 + 32 * 10 + 10);
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "config")));
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "metrics")));
    assert_int_equal(strlen(json_str(m, "checksum")), 8);
    assert_true(json_num(m, "size_bytes") > 4 * (784 * 32));
    assert_non_null(json_str(m, "created_at"));
    cJSON_Delete(m);
    cJSON_Delete(expect_json(&D, "/models/777777", 404));
    cJSON_Delete(expect_json(&D, "/models/abc", 404));
}

/* Probabilities of model `id` for the first n test digits (n*10 floats). */
static void predictions(int64_t id, int n, float *out) {
    float *x;
    assert_int_equal(load_test_digits(&D, n, &x, NULL), 0);
    char *body = predict_body(id, x, n, 784, 1);
    free(x);
    http_result r;
    assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
    free(body);
    assert_int_equal(r.status, 200);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    cJSON *p;
    int i = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(j, "predictions")) {
        cJSON *v;
        int k = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(p, "probabilities"))
            out[i * 10 + k++] = (float)v->valuedouble;
        i++;
    }
    assert_int_equal(i, n);
    cJSON_Delete(j);
}

static void test_download_upload_roundtrip_predicts_the_same(void **state) {
    (void)state;
    char path[64], hdr[256];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)trained);
    http_result f;
    assert_int_equal(http_get(&D, path, &f), 0);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.content_type, "application/octet-stream");
    assert_int_equal(http_result_header(&f, "Content-Disposition", hdr, sizeof hdr), 0);
    assert_non_null(strstr(hdr, "attachment"));
    snprintf(path, sizeof path, "/models/%lld", (long long)trained);
    cJSON *meta = expect_json(&D, path, 200);
    assert_int_equal((double)f.len, json_num(meta, "size_bytes"));

    http_result up;
    assert_int_equal(http_do(&D, "POST", "/models?name=copy", "application/octet-stream", f.body,
                             f.len, NULL, 0, &up),
                     0);
    assert_int_equal(up.status, 201);
    cJSON *m = http_result_json(&up);
    int64_t copy = (int64_t)json_num(m, "id");
    assert_true(copy > trained);
    char want[64];
    snprintf(want, sizeof want, "/models/%lld", (long long)copy);
    assert_int_equal(http_result_header(&up, "Location", hdr, sizeof hdr), 0);
    assert_string_equal(hdr, want);
    assert_string_equal(json_str(m, "name"), "copy");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "run_id")));
    assert_string_equal(json_str(m, "checksum"), json_str(meta, "checksum"));
    assert_int_equal((int)json_num(m, "n_params"), (int)json_num(meta, "n_params"));
    cJSON_Delete(m);
    cJSON_Delete(meta);
    http_result_free(&up);
    http_result_free(&f);

    float a[8 * 10], b[8 * 10];
    predictions(trained, 8, a);
    predictions(copy, 8, b);
    for (int i = 0; i < 80; i++) assert_true(a[i] == b[i]);

    /* the newest model is now the copy: the default for /predict */
    float *x;
    assert_int_equal(load_test_digits(&D, 1, &x, NULL), 0);
    char *body = predict_body(0, x, 1, 784, 0);
    free(x);
    http_result r;
    assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
    free(body);
    cJSON *j = http_result_json(&r);
    assert_int_equal((int)json_num(j, "model"), (int)copy);
    cJSON_Delete(j);
    http_result_free(&r);

    /* delete the copy: gone for GET, file, predict; the original answers again as latest */
    snprintf(path, sizeof path, "/models/%lld", (long long)copy);
    assert_int_equal(http_do(&D, "DELETE", path, NULL, NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.len, 0);
    http_result_free(&r);
    cJSON_Delete(expect_json(&D, path, 404));
    snprintf(path, sizeof path, "/models/%lld/file", (long long)copy);
    cJSON_Delete(expect_json(&D, path, 404));
    assert_int_equal(load_test_digits(&D, 1, &x, NULL), 0);
    body = predict_body(copy, x, 1, 784, 0);
    assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
    assert_int_equal(r.status, 404);
    http_result_free(&r);
    free(body);
    body = predict_body(0, x, 1, 784, 0);
    free(x);
    assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
    free(body);
    j = http_result_json(&r);
    assert_int_equal((int)json_num(j, "model"), (int)trained);
    cJSON_Delete(j);
    http_result_free(&r);
    snprintf(path, sizeof path, "/models/%lld", (long long)copy);
    assert_int_equal(http_do(&D, "DELETE", path, NULL, NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 404);
    http_result_free(&r);
}

static void test_bad_uploads_are_refused(void **state) {
    (void)state;
    http_result r;
    const char junk[] = "this is not a model file at all, just text";
    assert_int_equal(http_do(&D, "POST", "/models", "application/octet-stream", junk,
                             sizeof junk - 1, NULL, 0, &r),
                     0);
    assert_int_equal(r.status, 422);
    assert_string_equal(r.content_type, "application/problem+json");
    cJSON *j = http_result_json(&r);
    assert_non_null(strstr(json_str(j, "detail"), "not a valid model file"));
    cJSON_Delete(j);
    http_result_free(&r);

    /* a real file cut short: the loader names the problem */
    char path[64];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)trained);
    http_result f;
    assert_int_equal(http_get(&D, path, &f), 0);
    assert_int_equal(
        http_do(&D, "POST", "/models", "application/octet-stream", f.body, f.len / 2, NULL, 0, &r),
        0);
    assert_int_equal(r.status, 422);
    http_result_free(&r);
    /* one flipped byte: the checksum catches it */
    f.body[f.len - 8] ^= 0x55;
    assert_int_equal(
        http_do(&D, "POST", "/models", "application/octet-stream", f.body, f.len, NULL, 0, &r), 0);
    assert_int_equal(r.status, 422);
    http_result_free(&r);
    http_result_free(&f);

    assert_int_equal(http_do(&D, "POST", "/models", "application/json", "{}", 2, NULL, 0, &r), 0);
    assert_int_equal(r.status, 415);
    http_result_free(&r);

    cJSON *l = expect_json(&D, "/models", 200);
    assert_int_equal((int)json_num(l, "total"), 1); /* nothing was stored */
    cJSON_Delete(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_get_describe_the_model),
        cmocka_unit_test(test_download_upload_roundtrip_predicts_the_same),
        cmocka_unit_test(test_bad_uploads_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
