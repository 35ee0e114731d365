/* test_codec_encode.c - the POST /predict response: api_format_probability
 * against glibc's "%.9g" (edge values and a sweep over float bit patterns)
 * and the PredictResponse text api_encode_predictions writes, parsed back and
 * compared with cJSON's own escaping of the registry name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "encode.h"

static float float_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* v's text: exactly what snprintf("%.9g") gives, and strtof reads back the
 * very same float (so also within 1e-7 relative of it). */
static void check_one(float v) {
    char got[API_PROBABILITY_MAX + 8], want[64];
    memset(got, 'x', sizeof got);
    size_t n = api_format_probability(got, v);
    snprintf(want, sizeof want, "%.9g", (double)v);
    if (n != strlen(got) || strcmp(got, want))
        fail_msg("%a: got '%s' (length %zu), %%.9g gives '%s'", (double)v, got, n, want);
    assert_true(n < API_PROBABILITY_MAX);
    char *end;
    float back = strtof(got, &end);
    assert_true(*end == '\0');
    if (memcmp(&back, &v, sizeof v))
        fail_msg("'%s' reads back as %a, not %a", got, (double)back, (double)v);
    if (v != 0) assert_true(fabs(((double)back - v) / v) <= 1e-7);
}

static void test_edge_values(void **state) {
    (void)state;
    const float values[] = {0.0f,         -0.0f,         1.0f,          -1.0f,     0.5f,
                            0.1234567f,   9.9999999e-5f, 1e-4f,         0.1f,      0.25098f,
                            0.99999994f,  1.00000012f,   1e-30f,        -1e-30f,   FLT_MIN,
                            FLT_TRUE_MIN, 1e-40f,        -1e-42f,       FLT_MAX,   -FLT_MAX,
                            123456.789f,  999999936.0f,  1e9f,          99999.99f, 16777216.0f,
                            0.000123456f, 0.09999999f,   0.0009999999f, 3.0f,      0.3f};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) check_one(values[i]);
    char buf[API_PROBABILITY_MAX];
    assert_int_equal(api_format_probability(buf, 0.0f), 1);
    assert_string_equal(buf, "0");
    api_format_probability(buf, 0.5f);
    assert_string_equal(buf, "0.5");
    api_format_probability(buf, 1.0f);
    assert_string_equal(buf, "1");
    assert_int_equal(api_format_probability(buf, NAN), 4);
    assert_string_equal(buf, "null");
    api_format_probability(buf, INFINITY);
    assert_string_equal(buf, "null");
    api_format_probability(buf, -INFINITY);
    assert_string_equal(buf, "null");
}

/* Every decade, both signs: float bit patterns with a stride coprime to the
 * mantissa, so all digit counts and roundings (ties included) come up. */
static void test_sweep_matches_printf(void **state) {
    (void)state;
    uint32_t lo, hi;
    float from = 1e-6f, to = 2e9f;
    memcpy(&lo, &from, sizeof lo);
    memcpy(&hi, &to, sizeof hi);
    size_t checked = 0;
    for (uint64_t b = lo; b <= hi; b += 4099) {
        float v = float_from_bits((uint32_t)b);
        check_one(v);
        check_one(-v);
        checked += 2;
    }
    /* Probabilities are mostly in [0.001, 1): every 97th float there. */
    from = 1e-3f;
    to = 1.0f;
    memcpy(&lo, &from, sizeof lo);
    memcpy(&hi, &to, sizeof hi);
    for (uint32_t b = lo; b <= hi; b += 97, checked++) check_one(float_from_bits(b));
    assert_true(checked > 1000000);
}

/* The response text of n rows (no registry name), parsed with cJSON: model
 * id, labels, and every probability read back to its float. */
