/* test_cli.c - `mlpd train`, `mlpd eval` and `mlpd predict` run as real
 * processes on a small generated CSV (cli_fixture.h): exit statuses, the
 * lines they print, and that what they write and print agrees with the
 * engine used in-process. What the commands print besides (progress lines,
 * --version, early checks, error messages): test_cli_messages.c. */
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mlp.h"
#include "test_util.h"
#include "cli_fixture.h"

/* ---- tests ------------------------------------------------------------------------ */

static void test_train_prints_epochs_and_saves(void **state) {
    cli_env *e = *state;
    run_result r = train_model(e);
    if (r.status != 0) fail_msg("train exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    assert_null(strchr(r.out, '\r')); /* not a terminal: no progress bar */
    /* The memory estimate the daemon applies (mlp_train_memory), said. */
    const char *mem = strstr(r.out, "Memory: about ");
    assert_non_null(mem);
    char unit[8] = "";
    double size = 0;
    assert_int_equal(sscanf(mem, "Memory: about %lf %7s", &size, unit), 2);
    assert_true(size > 0 && (!strcmp(unit, "KiB") || !strcmp(unit, "MiB")));
    assert_non_null(strstr(mem, "(parameters "));
    /* One line per epoch, in order, each with loss and accuracy. */
    double first_loss = NAN, last_loss = NAN;
    int epochs = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "Epoch ", 6) != 0) continue;
        epochs++;
        char want[32];
        snprintf(want, sizeof want, "Epoch %d/5 - ", epochs);
        if (strncmp(line, want, strlen(want)) != 0) fail_msg("unexpected line: %s", line);
        assert_non_null(strstr(line, " samples/s - "));
        double loss = metric(line, "loss"), acc = metric(line, "accuracy");
        assert_true(isfinite(loss) && loss > 0);
        assert_true(acc >= 0 && acc <= 1);
        assert_null(strstr(line, "val_loss")); /* no validation split asked for */
        if (epochs == 1) first_loss = loss;
        last_loss = loss;
    }
    assert_int_equal(epochs, 5);
    assert_true(last_loss < first_loss);
    run_free(&r);

    /* The file holds the network the flags described. */
    mlp_model *m = NULL;
    mlp_error err;
    assert_int_equal(mlp_model_load(e->model, &m, &err), MLP_OK);
    assert_int_equal(m->arch.n_layers, 2);
    assert_int_equal(m->arch.sizes[0], FEATURES);
    assert_int_equal(m->arch.sizes[1], 8);
    assert_int_equal(m->arch.sizes[2], CLASSES);
    assert_int_equal(m->arch.act[0], MLP_ACT_RELU);
    assert_int_equal(m->arch.act[1], MLP_ACT_SOFTMAX);
    mlp_model_free(m);
}

static void test_train_validation_split(void **state) {
    cli_env *e = *state;
    char out[160];
    snprintf(out, sizeof out, "%s/val.bin", e->dir);
    run_result r = run_mlpd(e, NULL, "train", "--data", e->train_csv, "--hidden", "6,5",
                            "--activation", "tanh", "--optimizer", "adam", "--lr", "0.01",
                            "--epochs", "2", "--val", "0.25", "--out", out, NULL);
    if (r.status != 0) fail_msg("train exit %d\n%s%s", r.status, r.out, r.err);
    const char *line = strstr(r.out, "Epoch 2/2 - ");
    assert_non_null(line);
    assert_true(metric(line, "val_loss") > 0);
    double va = metric(line, "val_accuracy");
    assert_true(va >= 0 && va <= 1);
    run_free(&r);
}

static void test_eval_matches_engine(void **state) {
    cli_env *e = *state;
    run_result r = run_mlpd(e, NULL, "eval", "--model", e->model, "--data", e->train_csv, NULL);
    if (r.status != 0) fail_msg("eval exit %d\n%s%s", r.status, r.out, r.err);
    /* The same numbers as the engine computes in this process. */
    mlp_model *m = NULL;
    mlp_dataset *d = NULL;
    mlp_error err;
    assert_int_equal(mlp_model_load(e->model, &m, &err), MLP_OK);
    assert_int_equal(mlp_dataset_load_csv(e->train_csv, 0, NULL, &d, &err), MLP_OK);
    mlp_eval_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(mlp_evaluate(m, d, &res, &err), MLP_OK);
    char want[64];
    snprintf(want, sizeof want, "accuracy: %.4f\n", res.accuracy);
    if (!strstr(r.out, want)) fail_msg("eval output lacks \"%s\":\n%s", want, r.out);
    snprintf(want, sizeof want, "loss: %.4f\n", res.loss);
    assert_non_null(strstr(r.out, want));
    assert_non_null(strstr(r.out, "samples: 240"));
    /* Separable clusters: 5 epochs learn them. */
    assert_true(res.accuracy >= 0.9);
    /* The confusion matrix: one row per class whose counts are the engine's. */
    const char *cm = strstr(r.out, "confusion matrix");
    assert_non_null(cm);
    cm = strchr(cm, '\n') + 1;
    cm = strchr(cm, '\n') + 1; /* the header of predicted labels */
    unsigned long total = 0;
    for (int i = 0; i < CLASSES; i++) {
        char *end;
        long label = strtol(cm, &end, 10);
        assert_int_equal(label, i);
        for (int j = 0; j < CLASSES; j++) {
            unsigned long c = strtoul(end, &end, 10);
            assert_int_equal(c, res.confusion[i * CLASSES + j]);
            total += c;
        }
        cm = strchr(cm, '\n') + 1;
    }
    assert_int_equal(total, ROWS);
    mlp_eval_result_free(&res);
    mlp_dataset_free(d);
    mlp_model_free(m);
    run_free(&r);
}

