/* test_codec_predict.c - the POST /predict body: one row, a batch, and every
 * refusal with its status and JSON pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "predict_request.h"

static int decode(const char *json, int max_batch, api_predict_request *r, api_problem *p) {
    memset(p, 0, sizeof *p);
    return api_predict_request_decode(json, strlen(json), max_batch, r, p);
}

static void assert_refused(const char *json, int max_batch, int status, const char *pointer) {
    api_predict_request r;
    api_problem p;
    int rc = decode(json, max_batch, &r, &p);
    if (rc != -1 || p.status != status || (pointer && strcmp(p.pointer, pointer)))
        fail_msg("body %.160s: rc %d status %d pointer '%s' detail '%s' (wanted %d '%s')", json, rc,
                 p.status, p.pointer, p.detail, status, pointer ? pointer : "");
    assert_true(p.detail[0] != '\0');
    /* A refusal leaves nothing to free. */
    assert_null(r.x);
    assert_int_equal(r.n, 0);
}

/* A body with rows x width values, value (i, j) = i + j / 1000. */
static char *batch_body(int rows, int width, const char *model) {
    size_t cap = 64 + (size_t)rows * (size_t)width * 16;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, cap, "{%s\"inputs\":[", model ? model : "");
    for (int i = 0; i < rows; i++) {
        s[n++] = i ? ',' : '[';
        if (i) s[n++] = '[';
        for (int j = 0; j < width; j++)
            n += (size_t)snprintf(s + n, cap - n, "%s%d.%03d", j ? "," : "", i, j % 1000);
        s[n++] = ']';
    }
    snprintf(s + n, cap - n, "]}");
    return s;
}

static void test_single_row(void **state) {
    (void)state;
    api_predict_request r;
    api_problem p;
    assert_int_equal(decode("{\"model\":3,\"input\":[0,0.5,-1.25e2,1E-3,7]}", 0, &r, &p), 0);
    assert_true(r.model_id == 3);
    assert_int_equal(r.batch_form, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.width, 5);
    const float want[] = {0.0f, 0.5f, -125.0f, 1e-3f, 7.0f};
    for (int i = 0; i < 5; i++) assert_true(r.x[i] == want[i]);
    api_predict_request_free(&r);
    assert_null(r.x);
    /* model absent, null or 0: the latest. Whitespace anywhere is fine. */
    assert_int_equal(decode(" { \"input\" : [ 1 ] } \n", 0, &r, &p), 0);
    assert_true(r.model_id == 0);
    api_predict_request_free(&r);
    assert_int_equal(decode("{\"input\":[1],\"model\":null}", 0, &r, &p), 0);
    assert_true(r.model_id == 0);
    api_predict_request_free(&r);
    assert_int_equal(decode("{\"model\":9007199254740991,\"input\":[1]}", 0, &r, &p), 0);
    assert_true(r.model_id == 9007199254740991LL);
    api_predict_request_free(&r);
    /* Beyond 2^53 - 1 a double cannot hold the id exactly: refused, never
     * rounded to a neighbour (9007199254740993 would read as ...992). */
    const char *const beyond[] = {"9007199254740992", "9007199254740993", "1e300"};
    for (int i = 0; i < 3; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"model\":%s,\"input\":[1]}", beyond[i]);
        assert_int_equal(decode(body, 0, &r, &p), -1);
        assert_int_equal(p.status, 422);
        assert_string_equal(p.pointer, "/model");
        api_predict_request_free(&r);
    }
}

static void test_mnist_sized_batch(void **state) {
    (void)state;
    char *body = batch_body(32, 784, "\"model\":12,");
    api_predict_request r;
    api_problem p;
    assert_int_equal(decode(body, 0, &r, &p), 0);
    assert_true(r.model_id == 12);
    assert_int_equal(r.batch_form, 1);
    assert_int_equal(r.n, 32);
    assert_int_equal(r.width, 784);
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 784; j++) {
            char text[32];
            snprintf(text, sizeof text, "%d.%03d", i, j % 1000);
            assert_true(r.x[(size_t)i * 784 + (size_t)j] == (float)strtod(text, NULL));
        }
    api_predict_request_free(&r);
    free(body);
    /* One row in batch form stays a batch. */
    assert_int_equal(decode("{\"inputs\":[[1,2]]}", 0, &r, &p), 0);
    assert_int_equal(r.batch_form, 1);
    assert_int_equal(r.n, 1);
    api_predict_request_free(&r);
}

