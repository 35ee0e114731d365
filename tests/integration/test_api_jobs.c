/* test_api_jobs.c - training jobs over HTTP: submit, poll, list, metrics with
 * ?since=, Server-Sent Events to the end (and resumed), cancel. */
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
static int64_t done_id; /* a small job that succeeded, trained in setup */

/* Small nets on the 8,000 digits: about a second per job. */
#define SMALL_JOB                                                                                  \
    "{\"hidden\":[32],\"epochs\":2,\"batch_size\":64,\"learning_rate\":0.1,"                       \
    "\"validation_split\":0.1,\"seed\":7}"

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    return train_model(&D, SMALL_JOB, 120, &done_id) > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

static void test_submit_answers_202_with_location_and_job(void **state) {
    (void)state;
    http_result r;
    assert_int_equal(http_post_json(&D, "/train", "{\"hidden\":[16],\"epochs\":1,\"seed\":3}", &r),
                     0);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.content_type, "application/json");
    cJSON *j = http_result_json(&r);
    char loc[64], want[64];
    assert_int_equal(http_result_header(&r, "Location", loc, sizeof loc), 0);
    snprintf(want, sizeof want, "/jobs/%lld", (long long)json_num(j, "id"));
    assert_string_equal(loc, want);
    const char *st = json_str(j, "status");
    assert_true(!strcmp(st, "queued") || !strcmp(st, "running"));
    assert_int_equal((int)json_num(j, "epochs"), 1);
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg, "hidden")), 1);
    assert_string_equal(json_str(cfg, "dataset"), "mnist-digits");
    int64_t id = (int64_t)json_num(j, "id");
    cJSON_Delete(j);
    http_result_free(&r);
    cJSON_Delete(expect_job_end(&D, id, 120, "succeeded"));
}

/* A step schedule through the API: the metric learning_rate holds the rate
 * each epoch used (lr * gamma^(epoch-1) with step_epochs 1), and the run's
 * recorded config names the schedule. */
static void test_schedule_recorded_per_epoch(void **state) {
    (void)state;
    int64_t job = 0;
    int64_t model = train_model(&D,
                                "{\"hidden\":[8],\"epochs\":3,\"optimizer\":\"adamw\","
                                "\"learning_rate\":0.01,\"label_smoothing\":0.1,\"clip_norm\":5,"
                                "\"lr_schedule\":{\"type\":\"step\",\"step_epochs\":1,"
                                "\"gamma\":0.5},\"seed\":3}",
                                120, &job);
    assert_true(model > 0);
    char path[96];
    snprintf(path, sizeof path, "/jobs/%lld/metrics", (long long)job);
    cJSON *all = expect_json(&D, path, 200);
    const cJSON *m;
    int seen = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(all, "metrics")) {
        if (strcmp(json_str(m, "key"), "learning_rate")) continue;
        int e = (int)json_num(m, "epoch");
        double want = 0.01 * pow(0.5, e - 1);
        assert_true(fabs(json_num(m, "value") - want) < 1e-8);
        seen++;
    }
    assert_int_equal(seen, 3);
    cJSON_Delete(all);
    snprintf(path, sizeof path, "/jobs/%lld", (long long)job);
    cJSON *j = expect_json(&D, path, 200);
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "config"), "lr_schedule");
    assert_string_equal(json_str(ls, "type"), "step");
    cJSON_Delete(j);
}

static void test_finished_job_has_results(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/jobs/%lld", (long long)done_id);
    cJSON *j = expect_json(&D, path, 200);
    assert_string_equal(json_str(j, "status"), "succeeded");
    assert_int_equal((int)json_num(j, "epoch"), 2);
    assert_true(json_num(j, "progress") == 1.0);
    assert_true(json_num(j, "model_id") >= 1);
    double loss = json_num(j, "loss"), acc = json_num(j, "accuracy");
    assert_true(isfinite(loss) && loss > 0);
    assert_true(acc > 0.5 && acc <= 1.0); /* 2 epochs of lr 0.1 learn the digits well past chance */
    double ta = json_num(j, "test_accuracy");
    assert_true(ta > 0.5 && ta <= 1.0);
    assert_true(isfinite(json_num(j, "val_loss")));
    assert_non_null(json_str(j, "created_at"));
    assert_non_null(json_str(j, "started_at"));
    assert_non_null(json_str(j, "finished_at"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "error")));
    cJSON_Delete(j);
}

