/* test_api_explain.c - POST /explain against a real daemon.
 *
 * The daemon's attributions are compared with the engine's own, computed here
 * in process on the model file the daemon serves (GET /models/{id}/file), for
 * every method; then the answer's shape (one attribution per input feature,
 * targets, convergence_delta for integrated gradients only) and each refusal
 * of the list, with its status and JSON pointer.
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

#define N_DIGITS 4

static mlpd_daemon D;
static int64_t model_id, linear_id;
static mlp_model *local; /* the daemon's model, loaded here */
static float *digits;
static int labels[N_DIGITS];

/* Upload a 784-16-10 relu/linear (mse) model: a non-softmax output. */
static int64_t upload_linear_model(void) {
    mlp_arch a;
    int hidden[] = {16};
    mlp_model *m = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (mlp_arch_make(&a, 784, hidden, 1, MLP_ACT_RELU, 10, MLP_LOSS_MSE, -1, NULL) ||
        mlp_model_create(&a, MLP_INIT_HE_NORMAL, 3, &m, NULL) ||
        mlp_model_to_buffer(m, &buf, &len, NULL))
        return -1;
    mlp_model_free(m);
    http_result r;
    int rc = http_do(&D, "POST", "/models", "application/octet-stream", buf, len, NULL, 0, &r);
    free(buf);
    cJSON *j = rc == 0 && r.status == 201 ? http_result_json(&r) : NULL;
    int64_t id = j ? (int64_t)json_num(j, "id") : -1;
    cJSON_Delete(j);
    http_result_free(&r);
    return id;
}

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    model_id = train_model(&D,
                           "{\"hidden\":[32],\"epochs\":2,\"batch_size\":32,"
                           "\"learning_rate\":0.1,\"seed\":5}",
                           120, NULL);
    if (model_id <= 0 || load_test_digits(&D, N_DIGITS, &digits, labels)) return -1;
    char path[64];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)model_id);
    http_result f;
    if (http_get(&D, path, &f) || f.status != 200 ||
        mlp_model_from_buffer((unsigned char *)f.body, f.len, &local, NULL) != MLP_OK ||
        mlp_model_pack(local, NULL) != MLP_OK) /* as the daemon's model cache does */
        return -1;
    http_result named;
    int up = http_do(&D, "POST", "/models?name=digits", "application/octet-stream", f.body, f.len,
                     NULL, 0, &named);
    long named_status = named.status;
    http_result_free(&named);
    http_result_free(&f);
    if (up != 0 || named_status != 201) return -1;
    linear_id = upload_linear_model();
    return linear_id > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    free(digits);
    mlp_model_free(local);
    int rc = daemon_stop(&D);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* {"model": id, "inputs": rows 0..n-1, <extra members>} (caller frees). */
static char *explain_body(int64_t model, int n, const char *extra) {
    char *rows = predict_body(model, digits, n, 784, 1);
    assert_non_null(rows);
    size_t len = strlen(rows) + strlen(extra) + 4;
    char *body = malloc(len);
    assert_non_null(body);
    rows[strlen(rows) - 1] = '\0'; /* drop the closing brace */
    snprintf(body, len, "%s%s%s}", rows, *extra ? "," : "", extra);
    free(rows);
    return body;
}

static cJSON *post_explain(const char *body, long want) {
    http_result r;
    assert_int_equal(http_post_json(&D, "/explain", body, &r), 0);
    if (r.status != want) fprintf(stderr, "POST /explain -> %ld %.400s\n", r.status, r.body);
    assert_int_equal(r.status, want);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(j);
    return j;
}

