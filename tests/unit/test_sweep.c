/* test_sweep.c - sweeps without a daemon: the POST /sweeps decoder's
 * refusals (status and pointer), its defaults and round trip, the grid's
 * enumeration, the random sampler (ranges, integers, log scale, the same
 * children for the same seed), and the median stopping rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_request.h"
#include "sweep_rule.h"

#define VAL "\"base\": {\"validation_split\": 0.2}, "

static int decode(const char *json, api_sweep_request *r, api_problem *p) {
    memset(p, 0, sizeof *p);
    return api_sweep_request_decode(json, strlen(json), r, p);
}

/* The body is refused with status and pointer (detail containing `word`). */
static void refused(const char *json, int status, const char *pointer, const char *word) {
    api_sweep_request r;
    api_problem p;
    if (decode(json, &r, &p) == 0) {
        api_sweep_request_free(&r);
        fail_msg("accepted: %s", json);
    }
    if (p.status != status || strcmp(p.pointer, pointer) || (word && !strstr(p.detail, word)))
        fail_msg("%s\n  got %d %s: %s\n  want %d %s (%s)", json, p.status, p.pointer, p.detail,
                 status, pointer, word ? word : "");
}

static void test_bad_input(void **state) {
    (void)state;
    refused("[1]", 422, "", "object");
    refused("{", 400, "", NULL);
    refused("{}", 422, "/space", "required");
    refused("{\"space\": {}}", 422, "/space", "empty");
    refused("{\"space\": 3}", 422, "/space", "object");
    refused("{\"space\": {\"nope\": [1]}}", 422, "/space/nope", "unknown field");
    refused("{\"space\": {\"dataset\": [\"a\"]}}", 422, "/space/dataset", "unknown field");
    refused("{\"space\": {\"learning_rate\": []}}", 422, "/space/learning_rate", "no values");
    refused("{" VAL "\"space\": {\"learning_rate\": {\"type\": \"uniform\", \"low\": 0.5, "
            "\"high\": 0.1}}}",
            422, "/space/learning_rate/low", "above high");
    refused("{" VAL "\"space\": {\"learning_rate\": {\"type\": \"log_uniform\", \"low\": 0, "
            "\"high\": 0.1}}}",
            422, "/space/learning_rate/low", "low > 0");
    refused("{" VAL "\"space\": {\"l2\": {\"type\": \"log_uniform\", \"low\": -1, \"high\": 1}}}",
            422, "/space/l2/low", "low > 0");
    refused("{" VAL "\"space\": {\"learning_rate\": {\"type\": \"uniform\", \"low\": 0.1}}}", 422,
            "/space/learning_rate/high", "number");
    refused("{" VAL "\"space\": {\"learning_rate\": {\"type\": \"normal\"}}}", 422,
            "/space/learning_rate/type", "uniform");
    refused("{" VAL "\"space\": {\"hidden\": {\"type\": \"uniform\", \"low\": 1, \"high\": 4}}}",
            422, "/space/hidden/type", "not a number");
    refused("{" VAL "\"space\": {\"dropout\": {\"type\": \"uniform\", \"low\": 0, \"high\": 1}}}",
            422, "/space/dropout/high", NULL);
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1, 20]}}", 422, "/space/learning_rate/1",
            NULL);
    refused("{" VAL "\"space\": {\"optimizer\": {\"type\": \"choice\", \"values\": [\"sgd\", "
            "\"rmsprop\"]}}}",
            422, "/space/optimizer/values/1", "one of");
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"metric\": \"f1\"}", 422, "/metric",
            "val_accuracy");
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"mode\": \"up\"}", 422, "/mode", NULL);
    refused("{\"space\": {\"learning_rate\": [0.1]}}", 422, "/base/validation_split",
            "validation split");
    refused("{\"space\": {\"validation_split\": [0.2, 0]}}", 422, "/space/validation_split",
            "validation split");
    refused("{\"base\": {\"epochs\": -1}, \"space\": {\"learning_rate\": [0.1]}}", 422,
            "/base/epochs", NULL);
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"max_runs\": 0}", 422, "/max_runs",
            NULL);
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"parallel\": 65}", 422, "/parallel",
            NULL);
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"budget_seconds\": -5}", 422,
            "/budget_seconds", NULL);
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"pruning\": {\"rule\": \"asha\"}}",
            422, "/pruning/rule", NULL);
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"bogus\": 1}", 422, "/bogus",
            "unknown field");
    /* a member twice inside the nested objects too (cJSON keeps both; the
     * first silently won) */
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"pruning\": {\"rule\": \"none\", "
            "\"rule\": \"median\"}}",
            422, "/pruning/rule", "twice");
    refused("{" VAL "\"space\": {\"learning_rate\": {\"type\": \"uniform\", \"low\": 0.1, "
            "\"low\": 0.2, \"high\": 0.3}}}",
            422, "/space/learning_rate/low", "twice");
    refused("{" VAL "\"space\": {\"learning_rate\": {\"type\": \"uniform\", \"type\": "
            "\"log_uniform\", \"low\": 0.1, \"high\": 0.3}}}",
            422, "/space/learning_rate/type", "twice");
    refused("{" VAL "\"space\": {\"activation\": {\"type\": \"choice\", \"values\": "
            "[\"relu\"], \"values\": [\"tanh\"]}}}",
            422, "/space/activation/values", "twice");
    refused("{" VAL "\"space\": {\"learning_rate\": [0.1]}, \"pruning\": {\"rules\": "
            "\"none\"}}",
            422, "/pruning/rules", "unknown field");
    refused("{" VAL "\"space\": {\"learning_rate\": {\"type\": \"uniform\", \"low\": 0.01, "
            "\"high\": 0.1}}, \"method\": \"grid\"}",
            422, "/space/learning_rate", "grid");
    /* a cross-member rule broken by some child: min_lr above the drawn rate */
    refused("{\"base\": {\"validation_split\": 0.2, \"learning_rate\": 0.1, \"lr_schedule\": "
            "{\"type\": "
            "\"cosine\", \"min_lr\": 0.05}}, \"space\": {\"learning_rate\": [0.1, 0.01]}}",
            422, "/space/learning_rate/1", "min_lr");
    /* ... and by a random draw: the member the engine names, and the child */
    refused("{\"base\": {\"validation_split\": 0.2, \"learning_rate\": 0.1, \"lr_schedule\": "
            "{\"type\": "
            "\"cosine\", \"min_lr\": 0.05}}, \"space\": {\"learning_rate\": {\"type\": "
            "\"uniform\", \"low\": 0.01, \"high\": 0.1}}, \"max_runs\": 50}",
            422, "/base/lr_schedule/min_lr", "child 0 {\"learning_rate\"");
}

