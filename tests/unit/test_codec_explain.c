/* test_codec_explain.c - the POST /explain body decoder (api/explain_request.c)
 * on rows of unequal widths: refused with the row's pointer before any value
 * of it is stored (a row longer than row 0 was written past the rows'
 * buffer, sized from row 0: a heap overflow the sanitize suite reports). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "explain_request.h"

/* {"inputs": [[0.5 x w0], [0.5 x w1], ...]} for the n widths given. */
static char *rows_body(const int *widths, int n) {
    size_t cap = 64;
    for (int i = 0; i < n; i++) cap += (size_t)widths[i] * 4 + 4;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = (size_t)snprintf(s, cap, "{\"inputs\":[");
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(s + len, cap - len, "%s[", i ? "," : "");
        for (int k = 0; k < widths[i]; k++)
            len += (size_t)snprintf(s + len, cap - len, "%s0.5", k ? "," : "");
        len += (size_t)snprintf(s + len, cap - len, "]");
    }
    snprintf(s + len, cap - len, "]}");
    return s;
}

static void refused(const int *widths, int n, const char *pointer) {
    char *body = rows_body(widths, n);
    api_explain_request r;
    api_problem p;
    memset(&p, 0, sizeof p);
    int rc = api_explain_request_decode(body, strlen(body), &r, &p);
    api_explain_request_free(&r);
    free(body);
    if (rc != -1 || p.status != 422 || strcmp(p.pointer, pointer))
        fail_msg("widths of %d rows: rc %d status %d pointer '%s' (%s), want 422 %s", n, rc,
                 p.status, p.pointer, p.detail, pointer);
    assert_non_null(strstr(p.detail, "row 0 has"));
}

static void test_unequal_rows_refused_before_stored(void **state) {
    (void)state;
    static const int longer[] = {1, 2}, much_longer[] = {1, 4096}, shorter[] = {3, 3, 2},
                     last_longer[] = {2, 2, 2, 3};
    refused(longer, 2, "/inputs/1");
    refused(much_longer, 2, "/inputs/1");
    refused(shorter, 3, "/inputs/2");
    refused(last_longer, 4, "/inputs/3");
}

static void test_equal_rows_decode(void **state) {
    (void)state;
    static const int widths[] = {3, 3, 3};
    char *body = rows_body(widths, 3);
    api_explain_request r;
    api_problem p;
    assert_int_equal(api_explain_request_decode(body, strlen(body), &r, &p), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.width, 3);
    for (int k = 0; k < 9; k++) assert_true(r.x[k] == 0.5f);
    api_explain_request_free(&r);
    free(body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unequal_rows_refused_before_stored),
        cmocka_unit_test(test_equal_rows_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
