/* dataset.c - data set lifetime, batch gathering, and loading a data set by
 * path (an MNIST-style folder of IDX files or a CSV file). The file formats
 * themselves are read by idx.c and csv.c. Also holds the small error helpers
 * of io_internal.h.
 */
/* GCC's -O2 vectorises only loops whose trip count is a known multiple of
 * the vector width ("very-cheap" cost model): the gather's conversion loop
 * needs the dynamic model. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_internal.h"
#include "mlp.h"

/* ---- error helpers ----------------------------------------------------------- */

mlp_status mlp_io_fail(mlp_error *err, mlp_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

mlp_status mlp_io_prefix(mlp_error *err, mlp_status status, const char *prefix) {
    if (err) {
        char old[sizeof err->msg];
        memcpy(old, err->msg, sizeof old);
        old[sizeof old - 1] = '\0';
        int n = snprintf(err->msg, sizeof err->msg, "%s: ", prefix);
        if (n > 0 && (size_t)n < sizeof err->msg - 1) {
            size_t keep = strnlen(old, sizeof err->msg - 1 - (size_t)n);
            memcpy(err->msg + n, old, keep);
            err->msg[(size_t)n + keep] = '\0';
        }
    }
    return status;
}

int mlp_io_classes_from_labels(const int32_t *labels, size_t n) {
    int32_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] > max) max = labels[i];
    return max + 1 < 2 ? 2 : (int)max + 1;
}

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

/* ---- loading by path -------------------------------------------------------------- */

/* Set `out` (size `cap`) to dir/name if that file exists, else dir/name.gz if
 * that exists. Returns 0 when found, -1 when neither exists or the path is
 * too long. */
static int find_idx_file(const char *dir, const char *name, char *out, size_t cap) {
    struct stat st;
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n > 0 && (size_t)n < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    n = snprintf(out, cap, "%s/%s.gz", dir, name);
    if (n > 0 && (size_t)n < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    return -1;
}

static mlp_status load_idx_folder(const char *dir, const char *split, mlp_dataset **out,
                                  mlp_error *err) {
    const int train = strcmp(split, "train") == 0;
    const char *img_name = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *lab_name = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    char img[4096], lab[4096];

    if (find_idx_file(dir, img_name, img, sizeof img) != 0)
        return mlp_io_fail(err, MLP_EIO, "%s: no %s or %s.gz in this folder", dir, img_name,
                           img_name);
    if (find_idx_file(dir, lab_name, lab, sizeof lab) != 0)
        return mlp_io_fail(err, MLP_EIO, "%s: no %s or %s.gz in this folder", dir, lab_name,
                           lab_name);
    return mlp_dataset_load_idx(img, lab, out, err);
}

/* A CSV file is loaded with its features as they are (no 1/255 scaling): a
 * caller who knows its CSV holds 0..255 pixels calls mlp_dataset_load_csv()
 * with scale_255 set. */
mlp_status mlp_dataset_load_path(const char *path, const char *split, mlp_dataset **out,
                                 mlp_error *err) {
    struct stat st;

    if (!out) return mlp_io_fail(err, MLP_EINVAL, "load: no output pointer");
    *out = NULL;
    if (!path || !split) return mlp_io_fail(err, MLP_EINVAL, "load: path and split are required");
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        return mlp_io_fail(err, MLP_EINVAL, "unknown split \"%s\" (expected train or test)", split);
    if (stat(path, &st) != 0) return mlp_io_fail(err, MLP_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return load_idx_folder(path, split, out, err);
    if (!S_ISREG(st.st_mode))
        return mlp_io_fail(err, MLP_EINVAL, "%s: neither a folder nor a regular file", path);
    if (strcmp(split, "train") != 0)
        return mlp_io_fail(err, MLP_EINVAL,
                           "%s: a CSV file has only the split \"train\", not \"%s\"", path, split);
    return mlp_dataset_load_csv(path, 0, out, err);
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
