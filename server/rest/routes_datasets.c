/* routes_datasets.c - GET /datasets, GET /datasets/{name}, POST /datasets (CSV
 * upload), PUT /datasets/{name}/files/{file} (IDX upload, one file at a time).
 *
 * An upload is written to a temporary file inside the data dir, validated by
 * loading it with the engine's CSV reader, then linked into place as
 * <data dir>/<name>.csv only when valid; link(2) refuses an existing name, so
 * two uploads of one name cannot overwrite each other. Names are restricted
 * to [A-Za-z0-9_-][A-Za-z0-9._-]{0,63}: no '/', no leading dot, so the file
 * can never land outside the data dir.
 *
 * IDX files go into <data dir>/<name>/ under one of the eight standard MNIST
 * names (the body decides plain or gzip; the name's ".gz" only names it).
 * Each file is checked alone (magic of its kind), then with its partner when
 * that is present; once the train pair (and the test pair, if either test
 * file is there) loads together, the folder is registered as a data set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "router.h"
#include "views.h"

static int dataset_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void route_datasets_list(app *a, const http_request *req, http_response *res) {
    (void)req;
    store_dataset *list = NULL;
    size_t n = 0;
    mlpd_error se = {0};
    if (route_store_check(store_dataset_list(a->st, &list, &n, &se), &se, res, "no data sets") != 0)
        return;
    http_reply_json(res, 200, view_dataset_list(list, n));
    store_dataset_list_free(list, n);
}

/* Answer with dataset `name` (status on success). */
static void reply_dataset(app *a, const char *name, int status, http_response *res) {
    store_dataset d;
    mlpd_error se = {0};
    int rc = dataset_name_ok(name) ? store_dataset_get(a->st, name, &d, &se) : MLPD_ENOTFOUND;
    if (route_store_check(rc, &se, res, "no data set named '%s'", name) != 0) return;
    http_reply_json(res, status, view_dataset(&d));
    store_dataset_clear(&d);
}

void route_dataset_get(app *a, const http_request *req, http_response *res) {
    reply_dataset(a, req->params[0], 200, res);
}

/* Write body to a new temporary file in dir; its path into tmp. 0, or the
 * errno of the first failure (the temporary is then removed). */
