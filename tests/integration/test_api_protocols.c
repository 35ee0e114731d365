/* test_api_protocols.c - the v2 (KServe / Triton) and v1 (TF Serving)
 * protocols checked against their public documents where a client written
 * from them, or a hostile one, meets the daemon: TF Serving's metadata API
 * and its documented `curl -d` (a form Content-Type), member names given
 * twice, ragged or mixed-shape data, an unknown model with a bad body (404,
 * not 400), Inference-Header-Content-Length spellings, binary data sent
 * without that header, shapes beyond any integer type, NaN and Infinity,
 * and nesting far past any tensor's rank. Every refusal is a 4xx
 * {"error": "..."} and the daemon stays healthy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "mlp.h"
#include "expect.h"
#include "oip_client.h"

#define WIDTH 784
static mlpd_daemon D;
static char row_flat[WIDTH * 8];   /* one row of WIDTH values, "v,v,..." */
static char row_nested[WIDTH * 8]; /* the same 28 x 28, "[v,..],[..],..." */

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    static const int hidden[] = {24};
    int rc = upload_model_file(&D, "mnist", hidden, 1, 11) > 0 ? 0 : -1;
    size_t f = 0, n = 0;
    for (int i = 0; i < WIDTH; i++) {
        const char *sep = i ? "," : "";
        f += (size_t)snprintf(row_flat + f, sizeof row_flat - f, "%s0.%d", sep, i % 7);
        if (i % 28 == 0) n += (size_t)snprintf(row_nested + n, sizeof row_nested - n, "%s[", sep);
        n += (size_t)snprintf(row_nested + n, sizeof row_nested - n, "%s0.%d", i % 28 ? "," : "",
                              i % 7);
        if (i % 28 == 27) n += (size_t)snprintf(row_nested + n, sizeof row_nested - n, "]");
    }
    return rc;
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

/* POST body to path with these header lines (NULL-terminated, may be NULL);
 * the status, and the body parsed into *json (caller deletes; may be NULL). */
static long post(const char *path, const void *body, size_t len, const char *const *headers,
                 cJSON **json) {
    http_result r;
    assert_int_equal(http_do_lines(&D, "POST", path, body, len, headers, 0, &r), 0);
    long st = r.status;
    cJSON *j = cJSON_ParseWithLength(r.body, r.len);
    if (st >= 400) {
        /* Both protocols' error object: {"error": "<message>"}. */
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")))
            fail_msg("%s answered %ld without {\"error\": string}: %s", path, st, r.body);
    }
    http_result_free(&r);
    if (json)
        *json = j;
    else
        cJSON_Delete(j);
    return st;
}

static const char *const JSON_CT[] = {"Content-Type: application/json", NULL};