/* 10^6 grid points are refused without being enumerated; 1000 are fine. */
static void test_grid_cap(void **state) {
    (void)state;
    char body[2048] = "{" VAL "\"space\": {";
    static const char *const keys[] = {"learning_rate", "l1", "l2", "momentum", "beta1", "beta2"};
    for (int k = 0; k < 6; k++) {
        size_t n = strlen(body);
        n += (size_t)snprintf(body + n, sizeof body - n, "%s\"%s\": [", k ? ", " : "", keys[k]);
        for (int v = 0; v < 10; v++)
            n += (size_t)snprintf(body + n, sizeof body - n, "%s0.0%d", v ? ", " : "", v + 1);
        snprintf(body + n, sizeof body - n, "]");
    }
    strcat(body, "}}");
    refused(body, 422, "/space", "1000000 points");
    api_sweep_request r;
    api_problem p;
    const char *ok =
        "{" VAL "\"space\": {\"learning_rate\": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, "
        "0.07, 0.08, 0.09, 0.1], \"l2\": [0, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, "
        "0.007, 0.008, 0.009], \"l1\": [0, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, "
        "0.007, 0.008, 0.009]}}";
    assert_int_equal(decode(ok, &r, &p), 0);
    assert_int_equal(r.method, API_SWEEP_GRID);
    assert_int_equal(r.grid_points, 1000);
    assert_int_equal(r.max_runs, 1000);
    api_sweep_request_free(&r);
}

/* Defaults, the encoded form, and decode(encode(x)) == x. */
static void test_defaults_and_round_trip(void **state) {
    (void)state;
    api_sweep_request r, back;
    api_problem p;
    const char *body = "{\"base\": {\"validation_split\": 0.1, \"epochs\": 2}, \"space\": "
                       "{\"learning_rate\": {\"type\": \"log_uniform\", \"low\": 0.001, \"high\": "
                       "0.1}, \"hidden\": [[64], [128, 64]]}, \"seed\": 7}";
    assert_int_equal(decode(body, &r, &p), 0);
    assert_int_equal(r.method, API_SWEEP_RANDOM);
    assert_int_equal(r.max_runs, 10);
    assert_int_equal(r.parallel, 1);
    assert_int_equal(r.metric, MLP_METRIC_VAL_ACCURACY);
    assert_int_equal(r.mode, MLP_MODE_MAX);
    assert_int_equal(r.prune_median, 1);
    assert_string_equal(r.base.model_name, "mnist-digits-sweep");
    char *text = api_sweep_request_encode(&r);
    assert_non_null(text);
    assert_int_equal(api_sweep_request_decode(text, strlen(text), &back, &p), 0);
    char *again = api_sweep_request_encode(&back);
    assert_string_equal(text, again);
    for (int i = 0; i < r.max_runs; i++) {
        api_train_request a, b;
        cJSON *sa, *sb;
        assert_int_equal(api_sweep_child(&r, i, &a, &sa, &p), 0);
        assert_int_equal(api_sweep_child(&back, i, &b, &sb, &p), 0);
        char *x = cJSON_PrintUnformatted(sa), *y = cJSON_PrintUnformatted(sb);
        assert_string_equal(x, y);
        free(x);
        free(y);
        cJSON_Delete(sa);
        cJSON_Delete(sb);
    }
    free(text);
    free(again);
    api_sweep_request_free(&r);
    api_sweep_request_free(&back);
    /* a loss metric minimises by default */
    assert_int_equal(
        decode("{" VAL "\"space\": {\"l2\": [0, 0.01]}, \"metric\": \"val_loss\"}", &r, &p), 0);
    assert_int_equal(r.mode, MLP_MODE_MIN);
    assert_int_equal(r.method, API_SWEEP_GRID);
    assert_int_equal(r.max_runs, 2);
    api_sweep_request_free(&r);
}

