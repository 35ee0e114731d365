/* csv.c - reads a labelled data set from a CSV file.
 *
 * One sample per line: the label (an integer in [0, MLP_MAX_OUTPUT)) then the
 * features, separated by commas; spaces and tabs around a cell and a CR
 * before the newline are ignored. Blank lines are skipped anywhere. If the
 * first non-blank line does not parse as numbers it is a header and is
 * skipped (its cell count must still match the rows). Quoted cells are not
 * supported. Every error names the file, line and column (both 1-based; the
 * label is column 1).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "mlp.h"

#define CSV_MAX_CELLS (1 + MLP_MAX_FEATURES)

/* Why a line did not parse as numbers. */
typedef enum { CELL_OK, CELL_NOT_NUMBER, CELL_NOT_FINITE, CELL_TOO_MANY } cell_problem;

typedef struct {
    int cells;         /* on the parsed line */
    int bad_col;       /* 1-based column of the problem */
    char bad_text[40]; /* start of the offending cell, for the message */
} line_parse;

/* Growing storage for the rows read so far. */
typedef struct {
    float *x;        /* n * features */
    int32_t *labels; /* n */
    size_t n, cap;
    int features;
} csv_rows;

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

/* Parse the comma-separated cells of `line` (newline already removed) into
 * vals[0..]. Stops at the first problem, recording its column in *lp. */
static cell_problem parse_cells(char *line, double *vals, line_parse *lp) {
    char *cell = line;
    lp->cells = 0;
    for (;;) {
        char *comma = strchr(cell, ',');
        char *end = comma ? comma : cell + strlen(cell);
        int col = lp->cells + 1;
        if (lp->cells == CSV_MAX_CELLS) {
            lp->bad_col = col;
            return CELL_TOO_MANY;
        }
        while (cell < end && (*cell == ' ' || *cell == '\t')) cell++;
        while (end > cell && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
        char saved = *end, *stop = NULL;
        *end = '\0';
        errno = 0;
        double v = end > cell ? strtod(cell, &stop) : 0.0;
        int parsed = end > cell && stop == end;
        snprintf(lp->bad_text, sizeof lp->bad_text, "%s", cell);
        *end = saved;
        lp->bad_col = col;
        if (!parsed) return CELL_NOT_NUMBER;
        /* strtod accepts "nan" and "inf", and overflows to inf; features
         * must also fit a float. */
        if (!isfinite(v) || (col > 1 && !isfinite((float)v))) return CELL_NOT_FINITE;
        vals[lp->cells++] = v;
        if (!comma) return CELL_OK;
        cell = comma + 1;
    }
}

static mlp_status add_row(csv_rows *r, const double *vals, int scale_255, mlp_error *err) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        if (cap > MLP_MAX_SAMPLES) cap = MLP_MAX_SAMPLES;
        float *x = realloc(r->x, cap * (size_t)r->features * sizeof *x);
        if (x) r->x = x;
        int32_t *labels = x ? realloc(r->labels, cap * sizeof *labels) : NULL;
        if (!x || !labels) return mlp_io_fail(err, MLP_ENOMEM, "out of memory for %zu rows", cap);
        r->labels = labels;
        r->cap = cap;
    }
    float *dst = r->x + r->n * (size_t)r->features;
    for (int j = 0; j < r->features; j++)
        dst[j] = scale_255 ? (float)vals[1 + j] / 255.0f : (float)vals[1 + j];
    r->labels[r->n++] = (int32_t)vals[0];
    return MLP_OK;
}

/* Check one parsed data row (label range, cell count) and store it.
 * `first_cells` is the cell count that every row must match (0 = not yet set). */
static mlp_status take_row(const char *path, size_t line_no, const double *vals,
                           const line_parse *lp, int *first_cells, size_t first_line, csv_rows *r,
                           int scale_255, mlp_error *err) {
    double label = vals[0];
    if (label < 0)
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: column 1: label %g is negative", path,
                           line_no, label);
    if (label != floor(label))
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: column 1: label %g is not an integer", path,
                           line_no, label);
    if (label >= MLP_MAX_OUTPUT)
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: column 1: label %.0f is out of range [0, %d]",
                           path, line_no, label, MLP_MAX_OUTPUT - 1);
    if (*first_cells == 0) {
        if (lp->cells < 2)
            return mlp_io_fail(err, MLP_EFORMAT,
                               "%s:%zu: a row needs a label and at least one feature", path,
                               line_no);
        *first_cells = lp->cells;
    }
    if (lp->cells != *first_cells)
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: ragged row: %d cells, but line %zu has %d",
                           path, line_no, lp->cells, first_line, *first_cells);
    if (r->n == MLP_MAX_SAMPLES)
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: more than %u rows", path, line_no,
                           (unsigned)MLP_MAX_SAMPLES);
    r->features = *first_cells - 1;
    return add_row(r, vals, scale_255, err);
}

