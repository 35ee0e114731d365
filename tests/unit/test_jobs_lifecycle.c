/* test_jobs_lifecycle.c - the job runner around its runs (jobs_fixture.h):
 * OpenBLAS threads following the prediction traffic, recovery after a
 * crash, shutdown that interrupts running jobs and keeps queued ones, and a
 * SIGKILL that keeps the finished epochs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cblas.h>
#include <stdatomic.h>

#include "datasets.h"
#include "jobs.h"
#include "test_util.h"
#include "jobs_fixture.h"

/* ---- OpenBLAS threads and prediction traffic ---------------------------------------- */

static atomic_uint_fast64_t served; /* the fake prediction counter */
static atomic_int serving_on;       /* 1: the feeder thread bumps it */
static atomic_int feeder_stop;

static uint64_t served_so_far(void *user) {
    (void)user;
    return atomic_load(&served);
}

static void *feeder(void *arg) {
    (void)arg;
    while (!atomic_load(&feeder_stop)) {
        if (atomic_load(&serving_on)) atomic_fetch_add(&served, 1);
        sleep_ms(5);
    }
    return NULL;
}

/* Poll until OpenBLAS runs `want` threads (set by the training thread). */
static void wait_blas_threads(int want) {
    double until = now_s() + 5;
    while (openblas_get_num_threads() != want) {
        if (now_s() > until)
            fail_msg("OpenBLAS threads %d, want %d", openblas_get_num_threads(), want);
        sleep_ms(5);
    }
}

/* blas_threads 2: a training job uses two OpenBLAS threads while no
 * prediction is answered, one from the batch after they start, two again
 * once they have been quiet for JOBS_SERVING_QUIET_SECONDS. */
static void test_blas_threads_follow_serving(void **state) {
    fixture *f = *state;
    atomic_store(&served, 0);
    atomic_store(&serving_on, 0);
    atomic_store(&feeder_stop, 0);
    openblas_set_num_threads(1);
    jobs_config cfg = {.st = f->st,
                       .data_dir = f->data,
                       .max_running = 1,
                       .max_queued = 1,
                       .blas_threads = 2,
                       .serving = served_so_far,
                       .log = test_log,
                       .log_user = f};
    jobs *j = NULL;
    mlpd_error err = {0};
    if (jobs_start(&cfg, &j, &err) != MLPD_OK) fail_msg("jobs_start: %s", err.msg);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feeder, NULL), 0);
    api_train_request r = request("slow", SLOW_EPOCHS, 4);
    int64_t id = submit_ok(j, &r);
    wait_first_epoch(f, j, id);
    wait_blas_threads(2);
    atomic_store(&serving_on, 1);
    double t0 = now_s();
    wait_blas_threads(1);
    printf("serving: one OpenBLAS thread after %.0f ms\n", (now_s() - t0) * 1e3);
    sleep_ms(300); /* still serving: stays at one */
    assert_int_equal(openblas_get_num_threads(), 1);
    atomic_store(&serving_on, 0);
    t0 = now_s();
    wait_blas_threads(2);
    double quiet = now_s() - t0;
    printf("quiet: two OpenBLAS threads after %.0f ms\n", quiet * 1e3);
    assert_true(quiet >= JOBS_SERVING_QUIET_SECONDS - 0.05);
    assert_int_equal(jobs_cancel(j, id), MLPD_OK);
    assert_int_equal(wait_final(f, id, 10), RUN_CANCELLED);
    atomic_store(&feeder_stop, 1);
    pthread_join(t, NULL);
    jobs_free(j);
    openblas_set_num_threads(1);
}

/* The run's "loss" metrics are epochs 1, 2, ... n, each once; returns n. */
static int loss_epochs_once(fixture *f, int64_t run) {
    store_metric *m;
    size_t n;
    assert_int_equal(store_metrics_get(f->st, run, 0, 100000, &m, &n, NULL), MLPD_OK);
    int next = 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].key, "loss")) assert_int_equal(m[i].epoch, next++);
    free(m);
    return next - 1;
}

