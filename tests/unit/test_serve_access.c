/* test_serve_access.c - who may call what, without a network: limits,
 * tokens (auth.c: files, scope rules, constant-time equality, 401 before
 * 413, OPTIONS) and CORS (cors.c: origin lists and headers). */
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

/* ---- limits, tokens and CORS settings ---------------------------------------------------- */
static void test_new_settings(void **state) {
    (void)state;
    serve_config c;
    serve_config_default(&c);
    assert_int_equal(c.max_streams, 32);
    assert_int_equal(c.max_params, 16777216);
    assert_int_equal(c.max_epochs, 1000);
    assert_string_equal(c.management_token, "");
    assert_string_equal(c.cors_origins, "");
    /* raw tokens only from the environment; files from either; --token-file is an alias */
    setenv("MLPD_INFERENCE_TOKEN", "from-the-environment-1234", 1);
    setenv("MLPD_MANAGEMENT_TOKEN_FILE", "/env/path", 1);
    char *argv[] = {
        "serve", "--token-file", "/flag/path", "--cors-origins=http://a.test", "--max-streams", "3",
        NULL};
    char err[256] = "";
    assert_int_equal(serve_config_parse(&c, 6, argv, stdout, err, sizeof err), 0);
    assert_string_equal(c.inference_token, "from-the-environment-1234");
    assert_string_equal(c.management_token_file, "/flag/path");
    assert_string_equal(c.cors_origins, "http://a.test");
    assert_int_equal(c.max_streams, 3);
    unsetenv("MLPD_INFERENCE_TOKEN");
    unsetenv("MLPD_MANAGEMENT_TOKEN_FILE");
    /* there is no flag for a raw token (it would show in ps) */
    char *raw[] = {"serve", "--management-token", "x", NULL};
    assert_int_equal(serve_config_parse(&c, 3, raw, stdout, err, sizeof err), 2);
    char *bad[] = {"serve", "--max-epochs", "0", NULL};
    assert_int_equal(serve_config_parse(&c, 3, bad, stdout, err, sizeof err), 2);
}

static void test_token_equality(void **state) {
    (void)state;
    const char *k = "0123456789abcdef";
    assert_true(auth_token_equal(k, 16, k, 16));
    assert_false(auth_token_equal("0123456789abcdeF", 16, k, 16));
    assert_false(auth_token_equal("1123456789abcdef", 16, k, 16));
    assert_false(auth_token_equal(k, 15, k, 16));                                  /* a prefix */
    assert_false(auth_token_equal("0123456789abcdef0", 17, k, 16));                /* longer */
    assert_false(auth_token_equal("0123456789abcdef0123456789abcdef", 32, k, 16)); /* k twice */
    assert_false(auth_token_equal("", 0, k, 16));
}

static void test_scope_rules(void **state) {
    (void)state;
    auth_keys k;
    memset(&k, 0, sizeof k);
    /* no tokens: all open */
    assert_false(auth_enabled(&k));
    assert_false(auth_enabled(NULL));
    assert_int_equal(auth_check(&k, AUTH_MANAGE, NULL), AUTH_OK);
    assert_int_equal(auth_check(NULL, AUTH_MANAGE, NULL), AUTH_OK);
    strcpy(k.management, "manage-0123456789");
    k.management_len = strlen(k.management);
    strcpy(k.inference, "infer-0123456789");
    k.inference_len = strlen(k.inference);
    assert_true(auth_enabled(&k));
    assert_int_equal(auth_check(&k, AUTH_OPEN, NULL), AUTH_OK);
    assert_int_equal(auth_check(&k, AUTH_READ, NULL), AUTH_MISSING);
    assert_int_equal(auth_check(&k, AUTH_READ, "Basic manage-0123456789"), AUTH_MISSING);
    assert_int_equal(auth_check(&k, AUTH_READ, "Bearer"), AUTH_MISSING);
    assert_int_equal(auth_check(&k, AUTH_READ, "Bearer "), AUTH_INVALID);
    assert_int_equal(auth_check(&k, AUTH_READ, "Bearer nope"), AUTH_INVALID);
    assert_int_equal(auth_check(&k, AUTH_READ, "Bearer infer-0123456789"), AUTH_OK);
    assert_int_equal(auth_check(&k, AUTH_READ, "bearer  manage-0123456789 "), AUTH_OK);
    assert_int_equal(auth_check(&k, AUTH_INFER, "Bearer infer-0123456789"), AUTH_OK);
    assert_int_equal(auth_check(&k, AUTH_INFER, "Bearer manage-0123456789"), AUTH_OK);
    assert_int_equal(auth_check(&k, AUTH_MANAGE, "Bearer infer-0123456789"), AUTH_FORBIDDEN);
    assert_int_equal(auth_check(&k, AUTH_MANAGE, "Bearer manage-0123456789"), AUTH_OK);
    /* only an inference token: management fails closed */
    k.management_len = 0;
    k.management[0] = '\0';
    assert_int_equal(auth_check(&k, AUTH_MANAGE, "Bearer infer-0123456789"), AUTH_FORBIDDEN);
    assert_int_equal(auth_check(&k, AUTH_MANAGE, "Bearer "), AUTH_INVALID);
    assert_string_equal(auth_scope_name(AUTH_INFER), "inference");
}

