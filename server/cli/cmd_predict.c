/* cmd_predict.c - `mlpd predict`: classify CSV rows of features.
 *
 * Input: one row of comma-separated numbers per line (no label column); a
 * first line that is not numbers is a header and skipped; blank lines are
 * skipped. Output, one line per row: the predicted class, then the model's
 * outputs (probabilities for a softmax model), e.g. "7 0.000100 0.000200 ...".
 * Rows are predicted in batches, so output starts before the input ends.
 * Exit status: 0 done, 1 failure (file, model, a malformed row: named by its
 * line number), 2 usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cmd_common.h"
#include "commands.h"
#include "mlp.h"

#define PREDICT_BATCH 256

/* Parse one line into x[0..width-1]. Returns the number of cells (which may
 * differ from width: nothing past width is stored), or -1 if a cell is not a
 * finite number (its 1-based index in *bad_cell). */
static long parse_row(char *line, float *x, int width, long *bad_cell) {
    long n = 0;
    char *p = line;
    for (;;) {
        char *end = p + strcspn(p, ",");
        int last = *end == '\0';
        *end = '\0';
        while (*p == ' ' || *p == '\t') p++;
        char *q = end;
        while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r' || q[-1] == '\n')) q--;
        *q = '\0';
        char *num_end;
        errno = 0;
        float v = strtof(p, &num_end);
        if (*p == '\0' || *num_end != '\0' || !isfinite(v)) {
            *bad_cell = n + 1;
            return -1;
        }
        if (n < width) x[n] = v;
        n++;
        if (last) break;
        p = end + 1;
    }
    return n;
}

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

/* Predict rows x (rows, I) and print them. */
static void flush_rows(const mlp_model *m, const float *x, int rows, float *probs, int *labels,
                       float *scratch) {
    int outs = m->arch.sizes[m->arch.n_layers];
    mlp_predict(m, x, rows, probs, labels, scratch);
    for (int r = 0; r < rows; r++) {
        printf("%d", labels[r]);
        const float *p = probs + (size_t)r * (size_t)outs;
        for (int j = 0; j < outs; j++) printf(" %.6f", (double)p[j]);
        putchar('\n');
    }
}

/* The row's largest value when every value is a whole number in 0..255 and
 * one is above 1 (it reads like raw pixels), else 0. */
static float raw_pixel_max(const float *row, int width) {
    float max = 0;
    for (int j = 0; j < width; j++) {
        if (row[j] < 0 || row[j] > 255 || row[j] != (float)(int)row[j]) return 0;
        if (row[j] > max) max = row[j];
    }
    return max > 1 ? max : 0;
}

static int predict_stream(const mlp_model *m, FILE *in, const char *name, int scale_255) {
    int width = m->arch.sizes[0], outs = m->arch.sizes[m->arch.n_layers];
    float *x = malloc(sizeof(float) * (size_t)PREDICT_BATCH * (size_t)width);
    float *probs = malloc(sizeof(float) * (size_t)PREDICT_BATCH * (size_t)outs);
    int *labels = malloc(sizeof(int) * PREDICT_BATCH);
    float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, PREDICT_BATCH));
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int first = 1;  /* the next non-blank line is the first: it may be a header */
    int warned = 0; /* raw-looking rows are pointed out once */
    int rows = 0, rc = 0;
    if (!x || !probs || !labels || !scratch) {
        fprintf(stderr, "mlpd predict: out of memory\n");
        rc = 1;
        goto done;
    }
    while (getline(&line, &cap, in) != -1) {
        lineno++;
        if (is_blank(line)) continue;
        long bad_cell = 0;
        float *row = x + (size_t)rows * (size_t)width;
        long cells = parse_row(line, row, width, &bad_cell);
        int was_first = first;
        first = 0;
        if (cells < 0 && was_first) continue; /* a header */
        if (cells < 0) {
            fprintf(stderr, "mlpd predict: %s line %ld: cell %ld is not a number\n", name, lineno,
                    bad_cell);
            rc = 1;
            goto done;
        }
        if (cells != width) {
            fprintf(stderr,
                    "mlpd predict: %s line %ld: %ld values, but the model takes %d features\n",
                    name, lineno, cells, width);
            rc = 1;
            goto done;
        }
        float raw = scale_255 || warned ? 0 : raw_pixel_max(row, width);
        if (raw > 0) {
            /* Predicted as given (a model may take such features), but a
             * model trained on images scaled to 0..1 answers nonsense. */
            fprintf(stderr,
                    "mlpd predict: warning: %s line %ld holds whole numbers up to %g, like raw "
                    "0..255 pixels; models trained on images take 0..1 (give --scale-255 to "
                    "divide by 255)\n",
                    name, lineno, (double)raw);
            warned = 1;
        }
        if (scale_255)
            for (int j = 0; j < width; j++) row[j] /= 255.0f;
        if (++rows == PREDICT_BATCH) {
            flush_rows(m, x, rows, probs, labels, scratch);
            rows = 0;
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "mlpd predict: reading %s: %s\n", name, strerror(errno));
        rc = 1;
    }
done:
    /* Rows parsed before an error are still answered: the error names the line. */
    if (rows > 0) flush_rows(m, x, rows, probs, labels, scratch);
    fflush(stdout);
    free(line);
    free(scratch);
    free(labels);
    free(probs);
    free(x);
    return rc;
}

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL, *file = "-";
    int scale_255 = 0;
    const cli_option opts[] = {
        CLI_MODEL_OPTION(&model_path),
        {.name = "file",
         .kind = CLI_STRING,
         .dest = &file,
         .metavar = "FILE",
         .help = "CSV rows of features, no label column ('-': standard input)"},
        {.name = "scale-255",
         .kind = CLI_FLAG,
         .dest = &scale_255,
         .help = "divide every value by 255 (raw pixel rows for a model trained on IDX images)"},
        {0},
    };
    int rc = cli_command_parse(
        "predict", opts, argc, argv, "mlpd predict --model FILE [--file rows.csv]",
        "Print, for each CSV row, the predicted class and the model's outputs.");
    if (rc >= 0) return rc;
    mlp_model *m = cli_load_model("predict", model_path);
    if (!m) return 1;
    mlp_error err = {{0}};
    (void)mlp_model_pack(m, &err); /* optional speed-up: CBLAS serves without it */
    FILE *in = stdin;
    if (strcmp(file, "-") != 0 && !(in = fopen(file, "r"))) {
        fprintf(stderr, "mlpd predict: --file %s: %s\n", file, strerror(errno));
        mlp_model_free(m);
        return 1;
    }
    rc = predict_stream(m, in, strcmp(file, "-") ? file : "stdin", scale_255);
    if (in != stdin) fclose(in);
    mlp_model_free(m);
    return rc;
}
