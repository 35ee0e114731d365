/* mlp_data.h - part of mlp.h: data sets: IDX and CSV readers, MNIST folders, probing, sampling.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_DATA_H
#define MLP_DATA_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* ---- data sets ----------------------------------------------------------------- */
/* A labelled set held compactly: pixels as uint8 (scaled by 1/255 when a
 * batch is gathered) or features as float32. Exactly one of x_u8 / x_f32 is set. */
typedef struct {
    size_t n;        /* samples */
    int features;    /* values per sample */
    int classes;     /* 1 + the largest label (at least 2), or as declared */
    uint8_t *x_u8;   /* n * features, or NULL */
    float *x_f32;    /* n * features, or NULL */
    int32_t *labels; /* n, each in [0, classes) */
    int csv_header;  /* CSV only: 1 when the first non-blank line was a header */
} mlp_dataset;

/* Sizes the readers refuse before allocating anything. */
#define MLP_MAX_SAMPLES  10000000u
#define MLP_MAX_FEATURES MLP_MAX_INPUT
/* Largest data set a reader builds in memory unless told otherwise: what
 * mlp_dataset_bytes() counts, i.e. the decoded size, not the file size. */
#define MLP_DATASET_MAX_BYTES_DEFAULT (2ull << 30)

/* Bytes a data set of n samples takes in memory (values, one byte each for
 * pixels or four for float features, plus the int32 labels). */
uint64_t mlp_dataset_bytes(uint64_t n, int features, int pixels_u8);

/* How the readers find files and how much they may build. Pass NULL for the
 * defaults (paths as given, MLP_DATASET_MAX_BYTES_DEFAULT). */
typedef struct {
    /* NULL, or the folder that relative paths are taken from. Messages then
     * name files by the relative path only: a daemon passes its data folder
     * here so that no error it forwards shows where that folder is. */
    const char *base_dir;
    /* Single-file readers (mlp_dataset_load_csv, mlp_idx_check): the name
     * messages give the file instead of its path (an upload's name rather
     * than its temporary file); NULL for the path. */
    const char *shown_as;
    /* Refuse (MLP_ETOOBIG) a data set whose decoded size (mlp_dataset_bytes)
     * would exceed this, before allocating it; 0 for the default. */
    uint64_t max_bytes;
} mlp_load_opts;

/* Data set names, the one rule every layer applies: 1 to 64 characters of
 * [A-Za-z0-9._-], not starting with '.' (so never hidden, never "." or "..",
 * never a path). 1 when name[0..len-1] is one. */
int mlp_dataset_name_ok(const char *name, size_t len);

/* The MNIST folder layout: a data set folder holds these four files, each
 * either plain or with ".gz" appended (gzip; decided by content, not name). */
typedef enum {
    MLP_MNIST_TRAIN_IMAGES, /* train-images-idx3-ubyte */
    MLP_MNIST_TRAIN_LABELS, /* train-labels-idx1-ubyte */
    MLP_MNIST_TEST_IMAGES,  /* t10k-images-idx3-ubyte */
    MLP_MNIST_TEST_LABELS,  /* t10k-labels-idx1-ubyte */
    MLP_MNIST_FILES
} mlp_mnist_file;
/* The file's name without ".gz" (static). */
const char *mlp_mnist_file_name(mlp_mnist_file f);
/* Which file `name` is (one of the four, plain or with ".gz"), or -1. */
int mlp_mnist_file_from_name(const char *name);
/* 1 for the two label files, 0 for the image files. */
#define MLP_MNIST_IS_LABELS(f) ((int)(f) % 2 == 1)
/* Write dir/NAME, or dir/NAME.gz when only that is a regular file, into
 * path (cap bytes); dir is relative to o->base_dir when that is set, and so
 * is the result. 0 when one exists, -1 otherwise (or when it does not fit). */
int mlp_mnist_find(const mlp_load_opts *o, const char *dir, mlp_mnist_file f, char *path,
                   size_t cap);

/* One IDX file's header, and what a full check learned. */
typedef struct {
    int labels;          /* 1: idx1 ubyte labels, 0: idx3 ubyte images */
    uint32_t count;      /* samples the header declares */
    uint32_t rows, cols; /* images only */
    int features;        /* rows * cols for images, 0 for labels */
    int classes;         /* labels after a full check: 1 + the largest (at least 2) */
    int gzip;            /* the file is gzip-compressed */
} mlp_idx_info;