static void test_list_is_newest_first_with_filters(void **state) {
    (void)state;
    cJSON *l = expect_json(&D, "/jobs", 200);
    cJSON *jobs = cJSON_GetObjectItemCaseSensitive(l, "jobs");
    int n = cJSON_GetArraySize(jobs);
    assert_true(n >= 2);
    assert_int_equal((int)json_num(l, "total"), n);
    for (int i = 1; i < n; i++)
        assert_true(json_num(cJSON_GetArrayItem(jobs, i - 1), "id") >
                    json_num(cJSON_GetArrayItem(jobs, i), "id"));
    cJSON_Delete(l);

    l = expect_json(&D, "/jobs?limit=1&offset=1", 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "jobs")), 1);
    assert_int_equal((int)json_num(l, "limit"), 1);
    assert_int_equal((int)json_num(l, "offset"), 1);
    assert_int_equal((int)json_num(l, "total"), n);
    cJSON_Delete(l);

    l = expect_json(&D, "/jobs?status=succeeded", 200);
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(l, "jobs"))
        assert_string_equal(json_str(it, "status"), "succeeded");
    assert_true(json_num(l, "total") >= 1);
    cJSON_Delete(l);

    l = expect_json(&D, "/jobs?status=failed", 200);
    assert_int_equal((int)json_num(l, "total"), 0);
    cJSON_Delete(l);

    cJSON_Delete(expect_json(&D, "/jobs?status=bogus", 422));
    cJSON_Delete(expect_json(&D, "/jobs?limit=0", 422));
}

/* Count the metrics of key `key` and check their epochs cover 1..epochs. */
static int count_key(const cJSON *metrics, const char *key) {
    int n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, metrics) if (!strcmp(json_str(m, "key"), key)) n++;
    return n;
}

static void test_metrics_per_epoch_and_since_cursor(void **state) {
    (void)state;
    char path[96];
    snprintf(path, sizeof path, "/jobs/%lld/metrics", (long long)done_id);
    cJSON *all = expect_json(&D, path, 200);
    assert_int_equal((int)json_num(all, "job"), (int)done_id);
    cJSON *ms = cJSON_GetObjectItemCaseSensitive(all, "metrics");
    int n = cJSON_GetArraySize(ms);
    static const char *const per_epoch[] = {"loss",         "accuracy", "val_loss",
                                            "val_accuracy", "seconds",  "learning_rate"};
    for (int k = 0; k < 6; k++) assert_int_equal(count_key(ms, per_epoch[k]), 2);
    assert_true(count_key(ms, "step_loss") >= 1);
    /* each step_loss has a step_accuracy beside it: the epoch's running accuracy */
    assert_int_equal(count_key(ms, "step_accuracy"), count_key(ms, "step_loss"));
    double prev = 0, best_val = -1;
    const cJSON *m;
    cJSON_ArrayForEach(m, ms) {
        if (!strcmp(json_str(m, "key"), "val_accuracy") && json_num(m, "value") > best_val)
            best_val = json_num(m, "value");
        if (!strcmp(json_str(m, "key"), "step_accuracy")) {
            assert_true(json_num(m, "value") >= 0 && json_num(m, "value") <= 1);
        }
        assert_true(json_num(m, "id") > prev);
        prev = json_num(m, "id");
        int e = (int)json_num(m, "epoch");
        assert_true(e >= 1 && e <= 2);
        assert_true(isfinite(json_num(m, "value")));
        assert_non_null(json_str(m, "time"));
    }
    assert_true(json_num(all, "next_since") == prev);
    /* The job (and its list entry) carry the best epoch's validation accuracy. */
    snprintf(path, sizeof path, "/jobs/%lld", (long long)done_id);
    cJSON *job = expect_json(&D, path, 200);
    assert_true(best_val >= 0 && json_num(job, "best_val_accuracy") == best_val);
    cJSON_Delete(job);

    /* ?since= the middle id: exactly the later ones. */
    double mid = json_num(cJSON_GetArrayItem(ms, n / 2), "id");
    snprintf(path, sizeof path, "/jobs/%lld/metrics?since=%.0f", (long long)done_id, mid);
    cJSON *tail = expect_json(&D, path, 200);
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(tail, "metrics");
    assert_int_equal(cJSON_GetArraySize(ts), n - n / 2 - 1);
    assert_true(json_num(cJSON_GetArrayItem(ts, 0), "id") > mid);
    cJSON_Delete(tail);

    /* ?since=next_since: nothing new, the cursor stays. */
    snprintf(path, sizeof path, "/jobs/%lld/metrics?since=%.0f", (long long)done_id, prev);
    tail = expect_json(&D, path, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tail, "metrics")), 0);
    assert_true(json_num(tail, "next_since") == prev);
    cJSON_Delete(tail);

    snprintf(path, sizeof path, "/jobs/%lld/metrics?limit=2", (long long)done_id);
    tail = expect_json(&D, path, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tail, "metrics")), 2);
    cJSON_Delete(tail);
    cJSON_Delete(all);
    cJSON_Delete(expect_json(&D, "/jobs/999999/metrics", 404));
}