static void test_batch_limit(void **state) {
    (void)state;
    api_predict_request r;
    api_problem p;
    char *body = batch_body(4, 3, NULL);
    assert_int_equal(decode(body, 4, &r, &p), 0);
    assert_int_equal(r.n, 4);
    api_predict_request_free(&r);
    assert_refused(body, 3, 413, "/inputs");
    decode(body, 3, &r, &p);
    assert_string_equal(p.type, "/problems/batch-too-large");
    assert_non_null(strstr(p.detail, "3"));
    free(body);
    /* max_batch < 1 means the default. */
    body = batch_body(API_PREDICT_MAX_BATCH_DEFAULT, 2, NULL);
    assert_int_equal(decode(body, 0, &r, &p), 0);
    api_predict_request_free(&r);
    free(body);
    body = batch_body(API_PREDICT_MAX_BATCH_DEFAULT + 1, 2, NULL);
    assert_refused(body, 0, 413, "/inputs");
    assert_refused(body, -5, 413, "/inputs");
    free(body);
}

static void test_bad_values_named(void **state) {
    (void)state;
    char body[4096];
    /* The 18th value (index 17) of the single row, then of the third batch row. */
    const char *bad[] = {"1e999", "-1e999", "1e39", "\"0.5\"", "null", "true", "[1]", "{}"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        size_t n = (size_t)snprintf(body, sizeof body, "{\"input\":[");
        for (int j = 0; j < 20; j++)
            n += (size_t)snprintf(body + n, sizeof body - n, "%s%s", j ? "," : "",
                                  j == 17 ? bad[k] : "0.25");
        snprintf(body + n, sizeof body - n, "]}");
        assert_refused(body, 0, 422, "/input/17");

        n = (size_t)snprintf(body, sizeof body, "{\"inputs\":[");
        for (int i = 0; i < 4; i++) {
            n += (size_t)snprintf(body + n, sizeof body - n, "%s[", i ? "," : "");
            for (int j = 0; j < 20; j++)
                n += (size_t)snprintf(body + n, sizeof body - n, "%s%s", j ? "," : "",
                                      i == 2 && j == 17 ? bad[k] : "1");
            n += (size_t)snprintf(body + n, sizeof body - n, "]");
        }
        snprintf(body + n, sizeof body - n, "]}");
        assert_refused(body, 0, 422, "/inputs/2/17");
    }
    /* The largest finite float is fine. */
    api_predict_request r;
    api_problem p;
    assert_int_equal(decode("{\"input\":[3.4028234e38,-3.4028234e38]}", 0, &r, &p), 0);
    assert_true(isfinite(r.x[0]) && r.x[0] > 3e38f);
    api_predict_request_free(&r);
}