/* The daemon's answer for rows 0..n-1 against mlp_explain in process. */
static void check_against_engine(const cJSON *j, const mlp_explain_config *cfg, int n,
                                 const int *target_in) {
    float attr[N_DIGITS * 784], delta[N_DIGITS];
    int target[N_DIGITS];
    float *scratch = malloc(sizeof(float) * mlp_explain_scratch_floats(local));
    assert_non_null(scratch);
    memcpy(target, target_in, sizeof(int) * n);
    assert_int_equal(mlp_explain(local, cfg, digits, n, target, attr, delta, scratch, NULL),
                     MLP_OK);
    free(scratch);
    assert_string_equal(json_str(j, "method"), mlp_explain_method_name(cfg->method));
    assert_string_equal(json_str(j, "output"), mlp_explain_output_name(cfg->output));
    const cJSON *preds = cJSON_GetObjectItemCaseSensitive(j, "predictions");
    assert_int_equal(cJSON_GetArraySize(preds), n);
    double worst = 0;
    for (int r = 0; r < n; r++) {
        const cJSON *p = cJSON_GetArrayItem(preds, r);
        assert_int_equal((int)json_num(p, "target"), target[r]);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "probabilities")),
                         10);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(p, "attributions");
        assert_int_equal(cJSON_GetArraySize(a), 784);
        /* Float32 rounding of sums whose order may differ (the daemon's
         * OpenBLAS runs one thread): within 1e-5 of the row's largest value. */
        double scale = 0;
        for (int i = 0; i < 784; i++) scale = fmax(scale, fabs(attr[r * 784 + i]));
        int i = 0;
        for (const cJSON *v = a->child; v; v = v->next, i++) {
            double d = fabs(v->valuedouble - attr[r * 784 + i]);
            worst = d > worst ? d : worst;
            if (!(d <= 1e-5 * scale))
                fail_msg("row %d attribution %d: daemon %.9g engine %.9g", r, i, v->valuedouble,
                         (double)attr[r * 784 + i]);
        }
        const cJSON *cd = cJSON_GetObjectItemCaseSensitive(p, "convergence_delta");
        if (cfg->method == MLP_EXPLAIN_INTEGRATED_GRADIENTS) {
            assert_true(cJSON_IsNumber(cd));
            assert_true(fabs(cd->valuedouble - delta[r]) <= 1e-5 * scale);
        } else {
            assert_null(cd);
        }
    }
    printf("  %s/%s: %d rows, worst |daemon - engine| %.3g\n", mlp_explain_method_name(cfg->method),
           mlp_explain_output_name(cfg->output), n, worst);
}

/* The defaults: integrated gradients, 50 steps, zeros, probability of the
 * predicted class; one input ("input" form). */
static void test_default_is_integrated_gradients(void **state) {
    (void)state;
    char *body = predict_body(model_id, digits, 1, 784, 0);
    cJSON *j = post_explain(body, 200);
    free(body);
    assert_int_equal((int64_t)json_num(j, "model"), model_id);
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "predictions"), 0);
    assert_int_equal((int)json_num(p, "target"), (int)json_num(p, "label"));
    mlp_explain_config cfg;
    mlp_explain_config_default(&cfg);
    int t = -1;
    check_against_engine(j, &cfg, 1, &t);
    cJSON_Delete(j);
}

/* Every method, both outputs, given and predicted targets, a given baseline. */
static void test_every_method(void **state) {
    (void)state;
    static const struct {
        const char *extra;
        mlp_explain_method method;
        mlp_explain_output output;
        int n_steps, samples, seed, baseline_half, targets[N_DIGITS];
    } cases[] = {
        {"\"method\":\"saliency\",\"output\":\"logit\",\"target\":[3,null,7,null]",
         MLP_EXPLAIN_SALIENCY,
         MLP_EXPLAIN_LOGIT,
         50,
         50,
         0,
         0,
         {3, -1, 7, -1}},
        {"\"method\":\"gradient_x_input\",\"target\":2",
         MLP_EXPLAIN_GRADIENT_X_INPUT,
         MLP_EXPLAIN_PROBABILITY,
         50,
         50,
         0,
         0,
         {2, 2, 2, 2}},
        {"\"method\":\"integrated_gradients\",\"n_steps\":20,\"output\":\"logit\"",
         MLP_EXPLAIN_INTEGRATED_GRADIENTS,
         MLP_EXPLAIN_LOGIT,
         20,
         50,
         0,
         0,
         {-1, -1, -1, -1}},
        {"\"method\":\"smoothgrad\",\"samples\":8,\"noise\":0.1,\"seed\":4",
         MLP_EXPLAIN_SMOOTHGRAD,
         MLP_EXPLAIN_PROBABILITY,
         50,
         8,
         4,
         0,
         {-1, -1, -1, -1}},
        {NULL,
         MLP_EXPLAIN_INTEGRATED_GRADIENTS,
         MLP_EXPLAIN_PROBABILITY,
         50,
         50,
         0,
         1,
         {-1, -1, -1, -1}},
    };
    static float half[784];
    for (int i = 0; i < 784; i++) half[i] = 0.5f;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char extra[8192];
        if (cases[k].extra) {
            snprintf(extra, sizeof extra, "%s", cases[k].extra);
        } else { /* a given baseline of 0.5 everywhere */
            size_t n = (size_t)snprintf(extra, sizeof extra, "\"baseline\":[");
            for (int i = 0; i < 784; i++)
                n += (size_t)snprintf(extra + n, 8, "%s0.5", i ? "," : "");
            snprintf(extra + n, sizeof extra - n, "]");
        }
        char *body = explain_body(model_id, N_DIGITS, extra);
        cJSON *j = post_explain(body, 200);
        free(body);
        mlp_explain_config cfg;
        mlp_explain_config_default(&cfg);
        cfg.method = cases[k].method;
        cfg.output = cases[k].output;
        cfg.n_steps = cases[k].n_steps;
        cfg.samples = cases[k].samples;
        cfg.seed = (uint64_t)cases[k].seed;
        if (cases[k].method == MLP_EXPLAIN_SMOOTHGRAD) cfg.noise = 0.1f;
        if (cases[k].baseline_half) cfg.baseline = half;
        check_against_engine(j, &cfg, N_DIGITS, cases[k].targets);
        cJSON_Delete(j);
    }
}

