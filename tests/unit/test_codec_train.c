/* test_codec_train.c - decoding the POST /train body: defaults, every
 * member, every refusal (status and JSON pointer), names and combinations.
 * Malformed bodies, round trips and encoding: test_codec_train_bodies.c. */
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

static void test_defaults_are_the_reference_recipe(void **state) {
    (void)state;
    api_train_request d;
    api_train_request_default(&d);
    assert_string_equal(d.dataset, "mnist-digits");
    assert_int_equal(d.recipe.n_hidden, 2);
    assert_int_equal(d.recipe.hidden[0], 512);
    assert_int_equal(d.recipe.hidden[1], 256);
    assert_int_equal(d.recipe.activation, MLP_ACT_RELU);
    assert_int_equal(d.recipe.output_activation, MLP_ACT_SOFTMAX);
    assert_int_equal(d.recipe.loss, MLP_LOSS_CROSS_ENTROPY);
    assert_int_equal(d.recipe.init, MLP_INIT_GLOROT_UNIFORM);
    assert_int_equal(d.recipe.train.optimizer, MLP_OPT_SGD);
    assert_true(d.recipe.train.lr == 0.01f);
    assert_int_equal(d.recipe.train.batch_size, 128);
    assert_int_equal(d.recipe.train.epochs, 10);
    assert_int_equal(d.recipe.train.shuffle, 1);
    assert_true(d.recipe.train.validation_split == 0.0f);
    assert_int_equal(d.recipe.train.patience, 0);
    assert_int_equal(d.recipe.train.restore_best, 1);
    assert_null(d.recipe.train.on_batch);
    assert_null(d.recipe.train.on_epoch);
    assert_true(d.warm_start_model == 0);

    /* "{}", an empty body and whitespace all mean the defaults. */
    const char *bodies[] = {"{}", "", " \n\t ", "  { }  \r\n"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        api_train_request r;
        api_problem p;
        assert_int_equal(decode(bodies[i], &r, &p), 0);
        assert_same_request(&r, &d);
    }
}

static void test_every_member(void **state) {
    (void)state;
    const char *json =
        "{\"dataset\":\"fashion-mnist\",\"hidden\":[300,100.0,7],\"activation\":\"tanh\","
        "\"output_activation\":\"linear\",\"loss\":\"mse\",\"init\":\"he_normal\","
        "\"optimizer\":\"momentum\",\"learning_rate\":0.125,\"momentum\":0.5,\"nesterov\":true,"
        "\"beta1\":0.8,\"beta2\":0.99,\"epsilon\":1e-8,\"batch_size\":64,\"epochs\":3,"
        "\"validation_split\":0.25,\"l1\":0.001,\"l2\":0.5,\"dropout\":0.2,\"shuffle\":false,"
        "\"seed\":9007199254740991,\"early_stopping\":{\"patience\":4,\"min_delta\":0.01,"
        "\"restore_best_weights\":false},\"warm_start_model\":17}";
    api_train_request r;
    api_problem p;
    assert_int_equal(decode(json, &r, &p), 0);
    assert_string_equal(r.dataset, "fashion-mnist");
    assert_int_equal(r.recipe.n_hidden, 3);
    assert_int_equal(r.recipe.hidden[0], 300);
    assert_int_equal(r.recipe.hidden[1], 100);
    assert_int_equal(r.recipe.hidden[2], 7);
    assert_int_equal(r.recipe.activation, MLP_ACT_TANH);
    assert_int_equal(r.recipe.output_activation, MLP_ACT_LINEAR);
    assert_int_equal(r.recipe.loss, MLP_LOSS_MSE);
    assert_int_equal(r.recipe.init, MLP_INIT_HE_NORMAL);
    assert_int_equal(r.recipe.train.optimizer, MLP_OPT_MOMENTUM);
    assert_true(r.recipe.train.lr == 0.125f);
    assert_true(r.recipe.train.momentum == 0.5f);
    assert_int_equal(r.recipe.train.nesterov, 1);
    assert_true(r.recipe.train.beta1 == 0.8f);
    assert_true(r.recipe.train.beta2 == 0.99f);
    assert_true(r.recipe.train.epsilon == 1e-8f);
    assert_int_equal(r.recipe.train.batch_size, 64);
    assert_int_equal(r.recipe.train.epochs, 3);
    assert_true(r.recipe.train.validation_split == 0.25f);
    assert_true(r.recipe.train.l1 == 0.001f);
    assert_true(r.recipe.train.l2 == 0.5f);
    assert_true(r.recipe.train.dropout == 0.2f);
    assert_int_equal(r.recipe.train.shuffle, 0);
    assert_true(r.recipe.train.seed == 9007199254740991ull);
    assert_int_equal(r.recipe.train.patience, 4);
    assert_true(r.recipe.train.min_delta == 0.01f);
    assert_int_equal(r.recipe.train.restore_best, 0);
    assert_true(r.warm_start_model == 17);
}

