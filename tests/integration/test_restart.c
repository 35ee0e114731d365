/* test_restart.c - what survives the daemon: a clean restart on the same
 * database keeps every run, metric and model; SIGKILL during training leaves
 * the run failed "interrupted" and the others intact; SIGTERM drains (exit 0)
 * and keeps queued runs queued for the next start; --shutdown-delay serves on,
 * not ready, before the drain. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"

/* The compact JSON of GET path, for before/after comparisons. */
static char *snapshot(const mlpd_daemon *d, const char *path) {
    cJSON *j = expect_json(d, path, 200);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static cJSON *job(const mlpd_daemon *d, int64_t id) {
    char path[64];
    snprintf(path, sizeof path, "/jobs/%lld", (long long)id);
    return expect_json(d, path, 200);
}

/* Job id was cut short by the daemon's end: failed, "interrupted", ended. */
static void expect_interrupted(const mlpd_daemon *d, int64_t id) {
    cJSON *j = job(d, id);
    assert_string_equal(json_str(j, "status"), "failed");
    assert_non_null(strstr(json_str(j, "error"), "interrupted"));
    assert_non_null(json_str(j, "finished_at"));
    cJSON_Delete(j);
}

static void test_clean_restart_keeps_everything(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    int64_t ids[2];
    for (int i = 0; i < 2; i++) {
        ids[i] = train_job(&d, i ? "{\"hidden\":[16],\"epochs\":2,\"validation_split\":0.2}"
                                 : "{\"hidden\":[32],\"epochs\":1}");
        assert_true(ids[i] > 0);
        cJSON_Delete(expect_job_end(&d, ids[i], 120, "succeeded"));
    }
    char m0[64], m1[64];
    snprintf(m0, sizeof m0, "/jobs/%lld/metrics", (long long)ids[0]);
    snprintf(m1, sizeof m1, "/jobs/%lld/metrics", (long long)ids[1]);
    char *jobs_before = snapshot(&d, "/jobs"), *models_before = snapshot(&d, "/models");
    char *met0 = snapshot(&d, m0), *met1 = snapshot(&d, m1);
    float *x;
    assert_int_equal(load_test_digits(&d, 2, &x, NULL), 0);
    char *body = predict_body(0, x, 2, 784, 1);
    free(x);
    http_result r;
    assert_int_equal(http_post_json(&d, "/predict", body, &r), 0);
    assert_int_equal(r.status, 200);
    char *pred_before = strdup(r.body);
    http_result_free(&r);

    assert_int_equal(daemon_stop(&d), 0); /* SIGTERM: exit status 0 */
    assert_int_equal(daemon_restart(&d), 0);

    char *jobs_after = snapshot(&d, "/jobs"), *models_after = snapshot(&d, "/models");
    char *met0a = snapshot(&d, m0), *met1a = snapshot(&d, m1);
    assert_string_equal(jobs_after, jobs_before);
    assert_string_equal(models_after, models_before);
    assert_string_equal(met0a, met0);
    assert_string_equal(met1a, met1);
    /* the model answers the same after being read back from the store */
    assert_int_equal(http_post_json(&d, "/predict", body, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, pred_before);
    http_result_free(&r);
    free(body);
    free(pred_before);
    free(jobs_before), free(models_before), free(met0), free(met1);
    free(jobs_after), free(models_after), free(met0a), free(met1a);
    assert_int_equal(daemon_finish(&d), 0);
}

static void test_sigkill_mid_training_marks_the_run_interrupted(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    int64_t ok;
    int64_t model = train_model(&d, "{\"hidden\":[16],\"epochs\":1}", 120, &ok);
    assert_true(model > 0);
    char okm[64];
    snprintf(okm, sizeof okm, "/jobs/%lld/metrics", (long long)ok);
    char *ok_metrics = snapshot(&d, okm);

    int64_t victim = train_job(&d, "{\"hidden\":[32],\"epochs\":500}");
    assert_true(victim > 0);
    assert_int_equal(wait_job_progress(&d, victim, 2, 60), 0);
    daemon_kill(&d); /* SIGKILL: no chance to record anything */
    assert_int_equal(daemon_restart(&d), 0);

    expect_interrupted(&d, victim);
    char vm[64];
    snprintf(vm, sizeof vm, "/jobs/%lld/metrics", (long long)victim);
    cJSON *m = expect_json(&d, vm, 200);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "metrics")) >= 2);
    cJSON_Delete(m);
    /* the earlier run, its metrics and its model are intact */
    cJSON *j = job(&d, ok);
    assert_string_equal(json_str(j, "status"), "succeeded");
    assert_int_equal((int64_t)json_num(j, "model_id"), model);
    cJSON_Delete(j);
    char *ok_after = snapshot(&d, okm);
    assert_string_equal(ok_after, ok_metrics);
    free(ok_after);
    free(ok_metrics);
    char mp[64];
    snprintf(mp, sizeof mp, "/models/%lld", (long long)model);
    cJSON_Delete(expect_json(&d, mp, 200));
    /* and the daemon trains again */
    int64_t again = train_job(&d, "{\"hidden\":[8],\"epochs\":1}");
    cJSON_Delete(expect_job_end(&d, again, 60, "succeeded"));
    assert_int_equal(daemon_finish(&d), 0);
}