/* printf into a static buffer (one body at a time). */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...) {
    static char buf[WIDTH * 24];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

/* The status of a JSON POST; on a refusal the error must mention `needle`. */
static long json_post(const char *path, const char *body, const char *needle) {
    cJSON *j = NULL;
    long st = post(path, body, strlen(body), JSON_CT, &j);
    const char *e = json_str(j, "error");
    if (st >= 400 && needle && (!e || !strstr(e, needle)))
        fail_msg("%s: error '%s' does not mention '%s'", path, e ? e : "(none)", needle);
    cJSON_Delete(j);
    return st;
}

/* A v2 request body with this input shape and data. */
static const char *v2_body(const char *shape, const char *data, const char *tail) {
    return fmt(
        "{\"inputs\":[{\"name\":\"input\",\"shape\":%s,\"datatype\":\"FP32\",\"data\":%s}]%s}",
        shape, data, tail);
}

static void test_tf_serving_metadata(void **state) {
    (void)state;
    assert_int_equal(request_status(&D, "PUT", "/models/mnist/aliases/stable", "application/json",
                                    "{\"version\":1}", 13, NULL),
                     200);
    static const char *const paths[] = {"/v1/models/mnist/metadata",
                                        "/v1/models/mnist/versions/1/metadata",
                                        "/v1/models/mnist/labels/stable/metadata"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        long st;
        cJSON *j = oip_call(&D, "GET", paths[i], NULL, "tfs_metadata", &st);
        assert_int_equal(st, 200);
        assert_non_null(j);
        cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "model_spec");
        assert_string_equal(json_str(spec, "name"), "mnist");
        assert_string_equal(json_str(spec, "version"), "1");
        cJSON *sig = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metadata"),
                                             "signature_def"),
            "signature_def");
        sig = cJSON_GetObjectItemCaseSensitive(sig, "serving_default");
        cJSON *in = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(sig, "inputs"), "input");
        cJSON *out = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(sig, "outputs"), "probabilities");
        assert_string_equal(json_str(in, "dtype"), "DT_FLOAT");
        cJSON *in_dims = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(in, "tensor_shape"), "dim");
        cJSON *out_dims = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(out, "tensor_shape"), "dim");
        assert_string_equal(json_str(cJSON_GetArrayItem(in_dims, 0), "size"), "-1");
        assert_string_equal(json_str(cJSON_GetArrayItem(in_dims, 1), "size"), "784");
        assert_string_equal(json_str(cJSON_GetArrayItem(out_dims, 1), "size"), "10");
        cJSON_Delete(j);
    }
    static const char *const missing[] = {
        "/v1/models/nosuch/metadata", "/v1/models/mnist/versions/9/metadata",
        "/v1/models/mnist/labels/nolabel/metadata", "/v1/models/mnist/metadata/extra"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        long st;
        cJSON_Delete(oip_call(&D, "GET", missing[i], NULL, "error", &st));
        assert_int_equal(st, 404);
    }
}

static void test_tf_serving_any_content_type(void **state) {
    (void)state;
    /* TF Serving's own example posts with `curl -d`: a form Content-Type. */
    const char *body = fmt("{\"instances\":[[%s]]}", row_flat);
    cJSON *want = NULL, *got = NULL;
    assert_int_equal(post("/v1/models/mnist:predict", body, strlen(body), JSON_CT, &want), 200);
    static const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    assert_int_equal(post("/v1/models/mnist:predict", body, strlen(body), form, &got), 200);
    assert_true(cJSON_Compare(want, got, 1));
    cJSON_Delete(got);
    static const char *const none[] = {"Content-Type:", NULL}; /* libcurl: send none */
    assert_int_equal(post("/v1/models/mnist:predict", body, strlen(body), none, &got), 200);
    assert_true(cJSON_Compare(want, got, 1));
    cJSON_Delete(got);
    /* signature_name "" is the default one (what the metadata's model_spec holds). */
    body = fmt("{\"signature_name\":\"\",\"instances\":[[%s]]}", row_flat);
    assert_int_equal(post("/v1/models/mnist:predict", body, strlen(body), JSON_CT, &got), 200);
    assert_true(cJSON_Compare(want, got, 1));
    cJSON_Delete(got);
    /* The same row nested 28 x 28, in both formats, answers the same. */
    body = fmt("{\"instances\":[[%s]]}", row_nested);
    assert_int_equal(post("/v1/models/mnist:predict", body, strlen(body), JSON_CT, &got), 200);
    assert_true(cJSON_Compare(want, got, 1));
    cJSON_Delete(got);
    cJSON_Delete(want);
}