/* The grid visits every combination once, last member fastest. */
static void test_grid_enumeration(void **state) {
    (void)state;
    api_sweep_request r;
    api_problem p;
    const char *body = "{" VAL "\"space\": {\"batch_size\": [32, 64, 128], \"optimizer\": "
                       "[\"sgd\", \"adam\"]}}";
    assert_int_equal(decode(body, &r, &p), 0);
    assert_int_equal(r.max_runs, 6);
    int seen[3][2] = {{0}};
    for (int i = 0; i < 6; i++) {
        api_train_request c;
        assert_int_equal(api_sweep_child(&r, i, &c, NULL, &p), 0);
        int b = c.recipe.train.batch_size == 32 ? 0 : c.recipe.train.batch_size == 64 ? 1 : 2;
        int o = c.recipe.train.optimizer == MLP_OPT_SGD ? 0 : 1;
        assert_int_equal(b, i / 2);
        assert_int_equal(o, i % 2);
        seen[b][o]++;
        assert_true(c.recipe.train.validation_split > 0.19f); /* the base's other members */
    }
    for (int b = 0; b < 3; b++)
        for (int o = 0; o < 2; o++) assert_int_equal(seen[b][o], 1);
    api_sweep_request_free(&r);
}

/* Random draws stay in range, integers are whole, log_uniform spreads over
 * decades, and the same seed gives the same children. */
static void test_random_sampler(void **state) {
    (void)state;
    api_sweep_request r, r2, r3;
    api_problem p;
    const char *body =
        "{" VAL "\"space\": {\"learning_rate\": {\"type\": \"log_uniform\", \"low\": 0.0001, "
        "\"high\": 1}, \"epochs\": {\"type\": \"uniform\", \"low\": 1, \"high\": 4}, "
        "\"dropout\": {\"type\": \"uniform\", \"low\": 0.1, \"high\": 0.5}, \"activation\": "
        "[\"relu\", \"tanh\"]}, \"max_runs\": 400, \"seed\": 11}";
    assert_int_equal(decode(body, &r, &p), 0);
    assert_int_equal(r.method, API_SWEEP_RANDOM);
    int decades[4] = {0}, epochs[5] = {0}, acts[2] = {0};
    for (int i = 0; i < r.max_runs; i++) {
        api_train_request c;
        assert_int_equal(api_sweep_child(&r, i, &c, NULL, &p), 0);
        double lr = c.recipe.train.lr;
        assert_true(lr >= 0.0001 * 0.999 && lr <= 1.0);
        int d = (int)floor(-log10(lr));
        decades[d > 3 ? 3 : d < 0 ? 0 : d]++;
        assert_true(c.recipe.train.epochs >= 1 && c.recipe.train.epochs <= 4);
        epochs[c.recipe.train.epochs]++;
        assert_true(c.recipe.train.dropout >= 0.1f && c.recipe.train.dropout <= 0.5f);
        acts[c.recipe.activation == MLP_ACT_RELU ? 0 : 1]++;
    }
    for (int d = 0; d < 4; d++) assert_true(decades[d] > 60); /* ~100 each: log scale */
    for (int e = 1; e <= 4; e++) assert_true(epochs[e] > 40);
    assert_true(acts[0] > 150 && acts[1] > 150);
    /* same seed: the same settings; another seed: others */
    assert_int_equal(decode(body, &r2, &p), 0);
    char other[1024];
    snprintf(other, sizeof other, "%.*s12}", (int)(strlen(body) - 3), body);
    assert_int_equal(decode(other, &r3, &p), 0);
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        api_train_request a, b, c;
        assert_int_equal(api_sweep_child(&r, i, &a, NULL, &p), 0);
        assert_int_equal(api_sweep_child(&r2, i, &b, NULL, &p), 0);
        assert_int_equal(api_sweep_child(&r3, i, &c, NULL, &p), 0);
        assert_true(a.recipe.train.lr == b.recipe.train.lr);
        assert_int_equal(a.recipe.train.epochs, b.recipe.train.epochs);
        differ += a.recipe.train.lr != c.recipe.train.lr;
    }
    assert_true(differ > 15);
    /* settings show exactly the value trained with */
    api_train_request c;
    cJSON *settings;
    assert_int_equal(api_sweep_child(&r, 5, &c, &settings, &p), 0);
    char *printed = cJSON_PrintUnformatted(settings); /* drawn numbers are raw JSON text */
    cJSON_Delete(settings);
    settings = cJSON_Parse(printed);
    free(printed);
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(settings, "learning_rate");
    assert_true((float)lr->valuedouble == c.recipe.train.lr);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(settings, "epochs")->valueint,
                     c.recipe.train.epochs);
    cJSON_Delete(settings);
    api_sweep_request_free(&r);
    api_sweep_request_free(&r2);
    api_sweep_request_free(&r3);
}

