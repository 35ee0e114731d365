/* dataset.c - data set lifetime, batch gathering, the data set name rule,
 * the MNIST folder layout, and loading or probing a data set by path (a
 * folder in that layout or a CSV file). The file formats themselves are read
 * by idx.c and csv.c, which know nothing of this file (io_internal.h).
 */
/* GCC's -O2 vectorises only loops whose trip count is a known multiple of
 * the vector width ("very-cheap" cost model): the gather's conversion loop
 * needs the dynamic model. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_internal.h"

/* ---- lifetime and gathering ---------------------------------------------------- */

void mlp_dataset_free(mlp_dataset *d) {
    if (!d) return;
    free(d->x_u8);
    free(d->x_f32);
    free(d->labels);
    free(d);
}

void mlp_dataset_gather(const mlp_dataset *d, const uint32_t *idx, int count, float *x,
                        int32_t *y) {
    size_t f = (size_t)d->features;
    if (d->x_u8) {
        /* Rows are picked at random from a set much larger than the caches,
         * so the cost is the misses: each row's bytes are requested a few rows
         * ahead. The division (not a multiplication by 1/255, which differs in
         * the last bit for half of the byte values) vectorises; 128 rows of
         * 784 take ~30 us instead of ~100 us with a lookup table. */
        enum { AHEAD = 3 };
        for (int i = 0; i < count; i++) {
            if (i + AHEAD < count) {
                const char *next = (const char *)(d->x_u8 + (size_t)idx[i + AHEAD] * f);
                for (size_t k = 0; k < f; k += 64) __builtin_prefetch(next + k);
            }
            const uint8_t *restrict src = d->x_u8 + (size_t)idx[i] * f;
            float *restrict dst = x + (size_t)i * f;
            for (size_t j = 0; j < f; j++) dst[j] = (float)src[j] / 255.0f;
        }
    } else {
        for (int i = 0; i < count; i++)
            memcpy(x + (size_t)i * f, d->x_f32 + (size_t)idx[i] * f, f * sizeof(float));
    }
    if (y)
        for (int i = 0; i < count; i++) y[i] = d->labels[idx[i]];
}

/* ---- names and the MNIST layout ---------------------------------------------------- */

uint64_t mlp_dataset_bytes(uint64_t n, int features, int pixels_u8) {
    return n * (uint64_t)(features > 0 ? features : 0) * (pixels_u8 ? 1u : 4u) +
           n * sizeof(int32_t);
}

int mlp_dataset_name_ok(const char *s, size_t len) {
    if (!s || len == 0 || len > 64 || s[0] == '.') return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *const mnist_names[MLP_MNIST_FILES] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte"};

const char *mlp_mnist_file_name(mlp_mnist_file f) {
    return (int)f >= 0 && f < MLP_MNIST_FILES ? mnist_names[f] : "?";
}

int mlp_mnist_file_from_name(const char *name) {
    for (int i = 0; name && i < MLP_MNIST_FILES; i++) {
        size_t n = strlen(mnist_names[i]);
        if (!strncmp(name, mnist_names[i], n) && (!name[n] || !strcmp(name + n, ".gz"))) return i;
    }
    return -1;
}

int mlp_mnist_find(const mlp_load_opts *o, const char *dir, mlp_mnist_file f, char *path,
                   size_t cap) {
    static const char *const suffixes[] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        char full[4096];
        struct stat st;
        int n = snprintf(path, cap, "%s/%s%s", dir, mlp_mnist_file_name(f), suffixes[i]);
        if (n > 0 && (size_t)n < cap && mlp_io_path(o, path, full, sizeof full) == 0 &&
            stat(full, &st) == 0 && S_ISREG(st.st_mode))
            return 0;
    }
    return -1;
}

/* ---- loading by path -------------------------------------------------------------- */

/* The images and labels files of a split of folder dir (relative to o's base). */
static mlp_status find_pair(const mlp_load_opts *o, const char *dir, int test, char *img, char *lab,
                            size_t cap, mlp_error *err) {
    mlp_mnist_file fi = test ? MLP_MNIST_TEST_IMAGES : MLP_MNIST_TRAIN_IMAGES;
    if (mlp_mnist_find(o, dir, fi, img, cap) != 0)
        return mlp_io_fail(err, MLP_EIO, "%s: no %s or %s.gz in this folder", dir,
                           mlp_mnist_file_name(fi), mlp_mnist_file_name(fi));
    if (mlp_mnist_find(o, dir, fi + 1, lab, cap) != 0)
        return mlp_io_fail(err, MLP_EIO, "%s: no %s or %s.gz in this folder", dir,
                           mlp_mnist_file_name(fi + 1), mlp_mnist_file_name(fi + 1));
    return MLP_OK;
}

