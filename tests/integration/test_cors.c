/* test_cors.c - cross-origin access (server/rest/cors.h) against a real daemon:
 * off by default; with --cors-origins, the allow/expose/vary headers on
 * every answer from a listed origin (errors, 401 and event streams included),
 * none for other origins; OPTIONS preflights with the path's methods, 403
 * for an origin not listed; bad origin lists stop the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"

#define ORIGIN "http://dash.test:8080"
#define OTHER  "https://other.test"
#define TOKEN  "cors-test-management-token-0123456789"

static mlpd_daemon D; /* CORS on, a management token */
static mlpd_daemon P; /* defaults: CORS off, no tokens */

static int setup(void **state) {
    (void)state;
    setenv("MLPD_MANAGEMENT_TOKEN", TOKEN, 1);
    const char *const extra[] = {"--cors-origins", " " ORIGIN " , " OTHER, NULL};
    int rc = daemon_start(&D, extra);
    unsetenv("MLPD_MANAGEMENT_TOKEN");
    return rc == 0 && daemon_start(&P, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    int a = daemon_finish(&D), b = daemon_finish(&P);
    return a == 0 && b == 0 ? 0 : -1;
}

/* A request with an optional body and up to three extra header lines (NULL
 * to skip); fills r (status 0 when the transfer failed). timeout_s 0: the
 * harness's default. */
static void request_body(const mlpd_daemon *d, const char *method, const char *path,
                         const char *body, const char *h1, const char *h2, const char *h3,
                         long timeout_s, http_result *r) {
    const char *lines[4] = {NULL, NULL, NULL, NULL};
    int n = 0;
    if (h1) lines[n++] = h1;
    if (h2) lines[n++] = h2;
    if (h3) lines[n++] = h3;
    http_do_lines(d, method, path, body, body ? strlen(body) : 0, lines, timeout_s, r);
}

static void request(const mlpd_daemon *d, const char *method, const char *path, const char *h1,
                    const char *h2, const char *h3, long timeout_s, http_result *r) {
    request_body(d, method, path, NULL, h1, h2, h3, timeout_s, r);
}

/* Header value or "" when absent. */
static const char *hdr(const http_result *r, const char *name) {
    static char v[256];
    if (http_result_header(r, name, v, sizeof v) != 0) v[0] = '\0';
    return v;
}

/* The answer's Vary lists Origin (alone, or with Accept-Encoding on an
 * answer large enough to be compressed). */
static void assert_varies_on_origin(const http_result *r) {
    const char *v = hdr(r, "Vary");
    if (strcmp(v, "Origin") && strcmp(v, "Origin, Accept-Encoding"))
        fprintf(stderr, "Vary: %s\n", v);
    assert_true(!strcmp(v, "Origin") || !strcmp(v, "Origin, Accept-Encoding"));
}

/* The answer carries the CORS headers for `origin`. */
static void assert_cors_for(const http_result *r, const char *origin) {
    assert_string_equal(hdr(r, "Access-Control-Allow-Origin"), origin);
    assert_varies_on_origin(r);
    assert_string_equal(hdr(r, "Access-Control-Expose-Headers"),
                        "Location, Retry-After, X-Request-Id, Content-Disposition");
}

static void test_listed_origin_gets_the_headers_on_every_answer(void **state) {
    (void)state;
    http_result r;
    const char *auth = "Authorization: Bearer " TOKEN;
    request(&D, "GET", "/healthz", "Origin: " ORIGIN, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_cors_for(&r, ORIGIN);
    http_result_free(&r);
    request(&D, "GET", "/models", "Origin: " OTHER, auth, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_cors_for(&r, OTHER);
    http_result_free(&r);
    /* errors: 404, 405, 401 (the page must be able to read why) */
    request(&D, "GET", "/nothing-here", "Origin: " ORIGIN, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    assert_cors_for(&r, ORIGIN);
    http_result_free(&r);
    request(&D, "PATCH", "/models", "Origin: " ORIGIN, auth, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    assert_cors_for(&r, ORIGIN);
    http_result_free(&r);
    request(&D, "GET", "/jobs", "Origin: " ORIGIN, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    assert_cors_for(&r, ORIGIN);
    assert_non_null(strstr(hdr(&r, "WWW-Authenticate"), "Bearer"));
    http_result_free(&r);
    /* 202 with Location, which the expose list lets the page read */
    request(&D, "POST", "/train", "Origin: " ORIGIN, auth, NULL, 0, &r);
    assert_int_equal(r.status, 202);
    assert_cors_for(&r, ORIGIN);
    assert_non_null(strstr(hdr(&r, "Location"), "/jobs/"));
    char events[96];
    snprintf(events, sizeof events, "%s/events", hdr(&r, "Location"));
    http_result_free(&r);
    /* the event stream: headers come first; the job is cancelled so it ends */
    char cancel[96];
    snprintf(cancel, sizeof cancel, "%.*s/cancel", (int)(strlen(events) - 7), events);
    request(&D, "POST", cancel, auth, NULL, NULL, 0, &r);
    assert_true(r.status == 202 || r.status == 409);
    http_result_free(&r);
    request(&D, "GET", events, "Origin: " ORIGIN, auth, NULL, 10, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/event-stream"));
    assert_cors_for(&r, ORIGIN);
    http_result_free(&r);
}

/* A prediction (answered through the batcher, off the request's thread)
 * keeps the headers set at admission. */
static void test_predictions_carry_the_headers(void **state) {
    (void)state;
    const char *auth = "Authorization: Bearer " TOKEN, *json = "Content-Type: application/json";
    http_result r;
    request_body(&D, "POST", "/train", "{\"hidden\":[4],\"epochs\":1,\"seed\":2}", auth, json, NULL,
                 0, &r);
    assert_int_equal(r.status, 202);
    cJSON *j = http_result_json(&r);
    char path[64];
    snprintf(path, sizeof path, "/jobs/%d", (int)json_num(j, "id"));
    cJSON_Delete(j);
    http_result_free(&r);
    int done = 0;
    for (double t0 = now_seconds(); !done && now_seconds() - t0 < 60; usleep(50 * 1000)) {
        request(&D, "GET", path, auth, NULL, NULL, 0, &r);
        done = strstr(r.body, "\"succeeded\"") != NULL;
        http_result_free(&r);
    }
    assert_true(done);
    float *x = NULL;
    assert_int_equal(load_test_digits(&D, 3, &x, NULL), 0);
    char *body = predict_body(0, x, 3, 784, 1);
    free(x);
    for (int i = 0; i < 3; i++) { /* a few, so some share a batch */
        request_body(&D, "POST", "/predict", body, auth, json, "Origin: " ORIGIN, 0, &r);
        assert_int_equal(r.status, 200);
        assert_cors_for(&r, ORIGIN);
        http_result_free(&r);
    }
    free(body);
}

static void test_other_origins_get_no_grant(void **state) {
    (void)state;
    http_result r;
    const char *bad[] = {"Origin: http://evil.test",
                         "Origin: http://dash.test:8081",
                         "Origin: https://dash.test:8080",
                         "Origin: null",
                         "Origin: http://dash.test:8080.evil.test",
                         NULL};
    for (int i = 0; i < 6; i++) {
        request(&D, "GET", "/healthz", bad[i], NULL, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "");
        assert_string_equal(hdr(&r, "Access-Control-Expose-Headers"), "");
        assert_varies_on_origin(&r); /* caches must still key on it */
        http_result_free(&r);
    }
}

static void test_preflight(void **state) {
    (void)state;
    http_result r;
    const char *want = "Access-Control-Request-Method: POST";
    /* no token needed: browsers send preflights without credentials */
    request(&D, "OPTIONS", "/train", "Origin: " ORIGIN, want,
            "Access-Control-Request-Headers: authorization, content-type", 0, &r);
    assert_int_equal(r.status, 204);
    assert_cors_for(&r, ORIGIN);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "POST");
    assert_string_equal(hdr(&r, "Access-Control-Allow-Headers"),
                        "Content-Type, Authorization, Last-Event-ID");
    assert_string_equal(hdr(&r, "Access-Control-Max-Age"), "600");
    assert_int_equal(r.len, 0);
    http_result_free(&r);
    /* the path's methods, whatever is asked */
    request(&D, "OPTIONS", "/models/3", "Origin: " OTHER, "Access-Control-Request-Method: DELETE",
            NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "GET, HEAD, DELETE");
    assert_string_equal(hdr(&r, "Allow"), "GET, HEAD, DELETE, OPTIONS");
    http_result_free(&r);
    request(&D, "OPTIONS", "/datasets/x/files/train-images-idx3-ubyte", "Origin: " ORIGIN, want,
            NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "PUT");
    http_result_free(&r);
    /* an origin not listed: 403 problem, no grant */
    request(&D, "OPTIONS", "/train", "Origin: http://evil.test", want, NULL, 0, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.content_type, "application/problem+json");
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "");
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "");
    http_result_free(&r);
    /* unknown path: 404; plain OPTIONS (no Origin): 204 with Allow only */
    request(&D, "OPTIONS", "/no/such/thing", "Origin: " ORIGIN, want, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    http_result_free(&r);
    request(&D, "OPTIONS", "/predict", NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(hdr(&r, "Allow"), "POST, OPTIONS");
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "");
    http_result_free(&r);
}

static void test_off_by_default(void **state) {
    (void)state;
    http_result r;
    request(&P, "GET", "/models", "Origin: " ORIGIN, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "");
    assert_string_equal(hdr(&r, "Vary"), "");
    http_result_free(&r);
    request(&P, "OPTIONS", "/train", "Origin: " ORIGIN, "Access-Control-Request-Method: POST", NULL,
            0, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "");
    http_result_free(&r);
}

/* `mlpd serve --cors-origins list`: its exit status (daemon.h). */
static int serve_status(const char *list) {
    const char *const args[] = {"--cors-origins", list, NULL};
    return serve_exit_status(NULL, args);
}

static void test_bad_origin_lists_stop_the_start(void **state) {
    (void)state;
    assert_int_equal(serve_status("*"), 2);
    assert_int_equal(serve_status("http://ok.test,https://x.test/path"), 2);
    assert_int_equal(serve_status("dash.test:8080"), 2);
    assert_int_equal(serve_status("ftp://x.test"), 2);
    assert_int_equal(serve_status("http://x.test:99999999"), 2);
    /* control: a good list gets past the settings, then fails on the data dir */
    assert_int_equal(serve_status("http://ok.test, https://[::1]:8443"), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_origin_gets_the_headers_on_every_answer),
        cmocka_unit_test(test_predictions_carry_the_headers),
        cmocka_unit_test(test_other_origins_get_no_grant),
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_off_by_default),
        cmocka_unit_test(test_bad_origin_lists_stop_the_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