static void test_shapes(void **state) {
    (void)state;
    assert_refused("{\"input\":[]}", 0, 422, "/input");
    assert_refused("{\"inputs\":[]}", 0, 422, "/inputs");
    assert_refused("{\"inputs\":[[1],[]]}", 0, 422, "/inputs/1");
    assert_refused("{\"input\":3}", 0, 422, "/input");
    assert_refused("{\"input\":{\"0\":1}}", 0, 422, "/input");
    assert_refused("{\"inputs\":[1,2]}", 0, 422, "/inputs/0");
    assert_refused("{\"inputs\":[[1,2],3]}", 0, 422, "/inputs/1");
    assert_refused("{\"inputs\":{}}", 0, 422, "/inputs");
    /* Ragged: the row is named, with both widths in the detail. */
    assert_refused("{\"inputs\":[[1,2,3],[4,5,6],[7,8]]}", 0, 422, "/inputs/2");
    assert_refused("{\"inputs\":[[1,2,3],[4,5,6,7]]}", 0, 422, "/inputs/1");
    api_predict_request r;
    api_problem p;
    decode("{\"inputs\":[[1,2,3],[4,5,6],[7,8]]}", 0, &r, &p);
    assert_non_null(strstr(p.detail, "row 2 has 2 values but row 0 has 3"));
    /* Width limit. */
    char *body = batch_body(1, MLP_MAX_INPUT, NULL);
    assert_int_equal(decode(body, 0, &r, &p), 0);
    assert_int_equal(r.width, MLP_MAX_INPUT);
    api_predict_request_free(&r);
    free(body);
    body = batch_body(1, MLP_MAX_INPUT + 1, NULL);
    assert_refused(body, 0, 422, "/inputs/0");
    free(body);
}

static void test_members(void **state) {
    (void)state;
    assert_refused("{}", 0, 422, "/input");
    assert_refused("{\"model\":1}", 0, 422, "/input");
    assert_refused("{\"input\":[1],\"inputs\":[[1]]}", 0, 422, "/inputs");
    assert_refused("{\"input\":[1],\"images\":[]}", 0, 422, "/images");
    assert_refused("{\"input\":[1],\"input\":[2]}", 0, 422, "/input");
    assert_refused("{\"model\":1,\"model\":2,\"input\":[1]}", 0, 422, "/model");
    assert_refused("{\"model\":-1,\"input\":[1]}", 0, 422, "/model");
    assert_refused("{\"model\":1.5,\"input\":[1]}", 0, 422, "/model");
    assert_refused("{\"model\":\"3\",\"input\":[1]}", 0, 422, "/model");
    assert_refused("{\"model\":1e999,\"input\":[1]}", 0, 422, "/model");
    assert_refused("{\"model\":9007199254740994,\"input\":[1]}", 0, 422, "/model");
}

static void test_malformed(void **state) {
    (void)state;
    const char *malformed[] = {"",
                               "  ",
                               "{",
                               "{\"input\":[1,]}",
                               "{\"input\":[1]} x",
                               "{\"input\":[1]}{}",
                               "{\"input\":[NaN]}",
                               "{\"input\":[.5]}",
                               "{\"input\":[Infinity]}"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        assert_refused(malformed[i], 0, 400, NULL);
    const char *not_object[] = {"[[1,2]]", "[1,2]", "7", "null"};
    for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++)
        assert_refused(not_object[i], 0, 422, "");
    /* Deeper than the parser's nesting limit. */
    size_t depth = 3000;
    char *deep = malloc(2 * depth + 16);
    assert_non_null(deep);
    size_t n = (size_t)sprintf(deep, "{\"input\":");
    for (size_t i = 0; i < depth; i++) deep[n++] = '[';
    for (size_t i = 0; i < depth; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    assert_refused(deep, 0, 400, NULL);
    free(deep);
    /* Only len bytes are read. */
    api_predict_request r;
    api_problem p;
    const char buf[] = "{\"input\":[1,2]}garbage";
    assert_int_equal(api_predict_request_decode(buf, 15, 0, &r, &p), 0);
    assert_int_equal(r.width, 2);
    api_predict_request_free(&r);
    api_predict_request_free(NULL);
}

/* The scanner converts numbers itself where it can: every value must equal
 * what strtod gives, cast to float, for short and long mantissas, exponents
 * near the fast path's edge, and denormal / overflowing magnitudes. */
static void test_numbers_round_like_strtod(void **state) {
    (void)state;
    uint64_t lcg = 12345;
    char tok[64], body[128];
    for (int k = 0; k < 20000; k++) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        int digits = 1 + (int)((lcg >> 33) % 20);
        int point = (int)((lcg >> 40) % (unsigned)(digits + 1));
        int exp = (int)((lcg >> 45) % 91) - 45;
        int use_exp = (lcg >> 20) & 1, neg = (lcg >> 21) & 1;
        size_t n = 0;
        if (neg) tok[n++] = '-';
        uint64_t r = lcg;
        for (int i = 0; i < digits; i++) {
            if (i == point && i > 0) tok[n++] = '.';
            r = r * 6364136223846793005ULL + 1;
            char d = (char)('0' + (r >> 60) % 10);
            if (i == 0 && point > 1 && d == '0') d = '7'; /* no leading zeros */
            if (i == 0 && point == 1) d = (char)('0' + (r >> 56) % 10);
            tok[n++] = d;
        }
        if (point == 0 || (point > 1 && tok[neg] == '0')) { /* make it "0.ddd" */
            memmove(tok + neg + 2, tok + neg, n - (size_t)neg);
            tok[neg] = '0';
            tok[neg + 1] = '.';
            n += 2;
        }
        if (use_exp) n += (size_t)snprintf(tok + n, sizeof tok - n, "e%d", exp);
        tok[n] = '\0';
        snprintf(body, sizeof body, "{\"input\":[%s]}", tok);
        float want = (float)strtod(tok, NULL);
        api_predict_request r2;
        api_problem p;
        int rc = decode(body, 0, &r2, &p);
        if (!isfinite(want)) {
            assert_int_equal(rc, -1);
            assert_string_equal(p.pointer, "/input/0");
            continue;
        }
        if (rc) fail_msg("%s refused: %s", body, p.detail);
        if (memcmp(&r2.x[0], &want, sizeof want))
            fail_msg("%s read as %.9g, strtod gives %.9g", tok, r2.x[0], want);
        api_predict_request_free(&r2);
    }
}