static void test_sigterm_drains_and_requeues(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    int64_t running = train_job(&d, "{\"hidden\":[32],\"epochs\":500}");
    int64_t queued = train_job(&d, "{\"hidden\":[8],\"epochs\":1}");
    assert_true(running > 0 && queued > 0);
    assert_int_equal(wait_job_progress(&d, running, 1, 60), 0);
    double t0 = now_seconds();
    assert_int_equal(daemon_stop(&d), 0); /* drains and exits 0 */
    assert_true(now_seconds() - t0 < 15);
    assert_int_equal(daemon_restart(&d), 0);
    expect_interrupted(&d, running);
    /* the queued run was kept and runs now */
    cJSON_Delete(expect_job_end(&d, queued, 60, "succeeded"));
    assert_int_equal(daemon_finish(&d), 0);
}

static void test_readiness_turns_false_while_draining(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    /* while it stops a training job the daemon drains: readiness is false
     * or the listener is already closed */
    int64_t id = train_job(&d, "{\"hidden\":[32],\"epochs\":500}");
    assert_int_equal(wait_job_progress(&d, id, 1, 60), 0);
    kill(d.pid, SIGTERM);
    double t0 = now_seconds();
    int refused = 0;
    while (now_seconds() - t0 < 10 && !refused) {
        http_result r;
        int rc = http_do(&d, "GET", "/readyz", NULL, NULL, 0, NULL, 1, &r);
        refused = rc != 0 || r.status == 503;
        if (rc == 0 && r.status == 503) expect_retry_after(&r); /* when to probe again */
        http_result_free(&r);
    }
    assert_true(refused);
    assert_int_equal(daemon_wait(&d, 30), 0);
    daemon_cleanup(&d); /* exited by itself: nothing left to stop */
}

/* A connection that sends headers announcing a body and then stalls: the
 * request stays in flight, so the daemon's drain has to wait for it. */
static int stalled_request(const mlpd_daemon *d) {
    int fd = raw_connect(d);
    if (fd < 0) return -1;
    static const char head[] = "POST /train HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    if (write(fd, head, sizeof head - 1) != (ssize_t)(sizeof head - 1)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_second_signal_exits_at_once(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    int64_t id = train_job(&d, "{\"hidden\":[32],\"epochs\":500}");
    assert_int_equal(wait_job_progress(&d, id, 1, 60), 0);
    int fd = stalled_request(&d);
    assert_true(fd >= 0);
    usleep(100 * 1000);
    kill(d.pid, SIGTERM);
    usleep(300 * 1000); /* draining now: waiting for the stalled request */
    double t0 = now_seconds();
    kill(d.pid, SIGTERM);
    assert_int_equal(daemon_wait(&d, 10), 1);
    assert_true(now_seconds() - t0 < 1.0);
    close(fd);
    /* the job was already recorded as interrupted by the first signal */
    assert_int_equal(daemon_restart(&d), 0);
    expect_interrupted(&d, id);
    assert_int_equal(daemon_finish(&d), 0);
}

