/* test_serve_router.c - the daemon's settings (config.c) and route
 * admission (router.c) without a network: defaults, env < flags, sizes;
 * 404/405 with Allow, 413, 415, path parameters, per-route counters; the
 * handlers' shared id and store-outcome steps. Tokens and CORS:
 * test_serve_access.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "cors.h"
#include "router.h"
#include "router_fixture.h"

static void test_sizes(void **state) {
    (void)state;
    size_t v;
    assert_int_equal(serve_parse_size("1048576", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(serve_parse_size("64K", &v), 0);
    assert_int_equal(v, 64 * 1024);
    assert_int_equal(serve_parse_size("1MiB", &v), 0);
    assert_int_equal(v, 1 << 20);
    assert_int_equal(serve_parse_size("2g", &v), 0);
    assert_int_equal(v, 2ull << 30);
    assert_int_equal(serve_parse_size("0", &v), -1);
    assert_int_equal(serve_parse_size("-5", &v), -1);
    assert_int_equal(serve_parse_size("12Q", &v), -1);
    assert_int_equal(serve_parse_size("", &v), -1);
}

static void test_defaults_env_then_flags(void **state) {
    (void)state;
    serve_config c;
    serve_config_default(&c);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.db, "data/mlpd.db");
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.max_jobs, 1);
    assert_int_equal(c.max_queue, 16);
    assert_int_equal(c.max_body, 1 << 20);
    assert_int_equal(c.max_upload, 64 << 20);
    assert_int_equal(c.max_predict_batch, 256);

    setenv("MLPD_PORT", "9000", 1);
    setenv("MLPD_WORKERS", "3", 1);
    char *argv[] = {"serve", "--port", "9100", "--db=/tmp/x.db", "--quiet", NULL};
    char err[256] = "";
    assert_int_equal(serve_config_parse(&c, 5, argv, stdout, err, sizeof err), 0);
    assert_int_equal(c.port, 9100); /* the flag wins over the variable */
    assert_int_equal(c.workers, 3); /* the variable wins over the default */
    assert_string_equal(c.db, "/tmp/x.db");
    assert_int_equal(c.quiet, 1);
    unsetenv("MLPD_PORT");
    unsetenv("MLPD_WORKERS");
}

static void test_usage_errors(void **state) {
    (void)state;
    serve_config c;
    serve_config_default(&c);
    char err[256];
    char *bad_opt[] = {"serve", "--nope", NULL};
    assert_int_equal(serve_config_parse(&c, 2, bad_opt, stdout, err, sizeof err), 2);
    assert_non_null(strstr(err, "--nope"));
    char *bad_int[] = {"serve", "--port", "70000", NULL};
    assert_int_equal(serve_config_parse(&c, 3, bad_int, stdout, err, sizeof err), 2);
    char *missing[] = {"serve", "--db", NULL};
    assert_int_equal(serve_config_parse(&c, 2, missing, stdout, err, sizeof err), 2);
    setenv("MLPD_MAX_BODY", "lots", 1);
    char *none[] = {"serve", NULL};
    assert_int_equal(serve_config_parse(&c, 1, none, stdout, err, sizeof err), 2);
    assert_non_null(strstr(err, "MLPD_MAX_BODY"));
    unsetenv("MLPD_MAX_BODY");
}

static void test_admission(void **state) {
    fixture *f = *state;
    http_request req;
    http_response res;
    route *m;
    route *rt = admit(f, "GET", "/jobs/42/metrics", NULL, 0, &req, &res, &m);
    assert_non_null(rt);
    assert_string_equal(rt->pattern, "/jobs/{id}/metrics");
    assert_int_equal(req.n_params, 1);
    assert_string_equal(req.params[0], "42");
    rt = admit(f, "HEAD", "/datasets/mnist-digits", NULL, 0, &req, &res, &m);
    assert_non_null(rt);
    assert_string_equal(req.params[0], "mnist-digits");

    /* unknown path: 404 */
    assert_null(admit(f, "GET", "/jobs/1/nothing", NULL, 0, &req, &res, &m));
    assert_int_equal(res.status, 404);
    assert_null(m);
    free(res.body);
    /* known path, wrong method: 405 and every allowed method */
    assert_null(admit(f, "PATCH", "/models/3", NULL, 0, &req, &res, &m));
    assert_int_equal(res.status, 405);
    assert_string_equal(res.headers[0].name, "Allow");
    assert_non_null(strstr(res.headers[0].value, "GET"));
    assert_non_null(strstr(res.headers[0].value, "DELETE"));
    assert_non_null(strstr(res.headers[0].value, "OPTIONS"));
    assert_non_null(strstr(res.body, "\"status\":405"));
    free(res.body);
    /* declared body over the route's limit (JSON: 100): 413, counted on the route */
    assert_null(admit(f, "POST", "/predict", "application/json", 101, &req, &res, &m));
    assert_int_equal(res.status, 413);
    assert_non_null(m);
    assert_string_equal(m->pattern, "/predict");
    free(res.body);
    assert_non_null(admit(f, "POST", "/predict", "application/json", 100, &req, &res, &m));
    /* uploads have their own limit (1000) */
    assert_non_null(admit(f, "POST", "/models", "application/octet-stream", 1000, &req, &res, &m));
    /* wrong or missing media type: 415; parameters after ';' are fine */
    assert_null(admit(f, "POST", "/train", "text/plain", 2, &req, &res, &m));
    assert_int_equal(res.status, 415);
    free(res.body);
    assert_null(admit(f, "POST", "/train", NULL, -1, &req, &res, &m));
    assert_int_equal(res.status, 415);
    free(res.body);
    assert_non_null(
        admit(f, "POST", "/train", "Application/JSON; charset=utf-8", 2, &req, &res, &m));
    /* no body at all needs no Content-Type */
    assert_non_null(admit(f, "POST", "/train", NULL, 0, &req, &res, &m));
    assert_non_null(admit(f, "POST", "/jobs/7/cancel", NULL, 0, &req, &res, &m));
}

