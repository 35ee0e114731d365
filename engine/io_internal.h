/* io_internal.h - helpers shared by the engine's readers and writers
 * (idx.c, csv.c, dataset.c, modelfile.c). Private to engine/: not part of
 * the public API in mlp.h.
 */
#ifndef MLP_IO_INTERNAL_H
#define MLP_IO_INTERNAL_H

#include <stdint.h>

#include "mlp.h"

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

#endif /* MLP_IO_INTERNAL_H */