static void check_response(int64_t model, int n, int classes, const float *probs,
                           const int *labels) {
    api_predictions p = {
        .model_id = model, .n = n, .classes = classes, .probs = probs, .labels = labels};
    size_t len = 0;
    char *text = api_encode_predictions(&p, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    cJSON *back = cJSON_Parse(text);
    if (!back) fail_msg("not JSON: %.200s", text);
    assert_int_equal(cJSON_GetArraySize(back), 2); /* model, predictions */
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(back, "model");
    assert_true(cJSON_IsNumber(m));
    assert_true((int64_t)m->valuedouble == model);
    const cJSON *preds = cJSON_GetObjectItemCaseSensitive(back, "predictions");
    assert_int_equal(cJSON_GetArraySize(preds), n);
    for (int i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(preds, i);
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(p, "label");
        assert_true(cJSON_IsNumber(label));
        assert_int_equal(label->valueint, labels[i]);
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(p, "probabilities");
        assert_int_equal(cJSON_GetArraySize(pr), classes);
        for (int k = 0; k < classes; k++) {
            const cJSON *v = cJSON_GetArrayItem(pr, k);
            float want = probs[(size_t)i * classes + k];
            if (!isfinite(want)) {
                assert_true(cJSON_IsNull(v));
                continue;
            }
            assert_true(cJSON_IsNumber(v));
            float got = (float)v->valuedouble;
            if (memcmp(&got, &want, sizeof got))
                fail_msg("row %d class %d: %a printed as %a", i, k, (double)want, (double)got);
        }
    }
    cJSON_Delete(back);
    free(text);
}

/* The text of a one-row answer (the caller frees). */
static char *encode_one(const api_predictions *p) {
    size_t len = 0;
    char *text = api_encode_predictions(p, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    return text;
}

static void test_predictions_response(void **state) {
    (void)state;
    const float one[10] = {0.1522908f,  0.07961178f, 0.1160405f,  0.09210774f, 0.08219205f,
                           0.07671769f, 0.1022049f,  0.08759088f, 0.1122022f,  0.09904142f};
    const int label0 = 0;
    check_response(1, 1, 10, one, &label0);
    /* Edge values in a batch, a big id, a label that is not 0. */
    const float three[3 * 4] = {0.0f,   1.0f,   1e-30f, FLT_TRUE_MIN, 0.5f,          0.25f,
                                0.125f, 0.125f, NAN,    0.3f,         9.9999999e-5f, 0.7f};
    const int labels3[3] = {1, 0, 3};
    check_response(INT64_C(9007199254740991), 3, 4, three, labels3);
    /* Many classes and rows: the worst-case sizing of the one buffer. */
    enum { WIDE = 300, ROWS = 256 };
    float *wide = malloc((size_t)ROWS * WIDE * sizeof *wide);
    int *labels_wide = malloc(ROWS * sizeof *labels_wide);
    assert_non_null(wide);
    assert_non_null(labels_wide);
    for (int k = 0; k < ROWS * WIDE; k++) wide[k] = -1.0f / (float)(k + 3) * 1.2345678e-7f;
    for (int i = 0; i < ROWS; i++) labels_wide[i] = i % 3 ? WIDE - 1 : -1234567;
    check_response(-42, ROWS, WIDE, wide, labels_wide);
    free(wide);
    free(labels_wide);
    /* The exact text of a small one. */
    const float two[2] = {0.5f, 0.25f};
    const int label1 = 1;
    api_predictions p = {.model_id = 3, .n = 1, .classes = 2, .probs = two, .labels = &label1};
    char *text = encode_one(&p);
    assert_string_equal(
        text, "{\"model\":3,\"predictions\":[{\"label\":1,\"probabilities\":[0.5,0.25]}]}");
    free(text);
    /* With class names, each row names its label's class. */
    char *names[] = {"T-shirt/top", "Trouser", NULL};
    p.class_names = names;
    text = encode_one(&p);
    assert_string_equal(text, "{\"model\":3,\"predictions\":[{\"label\":1,\"class_name\":"
                              "\"Trouser\",\"probabilities\":[0.5,0.25]}]}");
    free(text);
    /* The registry name and version that answered, and a canary's mark. */
    p.class_names = NULL;
    p.model_name = "digits";
    p.model_version = 12;
    p.canary = 1;
    text = encode_one(&p);
    assert_string_equal(text, "{\"model\":3,\"predictions\":[{\"label\":1,\"probabilities\":"
                              "[0.5,0.25]}],\"model_name\":\"digits\",\"model_version\":12,"
                              "\"canary\":true}");
    free(text);
    /* An empty name is no name. */
    p.model_name = "";
    p.canary = 0;
    text = encode_one(&p);
    assert_string_equal(
        text, "{\"model\":3,\"predictions\":[{\"label\":1,\"probabilities\":[0.5,0.25]}]}");
    free(text);
}

/* A name with every byte JSON must escape (and some it must not) is written
 * as cJSON writes the same string, and reads back as itself. */
static void test_predictions_name_escaped(void **state) {
    (void)state;
    char name[160];
    size_t k = 0;
    for (int c = 1; c < 0x20; c++) name[k++] = (char)c;
    const char *rest = "\"quote\\back/slash\x7f caf\xc3\xa9";
    memcpy(name + k, rest, strlen(rest) + 1);
    const float two[2] = {0.5f, 0.25f};
    const int label1 = 1;
    api_predictions p = {.model_id = 3,
                         .n = 1,
                         .classes = 2,
                         .probs = two,
                         .labels = &label1,
                         .model_name = name,
                         .model_version = 2};
    char *text = encode_one(&p);
    cJSON *want_str = cJSON_CreateString(name);
    char *want = cJSON_PrintUnformatted(want_str);
    const char *at = strstr(text, "\"model_name\":");
    assert_non_null(at);
    at += strlen("\"model_name\":");
    assert_memory_equal(at, want, strlen(want));
    assert_string_equal(at + strlen(want), ",\"model_version\":2}");
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(back, "model_name")->valuestring, name);
    cJSON_Delete(back);
    cJSON_free(want);
    cJSON_Delete(want_str);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_values),
        cmocka_unit_test(test_sweep_matches_printf),
        cmocka_unit_test(test_predictions_response),
        cmocka_unit_test(test_predictions_name_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
