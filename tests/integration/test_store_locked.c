/* test_store_locked.c - another process holding the database's write lock
 * (BEGIN EXCLUSIVE, as a backup tool or a stray sqlite3 shell would): /readyz
 * says so at once (503, problem type store-locked, Retry-After), reads go on,
 * writes answer 503 store-locked with Retry-After once the store's busy
 * timeout passes (one problem type whatever the route, not 500), nothing
 * half-done is kept, and once the lock is released everything works again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon.h"
#include "expect.h"

static mlpd_daemon D;

static int setup(void **state) {
    (void)state;
    return daemon_start(&D, NULL);
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

/* A second connection to the daemon's database holding the write lock. */
static sqlite3 *lock_database(void) {
    sqlite3 *c = NULL;
    assert_int_equal(sqlite3_open(D.db, &c), SQLITE_OK);
    sqlite3_busy_timeout(c, 5000);
    assert_int_equal(sqlite3_exec(c, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    return c;
}

static void unlock_database(sqlite3 *c) {
    assert_int_equal(sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
}

static void test_readiness_reflects_a_locked_store(void **state) {
    (void)state;
    expect_healthy(&D);
    sqlite3 *c = lock_database();
    double t0 = now_seconds();
    http_result r;
    cJSON *j = expect_problem(&D, "GET", "/readyz", NULL, NULL, 0, NULL, 503, &r);
    double took = now_seconds() - t0;
    assert_string_equal(json_str(j, "type"), "/problems/store-locked");
    expect_retry_after(&r);
    assert_true(took < 2.0); /* a probe's answer, not a writer's 5 s wait */
    cJSON_Delete(j);
    http_result_free(&r);
    /* alive all along, and reads go on (WAL: readers are not blocked) */
    assert_int_equal(request_status(&D, "GET", "/healthz", NULL, NULL, 0, NULL), 200);
    assert_int_equal(request_status(&D, "GET", "/jobs", NULL, NULL, 0, NULL), 200);
    unlock_database(c);
    expect_healthy(&D);
}

/* A write refused while locked: 503 store-locked with Retry-After. */
static void expect_locked(const char *method, const char *path, const char *ctype,
                          const char *body) {
    http_result r;
    cJSON *j = expect_problem(&D, method, path, ctype, body, strlen(body), NULL, 503, &r);
    assert_string_equal(json_str(j, "type"), "/problems/store-locked");
    expect_retry_after(&r);
    cJSON_Delete(j);
    http_result_free(&r);
}

static void test_writes_get_503_while_locked(void **state) {
    (void)state;
    const char *csv = "label,a,b\n0,0.1,0.2\n1,0.3,0.4\n";
    const char *train = "{\"hidden\":[4],\"epochs\":1}";
    sqlite3 *c = lock_database();
    expect_locked("POST", "/datasets?name=locked", "text/csv", csv);
    expect_locked("POST", "/train", "application/json", train);
    unlock_database(c);
    /* nothing was kept: the same requests now succeed */
    assert_int_equal(request_status(&D, "GET", "/datasets/locked", NULL, NULL, 0, NULL), 404);
    assert_int_equal(
        request_status(&D, "POST", "/datasets?name=locked", "text/csv", csv, strlen(csv), NULL),
        201);
    int64_t id = train_job(&D, train);
    assert_true(id > 0);
    cJSON_Delete(expect_job_end(&D, id, 60, "succeeded"));
    expect_healthy(&D);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readiness_reflects_a_locked_store),
        cmocka_unit_test(test_writes_get_503_while_locked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