static void test_median_rule(void **state) {
    (void)state;
    double v[] = {5, 1, 3};
    assert_true(sweep_median(v, 3) == 3);
    double w[] = {4, 1, 3, 2};
    assert_true(sweep_median(w, 4) == 2.5);
    double s[] = {0.5, NAN, 0.7, 0.6};
    assert_true(sweep_best_of(s, 4, MLP_MODE_MAX) == 0.7);
    assert_true(sweep_best_of(s, 4, MLP_MODE_MIN) == 0.5);
    sweep_rule max = {.mode = MLP_MODE_MAX, .grace_epochs = 1, .min_children = 3};
    double peers[] = {0.80, 0.90, 0.85, NAN};
    double series[] = {0.60, 0.70, 0.84};
    double best, median;
    /* epoch 3: best 0.84 < median 0.85 of three peers: stop */
    assert_int_equal(sweep_rule_should_stop(&max, series, 3, peers, 4, &best, &median), 1);
    assert_true(best == 0.84 && median == 0.85);
    /* in the grace period: never */
    assert_int_equal(sweep_rule_should_stop(&max, series, 1, peers, 4, &best, &median), 0);
    /* too few finished peers (NaN does not count): never */
    assert_int_equal(sweep_rule_should_stop(&max, series, 3, peers + 1, 3, &best, &median), 0);
    /* equal to the median is not "worse" */
    double tie[] = {0.60, 0.85};
    assert_int_equal(sweep_rule_should_stop(&max, tie, 2, peers, 3, &best, &median), 0);
    /* a loss: worse means above */
    sweep_rule min = {.mode = MLP_MODE_MIN, .grace_epochs = 0, .min_children = 1};
    double losses[] = {0.9, 0.5};
    double lpeers[] = {0.4};
    assert_int_equal(sweep_rule_should_stop(&min, losses, 2, lpeers, 1, &best, &median), 1);
    assert_true(best == 0.5);
    double good[] = {0.9, 0.3};
    assert_int_equal(sweep_rule_should_stop(&min, good, 2, lpeers, 1, &best, &median), 0);
}

/* docs/recipes' sweep bodies can be posted as they are (run from the
 * repository's top folder, as make test does): each decodes to what its
 * README says. */
static void test_documented_sweeps_decode(void **state) {
    (void)state;
    static const struct {
        const char *file, *dataset;
        int runs, parallel;
    } sweeps[] = {{"docs/recipes/mnist-digits-sweep.json", "mnist-digits", 16, 2},
                  {"docs/recipes/fashion-mnist-sweep.json", "fashion-mnist", 6, 2}};
    for (size_t i = 0; i < sizeof sweeps / sizeof sweeps[0]; i++) {
        FILE *f = fopen(sweeps[i].file, "rb");
        if (!f) fail_msg("cannot open %s", sweeps[i].file);
        char body[4096];
        size_t n = fread(body, 1, sizeof body - 1, f);
        fclose(f);
        body[n] = '\0';
        api_sweep_request r;
        api_problem p;
        if (decode(body, &r, &p) != 0) fail_msg("%s: %s %s", sweeps[i].file, p.pointer, p.detail);
        assert_string_equal(r.base.dataset, sweeps[i].dataset);
        assert_int_equal(r.method, API_SWEEP_RANDOM);
        assert_int_equal(r.max_runs, sweeps[i].runs);
        assert_int_equal(r.parallel, sweeps[i].parallel);
        api_sweep_request_free(&r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_grid_cap),
        cmocka_unit_test(test_defaults_and_round_trip),
        cmocka_unit_test(test_grid_enumeration),
        cmocka_unit_test(test_random_sampler),
        cmocka_unit_test(test_median_rule),
        cmocka_unit_test(test_documented_sweeps_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
