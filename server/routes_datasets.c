/* routes_datasets.c - GET /datasets, GET /datasets/{name}, POST /datasets (CSV upload).
 *
 * An upload is written to a temporary file inside the data dir, validated by
 * loading it with the engine's CSV reader, then linked into place as
 * <data dir>/<name>.csv only when valid; link(2) refuses an existing name, so
 * two uploads of one name cannot overwrite each other. Names are restricted
 * to [A-Za-z0-9_-][A-Za-z0-9._-]{0,63}: no '/', no leading dot, so the file
 * can never land outside the data dir.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "encode.h"
#include "router.h"

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
    store_error se = {{0}};
    if (store_dataset_list(a->st, &list, &n, &se) != STORE_OK) {
        http_reply_problem(res, 500, "store", NULL, "store: %s", se.msg);
        return;
    }
    http_reply_json(res, 200, api_encode_dataset_list(list, n));
    store_dataset_list_free(list, n);
}

/* Answer with dataset `name` (status on success). */
static void reply_dataset(app *a, const char *name, int status, http_response *res) {
    store_dataset d;
    store_error se = {{0}};
    int rc = dataset_name_ok(name) ? store_dataset_get(a->st, name, &d, &se) : STORE_NOTFOUND;
    if (rc == STORE_NOTFOUND) {
        http_reply_problem(res, 404, "not-found", NULL, "no data set named '%s'", name);
    } else if (rc != STORE_OK) {
        http_reply_problem(res, 500, "store", NULL, "store: %s", se.msg);
    } else {
        http_reply_json(res, status, api_encode_dataset(&d));
        store_dataset_clear(&d);
    }
}

void route_dataset_get(app *a, const http_request *req, http_response *res) {
    reply_dataset(a, req->params[0], 200, res);
}

/* Write body to a new temporary file in dir; its path into tmp. 0 or -1. */
static int write_temp(const char *dir, const char *body, size_t len, char *tmp, size_t cap) {
    snprintf(tmp, cap, "%s/.upload-XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, body + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    if (close(fd) != 0) ok = 0;
    if (!ok) unlink(tmp);
    return ok ? 0 : -1;
}

void route_dataset_upload(app *a, const http_request *req, http_response *res) {
    const char *name = http_query(req, "name");
    if (!name || !dataset_name_ok(name)) {
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter 'name' must match [A-Za-z0-9_-][A-Za-z0-9._-]{0,63}; "
                           "got '%s'", name ? name : "(none)");
        return;
    }
    const char *scale = http_query(req, "scale");
    if (scale && strcmp(scale, "1")) {
        /* The trainer reads CSV features as they are (the store keeps no scale),
         * so only unscaled uploads are accepted: divide by 255 before sending. */
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter 'scale' supports only 1 (send features already "
                           "scaled); got '%s'", scale);
        return;
    }
    const char *dir = a->cfg->data_dir;
    char final[1024], tmp[1100];
    snprintf(final, sizeof final, "%s/%s.csv", dir, name);
    store_dataset existing;
    int rc = store_dataset_get(a->st, name, &existing, NULL);
    if (rc == STORE_OK) store_dataset_clear(&existing);
    struct stat sb;
    char folder[1024];
    snprintf(folder, sizeof folder, "%s/%s", dir, name);
    if (rc == STORE_OK || stat(final, &sb) == 0 || stat(folder, &sb) == 0) {
        http_reply_problem(res, 409, "dataset-exists", NULL,
                           "a data set named '%s' exists already (data sets are immutable)", name);
        return;
    }
    if (write_temp(dir, req->body, req->body_len, tmp, sizeof tmp) != 0) {
        http_reply_problem(res, 500, "internal", NULL, "cannot write into the data dir: %s",
                           strerror(errno));
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
            http_reply_problem(res, 500, "internal", NULL, "cannot place the upload: %s",
                               strerror(e));
        return;
    }
    unlink(tmp);
    store_error se = {{0}};
    if (store_dataset_put(a->st, &rec, NULL, &se) != STORE_OK) {
        unlink(final);
        http_reply_problem(res, 500, "store", NULL, "store: %s", se.msg);
        return;
    }
    reply_dataset(a, name, 201, res);
    if (res->status == 201) http_set_header(res, "Location", "/datasets/%s", name);
}
