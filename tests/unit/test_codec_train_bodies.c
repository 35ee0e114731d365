/* test_codec_train_bodies.c - the POST /train body as a whole: malformed
 * and deeply nested bodies, a failure leaves the output alone, NUL refused,
 * encode/decode round trips, the encoded shape, and the recipes the docs
 * show decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "train_request.h"
#include "train_codec_fixture.h"

static void test_malformed_bodies(void **state) {
    (void)state;
    const char *malformed[] = {
        "{",
        "{\"epochs\":}",
        "{epochs:3}",
        "{\"epochs\":3,}",
        "{} x",
        "{}{}",
        "{}]",
        "[",
        "nul",
        "{\"epochs\":3}\n\"x\"",
        "\"unterminated",
        "{\"a\":0x10}",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        assert_refused(malformed[i], 400, NULL);
    /* A body that is JSON but not an object is 422. */
    const char *not_object[] = {"[]", "3", "\"x\"", "null", "true", "[{}]"};
    for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++)
        assert_refused(not_object[i], 422, "");
    /* The length is honoured: bytes past len are not read, and a NUL inside
     * len is garbage after the value. */
    api_train_request r;
    api_problem p;
    const char buf[] = "{\"epochs\":4}XYZ";
    assert_int_equal(api_train_request_decode(buf, 12, &r, &p), 0);
    assert_int_equal(r.recipe.train.epochs, 4);
    assert_int_equal(api_train_request_decode(buf, 13, &r, &p), -1);
    assert_int_equal(p.status, 400);
    const char nul[] = "{}\0";
    assert_int_equal(api_train_request_decode(nul, 3, &r, &p), -1);
    assert_int_equal(p.status, 400);
}

static void test_deep_nesting(void **state) {
    (void)state;
    /* Deeper than cJSON's nesting limit: refused as malformed, not a crash. */
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 16);
    assert_non_null(deep);
    size_t n = 0;
    n += (size_t)sprintf(deep, "{\"hidden\":");
    for (size_t i = 0; i < depth; i++) deep[n++] = '[';
    for (size_t i = 0; i < depth; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    assert_refused(deep, 400, NULL);
    /* Shallow enough to parse: the first level that is wrong is named. */
    n = (size_t)sprintf(deep, "{\"hidden\":");
    for (size_t i = 0; i < 50; i++) deep[n++] = '[';
    for (size_t i = 0; i < 50; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    assert_refused(deep, 422, "/hidden/0");
    free(deep);
    assert_refused("{\"early_stopping\":{\"patience\":{\"x\":{\"y\":[1]}}}}", 422,
                   "/early_stopping/patience");
}

static void test_failure_leaves_output_alone(void **state) {
    (void)state;
    api_train_request r, before;
    api_problem p;
    memset(&r, 0x5A, sizeof r);
    before = r;
    assert_int_equal(decode("{\"epochs\":5,\"bogus\":1}", &r, &p), -1);
    assert_memory_equal(&r, &before, sizeof r);
}

/* decode(encode(x)) == x for x from decode, and encode is a fixed point. */
static void check_round_trip(const char *json) {
    api_train_request a, b;
    api_problem p;
    if (decode(json, &a, &p)) fail_msg("%s: %s", json, p.detail);
    char *e1 = api_train_request_encode(&a);
    assert_non_null(e1);
    if (decode(e1, &b, &p)) fail_msg("re-decoding %s: %s", e1, p.detail);
    assert_same_request(&a, &b);
    char *e2 = api_train_request_encode(&b);
    assert_string_equal(e1, e2);
    free(e1);
    free(e2);
}

static void test_round_trip(void **state) {
    (void)state;
    check_round_trip("{}");
    check_round_trip("{\"hidden\":[]}");
    check_round_trip("{\"loss\":\"mse\",\"output_activation\":\"sigmoid\",\"hidden\":[3,2,1]}");
    check_round_trip("{\"learning_rate\":0.1,\"momentum\":0.3,\"optimizer\":\"momentum\","
                     "\"nesterov\":true,\"beta1\":0.123456789,\"epsilon\":3e-9,"
                     "\"validation_split\":0.2,\"l1\":1e-5,\"dropout\":0.3333333,"
                     "\"seed\":9007199254740991,\"warm_start_model\":123456789012,"
                     "\"early_stopping\":{\"patience\":3,\"min_delta\":1e-4,"
                     "\"restore_best_weights\":false},\"shuffle\":false}");
    /* A default struct encodes to a body that decodes to the same struct. */
    api_train_request d, b;
    api_problem p;
    api_train_request_default(&d);
    char *e = api_train_request_encode(&d);
    assert_int_equal(decode(e, &b, &p), 0);
    assert_same_request(&d, &b);
    free(e);
}

static void test_encode_shape(void **state) {
    (void)state;
    api_train_request d;
    api_train_request_default(&d);
    char *e = api_train_request_encode(&d);
    assert_non_null(e);
    assert_null(strchr(e, ' '));
    assert_null(strchr(e, '\n'));
    cJSON *o = cJSON_Parse(e);
    assert_non_null(o);
    /* Every member, in the documented order. */
    static const char *order[] = {
        "dataset",     "hidden",       "activation",      "output_activation",
        "loss",        "init",         "optimizer",       "learning_rate",
        "momentum",    "nesterov",     "beta1",           "beta2",
        "epsilon",     "weight_decay", "label_smoothing", "clip_norm",
        "lr_schedule", "batch_size",   "epochs",          "validation_split",
        "l1",          "l2",           "dropout",         "augment",
        "shuffle",     "seed",         "early_stopping",  "warm_start_model",
        "model_name",
    };
    size_t i = 0;
    for (cJSON *m = o->child; m; m = m->next, i++) {
        assert_true(i < sizeof order / sizeof order[0]);
        assert_string_equal(m->string, order[i]);
    }
    assert_int_equal(i, sizeof order / sizeof order[0]);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "output_activation")->valuestring,
                        "softmax");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "warm_start_model")));
    /* The default registered name is the dataset's. */
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "model_name")->valuestring,
                        "mnist-digits");
    cJSON *es = cJSON_GetObjectItemCaseSensitive(o, "early_stopping");
    assert_int_equal(cJSON_GetArraySize(es), 5); /* monitor, mode, patience, min_delta, restore */
    cJSON *ls = cJSON_GetObjectItemCaseSensitive(o, "lr_schedule");
    assert_int_equal(cJSON_GetArraySize(ls), 11);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ls, "type")->valuestring, "constant");
    cJSON *aug = cJSON_GetObjectItemCaseSensitive(o, "augment");
    assert_int_equal(cJSON_GetArraySize(aug), 2); /* off: hflip false, shift 0 */
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(aug, "hflip")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(aug, "shift")->valueint, 0);
    cJSON_Delete(o);
    /* Floats are written in their shortest exact form. */
    assert_non_null(strstr(e, "\"learning_rate\":0.01,"));
    assert_non_null(strstr(e, "\"beta2\":0.999,"));
    assert_non_null(strstr(e, "\"hidden\":[512,256]"));
    free(e);
    /* -1 (follow the loss) is written as the activation it stands for. */
    d.recipe.loss = MLP_LOSS_MSE;
    d.recipe.output_activation = -1;
    e = api_train_request_encode(&d);
    assert_non_null(strstr(e, "\"output_activation\":\"linear\""));
    free(e);
}

