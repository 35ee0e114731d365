/* test_samples.c - GET /datasets/{name}/samples (server/rest/routes_samples.c)
 * against a real daemon: evenly spaced, deterministic samples whose labels
 * and pixels equal the files' bytes / 255 (plain IDX, gzip IDX, CSV), the
 * cache header, and 404/422 for unknown data sets, splits and bad n. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"

#define IMG 784

static mlpd_daemon D;

static int setup(void **state) {
    (void)state;
    return daemon_start(&D, NULL);
}

static int teardown(void **state) {
    (void)state;
    return daemon_finish(&D);
}

/* The whole file `name` of data/mnist-digits (caller frees), its size in *len. */
static unsigned char *digits_file(const char *name, size_t *len) {
    char rel[128];
    snprintf(rel, sizeof rel, "data/mnist-digits/%s", name);
    unsigned char *b = repo_file_bytes(&D, rel, len);
    assert_non_null(b);
    return b;
}

static cJSON *get_samples(const char *query, long status) {
    http_result r;
    assert_int_equal(http_get(&D, query, &r), 0);
    if (r.status != status) fprintf(stderr, "GET %s -> %ld: %.300s\n", query, r.status, r.body);
    assert_int_equal(r.status, status);
    cJSON *j = http_result_json(&r);
    assert_non_null(j);
    if (status == 200) {
        char cc[64];
        assert_int_equal(http_result_header(&r, "Cache-Control", cc, sizeof cc), 0);
        assert_string_equal(cc, "public, max-age=3600");
    } else {
        assert_string_equal(r.content_type, "application/problem+json");
    }
    http_result_free(&r);
    return j;
}

/* Every sample k sits at floor(k * size / count) and holds that row of the
 * IDX bytes (images after a 16-byte head, labels after an 8-byte head). */
static void check_against_idx(cJSON *j, const char *dataset, const char *split, int count,
                              size_t size, const unsigned char *images,
                              const unsigned char *labels) {
    assert_string_equal(json_str(j, "dataset"), dataset);
    assert_string_equal(json_str(j, "split"), split);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "samples");
    assert_int_equal(cJSON_GetArraySize(arr), count);
    int k = 0;
    for (cJSON *s = arr->child; s; s = s->next, k++) {
        size_t want = (size_t)k * size / (size_t)count;
        assert_int_equal((size_t)json_num(s, "index"), want);
        assert_int_equal((int)json_num(s, "label"), labels[8 + want]);
        cJSON *px = cJSON_GetObjectItemCaseSensitive(s, "pixels");
        assert_int_equal(cJSON_GetArraySize(px), IMG);
        int i = 0;
        for (cJSON *v = px->child; v; v = v->next, i++) {
            float expect = (float)images[16 + want * IMG + (size_t)i] / 255.0f;
            assert_true(cJSON_IsNumber(v));
            assert_true(v->valuedouble >= 0 && v->valuedouble <= 1);
            assert_true((float)v->valuedouble == expect);
        }
    }
}

