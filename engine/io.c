/* io.c - helpers every reader shares (io_internal.h): error messages, paths
 * under a base folder, the size limit. Uses nothing of the other readers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io_internal.h"

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

int mlp_io_path(const mlp_load_opts *o, const char *path, char *buf, size_t cap) {
    int n = o && o->base_dir && path[0] != '/' ? snprintf(buf, cap, "%s/%s", o->base_dir, path)
                                               : snprintf(buf, cap, "%s", path);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

uint64_t mlp_io_max_bytes(const mlp_load_opts *o) {
    return o && o->max_bytes ? o->max_bytes : MLP_DATASET_MAX_BYTES_DEFAULT;
}

const char *mlp_io_shown(const mlp_load_opts *o, const char *path) {
    return o && o->shown_as ? o->shown_as : path;
}

mlp_status mlp_io_rows_check(const uint32_t *rows, int count, size_t n, mlp_error *err) {
    for (int k = 0; rows && k < count; k++)
        if (rows[k] >= n)
            return mlp_io_fail(err, MLP_EINVAL, "index %u is beyond the split's %zu samples",
                               (unsigned)rows[k], n);
    return MLP_OK;
}