/* U+0000 anywhere in a string is refused (422): a C string would end there,
 * so "mnist-digits\u0000../../etc" would name mnist-digits. An escaped
 * backslash before "u0000" is no NUL. A raw NUL byte is not JSON (400). */
static void test_nul_refused(void **state) {
    (void)state;
    assert_refused("{\"dataset\":\"mnist-digits\\u0000../../etc\"}", 422, NULL);
    assert_refused("{\"dataset\\u0000x\":\"mnist-digits\"}", 422, NULL);
    assert_refused("{\"hidden\":[8],\"activation\":\"relu\\u0000\"}", 422, NULL);
    api_train_request r;
    api_problem p;
    assert_int_equal(decode("{\"dataset\":\"a\\\\u0000\"}", &r, &p), -1);
    /* "a\\u0000" holds no NUL: refused as a bad data set name, naming the field */
    assert_string_equal(p.pointer, "/dataset");
    assert_null(strstr(p.detail, "U+0000"));
    static const char raw[] = "{\"dataset\":\"mnist\0-digits\"}";
    memset(&p, 0, sizeof p);
    assert_int_equal(api_train_request_decode(raw, sizeof raw - 1, &r, &p), -1);
    assert_int_equal(p.status, 400);
}

/* docs/recipes' bodies can be posted as they are: each decodes, and names
 * what its README says (run from the repository's top folder, as make test does). */
static void test_documented_recipes_decode(void **state) {
    (void)state;
    static const struct {
        const char *file;
        mlp_lr_kind schedule;
        int epochs;
        int hflip;
    } recipes[] = {{"docs/recipes/fashion-mnist-30s.json", MLP_LR_COSINE, 20, 0},
                   {"docs/recipes/fashion-mnist-120s.json", MLP_LR_COSINE, 75, 1},
                   {"docs/recipes/fashion-mnist-45ep.json", MLP_LR_COSINE, 45, 0},
                   {"docs/recipes/parity-cosine.json", MLP_LR_COSINE, 10, 0},
                   {"docs/recipes/parity-step.json", MLP_LR_STEP, 10, 0}};
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++) {
        FILE *f = fopen(recipes[i].file, "rb");
        if (!f) fail_msg("cannot open %s", recipes[i].file);
        char body[4096];
        size_t n = fread(body, 1, sizeof body - 1, f);
        fclose(f);
        body[n] = '\0';
        api_train_request r;
        api_problem p;
        if (decode(body, &r, &p) != 0) fail_msg("%s: %s", recipes[i].file, p.detail);
        assert_string_equal(r.dataset, "fashion-mnist");
        assert_int_equal(r.recipe.train.schedule.type, recipes[i].schedule);
        assert_int_equal(r.recipe.train.epochs, recipes[i].epochs);
        assert_int_equal(r.recipe.train.augment.hflip, recipes[i].hflip);
        assert_int_equal(r.recipe.train.augment.shift, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_recipes_decode),
        cmocka_unit_test(test_nul_refused),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_failure_leaves_output_alone),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
