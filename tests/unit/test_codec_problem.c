/* test_codec_problem.c - api_problem_set / api_problem_to_json (RFC 9457 shape). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "problem.h"

/* Serialise p and parse the result back, failing the test if it is not JSON. */
static cJSON *round_trip(const api_problem *p) {
    char *s = api_problem_to_json(p);
    assert_non_null(s);
    cJSON *o = cJSON_Parse(s);
    assert_non_null(o);
    free(s);
    return o;
}

static void test_titles_follow_status(void **state) {
    (void)state;
    static const struct {
        int status;
        const char *title;
    } cases[] = {
        {400, "Bad Request"},           {404, "Not Found"},
        {405, "Method Not Allowed"},    {409, "Conflict"},
        {413, "Content Too Large"},     {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"}, {429, "Too Many Requests"},
        {503, "Service Unavailable"},   {500, "Internal Server Error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        api_problem p;
        api_problem_set(&p, cases[i].status, NULL, NULL, "x");
        assert_int_equal(p.status, cases[i].status);
        assert_string_equal(p.title, cases[i].title);
    }
    /* A status without a phrase of its own falls back to its class. */
    api_problem p;
    api_problem_set(&p, 418, NULL, NULL, "teapot");
    assert_string_equal(p.title, "Bad Request");
    api_problem_set(&p, 599, NULL, NULL, "odd");
    assert_string_equal(p.title, "Internal Server Error");
}

static void test_type_from_slug(void **state) {
    (void)state;
    api_problem p;
    api_problem_set(&p, 422, "invalid-field", "/epochs", "epochs must be %d..%d", 1, 10000);
    assert_string_equal(p.type, "/problems/invalid-field");
    assert_string_equal(p.detail, "epochs must be 1..10000");
    assert_string_equal(p.pointer, "/epochs");
    api_problem_set(&p, 404, NULL, NULL, "no job %d", 3);
    assert_string_equal(p.type, "about:blank");
    assert_string_equal(p.pointer, "");
    api_problem_set(&p, 404, "", NULL, "empty slug");
    assert_string_equal(p.type, "about:blank");
}

static void test_json_shape_with_pointer(void **state) {
    (void)state;
    api_problem p;
    api_problem_set(&p, 422, "invalid-field", "/hidden/1", "layer width must be \"1..4096\"");
    cJSON *o = round_trip(&p);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring,
                        "/problems/invalid-field");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "title")->valuestring,
                        "Unprocessable Content");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "status")->valueint, 422);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "detail")->valuestring,
                        "layer width must be \"1..4096\"");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "pointer")->valuestring, "/hidden/1");
    assert_int_equal(cJSON_GetArraySize(o), 5);
    cJSON_Delete(o);
}

static void test_json_shape_without_pointer(void **state) {
    (void)state;
    api_problem p;
    api_problem_set(&p, 503, NULL, NULL, "draining");
    cJSON *o = round_trip(&p);
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "pointer"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring, "about:blank");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "status")->valueint, 503);
    assert_int_equal(cJSON_GetArraySize(o), 4);
    cJSON_Delete(o);
    /* An empty pointer ("" names the whole document) is left out as well. */
    api_problem_set(&p, 422, "invalid-field", "", "the body must be a JSON object");
    o = round_trip(&p);
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "pointer"));
    cJSON_Delete(o);
}

static void test_long_detail_is_cut_to_valid_utf8(void **state) {
    (void)state;
    /* 400 copies of a 2-byte character: the cut lands inside the buffer. */
    char big[801];
    for (int i = 0; i < 400; i++) {
        big[2 * i] = (char)0xC3;
        big[2 * i + 1] = (char)0xA9; /* e acute */
    }
    big[800] = '\0';
    for (int shift = 0; shift < 2; shift++) {
        api_problem p;
        api_problem_set(&p, 400, NULL, NULL, "%.*s%s", shift, "x", big);
        size_t n = strlen(p.detail);
        assert_true(n < sizeof p.detail);
        assert_true(n >= sizeof p.detail - 3);
        /* Every byte after the prefix is part of a whole pair or a '?'. */
        for (size_t i = (size_t)shift; i < n;) {
            if ((unsigned char)p.detail[i] == 0xC3 && i + 1 < n &&
                (unsigned char)p.detail[i + 1] == 0xA9) {
                i += 2;
            } else {
                assert_int_equal(p.detail[i], '?');
                i++;
            }
        }
        cJSON *o = round_trip(&p);
        cJSON_Delete(o);
    }
}

static void test_invalid_utf8_from_client_is_replaced(void **state) {
    (void)state;
    api_problem p;
    /* A stray continuation byte, a truncated 3-byte sequence, an overlong
     * form and a surrogate: each bad byte becomes '?'. Valid text survives. */
    api_problem_set(&p, 422, "invalid-field",
                    "/a\x80"
                    "b",
                    "k\xE2\x82|\xC0\xAF|\xED\xA0\x80|\xE2\x82\xAC");
    assert_string_equal(p.pointer, "/a?b");
    assert_string_equal(p.detail, "k??|??|???|\xE2\x82\xAC");
}

static void test_long_pointer_is_cut(void **state) {
    (void)state;
    char ptr[300];
    memset(ptr, 'a', sizeof ptr - 1);
    ptr[0] = '/';
    ptr[sizeof ptr - 1] = '\0';
    api_problem p;
    api_problem_set(&p, 422, "invalid-field", ptr, "unknown field");
    assert_int_equal(strlen(p.pointer), sizeof p.pointer - 1);
    assert_memory_equal(p.pointer, ptr, sizeof p.pointer - 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_titles_follow_status),
        cmocka_unit_test(test_type_from_slug),
        cmocka_unit_test(test_json_shape_with_pointer),
        cmocka_unit_test(test_json_shape_without_pointer),
        cmocka_unit_test(test_long_detail_is_cut_to_valid_utf8),
        cmocka_unit_test(test_invalid_utf8_from_client_is_replaced),
        cmocka_unit_test(test_long_pointer_is_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
