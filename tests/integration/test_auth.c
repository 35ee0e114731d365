/* test_auth.c - bearer tokens (server/rest/auth.h) against a real daemon: which
 * routes stay open, 401 with the Bearer challenge when the token is missing
 * or wrong, 403 for the other scope's token, the token checked before the
 * body; tokens from files and from the environment; bad token settings stop
 * the start; uploaded names never leave the data dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"

#define MGMT       "management-secret-0123456789abcdef"
#define INFER      "inference-secret-0123456789abcdef"
#define AUTH_MGMT  "Authorization: Bearer " MGMT
#define AUTH_INFER "Authorization: Bearer " INFER

static mlpd_daemon D; /* tokens from files */
static char token_dir[64];

/* The token file `name` in token_dir (its path into path). */
static int token_file(const char *name, const char *text, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", token_dir, name);
    return write_text_file(path, text);
}

static int setup(void **state) {
    (void)state;
    snprintf(token_dir, sizeof token_dir, "/tmp/mlpd-tokens-XXXXXX");
    if (!mkdtemp(token_dir)) return -1;
    char mfile[96], ifile[96];
    /* A trailing newline (as `echo` writes) is not part of the token. */
    if (token_file("management", MGMT "\n", mfile, sizeof mfile) != 0 ||
        token_file("inference", INFER "\r\n", ifile, sizeof ifile) != 0)
        return -1;
    const char *const extra[] = {
        "--token-file", mfile, "--inference-token-file", ifile, "--max-upload", "1K", NULL};
    return daemon_start(&D, extra);
}

static int teardown(void **state) {
    (void)state;
    int rc = daemon_finish(&D);
    remove_tree(token_dir);
    return rc;
}

/* The status of method path, with one optional header. */
static long status_of(const char *method, const char *path, const char *ctype, const char *body,
                      const char *header) {
    return request_status(&D, method, path, ctype, body, body ? strlen(body) : 0, header);
}

/* A refusal: the status, problem+json, and the challenge (401 and 403). */
static void expect_refused(const char *method, const char *path, const char *header, long status,
                           const char *challenge) {
    http_result r;
    cJSON_Delete(expect_problem(&D, method, path, NULL, NULL, 0, header, status, &r));
    char www[160];
    assert_int_equal(http_result_header(&r, "WWW-Authenticate", www, sizeof www), 0);
    assert_string_equal(www, challenge);
    http_result_free(&r);
}

static void test_open_routes_need_no_token(void **state) {
    (void)state;
    assert_int_equal(status_of("GET", "/healthz", NULL, NULL, NULL), 200);
    assert_int_equal(status_of("GET", "/readyz", NULL, NULL, NULL), 200);
    assert_int_equal(status_of("GET", "/openapi.yaml", NULL, NULL, NULL), 200);
    assert_int_equal(status_of("GET", "/", NULL, NULL, NULL), 200);
    assert_int_equal(status_of("GET", "/app.js", NULL, NULL, NULL), 200);
}

static void test_missing_or_wrong_token_is_401(void **state) {
    (void)state;
    const char *plain = "Bearer realm=\"mlpd\"";
    const char *invalid = "Bearer realm=\"mlpd\", error=\"invalid_token\"";
    expect_refused("GET", "/jobs", NULL, 401, plain);
    expect_refused("GET", "/models", NULL, 401, plain);
    expect_refused("GET", "/datasets", NULL, 401, plain);
    expect_refused("GET", "/datasets/mnist-digits/samples", NULL, 401, plain);
    expect_refused("GET", "/metrics", NULL, 401, plain);
    expect_refused("POST", "/predict", NULL, 401, plain);
    expect_refused("POST", "/train", NULL, 401, plain);
    expect_refused("GET", "/jobs", "Authorization: Basic " MGMT, 401, plain);
    expect_refused("GET", "/jobs", "Authorization: Bearer " MGMT "x", 401, invalid);
    expect_refused("GET", "/jobs", "Authorization: Bearer management-secret-0123456789abcdeF", 401,
                   invalid);
    expect_refused("GET", "/jobs", "Authorization: Bearer " INFER INFER, 401, invalid);
    expect_refused("GET", "/jobs", "Authorization: Bearer x", 401, invalid);
}