/* Parse an event stream: fills names/ids/datas arrays (up to max); returns count. */
typedef struct {
    char event[32];
    long long id;
    cJSON *data;
} sse_event;

static int parse_events(const char *text, sse_event *ev, int max, int *comments) {
    int n = 0;
    *comments = 0;
    sse_event cur = {.event = "", .id = 0, .data = NULL};
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == ':') {
            (*comments)++;
        } else if (!strncmp(line, "event: ", 7)) {
            snprintf(cur.event, sizeof cur.event, "%s", line + 7);
        } else if (!strncmp(line, "id: ", 4)) {
            cur.id = atoll(line + 4);
        } else if (!strncmp(line, "data: ", 6)) {
            /* data is the last line of an event in mlpd's streams */
            cur.data = cJSON_Parse(line + 6);
            if (n < max)
                ev[n++] = cur;
            else
                cJSON_Delete(cur.data);
            memset(&cur, 0, sizeof cur);
        }
    }
    free(copy);
    return n;
}

static void test_events_follow_a_job_to_the_end(void **state) {
    (void)state;
    int64_t id = train_job(&D, SMALL_JOB);
    assert_true(id > 0);
    char path[96];
    snprintf(path, sizeof path, "/jobs/%lld/events", (long long)id);
    http_result r;
    double t0 = now_seconds();
    assert_int_equal(http_do(&D, "GET", path, NULL, NULL, 0, NULL, 120, &r), 0);
    assert_true(now_seconds() - t0 < 120);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/event-stream");
    static sse_event ev[4096];
    int comments;
    int n = parse_events(r.body, ev, 4096, &comments);
    http_result_free(&r);
    assert_true(n >= 3);
    /* ends with `end` carrying the final job; metric ids increase */
    assert_string_equal(ev[n - 1].event, "end");
    assert_string_equal(json_str(ev[n - 1].data, "status"), "succeeded");
    int metrics = 0, statuses = 0;
    long long last_id = 0;
    for (int i = 0; i < n; i++) {
        assert_non_null(ev[i].data);
        if (!strcmp(ev[i].event, "metric")) {
            assert_true(ev[i].id > last_id);
            assert_true(json_num(ev[i].data, "id") == (double)ev[i].id);
            last_id = ev[i].id;
            metrics++;
        } else if (!strcmp(ev[i].event, "status")) {
            statuses++;
        } else {
            assert_true(!strcmp(ev[i].event, "progress") || !strcmp(ev[i].event, "end"));
        }
    }
    assert_true(statuses >= 1);
    /* every recorded metric was streamed */
    snprintf(path, sizeof path, "/jobs/%lld/metrics", (long long)id);
    cJSON *all = expect_json(&D, path, 200);
    int recorded = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(all, "metrics"));
    assert_int_equal(metrics, recorded);
    double mid = json_num(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(all, "metrics"), recorded / 2), "id");
    cJSON_Delete(all);
    for (int i = 0; i < n; i++) cJSON_Delete(ev[i].data);

    /* Resuming with Last-Event-ID replays only later metrics, then ends. */
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Last-Event-ID: %.0f", mid);
    snprintf(path, sizeof path, "/jobs/%lld/events", (long long)id);
    assert_int_equal(http_do(&D, "GET", path, NULL, NULL, 0, hdr, 30, &r), 0);
    n = parse_events(r.body, ev, 4096, &comments);
    http_result_free(&r);
    int replayed = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(ev[i].event, "metric")) {
            assert_true(ev[i].id > (long long)mid);
            replayed++;
        }
        cJSON_Delete(ev[i].data);
    }
    assert_int_equal(replayed, recorded - recorded / 2 - 1);
    assert_string_equal(ev[n - 1].event, "end");

    cJSON_Delete(expect_json(&D, "/jobs/999999/events", 404));
}