static mlp_status problem_message(const char *path, size_t line_no, cell_problem p,
                                  const line_parse *lp, mlp_error *err) {
    switch (p) {
    case CELL_TOO_MANY:
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: more than %d features (limit)", path, line_no,
                           MLP_MAX_FEATURES);
    case CELL_NOT_FINITE:
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: column %d: \"%s\" is not a finite number",
                           path, line_no, lp->bad_col, lp->bad_text);
    default:
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: column %d: \"%s\" is not a number", path,
                           line_no, lp->bad_col, lp->bad_text);
    }
}

mlp_status mlp_dataset_load_csv(const char *path, int scale_255, mlp_dataset **out,
                                mlp_error *err) {
    FILE *f = NULL;
    char *line = NULL;
    size_t line_cap = 0, line_no = 0, first_line = 0;
    double *vals = NULL;
    csv_rows rows = {0};
    int first_cells = 0, seen_header = 0, seen_any = 0;
    mlp_status s = MLP_OK;
    ssize_t len;

    if (!out) return mlp_io_fail(err, MLP_EINVAL, "load_csv: no output pointer");
    *out = NULL;
    if (!path) return mlp_io_fail(err, MLP_EINVAL, "load_csv: no path");
    f = fopen(path, "r");
    if (!f) return mlp_io_fail(err, MLP_EIO, "%s: cannot open: %s", path, strerror(errno));
    vals = malloc(CSV_MAX_CELLS * sizeof *vals);
    if (!vals) {
        s = mlp_io_fail(err, MLP_ENOMEM, "load_csv: out of memory");
        goto done;
    }

    while ((len = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        if (memchr(line, '\0', (size_t)len)) {
            s = mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: contains a NUL byte (not a text file)", path,
                            line_no);
            goto done;
        }
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (is_blank(line)) continue;
        line_parse lp;
        cell_problem p = parse_cells(line, vals, &lp);
        if (!seen_any) {
            seen_any = 1;
            if (p == CELL_NOT_NUMBER) {
                /* A header: count its cells so rows are held to the same width. */
                int cells = 1;
                for (const char *c = line; *c; c++) cells += *c == ',';
                if (cells > CSV_MAX_CELLS) {
                    s = problem_message(path, line_no, CELL_TOO_MANY, &lp, err);
                    goto done;
                }
                if (cells < 2) {
                    s = mlp_io_fail(err, MLP_EFORMAT,
                                    "%s:%zu: a row needs a label and at least one feature", path,
                                    line_no);
                    goto done;
                }
                first_cells = cells;
                first_line = line_no;
                seen_header = 1;
                continue;
            }
        }
        if (p != CELL_OK) {
            s = problem_message(path, line_no, p, &lp, err);
            goto done;
        }
        if (first_cells == 0) first_line = line_no;
        s = take_row(path, line_no, vals, &lp, &first_cells, first_line, &rows, scale_255, err);
        if (s != MLP_OK) goto done;
    }
    if (ferror(f)) {
        s = mlp_io_fail(err, MLP_EIO, "%s: read failed: %s", path, strerror(errno));
        goto done;
    }
    if (rows.n == 0) {
        s = mlp_io_fail(err, MLP_EFORMAT, "%s: %s", path,
                        seen_header ? "no data rows after the header line"
                                    : "empty file (no data rows)");
        goto done;
    }

    mlp_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        s = mlp_io_fail(err, MLP_ENOMEM, "load_csv: out of memory");
        goto done;
    }
    /* Give back the unused tail of the doubling buffers (shrinking cannot fail
     * in practice; keep the larger block if it does). */
    float *x = realloc(rows.x, rows.n * (size_t)rows.features * sizeof *x);
    int32_t *labels = realloc(rows.labels, rows.n * sizeof *labels);
    d->x_f32 = x ? x : rows.x;
    d->labels = labels ? labels : rows.labels;
    rows.x = NULL;
    rows.labels = NULL;
    d->n = rows.n;
    d->features = rows.features;
    d->classes = mlp_io_classes_from_labels(d->labels, d->n);
    *out = d;
done:
    free(rows.x);
    free(rows.labels);
    free(vals);
    free(line);
    fclose(f);
    return s;
}