static void test_tf_serving_hostile_bodies(void **state) {
    (void)state;
    const char *p = "/v1/models/mnist:predict";
    assert_int_equal(
        json_post(p, fmt("{\"instances\":[[%s]],\"instances\":[[1],[2]]}", row_flat), "twice"),
        400);
    assert_int_equal(json_post(p,
                               fmt("{\"signature_name\":\"serving_default\",\"inputs\":[[%s]],"
                                   "\"signature_name\":\"x\"}",
                                   row_flat),
                               "twice"),
                     400);
    /* Rows of different shapes, each with 784 values. */
    assert_int_equal(
        json_post(p, fmt("{\"instances\":[[%s],[%s]]}", row_flat, row_nested), "same shape"), 400);
    /* A ragged row: 783 values in one list, 1 in another. */
    char *ragged = strdup(row_flat);
    *strrchr(ragged, ',') = '\0';
    assert_int_equal(json_post(p, fmt("{\"instances\":[[[%s],[1]]]}", ragged), "ragged"), 400);
    free(ragged);
    assert_int_equal(json_post(p, "{\"instances\":[[1,NaN]]}", NULL), 400);
    assert_int_equal(json_post(p, "{\"instances\":[[1,Infinity]]}", NULL), 400);
    assert_int_equal(json_post(p, "{\"instances\":[[1,1e39]]}", "range"), 400);
    assert_int_equal(json_post(p, "{\"instances\":[[1,\"2\"]]}", "numbers"), 400);
    char deep[4100] = "{\"instances\":";
    for (int i = 0; i < 2000; i++) strcat(deep, "[");
    for (int i = 0; i < 2000; i++) strcat(deep, "]");
    strcat(deep, "}");
    assert_int_equal(json_post(p, deep, NULL), 400);
    /* An unknown model is a 404 whatever the body. */
    assert_int_equal(json_post("/v1/models/nosuch:predict", "{}", "nosuch"), 404);
    assert_int_equal(json_post("/v1/models/mnist/versions/9:predict", "not json", NULL), 404);
    expect_healthy(&D);
}

static void test_v2_duplicates_and_unknown_models(void **state) {
    (void)state;
    const char *p = "/v2/models/mnist/infer";
    char one[WIDTH * 8 + 2];
    snprintf(one, sizeof one, "[%s]", row_flat);
    assert_int_equal(json_post(p, v2_body("[1,784]", one, ""), NULL), 200);
    assert_int_equal(
        json_post(p, v2_body("[1,784]", one, ",\"outputs\":[{\"name\":\"label\",\"name\":\"x\"}]"),
                  "twice"),
        400);
    assert_int_equal(json_post(p,
                               v2_body("[1,784]", one,
                                       ",\"outputs\":[{\"name\":\"label\",\"parameters\":{"
                                       "\"binary_data\":true,\"binary_data\":false}}]"),
                               "twice"),
                     400);
    assert_int_equal(json_post(p,
                               v2_body("[1,784]", one,
                                       ",\"parameters\":{\"binary_data_output\":true,"
                                       "\"binary_data_output\":false}"),
                               "twice"),
                     400);
    assert_int_equal(json_post("/v2/models/nosuch/infer", "{}", "nosuch"), 404);
    assert_int_equal(json_post("/v2/models/mnist/versions/9/infer", "[", NULL), 404);
    assert_int_equal(json_post("/v2/models/mnist/versions/nolabel/infer", "", NULL), 404);
}

