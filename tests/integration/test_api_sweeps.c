/* test_api_sweeps.c - sweeps over HTTP: a small grid to completion (202 +
 * Location, children as ordinary jobs with a sweep member, the best child
 * and its model, the list, the event stream to the end), the median rule
 * stopping a clearly worse child, cancel, a daemon restart in the middle of
 * a sweep, every bad input, and the job queue's limit (429). */
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

#define BASE_SMALL                                                                                 \
    "\"base\": {\"hidden\": [16], \"epochs\": 2, \"batch_size\": 64, \"validation_split\": 0.2, "  \
    "\"seed\": 5}"

static int setup(void **state) {
    (void)state;
    static const char *const extra[] = {"--max-jobs=2", NULL};
    return daemon_start(&D, extra);
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

/* POST /sweeps json: the new sweep's id (202 with its Location), or -1. */
static int64_t post_sweep(mlpd_daemon *d, const char *json) {
    http_result r;
    if (http_post_json(d, "/sweeps", json, &r) != 0) return -1;
    int64_t id = -1;
    cJSON *j = http_result_json(&r);
    char loc[64] = "", want[64];
    if (r.status == 202 && j && http_result_header(&r, "Location", loc, sizeof loc) == 0) {
        id = (int64_t)json_num(j, "id");
        snprintf(want, sizeof want, "/sweeps/%lld", (long long)id);
        if (strcmp(loc, want)) id = -1;
    }
    if (id < 0) fprintf(stderr, "POST /sweeps %s -> %ld %s\n", json, r.status, r.body);
    cJSON_Delete(j);
    http_result_free(&r);
    return id;
}

static cJSON *get_sweep(mlpd_daemon *d, int64_t id) {
    char path[64];
    snprintf(path, sizeof path, "/sweeps/%lld", (long long)id);
    return expect_json(d, path, 200);
}

static int is_final(const char *st) {
    return st && (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled"));
}

/* Poll until the sweep ends (timeout_s); returns it (the test fails otherwise). */
static cJSON *wait_sweep(mlpd_daemon *d, int64_t id, double timeout_s) {
    double t0 = now_seconds();
    for (;;) {
        cJSON *w = get_sweep(d, id);
        if (is_final(json_str(w, "status"))) return w;
        if (now_seconds() - t0 > timeout_s) {
            char *s = cJSON_Print(w);
            fail_msg("sweep %lld did not end in %.0f s: %s", (long long)id, timeout_s, s);
        }
        cJSON_Delete(w);
        sleep_millis(200);
    }
}

static double count_of(const cJSON *w, const char *key) {
    return json_num(cJSON_GetObjectItemCaseSensitive(w, "counts"), key);
}

/* The children's events: `child` and `status` events, then `end` with the sweep. */
static void check_events(int64_t id, int children) {
    char path[64];
    snprintf(path, sizeof path, "/sweeps/%lld/events", (long long)id);
    http_result r;
    assert_int_equal(http_do(&D, "GET", path, NULL, NULL, 0, NULL, 120, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/event-stream");
    int statuses = 0, child = 0, ends = 0, bests = 0;
    char *save = NULL, *last_data = NULL;
    for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(line, "event: status")) statuses++;
        if (!strcmp(line, "event: child")) child++;
        if (!strcmp(line, "event: best")) bests++;
        if (!strcmp(line, "event: end")) ends++;
        if (!strncmp(line, "data: ", 6)) last_data = line + 6;
    }
    assert_true(statuses >= 1);
    assert_true(child >= children); /* the stream starts with every child as it is */
    assert_int_equal(bests, 1);
    assert_int_equal(ends, 1);
    cJSON *end = cJSON_Parse(last_data);
    assert_non_null(end);
    assert_string_equal(json_str(end, "status"), "succeeded");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(end, "children")),
                     children);
    cJSON_Delete(end);
    http_result_free(&r);
}

