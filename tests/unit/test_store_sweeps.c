/* test_store_sweeps.c - the store's sweeps (store.h, 007_sweeps.sql): a
 * sweep's life (queued, running with its start time, the best child, a
 * final status), children as runs with a sweep_id in the order they were
 * made, the list's filter and pagination, ids by status for the resume at
 * start, and everything read back after a reopen. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "test_util.h"

static char dir[256], db[512];

static const char *migrations(void) {
    const char *env = getenv("MLPD_MIGRATIONS");
    return env && *env ? env : "migrations";
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "test-sweeps") != 0) return -1;
    snprintf(db, sizeof db, "%s/mlpd.db", dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_remove_tree(dir);
    return 0;
}

static store *open_store(void) {
    store *s = NULL;
    mlpd_error err = {0};
    if (store_open(db, migrations(), &s, &err) != MLPD_OK) fail_msg("store_open: %s", err.msg);
    return s;
}

/* Leases: one daemon schedules a sweep at a time (store_sweep_claim). */
static void test_sweep_leases(void **state) {
    (void)state;
    store *s = open_store();
    mlpd_error err = {0};
    int64_t a = 0, b = 0, id = 0;
    assert_int_equal(store_sweep_create(s, "{}", "n1", 30, &a, &err), MLPD_OK);
    assert_int_equal(store_sweep_create(s, "{}", "n1", 0.001, &b, &err), MLPD_OK);
    /* a is held by n1: n2 cannot take it; b's lease has expired: n2 can */
    usleep(5000);
    assert_int_equal(store_sweep_claim(s, "n2", 30, 0, 0, &id, &err), MLPD_OK);
    assert_int_equal(id, b);
    assert_int_equal(store_sweep_claim(s, "n2", 30, 0, 0, &id, &err), MLPD_ENOTFOUND);
    /* n1 lost b: its renewal says so; a renews */
    assert_int_equal(store_sweep_renew(s, b, "n1", 30, &err), MLPD_ECONFLICT);
    assert_non_null(strstr(err.msg, "no longer held by n1"));
    assert_int_equal(store_sweep_renew(s, a, "n1", 30, &err), MLPD_OK);
    assert_int_equal(store_sweep_renew(s, b, "n2", 30, &err), MLPD_OK);
    /* n1 restarted: it takes back its own (own set), moving past what it took */
    assert_int_equal(store_sweep_claim(s, "n1", 30, 1, 0, &id, &err), MLPD_OK);
    assert_int_equal(id, a);
    assert_int_equal(store_sweep_claim(s, "n1", 30, 1, a, &id, &err), MLPD_ENOTFOUND);
    /* an ended sweep is nobody's: no renewal, no claim */
    assert_int_equal(store_sweep_set_status(s, a, RUN_CANCELLED, NULL, &err), MLPD_OK);
    assert_int_equal(store_sweep_renew(s, a, "n1", 30, &err), MLPD_ECONFLICT);
    assert_int_equal(store_sweep_claim(s, "n1", 30, 1, 0, &id, &err), MLPD_ENOTFOUND);
    store_close(s);
}

static void test_sweep_life_and_children(void **state) {
    (void)state;
    store *s = open_store();
    mlpd_error err = {0};
    int64_t a = 0, b = 0;
    assert_int_equal(store_sweep_create(s, "{\"max_runs\":3}", "n1", 30, &a, &err), MLPD_OK);
    assert_int_equal(store_sweep_create(s, "{\"max_runs\":1}", "n1", 30, &b, &err), MLPD_OK);
    assert_true(b > a);
    store_sweep w;
    assert_int_equal(store_sweep_get(s, a, &w, &err), MLPD_OK);
    assert_int_equal(w.status, RUN_QUEUED);
    assert_string_equal(w.config_json, "{\"max_runs\":3}");
    assert_true(w.created_at > 0 && w.started_at == 0 && w.best_run_id == 0);
    assert_true(isnan(w.best_value));
    store_sweep_clear(&w);
    assert_int_equal(store_sweep_get(s, 999, &w, &err), MLPD_ENOTFOUND);

    /* three children in order, one plain run between them */
    int64_t c[3], plain = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_run_create_in(s, "{}", "digits", 2, a, &c[i], &err), MLPD_OK);
        if (i == 0) assert_int_equal(store_run_create(s, "{}", "digits", 2, &plain, &err), MLPD_OK);
    }
    store_run *kids;
    size_t n;
    assert_int_equal(store_sweep_children(s, a, 100, &kids, &n, &err), MLPD_OK);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kids[i].id, c[i]);
        assert_int_equal(kids[i].sweep_id, a);
    }
    store_run_list_free(kids, n);
    store_run run;
    assert_int_equal(store_run_get(s, plain, &run, &err), MLPD_OK);
    assert_int_equal(run.sweep_id, 0);
    store_run_clear(&run);
    assert_int_equal(store_sweep_children(s, b, 100, &kids, &n, &err), MLPD_OK);
    assert_int_equal(n, 0);
    store_run_list_free(kids, n);

    /* running (started once), the best, then the end */
    assert_int_equal(store_sweep_set_status(s, a, RUN_RUNNING, NULL, &err), MLPD_OK);
    assert_int_equal(store_sweep_get(s, a, &w, &err), MLPD_OK);
    double started = w.started_at;
    assert_true(started > 0);
    store_sweep_clear(&w);
    assert_int_equal(store_sweep_set_status(s, a, RUN_RUNNING, NULL, &err), MLPD_OK);
    assert_int_equal(store_sweep_set_best(s, a, c[1], 0.75, &err), MLPD_OK);
    assert_int_equal(store_sweep_set_best(s, 999, c[1], 0.75, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_sweep_set_status(s, b, RUN_FAILED, "no child succeeded", &err), MLPD_OK);
    assert_int_equal(store_sweep_set_status(s, a, RUN_SUCCEEDED, NULL, &err), MLPD_OK);
    store_close(s);

    /* after a reopen */
    s = open_store();
    assert_int_equal(store_sweep_get(s, a, &w, &err), MLPD_OK);
    assert_int_equal(w.status, RUN_SUCCEEDED);
    assert_true(w.started_at == started && w.finished_at >= started);
    assert_int_equal(w.best_run_id, c[1]);
    assert_true(w.best_value == 0.75);
    store_sweep_clear(&w);
    assert_int_equal(store_sweep_get(s, b, &w, &err), MLPD_OK);
    assert_string_equal(w.error, "no child succeeded");
    store_sweep_clear(&w);

    /* list: newest first, filtered, paginated */
    store_run_query q = {.limit = 1};
    store_sweep *list;
    int64_t total = 0;
    assert_int_equal(store_sweep_list(s, &q, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 2);
    assert_int_equal(list[0].id, b);
    store_sweep_list_free(list, n);
    q = (store_run_query){.has_status = 1, .status = RUN_SUCCEEDED, .limit = 10};
    assert_int_equal(store_sweep_list(s, &q, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1);
    assert_int_equal(list[0].id, a);
    store_sweep_list_free(list, n);
    store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_life_and_children),
        cmocka_unit_test(test_sweep_leases),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
