/* test_api_evaluation.c - evaluation reports: stored at the end of a job,
 * made on request (POST /models/{id}/evaluate), read back (GET
 * /models/{id}/evaluation); the worst misclassified examples fetched through
 * GET /datasets/{name}/samples?index= and checked with /predict; the "mean"
 * baseline of /explain that a job records; and the refusals.
 *
 * Every figure of the report is re-derived here from its confusion matrix
 * or from the daemon's own answers, not compared with constants.
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

static mlpd_daemon D;
static int64_t model_id, job_id, uploaded_id;

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    model_id = train_model(&D,
                           "{\"hidden\":[32],\"epochs\":2,\"batch_size\":32,"
                           "\"learning_rate\":0.1,\"seed\":7}",
                           120, &job_id);
    int hidden[] = {8};
    size_t len;
    unsigned char *file = model_file_bytes(hidden, 1, 3, &len);
    http_result r;
    if (model_id <= 0 || !file ||
        http_do(&D, "POST", "/models", "application/octet-stream", file, len, NULL, 0, &r) != 0)
        return -1;
    free(file);
    cJSON *j = http_result_json(&r);
    uploaded_id = j ? (int64_t)json_num(j, "id") : -1;
    cJSON_Delete(j);
    http_result_free(&r);
    return uploaded_id > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    int rc = daemon_stop(&D);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* The report's figures agree with its confusion matrix; returns the sum of it. */
static double check_report(const cJSON *e, const char *split, double samples) {
    assert_string_equal(json_str(e, "dataset"), "mnist-digits");
    assert_string_equal(json_str(e, "split"), split);
    assert_true(json_num(e, "samples") == samples);
    int K = (int)json_num(e, "classes");
    assert_int_equal(K, 10);
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(e, "confusion");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(e, "per_class");
    assert_int_equal(cJSON_GetArraySize(conf), K);
    assert_int_equal(cJSON_GetArraySize(pc), K);
    double total = 0, trace = 0, macro_p = 0, weighted_r = 0, C[10][10];
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++) {
            C[t][p] = cJSON_GetArrayItem(cJSON_GetArrayItem(conf, t), p)->valuedouble;
            total += C[t][p];
            if (t == p) trace += C[t][p];
        }
    assert_true(total == samples);
    assert_true(fabs(json_num(e, "accuracy") - trace / total) < 1e-12);
    for (int c = 0; c < K; c++) {
        double row = 0, col = 0;
        for (int k = 0; k < K; k++) row += C[c][k], col += C[k][c];
        const cJSON *o = cJSON_GetArrayItem(pc, c);
        double p = col ? C[c][c] / col : 0, r = row ? C[c][c] / row : 0;
        assert_true(fabs(json_num(o, "precision") - p) < 1e-12);
        assert_true(fabs(json_num(o, "recall") - r) < 1e-12);
        assert_true(fabs(json_num(o, "f1") - (p + r > 0 ? 2 * p * r / (p + r) : 0)) < 1e-12);
        assert_true(json_num(o, "support") == row);
        macro_p += p / K;
        weighted_r += r * row / total;
    }
    assert_true(fabs(json_num(cJSON_GetObjectItemCaseSensitive(e, "macro_avg"), "precision") -
                     macro_p) < 1e-12);
    assert_true(fabs(json_num(cJSON_GetObjectItemCaseSensitive(e, "weighted_avg"), "recall") -
                     weighted_r) < 1e-12);
    /* most confused pairs: off-diagonal cells, largest first */
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(e, "most_confused");
    double prev = INFINITY;
    for (const cJSON *q = pairs->child; q; q = q->next) {
        int t = (int)json_num(q, "true"), p = (int)json_num(q, "predicted");
        assert_true(t != p);
        assert_true(json_num(q, "count") == C[t][p]);
        assert_true(C[t][p] <= prev);
        prev = C[t][p];
    }
    assert_true(cJSON_GetArraySize(pairs) > 0);
    return total;
}

/* The job stored its report; the worst misclassified test examples are
 * served by index, and /predict gives them the report's label and confidence. */