static void test_v2_data_shapes_and_values(void **state) {
    (void)state;
    const char *p = "/v2/models/mnist/infer";
    char one[WIDTH * 8 + 2], nested[WIDTH * 8 + 2];
    snprintf(one, sizeof one, "[%s]", row_flat);
    snprintf(nested, sizeof nested, "[%s]", row_nested);
    cJSON *want = NULL, *got = NULL;
    const char *b = v2_body("[1,784]", one, "");
    assert_int_equal(post(p, b, strlen(b), JSON_CT, &want), 200);
    /* Any regular nesting is the same tensor: [28][28] for shape [1, 784]. */
    b = v2_body("[1,784]", nested, "");
    assert_int_equal(post(p, b, strlen(b), JSON_CT, &got), 200);
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(want, "outputs"),
                              cJSON_GetObjectItemCaseSensitive(got, "outputs"), 1));
    cJSON_Delete(got);
    cJSON_Delete(want);
    /* Ragged lists, even with the right count, and numbers beside lists. */
    char ragged[WIDTH * 8 + 8];
    snprintf(ragged, sizeof ragged, "[%s]", row_flat);
    *strrchr(ragged, ',') = '\0';
    strcat(ragged, ",[1]]");
    assert_int_equal(json_post(p, v2_body("[1,784]", ragged, ""), "ragged"), 400);
    assert_int_equal(json_post(p, v2_body("[1,4]", "[[1,2,3],[4]]", ""), "ragged"), 400);
    assert_int_equal(json_post(p, v2_body("[1,4]", "[1,2,[3,4]]", ""), "ragged"), 400);
    /* Shapes past every integer type, and their products. */
    assert_int_equal(json_post(p, v2_body("[1,18446744073709551615]", "[1]", ""), "shape"), 400);
    assert_int_equal(json_post(p, v2_body("[1,9007199254740991]", "[1]", ""), "larger"), 400);
    assert_int_equal(json_post(p, v2_body("[4294967296,4294967296]", "[1]", ""), "rows"), 413);
    assert_int_equal(json_post(p, v2_body("[1,-784]", "[1]", ""), "shape"), 400);
    assert_int_equal(json_post(p, v2_body("[1,1.5]", "[1]", ""), "shape"), 400);
    /* NaN and Infinity are not JSON; 1e39 is beyond FP32. */
    assert_int_equal(json_post(p, v2_body("[1,2]", "[1,NaN]", ""), NULL), 400);
    assert_int_equal(json_post(p, v2_body("[1,2]", "[1,-Infinity]", ""), NULL), 400);
    assert_int_equal(json_post(p, v2_body("[1,2]", "[1,1e39]", ""), "range"), 400);
    assert_int_equal(json_post(p, v2_body("[1,2]", "[1,2,]", ""), "value expected"), 400);
    char deep[4200];
    size_t n = 0;
    for (int i = 0; i < 2000; i++) deep[n++] = '[';
    deep[n++] = '1';
    for (int i = 0; i < 2000; i++) deep[n++] = ']';
    deep[n] = '\0';
    assert_int_equal(json_post(p, v2_body("[1,1]", deep, ""), "deep"), 400);
    expect_healthy(&D);
}

