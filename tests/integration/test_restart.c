/* test_restart.c - what survives the daemon: a clean restart on the same
 * database keeps every run, metric and model; SIGKILL during training leaves
 * the run queued again and resumed from its checkpoint, ending with the
 * uninterrupted run's model byte for byte, the others intact; SIGTERM drains
 * (exit 0) and queues the running run again, to resume at the next start; --shutdown-delay serves on,
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

/* GET /models/{id}/file: the model's bytes (malloc'ed, *len). */
static char *model_bytes(const mlpd_daemon *d, int64_t model, size_t *len) {
    char path[64];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)model);
    http_result r;
    assert_int_equal(http_get(d, path, &r), 0);
    assert_int_equal(r.status, 200);
    *len = r.len;
    free(r.headers);
    return r.body; /* owned by the caller now */
}

/* The job's "loss" metrics are epochs 1..n, each once; returns n. */
static int loss_epochs_once(const mlpd_daemon *d, int64_t id) {
    char path[96];
    snprintf(path, sizeof path, "/jobs/%lld/metrics?limit=10000", (long long)id);
    cJSON *m = expect_json(d, path, 200), *it;
    int next = 1;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(m, "metrics")) {
        if (strcmp(json_str(it, "key"), "loss")) continue;
        assert_int_equal((int)json_num(it, "epoch"), next);
        next++;
    }
    cJSON_Delete(m);
    return next - 1;
}

/* Job id's "epoch" (epochs completed) once it is at least `min`; -1 when
 * it ended or timeout_s passed first. */
static int wait_epoch(const mlpd_daemon *d, int64_t id, int min, double timeout_s) {
    double t0 = now_seconds();
    while (now_seconds() - t0 < timeout_s) {
        cJSON *j = job(d, id);
        int e = (int)json_num(j, "epoch");
        int ended =
            strcmp(json_str(j, "status"), "running") && strcmp(json_str(j, "status"), "queued");
        cJSON_Delete(j);
        if (ended) return -1;
        if (e >= min) return e;
        usleep(20 * 1000);
    }
    return -1;
}

#define RESUME_JOB "{\"hidden\":[256,128],\"epochs\":6,\"seed\":11}"

/* SIGKILL mid-training: the restarted daemon queues the run again and goes
 * on after its last recorded epoch (its checkpoint), and the run ends with
 * exactly the model of an uninterrupted run of the same job (byte for byte);
 * each epoch's metrics appear once; the earlier run is untouched. */
static void test_sigkill_mid_training_resumes(void **state) {
    (void)state;
    mlpd_daemon d;
    static const char *const one_thread[] = {"--blas-threads", "1", NULL};
    assert_int_equal(daemon_start(&d, one_thread), 0);
    int64_t ref_job;
    int64_t ref = train_model(&d, RESUME_JOB, 300, &ref_job);
    assert_true(ref > 0);
    char okm[64];
    snprintf(okm, sizeof okm, "/jobs/%lld/metrics", (long long)ref_job);
    char *ok_metrics = snapshot(&d, okm);

    int64_t victim = train_job(&d, RESUME_JOB);
    assert_true(victim > 0);
    int at_kill = wait_epoch(&d, victim, 2, 120);
    assert_true(at_kill >= 2 && at_kill < 6); /* killed mid-run, after a checkpoint */
    daemon_kill(&d);                          /* SIGKILL: no chance to record anything */
    assert_int_equal(daemon_restart(&d), 0);

    cJSON *end = expect_job_end(&d, victim, 300, "succeeded");
    assert_int_equal((int)json_num(end, "attempts"), 2);
    int64_t model = (int64_t)json_num(end, "model_id");
    cJSON_Delete(end);
    assert_int_equal(loss_epochs_once(&d, victim), 6);
    size_t a_len, b_len;
    char *a = model_bytes(&d, ref, &a_len), *b = model_bytes(&d, model, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
    FILE *log = fopen(d.log, "r");
    assert_non_null(log);
    char line[512], want[96];
    snprintf(want, sizeof want, "job %lld resumes after epoch", (long long)victim);
    int resumed = 0;
    while (fgets(line, sizeof line, log)) resumed |= strstr(line, want) != NULL;
    fclose(log);
    assert_true(resumed);
    /* the earlier run and its metrics are intact */
    char *ok_after = snapshot(&d, okm);
    assert_string_equal(ok_after, ok_metrics);
    free(ok_after);
    free(ok_metrics);
    assert_int_equal(daemon_finish(&d), 0);
}

static void test_sigterm_drains_and_requeues(void **state) {
    (void)state;
    mlpd_daemon d;
    assert_int_equal(daemon_start(&d, NULL), 0);
    int64_t running = train_job(&d, RESUME_JOB);
    int64_t queued = train_job(&d, "{\"hidden\":[8],\"epochs\":1}");
    assert_true(running > 0 && queued > 0);
    int at_stop = wait_epoch(&d, running, 1, 120);
    assert_true(at_stop >= 1 && at_stop < 6);
    double t0 = now_seconds();
    assert_int_equal(daemon_stop(&d), 0); /* drains and exits 0 */
    assert_true(now_seconds() - t0 < 15);
    /* the running run is queued again, and goes on at the next start */
    assert_int_equal(daemon_restart(&d), 0);
    cJSON *end = expect_job_end(&d, running, 300, "succeeded");
    assert_int_equal((int)json_num(end, "attempts"), 2);
    cJSON_Delete(end);
    assert_int_equal(loss_epochs_once(&d, running), 6);
    /* the queued run was kept and runs too */
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
    /* the first signal had already queued the job again: it goes on */
    assert_int_equal(daemon_restart(&d), 0);
    assert_true(wait_epoch(&d, id, 1, 60) >= 1);
    cJSON *j = job(&d, id);
    assert_int_equal((int)json_num(j, "attempts"), 2);
    cJSON_Delete(j);
    assert_int_equal(cancel_job(&d, id), 202);
    cJSON_Delete(expect_job_end(&d, id, 30, "cancelled"));
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
        cmocka_unit_test(test_sigkill_mid_training_resumes),
        cmocka_unit_test(test_sigterm_drains_and_requeues),
        cmocka_unit_test(test_readiness_turns_false_while_draining),
        cmocka_unit_test(test_second_signal_exits_at_once),
        cmocka_unit_test(test_drain_gives_up_on_a_stalled_request),
        cmocka_unit_test(test_shutdown_delay_keeps_serving),
        cmocka_unit_test(test_newer_schema_exits_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