static void test_recovery_after_crash(void **state) {
    fixture *f = *state;
    /* What a crashed daemon leaves: one run "running" claimed 3 times (the
     * most), one "running" claimed once, two "queued". */
    api_train_request r = request("tiny", 2, 16);
    char *cfg = api_train_request_encode(&r);
    int64_t exhausted, claimed, crashed, q1, q2;
    assert_int_equal(store_run_create(f->st, cfg, "tiny", 2, &exhausted, NULL), MLPD_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_run_claim(f->st, "local", 30, &claimed, NULL), MLPD_OK);
        assert_int_equal(claimed, exhausted);
        if (i < 2)
            assert_int_equal(store_run_set_status(f->st, exhausted, RUN_QUEUED, NULL, NULL),
                             MLPD_OK);
    }
    assert_int_equal(store_run_create(f->st, cfg, "tiny", 2, &crashed, NULL), MLPD_OK);
    assert_int_equal(store_run_set_status(f->st, crashed, RUN_RUNNING, NULL, NULL), MLPD_OK);
    assert_int_equal(store_run_create(f->st, cfg, "tiny", 2, &q1, NULL), MLPD_OK);
    assert_int_equal(store_run_create(f->st, "{\"epochs\": \"many\"}", "tiny", 2, &q2, NULL),
                     MLPD_OK);
    free(cfg);

    jobs *j = start(f, 1, 4);
    store_run run;
    assert_int_equal(store_run_get(f->st, exhausted, &run, NULL), MLPD_OK);
    assert_int_equal(run.status, RUN_FAILED);
    assert_string_equal(run.error, "interrupted");
    store_run_clear(&run);
    /* the other one is queued again and runs (from its start: it has no
     * checkpoint), before the queued ones */
    assert_int_equal(wait_final(f, crashed, 60), RUN_SUCCEEDED);
    assert_int_equal(count_metrics(f, crashed, "loss"), 2);
    assert_int_equal(wait_final(f, q1, 60), RUN_SUCCEEDED);
    assert_int_equal(count_metrics(f, q1, "loss"), 2);
    /* A stored config that no longer decodes fails with a reason, not
     * silently, when a worker claims it (after q1: the queue is FIFO). */
    assert_int_equal(wait_final(f, q2, 10), RUN_FAILED);
    assert_int_equal(store_run_get(f->st, q2, &run, NULL), MLPD_OK);
    assert_int_equal(run.status, RUN_FAILED);
    assert_non_null(run.error);
    store_run_clear(&run);
    jobs_free(j);
}

static void test_shutdown_requeues_running_keeps_queued(void **state) {
    fixture *f = *state;
    jobs *j = start(f, 1, 4);
    api_train_request slow = request("slow", SLOW_EPOCHS, 4);
    int64_t a = submit_ok(j, &slow);
    int64_t b = submit_ok(j, &slow);
    wait_first_epoch(f, j, a);
    double t0 = now_s();
    jobs_stop(j);
    assert_true(now_s() - t0 < 2.0);
    /* the running one is queued again, to go on from its checkpoint */
    store_run run;
    assert_int_equal(store_run_get(f->st, a, &run, NULL), MLPD_OK);
    assert_int_equal(run.status, RUN_QUEUED);
    assert_null(run.error);
    int done = run.epoch;
    assert_true(done >= 1);
    store_run_clear(&run);
    assert_int_equal(status_of(f, b), RUN_QUEUED);
    mlpd_error err = {0};
    int64_t c = 0;
    assert_int_equal(jobs_submit(j, &slow, &c, &err), MLPD_EINTERNAL);
    jobs_free(j);
    /* The next runner takes both up again, a first, after its epochs. */
    j = start(f, 1, 4);
    double until = now_s() + 10;
    while (status_of(f, a) == RUN_QUEUED && now_s() < until) sleep_ms(10);
    assert_int_equal(store_run_get(f->st, a, &run, NULL), MLPD_OK);
    assert_int_equal(run.status, RUN_RUNNING);
    assert_true(run.epoch >= done); /* not from epoch 0 */
    store_run_clear(&run);
    assert_true(loss_epochs_once(f, a) >= done); /* kept, once each */
    assert_int_equal(jobs_cancel(j, a), MLPD_OK);
    assert_int_equal(wait_final(f, a, 10), RUN_CANCELLED);
    until = now_s() + 10;
    while (status_of(f, b) == RUN_QUEUED && now_s() < until) sleep_ms(10);
    assert_int_equal(jobs_cancel(j, b), MLPD_OK);
    assert_int_equal(wait_final(f, b, 10), RUN_CANCELLED);
    jobs_free(j);
}