typedef struct {
    const char *pattern;
    unsigned long long calls, c2xx, c4xx, c404, inf;
} seen;

static void visit(void *user, const char *method, const char *pattern, const route_stats *st) {
    (void)method;
    seen *s = user;
    if (strcmp(pattern, s->pattern)) return;
    s->calls = atomic_load(&st->calls);
    for (int c = 200; c < 300; c++) s->c2xx += atomic_load(&st->by_code[c - ROUTE_CODE_MIN]);
    for (int c = 400; c < 500; c++) s->c4xx += atomic_load(&st->by_code[c - ROUTE_CODE_MIN]);
    s->c404 = atomic_load(&st->by_code[404 - ROUTE_CODE_MIN]);
    s->inf = hist_count(&st->duration);
}

static void test_counters(void **state) {
    fixture *f = *state;
    http_request req;
    http_response res;
    route *m;
    route *rt = admit(f, "GET", "/healthz", NULL, 0, &req, &res, &m);
    router_record(f->r, rt, 200, 0.0001);
    router_record(f->r, rt, 200, 3.0);
    router_record(f->r, rt, 404, 20.0);
    router_record(f->r, NULL, 404, 0.001);
    seen s = {.pattern = "/healthz"};
    router_foreach(f->r, visit, &s);
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.c2xx, 2);
    assert_int_equal(s.c4xx, 1);
    assert_int_equal(s.inf, 3);
    assert_int_equal(s.c404, 1); /* each status is counted as itself */
    seen u = {.pattern = "unmatched"};
    router_foreach(f->r, visit, &u);
    assert_int_equal(u.calls, 1);
}

static void test_handler_helpers(void **state) {
    (void)state;
    static const char *const bad_ids[] = {
        "0",   "-3",  "12abc", "+5", " 5", "",   "99999999999999999999",
        "\t5", "\n5", "05",    "-0", "5 ", "0x5"};
    http_request req;
    http_response res;
    int64_t id = 0;
    memset(&req, 0, sizeof req);
    req.n_params = 1;
    req.params[0] = "42";
    memset(&res, 0, sizeof res);
    assert_int_equal(route_param_id(&req, 0, "job", &id, &res), 0);
    assert_int_equal(id, 42);
    assert_int_equal(res.status, 0);
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        req.params[0] = bad_ids[i];
        memset(&res, 0, sizeof res);
        assert_int_equal(route_param_id(&req, 0, "model", &id, &res), -1);
        assert_int_equal(res.status, 404);
        assert_non_null(strstr(res.body, "no model with id"));
        free(res.body);
    }
    /* route_parse_int: one spelling per number */
    static const struct {
        const char *s;
        int ok;
        long long v;
    } ints[] = {{"0", 1, 0},
                {"7", 1, 7},
                {"-7", 1, -7},
                {"9223372036854775807", 1, INT64_MAX},
                {"-0", 0, 0},
                {"07", 0, 0},
                {"+7", 0, 0},
                {" 7", 0, 0},
                {"\t7", 0, 0},
                {"7 ", 0, 0},
                {"", 0, 0},
                {"-", 0, 0},
                {"1e3", 0, 0},
                {"0x7", 0, 0},
                {"9223372036854775808", 0, 0}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long v = -12345;
        int rc = route_parse_int(ints[i].s, &v);
        if ((rc == 0) != ints[i].ok) fail_msg("route_parse_int(\"%s\") = %d", ints[i].s, rc);
        if (ints[i].ok) assert_true(v == ints[i].v);
    }
    mlpd_error se = {0};
    snprintf(se.msg, sizeof se.msg, "disk I/O error");
    memset(&res, 0, sizeof res);
    assert_int_equal(route_store_check(MLPD_OK, &se, &res, "no job with id %d", 7), 0);
    assert_int_equal(res.status, 0);
    assert_null(res.body);
    assert_int_equal(route_store_check(MLPD_ENOTFOUND, &se, &res, "no job with id %d", 7), -1);
    assert_int_equal(res.status, 404);
    assert_non_null(strstr(res.body, "\"detail\":\"no job with id 7\""));
    free(res.body);
    memset(&res, 0, sizeof res);
    assert_int_equal(route_store_check(MLPD_ESTORE, &se, &res, "no job with id %d", 7), -1);
    assert_int_equal(res.status, 500);
    assert_non_null(strstr(res.body, "store: disk I/O error"));
    free(res.body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_defaults_env_then_flags),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test(test_handler_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