/* Check one IDX file (labels = 1 for idx1 labels, 0 for idx3 images):
 * magic, header, and that what the header declares is within the limits
 * (MLP_MAX_SAMPLES, MLP_MAX_FEATURES, o->max_bytes: MLP_ETOOBIG) and can be
 * in the file at all (a plain file's length; gzip's best ratio, 1032:1).
 * With full set, also read the body as a stream, in constant memory, and
 * check that it holds exactly the declared bytes and that a gzip stream is
 * whole (its CRC-32 and length trailer). Messages name the file as
 * o->shown_as or its (relative) path. */
mlp_status mlp_idx_check(const char *path, int labels, int full, const mlp_load_opts *o,
                         mlp_idx_info *info, mlp_error *err);

/* Read a pair of IDX files (idx3 ubyte images, idx1 ubyte labels), each plain
 * or gzip-compressed (decided by content, not by name). Checks magic, dims,
 * counts against each other, against the real file length and against
 * o->max_bytes before allocating. */
mlp_status mlp_dataset_load_idx(const char *images_path, const char *labels_path,
                                const mlp_load_opts *o, mlp_dataset **out, mlp_error *err);

/* Read a CSV file: one sample per line, label first (an integer >= 0), then
 * the features. A UTF-8 byte order mark is skipped. The first non-blank line
 * is a header when its first cell (the label column) is not a number; any
 * other line, the first included, must parse whole or is an error naming
 * its line and column: no row is ever dropped. d->csv_header says whether a
 * header was found. With scale_255 non-zero, features are divided by 255.
 * Every row has the same number of cells; blank lines are skipped. */
mlp_status mlp_dataset_load_csv(const char *path, int scale_255, const mlp_load_opts *o,
                                mlp_dataset **out, mlp_error *err);

/* Load split "train" or "test" of `path`: a folder in the MNIST layout, or a
 * CSV file (whose only split is "train"; "test" gives MLP_EINVAL). */
mlp_status mlp_dataset_load_path(const char *path, const char *split, const mlp_load_opts *o,
                                 mlp_dataset **out, mlp_error *err);

/* What a data set is, learned without holding it: sizes from the IDX
 * headers and a full read of the label files (images are not read), or for
 * a CSV file from reading it. */
typedef struct {
    int idx;            /* 1: MNIST folder, 0: CSV file */
    uint64_t n_train;   /* samples of the train split */
    uint64_t n_test;    /* of the test split (0 when there is none) */
    int features;       /* values per sample */
    int classes;        /* over both splits */
    int csv_header;     /* CSV: a header line was found */
    uint64_t mem_bytes; /* mlp_dataset_bytes of both splits */
} mlp_dataset_info;

/* Fill *info for `path` (a folder in the MNIST layout, whose test pair is
 * optional but whole when present, or a CSV file). Refuses what the readers
 * would refuse, including a decoded size over o->max_bytes. */
mlp_status mlp_dataset_probe(const char *path, const mlp_load_opts *o, mlp_dataset_info *info,
                             mlp_error *err);

/* Load some samples of a split as a new small data set without loading the
 * split whole (IDX: only those rows are decoded). rows[0..count-1] are row
 * numbers of the split, in any order, repeats allowed: row k of the result
 * is rows[k]. With rows NULL, `count` evenly spaced ones are taken instead:
 * row k is floor(k * N / count), count capped at N. N, the split's size, goes
 * to *total; a listed row >= N is MLP_EINVAL naming it. */
mlp_status mlp_dataset_load_rows(const char *path, const char *split, const uint32_t *rows,
                                 int count, const mlp_load_opts *o, mlp_dataset **out,
                                 size_t *total, mlp_error *err);

void mlp_dataset_free(mlp_dataset *d);

/* mean (features) = each feature's mean over the rows, scaled as
 * mlp_dataset_gather scales it. 0, or -1 for an empty set or no memory. */
int mlp_dataset_mean(const mlp_dataset *d, float *mean);

/* Copy rows idx[0..count-1] of d, as floats (scaled), into x (count, features);
 * labels into y if y is not NULL. */
void mlp_dataset_gather(const mlp_dataset *d, const uint32_t *idx, int count, float *x, int32_t *y);

#endif /* MLP_DATA_H */