/* Parse predict's output: PREDICT_ROWS lines "class p0 p1 p2". */
static void parse_predictions(const char *out, int *labels, float *probs) {
    const char *p = out;
    for (int i = 0; i < PREDICT_ROWS; i++) {
        char *end;
        labels[i] = (int)strtol(p, &end, 10);
        assert_true(end != p);
        for (int j = 0; j < CLASSES; j++) {
            p = end;
            probs[i * CLASSES + j] = strtof(p, &end);
            assert_true(end != p);
        }
        assert_int_equal(*end, '\n');
        p = end + 1;
    }
    assert_int_equal(*p, '\0');
}

static void test_predict_matches_engine(void **state) {
    cli_env *e = *state;
    run_result r = run_mlpd(e, NULL, "predict", "--model", e->model, "--file", e->rows_csv, NULL);
    if (r.status != 0) fail_msg("predict exit %d\n%s%s", r.status, r.out, r.err);
    int labels[PREDICT_ROWS];
    float probs[PREDICT_ROWS * CLASSES];
    parse_predictions(r.out, labels, probs);

    /* In-process prediction of the same rows (the first PREDICT_ROWS of train.csv). */
    mlp_model *m = NULL;
    mlp_dataset *d = NULL;
    mlp_error err;
    assert_int_equal(mlp_model_load(e->model, &m, &err), MLP_OK);
    assert_int_equal(mlp_dataset_load_csv(e->train_csv, 0, NULL, &d, &err), MLP_OK);
    float want[PREDICT_ROWS * CLASSES];
    int want_labels[PREDICT_ROWS];
    float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, PREDICT_ROWS));
    assert_non_null(scratch);
    mlp_predict(m, d->x_f32, PREDICT_ROWS, want, want_labels, scratch);
    for (int i = 0; i < PREDICT_ROWS; i++) {
        assert_int_equal(labels[i], want_labels[i]);
        double sum = 0;
        for (int j = 0; j < CLASSES; j++) {
            assert_true(fabsf(probs[i * CLASSES + j] - want[i * CLASSES + j]) <= 1e-6f);
            sum += probs[i * CLASSES + j];
        }
        assert_true(fabs(sum - 1.0) < 1e-4);
    }
    free(scratch);
    mlp_dataset_free(d);
    mlp_model_free(m);

    /* Standard input gives the same answer as --file. */
    run_result s = run_mlpd(e, e->rows_csv, "predict", "--model", e->model, NULL);
    assert_int_equal(s.status, 0);
    assert_string_equal(s.out, r.out);
    run_free(&s);
    run_free(&r);
}

static void test_predict_names_bad_lines(void **state) {
    cli_env *e = *state;
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.csv", e->dir);
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"a,b,c,d\n1,2,3,4\n1,2,3\n", "line 3: 3 values, but the model takes 4 features"},
        {"1,2,3,4\n\n1,2,3,4,5\n", "line 3: 5 values"},
        {"1,2,3,4\n1,2,x,4\n", "line 2: cell 3 is not a number"},
        {"1,2,3,4\n1,2,,4\n", "line 2: cell 3"},
        {"1,2,3,4\n1,nan,3,4\n", "line 2: cell 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_write_text(bad, cases[i].text);
        run_result r = run_mlpd(e, NULL, "predict", "--model", e->model, "--file", bad, NULL);
        if (r.status != 1 || !strstr(r.err, cases[i].needle))
            fail_msg("case %zu: exit %d, stderr \"%s\", expected \"%s\"", i, r.status, r.err,
                     cases[i].needle);
        run_free(&r);
    }
}

/* Rows of whole numbers up to 255 read like raw pixels: predicted, with one
 * warning pointing at --scale-255; none with the flag or for 0..1 rows. */