/* The fast path's shapes (-?int(.frac)?, few digits: what clients send for
 * pixels) in long rows, each value bit-identical to (float)strtod, and its
 * edges: 2^24 in the digit string, 8 and 9 fraction digits, -0. */
static void test_short_decimals_match_strtod(void **state) {
    (void)state;
    enum { ROW = 784 };
    static const char *edges[] = {
        "0",           "-0",         "1",         "16777215",   "16777216",    "16777217",
        "0.16777215",  "0.16777216", "1.6777215", "0.00000001", "0.000000001", "0.99999999",
        "-0.12345678", "99999999",   "0.5",       "0.1",        "0.3",         "0.7",
        "123.456",     "-7.0000001", "1677721.5", "0.00390625", "0.00048828",  "3.4028235",
        "0.0",         "-0.0000",    "10",        "0.12345678"};
    uint64_t lcg = 777;
    char *body = malloc(ROW * 24 + 32);
    char(*tok)[24] = malloc(ROW * sizeof *tok);
    assert_non_null(body);
    assert_non_null(tok);
    for (int round = 0; round < 60; round++) {
        size_t n = (size_t)snprintf(body, 32, "{\"input\":[");
        for (int i = 0; i < ROW; i++) {
            lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
            if (round == 0 && i < (int)(sizeof edges / sizeof edges[0])) {
                snprintf(tok[i], sizeof tok[i], "%s", edges[i]);
            } else {
                int int_digits = (int)((lcg >> 33) % 4), frac_digits = (int)((lcg >> 36) % 10);
                unsigned long long ip = (lcg >> 40) % 10000ULL, fp = (lcg >> 8) % 10000000000ULL;
                const char *sign = (lcg >> 62) & 1 ? "-" : "";
                if (int_digits == 0)
                    ip = 0;
                else
                    ip %= (unsigned long long)(int_digits == 1   ? 10
                                               : int_digits == 2 ? 100
                                                                 : 10000);
                if (frac_digits == 0)
                    snprintf(tok[i], sizeof tok[i], "%s%llu", sign, ip);
                else
                    snprintf(tok[i], sizeof tok[i], "%s%llu.%0*llu", sign, ip, frac_digits,
                             fp % (unsigned long long)pow(10, frac_digits));
            }
            n += (size_t)sprintf(body + n, "%s%s", i ? "," : "", tok[i]);
        }
        sprintf(body + n, "]}");
        api_predict_request r;
        api_problem p;
        if (decode(body, 0, &r, &p) != 0) fail_msg("round %d refused: %s", round, p.detail);
        assert_int_equal(r.width, ROW);
        for (int i = 0; i < ROW; i++) {
            float want = (float)strtod(tok[i], NULL);
            if (memcmp(&r.x[i], &want, sizeof want))
                fail_msg("%s read as %.9g, strtod gives %.9g", tok[i], r.x[i], want);
        }
        api_predict_request_free(&r);
    }
    free(tok);
    free(body);
}