static void test_small_grid_to_completion(void **state) {
    (void)state;
    int64_t id = post_sweep(&D, "{" BASE_SMALL ", \"space\": {\"learning_rate\": [0.01, 0.1, "
                                "0.3], \"batch_size\": [32, 128]}, \"parallel\": 2}");
    assert_true(id > 0);
    cJSON *w = wait_sweep(&D, id, 300);
    assert_string_equal(json_str(w, "status"), "succeeded");
    assert_int_equal((int)count_of(w, "children"), 6);
    assert_int_equal((int)count_of(w, "succeeded"), 6); /* 2 epochs: inside the grace period */
    const cJSON *kids = cJSON_GetObjectItemCaseSensitive(w, "children");
    assert_int_equal(cJSON_GetArraySize(kids), 6);
    /* every grid point once; the best is the child of the highest value */
    double best_value = -1;
    int64_t best_job = 0;
    int seen[3][2] = {{0}};
    const cJSON *c;
    cJSON_ArrayForEach(c, kids) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "settings");
        double lr = json_num(st, "learning_rate"), bs = json_num(st, "batch_size");
        int li = lr < 0.05 ? 0 : lr < 0.2 ? 1 : 2, bi = bs < 64 ? 0 : 1;
        seen[li][bi]++;
        double v = json_num(c, "value");
        assert_true(v > 0 && v <= 1);
        assert_true(v == json_num(c, "val_accuracy"));
        if (v > best_value) best_value = v, best_job = (int64_t)json_num(c, "job");
        /* the child is an ordinary job with a sweep member and these settings */
        char path[64];
        snprintf(path, sizeof path, "/jobs/%lld", (long long)json_num(c, "job"));
        cJSON *job = expect_json(&D, path, 200);
        assert_int_equal((int64_t)json_num(job, "sweep"), id);
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(job, "config");
        assert_true(fabs(json_num(cfg, "learning_rate") - lr) < 1e-9);
        assert_true(json_num(cfg, "batch_size") == bs);
        assert_int_equal((int)json_num(cfg, "epochs"), 2);
        assert_string_equal(json_str(cfg, "model_name"), "mnist-digits-sweep");
        cJSON_Delete(job);
    }
    for (int i = 0; i < 3; i++) assert_true(seen[i][0] == 1 && seen[i][1] == 1);
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(w, "best");
    assert_int_equal((int64_t)json_num(best, "job"), best_job);
    assert_true(json_num(best, "value") == best_value);
    /* the best child's model exists */
    char path[64];
    snprintf(path, sizeof path, "/models/%lld", (long long)json_num(best, "model_id"));
    cJSON_Delete(expect_json(&D, path, 200));
    cJSON_Delete(w);
    check_events(id, 6);
    /* listed, paginated like /jobs; a plain job has "sweep": null */
    cJSON *list = expect_json(&D, "/sweeps?limit=1&status=succeeded", 200);
    assert_true(json_num(list, "total") >= 1);
    assert_int_equal((int)json_num(list, "limit"), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "sweeps")), 1);
    cJSON_Delete(list);
    int64_t plain = train_job(&D, "{\"hidden\": [8], \"epochs\": 1}");
    cJSON *pj = expect_job_end(&D, plain, 120, "succeeded");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(pj, "sweep")));
    cJSON_Delete(pj);
}

/* Three good children finish first (parallel 1); the fourth, with a rate
 * that barely moves, is stopped by the median rule after its grace epoch
 * (80 epochs of a tiny network: long enough for the scheduler's ticks). */
static void test_median_rule_stops_a_worse_child(void **state) {
    (void)state;
    int64_t id = post_sweep(
        &D, "{\"base\": {\"hidden\": [16], \"epochs\": 80, \"batch_size\": 64, "
            "\"validation_split\": 0.2, \"seed\": 5}, \"space\": {\"learning_rate\": [0.2, 0.3, "
            "0.25, 0.00001]}, \"pruning\": {\"grace_epochs\": 1, \"min_children\": 3}}");
    assert_true(id > 0);
    cJSON *w = wait_sweep(&D, id, 300);
    assert_string_equal(json_str(w, "status"), "succeeded");
    assert_int_equal((int)count_of(w, "pruned"), 1);
    assert_int_equal((int)count_of(w, "succeeded"), 3);
    const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "children"), 3);
    assert_string_equal(json_str(last, "status"), "cancelled");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(last, "pruned")));
    assert_non_null(strstr(json_str(last, "error"), "pruned: median rule"));
    assert_true(json_num(last, "epoch") < 80);
    cJSON_Delete(w);
}

