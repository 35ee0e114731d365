/* test_api_paging.c - keyset pages of the list routes (server/rest/paging.h):
 * GET /jobs, /models and /datasets walked with ?limit= and the `next`
 * cursor visit every row once, in order, with a Link: rel="next" header on
 * every page but the last; a row inserted while walking does not shift the
 * pages after the cursor; a bad cursor is a 422. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"

#define N_ROWS 5

static mlpd_daemon D;

static int upload_model(uint64_t seed) {
    static const int hidden[] = {4};
    return upload_model_file(&D, NULL, hidden, 1, seed) > 0 ? 0 : -1;
}

static int upload_dataset(const char *name) {
    char path[96];
    snprintf(path, sizeof path, "/datasets?name=%s", name);
    const char *csv = "0,0.1,0.2\n1,0.3,0.4\n";
    http_result r;
    int rc = http_do(&D, "POST", path, "text/csv", csv, strlen(csv), NULL, 0, &r);
    rc = rc == 0 && r.status == 201 ? 0 : -1;
    http_result_free(&r);
    return rc;
}

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    int64_t jobs[N_ROWS];
    for (int i = 0; i < N_ROWS; i++) {
        char name[16];
        snprintf(name, sizeof name, "set-%c", 'a' + i);
        if ((jobs[i] = train_job(&D, "{\"hidden\":[4],\"epochs\":1}")) <= 0 ||
            upload_model(40 + i) != 0 || upload_dataset(name) != 0)
            return -1;
    }
    /* Each job adds its model when it ends: wait for all of them, or a walk
     * of /models and the total after it can count different sets of rows. */
    for (int i = 0; i < N_ROWS; i++) {
        cJSON *j = wait_job(&D, jobs[i], 60);
        if (!j) return -1;
        cJSON_Delete(j);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

/* Walk `route` (e.g. "/jobs") `limit` rows at a time through its cursors;
 * `key` is the array member, `field` what orders it ("id" descending or
 * "name" ascending). Every page but the last links to the next one. Returns
 * the number of rows seen; *first gets the first page's cursor. */
static int walk(const char *route, const char *key, const char *field, int limit, char *first,
                size_t cap) {
    char path[160], next[80] = "";
    char last_name[80] = "";
    double last_id = 1e18;
    int seen = 0;
    for (int pages = 0; pages < 100; pages++) {
        if (next[0])
            snprintf(path, sizeof path, "%s?limit=%d&cursor=%s", route, limit, next);
        else
            snprintf(path, sizeof path, "%s?limit=%d", route, limit);
        http_result r;
        assert_int_equal(http_get(&D, path, &r), 0);
        assert_int_equal(r.status, 200);
        cJSON *body = http_result_json(&r);
        assert_non_null(body);
        cJSON *rows = cJSON_GetObjectItemCaseSensitive(body, key);
        assert_true(cJSON_GetArraySize(rows) <= limit);
        const cJSON *row;
        cJSON_ArrayForEach(row, rows) {
            if (!strcmp(field, "id")) {
                assert_true(json_num(row, "id") < last_id); /* newest first, no repeat */
                last_id = json_num(row, "id");
            } else {
                assert_true(strcmp(json_str(row, "name"), last_name) > 0); /* by name */
                snprintf(last_name, sizeof last_name, "%s", json_str(row, "name"));
            }
            seen++;
        }
        const cJSON *nx = cJSON_GetObjectItemCaseSensitive(body, "next");
        char link[256];
        int has_link = http_result_header(&r, "Link", link, sizeof link) == 0;
        if (cJSON_IsNull(nx)) {
            assert_false(has_link);
            cJSON_Delete(body);
            http_result_free(&r);
            return seen;
        }
        assert_true(cJSON_IsString(nx));
        snprintf(next, sizeof next, "%s", nx->valuestring);
        if (pages == 0) snprintf(first, cap, "%s", next);
        char want[200];
        snprintf(want, sizeof want, "<%s?limit=%d&cursor=%s>; rel=\"next\"", route, limit, next);
        assert_true(has_link);
        assert_string_equal(link, want);
        cJSON_Delete(body);
        http_result_free(&r);
    }
    fail_msg("more than 100 pages");
    return -1;
}

static int total_of(const char *route) {
    cJSON *l = expect_json(&D, route, 200);
    int n = (int)json_num(l, "total");
    cJSON_Delete(l);
    return n;
}

static void test_every_row_once_by_cursor(void **state) {
    (void)state;
    char first[80];
    assert_int_equal(walk("/jobs", "jobs", "id", 2, first, sizeof first), total_of("/jobs"));
    assert_int_equal(walk("/models", "models", "id", 2, first, sizeof first), total_of("/models"));
    assert_int_equal(walk("/datasets", "datasets", "name", 2, first, sizeof first),
                     total_of("/datasets"));
    /* One page holding everything has no next. */
    cJSON *all = expect_json(&D, "/jobs?limit=1000", 200);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(all, "next")));
    cJSON_Delete(all);
}

/* The page after a cursor is the same before and after new rows arrive. */
static void test_cursor_stable_under_inserts(void **state) {
    (void)state;
    cJSON *p1 = expect_json(&D, "/jobs?limit=2", 200);
    const char *cursor = json_str(p1, "next");
    assert_non_null(cursor);
    char path[96];
    snprintf(path, sizeof path, "/jobs?limit=2&cursor=%s", cursor);
    cJSON *before = expect_json(&D, path, 200);
    assert_true(train_job(&D, "{\"hidden\":[4],\"epochs\":1}") > 0);
    cJSON *after = expect_json(&D, path, 200);
    cJSON *a = cJSON_GetObjectItemCaseSensitive(before, "jobs");
    cJSON *b = cJSON_GetObjectItemCaseSensitive(after, "jobs");
    assert_int_equal(cJSON_GetArraySize(a), cJSON_GetArraySize(b));
    for (int i = 0; i < cJSON_GetArraySize(a); i++)
        assert_int_equal((int)json_num(cJSON_GetArrayItem(a, i), "id"),
                         (int)json_num(cJSON_GetArrayItem(b, i), "id"));
    /* A status filter is carried into the link. */
    http_result r;
    assert_int_equal(http_get(&D, "/jobs?limit=1&status=succeeded", &r), 0);
    char link[256];
    if (http_result_header(&r, "Link", link, sizeof link) == 0)
        assert_non_null(strstr(link, "&status=succeeded&cursor="));
    http_result_free(&r);
    cJSON_Delete(p1);
    cJSON_Delete(before);
    cJSON_Delete(after);
}

static void test_bad_cursors_are_422(void **state) {
    (void)state;
    cJSON_Delete(expect_problem(&D, "GET", "/jobs?cursor=abc", NULL, NULL, 0, NULL, 422, NULL));
    cJSON_Delete(expect_problem(&D, "GET", "/models?cursor=-3", NULL, NULL, 0, NULL, 422, NULL));
    cJSON_Delete(
        expect_problem(&D, "GET", "/datasets?cursor=a%20b", NULL, NULL, 0, NULL, 422, NULL));
    cJSON_Delete(expect_problem(&D, "GET", "/datasets?limit=0", NULL, NULL, 0, NULL, 422, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_once_by_cursor),
        cmocka_unit_test(test_cursor_stable_under_inserts),
        cmocka_unit_test(test_bad_cursors_are_422),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