static void test_output_follows_loss(void **state) {
    (void)state;
    api_train_request r;
    api_problem p;
    assert_int_equal(decode("{\"loss\":\"mse\"}", &r, &p), 0);
    assert_int_equal(r.recipe.output_activation, MLP_ACT_LINEAR);
    assert_int_equal(decode("{\"loss\":\"mse\",\"output_activation\":null}", &r, &p), 0);
    assert_int_equal(r.recipe.output_activation, MLP_ACT_LINEAR);
    assert_int_equal(decode("{\"loss\":\"mse\",\"output_activation\":\"sigmoid\"}", &r, &p), 0);
    assert_int_equal(r.recipe.output_activation, MLP_ACT_SIGMOID);
    assert_int_equal(decode("{\"output_activation\":\"softmax\"}", &r, &p), 0);
    assert_int_equal(r.recipe.output_activation, MLP_ACT_SOFTMAX);
    assert_int_equal(decode("{\"hidden\":[]}", &r, &p), 0);
    assert_int_equal(r.recipe.n_hidden, 0);
    assert_int_equal(decode("{\"warm_start_model\":null}", &r, &p), 0);
    assert_true(r.warm_start_model == 0);
}

static void test_unknown_and_duplicate_members(void **state) {
    (void)state;
    assert_refused("{\"lr\":0.1}", 422, "/lr");
    assert_refused("{\"epochs\":2,\"Epochs\":3}", 422, "/Epochs");
    assert_refused("{\"a/b~c\":1}", 422, "/a~1b~0c");
    assert_refused("{\"\":1}", 422, "/");
    assert_refused("{\"early_stopping\":{\"patience\":1,\"metric\":\"val_loss\"}}", 422,
                   "/early_stopping/metric");
    assert_refused("{\"epochs\":2,\"epochs\":3}", 422, "/epochs");
    assert_refused("{\"early_stopping\":{\"patience\":1,\"patience\":2}}", 422,
                   "/early_stopping/patience");
    /* The unknown name is quoted in the detail. */
    api_train_request r;
    api_problem p;
    decode("{\"colour\":1}", &r, &p);
    assert_non_null(strstr(p.detail, "\"colour\""));
}

/* Every refused member is listed, in body order; the first is also the
 * problem's own detail and pointer. One alone gives no list. */
static void test_every_refusal_is_listed(void **state) {
    (void)state;
    api_train_request r;
    api_problem p;
    assert_int_equal(decode("{\"epochs\":-1,\"learning_rate\":0,\"colour\":1,"
                            "\"early_stopping\":{\"patience\":-2},\"batch_size\":64}",
                            &r, &p),
                     -1);
    assert_int_equal(p.status, 422);
    assert_int_equal(p.n_errors, 4);
    static const char *const want[] = {"/epochs", "/learning_rate", "/colour",
                                       "/early_stopping/patience"};
    for (int i = 0; i < 4; i++) assert_string_equal(p.errors[i].pointer, want[i]);
    assert_string_equal(p.pointer, "/epochs");
    assert_string_equal(p.detail, p.errors[0].detail);
    assert_non_null(strstr(p.errors[1].detail, "learning_rate"));
    char *json = api_problem_to_json(&p);
    cJSON *o = cJSON_Parse(json);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "errors")), 4);
    cJSON_Delete(o);
    free(json);
    assert_int_equal(decode("{\"epochs\":-1}", &r, &p), -1);
    assert_int_equal(p.n_errors, 1);
    json = api_problem_to_json(&p);
    assert_null(strstr(json, "errors"));
    free(json);
}

