/* test_store_queue.c - the store's job queue (store.h: claims, leases, rescue,
 * cancel requests, events) on the store the suite runs against: a SQLite
 * file, or with MLPD_TEST_PG_URI a fresh PostgreSQL database where several
 * connections (as several daemons would) claim at once.
 *
 * An integration test rather than a unit test because it needs the suite's
 * PostgreSQL cluster (tests/run.sh); it talks to the store, not to a daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "store.h"

#define CLAIMERS 4
#define RUNS     40

static char db[512], dir[256], pg_name[64];

static int admin(const char *sql) {
    PGconn *c = PQconnectdb(test_pg_uri());
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mlpd-queue-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(db, sizeof db, "%s/mlpd.db", dir);
    if (test_pg_uri()) {
        static int n;
        snprintf(pg_name, sizeof pg_name, "mlpdq_%d_%d", (int)getpid(), ++n);
        const char *uri = test_pg_uri(), *slash = strrchr(uri, '/');
        snprintf(db, sizeof db, "%.*s/%s", (int)(slash - uri), uri, pg_name);
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", pg_name);
        if (admin(sql) != 0) return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return -1;
    if (pg_name[0]) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", pg_name);
        admin(sql);
        pg_name[0] = '\0';
    }
    return 0;
}

static store *open_store(void) {
    store *s = NULL;
    mlpd_error err = {0};
    if (store_open(db, "migrations", &s, &err) != MLPD_OK) fail_msg("store_open: %s", err.msg);
    return s;
}

static int64_t queue_run(store *s) {
    int64_t id = 0;
    mlpd_error err = {0};
    assert_int_equal(store_run_create(s, "{}", "d", 1, &id, &err), MLPD_OK);
    return id;
}

/* ---- exactly once ------------------------------------------------------------------- */

typedef struct {
    store *s; /* PostgreSQL: a connection of its own; SQLite: the shared one */
    char name[16];
    int64_t got[RUNS];
    int n;
} claimer;

static void *claim_all(void *arg) {
    claimer *c = arg;
    for (;;) {
        int64_t id = 0;
        int rc = store_run_claim(c->s, c->name, 30, &id, NULL);
        if (rc == MLPD_ENOTFOUND) break;
        if (rc != MLPD_OK || c->n == RUNS) break;
        c->got[c->n++] = id;
    }
    return NULL;
}

static void test_each_run_is_claimed_once(void **state) {
    (void)state;
    store *main_s = open_store();
    for (int i = 0; i < RUNS; i++) queue_run(main_s);
    claimer cl[CLAIMERS];
    pthread_t th[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) { /* every connection first, then the race */
        memset(&cl[i], 0, sizeof cl[i]);
        cl[i].s = store_is_shared(main_s) ? open_store() : main_s;
        snprintf(cl[i].name, sizeof cl[i].name, "node-%d", i);
    }
    for (int i = 0; i < CLAIMERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, claim_all, &cl[i]), 0);
    int seen[RUNS + 1] = {0}, total = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(th[i], NULL);
        for (int k = 0; k < cl[i].n; k++) {
            assert_true(cl[i].got[k] >= 1 && cl[i].got[k] <= RUNS);
            seen[cl[i].got[k]]++;
            store_run r;
            assert_int_equal(store_run_get(main_s, cl[i].got[k], &r, NULL), MLPD_OK);
            assert_int_equal(r.status, RUN_RUNNING);
            assert_string_equal(r.worker, cl[i].name);
            assert_int_equal(r.attempts, 1);
            store_run_clear(&r);
        }
        total += cl[i].n;
        printf("%s claimed %d run(s)\n", cl[i].name, cl[i].n);
    }
    assert_int_equal(total, RUNS);
    for (int id = 1; id <= RUNS; id++) assert_int_equal(seen[id], 1);
    int64_t queued = -1;
    assert_int_equal(store_run_count(main_s, RUN_QUEUED, &queued, NULL), MLPD_OK);
    assert_int_equal(queued, 0);
    for (int i = 0; i < CLAIMERS; i++)
        if (cl[i].s != main_s) store_close(cl[i].s);
    store_close(main_s);
}

/* ---- leases, rescue, attempts ------------------------------------------------------ */

