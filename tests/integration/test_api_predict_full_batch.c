/* test_api_predict_full_batch.c - with the default settings a full batch of
 * real images fits the inference body limit (--max-predict-body, derived
 * from --max-predict-batch): 256 test digits written as a JavaScript client
 * writes x / 255 (up to 17 significant digits) make a body over 1 MiB, the
 * old fixed limit, and are all predicted; one row more is refused by the
 * batch limit (413 naming it), not by the body size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "expect.h"

#define BATCH 256 /* the default --max-predict-batch */
#define WIDTH 784

static mlpd_daemon D;
static float *digits;

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    int hidden[1] = {16};
    size_t len;
    unsigned char *model = model_file_bytes(hidden, 1, 5, &len);
    if (!model) return -1;
    http_result r;
    int rc = http_do(&D, "POST", "/models", "application/octet-stream", model, len, NULL, 0, &r);
    rc = rc == 0 && r.status == 201 ? 0 : -1;
    http_result_free(&r);
    free(model);
    return rc == 0 ? load_test_digits(&D, BATCH, &digits, NULL) : -1;
}

static int teardown(void **state) {
    (void)state;
    free(digits);
    return daemon_finish(&D);
}

/* {"inputs": rows} with each value as %.17g (0 as "0"); rows may repeat the
 * digits cyclically. malloc'ed, its length in *len. */
static char *body_of(int rows, size_t *len) {
    size_t cap = (size_t)rows * WIDTH * 26 + 64, n = 0;
    char *b = malloc(cap);
    if (!b) return NULL;
    n += (size_t)snprintf(b + n, cap - n, "{\"inputs\":[");
    for (int i = 0; i < rows; i++) {
        const float *x = digits + (size_t)(i % BATCH) * WIDTH;
        b[n++] = i ? ',' : '[';
        if (i) b[n++] = '[';
        for (int k = 0; k < WIDTH; k++) {
            if (x[k] == 0.0f)
                n += (size_t)snprintf(b + n, cap - n, k ? ",0" : "0");
            else
                n += (size_t)snprintf(b + n, cap - n, k ? ",%.17g" : "%.17g", (double)x[k]);
        }
        b[n++] = ']';
    }
    n += (size_t)snprintf(b + n, cap - n, "]}");
    *len = n;
    return b;
}

static void test_full_batch_of_real_rows_fits(void **state) {
    (void)state;
    size_t len;
    char *body = body_of(BATCH, &len);
    assert_non_null(body);
    assert_true(len > (1u << 20)); /* over the old 1 MiB limit */
    http_result r;
    assert_int_equal(http_do(&D, "POST", "/predict", "application/json", body, len, NULL, 0, &r),
                     0);
    if (r.status != 200) fprintf(stderr, "%zu bytes -> %ld %.300s\n", len, r.status, r.body);
    assert_int_equal(r.status, 200);
    cJSON *j = http_result_json(&r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "predictions")), BATCH);
    cJSON_Delete(j);
    http_result_free(&r);
    free(body);
}

static void test_one_row_more_meets_the_batch_limit(void **state) {
    (void)state;
    size_t len;
    char *body = body_of(BATCH + 1, &len);
    assert_non_null(body);
    http_result keep;
    cJSON *p =
        expect_problem(&D, "POST", "/predict", "application/json", body, len, NULL, 413, &keep);
    expect_detail_mentions(p, "256");
    assert_null(strstr(json_str(p, "detail"), "bytes")); /* not the body size */
    cJSON_Delete(p);
    http_result_free(&keep);
    free(body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_batch_of_real_rows_fits),
        cmocka_unit_test(test_one_row_more_meets_the_batch_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