static int write_temp(const char *dir, const char *body, size_t len, char *tmp, size_t cap) {
    snprintf(tmp, cap, "%s/.upload-XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) return errno;
    size_t off = 0;
    int e = 0;
    while (off < len && !e) {
        ssize_t w = write(fd, body + off, len - off);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EINTR)
            e = errno;
        else if (w == 0)
            e = ENOSPC; /* write(2) returns 0 for no room on some file systems */
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (e) unlink(tmp);
    return e;
}

/* A file-system failure e while storing an upload: 507 when the disk (or
 * the quota) is full, 500 otherwise. what: "write into", "place". */
static void reply_write_failed(http_response *res, int e, const char *what) {
    if (e == ENOSPC || e == EDQUOT)
        route_reply_error(res, MLPD_ENOSPC, NULL, NULL,
                          "the disk is full: cannot %s the data dir (%s)", what, strerror(e));
    else
        route_reply_error(res, MLPD_EIO, NULL, NULL, "cannot %s the data dir: %s", what,
                          strerror(e));
}

void route_dataset_upload(app *a, const http_request *req, http_response *res) {
    const char *name = http_query(req, "name");
    if (!name || !dataset_name_ok(name)) {
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter 'name' must match [A-Za-z0-9_-][A-Za-z0-9._-]{0,63}; "
                           "got '%s'",
                           name ? name : "(none)");
        return;
    }
    const char *scale = http_query(req, "scale");
    if (scale && strcmp(scale, "1")) {
        /* The trainer reads CSV features as they are (the store keeps no scale),
         * so only unscaled uploads are accepted: divide by 255 before sending. */
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter 'scale' supports only 1 (send features already "
                           "scaled); got '%s'",
                           scale);
        return;
    }
    const char *dir = a->cfg->data_dir;
    char final[1024], tmp[1100];
    snprintf(final, sizeof final, "%s/%s.csv", dir, name);
    store_dataset existing;
    int rc = store_dataset_get(a->st, name, &existing, NULL);
    if (rc == MLPD_OK) store_dataset_clear(&existing);
    struct stat sb;
    char folder[1024];
    snprintf(folder, sizeof folder, "%s/%s", dir, name);
    if (rc == MLPD_OK || stat(final, &sb) == 0 || stat(folder, &sb) == 0) {
        http_reply_problem(res, 409, "dataset-exists", NULL,
                           "a data set named '%s' exists already (data sets are immutable)", name);
        return;
    }
    int werr = write_temp(dir, req->body, req->body_len, tmp, sizeof tmp);
    if (werr != 0) {
        reply_write_failed(res, werr, "write into");
        return;
    }
    mlp_dataset *d = NULL;
    mlp_error me = {{0}};
    if (mlp_dataset_load_csv(tmp, 0, &d, &me) != MLP_OK) {
        unlink(tmp);
        http_reply_problem(res, 422, "invalid-csv", NULL, "the CSV was refused: %s", me.msg);
        return;
    }
    store_dataset rec = {.name = (char *)name,
                         .source = "upload",
                         .path = NULL,
                         .format = "csv",
                         .n_train = (int64_t)d->n,
                         .n_test = 0,
                         .features = d->features,
                         .classes = d->classes};
    mlp_dataset_free(d);
    char rel[80];
    snprintf(rel, sizeof rel, "%s.csv", name);
    rec.path = rel;
    if (link(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        if (e == EEXIST)
            http_reply_problem(res, 409, "dataset-exists", NULL,
                               "a data set named '%s' exists already", name);
        else
            reply_write_failed(res, e, "place the upload in");
        return;
    }
    unlink(tmp);
    mlpd_error se = {0};
    rc = store_dataset_put(a->st, &rec, NULL, &se);
    if (route_store_check(rc, &se, res, "no data set named '%s'", name) != 0) {
        unlink(final);
        return;
    }
    reply_dataset(a, name, 201, res);
    if (res->status == 201) http_set_header(res, "Location", "/datasets/%s", name);
}

/* ---- IDX upload ------------------------------------------------------------------------- */
static const char *const idx_bases[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

/* Index into idx_bases of an allowed file name (plain or .gz), -1 otherwise. */
static int idx_kind(const char *file) {
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(idx_bases[i]);
        if (!strncmp(file, idx_bases[i], n) && (!file[n] || !strcmp(file + n, ".gz"))) return i;
    }
    return -1;
}

/* dir/base or dir/base.gz, whichever exists, into path; 0 or -1. */
static int idx_present(const char *dir, int kind, char *path, size_t cap) {
    struct stat sb;
    snprintf(path, cap, "%s/%s", dir, idx_bases[kind]);
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return 0;
    snprintf(path, cap, "%s/%s.gz", dir, idx_bases[kind]);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? 0 : -1;
}

/* The first 4 bytes (through gzip when compressed) are the magic of its kind? */
static int idx_magic_ok(const char *path, int kind) {
    gzFile g = gzopen(path, "rb");
    if (!g) return 0;
    unsigned char m[4];
    int ok = gzread(g, m, 4) == 4 && m[0] == 0 && m[1] == 0 && m[2] == 8 &&
             m[3] == (kind % 2 == 0 ? 3 : 1);
    gzclose(g);
    return ok;
}

/* Load one split's pair from dir, with `kind`'s file taken from `override`. */
static mlp_status load_pair(const char *dir, int images_kind, int kind, const char *override,
                            mlp_dataset **out, mlp_error *err) {
    char img[1100], lab[1100];
    if (images_kind == kind)
        snprintf(img, sizeof img, "%s", override);
    else if (idx_present(dir, images_kind, img, sizeof img) != 0)
        return MLP_EIO;
    if (images_kind + 1 == kind)
        snprintf(lab, sizeof lab, "%s", override);
    else if (idx_present(dir, images_kind + 1, lab, sizeof lab) != 0)
        return MLP_EIO;
    return mlp_dataset_load_idx(img, lab, out, err);
}

/* Body of a DatasetUpload answer. */
static cJSON *upload_state(app *a, const char *name, const char *dir, int complete) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    char path[1100];
    for (int k = 0; k < 4; k++)
        if (idx_present(dir, k, path, sizeof path) == 0)
            cJSON_AddItemToArray(files, cJSON_CreateString(strrchr(path, '/') + 1));
    cJSON_AddBoolToObject(o, "complete", complete);
    store_dataset d;
    if (complete && store_dataset_get(a->st, name, &d, NULL) == MLPD_OK) {
        cJSON_AddItemToObject(o, "dataset", view_dataset(&d));
        store_dataset_clear(&d);
    } else {
        cJSON_AddNullToObject(o, "dataset");
    }
    return o;
}