static void test_expired_lease_is_rescued_up_to_max_attempts(void **state) {
    (void)state;
    store *s = open_store();
    int64_t id = queue_run(s), got = 0;
    mlpd_error err = {0};
    store_metric m1 = {.run_id = id, .key = "loss", .epoch = 1, .step = 1, .value = 0.5};
    store_metric m2 = {.run_id = id, .key = "step_loss", .epoch = 2, .step = 2, .value = 0.4};
    static const unsigned char ck[] = "checkpoint after epoch 1";
    int requeued = -1, failed = -1, cancel = -1;
    /* A lease of 0.2 s that nobody renews; epoch 1 recorded with its
     * checkpoint, epoch 2 cut short after a step metric. */
    assert_int_equal(store_run_claim(s, "a", 0.2, &got, &err), MLPD_OK);
    assert_int_equal(got, id);
    assert_int_equal(
        store_run_record_epoch(s, id, &m1, 1, 1, 10, 0.5, 0.8, NAN, NAN, 100, ck, sizeof ck, &err),
        MLPD_OK);
    assert_int_equal(store_metrics_append(s, &m2, 1, &err), MLPD_OK);
    assert_int_equal(store_run_heartbeat(s, id, "a", 0.2, &cancel, &err), MLPD_OK);
    assert_int_equal(cancel, 0);
    assert_int_equal(store_run_rescue(s, 2, &requeued, &failed, &err), MLPD_OK);
    assert_int_equal(requeued, 0); /* the lease still holds */
    usleep(300 * 1000);
    assert_int_equal(store_run_rescue(s, 2, &requeued, &failed, &err), MLPD_OK);
    assert_int_equal(requeued, 1);
    assert_int_equal(failed, 0);
    /* The old holder learns it lost the run; b claims it as attempt 2 and
     * goes on after the checkpoint: epoch 1's metrics stay, the cut epoch's
     * go, the progress is back at epoch 1. */
    assert_int_equal(store_run_heartbeat(s, id, "a", 30, NULL, &err), MLPD_ECONFLICT);
    assert_int_equal(store_run_claim(s, "b", 0.2, &got, &err), MLPD_OK);
    assert_int_equal(got, id);
    assert_int_equal(store_run_heartbeat(s, id, "a", 30, NULL, &err), MLPD_ECONFLICT);
    store_metric *ms = NULL;
    size_t n = 99;
    assert_int_equal(store_metrics_get(s, id, 0, 100, &ms, &n, &err), MLPD_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ms[0].key, "loss");
    assert_int_equal(ms[0].epoch, 1);
    free(ms);
    unsigned char *got_ck = NULL;
    size_t ck_len = 0;
    int ck_epoch = 0;
    assert_int_equal(store_run_checkpoint(s, id, &got_ck, &ck_len, &ck_epoch, &err), MLPD_OK);
    assert_int_equal(ck_epoch, 1);
    assert_int_equal(ck_len, sizeof ck);
    assert_memory_equal(got_ck, ck, sizeof ck);
    free(got_ck);
    store_run r;
    assert_int_equal(store_run_get(s, id, &r, &err), MLPD_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.epoch, 1);
    assert_string_equal(r.worker, "b");
    store_run_clear(&r);
    /* Expired again with 2 attempts spent: failed, with the reason. */
    usleep(300 * 1000);
    assert_int_equal(store_run_rescue(s, 2, &requeued, &failed, &err), MLPD_OK);
    assert_int_equal(requeued, 0);
    assert_int_equal(failed, 1);
    assert_int_equal(store_run_get(s, id, &r, &err), MLPD_OK);
    assert_int_equal(r.status, RUN_FAILED);
    assert_non_null(strstr(r.error, "lease expired"));
    store_run_clear(&r);
    /* an ended run keeps no checkpoint */
    assert_int_equal(store_run_checkpoint(s, id, &got_ck, &ck_len, &ck_epoch, &err),
                     MLPD_ENOTFOUND);
    store_close(s);
}

/* ---- cancel from anywhere ----------------------------------------------------------- */