static void test_cancel(void **state) {
    (void)state;
    /* 1,000 epochs (the daemon's limit; tens of seconds): the child cannot end on its own
     * between being seen running and the cancel, even on a loaded machine
     * (200 epochs of this small network once did, in a few seconds). */
    int64_t id = post_sweep(&D, "{\"base\": {\"hidden\": [64], \"epochs\": 1000, "
                                "\"validation_split\": 0.2}, \"space\": {\"learning_rate\": "
                                "[0.01, 0.02, 0.03]}}");
    assert_true(id > 0);
    int64_t child = 0;
    for (int i = 0; i < 200 && !child; i++) {
        cJSON *w = get_sweep(&D, id);
        const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "children"), 0);
        if (c && !strcmp(json_str(c, "status"), "running")) child = (int64_t)json_num(c, "job");
        cJSON_Delete(w);
        if (!child) sleep_millis(100);
    }
    assert_true(child > 0);
    char path[64];
    snprintf(path, sizeof path, "/sweeps/%lld/cancel", (long long)id);
    http_result r;
    assert_int_equal(http_do(&D, "POST", path, NULL, NULL, 0, NULL, 30, &r), 0);
    assert_int_equal(r.status, 202);
    cJSON *j = http_result_json(&r);
    assert_string_equal(json_str(j, "status"), "cancelled");
    cJSON_Delete(j);
    http_result_free(&r);
    cJSON *job = expect_job_end(&D, child, 60, "cancelled");
    assert_non_null(strstr(json_str(job, "error"), "was cancelled"));
    cJSON_Delete(job);
    sleep_millis(600); /* three scheduler ticks: no child is made after a cancel */
    cJSON *w = get_sweep(&D, id);
    assert_int_equal((int)count_of(w, "children"), 1);
    assert_string_equal(json_str(w, "status"), "cancelled");
    cJSON_Delete(w);
    cJSON_Delete(expect_problem(&D, "POST", path, NULL, NULL, 0, NULL, 409, NULL));
    cJSON_Delete(
        expect_problem(&D, "POST", "/sweeps/999999/cancel", NULL, NULL, 0, NULL, 404, NULL));
}

/* A restart in the middle: the sweep resumes making children and ends. */
static void test_restart_survival(void **state) {
    (void)state;
    int64_t id = post_sweep(&D, "{\"base\": {\"hidden\": [32], \"epochs\": 40, \"batch_size\": 32, "
                                "\"validation_split\": 0.2}, \"space\": {\"learning_rate\": "
                                "[0.05, 0.1, 0.2]}, \"pruning\": {\"rule\": \"none\"}}");
    assert_true(id > 0);
    int started = 0;
    for (int i = 0; i < 300 && !started; i++) {
        cJSON *w = get_sweep(&D, id);
        started = count_of(w, "running") >= 1;
        cJSON_Delete(w);
        if (!started) sleep_millis(100);
    }
    assert_true(started);
    assert_int_equal(daemon_stop(&D), 0);
    assert_int_equal(daemon_restart(&D), 0);
    cJSON *w = wait_sweep(&D, id, 300);
    assert_string_equal(json_str(w, "status"), "succeeded");
    assert_int_equal((int)count_of(w, "children"), 3);
    /* the child interrupted by the shutdown was queued again and resumed from
     * its checkpoint; the others were made after */
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "children"), 0);
    assert_string_equal(json_str(first, "status"), "succeeded");
    assert_int_equal((int)count_of(w, "succeeded"), 3);
    cJSON_Delete(w);
}

/* The body is refused with status and pointer. */
static void refused(const char *body, long status, const char *pointer) {
    cJSON *p = expect_problem(&D, "POST", "/sweeps", "application/json", body, strlen(body), NULL,
                              status, NULL);
    if (pointer) expect_problem_pointer(p, pointer);
    cJSON_Delete(p);
}