static void test_v2_header_length_spellings(void **state) {
    (void)state;
    const char *p = "/v2/models/mnist/infer";
    char json[160];
    int jl = snprintf(json, sizeof json,
                      "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\","
                      "\"parameters\":{\"binary_data_size\":%d}}]}",
                      WIDTH * 4);
    size_t len = (size_t)jl + WIDTH * 4;
    unsigned char *body = malloc(len);
    memcpy(body, json, (size_t)jl);
    for (int i = 0; i < WIDTH; i++) {
        float f = (float)(i % 7) / 10;
        memcpy(body + jl + 4 * i, &f, 4); /* little-endian hosts only, as the CI runs */
    }
    /* Each value a format of the JSON's length (unused by the constants). */
    static const struct {
        const char *format;
        long status;
    } cases[] = {
        {"%d", 200},   {" %d\t", 200},  {"-1", 400},   {"abc", 400},
        {"0x10", 400}, {"+%d", 400},    {"%d.0", 400}, {"99999999999999999999999", 400},
        {"0", 400},    {"100000", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char value[40], line[80];
        snprintf(value, sizeof value, cases[i].format, jl);
        snprintf(line, sizeof line, "Inference-Header-Content-Length: %s", value);
        const char *const headers[] = {"Content-Type: application/octet-stream", line, NULL};
        long st = post(p, body, len, headers, NULL);
        if (st != cases[i].status) fail_msg("'%s' answered %ld", line, st);
    }
    /* Binary data with no header: the error says what is missing. */
    static const char *const octets[] = {"Content-Type: application/octet-stream", NULL};
    cJSON *j = NULL;
    assert_int_equal(post(p, body, len, octets, &j), 400);
    assert_non_null(strstr(json_str(j, "error"), "Inference-Header-Content-Length"));
    cJSON_Delete(j);
    free(body);
    expect_healthy(&D);
}

/* A model of 4 inputs and one linear output (mean squared error). */
static int upload_regressor(void) {
    static const int hidden[] = {3};
    mlp_arch a;
    mlp_model *m = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = -1;
    if (mlp_arch_make(&a, 4, hidden, 1, MLP_ACT_RELU, 1, MLP_LOSS_MSE, -1, NULL) == MLP_OK &&
        mlp_model_create(&a, MLP_INIT_HE_NORMAL, 5, &m, NULL) == MLP_OK &&
        mlp_model_to_buffer(m, &buf, &len, NULL) == MLP_OK)
        rc = request_status(&D, "POST", "/models?name=reg", "application/octet-stream",
                            (const char *)buf, len, NULL) == 201
                 ? 0
                 : -1;
    mlp_model_free(m);
    free(buf);
    return rc;
}

static void test_tf_serving_classify_regress(void **state) {
    (void)state;
    /* Two rows through :predict, then as examples through :classify. */
    cJSON *pred = NULL, *cls = NULL;
    const char *b = fmt("{\"instances\":[[%s],[%s]]}", row_flat, row_flat);
    assert_int_equal(post("/v1/models/mnist:predict", b, strlen(b), JSON_CT, &pred), 200);
    b = fmt("{\"examples\":[{\"input\":[%s]},{\"input\":[%s]}]}", row_flat, row_flat);
    assert_int_equal(post("/v1/models/mnist/versions/1:classify", b, strlen(b), JSON_CT, &cls),
                     200);
    cJSON *rows = cJSON_GetObjectItemCaseSensitive(cls, "result");
    assert_int_equal(cJSON_GetArraySize(rows), 2);
    for (int i = 0; i < 2; i++) {
        cJSON *want = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pred, "predictions"), i);
        cJSON *got = cJSON_GetArrayItem(rows, i);
        assert_int_equal(cJSON_GetArraySize(got), 10);
        for (int c = 0; c < 10; c++) {
            cJSON *pair = cJSON_GetArrayItem(got, c);
            char label[8];
            snprintf(label, sizeof label, "%d", c);
            assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0)), label);
            assert_float_equal(cJSON_GetNumberValue(cJSON_GetArrayItem(pair, 1)),
                               cJSON_GetNumberValue(cJSON_GetArrayItem(want, c)), 1e-6);
        }
    }
    cJSON_Delete(cls);
    /* The feature given once in the context serves every example. */
    b = fmt("{\"context\":{\"input\":[%s]},\"examples\":[{},{}]}", row_flat);
    assert_int_equal(post("/v1/models/mnist:classify", b, strlen(b), JSON_CT, &cls), 200);
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pred, "predictions"), 0);
    for (int i = 0; i < 2; i++)
        assert_float_equal(
            cJSON_GetNumberValue(cJSON_GetArrayItem(
                cJSON_GetArrayItem(
                    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cls, "result"), i), 3),
                1)),
            cJSON_GetNumberValue(cJSON_GetArrayItem(first, 3)), 1e-6);
    cJSON_Delete(cls);
    cJSON_Delete(pred);
    /* Refusals: examples' features, and :regress on a model of 10 outputs. */
    const char *p = "/v1/models/mnist:classify";
    assert_int_equal(json_post(p, "{\"examples\":[]}", "non-empty"), 400);
    assert_int_equal(json_post(p, "{\"examples\":[{\"x\":[1]}]}", "\"x\""), 400);
    assert_int_equal(json_post(p, "{\"examples\":[{\"input\":[[1,2]]}]}", "flat"), 400);
    assert_int_equal(
        json_post(p, "{\"context\":{\"input\":1},\"examples\":[{\"input\":2}]}", "both"), 400);
    assert_int_equal(json_post(p, "{\"instances\":[[1]]}", "examples"), 400);
    assert_int_equal(json_post(p, "{\"examples\":[{\"input\":1}],\"examples\":[]}", "twice"), 400);
    assert_int_equal(json_post(p, "{\"examples\":[{\"input\":[1,2]}]}", "784"), 400);
    assert_int_equal(json_post("/v1/models/mnist:regress",
                               fmt("{\"examples\":[{\"input\":[%s]}]}", row_flat), "one output"),
                     400);
    /* A context shared by 256 examples must not make a small body a huge
     * block: 256 x 65537 values is past the 2^24 a request may hold. */
    char *ctx = malloc(65537 * 2); /* "0,0,...,0" */
    for (int i = 0; i < 65537; i++) memcpy(ctx + 2 * i, "0,", 2);
    ctx[65537 * 2 - 1] = '\0';
    size_t cap = 65537 * 2 + 256 * 3 + 64, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n, "{\"context\":{\"input\":[%s]},\"examples\":[", ctx);
    for (int i = 0; i < 256; i++) n += (size_t)snprintf(body + n, cap - n, "%s{}", i ? "," : "");
    snprintf(body + n, cap - n, "]}");
    assert_int_equal(json_post(p, body, "at most"), 413);
    free(body);
    free(ctx);
    /* :regress on a one-output model: the same value :predict gives. */
    assert_int_equal(upload_regressor(), 0);
    cJSON *reg = NULL;
    b = "{\"examples\":[{\"input\":[1,2,3,4]},{\"input\":[0,0.5,0,1]}]}";
    assert_int_equal(post("/v1/models/reg:regress", b, strlen(b), JSON_CT, &reg), 200);
    b = "{\"instances\":[[1,2,3,4],[0,0.5,0,1]]}";
    assert_int_equal(post("/v1/models/reg:predict", b, strlen(b), JSON_CT, &pred), 200);
    cJSON *vals = cJSON_GetObjectItemCaseSensitive(reg, "result");
    assert_int_equal(cJSON_GetArraySize(vals), 2);
    for (int i = 0; i < 2; i++)
        assert_float_equal(
            cJSON_GetNumberValue(cJSON_GetArrayItem(vals, i)),
            cJSON_GetNumberValue(cJSON_GetArrayItem(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pred, "predictions"), i), 0)),
            1e-6);
    cJSON_Delete(reg);
    cJSON_Delete(pred);
    expect_healthy(&D);
}