/* What image clients send: mostly "0" or "0.0" pixels (read without the
 * number parser, eight at a time in runs) among short decimals, compact or
 * with blanks around the commas, in rows longer than the first buffer; each value bit-identical to
 * (float)strtod, -0.0 keeping its sign, and the width limit still counted. */
static void test_pixel_rows(void **state) {
    (void)state;
    enum { ROW = 1500, ROWS = 3 };
    static const char *toks[] = {"0",    "0.0",  "0.0",   "0",    "0.0",    "0.5137", "1.0",   "1",
                                 "0.00", "-0.0", "0.0e1", "0.01", "0.0E-3", "-0",     "0.9999"};
    static const char *seps[] = {",", ",", ",", ", ", " ,", ",\n\t", ",", ","};
    uint64_t lcg = 4242;
    size_t cap = (size_t)ROWS * ROW * 16 + 64;
    char *body = malloc(cap);
    const char **used = malloc((size_t)ROWS * ROW * sizeof *used);
    assert_non_null(body);
    assert_non_null(used);
    for (int round = 0; round < 40; round++) {
        int rows = 1 + round % ROWS;
        size_t n = (size_t)snprintf(body, cap, "{\"inputs\":[");
        for (int i = 0; i < rows; i++) {
            n += (size_t)sprintf(body + n, "%s[", i ? "," : "");
            const char *tok = NULL;
            int run = 0;
            for (int j = 0; j < ROW; j++) {
                lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
                /* Early rounds compact (the common case), later ones mixed;
                 * odd rounds repeat each token 1-24 times (runs of eight
                 * zeros are read eight at a time). */
                if (run == 0) {
                    tok = toks[(lcg >> 33) % (sizeof toks / sizeof toks[0])];
                    run = round % 2 ? 1 + (int)((lcg >> 50) % 24) : 1;
                }
                run--;
                const char *sep =
                    round < 10 ? "," : seps[(lcg >> 40) % (sizeof seps / sizeof seps[0])];
                used[(size_t)i * ROW + (size_t)j] = tok;
                n += (size_t)sprintf(body + n, "%s%s", j ? sep : "", tok);
            }
            n += (size_t)sprintf(body + n, "]");
        }
        sprintf(body + n, "]}");
        api_predict_request r;
        api_problem p;
        if (decode(body, 0, &r, &p) != 0) fail_msg("round %d refused: %s", round, p.detail);
        assert_int_equal(r.n, rows);
        assert_int_equal(r.width, ROW);
        for (size_t k = 0; k < (size_t)rows * ROW; k++) {
            float want = (float)strtod(used[k], NULL);
            if (memcmp(&r.x[k], &want, sizeof want))
                fail_msg("round %d value %zu: %s read as %a, strtod gives %a", round, k, used[k],
                         (double)r.x[k], (double)want);
        }
        api_predict_request_free(&r);
    }
    /* MLP_MAX_INPUT zeros are a row; one more is refused, in either spelling. */
    for (int spelling = 0; spelling < 2; spelling++) {
        const char *zero = spelling ? "0.0" : "0";
        for (int extra = 0; extra < 2; extra++) {
            size_t n = (size_t)snprintf(body, cap, "{\"input\":[");
            for (int j = 0; j < MLP_MAX_INPUT + extra; j++)
                n += (size_t)sprintf(body + n, "%s%s", j ? "," : "", zero);
            sprintf(body + n, "]}");
            if (extra) {
                assert_refused(body, 0, 422, "/input");
            } else {
                api_predict_request r;
                api_problem p;
                assert_int_equal(decode(body, 0, &r, &p), 0);
                assert_int_equal(r.width, MLP_MAX_INPUT);
                for (int j = 0; j < MLP_MAX_INPUT; j++)
                    assert_true(r.x[j] == 0.0f && !signbit(r.x[j]));
                api_predict_request_free(&r);
            }
        }
    }
    free(used);
    free(body);
}

