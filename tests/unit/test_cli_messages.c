/* test_cli_messages.c - what mlpd's offline commands print: the progress
 * lines' format (server/cli/progress.c, in-process) and, run as real
 * processes on a small generated CSV (cli_fixture.h), --version, an --out
 * checked before training, errors that name a path once, and the training
 * header. */
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
#include "progress.h"
#include "test_util.h"
#include "version.h"
#include "cli_fixture.h"

/* ---- progress lines (no process needed) ----------------------------------------------- */

static mlp_progress sample_progress(void) {
    mlp_progress p = {.epoch = 3,
                      .epochs = 10,
                      .step = 5,
                      .steps = 10,
                      .global_step = 25,
                      .loss = 0.41234,
                      .accuracy = 0.88119,
                      .epoch_loss = 0.41234, /* the engine's running means */
                      .epoch_accuracy = 0.88119,
                      .val_loss = NAN,
                      .val_accuracy = NAN,
                      .learning_rate = NAN,
                      .seconds = 1.24,
                      .samples_per_sec = 51000.4};
    return p;
}

static void test_progress_epoch_line(void **state) {
    (void)state;
    mlp_progress p = sample_progress();
    char buf[256];
    progress_format_epoch(buf, sizeof buf, &p);
    const char *want = "Epoch 3/10 - 1.2s - 51000 samples/s - loss: 0.4123 - accuracy: 0.8812";
    assert_string_equal(buf, want);
    p.val_loss = 0.5;
    p.val_accuracy = 0.75;
    progress_format_epoch(buf, sizeof buf, &p);
    assert_non_null(strstr(buf, "accuracy: 0.8812 - val_loss: 0.5000 - val_accuracy: 0.7500"));
    p.learning_rate = 0.00025;
    progress_format_epoch(buf, sizeof buf, &p);
    assert_non_null(strstr(buf, "val_accuracy: 0.7500 - learning_rate: 0.00025"));
    /* A short buffer is truncated, terminated, never overrun. */
    char small[12];
    memset(small, 'x', sizeof small);
    progress_format_epoch(small, 10, &p);
    assert_int_equal(strlen(small), 9);
    assert_int_equal(small[11], 'x');
}

static void test_progress_bar_only_on_terminals(void **state) {
    (void)state;
    mlp_progress p = sample_progress();
    char buf[256];
    progress_format_bar(buf, sizeof buf, &p, 0.5, NAN);
    assert_non_null(strstr(buf, "Epoch 3/10 ")); /* keeps the epoch visible */
    assert_non_null(strstr(buf, " 5/10 [==============>...............] - ETA: 1s - loss: 0.5000"));
    assert_null(strstr(buf, "accuracy"));

    /* Not a terminal: batches write nothing, epochs one line. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    progress_bar pb;
    progress_init(&pb, f, 0);
    assert_int_equal(pb.tty, 0);
    progress_batch(&pb, &p);
    fflush(f);
    assert_int_equal(len, 0);
    progress_epoch(&pb, &p);
    fclose(f);
    assert_string_equal(text,
                        "Epoch 3/10 - 1.2s - 51000 samples/s - loss: 0.4123 - accuracy: 0.8812\n");
    free(text);

    /* A terminal: the bar is redrawn in place, then cleared before the epoch line. */
    f = open_memstream(&text, &len);
    progress_init(&pb, f, 1);
    p.step = 1;
    progress_batch(&pb, &p);
    p.step = 10;
    p.seconds = 2.0;
    progress_batch(&pb, &p);
    progress_epoch(&pb, &p);
    fclose(f);
    assert_true(strncmp(text, "\r\033[KEpoch 3/10  1/10 [", 21) == 0);
    assert_non_null(strstr(text, "\r\033[KEpoch 3/10 10/10 [==============================]"));
    /* Running mean of the two batches' losses. */
    assert_non_null(strstr(text, "loss: 0.4123"));
    assert_non_null(strstr(text, "\r\033[KEpoch 3/10 - 2.0s - "));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

/* ---- command-line habits: --version, early checks, messages ---------------------- */

static void test_version(void **state) {
    cli_env *e = *state;
    run_result r = run_mlpd(e, NULL, "--version", NULL);
    assert_int_equal(r.status, 0);
    char want[256];
    snprintf(want, sizeof want,
             "mlpd %s\nprediction kernels: float32 %s (split over up to %d cores when idle), "
             "bf16 %s, int8 %s\n",
             MLPD_VERSION, mlp_kernel_name(), mlp_predict_cores(),
             mlp_kernel_name_for(MLP_PRECISION_BF16), mlp_kernel_name_for(MLP_PRECISION_INT8));
    assert_string_equal(r.out, want);
    run_free(&r);
}

/* An --out that cannot take the model fails before any training. */
static void test_out_checked_before_training(void **state) {
    cli_env *e = *state;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no-such-folder/m.bin", e->dir);
    const char *outs[] = {missing, e->dir};
    for (size_t i = 0; i < 2; i++) {
        run_result r = run_mlpd(e, NULL, "train", "--data", e->train_csv, "--epochs", "1",
                                "--hidden", "4", "--out", outs[i], NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "--out"));
        if (strstr(r.out, "Training") || strstr(r.out, "Epoch"))
            fail_msg("trained before finding that --out %s cannot be written:\n%s", outs[i], r.out);
        run_free(&r);
    }
}

/* Augmentation on a CSV that is no square image: refused before training,
 * naming the option (usage error, 2). */