static void test_bad_input(void **state) {
    (void)state;
    refused("{\"space\": {}}", 422, "/space");
    refused("{\"space\": {\"no_such\": [1]}}", 422, "/space/no_such");
    refused("{\"base\": {\"validation_split\": 0.2}, \"space\": {\"learning_rate\": {\"type\": "
            "\"uniform\", \"low\": 1, \"high\": 0.1}}}",
            422, "/space/learning_rate/low");
    refused("{\"base\": {\"validation_split\": 0.2}, \"space\": {\"learning_rate\": {\"type\": "
            "\"log_uniform\", \"low\": -0.1, \"high\": 0.1}}}",
            422, "/space/learning_rate/low");
    refused("{\"base\": {\"validation_split\": 0.2}, \"space\": {\"learning_rate\": [0.1]}, "
            "\"metric\": \"auc\"}",
            422, "/metric");
    refused("{\"space\": {\"learning_rate\": [0.1]}}", 422, "/base/validation_split");
    /* 10^6 grid points */
    char body[1024] = "{\"base\": {\"validation_split\": 0.2}, \"space\": {";
    static const char *const keys[] = {"learning_rate", "l1", "l2", "momentum", "beta1", "beta2"};
    for (int k = 0; k < 6; k++) {
        size_t n = strlen(body);
        snprintf(body + n, sizeof body - n,
                 "%s\"%s\": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]",
                 k ? ", " : "", keys[k]);
    }
    strcat(body, "}}");
    cJSON *p = expect_problem(&D, "POST", "/sweeps", "application/json", body, strlen(body), NULL,
                              422, NULL);
    expect_problem_pointer(p, "/space");
    expect_detail_mentions(p, "1000000");
    cJSON_Delete(p);
    /* the daemon's limits, for a child, point into the space */
    refused("{\"base\": {\"validation_split\": 0.2}, \"space\": {\"hidden\": [[16], [4096, 4096, "
            "4096]]}}",
            422, "/space/hidden");
    refused("{\"base\": {\"validation_split\": 0.2, \"dataset\": \"nope\"}, \"space\": "
            "{\"learning_rate\": [0.1]}}",
            404, "/base/dataset");
    refused("{\"space\": ", 400, NULL);
    cJSON_Delete(expect_problem(&D, "POST", "/sweeps", "text/plain", "{}", 2, NULL, 415, NULL));
    cJSON_Delete(expect_problem(&D, "GET", "/sweeps/999999", NULL, NULL, 0, NULL, 404, NULL));
    cJSON_Delete(
        expect_problem(&D, "GET", "/sweeps/999999/events", NULL, NULL, 0, NULL, 404, NULL));
    cJSON_Delete(expect_problem(&D, "GET", "/sweeps?status=done", NULL, NULL, 0, NULL, 422, NULL));
    expect_healthy(&D);
}

/* A full job queue refuses a sweep with 429 and Retry-After. */
static void test_queue_full(void **state) {
    (void)state;
    mlpd_daemon L;
    static const char *const extra[] = {"--max-jobs=1", "--max-queue=1", NULL};
    assert_int_equal(daemon_start(&L, extra), 0);
    const char *slow = "{\"hidden\": [256], \"epochs\": 500}";
    int64_t a = train_job(&L, slow), b = train_job(&L, slow);
    assert_true(a > 0 && b > 0);
    http_result keep;
    const char *body = "{\"base\": {\"validation_split\": 0.2}, \"space\": {\"learning_rate\": "
                       "[0.1]}}";
    cJSON *p = expect_problem(&L, "POST", "/sweeps", "application/json", body, strlen(body), NULL,
                              429, &keep);
    expect_retry_after(&keep);
    http_result_free(&keep);
    cJSON_Delete(p);
    assert_int_equal(cancel_job(&L, a), 202);
    assert_int_equal(cancel_job(&L, b), 202);
    assert_int_equal(daemon_finish(&L), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_grid_to_completion),
        cmocka_unit_test(test_median_rule_stops_a_worse_child),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_restart_survival),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_queue_full),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
