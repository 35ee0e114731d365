/* csv.c - reads a labelled data set from a CSV file.
 *
 * One sample per line: the label (an integer in [0, MLP_MAX_OUTPUT)) then the
 * features, separated by commas; spaces and tabs around a cell and a CR
 * before the newline are ignored. Blank lines are skipped anywhere; a UTF-8
 * byte order mark at the start of the file is skipped (spreadsheets write
 * one). The header rule: the first non-blank line is a header when its first
 * cell, the label column, is not a number (its cell count must still match
 * the rows). Any other line must parse whole: a row with a bad cell is an
 * error, never dropped. Quoted cells are not supported. Every error names
 * the file (as the caller shows it), line and column (both 1-based; the
 * label is column 1).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

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
    uint64_t max_bytes; /* mlp_dataset_bytes budget */
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
        uint64_t most = r->max_bytes / mlp_dataset_bytes(1, r->features, 0);
        if (cap > most) cap = most > r->n ? (size_t)most : r->n + 1;
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
    if (mlp_dataset_bytes(r->n + 1, r->features, 0) > r->max_bytes)
        return mlp_io_fail(err, MLP_ETOOBIG,
                           "%s:%zu: %zu rows of %d features take more than the limit of %llu "
                           "bytes in memory",
                           path, line_no, r->n + 1, r->features, (unsigned long long)r->max_bytes);
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

/* Reading state of one file. */
typedef struct {
    const char *name; /* for messages */
    size_t line_no, first_line;
    int first_cells; /* cells every row must have, 0 until known */
    int seen_any, seen_header, scale_255;
    double *vals; /* CSV_MAX_CELLS */
    csv_rows rows;
} csv_reader;

/* A first line whose label cell is not a number: the header. */
static mlp_status take_header(csv_reader *c, const char *line, line_parse *lp, mlp_error *err) {
    int cells = 1;
    for (const char *p = line; *p; p++) cells += *p == ',';
    if (cells > CSV_MAX_CELLS) return problem_message(c->name, c->line_no, CELL_TOO_MANY, lp, err);
    if (cells < 2)
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: a row needs a label and at least one feature",
                           c->name, c->line_no);
    c->first_cells = cells;
    c->first_line = c->line_no;
    c->seen_header = 1;
    return MLP_OK;
}

/* One line (newline removed). */
static mlp_status take_line(csv_reader *c, char *line, size_t len, mlp_error *err) {
    if (memchr(line, '\0', len))
        return mlp_io_fail(err, MLP_EFORMAT, "%s:%zu: contains a NUL byte (not a text file)",
                           c->name, c->line_no);
    if (c->line_no == 1 && !strncmp(line, "\xEF\xBB\xBF", 3)) line += 3; /* UTF-8 BOM */
    if (is_blank(line)) return MLP_OK;
    line_parse lp;
    cell_problem p = parse_cells(line, c->vals, &lp);
    int first = !c->seen_any;
    c->seen_any = 1;
    if (first && p == CELL_NOT_NUMBER && lp.bad_col == 1) return take_header(c, line, &lp, err);
    if (p != CELL_OK) return problem_message(c->name, c->line_no, p, &lp, err);
    if (c->first_cells == 0) c->first_line = c->line_no;
    return take_row(c->name, c->line_no, c->vals, &lp, &c->first_cells, c->first_line, &c->rows,
                    c->scale_255, err);
}

/* The rows read become the data set (the doubling buffers' unused tail given back). */
static mlp_status finish(csv_reader *c, mlp_dataset **out, mlp_error *err) {
    if (c->rows.n == 0)
        return mlp_io_fail(err, MLP_EFORMAT, "%s: %s", c->name,
                           c->seen_header ? "no data rows after the header line"
                                          : "empty file (no data rows)");
    mlp_dataset *d = calloc(1, sizeof *d);
    if (!d) return mlp_io_fail(err, MLP_ENOMEM, "load_csv: out of memory");
    csv_rows *r = &c->rows;
    /* Shrinking cannot fail in practice; keep the larger block if it does. */
    float *x = realloc(r->x, r->n * (size_t)r->features * sizeof *x);
    int32_t *labels = realloc(r->labels, r->n * sizeof *labels);
    d->x_f32 = x ? x : r->x;
    d->labels = labels ? labels : r->labels;
    r->x = NULL;
    r->labels = NULL;
    d->n = r->n;
    d->features = r->features;
    d->classes = mlp_io_classes_from_labels(d->labels, d->n);
    d->csv_header = c->seen_header;
    *out = d;
    return MLP_OK;
}

mlp_status mlp_dataset_load_csv(const char *path, int scale_255, const mlp_load_opts *o,
                                mlp_dataset **out, mlp_error *err) {
    char full[4096], *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    csv_reader c = {.scale_255 = scale_255};

    if (!out) return mlp_io_fail(err, MLP_EINVAL, "load_csv: no output pointer");
    *out = NULL;
    if (!path) return mlp_io_fail(err, MLP_EINVAL, "load_csv: no path");
    c.name = mlp_io_shown(o, path);
    c.rows.max_bytes = mlp_io_max_bytes(o);
    if (mlp_io_path(o, path, full, sizeof full) != 0)
        return mlp_io_fail(err, MLP_EINVAL, "%s: path too long", c.name);
    FILE *f = fopen(full, "r");
    if (!f) return mlp_io_fail(err, MLP_EIO, "%s: cannot open: %s", c.name, strerror(errno));
    c.vals = malloc(CSV_MAX_CELLS * sizeof *c.vals);
    mlp_status s = c.vals ? MLP_OK : mlp_io_fail(err, MLP_ENOMEM, "load_csv: out of memory");
    while (s == MLP_OK && (len = getline(&line, &line_cap, f)) >= 0) {
        c.line_no++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        s = take_line(&c, line, (size_t)len, err);
    }
    if (s == MLP_OK && ferror(f))
        s = mlp_io_fail(err, MLP_EIO, "%s: read failed: %s", c.name, strerror(errno));
    if (s == MLP_OK) s = finish(&c, out, err);
    free(c.rows.x);
    free(c.rows.labels);
    free(c.vals);
    free(line);
    fclose(f);
    return s;
}
