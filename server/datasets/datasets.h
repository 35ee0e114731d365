/* datasets.h - the datasets the daemon knows besides uploads: those found in
 * its data folder at start. The file formats themselves (IDX, CSV, the MNIST
 * folder layout) are the engine's (mlp.h); this layer only registers what it
 * finds in the store. */
#ifndef MLPD_DATASETS_H
#define MLPD_DATASETS_H

#include <stddef.h>

#include "store.h"

/* Register the datasets found in data_dir (folders in the MNIST layout, *.csv
 * files) in the store, skipping any that would decode to more than
 * max_bytes. Returns how many (>= 0), or a negative mlpd_status with the
 * reason in err (MLPD_EIO: the folder cannot be read; the store's code: a
 * dataset cannot be registered). */
int datasets_scan(store *st, const char *data_dir, size_t max_bytes, mlpd_error *err);

/* The class names of the packaged sets (fashion-mnist, mnist-digits) as a
 * JSON array in label order; NULL for any other name. */
const char *datasets_known_class_names(const char *name);

/* "a,b,c" (the upload parameter ?classes=) as a JSON array of `classes`
 * names (malloc'ed), or NULL with why in err: a bad name or the wrong count. */
char *datasets_class_names_json(const char *list, int classes, char *err, size_t errlen);

#endif /* MLPD_DATASETS_H */
