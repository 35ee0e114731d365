/* test_http_caching.c - content coding and caching conventions against a
 * real daemon: gzip for JSON answers over 1 KB and for static files
 * (precompressed at build time), Vary: Accept-Encoding, Last-Modified and
 * If-Modified-Since, and model files as immutable resources with an ETag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "daemon.h"
#include "expect.h"

static mlpd_daemon D;
static int64_t model_id;

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    model_id = train_model(&D, "{\"hidden\":[8],\"epochs\":1,\"seed\":3}", 120, NULL);
    return model_id > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

/* gunzip in[0..n) into a malloc'ed, NUL-terminated buffer; NULL if not gzip. */
static char *gunzip(const char *in, size_t n, size_t *out_n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) return NULL;
    size_t cap = n * 20 + 1024;
    char *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap - 1;
    int rc = inflate(&z, Z_FINISH);
    *out_n = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[*out_n] = '\0';
    return out;
}

static void get(const char *path, const char *h1, const char *h2, http_result *r) {
    const char *lines[] = {h1, h2, NULL};
    assert_int_equal(http_do_lines(&D, "GET", path, NULL, 0, lines, 0, r), 0);
}

static int header_is(const http_result *r, const char *name, const char *want) {
    char v[256];
    return http_result_header(r, name, v, sizeof v) == 0 && !strcmp(v, want);
}

static int has_header(const http_result *r, const char *name) {
    char v[256];
    return http_result_header(r, name, v, sizeof v) == 0;
}

static void test_large_json_is_gzipped_when_accepted(void **state) {
    (void)state;
    const char *path = "/datasets/mnist-digits/samples?n=8";
    http_result plain, coded, refused;
    get(path, NULL, NULL, &plain);
    assert_int_equal(plain.status, 200);
    assert_true(plain.len > 1024);
    assert_false(has_header(&plain, "Content-Encoding"));
    assert_true(header_is(&plain, "Vary", "Accept-Encoding"));

    get(path, "Accept-Encoding: br;q=1.0, gzip;q=0.8", NULL, &coded);
    assert_int_equal(coded.status, 200);
    assert_true(header_is(&coded, "Content-Encoding", "gzip"));
    assert_true(header_is(&coded, "Vary", "Accept-Encoding"));
    assert_true(coded.len < plain.len / 2);
    size_t n = 0;
    char *back = gunzip(coded.body, coded.len, &n);
    assert_non_null(back);
    assert_int_equal(n, plain.len); /* the same JSON, byte for byte */
    assert_memory_equal(back, plain.body, n);
    free(back);

    get(path, "Accept-Encoding: gzip;q=0, identity", NULL, &refused);
    assert_false(has_header(&refused, "Content-Encoding"));
    assert_int_equal(refused.len, plain.len);
    http_result_free(&plain);
    http_result_free(&coded);
    http_result_free(&refused);
}

static void test_small_answers_stay_plain(void **state) {
    (void)state;
    http_result r;
    get("/healthz", "Accept-Encoding: gzip", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_false(has_header(&r, "Content-Encoding"));
    assert_false(has_header(&r, "Vary"));
    http_result_free(&r);
}

static void test_static_files_precompressed_and_conditional(void **state) {
    (void)state;
    http_result plain, coded, same, older, etag_hit;
    get("/js/api.js", NULL, NULL, &plain);
    assert_int_equal(plain.status, 200);
    assert_true(header_is(&plain, "Vary", "Accept-Encoding"));
    char modified[128], etag[128], zetag[128];
    assert_int_equal(http_result_header(&plain, "Last-Modified", modified, sizeof modified), 0);
    assert_int_equal(http_result_header(&plain, "ETag", etag, sizeof etag), 0);

    get("/js/api.js", "Accept-Encoding: gzip", NULL, &coded);
    assert_true(header_is(&coded, "Content-Encoding", "gzip"));
    assert_int_equal(http_result_header(&coded, "ETag", zetag, sizeof zetag), 0);
    assert_string_not_equal(etag, zetag); /* two representations, two tags */
    size_t n = 0;
    char *back = gunzip(coded.body, coded.len, &n);
    assert_non_null(back);
    assert_int_equal(n, plain.len);
    assert_memory_equal(back, plain.body, n);
    free(back);

    char ims[160];
    snprintf(ims, sizeof ims, "If-Modified-Since: %s", modified);
    get("/js/api.js", ims, NULL, &same);
    assert_int_equal(same.status, 304);
    get("/js/api.js", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT", NULL, &older);
    assert_int_equal(older.status, 200);
    char inm[160];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    get("/js/api.js", inm, "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT", &etag_hit);
    assert_int_equal(etag_hit.status, 304); /* If-None-Match wins */
    http_result_free(&plain);
    http_result_free(&coded);
    http_result_free(&same);
    http_result_free(&older);
    http_result_free(&etag_hit);
}

static void test_model_files_are_immutable_with_an_etag(void **state) {
    (void)state;
    char path[64], etag[64], inm[96];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)model_id);
    http_result r, again;
    get(path, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(header_is(&r, "Cache-Control", "public, max-age=31536000, immutable"));
    assert_int_equal(http_result_header(&r, "ETag", etag, sizeof etag), 0);
    /* the tag is the CRC-32 the file stores: that of every byte before its
     * trailer (over the whole file it would be the same for every model) */
    char want[24];
    snprintf(want, sizeof want, "\"%08lx\"", crc32(0L, (const Bytef *)r.body, (uInt)r.len - 4));
    assert_string_equal(etag, want);
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    get(path, inm, NULL, &again);
    assert_int_equal(again.status, 304);
    assert_int_equal(again.len, 0);
    http_result_free(&r);
    http_result_free(&again);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_json_is_gzipped_when_accepted),
        cmocka_unit_test(test_small_answers_stay_plain),
        cmocka_unit_test(test_static_files_precompressed_and_conditional),
        cmocka_unit_test(test_model_files_are_immutable_with_an_etag),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