/* $metadata_server_response "version": the server's own, as `mlpd --version` prints it. */
static void test_v2_server_version(void **state) {
    (void)state;
    const char *bin = getenv("MLPD_BIN");
    char cmd[600], line[128] = "", want[64] = "";
    snprintf(cmd, sizeof cmd, "'%s' --version", bin && *bin ? bin : "build/mlpd");
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    pclose(f);
    assert_int_equal(sscanf(line, "mlpd %63s", want), 1);
    long st;
    cJSON *j = oip_call(&D, "GET", "/v2", NULL, "server_metadata", &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_str(j, "name"), "mlpd");
    assert_string_equal(json_str(j, "version"), want);
    cJSON_Delete(j);
}

/* KServe's v1 "List Models": every registered name once, however many versions. */
static void test_v1_list_models(void **state) {
    (void)state;
    static const int hidden[] = {16};
    size_t len;
    unsigned char *bytes = model_file_bytes(hidden, 1, 12, &len);
    assert_int_equal(request_status(&D, "POST", "/models?name=mnist", "application/octet-stream",
                                    bytes, len, NULL),
                     201);
    free(bytes);
    long st;
    cJSON *j = oip_call(&D, "GET", "/v1/models", NULL, "none", &st);
    assert_int_equal(st, 200);
    cJSON *names = cJSON_GetObjectItemCaseSensitive(j, "models");
    assert_true(cJSON_IsArray(names));
    int mnist = 0, reg = 0, others = 0;
    cJSON *n;
    cJSON_ArrayForEach(n, names) {
        const char *s = cJSON_GetStringValue(n);
        assert_non_null(s);
        mnist += !strcmp(s, "mnist");
        reg += !strcmp(s, "reg");
        others += strcmp(s, "mnist") && strcmp(s, "reg");
    }
    assert_int_equal(mnist, 1);
    assert_int_equal(reg, 1);
    assert_int_equal(others, 0);
    cJSON_Delete(j);
    assert_int_equal(request_status(&D, "DELETE", "/v1/models", NULL, NULL, 0, NULL), 405);
}