/* A non-softmax output explains its logit, and refuses the probability. */
static void test_linear_output(void **state) {
    (void)state;
    char *body = explain_body(linear_id, 1, "\"output\":\"logit\",\"method\":\"saliency\"");
    cJSON *j = post_explain(body, 200);
    free(body);
    cJSON_Delete(j);
    body = explain_body(linear_id, 1, "\"method\":\"saliency\"");
    cJSON *p = expect_problem(&D, "POST", "/explain", "application/json", body, strlen(body), NULL,
                              422, NULL);
    free(body);
    expect_problem_pointer(p, "/output");
    expect_detail_mentions(p, "softmax");
    cJSON_Delete(p);
}

/* The bad input, each a 4xx with its pointer. */
static void test_refusals(void **state) {
    (void)state;
    static const struct {
        int rows;
        const char *extra;
        long status;
        const char *pointer;
    } cases[] = {
        {1, "\"target\":10", 422, "/target"},
        {2, "\"target\":[1,10]", 422, "/target/1"},
        {1, "\"target\":-1", 422, "/target"},
        {1, "\"n_steps\":0", 422, "/n_steps"},
        {1, "\"n_steps\":1000000", 422, "/n_steps"},
        {1, "\"n_steps\":1001", 422, "/n_steps"},
        {1, "\"method\":\"smoothgrad\",\"samples\":1001", 422, "/samples"},
        {1, "\"method\":\"smoothgrad\",\"noise\":-0.5", 422, "/noise"},
        {1, "\"baseline\":[0.5,0.5,0.5]", 422, "/baseline"},
        {1, "\"baseline\":[0.5,\"NaN\",0.5]", 422, "/baseline/1"},
        {1, "\"baseline\":[0.5,1e999,0.5]", 422, "/baseline/1"},
        {1, "\"baseline\":\"ones\"", 422, "/baseline"},
        {1, "\"method\":\"saliency\",\"n_steps\":10", 422, "/n_steps"},
        {1, "\"method\":\"lime\"", 422, "/method"},
        {1, "\"output\":\"loss\"", 422, "/output"},
        {1, "\"colour\":1", 422, "/colour"},
        {33, "", 413, "/inputs"},
    };
    static float many[33 * 784];
    for (int r = 0; r < 33; r++) memcpy(many + r * 784, digits, sizeof(float) * 784);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *rows = predict_body(model_id, cases[k].rows > N_DIGITS ? many : digits, cases[k].rows,
                                  784, cases[k].rows > 1);
        size_t len = strlen(rows) + strlen(cases[k].extra) + 4;
        char *body = malloc(len);
        assert_non_null(body);
        rows[strlen(rows) - 1] = '\0';
        snprintf(body, len, "%s%s%s}", rows, *cases[k].extra ? "," : "", cases[k].extra);
        free(rows);
        cJSON *p = expect_problem(&D, "POST", "/explain", "application/json", body, strlen(body),
                                  NULL, cases[k].status, NULL);
        expect_problem_pointer(p, cases[k].pointer);
        cJSON_Delete(p);
        free(body);
    }
    /* a later row longer than row 0 (was written past the rows' buffer before its width
     * was compared: heap overflow) */
    const char *ragged = "{\"inputs\":[[0.5],[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]]}";
    cJSON *rg = expect_problem(&D, "POST", "/explain", "application/json", ragged, strlen(ragged),
                               NULL, 422, NULL);
    expect_problem_pointer(rg, "/inputs/1");
    cJSON_Delete(rg);
    expect_healthy(&D);
    /* a row of the wrong width, and an unknown model */
    cJSON *p = expect_problem(&D, "POST", "/explain", "application/json", "{\"input\":[0.5,0.5]}",
                              19, NULL, 422, NULL);
    expect_problem_pointer(p, "/input");
    cJSON_Delete(p);
    p = expect_problem(&D, "POST", "/explain", "application/json",
                       "{\"model\":999,\"input\":[0.5,0.5]}", 31, NULL, 404, NULL);
    expect_problem_pointer(p, "/model");
    cJSON_Delete(p);
}