void route_dataset_file_upload(app *a, const http_request *req, http_response *res) {
    const char *name = req->params[0], *file = req->params[1];
    int kind = idx_kind(file);
    if (!dataset_name_ok(name) || kind < 0) {
        http_reply_problem(
            res, 404, "not-found", NULL,
            "no upload slot %s: the name must match [A-Za-z0-9_-][A-Za-z0-9._-]{0,63} "
            "and the file be one of the MNIST names (plain or .gz)",
            req->path);
        return;
    }
    char dir[1024], csv[1024], tmp[1100];
    snprintf(dir, sizeof dir, "%s/%s", a->cfg->data_dir, name);
    snprintf(csv, sizeof csv, "%s/%s.csv", a->cfg->data_dir, name);
    store_dataset existing;
    struct stat sb;
    if (store_dataset_get(a->st, name, &existing, NULL) == MLPD_OK) {
        store_dataset_clear(&existing);
        http_reply_problem(res, 409, "dataset-exists", NULL,
                           "data set '%s' is registered already (data sets are immutable)", name);
        return;
    }
    if (stat(csv, &sb) == 0 || (mkdir(dir, 0755) != 0 && errno != EEXIST) || stat(dir, &sb) != 0 ||
        !S_ISDIR(sb.st_mode)) {
        http_reply_problem(res, 409, "dataset-exists", NULL,
                           "'%s' is taken in the data dir by something that is not an IDX folder",
                           name);
        return;
    }
    int werr = write_temp(dir, req->body, req->body_len, tmp, sizeof tmp);
    if (werr != 0) {
        reply_write_failed(res, werr, "write into");
        return;
    }
    if (!idx_magic_ok(tmp, kind)) {
        unlink(tmp);
        http_reply_problem(res, 422, "invalid-idx", NULL, "%s is not an IDX %s file", file,
                           kind % 2 == 0 ? "images (magic 0x00000803)"
                                         : "labels (magic 0x00000801)");
        return;
    }
    /* With its partner present, the two must read together. */
    int images_kind = kind - kind % 2;
    char partner[1100];
    mlp_dataset *pair = NULL;
    mlp_error me = {{0}};
    if (idx_present(dir, kind % 2 ? images_kind : images_kind + 1, partner, sizeof partner) == 0 &&
        load_pair(dir, images_kind, kind, tmp, &pair, &me) != MLP_OK) {
        unlink(tmp);
        http_reply_problem(res, 422, "invalid-idx", NULL, "%s does not fit its partner: %s", file,
                           me.msg);
        return;
    }
    mlp_dataset_free(pair);
    /* Place it, dropping the other spelling (plain/.gz) of the same file. */
    char final[1100], other[1100];
    snprintf(final, sizeof final, "%s/%s", dir, file);
    size_t blen = strlen(idx_bases[kind]);
    snprintf(other, sizeof other, "%s/%s%s", dir, idx_bases[kind], file[blen] ? "" : ".gz");
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        reply_write_failed(res, e, "place the upload in");
        return;
    }
    unlink(other);
    /* Complete? The train pair, and the test pair when either test file is there. */
    char p[1100];
    int has_train = idx_present(dir, 0, p, sizeof p) == 0 && idx_present(dir, 1, p, sizeof p) == 0;
    int n_test_files =
        (idx_present(dir, 2, p, sizeof p) == 0) + (idx_present(dir, 3, p, sizeof p) == 0);
    int complete = 0, store_full = 0, store_locked = 0;
    if (has_train && n_test_files != 1) {
        mlp_dataset *train = NULL, *test = NULL;
        if (mlp_dataset_load_path(dir, "train", &train, &me) == MLP_OK &&
            (n_test_files == 0 || mlp_dataset_load_path(dir, "test", &test, &me) == MLP_OK)) {
            if (test && test->features != train->features) {
                snprintf(me.msg, sizeof me.msg, "test images have %d values, train images %d",
                         test->features, train->features);
            } else {
                store_dataset rec = {.name = (char *)name,
                                     .source = "upload",
                                     .path = (char *)name,
                                     .format = "idx",
                                     .n_train = (int64_t)train->n,
                                     .n_test = test ? (int64_t)test->n : 0,
                                     .features = train->features,
                                     .classes = test && test->classes > train->classes
                                                    ? test->classes
                                                    : train->classes};
                mlpd_error se = {0};
                if (store_dataset_put(a->st, &rec, NULL, &se) == MLPD_OK)
                    complete = 1;
                else
                    snprintf(me.msg, sizeof me.msg, "store: %.240s", se.msg);
                store_full = !complete && se.code == MLPD_ENOSPC;
                store_locked = !complete && se.code == MLPD_ELOCKED;
            }
        }
        mlp_dataset_free(train);
        mlp_dataset_free(test);
        if (store_locked) { /* the file stays: the same PUT registers the set later */
            route_reply_error(res, MLPD_ELOCKED, NULL, NULL,
                              "the files are stored but the data set cannot be registered: %s",
                              me.msg);
            return;
        }
        if (store_full) { /* the file stays: the same PUT registers the set once there is room */
            route_reply_error(res, MLPD_ENOSPC, NULL, NULL,
                              "the files are stored but the data set cannot be registered: %s",
                              me.msg);
            return;
        }
        if (!complete) {
            http_reply_problem(res, 422, "invalid-idx", NULL,
                               "the files are stored but do not make a data set yet: %s", me.msg);
            return;
        }
    }
    http_reply_json(res, 201, upload_state(a, name, dir, complete));
}