static void test_drain_gives_up_on_a_stalled_request(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    int fd = stalled_request(&d);
    assert_true(fd >= 0);
    usleep(100 * 1000);
    double t0 = now_seconds();
    assert_int_equal(daemon_stop(&d), 0); /* still a clean exit */
    double took = now_seconds() - t0;
    assert_true(took > 1.0 && took < 15.0); /* waited, but not for ever */
    close(fd);
    daemon_cleanup(&d);
}

/* --shutdown-delay: after SIGTERM the daemon is not ready but serves as
 * before (predictions, new jobs) for the delay, every answer closing its
 * connection, and only then stops; a load balancer takes it out meanwhile. */
static void test_shutdown_delay_keeps_serving(void **state) {
    (void)state;
    static const char *const extra[] = {"--shutdown-delay", "5", NULL};
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, extra), 0);
    int64_t model = train_model(&d, "{\"hidden\":[8],\"epochs\":1}", 60, NULL);
    assert_true(model > 0);
    float x[784] = {0};
    char *body = predict_body(model, x, 1, 784, 0);
    assert_non_null(body);
    kill(d.pid, SIGTERM);
    double t0 = now_seconds();
    http_result r;
    char conn[32];
    int not_ready = 0;
    while (!not_ready && now_seconds() - t0 < 4) { /* the handler runs at once */
        assert_int_equal(http_get(&d, "/readyz", &r), 0);
        not_ready = r.status == 503;
        http_result_free(&r);
    }
    assert_true(not_ready);
    assert_int_equal(http_post_json(&d, "/predict", body, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(http_result_header(&r, "Connection", conn, sizeof conn), 0);
    assert_string_equal(conn, "close");
    http_result_free(&r);
    int64_t job = train_job(&d, "{\"hidden\":[8],\"epochs\":1}");
    assert_true(job > 0);                /* accepted: it runs after the restart */
    assert_true(now_seconds() - t0 < 5); /* all of it within the delay */
    assert_int_equal(daemon_wait(&d, 30), 0);
    assert_true(now_seconds() - t0 >= 4.9); /* the delay was kept */
    free(body);
    assert_int_equal(daemon_restart(&d), 0);
    cJSON_Delete(expect_job_end(&d, job, 60, "succeeded"));
    assert_int_equal(daemon_finish(&d), 0);
}

/* A store left by a newer mlpd (schema ahead of the migrations): the start
 * stops at once with exit status 2 (a setting to fix, like a refused flag)
 * and says why; nothing is served. Both stores (tests/run.sh runs this file
 * against PostgreSQL too). */
static void test_newer_schema_exits_2(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    assert_int_equal(daemon_stop(&d), 0);
    assert_int_equal(daemon_schema_ahead(&d), 0);
    double t0 = now_seconds();
    assert_int_not_equal(daemon_restart(&d), 0); /* never listens */
    assert_int_equal(d.start_exit, 2);
    assert_true(now_seconds() - t0 < 10);
    FILE *f = fopen(d.log, "r");
    assert_non_null(f);
    char line[512];
    int said = 0;
    while (fgets(line, sizeof line, f)) said |= strstr(line, "is newer than this mlpd") != NULL;
    fclose(f);
    assert_true(said);
    daemon_cleanup(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_restart_keeps_everything),
        cmocka_unit_test(test_sigkill_mid_training_marks_the_run_interrupted),
        cmocka_unit_test(test_sigterm_drains_and_requeues),
        cmocka_unit_test(test_readiness_turns_false_while_draining),
        cmocka_unit_test(test_second_signal_exits_at_once),
        cmocka_unit_test(test_drain_gives_up_on_a_stalled_request),
        cmocka_unit_test(test_shutdown_delay_keeps_serving),
        cmocka_unit_test(test_newer_schema_exits_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