/* POST /explain of `rows` copies of digit 0 on model id with `extra` members;
 * returns the status, the answer in *r (caller frees). */
static long explain_rows_of(int64_t id, int rows, const char *extra, http_result *r) {
    static float many[32 * 784];
    for (int k = 0; k < rows; k++) memcpy(many + k * 784, digits, sizeof(float) * 784);
    char *body = predict_body(id, many, rows, 784, rows > 1);
    assert_non_null(body);
    size_t len = strlen(body) + strlen(extra) + 4;
    char *full = malloc(len);
    assert_non_null(full);
    body[strlen(body) - 1] = '\0';
    snprintf(full, len, "%s,%s}", body, extra);
    free(body);
    assert_int_equal(http_post_json(&D, "/explain", full, r), 0);
    free(full);
    return r->status;
}

/* A request's work is capped (rows x passes x parameters): on a model of
 * 3.26 million parameters 32 rows of 1,000 steps or samples are refused
 * (on a 16-million one two such requests held both HTTP threads, and
 * /healthz, for 52 s), one row of 1,000 steps is answered. */
static void test_work_is_capped(void **state) {
    (void)state;
    static const int hidden[] = {4096};
    size_t len;
    unsigned char *bytes = model_file_bytes(hidden, 1, 7, &len);
    assert_non_null(bytes);
    http_result up;
    assert_int_equal(http_do(&D, "POST", "/models?name=wide", "application/octet-stream", bytes,
                             len, NULL, 0, &up),
                     0);
    free(bytes);
    assert_int_equal(up.status, 201);
    cJSON *m = http_result_json(&up);
    int64_t wide = (int64_t)json_num(m, "id");
    cJSON_Delete(m);
    http_result_free(&up);
    static const struct {
        int rows;
        const char *extra, *pointer;
    } refused[] = {
        {32, "\"n_steps\":1000", "/n_steps"},
        {32, "\"method\":\"smoothgrad\",\"samples\":1000", "/samples"},
    };
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        http_result r;
        assert_int_equal(explain_rows_of(wide, refused[k].rows, refused[k].extra, &r), 422);
        cJSON *p = http_result_json(&r);
        assert_string_equal(json_str(p, "type"), "/problems/limit-exceeded");
        expect_problem_pointer(p, refused[k].pointer);
        expect_detail_mentions(p, "may be at most");
        cJSON_Delete(p);
        http_result_free(&r);
    }
    http_result r;
    assert_int_equal(explain_rows_of(wide, 1, "\"n_steps\":1000", &r), 200);
    http_result_free(&r);
    /* the 32-unit model of the other tests takes the most a request may ask */
    assert_int_equal(explain_rows_of(model_id, 32, "\"n_steps\":1000", &r), 200);
    http_result_free(&r);
}

/* {"inputs": [the v2 tensor of rows 0..n-1]} + ,"parameters": {...} (caller frees). */
static char *v2_body(int n, const char *params) {
    size_t cap = (size_t)n * 784 * 16 + strlen(params) + 256;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t k = (size_t)snprintf(b, cap,
                                "{\"id\":\"q1\",\"inputs\":[{\"name\":\"input\",\"shape\":[%d,784],"
                                "\"datatype\":\"FP32\",\"data\":[",
                                n);
    for (int i = 0; i < n * 784; i++)
        k += (size_t)snprintf(b + k, cap - k, "%s%.9g", i ? "," : "", digits[i]);
    snprintf(b + k, cap - k, "]}]%s%s}", *params ? ",\"parameters\":" : "", params);
    return b;
}

/* The named output tensor of a v2 answer. */
static const cJSON *v2_output(const cJSON *j, const char *name) {
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(j, "outputs")) {
        if (!strcmp(json_str(o, "name"), name)) return o;
    }
    return NULL;
}

/* POST /v2/models/{name}[/versions/{v}]/explain: the infer body plus
 * "parameters"; attributions [N, 784] among the outputs, as the engine's. */
