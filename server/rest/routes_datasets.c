/* routes_datasets.c - GET /datasets, GET /datasets/{name}, POST /datasets (CSV
 * upload), PUT /datasets/{name}/files/{file} (IDX upload, one file at a time).
 *
 * Formats, the MNIST folder layout and the name rule are the engine's
 * (mlp.h); this file only places files and registers them. Files are read
 * under the data dir (mlp_load_opts.base_dir) and an upload's temporary is
 * shown by the name it is uploaded as, so no answer carries a server path.
 * Every read is bounded by --max-dataset-bytes (413 beyond it, before
 * anything that size is allocated) and done as a stream: a data set is never
 * held whole on an HTTP thread, which does work in proportion to the bytes
 * the client sent (gzip's best ratio is checked against the header first).
 *
 * An upload is written to a temporary file inside the data dir, validated,
 * then linked into place as <data dir>/<name>.csv only when valid; link(2)
 * refuses an existing name, so two uploads of one name cannot overwrite each
 * other. Names follow mlp_dataset_name_ok: no '/', no leading dot, so the
 * file can never land outside the data dir.
 *
 * IDX files go into <data dir>/<name>/ under one of the eight standard MNIST
 * names (the body decides plain or gzip; the name's ".gz" only names it).
 * Each file is checked whole on its own (mlp_idx_check: header, dimensions
 * against the bytes, gzip trailer), then its header against its partner's
 * when that is present; once the train pair (and the test pair, if either
 * test file is there) probes together, the folder is registered.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets.h"
#include "log.h"
#include "paging.h"
#include "router.h"
#include "views.h"

static int name_ok(const char *s) {
    return s && mlp_dataset_name_ok(s, strlen(s));
}

/* How the engine reads under the data dir; shown_as names a temporary. */
static mlp_load_opts load_opts(const app *a, const char *shown_as) {
    return (mlp_load_opts){
        .base_dir = a->cfg->data_dir, .shown_as = shown_as, .max_bytes = a->cfg->max_dataset_bytes};
}

/* The engine refused an upload: 413 over the size limit, else 422 `type`. */
static void reply_refused(http_response *res, mlp_status s, const char *type, const char *what,
                          const mlp_error *me) {
    if (s == MLP_ETOOBIG)
        http_reply_problem(res, 413, "dataset-too-large", NULL, "%s: %s (--max-dataset-bytes)",
                           what, me->msg);
    else
        http_reply_problem(res, 422, type, NULL, "%s: %s", what, me->msg);
}

/* Data sets are few (the data folder's): the page is cut from the whole
 * list, sorted by name, after the cursor's name. */
void route_datasets_list(app *a, const http_request *req, http_response *res) {
    route_page pg;
    if (route_page_parse(req, 1, &pg, res) != 0) return;
    store_dataset *list = NULL;
    size_t n = 0;
    mlpd_error se = {0};
    if (route_store_check(store_dataset_list(a->st, &list, &n, &se), &se, res, "no data sets") != 0)
        return;
    size_t from = 0;
    while (pg.has_cursor && from < n && strcmp(list[from].name, pg.cursor_name) <= 0) from++;
    from += (size_t)pg.offset < n - from ? (size_t)pg.offset : n - from;
    size_t shown = n - from < (size_t)pg.limit ? n - from : (size_t)pg.limit;
    cJSON *body = view_dataset_list(list + from, shown);
    cJSON_AddNumberToObject(body, "total", (double)n);
    cJSON_AddNumberToObject(body, "limit", (double)pg.limit);
    view_add_integer(body, "offset", pg.offset);
    route_page_next(req, &pg, NULL, from + shown < n ? list[from + shown - 1].name : NULL, body,
                    res);
    http_reply_json(res, 200, body);
    store_dataset_list_free(list, n);
}

/* Answer with dataset `name` (status on success); csv_header >= 0 adds
 * whether the upload had a header line. */
static void reply_dataset(app *a, const char *name, int status, int csv_header,
                          http_response *res) {
    store_dataset d;
    mlpd_error se = {0};
    int rc = name_ok(name) ? store_dataset_get(a->st, name, &d, &se) : MLPD_ENOTFOUND;
    if (route_store_check(rc, &se, res, "no data set named '%s'", name) != 0) return;
    cJSON *body = view_dataset(&d);
    if (body && csv_header >= 0) cJSON_AddBoolToObject(body, "header", csv_header);
    http_reply_json(res, status, body);
    store_dataset_clear(&d);
}