/* What path is: 1 a folder, 0 a regular file (a CSV file), or an error for a
 * bad split or anything else. */
static mlp_status path_kind(const mlp_load_opts *o, const char *path, const char *split,
                            int *is_dir, mlp_error *err) {
    char full[4096];
    struct stat st;
    if (!path || !split) return mlp_io_fail(err, MLP_EINVAL, "load: path and split are required");
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        return mlp_io_fail(err, MLP_EINVAL, "unknown split \"%s\" (expected train or test)", split);
    if (mlp_io_path(o, path, full, sizeof full) != 0)
        return mlp_io_fail(err, MLP_EINVAL, "%s: path too long", path);
    if (stat(full, &st) != 0) return mlp_io_fail(err, MLP_EIO, "%s: %s", path, strerror(errno));
    *is_dir = S_ISDIR(st.st_mode);
    if (!*is_dir && !S_ISREG(st.st_mode))
        return mlp_io_fail(err, MLP_EINVAL, "%s: neither a folder nor a regular file", path);
    if (!*is_dir && strcmp(split, "train") != 0)
        return mlp_io_fail(err, MLP_EINVAL,
                           "%s: a CSV file has only the split \"train\", not \"%s\"", path, split);
    return MLP_OK;
}

/* A CSV file is loaded with its features as they are (no 1/255 scaling): a
 * caller who knows its CSV holds 0..255 pixels calls mlp_dataset_load_csv()
 * with scale_255 set. */
mlp_status mlp_dataset_load_path(const char *path, const char *split, const mlp_load_opts *o,
                                 mlp_dataset **out, mlp_error *err) {
    char img[4096], lab[4096];
    int is_dir = 0;
    if (!out) return mlp_io_fail(err, MLP_EINVAL, "load: no output pointer");
    *out = NULL;
    mlp_status s = path_kind(o, path, split, &is_dir, err);
    if (s != MLP_OK) return s;
    mlp_load_opts one = {o ? o->base_dir : NULL, NULL, mlp_io_max_bytes(o)};
    if (!is_dir) return mlp_dataset_load_csv(path, 0, &one, out, err);
    s = find_pair(&one, path, strcmp(split, "test") == 0, img, lab, sizeof img, err);
    return s == MLP_OK ? mlp_dataset_load_idx(img, lab, &one, out, err) : s;
}

/* Rows of a CSV file: read whole (CSV sets are small), then copied. */
static mlp_status csv_rows(const char *path, const uint32_t *rows, int count,
                           const mlp_load_opts *o, mlp_dataset **out, size_t *total,
                           mlp_error *err) {
    mlp_dataset *all = NULL;
    mlp_status s = mlp_dataset_load_csv(path, 0, o, &all, err);
    if (s != MLP_OK) return s;
    int take = mlp_io_row_count(rows, count, all->n);
    size_t f = (size_t)all->features;
    s = mlp_io_rows_check(rows, take, all->n, err);
    mlp_dataset *d = s == MLP_OK ? calloc(1, sizeof *d) : NULL;
    if (d) d->x_f32 = malloc(((size_t)take * f + 1) * sizeof *d->x_f32);
    if (d) d->labels = malloc(((size_t)take + 1) * sizeof *d->labels);
    if (s == MLP_OK && (!d || !d->x_f32 || !d->labels))
        s = mlp_io_fail(err, MLP_ENOMEM, "load_rows: out of memory");
    for (int k = 0; s == MLP_OK && k < take; k++) {
        uint32_t row = (uint32_t)mlp_io_row(rows, take, all->n, k);
        mlp_dataset_gather(all, &row, 1, d->x_f32 + (size_t)k * f, d->labels + k);
    }
    if (s == MLP_OK) {
        d->n = (size_t)take;
        d->features = all->features;
        d->classes = all->classes;
        d->csv_header = all->csv_header;
        *total = all->n;
        *out = d;
    } else {
        mlp_dataset_free(d);
    }
    mlp_dataset_free(all);
    return s;
}

mlp_status mlp_dataset_load_rows(const char *path, const char *split, const uint32_t *rows,
                                 int count, const mlp_load_opts *o, mlp_dataset **out,
                                 size_t *total, mlp_error *err) {
    char img[4096], lab[4096];
    int is_dir = 0;
    if (!out || !total) return mlp_io_fail(err, MLP_EINVAL, "load_rows: no output pointer");
    *out = NULL;
    mlp_status s = path_kind(o, path, split, &is_dir, err);
    if (s != MLP_OK) return s;
    mlp_load_opts one = {o ? o->base_dir : NULL, NULL, mlp_io_max_bytes(o)};
    if (!is_dir) return csv_rows(path, rows, count, &one, out, total, err);
    s = find_pair(&one, path, strcmp(split, "test") == 0, img, lab, sizeof img, err);
    return s == MLP_OK ? mlp_idx_load_rows(img, lab, rows, count, &one, out, total, err) : s;
}