static void test_job_stores_report(void **state) {
    (void)state;
    char path[96];
    snprintf(path, sizeof path, "/models/%lld/evaluation", (long long)model_id);
    cJSON *e = expect_json(&D, path, 200);
    assert_int_equal((int64_t)json_num(e, "model"), model_id);
    check_report(e, "test", 2000);
    snprintf(path, sizeof path, "/jobs/%lld", (long long)job_id);
    cJSON *job = expect_json(&D, path, 200);
    assert_true(fabs(json_num(job, "test_accuracy") - json_num(e, "accuracy")) < 1e-9);
    cJSON_Delete(job);

    const cJSON *worst = cJSON_GetObjectItemCaseSensitive(e, "worst_misclassified");
    int n = cJSON_GetArraySize(worst);
    assert_true(n > 1);
    char query[512] = "/datasets/mnist-digits/samples?split=test&index=";
    double prev = INFINITY;
    for (int k = 0; k < n && k < 4; k++) {
        const cJSON *w = cJSON_GetArrayItem(worst, k);
        assert_true(json_num(w, "label") != json_num(w, "predicted"));
        assert_true(json_num(w, "p_predicted") <= prev);
        prev = json_num(w, "p_predicted");
        snprintf(query + strlen(query), sizeof query - strlen(query), "%s%lld", k ? "," : "",
                 (long long)json_num(w, "index"));
    }
    cJSON *samples = expect_json(&D, query, 200);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(samples, "samples");
    assert_int_equal(cJSON_GetArraySize(list), n < 4 ? n : 4);
    for (int k = 0; k < n && k < 4; k++) {
        const cJSON *w = cJSON_GetArrayItem(worst, k), *s = cJSON_GetArrayItem(list, k);
        assert_true(json_num(s, "index") == json_num(w, "index"));
        assert_true(json_num(s, "label") == json_num(w, "label"));
        char *px = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "pixels"));
        size_t len = strlen(px) + 64;
        char *body = malloc(len);
        snprintf(body, len, "{\"model\":%lld,\"input\":%s}", (long long)model_id, px);
        http_result r;
        assert_int_equal(http_post_json(&D, "/predict", body, &r), 0);
        assert_int_equal(r.status, 200);
        cJSON *pj = http_result_json(&r);
        const cJSON *p0 =
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pj, "predictions"), 0);
        assert_true(json_num(p0, "label") == json_num(w, "predicted"));
        double got = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p0, "probabilities"),
                                        (int)json_num(w, "predicted"))
                         ->valuedouble;
        assert_true(fabs(got - json_num(w, "p_predicted")) < 1e-5);
        cJSON_Delete(pj);
        http_result_free(&r);
        free(body);
        free(px);
    }
    cJSON_Delete(samples);
    cJSON_Delete(e);
}

/* POST /models/{id}/evaluate on the train split: 201, Location, then GET
 * answers the same record; an uploaded model has none until asked. */
static void test_evaluate_on_request(void **state) {
    (void)state;
    char path[96], loc[128];
    snprintf(path, sizeof path, "/models/%lld/evaluation", (long long)uploaded_id);
    cJSON *p = expect_problem(&D, "GET", path, NULL, NULL, 0, NULL, 404, NULL);
    expect_detail_mentions(p, "no evaluation");
    cJSON_Delete(p);
    snprintf(path, sizeof path, "/models/%lld/evaluate", (long long)uploaded_id);
    http_result r;
    const char *body = "{\"dataset\":\"mnist-digits\",\"split\":\"train\"}";
    assert_int_equal(http_do(&D, "POST", path, "application/json", body, strlen(body), NULL, 0, &r),
                     0);
    assert_int_equal(r.status, 201);
    assert_int_equal(http_result_header(&r, "Location", loc, sizeof loc), 0);
    snprintf(path, sizeof path, "/models/%lld/evaluation", (long long)uploaded_id);
    assert_string_equal(loc, path);
    cJSON *posted = http_result_json(&r);
    http_result_free(&r);
    check_report(posted, "train", 8000);
    cJSON *got = expect_json(&D, path, 200);
    assert_true(cJSON_Compare(posted, got, 1));
    cJSON_Delete(got);
    cJSON_Delete(posted);
}

/* "mean" baseline: the trained model's is recorded (the train split's mean),
 * the uploaded one has none. */