static void test_token_loading(void **state) {
    (void)state;
    char dir[] = "/tmp/mlpd-unit-tokens-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/t", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("file-token-0123456789 \r\nsecond line is ignored\n", f);
    fclose(f);
    serve_config c;
    serve_config_default(&c);
    auth_keys k;
    char err[256];
    snprintf(c.management_token_file, sizeof c.management_token_file, "%s", path);
    snprintf(c.inference_token, sizeof c.inference_token, "env-token-0123456789");
    assert_int_equal(load_keys(&k, &c, err, sizeof err), 0);
    assert_string_equal(k.management, "file-token-0123456789");
    assert_int_equal(k.management_len, 21);
    assert_string_equal(k.inference, "env-token-0123456789");
    /* both sources for one scope */
    snprintf(c.management_token, sizeof c.management_token, "env-token-9876543210");
    assert_int_equal(load_keys(&k, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "not both"));
    c.management_token[0] = '\0';
    /* the same secret twice */
    snprintf(c.inference_token, sizeof c.inference_token, "file-token-0123456789");
    assert_int_equal(load_keys(&k, &c, err, sizeof err), -1);
    /* too short, control characters, missing file */
    snprintf(c.inference_token, sizeof c.inference_token, "short");
    assert_int_equal(load_keys(&k, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "16"));
    snprintf(c.inference_token, sizeof c.inference_token, "tab\tinside-0123456789");
    assert_int_equal(load_keys(&k, &c, err, sizeof err), -1);
    c.inference_token[0] = '\0';
    snprintf(c.management_token_file, sizeof c.management_token_file, "%s/missing", dir);
    assert_int_equal(load_keys(&k, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing"));
    unlink(path);
    rmdir(dir);
}

static void test_origin_lists(void **state) {
    (void)state;
    cors_policy p;
    char err[256];
    assert_int_equal(cors_policy_parse(&p, "", err, sizeof err), 0);
    assert_false(cors_enabled(&p));
    assert_int_equal(cors_policy_parse(&p, NULL, err, sizeof err), 0);
    assert_int_equal(cors_policy_parse(&p,
                                       " https://A.test:8443 ,http://b.test,, http://[::1]:3000",
                                       err, sizeof err),
                     0);
    assert_int_equal(p.n, 3);
    assert_true(cors_origin_allowed(&p, "https://a.test:8443")); /* configured in capitals */
    assert_true(cors_origin_allowed(&p, "http://b.test"));
    assert_true(cors_origin_allowed(&p, "http://[::1]:3000"));
    assert_false(cors_origin_allowed(&p, "http://b.test:80"));
    assert_false(cors_origin_allowed(&p, "https://b.test"));
    assert_false(cors_origin_allowed(&p, "http://b.testx"));
    assert_false(cors_origin_allowed(&p, NULL));
    const char *bad[] = {"*",
                         "null",
                         "b.test",
                         "http://",
                         "http://b.test/",
                         "http://b.test/x",
                         "http://b.test:",
                         "http://b.test:123456",
                         "ftp://b.test",
                         "http://b_test",
                         "http://user@b.test"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(cors_policy_parse(&p, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "--cors-origins"));
        assert_false(cors_enabled(&p));
    }
}

/* The value of header `name` in res, NULL when absent. */
static const char *res_header(const http_response *res, const char *name) {
    for (int i = 0; i < res->n_headers; i++)
        if (!strcmp(res->headers[i].name, name)) return res->headers[i].value;
    return NULL;
}

static void test_cors_headers(void **state) {
    (void)state;
    cors_policy p;
    char err[256];
    assert_int_equal(cors_policy_parse(&p, "http://a.test", err, sizeof err), 0);
    http_response res;
    memset(&res, 0, sizeof res);
    cors_add_response_headers(&p, "http://a.test", &res);
    assert_string_equal(res_header(&res, "Access-Control-Allow-Origin"), "http://a.test");
    assert_string_equal(res_header(&res, "Vary"), "Origin");
    assert_string_equal(res_header(&res, "Access-Control-Expose-Headers"),
                        "Location, Retry-After, X-Request-Id, Content-Disposition");
    memset(&res, 0, sizeof res);
    cors_add_response_headers(&p, "http://b.test", &res);
    assert_null(res_header(&res, "Access-Control-Allow-Origin"));
    assert_string_equal(res_header(&res, "Vary"), "Origin");
    memset(&res, 0, sizeof res);
    cors_add_response_headers(NULL, "http://a.test", &res); /* off */
    assert_int_equal(res.n_headers, 0);
    /* preflight: listed, plain, refused */
    memset(&res, 0, sizeof res);
    cors_reply_options(&p, "http://a.test", "GET, HEAD, DELETE", &res);
    assert_int_equal(res.status, 204);
    assert_string_equal(res_header(&res, "Access-Control-Allow-Methods"), "GET, HEAD, DELETE");
    assert_string_equal(res_header(&res, "Access-Control-Max-Age"), "600");
    assert_non_null(strstr(res_header(&res, "Access-Control-Allow-Headers"), "Authorization"));
    memset(&res, 0, sizeof res);
    cors_reply_options(&p, NULL, "POST", &res);
    assert_int_equal(res.status, 204);
    assert_string_equal(res_header(&res, "Allow"), "POST, OPTIONS");
    assert_null(res_header(&res, "Access-Control-Allow-Methods"));
    memset(&res, 0, sizeof res);
    cors_reply_options(&p, "http://b.test", "POST", &res);
    assert_int_equal(res.status, 403);
    assert_null(res_header(&res, "Access-Control-Allow-Methods"));
    free(res.body);
}

/* Admission with tokens configured: the table's scopes, 401 before 413, OPTIONS. */
static void test_admission_with_tokens(void **state) {
    fixture *f = *state;
    auth_keys k;
    memset(&k, 0, sizeof k);
    strcpy(k.management, "manage-0123456789");
    k.management_len = strlen(k.management);
    f->a.auth = &k;
    http_request req;
    http_response res;
    route *m;
    static const struct {
        const char *method, *path;
        auth_scope scope;
    } table[] = {
        {"POST", "/train", AUTH_MANAGE},
        {"GET", "/jobs", AUTH_READ},
        {"GET", "/jobs/1", AUTH_READ},
        {"GET", "/jobs/1/metrics", AUTH_READ},
        {"GET", "/jobs/1/events", AUTH_READ},
        {"POST", "/jobs/1/cancel", AUTH_MANAGE},
        {"POST", "/predict", AUTH_INFER},
        {"POST", "/explain", AUTH_INFER},
        {"GET", "/models", AUTH_READ},
        {"POST", "/models", AUTH_MANAGE},
        {"GET", "/models/1", AUTH_READ},
        {"DELETE", "/models/1", AUTH_MANAGE},
        {"GET", "/models/1/file", AUTH_READ},
        {"GET", "/models/1/evaluation", AUTH_READ},
        {"POST", "/models/1/evaluate", AUTH_MANAGE},
        {"GET", "/datasets", AUTH_READ},
        {"POST", "/datasets", AUTH_MANAGE},
        {"GET", "/datasets/d", AUTH_READ},
        {"GET", "/datasets/d/samples", AUTH_READ},
        {"PUT", "/datasets/d/files/f", AUTH_MANAGE},
        {"GET", "/healthz", AUTH_OPEN},
        {"GET", "/readyz", AUTH_OPEN},
        {"GET", "/metrics", AUTH_READ},
        {"GET", "/openapi.yaml", AUTH_OPEN},
        {"GET", "/", AUTH_OPEN},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        route *rt = admit(f, table[i].method, table[i].path, NULL, 0, &req, &res, &m);
        assert_non_null(m);
        assert_int_equal(m->scope, table[i].scope);
        if (table[i].scope == AUTH_OPEN) {
            assert_ptr_equal(rt, m);
        } else { /* no Authorization header: 401 with the challenge */
            assert_null(rt);
            assert_int_equal(res.status, 401);
            assert_string_equal(res_header(&res, "WWW-Authenticate"), "Bearer realm=\"mlpd\"");
            free(res.body);
        }
    }
    /* the token is checked before the body's size */
    assert_null(admit(f, "POST", "/predict", "application/json", 1 << 20, &req, &res, &m));
    assert_int_equal(res.status, 401);
    free(res.body);
    /* OPTIONS on a known path needs no token: 204 with the path's methods */
    assert_null(admit(f, "OPTIONS", "/models", NULL, 0, &req, &res, &m));
    assert_int_equal(res.status, 204);
    assert_string_equal(res_header(&res, "Allow"), "GET, HEAD, POST, OPTIONS");
    assert_non_null(m);
    assert_null(admit(f, "OPTIONS", "/nowhere", NULL, 0, &req, &res, &m));
    assert_int_equal(res.status, 404);
    free(res.body);
    f->a.auth = NULL;
}

/* The handlers' shared steps (router.h): an id parameter and a store
 * outcome either pass (0, res untouched) or become one problem (-1). */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_settings),
        cmocka_unit_test(test_token_equality),
        cmocka_unit_test(test_scope_rules),
        cmocka_unit_test(test_token_loading),
        cmocka_unit_test(test_origin_lists),
        cmocka_unit_test(test_cors_headers),
        cmocka_unit_test_setup_teardown(test_admission_with_tokens, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