static void test_wrong_types(void **state) {
    (void)state;
    static const struct {
        const char *json, *pointer;
    } cases[] = {
        {"{\"dataset\":7}", "/dataset"},
        {"{\"dataset\":null}", "/dataset"},
        {"{\"hidden\":512}", "/hidden"},
        {"{\"hidden\":{\"0\":512}}", "/hidden"},
        {"{\"hidden\":[512,\"256\"]}", "/hidden/1"},
        {"{\"hidden\":[[1]]}", "/hidden/0"},
        {"{\"hidden\":[true]}", "/hidden/0"},
        {"{\"activation\":1}", "/activation"},
        {"{\"output_activation\":false}", "/output_activation"},
        {"{\"loss\":[\"mse\"]}", "/loss"},
        {"{\"init\":null}", "/init"},
        {"{\"optimizer\":{}}", "/optimizer"},
        {"{\"learning_rate\":\"0.1\"}", "/learning_rate"},
        {"{\"momentum\":null}", "/momentum"},
        {"{\"nesterov\":1}", "/nesterov"},
        {"{\"nesterov\":\"true\"}", "/nesterov"},
        {"{\"beta1\":true}", "/beta1"},
        {"{\"beta2\":[0.9]}", "/beta2"},
        {"{\"epsilon\":\"1e-7\"}", "/epsilon"},
        {"{\"batch_size\":\"128\"}", "/batch_size"},
        {"{\"epochs\":true}", "/epochs"},
        {"{\"validation_split\":\"0.1\"}", "/validation_split"},
        {"{\"l1\":null}", "/l1"},
        {"{\"l2\":{}}", "/l2"},
        {"{\"dropout\":\"0\"}", "/dropout"},
        {"{\"shuffle\":0}", "/shuffle"},
        {"{\"seed\":\"42\"}", "/seed"},
        {"{\"early_stopping\":3}", "/early_stopping"},
        {"{\"early_stopping\":null}", "/early_stopping"},
        {"{\"early_stopping\":{\"patience\":\"2\"}}", "/early_stopping/patience"},
        {"{\"early_stopping\":{\"min_delta\":false}}", "/early_stopping/min_delta"},
        {"{\"early_stopping\":{\"restore_best_weights\":1}}",
         "/early_stopping/restore_best_weights"},
        {"{\"warm_start_model\":\"3\"}", "/warm_start_model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_refused(cases[i].json, 422, cases[i].pointer);
}

static void test_ranges(void **state) {
    (void)state;
    static const struct {
        const char *member;
        const char *ok_lo, *ok_hi, *bad_lo, *bad_hi;
    } cases[] = {
        {"learning_rate", "1e-30", "10", "0", "10.001"},
        {"momentum", "0", "0.99", "-0.01", "1"},
        {"beta1", "0", "0.999", "-1e-9", "1"},
        {"beta2", "0", "0.9999", "-0.5", "1.5"},
        {"epsilon", "1e-30", "1", "0", "1.01"},
        {"batch_size", "1", "65536", "0", "65537"},
        {"epochs", "1", "10000", "0", "10001"},
        {"validation_split", "0", "0.9", "-0.1", "0.91"},
        {"l1", "0", "10", "-1e-6", "11"},
        {"l2", "0", "10", "-1", "10.5"},
        {"dropout", "0", "0.5", "-0.1", "1"},
        {"seed", "0", "9007199254740991", "-1", "9007199254740993"},
        {"warm_start_model", "1", "9007199254740991", "0", "9007199254740992"},
    };
    char json[160], ptr[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        api_train_request r;
        api_problem p;
        snprintf(ptr, sizeof ptr, "/%s", cases[i].member);
        const char *ok[] = {cases[i].ok_lo, cases[i].ok_hi};
        for (int k = 0; k < 2; k++) {
            snprintf(json, sizeof json, "{\"%s\":%s}", cases[i].member, ok[k]);
            if (decode(json, &r, &p)) fail_msg("%s refused: %s", json, p.detail);
        }
        const char *bad[] = {cases[i].bad_lo, cases[i].bad_hi, "1e999", "-1e999"};
        for (int k = 0; k < 4; k++) {
            snprintf(json, sizeof json, "{\"%s\":%s}", cases[i].member, bad[k]);
            assert_refused(json, 422, ptr);
        }
    }
    /* Whole numbers only where an integer is meant. */
    assert_refused("{\"batch_size\":12.5}", 422, "/batch_size");
    assert_refused("{\"seed\":0.5}", 422, "/seed");
    api_train_request r;
    api_problem p;
    assert_int_equal(decode("{\"batch_size\":1.28e2}", &r, &p), 0);
    assert_int_equal(r.recipe.train.batch_size, 128);
    /* Open bounds hold for the stored float: these round to 0 and to 1. */
    assert_refused("{\"learning_rate\":1e-50}", 422, "/learning_rate");
    assert_refused("{\"momentum\":0.99999999999}", 422, "/momentum");
    assert_refused("{\"dropout\":0.999999999}", 422, "/dropout");
    /* early_stopping members. */
    assert_refused("{\"early_stopping\":{\"patience\":-1}}", 422, "/early_stopping/patience");
    assert_refused("{\"early_stopping\":{\"patience\":10001}}", 422, "/early_stopping/patience");
    assert_refused("{\"early_stopping\":{\"min_delta\":-0.1}}", 422, "/early_stopping/min_delta");
    assert_refused("{\"early_stopping\":{\"min_delta\":1e300}}", 422, "/early_stopping/min_delta");
    assert_int_equal(decode("{\"early_stopping\":{\"patience\":10000,\"min_delta\":0}}", &r, &p),
                     0);
    assert_int_equal(r.recipe.train.patience, 10000);
}

static void test_hidden_layers(void **state) {
    (void)state;
    api_train_request r;
    api_problem p;
    assert_refused("{\"hidden\":[0]}", 422, "/hidden/0");
    assert_refused("{\"hidden\":[10,4097]}", 422, "/hidden/1");
    assert_refused("{\"hidden\":[10,-3]}", 422, "/hidden/1");
    assert_refused("{\"hidden\":[10,1.5]}", 422, "/hidden/1");
    assert_refused("{\"hidden\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}", 422, "/hidden");
    assert_int_equal(decode("{\"hidden\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,4096]}", &r, &p), 0);
    assert_int_equal(r.recipe.n_hidden, MLP_MAX_LAYERS - 1);
    assert_int_equal(r.recipe.hidden[14], 4096);
}

static void test_names(void **state) {
    (void)state;
    assert_refused("{\"activation\":\"softmax\"}", 422, "/activation");
    assert_refused("{\"activation\":\"RELU\"}", 422, "/activation");
    assert_refused("{\"output_activation\":\"relu\"}", 422, "/output_activation");
    assert_refused("{\"loss\":\"hinge\"}", 422, "/loss");
    assert_refused("{\"init\":\"zeros\"}", 422, "/init");
    assert_refused("{\"optimizer\":\"rmsprop\"}", 422, "/optimizer");
    /* The detail lists what is allowed. */
    api_train_request r;
    api_problem p;
    decode("{\"optimizer\":\"rmsprop\"}", &r, &p);
    assert_non_null(strstr(p.detail, "sgd, momentum, adam"));
    const char *good[] = {"a", "mnist-digits", "Fashion_MNIST.v2", "0",
                          "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"};
    char json[128];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(json, sizeof json, "{\"dataset\":\"%s\"}", good[i]);
        assert_int_equal(decode(json, &r, &p), 0);
        assert_string_equal(r.dataset, good[i]);
    }
    const char *bad[] = {"",
                         ".",
                         "..",
                         ".hidden",
                         "a/b",
                         "a b",
                         "caf\xc3\xa9",
                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"dataset\":\"%s\"}", bad[i]);
        assert_refused(json, 422, "/dataset");
    }
}