static void test_v2_explain(void **state) {
    (void)state;
    char *body = v2_body(2, "{\"method\":\"saliency\",\"output\":\"logit\",\"target\":[3,null],"
                            "\"binary_data_output\":false}");
    http_result r;
    assert_int_equal(http_post_json(&D, "/v2/models/digits/explain", body, &r), 0);
    free(body);
    if (r.status != 200) fprintf(stderr, "v2 explain -> %ld %.300s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    assert_string_equal(json_str(j, "model_name"), "digits");
    assert_string_equal(json_str(j, "model_version"), "1");
    assert_string_equal(json_str(j, "id"), "q1");
    const cJSON *a = v2_output(j, "attributions"), *t = v2_output(j, "target");
    assert_non_null(a);
    assert_string_equal(json_str(a, "datatype"), "FP32");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(a, "shape");
    assert_int_equal(cJSON_GetArrayItem(shape, 0)->valueint, 2);
    assert_int_equal(cJSON_GetArrayItem(shape, 1)->valueint, 784);
    assert_null(v2_output(j, "convergence_delta"));
    float attr[2 * 784];
    int target[2] = {3, -1};
    float *scratch = malloc(sizeof(float) * mlp_explain_scratch_floats(local));
    mlp_explain_config cfg;
    mlp_explain_config_default(&cfg);
    cfg.method = MLP_EXPLAIN_SALIENCY;
    cfg.output = MLP_EXPLAIN_LOGIT;
    assert_int_equal(mlp_explain(local, &cfg, digits, 2, target, attr, NULL, scratch, NULL),
                     MLP_OK);
    free(scratch);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(a, "data"), *v;
    assert_int_equal(cJSON_GetArraySize(data), 2 * 784);
    int i = 0;
    cJSON_ArrayForEach(v, data) {
        assert_true(fabs(v->valuedouble - attr[i]) <= 1e-5 * fabs(attr[i]) + 1e-6);
        i++;
    }
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(t, "data");
    assert_int_equal(cJSON_GetArrayItem(td, 0)->valueint, 3);
    assert_int_equal(cJSON_GetArrayItem(td, 1)->valueint, target[1]);
    cJSON_Delete(j);

    /* versioned, defaults: integrated gradients with its delta */
    body = v2_body(1, "");
    assert_int_equal(http_post_json(&D, "/v2/models/digits/versions/1/explain", body, &r), 0);
    free(body);
    assert_int_equal(r.status, 200);
    j = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(v2_output(j, "convergence_delta"));
    assert_string_equal(json_str(cJSON_GetObjectItemCaseSensitive(j, "parameters"), "method"),
                        "integrated_gradients");
    cJSON_Delete(j);

    /* refusals: {"error"} with the protocol's statuses */
    static const struct {
        const char *path, *params;
        long status;
        const char *needle;
    } bad[] = {
        {"/v2/models/digits/explain", "{\"n_steps\":0}", 400, "n_steps"},
        {"/v2/models/digits/explain", "{\"method\":\"saliency\",\"samples\":3}", 400, "samples"},
        {"/v2/models/digits/explain", "{\"target\":10}", 400, "target"},
        {"/v2/models/nobody/explain", "", 404, "nobody"},
        {"/v2/models/digits/versions/9/explain", "", 404, ""},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        body = v2_body(1, bad[k].params);
        assert_int_equal(http_post_json(&D, bad[k].path, body, &r), 0);
        free(body);
        if (r.status != bad[k].status)
            fprintf(stderr, "%s -> %ld %s\n", bad[k].path, r.status, r.body);
        assert_int_equal(r.status, bad[k].status);
        cJSON *e = http_result_json(&r);
        assert_non_null(strstr(json_str(e, "error"), bad[k].needle));
        cJSON_Delete(e);
        http_result_free(&r);
    }
}

/* /explain names a model of the registry as /predict does. */
static void test_model_by_name(void **state) {
    (void)state;
    char *body = explain_body(0, 1, "\"model\":\"digits/1\",\"method\":\"saliency\"");
    cJSON *j = post_explain(body, 200);
    free(body);
    mlp_explain_config cfg;
    mlp_explain_config_default(&cfg);
    cfg.method = MLP_EXPLAIN_SALIENCY;
    int t = -1;
    check_against_engine(j, &cfg, 1, &t);
    cJSON_Delete(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_integrated_gradients),
        cmocka_unit_test(test_every_method),
        cmocka_unit_test(test_linear_output),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_work_is_capped),
        cmocka_unit_test(test_v2_explain),
        cmocka_unit_test(test_model_by_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