static void test_augment_needs_images(void **state) {
    cli_env *e = *state;
    run_result r = run_mlpd(e, NULL, "train", "--data", e->train_csv, "--epochs", "1", "--hidden",
                            "4", "--hflip", "--out", e->model, NULL);
    assert_int_equal(r.status, 2);
    if (!strstr(r.err, "--hflip") || !strstr(r.err, "square images"))
        fail_msg("no word of --hflip and images: %s", r.err);
    if (strstr(r.out, "Training")) fail_msg("trained before refusing --hflip:\n%s", r.out);
    run_free(&r);
}

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* A failure about a file names the file once. */
static void test_errors_name_the_path_once(void **state) {
    cli_env *e = *state;
    const char *gone = "/nonexistent/x.csv", *gone_model = "/nonexistent/m.bin";
    run_result r = run_mlpd(e, NULL, "train", "--data", gone, "--out", e->model, NULL);
    assert_int_equal(r.status, 1);
    if (count_of(r.err, gone) != 1) fail_msg("path not named once: %s", r.err);
    run_free(&r);
    r = run_mlpd(e, NULL, "eval", "--model", gone_model, "--data", e->train_csv, NULL);
    assert_int_equal(r.status, 1);
    if (count_of(r.err, gone_model) != 1) fail_msg("path not named once: %s", r.err);
    run_free(&r);
    r = run_mlpd(e, NULL, "train", "--data", e->train_csv, "--warm-start", gone_model, "--out",
                 e->model, NULL);
    assert_int_equal(r.status, 1);
    if (count_of(r.err, gone_model) != 1) fail_msg("path not named once: %s", r.err);
    run_free(&r);
}

/* The header counts the rows trained on (after the validation split) and
 * says "1 epoch". */
static void test_header_rows_and_singular(void **state) {
    cli_env *e = *state;
    char out[160];
    snprintf(out, sizeof out, "%s/one.bin", e->dir);
    run_result r = run_mlpd(e, NULL, "train", "--data", e->train_csv, "--hidden", "4", "--epochs",
                            "1", "--val", "0.25", "--out", out, NULL);
    if (r.status != 0) fail_msg("train exit %d\n%s%s", r.status, r.out, r.err);
    size_t rows = mlp_train_rows(ROWS, 0.25f);
    assert_true(rows < ROWS);
    char want[128];
    snprintf(want, sizeof want, " on %zu samples (%zu held out for validation), ", rows,
             (size_t)ROWS - rows);
    if (!strstr(r.out, want)) fail_msg("header lacks \"%s\":\n%s", want, r.out);
    if (!strstr(r.out, ", 1 epoch\n")) fail_msg("not \"1 epoch\":\n%s", r.out);
    run_free(&r);
}

static int bar_batch(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    progress_batch(user, p);
    return 0;
}
static int bar_epoch(const mlp_progress *p, const mlp_model *m, void *user) {
    (void)m;
    progress_epoch(user, p);
    return 0;
}

/* On a terminal the last bar of an epoch and its summary line show the same
 * loss and accuracy, also when the last batch is smaller than the others. */
static void test_last_bar_matches_epoch_line(void **state) {
    cli_env *e = *state;
    mlp_dataset *d = NULL;
    assert_int_equal(mlp_dataset_load_csv(e->train_csv, 0, NULL, &d, NULL), MLP_OK);
    mlp_arch a;
    int hidden = 5;
    assert_int_equal(mlp_arch_make(&a, FEATURES, &hidden, 1, MLP_ACT_RELU, CLASSES,
                                   MLP_LOSS_CROSS_ENTROPY, -1, NULL),
                     MLP_OK);
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_GLOROT_UNIFORM, 1, &m, NULL), MLP_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    progress_bar pb;
    progress_init(&pb, f, 1);
    mlp_train_config c;
    mlp_train_config_default(&c);
    c.batch_size = 50; /* 240 rows: batches of 50, 50, 50, 50 and 40 */
    c.epochs = 2;
    c.lr = 0.1f;
    c.on_batch = bar_batch;
    c.on_epoch = bar_epoch;
    c.user = &pb;
    assert_int_equal(mlp_train(m, d, &c, NULL, NULL), MLP_OK);
    fclose(f);
    for (int ep = 1; ep <= 2; ep++) {
        char bar_key[64], line_key[64];
        snprintf(bar_key, sizeof bar_key, "Epoch %d/2 5/5 [", ep);
        snprintf(line_key, sizeof line_key, "Epoch %d/2 - ", ep);
        const char *bar = strstr(text, bar_key), *line = strstr(text, line_key);
        assert_non_null(bar);
        assert_non_null(line);
        char bar_loss[16], line_loss[16], bar_acc[16], line_acc[16];
        assert_int_equal(sscanf(strstr(bar, "loss: "), "loss: %15s", bar_loss), 1);
        assert_int_equal(sscanf(strstr(line, " loss: "), " loss: %15s", line_loss), 1);
        assert_int_equal(sscanf(strstr(bar, "accuracy: "), "accuracy: %15s", bar_acc), 1);
        assert_int_equal(sscanf(strstr(line, "accuracy: "), "accuracy: %15s", line_acc), 1);
        assert_string_equal(bar_loss, line_loss);
        assert_string_equal(bar_acc, line_acc);
    }
    free(text);
    mlp_model_free(m);
    mlp_dataset_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_epoch_line),
        cmocka_unit_test(test_progress_bar_only_on_terminals),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_augment_needs_images),
        cmocka_unit_test(test_out_checked_before_training),
        cmocka_unit_test(test_errors_name_the_path_once),
        cmocka_unit_test(test_header_rows_and_singular),
        cmocka_unit_test(test_last_bar_matches_epoch_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