static void test_cancel_running_job_keeps_metrics(void **state) {
    (void)state;
    int64_t id = train_job(&D, "{\"hidden\":[32],\"epochs\":500,\"seed\":5}");
    assert_true(id > 0);
    assert_int_equal(wait_job_progress(&D, id, 1, 60), 0);
    assert_int_equal(cancel_job(&D, id), 202);
    cJSON *j = expect_job_end(&D, id, 60, "cancelled");
    assert_true(json_num(j, "epoch") < 500);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "model_id")));
    cJSON_Delete(j);
    char path[96];
    snprintf(path, sizeof path, "/jobs/%lld/metrics", (long long)id);
    cJSON *m = expect_json(&D, path, 200);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "metrics")) >= 1);
    cJSON_Delete(m);
    /* cancelling an ended job conflicts; an unknown one is not found */
    snprintf(path, sizeof path, "/jobs/%lld/cancel", (long long)id);
    cJSON_Delete(expect_problem(&D, "POST", path, NULL, NULL, 0, NULL, 409, NULL));
    cJSON_Delete(expect_problem(&D, "POST", "/jobs/424242/cancel", NULL, NULL, 0, NULL, 404, NULL));
}

static void test_cancel_queued_job(void **state) {
    (void)state;
    /* One job runs at a time (--max-jobs 1): the second waits in the queue. */
    int64_t a = train_job(&D, "{\"hidden\":[32],\"epochs\":500,\"seed\":8}");
    int64_t b = train_job(&D, "{\"hidden\":[16],\"epochs\":1}");
    assert_true(a > 0 && b > 0);
    char path[96];
    snprintf(path, sizeof path, "/jobs/%lld", (long long)b);
    cJSON *j = expect_json(&D, path, 200);
    assert_string_equal(json_str(j, "status"), "queued");
    cJSON_Delete(j);
    http_result r;
    snprintf(path, sizeof path, "/jobs/%lld/cancel", (long long)b);
    assert_int_equal(http_do(&D, "POST", path, NULL, NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 202);
    j = http_result_json(&r);
    assert_string_equal(json_str(j, "status"), "cancelled");
    cJSON_Delete(j);
    http_result_free(&r);
    assert_int_equal(cancel_job(&D, a), 202);
    cJSON_Delete(expect_job_end(&D, a, 60, "cancelled"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_answers_202_with_location_and_job),
        cmocka_unit_test(test_finished_job_has_results),
        cmocka_unit_test(test_schedule_recorded_per_epoch),
        cmocka_unit_test(test_list_is_newest_first_with_filters),
        cmocka_unit_test(test_metrics_per_epoch_and_since_cursor),
        cmocka_unit_test(test_events_follow_a_job_to_the_end),
        cmocka_unit_test(test_cancel_running_job_keeps_metrics),
        cmocka_unit_test(test_cancel_queued_job),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
