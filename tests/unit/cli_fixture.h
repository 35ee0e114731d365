/* cli_fixture.h - the fixture of the command-line tests (test_cli.c,
 * test_cli_messages.c): a temp folder with small generated CSV files and a
 * way to run the mlpd binary ($MLPD_BIN, exported by tests/run.sh and
 * `make test`) capturing its exit status, stdout and stderr.
 *
 * Include after <cmocka.h> and test_util.h: the helpers assert. */
#ifndef MLPD_CLI_FIXTURE_H
#define MLPD_CLI_FIXTURE_H

#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
static inline run_result run_mlpd(const cli_env *e, const char *stdin_path, ...) {
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

static inline void run_free(run_result *r) {
    free(r->out);
    free(r->err);
}

/* ---- fixtures ----------------------------------------------------------------------- */

/* Three well-separated clusters in 4-D: class k centred at 3 * e_k, plus
 * deterministic noise in [-1, 1). */
static inline void sample(uint64_t *lcg, int k, float *x) {
    for (int j = 0; j < FEATURES; j++) {
        *lcg = *lcg * 6364136223846793005ull + 1442695040888963407ull;
        float noise = (float)((*lcg >> 40) & 0xffff) / 32768.0f - 1.0f;
        x[j] = (j == k ? 3.0f : 0.0f) + noise;
    }
}

static inline void write_files(cli_env *e) {
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

static inline int group_setup(void **state) {
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

static inline int group_teardown(void **state) {
    cli_env *e = *state;
    if (!e) return 0;
    int rc = tu_remove_tree(e->dir);
    free(e);
    return rc;
}

/* Trains the model the later tests use (cmocka runs tests in order). */
static inline run_result train_model(const cli_env *e) {
    return run_mlpd(e, NULL, "train", "--data", e->train_csv, "--hidden", "8", "--epochs", "5",
                    "--batch", "16", "--lr", "0.1", "--seed", "3", "--out", e->model, NULL);
}

/* The value after "name: " in line, or NaN. */
static inline double metric(const char *line, const char *name) {
    char key[64];
    snprintf(key, sizeof key, " %s: ", name);
    const char *p = strstr(line, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

#endif /* MLPD_CLI_FIXTURE_H */