static void test_predict_warns_about_raw_pixels(void **state) {
    cli_env *e = *state;
    char rows[160];
    snprintf(rows, sizeof rows, "%s/raw.csv", e->dir);
    tu_write_text(rows, "0,128,255,3\n0,1,2,3\n");
    run_result r = run_mlpd(e, NULL, "predict", "--model", e->model, "--file", rows, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "line 1 holds whole numbers up to 255"));
    assert_non_null(strstr(r.err, "--scale-255"));
    assert_null(strstr(strstr(r.err, "--scale-255") + 1, "--scale-255")); /* once */
    assert_non_null(strchr(r.out, '\n'));
    run_free(&r);
    r = run_mlpd(e, NULL, "predict", "--model", e->model, "--file", rows, "--scale-255", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
    tu_write_text(rows, "0,0.5,1,0.25\n");
    r = run_mlpd(e, NULL, "predict", "--model", e->model, "--file", rows, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
}

static void test_warm_start(void **state) {
    cli_env *e = *state;
    char out[160];
    snprintf(out, sizeof out, "%s/warm.bin", e->dir);
    run_result r = run_mlpd(e, NULL, "train", "--data", e->train_csv, "--warm-start", e->model,
                            "--epochs", "1", "--lr", "0.01", "--out", out, NULL);
    if (r.status != 0) fail_msg("warm start exit %d\n%s%s", r.status, r.out, r.err);
    /* Continuing from a trained model: the first epoch is already good. */
    const char *line = strstr(r.out, "Epoch 1/1 - ");
    assert_non_null(line);
    assert_true(metric(line, "accuracy") >= 0.9);
    run_free(&r);
    /* A model whose input width differs from the data is refused. */
    r = run_mlpd(e, NULL, "train", "--data", e->wide_csv, "--warm-start", e->model, "--out", out,
                 NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "--warm-start"));
    run_free(&r);
    r = run_mlpd(e, NULL, "eval", "--model", e->model, "--data", e->wide_csv, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "4 inputs"));
    run_free(&r);
}

/* Usage errors exit 2 and name the flag; failures exit 1. */
static void test_bad_flags(void **state) {
    cli_env *e = *state;
    const char *d = e->train_csv, *o = e->model;
    const struct {
        const char *args[10];
        int status;
        const char *needle;
    } cases[] = {
        {{"train", "--data", d, "--out", o, "--lr", "abc"}, 2, "--lr"},
        {{"train", "--data", d, "--out", o, "--lr", "0"}, 2, "--lr"},
        {{"train", "--data", d, "--out", o, "--epochs", "0"}, 2, "--epochs"},
        {{"train", "--data", d, "--out", o, "--batch", "-1"}, 2, "--batch"},
        {{"train", "--data", d, "--out", o, "--dropout", "1"}, 2, "--dropout"},
        {{"train", "--data", d, "--out", o, "--val", "1.5"}, 2, "--val"},
        {{"train", "--data", d, "--out", o, "--hidden", "8,x"}, 2, "--hidden"},
        {{"train", "--data", d, "--out", o, "--optimizer", "rmsprop"}, 2, "--optimizer"},
        {{"train", "--data", d, "--out", o, "--activation", "softmax"}, 2, "--activation"},
        {{"train", "--data", d, "--out", o, "--nesterov"}, 2, "--nesterov"},
        {{"train", "--data", d, "--out", o, "--bogus"}, 2, "--bogus"},
        {{"train", "--data", d}, 2, "--out"},
        {{"train", "--out", o}, 2, "--data"},
        {{"train", "--data", d, "--out", o, "--seed"}, 2, "--seed"},
        {{"train", "--data", "/nonexistent/x.csv", "--out", o}, 1, "/nonexistent/x.csv"},
        {{"eval", "--data", d}, 2, "--model"},
        {{"eval", "--model", "/nonexistent.bin", "--data", d}, 1, "/nonexistent.bin"},
        {{"predict", "--model", o, "--file"}, 2, "--file"},
        {{"predict", "--model", o, "--file", "/nonexistent.csv"}, 1, "/nonexistent.csv"},
        {{"predict", "extra"}, 2, "extra"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const *a = cases[i].args;
        run_result r =
            run_mlpd(e, NULL, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], NULL);
        if (r.status != cases[i].status || !strstr(r.err, cases[i].needle))
            fail_msg("case %zu (%s %s ...): exit %d, stderr \"%s\"; expected exit %d naming \"%s\"",
                     i, a[0], a[1], r.status, r.err, cases[i].status, cases[i].needle);
        run_free(&r);
    }
}

static void test_help_lists_defaults(void **state) {
    cli_env *e = *state;
    const struct {
        const char *cmd;
        const char *needles[4];
    } cases[] = {
        {"train", {"--hidden N,N,...", "[default: 512,256]", "[default: 0.01]", "[default: 128]"}},
        {"eval", {"--model FILE", "--data DIR|FILE", "(required)", NULL}},
        {"predict", {"--model FILE", "--file FILE", "[default: -]", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run_mlpd(e, NULL, cases[i].cmd, "--help", NULL);
        assert_int_equal(r.status, 0);
        for (int k = 0; k < 4 && cases[i].needles[k]; k++)
            if (!strstr(r.out, cases[i].needles[k]))
                fail_msg("%s --help lacks \"%s\":\n%s", cases[i].cmd, cases[i].needles[k], r.out);
        run_free(&r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_prints_epochs_and_saves),
        cmocka_unit_test(test_train_validation_split),
        cmocka_unit_test(test_eval_matches_engine),
        cmocka_unit_test(test_predict_matches_engine),
        cmocka_unit_test(test_predict_names_bad_lines),
        cmocka_unit_test(test_predict_warns_about_raw_pixels),
        cmocka_unit_test(test_warm_start),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_help_lists_defaults),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