static void test_cancel_queued_running_ended(void **state) {
    (void)state;
    store *s = open_store();
    int64_t a = queue_run(s), b = queue_run(s), got = 0;
    mlpd_error err = {0};
    int was_running = -1, cancel = -1;
    assert_int_equal(store_run_claim(s, "n1", 30, &got, &err), MLPD_OK);
    assert_int_equal(got, a);
    /* b is queued: cancelled at once. */
    assert_int_equal(store_run_cancel(s, b, "pruned: worse", &was_running, &err), MLPD_OK);
    assert_int_equal(was_running, 0);
    store_run r;
    assert_int_equal(store_run_get(s, b, &r, &err), MLPD_OK);
    assert_int_equal(r.status, RUN_CANCELLED);
    assert_string_equal(r.error, "pruned: worse");
    store_run_clear(&r);
    /* a is running: flagged with its reason, its holder sees it at the next
     * heartbeat, and its cancelled status (no error of its own) takes the
     * reason. */
    assert_int_equal(store_run_cancel(s, a, "sweep 7 was cancelled", &was_running, &err), MLPD_OK);
    assert_int_equal(was_running, 1);
    assert_int_equal(store_run_heartbeat(s, a, "n1", 30, &cancel, &err), MLPD_OK);
    assert_int_equal(cancel, 1);
    assert_int_equal(store_run_set_status(s, a, RUN_CANCELLED, NULL, &err), MLPD_OK);
    assert_int_equal(store_run_get(s, a, &r, &err), MLPD_OK);
    assert_int_equal(r.status, RUN_CANCELLED);
    assert_string_equal(r.error, "sweep 7 was cancelled");
    store_run_clear(&r);
    /* ended and unknown runs */
    assert_int_equal(store_run_cancel(s, b, NULL, &was_running, &err), MLPD_ECONFLICT);
    assert_int_equal(store_run_cancel(s, 999, "", &was_running, &err), MLPD_ENOTFOUND);
    int64_t none = 0;
    assert_int_equal(store_run_claim(s, "n1", 30, &none, &err), MLPD_ENOTFOUND);
    store_close(s);
}

/* ---- events between daemons ---------------------------------------------------------- */

static atomic_int jobs_events, cancel_events, model_events;
static atomic_llong cancel_id;

static void on_event(void *user, store_event ev, int64_t id) {
    (void)user;
    if (ev == STORE_EVENT_JOBS) atomic_fetch_add(&jobs_events, 1);
    if (ev == STORE_EVENT_CANCEL) {
        atomic_store(&cancel_id, id);
        atomic_fetch_add(&cancel_events, 1);
    }
    if (ev == STORE_EVENT_MODELS) atomic_fetch_add(&model_events, 1);
}

static int wait_above(atomic_int *counter, int above) {
    for (int i = 0; i < 200 && atomic_load(counter) <= above; i++) usleep(10 * 1000);
    return atomic_load(counter) > above;
}

static void test_events_reach_other_daemons(void **state) {
    (void)state;
    store *listener = open_store();
    mlpd_error err = {0};
    assert_int_equal(store_listen(listener, on_event, NULL, &err), MLPD_OK);
    if (!store_is_shared(listener)) {
        /* SQLite: one daemon, nothing to hear; the call is accepted. */
        store *s = listener;
        queue_run(s);
        usleep(100 * 1000);
        assert_int_equal(atomic_load(&jobs_events), 0);
        store_close(s);
        return;
    }
    /* After connecting, the listener reports JOBS and MODELS once. */
    assert_true(wait_above(&jobs_events, 0));
    assert_true(wait_above(&model_events, 0));
    int j0 = atomic_load(&jobs_events), m0 = atomic_load(&model_events);
    store *other = open_store();
    int64_t id = queue_run(other), got = 0;
    assert_true(wait_above(&jobs_events, j0));
    assert_int_equal(store_run_claim(other, "o", 30, &got, &err), MLPD_OK);
    int was_running = 0;
    assert_int_equal(store_run_cancel(other, id, NULL, &was_running, &err), MLPD_OK);
    assert_true(wait_above(&cancel_events, 0));
    assert_int_equal(atomic_load(&cancel_id), id);
    unsigned char bytes[16] = {1, 2, 3};
    store_model meta = {.name = "n", .arch_json = "{}", .n_params = 1};
    int64_t mid = 0;
    assert_int_equal(store_model_put(other, &meta, bytes, sizeof bytes, &mid, NULL, &err), MLPD_OK);
    assert_true(wait_above(&model_events, m0));
    store_close(other);
    store_close(listener);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_run_is_claimed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_lease_is_rescued_up_to_max_attempts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued_running_ended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_reach_other_daemons, setup, teardown),
    };
    printf("store: %s\n", test_pg_uri() ? "postgresql" : "sqlite");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
