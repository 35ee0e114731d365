/* io_internal.h - private to engine/: what the data and model file readers
 * share. Not part of the public API (mlp.h).
 *
 * Dependencies run one way only: dataset.c (folders, probing, the name rule)
 * calls the readers idx.c and csv.c through mlp.h and the entry points
 * below; every reader (and modelfile.c) uses io.c's helpers; io.c uses
 * nothing of the others.
 */
#ifndef MLP_IO_INTERNAL_H
#define MLP_IO_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "mlp.h"

/* ---- little-endian encoding (model files, checkpoints) ---------------------------- */
static inline unsigned char *mlp_put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
    return p + 4;
}
static inline uint32_t mlp_get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint32_t mlp_float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float mlp_bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- io.c ---------------------------------------------------------------------- */

/* Format a one-line message into err->msg (when err is not NULL) and return
 * `status`, so a caller can write `return mlp_io_fail(err, MLP_EFORMAT, ...)`. */
mlp_status mlp_io_fail(mlp_error *err, mlp_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As mlp_io_fail, but keeps the message already in err->msg and puts
 * "<prefix>: " in front of it (e.g. the file name). */
mlp_status mlp_io_prefix(mlp_error *err, mlp_status status, const char *prefix);

/* 1 + the largest of n labels, at least 2 (a classifier needs two classes).
 * Labels are assumed >= 0. */
int mlp_io_classes_from_labels(const int32_t *labels, size_t n);

/* The path to open for `path` under o: o->base_dir/path when a base is set
 * and path is relative, else path. 0, or -1 when it does not fit in cap. */
int mlp_io_path(const mlp_load_opts *o, const char *path, char *buf, size_t cap);

/* o->max_bytes, or MLP_DATASET_MAX_BYTES_DEFAULT when o is NULL or it is 0. */
uint64_t mlp_io_max_bytes(const mlp_load_opts *o);

/* The name messages give a single file read under o: o->shown_as or path. */
const char *mlp_io_shown(const mlp_load_opts *o, const char *path);

/* ---- idx.c, for dataset.c ------------------------------------------------------- */

/* mlp_dataset_load_rows for an IDX pair; rows are taken in increasing order
 * (seeking only forward through the streams) and put in their places. */
mlp_status mlp_idx_load_rows(const char *images_path, const char *labels_path, const uint32_t *rows,
                             int count, const mlp_load_opts *o, mlp_dataset **out, size_t *total,
                             mlp_error *err);

/* Row k of a selection of `count` rows of a split of n (rows NULL: evenly
 * spaced, count <= n). */
static inline size_t mlp_io_row(const uint32_t *rows, int count, size_t n, int k) {
    return rows ? rows[k] : (size_t)((uint64_t)k * n / (uint64_t)count);
}

/* The rows actually taken: count, or for an even spacing at most n. */
static inline int mlp_io_row_count(const uint32_t *rows, int count, size_t n) {
    return count < 1 ? 0 : rows || (size_t)count < n ? count : (int)n;
}

/* MLP_EINVAL naming the first listed row >= n, else MLP_OK. */
mlp_status mlp_io_rows_check(const uint32_t *rows, int count, size_t n, mlp_error *err);

#endif /* MLP_IO_INTERNAL_H */