static void test_mean_baseline(void **state) {
    (void)state;
    mlp_dataset *train = NULL;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/mnist-digits", D.data_dir);
    assert_int_equal(mlp_dataset_load_path(dir, "train", NULL, &train, NULL), MLP_OK);
    float mean[784];
    for (int j = 0; j < 784; j++) {
        double s = 0;
        for (size_t i = 0; i < train->n; i++) s += train->x_u8[i * 784 + j];
        mean[j] = (float)(s / 255.0 / (double)train->n);
    }
    mlp_dataset_free(train);
    /* explaining the mean itself from the mean baseline gives all zeros,
     * and a delta of zero: f(x) - f(b) = 0 */
    size_t cap = 784 * 16 + 128;
    char *body = malloc(cap);
    size_t n = (size_t)snprintf(body, cap, "{\"model\":%lld,\"baseline\":\"mean\",\"input\":[",
                                (long long)model_id);
    for (int j = 0; j < 784; j++)
        n += (size_t)snprintf(body + n, cap - n, "%s%.9g", j ? "," : "", mean[j]);
    snprintf(body + n, cap - n, "]}");
    http_result r;
    assert_int_equal(http_post_json(&D, "/explain", body, &r), 0);
    assert_int_equal(r.status, 200);
    cJSON *j = http_result_json(&r);
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "predictions"), 0);
    for (const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "attributions")->child; v;
         v = v->next)
        assert_true(fabs(v->valuedouble) < 1e-6);
    assert_true(fabs(json_num(p, "convergence_delta")) < 1e-5);
    cJSON_Delete(j);
    http_result_free(&r);
    n = (size_t)snprintf(body, cap, "{\"model\":%lld,\"baseline\":\"mean\",\"input\":[0.5",
                         (long long)uploaded_id);
    for (int k = 1; k < 784; k++) n += (size_t)snprintf(body + n, cap - n, ",0.5");
    snprintf(body + n, cap - n, "]}");
    cJSON *prob = expect_problem(&D, "POST", "/explain", "application/json", body, strlen(body),
                                 NULL, 422, NULL);
    expect_problem_pointer(prob, "/baseline");
    cJSON_Delete(prob);
    free(body);
}

static void test_refusals(void **state) {
    (void)state;
    /* a data set of the wrong width: a 2-feature CSV */
    const char *csv = "0,1,2\n1,3,4\n0,5,6\n";
    http_result r;
    assert_int_equal(
        http_do(&D, "POST", "/datasets?name=narrow", "text/csv", csv, strlen(csv), NULL, 0, &r), 0);
    assert_int_equal(r.status, 201);
    http_result_free(&r);
    static const struct {
        const char *body;
        long status;
        const char *pointer;
    } cases[] = {
        {"{\"dataset\":\"narrow\",\"split\":\"train\"}", 422, "/dataset"},
        {"{\"dataset\":\"narrow\"}", 422, "/split"}, /* a CSV has no test split */
        {"{\"dataset\":\"nowhere\"}", 422, "/dataset"},
        {"{\"dataset\":\"mnist-digits\",\"split\":\"val\"}", 422, "/split"},
        {"{\"split\":\"test\"}", 422, "/dataset"},
        {"{\"dataset\":\"mnist-digits\",\"extra\":1}", 422, "/extra"},
        {"{\"dataset\":", 400, NULL},
    };
    char path[96];
    snprintf(path, sizeof path, "/models/%lld/evaluate", (long long)model_id);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cJSON *p = expect_problem(&D, "POST", path, "application/json", cases[k].body,
                                  strlen(cases[k].body), NULL, cases[k].status, NULL);
        if (cases[k].pointer) expect_problem_pointer(p, cases[k].pointer);
        cJSON_Delete(p);
    }
    const char *ok = "{\"dataset\":\"mnist-digits\"}";
    cJSON *p = expect_problem(&D, "POST", "/models/9999/evaluate", "application/json", ok,
                              strlen(ok), NULL, 404, NULL);
    cJSON_Delete(p);
    p = expect_problem(&D, "GET", "/models/9999/evaluation", NULL, NULL, 0, NULL, 404, NULL);
    cJSON_Delete(p);
    p = expect_problem(&D, "GET", "/datasets/mnist-digits/samples?split=test&index=2000", NULL,
                       NULL, 0, NULL, 422, NULL);
    cJSON_Delete(p);
    p = expect_problem(&D, "GET", "/datasets/mnist-digits/samples?index=1,,2", NULL, NULL, 0, NULL,
                       422, NULL);
    cJSON_Delete(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_stores_report),
        cmocka_unit_test(test_evaluate_on_request),
        cmocka_unit_test(test_mean_baseline),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