void route_dataset_get(app *a, const http_request *req, http_response *res) {
    reply_dataset(a, req->params[0], 200, -1, res);
}

/* Remove an uploaded set's files: its CSV, or its IDX folder's files and
 * the folder (nothing below it is a folder: uploads write only files). */
static void remove_upload_files(const char *data_dir, const store_dataset *d) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", data_dir, d->path);
    if (!strcmp(d->format, "csv")) {
        if (unlink(path) != 0) log_error("dataset %s: unlink: %s", d->name, strerror(errno));
        return;
    }
    DIR *dir = opendir(path);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        char file[1400];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (unlink(file) != 0) log_error("dataset %s: unlink: %s", d->name, strerror(errno));
    }
    if (dir) closedir(dir);
    if (rmdir(path) != 0) log_error("dataset %s: rmdir: %s", d->name, strerror(errno));
}

/* DELETE /datasets/{name}: only uploads are deleted (with their files); a
 * set found in the data folder would come back at the next start, so it is
 * a 409 saying where its files are. */
void route_dataset_delete(app *a, const http_request *req, http_response *res) {
    const char *name = req->params[0];
    store_dataset d;
    mlpd_error se = {0};
    int rc = name_ok(name) ? store_dataset_get(a->st, name, &d, &se) : MLPD_ENOTFOUND;
    if (route_store_check(rc, &se, res, "no data set named '%s'", name) != 0) return;
    if (!d.source || strcmp(d.source, "upload")) {
        http_reply_problem(res, 409, "dataset-not-uploaded", NULL,
                           "data set '%s' was found in the data folder (%s), not uploaded: remove "
                           "its files there",
                           name, d.source ? d.source : "?");
        store_dataset_clear(&d);
        return;
    }
    rc = store_dataset_delete(a->st, name, &se);
    if (route_store_check(rc, &se, res, "no data set named '%s'", name) == 0) {
        remove_upload_files(a->cfg->data_dir, &d);
        http_reply_take(res, 204, NULL, NULL, 0);
    }
    store_dataset_clear(&d);
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

/* Why `name` cannot be a new CSV data set (a 409 detail), or 0 when it can:
 * a data set of that name, or its file or folder in the data dir. A name
 * such as "a.csv" collides with the file of data set "a": say so. */
static int csv_name_taken(app *a, const char *name, char *why, size_t cap) {
    store_dataset d;
    struct stat sb;
    char path[1100], owner[72];
    if (store_dataset_get(a->st, name, &d, NULL) == MLPD_OK) {
        store_dataset_clear(&d);
        snprintf(why, cap, "a data set named '%s' exists already (data sets are immutable)", name);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s.csv", a->cfg->data_dir, name);
    if (stat(path, &sb) == 0) {
        snprintf(why, cap, "the data folder holds %s.csv already", name);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s", a->cfg->data_dir, name);
    if (stat(path, &sb) != 0) return 0;
    size_t n = strlen(name);
    snprintf(owner, sizeof owner, "%.*s", n > 4 ? (int)n - 4 : 0, name);
    if (S_ISREG(sb.st_mode) && n > 4 && !strcmp(name + n - 4, ".csv") &&
        store_dataset_get(a->st, owner, &d, NULL) == MLPD_OK) {
        store_dataset_clear(&d);
        snprintf(why, cap, "'%s' is the file of data set '%s': choose another name", name, owner);
    } else {
        snprintf(why, cap, "the data folder holds a %s named '%s' already",
                 S_ISDIR(sb.st_mode) ? "folder" : "file", name);
    }
    return 1;
}

void route_dataset_upload(app *a, const http_request *req, http_response *res) {
    const char *name = http_query(req, "name");
    if (!name_ok(name)) {
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
    char why[256], final[1100], tmp[1100], shown[80];
    if (csv_name_taken(a, name, why, sizeof why)) {
        http_reply_problem(res, 409, "dataset-exists", NULL, "%s", why);
        return;
    }
    int werr = write_temp(a->cfg->data_dir, req->body, req->body_len, tmp, sizeof tmp);
    if (werr != 0) {
        reply_write_failed(res, werr, "write into");
        return;
    }
    snprintf(shown, sizeof shown, "%s.csv", name);
    mlp_load_opts lo = load_opts(a, shown);
    mlp_dataset_info info;
    mlp_error me = {{0}};
    mlp_status s = mlp_dataset_probe(strrchr(tmp, '/') + 1, &lo, &info, &me);
    if (s != MLP_OK) {
        unlink(tmp);
        reply_refused(res, s, "invalid-csv", "the CSV was refused", &me);
        return;
    }
    /* ?classes=a,b,c: the labels' names, one per class in label order. */
    const char *classes = http_query(req, "classes");
    char *names = NULL;
    if (classes && !(names = datasets_class_names_json(classes, info.classes, why, sizeof why))) {
        unlink(tmp);
        http_reply_problem(res, 422, "invalid-query", NULL, "query parameter 'classes': %s", why);
        return;
    }
    store_dataset rec = {.name = (char *)name,
                         .source = "upload",
                         .path = shown,
                         .format = "csv",
                         .n_train = (int64_t)info.n_train,
                         .n_test = 0,
                         .features = info.features,
                         .classes = info.classes,
                         .class_names = names};
    snprintf(final, sizeof final, "%s/%s", a->cfg->data_dir, shown);
    if (link(tmp, final) != 0) {
        int e = errno;
        free(names);
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
    int rc = store_dataset_put(a->st, &rec, NULL, &se);
    free(names);
    if (route_store_check(rc, &se, res, "no data set named '%s'", name) != 0) {
        unlink(final);
        return;
    }
    reply_dataset(a, name, 201, info.csv_header, res);
    if (res->status == 201) http_set_header(res, "Location", "/datasets/%s", name);
}

/* ---- IDX upload ------------------------------------------------------------------------- */

/* Body of a DatasetUpload answer. */
static cJSON *upload_state(app *a, const char *name, int complete) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    mlp_load_opts lo = load_opts(a, NULL);
    char path[1100];
    for (int k = 0; k < MLP_MNIST_FILES; k++)
        if (mlp_mnist_find(&lo, name, k, path, sizeof path) == 0)
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

/* The uploaded file (rel, under the data dir) alone, then against its
 * partner's header when that is there. 0, or -1 with res filled. */
static int check_idx_upload(app *a, const char *name, const char *file, int kind, const char *rel,
                            http_response *res) {
    mlp_load_opts lo = load_opts(a, file);
    mlp_idx_info mine, other;
    mlp_error me = {{0}};
    int labels = MLP_MNIST_IS_LABELS(kind);
    mlp_status s = mlp_idx_check(rel, labels, 1, &lo, &mine, &me);
    if (s != MLP_OK) {
        reply_refused(res, s, "invalid-idx", "the IDX file was refused", &me);
        return -1;
    }
    char partner[1100];
    lo.shown_as = NULL;
    if (mlp_mnist_find(&lo, name, labels ? kind - 1 : kind + 1, partner, sizeof partner) != 0)
        return 0;
    s = mlp_idx_check(partner, !labels, 0, &lo, &other, &me);
    if (s == MLP_OK && other.count != mine.count)
        snprintf(me.msg, sizeof me.msg, "%.80s holds %u samples but %.100s holds %u", file,
                 (unsigned)mine.count, partner, (unsigned)other.count);
    if (s != MLP_OK || other.count != mine.count) {
        http_reply_problem(res, 422, "invalid-idx", NULL, "%s does not fit its partner: %s", file,
                           me.msg);
        return -1;
    }
    return 0;
}

/* Register folder `name` when its files make a data set: the train pair, and
 * the test pair when either test file is there. *complete says whether it
 * was; 0, or -1 with res filled. */
static int register_idx(app *a, const char *name, int *complete, http_response *res) {
    mlp_load_opts lo = load_opts(a, NULL);
    char p[1100];
    int n_files[2] = {0, 0};
    for (int k = 0; k < MLP_MNIST_FILES; k++)
        n_files[k / 2] += mlp_mnist_find(&lo, name, k, p, sizeof p) == 0;
    *complete = 0;
    if (n_files[0] < 2 || n_files[1] == 1) return 0;
    mlp_dataset_info info;
    mlp_error me = {{0}};
    mlp_status s = mlp_dataset_probe(name, &lo, &info, &me);
    if (s != MLP_OK) {
        reply_refused(res, s, "invalid-idx", "the files are stored but do not make a data set yet",
                      &me);
        return -1;
    }
    store_dataset rec = {.name = (char *)name,
                         .source = "upload",
                         .path = (char *)name,
                         .format = "idx",
                         .n_train = (int64_t)info.n_train,
                         .n_test = (int64_t)info.n_test,
                         .features = info.features,
                         .classes = info.classes};
    mlpd_error se = {0};
    if (store_dataset_put(a->st, &rec, NULL, &se) != MLPD_OK) {
        if (se.code == MLPD_ENOSPC || se.code == MLPD_ELOCKED) /* the file stays: the same
                                                                   PUT registers it later */
            route_reply_error(res, se.code, NULL, NULL,
                              "the files are stored but the data set cannot be registered: %s",
                              se.msg);
        else
            http_reply_problem(res, 422, "invalid-idx", NULL,
                               "the files are stored but do not make a data set yet: store: %.240s",
                               se.msg);
        return -1;
    }
    *complete = 1;
    return 0;
}

/* The folder of IDX upload `name`, made if needed; 0, or -1 with a 409 in res. */
static int idx_folder(app *a, const char *name, char *dir, size_t cap, http_response *res) {
    char csv[1100];
    store_dataset existing;
    struct stat sb;
    snprintf(dir, cap, "%s/%s", a->cfg->data_dir, name);
    snprintf(csv, sizeof csv, "%s/%s.csv", a->cfg->data_dir, name);
    if (store_dataset_get(a->st, name, &existing, NULL) == MLPD_OK) {
        store_dataset_clear(&existing);
        http_reply_problem(res, 409, "dataset-exists", NULL,
                           "data set '%s' is registered already (data sets are immutable)", name);
        return -1;
    }
    if (stat(csv, &sb) == 0 || (mkdir(dir, 0755) != 0 && errno != EEXIST) || stat(dir, &sb) != 0 ||
        !S_ISDIR(sb.st_mode)) {
        http_reply_problem(res, 409, "dataset-exists", NULL,
                           "'%s' is taken in the data dir by something that is not an IDX folder",
                           name);
        return -1;
    }
    return 0;
}

void route_dataset_file_upload(app *a, const http_request *req, http_response *res) {
    const char *name = req->params[0], *file = req->params[1];
    int kind = mlp_mnist_file_from_name(file);
    if (!name_ok(name) || kind < 0) {
        http_reply_problem(
            res, 404, "not-found", NULL,
            "no upload slot %s: the name must match [A-Za-z0-9_-][A-Za-z0-9._-]{0,63} "
            "and the file be one of the MNIST names (plain or .gz)",
            req->path);
        return;
    }
    char dir[1100], tmp[1200], rel[200];
    if (idx_folder(a, name, dir, sizeof dir, res) != 0) return;
    int werr = write_temp(dir, req->body, req->body_len, tmp, sizeof tmp);
    if (werr != 0) {
        reply_write_failed(res, werr, "write into");
        return;
    }
    snprintf(rel, sizeof rel, "%s/%s", name, strrchr(tmp, '/') + 1);
    if (check_idx_upload(a, name, file, kind, rel, res) != 0) {
        unlink(tmp);
        return;
    }
    /* Place it, dropping the other spelling (plain/.gz) of the same file. */
    char final[1200], other[1200];
    const char *base = mlp_mnist_file_name(kind);
    snprintf(final, sizeof final, "%s/%s", dir, file);
    snprintf(other, sizeof other, "%s/%s%s", dir, base, file[strlen(base)] ? "" : ".gz");
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        reply_write_failed(res, e, "place the upload in");
        return;
    }
    unlink(other);
    int complete = 0;
    if (register_idx(a, name, &complete, res) != 0) return;
    http_reply_json(res, 201, upload_state(a, name, complete));
}