static void test_strict_json(void **state) {
    (void)state;
    const char *bad[] = {
        "{\"input\":[01]}",
        "{\"input\":[1.]}",
        "{\"input\":[-]}",
        "{\"input\":[1e]}",
        "{\"input\":[+1]}",
        "{\"input\":[1e+]}",
        "{\"input\":[-01]}",
        "{\"input\":[0x1]}",
        "{\"input\":[1 2]}",
        "{\"input\" [1]}",
        "{input:[1]}",
        "{'input':[1]}",
        "{\"input\":[1],}",
        "\f{\"input\":[1]}",
        "{\"in\tput\":[1]}",
        "{\"input\":[1]",
        "{\"\\ud800\":1}",
        "{\"\\udc00\":1}",
        "{\"\\ud800\\u0041\":1}",
        "{\"\\x41\":1}",
        "{\"\\u12G4\":1}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":[1,]}",
        "{\"a\":{\"b\"}}",
        "{\"a\":{1:2}}",
        "{\"a\":\"\\",
        "{\"a\":\"",
        "{\"",
        /* a syntax error after a member already found wrong is still 400 */
        "{\"bogus\":1,x}",
        "{\"input\":[\"a\"],\"model\":}",
        "{\"inputs\":[[1],[]] ,]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_refused(bad[i], 0, 400, NULL);
    /* Escapes in member names are decoded; a surrogate pair is fine. */
    api_predict_request r;
    api_problem p;
    assert_int_equal(decode("{\"inp\\u0075t\":[1],\"m\\u006fdel\":2}", 0, &r, &p), 0);
    assert_true(r.model_id == 2);
    api_predict_request_free(&r);
    assert_refused("{\"\\ud83d\\ude00\":1,\"input\":[1]}", 0, 422, "/\xF0\x9F\x98\x80");
    assert_refused("{\"a~b/c\":{\"x\":[[{}],\"s\",true,false,null,-1.5e3]},\"input\":[1]}", 0, 422,
                   "/a~0b~1c");
    /* Errors come in document order. */
    assert_refused("{\"input\":[1e999],\"bogus\":1}", 0, 422, "/input/0");
    assert_refused("{\"bogus\":1,\"input\":[1e999]}", 0, 422, "/bogus");
    assert_refused("{\"inputs\":[[1],[2]],\"input\":[1]}", 0, 422, "/input");
    /* A long unknown name is cut in the pointer but refused all the same. */
    char body[512];
    snprintf(body, sizeof body, "{\"%0300d\":1,\"input\":[1]}", 7);
    decode(body, 0, &r, &p);
    assert_int_equal(p.status, 422);
    assert_true(strlen(p.pointer) > 60);
}

/* U+0000 in a member name is refused (422), not read as the name cut at it. */
static void test_nul_refused(void **state) {
    (void)state;
    assert_refused("{\"inputs\\u0000x\":[[1,2]]}", 0, 422, NULL);
    assert_refused("{\"input\":[1],\"x\\u0000\":1}", 0, 422, NULL);
    assert_refused("{\"input\":[1],\"model\":\"\\u0000\"}", 0, 422, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_row),
        cmocka_unit_test(test_mnist_sized_batch),
        cmocka_unit_test(test_batch_limit),
        cmocka_unit_test(test_bad_values_named),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_numbers_round_like_strtod),
        cmocka_unit_test(test_short_decimals_match_strtod),
        cmocka_unit_test(test_pixel_rows),
        cmocka_unit_test(test_strict_json),
        cmocka_unit_test(test_nul_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