static void test_combinations(void **state) {
    (void)state;
    assert_refused("{\"loss\":\"mse\",\"output_activation\":\"softmax\"}", 422,
                   "/output_activation");
    assert_refused("{\"output_activation\":\"sigmoid\"}", 422, "/output_activation");
    assert_refused("{\"output_activation\":\"linear\",\"loss\":\"cross_entropy\"}", 422,
                   "/output_activation");
    assert_refused("{\"nesterov\":true}", 422, "/nesterov");
    assert_refused("{\"optimizer\":\"adam\",\"nesterov\":true}", 422, "/nesterov");
    assert_refused("{\"optimizer\":\"momentum\",\"momentum\":0,\"nesterov\":true}", 422,
                   "/nesterov");
    api_train_request r;
    api_problem p;
    assert_int_equal(decode("{\"optimizer\":\"momentum\",\"nesterov\":true}", &r, &p), 0);
    assert_int_equal(r.recipe.train.nesterov, 1);
    /* issue 16's refusals: zero or negative periods, min_lr above the rate,
     * a warm-up as long as the run, unknown monitors and schedule members,
     * label smoothing without cross-entropy */
    assert_refused("{\"lr_schedule\":{\"type\":\"step\",\"step_epochs\":0}}", 422,
                   "/lr_schedule/step_epochs");
    assert_refused("{\"lr_schedule\":{\"type\":\"step\",\"step_epochs\":-3}}", 422,
                   "/lr_schedule/step_epochs");
    assert_refused("{\"lr_schedule\":{\"type\":\"reduce_on_plateau\",\"patience\":0}}", 422,
                   "/lr_schedule/patience");
    assert_refused("{\"lr_schedule\":{\"type\":\"cosine\",\"warmup_epochs\":-1}}", 422,
                   "/lr_schedule/warmup_epochs");
    assert_refused("{\"epochs\":5,\"lr_schedule\":{\"type\":\"cosine\",\"warmup_epochs\":5}}", 422,
                   "/lr_schedule/warmup_epochs");
    assert_refused("{\"learning_rate\":0.01,\"lr_schedule\":{\"type\":\"cosine\",\"min_lr\":0.02}}",
                   422, "/lr_schedule/min_lr");
    assert_refused("{\"lr_schedule\":{\"type\":\"reduce_on_plateau\",\"min_lr\":0.5}}", 422,
                   "/lr_schedule/min_lr");
    assert_refused("{\"lr_schedule\":{\"type\":\"exponential\",\"gamma\":0}}", 422,
                   "/lr_schedule/gamma");
    assert_refused("{\"lr_schedule\":{\"type\":\"linear\"}}", 422, "/lr_schedule/type");
    assert_refused("{\"lr_schedule\":{\"type\":\"step\",\"period\":3}}", 422,
                   "/lr_schedule/period");
    assert_refused("{\"lr_schedule\":{\"monitor\":\"val_f1\"}}", 422, "/lr_schedule/monitor");
    assert_refused("{\"early_stopping\":{\"monitor\":\"test_accuracy\"}}", 422,
                   "/early_stopping/monitor");
    assert_refused("{\"early_stopping\":{\"mode\":\"up\"}}", 422, "/early_stopping/mode");
    assert_refused("{\"loss\":\"mse\",\"label_smoothing\":0.1}", 422, "/label_smoothing");
    assert_refused("{\"label_smoothing\":1}", 422, "/label_smoothing");
    assert_refused("{\"clip_norm\":-1}", 422, "/clip_norm");
    assert_refused("{\"weight_decay\":-0.1}", 422, "/weight_decay");
    /* augmentation: its members' ranges and names */
    assert_refused("{\"augment\":{\"shift\":-1}}", 422, "/augment/shift");
    assert_refused("{\"augment\":{\"shift\":17}}", 422, "/augment/shift");
    assert_refused("{\"augment\":{\"shift\":1.5}}", 422, "/augment/shift");
    assert_refused("{\"augment\":{\"hflip\":1}}", 422, "/augment/hflip");
    assert_refused("{\"augment\":{\"rotate\":10}}", 422, "/augment/rotate");
    assert_refused("{\"augment\":true}", 422, "/augment");
    assert_int_equal(decode("{\"augment\":{\"hflip\":true,\"shift\":2}}", &r, &p), 0);
    assert_int_equal(r.recipe.train.augment.hflip, 1);
    assert_int_equal(r.recipe.train.augment.shift, 2);
    /* and the same options accepted */
    assert_int_equal(
        decode("{\"optimizer\":\"adamw\",\"weight_decay\":0.05,\"label_smoothing\":0.1,"
               "\"clip_norm\":1.5,\"epochs\":20,\"lr_schedule\":{\"type\":\"cosine\","
               "\"warmup_epochs\":1,\"min_lr\":0.0001},\"validation_split\":0.1,"
               "\"early_stopping\":{\"monitor\":\"val_accuracy\",\"mode\":\"max\",\"patience\":3}}",
               &r, &p),
        0);
    assert_int_equal(r.recipe.train.optimizer, MLP_OPT_ADAMW);
    assert_true(r.recipe.train.weight_decay == 0.05f);
    assert_true(r.recipe.train.label_smoothing == 0.1f);
    assert_true(r.recipe.train.clip_norm == 1.5f);
    assert_int_equal(r.recipe.train.schedule.type, MLP_LR_COSINE);
    assert_int_equal(r.recipe.train.schedule.warmup_epochs, 1);
    assert_true(r.recipe.train.schedule.min_lr == 0.0001f);
    assert_int_equal(r.recipe.train.monitor, MLP_METRIC_VAL_ACCURACY);
    assert_int_equal(r.recipe.train.mode, MLP_MODE_MAX);
    assert_int_equal(decode("{\"lr_schedule\":{\"type\":\"reduce_on_plateau\","
                            "\"monitor\":\"val_accuracy\",\"factor\":0.5,\"patience\":2,"
                            "\"cooldown\":1,\"min_lr\":0.001}}",
                            &r, &p),
                     0);
    assert_int_equal(r.recipe.train.schedule.type, MLP_LR_PLATEAU);
    assert_int_equal(r.recipe.train.schedule.monitor, MLP_METRIC_VAL_ACCURACY);
    assert_true(r.recipe.train.schedule.factor == 0.5f);
    assert_int_equal(r.recipe.train.schedule.cooldown, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_reference_recipe),
        cmocka_unit_test(test_every_member),
        cmocka_unit_test(test_output_follows_loss),
        cmocka_unit_test(test_unknown_and_duplicate_members),
        cmocka_unit_test(test_every_refusal_is_listed),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_hidden_layers),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_combinations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