static void test_read_routes_take_either_token(void **state) {
    (void)state;
    const char *paths[] = {"/jobs",
                           "/models",
                           "/datasets",
                           "/datasets/mnist-digits",
                           "/datasets/mnist-digits/samples?n=1",
                           "/metrics"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        assert_int_equal(status_of("GET", paths[i], NULL, NULL, AUTH_MGMT), 200);
        assert_int_equal(status_of("GET", paths[i], NULL, NULL, AUTH_INFER), 200);
    }
    /* The scheme is case-insensitive (RFC 9110); blanks around the token are fine. */
    assert_int_equal(status_of("GET", "/jobs", NULL, NULL, "Authorization: bearer   " INFER), 200);
}

static void test_scopes(void **state) {
    (void)state;
    const char *insufficient = "Bearer realm=\"mlpd\", error=\"insufficient_scope\"";
    /* Inference: both tokens pass the check (404: no model yet, not a refusal). */
    const char *row = "{\"input\":[0.5]}";
    assert_int_equal(status_of("POST", "/predict", "application/json", row, AUTH_INFER), 404);
    assert_int_equal(status_of("POST", "/predict", "application/json", row, AUTH_MGMT), 404);
    /* Management with the inference token: 403, the route untouched. */
    expect_refused("POST", "/train", AUTH_INFER, 403, insufficient);
    expect_refused("POST", "/jobs/1/cancel", AUTH_INFER, 403, insufficient);
    expect_refused("DELETE", "/models/1", AUTH_INFER, 403, insufficient);
    expect_refused("POST", "/models", AUTH_INFER, 403, insufficient);
    expect_refused("POST", "/datasets?name=x", AUTH_INFER, 403, insufficient);
    expect_refused("PUT", "/datasets/x/files/train-images-idx3-ubyte", AUTH_INFER, 403,
                   insufficient);
    http_result r;
    assert_int_equal(http_do(&D, "GET", "/jobs", NULL, NULL, 0, AUTH_MGMT, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"total\":0")); /* no job was created by the refusals */
    http_result_free(&r);
    /* The management token does all of it. */
    const char *job = "{\"hidden\":[4],\"epochs\":1}";
    assert_int_equal(
        http_do(&D, "POST", "/train", "application/json", job, strlen(job), AUTH_MGMT, 0, &r), 0);
    assert_int_equal(r.status, 202);
    cJSON *j = http_result_json(&r);
    char path[64];
    snprintf(path, sizeof path, "/jobs/%d/cancel", (int)json_num(j, "id"));
    cJSON_Delete(j);
    http_result_free(&r);
    long s = status_of("POST", path, NULL, NULL, AUTH_MGMT);
    assert_true(s == 202 || s == 409); /* cancelled, or it had ended already */
    assert_int_equal(status_of("DELETE", "/models/999", NULL, NULL, AUTH_MGMT), 404);
}

static void test_token_is_checked_before_the_body(void **state) {
    (void)state;
    /* Over --max-upload (1K) and without a token: 401, not 413. */
    static char big[4096];
    memset(big, 'x', sizeof big - 1);
    assert_int_equal(status_of("POST", "/models", "application/octet-stream", big, NULL), 401);
    assert_int_equal(status_of("POST", "/models", "application/octet-stream", big, AUTH_MGMT), 413);
    /* Preflights carry no credentials: OPTIONS is answered without a token. */
    assert_int_equal(status_of("OPTIONS", "/train", NULL, NULL, NULL), 204);
}

/* Uploaded names stay inside the data dir: refused, and nothing appears
 * next to it. */
static void test_upload_names_cannot_escape(void **state) {
    (void)state;
    const char *csv = "label,a\n1,0.5\n0,0.25\n";
    const char *csv_names[] = {"..%2Fescape", "%2E%2E", ".hidden", "a%2Fb", "%2Ftmp%2Fescape"};
    for (size_t i = 0; i < sizeof csv_names / sizeof csv_names[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/datasets?name=%s", csv_names[i]);
        assert_int_equal(status_of("POST", path, "text/csv", csv, AUTH_MGMT), 422);
    }
    const char *idx_paths[] = {"/datasets/%2E%2E/files/train-labels-idx1-ubyte",
                               "/datasets/.x/files/train-labels-idx1-ubyte",
                               "/datasets/ok/files/..%2F..%2Fescape", "/datasets/ok/files/%2E%2E"};
    const char label_file[] = {0, 0, 8, 1, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof idx_paths / sizeof idx_paths[0]; i++)
        cJSON_Delete(expect_problem(&D, "PUT", idx_paths[i], "application/octet-stream", label_file,
                                    sizeof label_file, AUTH_MGMT, 404, NULL));
    const char *outside[] = {"escape", "escape.csv", "tmp", "train-labels-idx1-ubyte",
                             "b.csv",  "x.csv"};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        char p[512];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", D.dir, outside[i]);
        assert_int_not_equal(stat(p, &sb), 0);
    }
    struct stat sb;
    assert_int_not_equal(stat("/tmp/escape.csv", &sb), 0);
}