static void test_idx_train_and_test_splits(void **state) {
    (void)state;
    size_t il, ll, tl, tll;
    unsigned char *img = digits_file("train-images-idx3-ubyte", &il);
    unsigned char *lab = digits_file("train-labels-idx1-ubyte", &ll);
    unsigned char *timg = digits_file("t10k-images-idx3-ubyte", &tl);
    unsigned char *tlab = digits_file("t10k-labels-idx1-ubyte", &tll);
    size_t n_train = (il - 16) / IMG, n_test = (tl - 16) / IMG;
    cJSON *j = get_samples("/datasets/mnist-digits/samples", 200); /* defaults: 8, train */
    check_against_idx(j, "mnist-digits", "train", 8, n_train, img, lab);
    cJSON_Delete(j);
    j = get_samples("/datasets/mnist-digits/samples?n=64&split=test", 200);
    check_against_idx(j, "mnist-digits", "test", 64, n_test, timg, tlab);
    cJSON_Delete(j);
    j = get_samples("/datasets/mnist-digits/samples?n=1&split=train", 200);
    check_against_idx(j, "mnist-digits", "train", 1, n_train, img, lab);
    cJSON_Delete(j);
    /* the same question, the same bytes */
    http_result a, b;
    assert_int_equal(http_get(&D, "/datasets/mnist-digits/samples?n=5", &a), 0);
    assert_int_equal(http_get(&D, "/datasets/mnist-digits/samples?n=5", &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.body, b.body, a.len);
    http_result_free(&a);
    http_result_free(&b);
    free(img);
    free(lab);
    free(timg);
    free(tlab);
}

/* A gzip IDX data set (uploaded): the samples are read through zlib. */
static void test_gzip_idx(void **state) {
    (void)state;
    size_t il, ll;
    unsigned char *img = digits_file("train-images-idx3-ubyte", &il);
    unsigned char *lab = digits_file("train-labels-idx1-ubyte", &ll);
    /* the first 300 images: patch the counts in both heads */
    size_t n = 300, ilen = 16 + n * IMG, llen = 8 + n;
    img[4] = lab[4] = 0;
    img[5] = lab[5] = 0;
    img[6] = lab[6] = (unsigned char)(n >> 8);
    img[7] = lab[7] = (unsigned char)(n & 0xff);
    size_t gil, gll;
    unsigned char *gi = gzip_bytes(img, ilen, &gil), *gl = gzip_bytes(lab, llen, &gll);
    assert_non_null(gi);
    assert_non_null(gl);
    http_result r;
    assert_int_equal(http_do(&D, "PUT", "/datasets/gz300/files/train-images-idx3-ubyte.gz",
                             "application/octet-stream", gi, gil, NULL, 0, &r),
                     0);
    assert_int_equal(r.status, 201);
    http_result_free(&r);
    assert_int_equal(http_do(&D, "PUT", "/datasets/gz300/files/train-labels-idx1-ubyte.gz",
                             "application/octet-stream", gl, gll, NULL, 0, &r),
                     0);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"complete\":true"));
    http_result_free(&r);
    cJSON *j = get_samples("/datasets/gz300/samples?n=7", 200);
    check_against_idx(j, "gz300", "train", 7, n, img, lab);
    cJSON_Delete(j);
    /* no test files: no test split */
    cJSON_Delete(get_samples("/datasets/gz300/samples?split=test", 404));
    free(gi);
    free(gl);
    free(img);
    free(lab);
}

/* A CSV data set: values as written (the trainer does not scale CSV), its
 * one split "train"; fewer rows than n gives every row. */
static void test_csv(void **state) {
    (void)state;
    const char *csv = "label,a,b,c,d\n2,0,0.25,0.5,1\n0,1,1,0,0\n1,0.125,0,0,0.75\n";
    http_result r;
    assert_int_equal(
        http_do(&D, "POST", "/datasets?name=tiny4", "text/csv", csv, strlen(csv), NULL, 0, &r), 0);
    assert_int_equal(r.status, 201);
    http_result_free(&r);
    cJSON *j = get_samples("/datasets/tiny4/samples?n=8", 200);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "samples");
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    const int labels[3] = {2, 0, 1};
    const double px[3][4] = {{0, 0.25, 0.5, 1}, {1, 1, 0, 0}, {0.125, 0, 0, 0.75}};
    int k = 0;
    for (cJSON *s = arr->child; s; s = s->next, k++) {
        assert_int_equal((int)json_num(s, "index"), k);
        assert_int_equal((int)json_num(s, "label"), labels[k]);
        cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "pixels");
        assert_int_equal(cJSON_GetArraySize(p), 4);
        for (int i = 0; i < 4; i++)
            assert_true(fabs(cJSON_GetArrayItem(p, i)->valuedouble - px[k][i]) < 1e-7);
    }
    cJSON_Delete(j);
    cJSON_Delete(get_samples("/datasets/tiny4/samples?split=test", 404));
}

static void test_refusals(void **state) {
    (void)state;
    const char *bad_query[] = {"n=0", "n=65", "n=abc", "n=8x", "split=validation", "split="};
    for (size_t i = 0; i < sizeof bad_query / sizeof bad_query[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/datasets/mnist-digits/samples?%s", bad_query[i]);
        cJSON *j = get_samples(path, 422);
        assert_int_equal((int)json_num(j, "status"), 422);
        cJSON_Delete(j);
    }
    cJSON_Delete(get_samples("/datasets/no-such-set/samples", 404));
    cJSON_Delete(get_samples("/datasets/%2E%2E/samples", 404));
    http_result r;
    assert_int_equal(
        http_do(&D, "POST", "/datasets/mnist-digits/samples", NULL, NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    http_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_train_and_test_splits),
        cmocka_unit_test(test_gzip_idx),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