/* ---- probing ------------------------------------------------------------------------ */

/* One split of an MNIST folder: the images header, the labels read through. */
static mlp_status probe_split(const mlp_load_opts *o, const char *dir, int test, uint32_t *n,
                              int *features, int *classes, mlp_error *err) {
    char img[4096], lab[4096];
    mlp_idx_info ii, li;
    mlp_status s = find_pair(o, dir, test, img, lab, sizeof img, err);
    if (s == MLP_OK) s = mlp_idx_check(img, 0, 0, o, &ii, err);
    if (s == MLP_OK) s = mlp_idx_check(lab, 1, 1, o, &li, err);
    if (s == MLP_OK && ii.count != li.count)
        s = mlp_io_fail(err, MLP_EFORMAT, "%s holds %u images but %s holds %u labels", img,
                        (unsigned)ii.count, lab, (unsigned)li.count);
    *n = ii.count;
    *features = ii.features;
    *classes = li.classes;
    return s;
}

static mlp_status probe_folder(const mlp_load_opts *o, const char *dir, mlp_dataset_info *info,
                               mlp_error *err) {
    uint32_t n = 0, n_test = 0;
    int features = 0, classes = 0, test_features = 0, test_classes = 0;
    char p[4096];
    mlp_status s = probe_split(o, dir, 0, &n, &features, &classes, err);
    int has_test = mlp_mnist_find(o, dir, MLP_MNIST_TEST_IMAGES, p, sizeof p) == 0 ||
                   mlp_mnist_find(o, dir, MLP_MNIST_TEST_LABELS, p, sizeof p) == 0;
    if (s == MLP_OK && has_test)
        s = probe_split(o, dir, 1, &n_test, &test_features, &test_classes, err);
    if (s == MLP_OK && has_test && test_features != features)
        s = mlp_io_fail(err, MLP_EFORMAT, "%s: test images have %d values, train images %d", dir,
                        test_features, features);
    info->idx = 1;
    info->n_train = n;
    info->n_test = n_test;
    info->features = features;
    info->classes = classes > test_classes ? classes : test_classes;
    info->mem_bytes = mlp_dataset_bytes(n, features, 1) + mlp_dataset_bytes(n_test, features, 1);
    if (s == MLP_OK && info->mem_bytes > mlp_io_max_bytes(o))
        s = mlp_io_fail(err, MLP_ETOOBIG, "%s: %llu bytes in memory; the limit is %llu", dir,
                        (unsigned long long)info->mem_bytes,
                        (unsigned long long)mlp_io_max_bytes(o));
    return s;
}

mlp_status mlp_dataset_probe(const char *path, const mlp_load_opts *o, mlp_dataset_info *info,
                             mlp_error *err) {
    int is_dir = 0;
    if (!info) return mlp_io_fail(err, MLP_EINVAL, "probe: no output pointer");
    memset(info, 0, sizeof *info);
    mlp_status s = path_kind(o, path, "train", &is_dir, err);
    if (s != MLP_OK) return s;
    if (is_dir) return probe_folder(o, path, info, err);
    mlp_dataset *d = NULL;
    s = mlp_dataset_load_csv(path, 0, o, &d, err);
    if (s != MLP_OK) return s;
    info->n_train = d->n;
    info->features = d->features;
    info->classes = d->classes;
    info->csv_header = d->csv_header;
    info->mem_bytes = mlp_dataset_bytes(d->n, d->features, 0);
    mlp_dataset_free(d);
    return MLP_OK;
}

int mlp_dataset_mean(const mlp_dataset *d, float *mean) {
    size_t f = (size_t)d->features;
    if (d->n == 0) return -1;
    double *sum = calloc(f, sizeof *sum);
    if (!sum) return -1;
    for (size_t i = 0; i < d->n; i++) {
        if (d->x_u8) {
            const uint8_t *row = d->x_u8 + i * f;
            for (size_t j = 0; j < f; j++) sum[j] += row[j];
        } else {
            const float *row = d->x_f32 + i * f;
            for (size_t j = 0; j < f; j++) sum[j] += row[j];
        }
    }
    /* the same scaling as mlp_dataset_gather: bytes are divided by 255 */
    double scale = d->x_u8 ? 255.0 * (double)d->n : (double)d->n;
    for (size_t j = 0; j < f; j++) mean[j] = (float)(sum[j] / scale);
    free(sum);
    return 0;
}