/* Inputs within float32 that overflow inside the network: the protocols'
 * tensors hold numbers only (no null), so the answer is a 400, not NaN. */
static void test_outputs_that_overflow(void **state) {
    (void)state;
    static char huge[WIDTH * 6 + 2];
    size_t n = 0;
    for (int i = 0; i < WIDTH; i++)
        n += (size_t)snprintf(huge + n, sizeof huge - n, "%s3e38", i ? "," : "");
    char data[sizeof huge + 2];
    snprintf(data, sizeof data, "[%s]", huge);
    assert_int_equal(
        json_post("/v2/models/mnist/versions/1/infer", v2_body("[1,784]", data, ""), "finite"),
        400);
    assert_int_equal(json_post("/v1/models/mnist/versions/1:predict",
                               fmt("{\"instances\":[%s]}", data), "finite"),
                     400);
    assert_int_equal(json_post("/v1/models/mnist/versions/1:classify",
                               fmt("{\"examples\":[{\"input\":%s}]}", data), "finite"),
                     400);
    expect_healthy(&D);
}

/* The model repository extension's bodies: $parameters must be an object,
 * load parameters (Triton's config, file:...) cannot apply and are refused,
 * unload_dependents is a boolean. */
static void test_v2_repository_parameters(void **state) {
    (void)state;
    const char *load = "/v2/repository/models/mnist/load";
    const char *unload = "/v2/repository/models/mnist/unload";
    assert_int_equal(json_post(load, "{\"parameters\":5}", "object"), 400);
    assert_int_equal(json_post(load, "{\"parameters\":{\"config\":\"{}\"}}", "config"), 400);
    assert_int_equal(json_post(unload, "{\"parameters\":{\"unload_dependents\":1}}", "boolean"),
                     400);
    /* Refused requests changed nothing: the model still answers. */
    char one[WIDTH * 8 + 2];
    snprintf(one, sizeof one, "[%s]", row_flat);
    assert_int_equal(json_post("/v2/models/mnist/infer", v2_body("[1,784]", one, ""), NULL), 200);
    assert_int_equal(json_post(unload, "{\"parameters\":{\"unload_dependents\":true}}", NULL), 200);
    assert_int_equal(json_post("/v2/models/mnist/infer", v2_body("[1,784]", one, ""), "unloaded"),
                     503);
    assert_int_equal(json_post(load, "{\"parameters\":{}}", NULL), 200);
    assert_int_equal(json_post("/v2/models/mnist/infer", v2_body("[1,784]", one, ""), NULL), 200);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tf_serving_metadata),
        cmocka_unit_test(test_tf_serving_any_content_type),
        cmocka_unit_test(test_tf_serving_hostile_bodies),
        cmocka_unit_test(test_tf_serving_classify_regress),
        cmocka_unit_test(test_v2_server_version),
        cmocka_unit_test(test_v2_duplicates_and_unknown_models),
        cmocka_unit_test(test_v2_data_shapes_and_values),
        cmocka_unit_test(test_v2_header_length_spellings),
        cmocka_unit_test(test_outputs_that_overflow),
        cmocka_unit_test(test_v2_repository_parameters),
        cmocka_unit_test(test_v1_list_models),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