/* The other source: tokens from the environment (only the management one:
 * inference requests then need it too). */
static void test_env_token_management_only(void **state) {
    (void)state;
    mlpd_daemon e;
    setenv("MLPD_MANAGEMENT_TOKEN", MGMT, 1);
    int rc = daemon_start(&e, NULL);
    unsetenv("MLPD_MANAGEMENT_TOKEN");
    assert_int_equal(rc, 0);
    assert_int_equal(request_status(&e, "GET", "/models", NULL, NULL, 0, NULL), 401);
    assert_int_equal(request_status(&e, "GET", "/models", NULL, NULL, 0, AUTH_INFER), 401);
    assert_int_equal(request_status(&e, "GET", "/models", NULL, NULL, 0, AUTH_MGMT), 200);
    assert_int_equal(
        request_status(&e, "POST", "/predict", "application/json", "{\"input\":[1]}", 13, NULL),
        401);
    assert_int_equal(daemon_finish(&e), 0);
}

/* `mlpd serve` with the variable `env` ("NAME=value", may be NULL) and one
 * flag with its value (may be NULL): its exit status (daemon.h). */
static int serve_status(const char *env, const char *flag, const char *value) {
    const char *const envs[] = {env, NULL};
    const char *const args[] = {flag, value, NULL};
    return serve_exit_status(envs, args);
}

static void test_bad_token_settings_stop_the_start(void **state) {
    (void)state;
    char file[128], same[128], empty[128];
    assert_int_equal(token_file("short", "short\n", file, sizeof file), 0);
    assert_int_equal(token_file("empty", "", empty, sizeof empty), 0);
    /* a token set but empty is refused, from a file or the environment alike:
     * never read as "no token", which would open every route */
    assert_int_equal(serve_status(NULL, "--management-token-file", empty), 2);
    assert_int_equal(serve_status(NULL, "--inference-token-file", empty), 2);
    assert_int_equal(serve_status("MLPD_MANAGEMENT_TOKEN=", NULL, NULL), 2);
    assert_int_equal(serve_status("MLPD_INFERENCE_TOKEN=", NULL, NULL), 2);
    assert_int_equal(token_file("same", INFER "\n", same, sizeof same), 0);
    assert_int_equal(serve_status("MLPD_MANAGEMENT_TOKEN=too-short", NULL, NULL), 2);
    assert_int_equal(serve_status("MLPD_INFERENCE_TOKEN=has a space in it, sadly", NULL, NULL), 2);
    assert_int_equal(serve_status(NULL, "--management-token-file", file), 2);
    assert_int_equal(serve_status(NULL, "--inference-token-file", "/nonexistent/t"), 2);
    assert_int_equal(serve_status("MLPD_MANAGEMENT_TOKEN=" MGMT, "--token-file", file), 2);
    /* one secret for both scopes would make the scopes meaningless */
    assert_int_equal(serve_status("MLPD_MANAGEMENT_TOKEN=" INFER, "--inference-token-file", same),
                     2);
    /* control: the same start with a good token gets past the settings (and
     * then fails on the data dir, status 1) */
    assert_int_equal(serve_status("MLPD_MANAGEMENT_TOKEN=" MGMT, "--inference-token-file", same),
                     1);
    unlink(file);
    unlink(same);
    unlink(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_routes_need_no_token),
        cmocka_unit_test(test_missing_or_wrong_token_is_401),
        cmocka_unit_test(test_read_routes_take_either_token),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_token_is_checked_before_the_body),
        cmocka_unit_test(test_upload_names_cannot_escape),
        cmocka_unit_test(test_env_token_management_only),
        cmocka_unit_test(test_bad_token_settings_stop_the_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