/* A daemon killed with SIGKILL mid-training: every epoch it finished is in the
 * database with its checkpoint, and the next start queues the run again and
 * goes on after those epochs. The "daemon" is a child process with its own
 * connection to the same file. */
static void test_sigkill_keeps_finished_epochs(void **state) {
    fixture *f = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store *cs = NULL;
        jobs *cj = NULL;
        mlpd_error err = {0};
        if (store_open(f->db, migrations_dir(), &cs, NULL) != MLPD_OK) _exit(2);
        jobs_config cfg = {
            .st = cs, .data_dir = f->data, .max_running = 1, .max_queued = 1, .blas_threads = 1};
        if (jobs_start(&cfg, &cj, &err) != MLPD_OK) _exit(3);
        api_train_request r = request("slow", SLOW_EPOCHS, 4);
        int64_t id;
        if (jobs_submit(cj, &r, &id, &err) != MLPD_OK) _exit(4);
        for (;;) pause(); /* until killed */
    }
    /* Wait (through the parent's own connection) for three finished epochs. */
    int64_t run = 0;
    double until = now_s() + 30;
    while (run == 0 || count_metrics(f, run, "loss") < 3) {
        int wstatus;
        if (waitpid(pid, &wstatus, WNOHANG) == pid) fail_msg("the child exited early: %d", wstatus);
        if (now_s() > until) {
            kill(pid, SIGKILL);
            fail_msg("no three epochs in 30s");
        }
        int64_t *ids;
        size_t n;
        assert_int_equal(store_run_ids_with_status(f->st, RUN_RUNNING, &ids, &n, NULL), MLPD_OK);
        if (n) run = ids[0];
        free(ids);
        sleep_ms(10);
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    size_t epochs = count_metrics(f, run, "loss");

    /* Restart: a fresh connection finds the same epochs 1..n, in order. */
    store_close(f->st);
    assert_int_equal(store_open(f->db, migrations_dir(), &f->st, NULL), MLPD_OK);
    store_metric *m;
    size_t n;
    assert_int_equal(store_metrics_get(f->st, run, 0, 100000, &m, &n, NULL), MLPD_OK);
    int next_epoch = 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].key, "loss")) assert_int_equal(m[i].epoch, next_epoch++);
    free(m);
    assert_true((size_t)(next_epoch - 1) >= epochs);
    store_run rec;
    assert_int_equal(store_run_get(f->st, run, &rec, NULL), MLPD_OK);
    assert_int_equal(rec.status, RUN_RUNNING);
    assert_int_equal(rec.epoch, next_epoch - 1); /* progress and metrics agree */
    store_run_clear(&rec);
    unsigned char *ck = NULL;
    size_t ck_len = 0;
    int ck_epoch = 0;
    assert_int_equal(store_run_checkpoint(f->st, run, &ck, &ck_len, &ck_epoch, NULL), MLPD_OK);
    assert_int_equal(ck_epoch, next_epoch - 1);
    assert_true(ck_len > 0);
    free(ck);
    jobs *j = start(f, 1, 1);
    until = now_s() + 10;
    while (status_of(f, run) != RUN_RUNNING && now_s() < until) sleep_ms(10);
    assert_int_equal(store_run_get(f->st, run, &rec, NULL), MLPD_OK);
    assert_int_equal(rec.status, RUN_RUNNING);
    assert_true(rec.epoch >= ck_epoch); /* resumed, not restarted */
    assert_int_equal(rec.attempts, 2);
    store_run_clear(&rec);
    assert_int_equal(jobs_cancel(j, run), MLPD_OK);
    assert_int_equal(wait_final(f, run, 10), RUN_CANCELLED);
    /* an ended run keeps no checkpoint */
    assert_int_equal(store_run_checkpoint(f->st, run, &ck, &ck_len, &ck_epoch, NULL),
                     MLPD_ENOTFOUND);
    jobs_free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blas_threads_follow_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_requeues_running_keeps_queued, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_keeps_finished_epochs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
