/* test_cli.c - `mlpd train`, `mlpd eval` and `mlpd predict` run as real
 * processes (the binary named by $MLPD_BIN, which tests/run.sh exports) on a
 * small generated CSV: exit statuses, the lines they print, and that what
 * they write and print agrees with the engine used in-process. Also the
 * progress lines' format (server/cli/progress.c).
 */
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

extern char **environ;

#define ROWS         240
#define FEATURES     4
#define CLASSES      3
#define PREDICT_ROWS 20

typedef struct {
    const char *bin;
    char dir[64];
    char train_csv[128], rows_csv[128], model[128], wide_csv[128];
} cli_env;

/* ---- running the binary -------------------------------------------------------------- */

typedef struct {
    int status; /* exit status, or -1 if the process did not exit normally */
    char *out, *err;
} run_result;

/* Run `mlpd args...` (NULL-terminated) with stdin from stdin_path (NULL:
 * /dev/null); stdout and stderr are captured. */
static run_result run_mlpd(const cli_env *e, const char *stdin_path, ...) {
    char *argv[48] = {(char *)e->bin};
    int argc = 1;
    va_list ap;
    va_start(ap, stdin_path);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 47;) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s/stdout", e->dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", e->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, e->bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) fail_msg("cannot run %s: %s", e->bin, strerror(rc));
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    run_result r = {WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, tu_read_file(out_path, NULL),
                    tu_read_file(err_path, NULL)};
    return r;
}

static void run_free(run_result *r) {
    free(r->out);
    free(r->err);
}

/* ---- fixtures ----------------------------------------------------------------------- */

/* Three well-separated clusters in 4-D: class k centred at 3 * e_k, plus
 * deterministic noise in [-1, 1). */
static void sample(uint64_t *lcg, int k, float *x) {
    for (int j = 0; j < FEATURES; j++) {
        *lcg = *lcg * 6364136223846793005ull + 1442695040888963407ull;
        float noise = (float)((*lcg >> 40) & 0xffff) / 32768.0f - 1.0f;
        x[j] = (j == k ? 3.0f : 0.0f) + noise;
    }
}

static void write_files(cli_env *e) {
    uint64_t lcg = 12345;
    FILE *train = fopen(e->train_csv, "w"), *rows = fopen(e->rows_csv, "w");
    FILE *wide = fopen(e->wide_csv, "w");
    assert_non_null(train);
    assert_non_null(rows);
    assert_non_null(wide);
    fprintf(train, "label,a,b,c,d\n");
    fprintf(rows, "a,b,c,d\n\n"); /* a header, then a blank line: both skipped */
    for (int i = 0; i < ROWS; i++) {
        float x[FEATURES];
        int k = i % CLASSES;
        sample(&lcg, k, x);
        fprintf(train, "%d,%.6f,%.6f,%.6f,%.6f\n", k, x[0], x[1], x[2], x[3]);
        if (i < PREDICT_ROWS) fprintf(rows, "%.6f, %.6f,%.6f ,%.6f\r\n", x[0], x[1], x[2], x[3]);
        fprintf(wide, "%d,%.6f,%.6f,%.6f,%.6f,0.5\n", k, x[0], x[1], x[2], x[3]);
    }
    fclose(train);
    fclose(rows);
    fclose(wide);
}

static int group_setup(void **state) {
    cli_env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    *state = e; /* teardown frees it even if setup fails below */
    e->bin = getenv("MLPD_BIN");
    if (!e->bin || !*e->bin)
        fail_msg("MLPD_BIN is not set: it must name the mlpd binary (tests/run.sh and "
                 "`make test` export it)");
    if (access(e->bin, X_OK) != 0) fail_msg("MLPD_BIN=%s is not an executable file", e->bin);
    assert_int_equal(tu_make_temp_dir(e->dir, sizeof e->dir, "test-cli"), 0);
    snprintf(e->train_csv, sizeof e->train_csv, "%s/train.csv", e->dir);
    snprintf(e->rows_csv, sizeof e->rows_csv, "%s/rows.csv", e->dir);
    snprintf(e->wide_csv, sizeof e->wide_csv, "%s/wide.csv", e->dir);
    snprintf(e->model, sizeof e->model, "%s/model.bin", e->dir);
    write_files(e);
    return 0;
}

static int group_teardown(void **state) {
    cli_env *e = *state;
    if (!e) return 0;
    int rc = tu_remove_tree(e->dir);
    free(e);
    return rc;
}

/* Trains the model the later tests use (cmocka runs tests in order). */
static run_result train_model(const cli_env *e) {
    return run_mlpd(e, NULL, "train", "--data", e->train_csv, "--hidden", "8", "--epochs", "5",
                    "--batch", "16", "--lr", "0.1", "--seed", "3", "--out", e->model, NULL);
}

/* The value after "name: " in line, or NaN. */
static double metric(const char *line, const char *name) {
    char key[64];
    snprintf(key, sizeof key, " %s: ", name);
    const char *p = strstr(line, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

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

/* ---- issue 15's command-line habits ------------------------------------------------- */

static void test_version(void **state) {
    cli_env *e = *state;
    run_result r = run_mlpd(e, NULL, "--version", NULL);
    assert_int_equal(r.status, 0);
    char want[64];
    snprintf(want, sizeof want, "mlpd %s\n", MLPD_VERSION);
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
        cmocka_unit_test(test_train_prints_epochs_and_saves),
        cmocka_unit_test(test_train_validation_split),
        cmocka_unit_test(test_eval_matches_engine),
        cmocka_unit_test(test_predict_matches_engine),
        cmocka_unit_test(test_predict_names_bad_lines),
        cmocka_unit_test(test_warm_start),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_help_lists_defaults),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_out_checked_before_training),
        cmocka_unit_test(test_errors_name_the_path_once),
        cmocka_unit_test(test_header_rows_and_singular),
        cmocka_unit_test(test_last_bar_matches_epoch_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
