/* routes_samples.c - GET /datasets/{name}/samples?n=8&split=train: a few
 * samples of a data set as training sees them, for the dashboard.
 *
 * Answer: {"dataset": name, "split": "train", "samples": [{"index": i,
 * "label": l, "pixels": [features as float32, 0..1 for IDX images]}]}.
 * n is 1..64 (default 8); min(n, size of the split) samples are taken evenly
 * spaced, index = floor(k * size / count) for k = 0..count-1, so the same
 * request always gives the same samples. Data sets are immutable, hence
 * Cache-Control: public, max-age=3600.
 *
 * IDX files are not loaded whole (60000 Fashion-MNIST images are 47 MB and
 * most of a second to inflate): the header is checked and only the chosen
 * rows are read, seeking forward through zlib (plain files are seeked
 * directly). Values are (float)byte / 255.0f, the engine's own conversion
 * (engine/dataset.c). A CSV data set (split "train" only) is loaded with
 * the engine's reader, exactly as a training job loads it.
 *
 * With ?index=i,j,... (1..64 row numbers of the split) exactly those rows are
 * answered, in the order asked: the evaluation report names its worst
 * misclassified test examples by index, and the dashboard shows them.
 *
 * Errors: 404 unknown data set or a split it lacks; 422 bad n, split or index
 * (an index beyond the split's size included).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "mlp.h"
#include "router.h"

#define SAMPLES_MAX      64
#define SAMPLES_DEFAULT  8
#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

/* Which rows: the n evenly spaced ones, or the listed ones (pick, n). */
typedef struct {
    int n;
    const uint32_t *pick; /* NULL: evenly spaced */
} selection;

/* Row k of the selection in a split of `size` rows; -1 when a listed row is
 * beyond it (why says which). */
static long long selected_row(const selection *sel, int k, uint64_t size, char *why, size_t cap) {
    if (!sel->pick) {
        int count = (uint64_t)sel->n < size ? sel->n : (int)size;
        return (long long)((uint64_t)k * size / (uint64_t)count);
    }
    if (sel->pick[k] >= size) {
        snprintf(why, cap, "index %u is beyond the split's %llu samples", sel->pick[k],
                 (unsigned long long)size);
        return -1;
    }
    return sel->pick[k];
}

static int selected_count(const selection *sel, uint64_t size) {
    return sel->pick || (uint64_t)sel->n < size ? sel->n : (int)size;
}

/* dir/base, or dir/base.gz when only that exists, opened with zlib (which
 * reads plain files too). NULL when neither opens. */
static gzFile open_idx(const char *dir, const char *base) {
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, base);
    if (stat(path, &sb) != 0) snprintf(path, sizeof path, "%s/%s.gz", dir, base);
    return gzopen(path, "rb");
}

static int read_be32(gzFile g, uint32_t *v) {
    unsigned char b[4];
    if (gzread(g, b, 4) != 4) return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Append `count` floats as a JSON array to a new raw cJSON item. */
static cJSON *float_array(const float *x, int count) {
    size_t cap = (size_t)count * 16 + 3;
    char *buf = malloc(cap), *p = buf;
    if (!buf) return NULL;
    *p++ = '[';
    for (int i = 0; i < count; i++) {
        /* %.9g round-trips a float; 0 and 1 stay short. */
        p += snprintf(p, cap - (size_t)(p - buf), "%s%.9g", i ? "," : "", (double)x[i]);
    }
    *p++ = ']';
    *p = '\0';
    cJSON *raw = cJSON_CreateRaw(buf);
    free(buf);
    return raw;
}

static int add_sample(cJSON *arr, size_t index, int label, const float *x, int features) {
    cJSON *s = cJSON_CreateObject(), *px = float_array(x, features);
    if (!s || !px) {
        cJSON_Delete(s);
        cJSON_Delete(px);
        return -1;
    }
    cJSON_AddNumberToObject(s, "index", (double)index);
    cJSON_AddNumberToObject(s, "label", label);
    cJSON_AddItemToObject(s, "pixels", px);
    cJSON_AddItemToArray(arr, s);
    return 0;
}

/* Samples of an IDX folder's split into arr. 0, -1 with why, or -2 (an
 * index beyond the split) with why. */
static int idx_samples(const char *dir, int test, const selection *sel, int features, cJSON *arr,
                       char *why, size_t cap) {
    gzFile img = open_idx(dir, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte");
    gzFile lab = open_idx(dir, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte");
    unsigned char *row = malloc((size_t)features);
    float *x = malloc((size_t)features * sizeof *x);
    int rc = -1;
    uint32_t im, ic, rows, cols, lm, lc;
    if (!img || !lab || !row || !x) {
        snprintf(why, cap, "cannot open the %s files", test ? "test" : "train");
        goto out;
    }
    if (read_be32(img, &im) || read_be32(img, &ic) || read_be32(img, &rows) ||
        read_be32(img, &cols) || read_be32(lab, &lm) || read_be32(lab, &lc) ||
        im != IDX_IMAGES_MAGIC || lm != IDX_LABELS_MAGIC || ic != lc ||
        (uint64_t)rows * cols != (uint64_t)features) {
        snprintf(why, cap, "the %s files do not match the registered data set",
                 test ? "test" : "train");
        goto out;
    }
    int count = selected_count(sel, ic);
    for (int k = 0; k < count; k++) {
        long long row_no = selected_row(sel, k, ic, why, cap);
        if (row_no < 0) {
            rc = -2;
            goto out;
        }
        size_t index = (size_t)row_no;
        unsigned char label;
        if (gzseek(img, (z_off_t)(16 + index * (size_t)features), SEEK_SET) < 0 ||
            gzread(img, row, (unsigned)features) != features ||
            gzseek(lab, (z_off_t)(8 + index), SEEK_SET) < 0 || gzread(lab, &label, 1) != 1) {
            snprintf(why, cap, "the %s files end early", test ? "test" : "train");
            goto out;
        }
        for (int j = 0; j < features; j++) x[j] = (float)row[j] / 255.0f;
        if (add_sample(arr, index, label, x, features) != 0) {
            snprintf(why, cap, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    if (img) gzclose(img);
    if (lab) gzclose(lab);
    free(row);
    free(x);
    return rc;
}

/* Samples of a CSV file (its one split) into arr. 0, -1 or -2 as idx_samples. */
static int csv_samples(const char *path, const selection *sel, cJSON *arr, char *why, size_t cap) {
    mlp_dataset *d = NULL;
    mlp_error me = {{0}};
    if (mlp_dataset_load_path(path, "train", &d, &me) != MLP_OK) {
        snprintf(why, cap, "%s", me.msg);
        return -1;
    }
    int rc = 0;
    float *x = malloc((size_t)d->features * sizeof *x);
    int count = selected_count(sel, d->n);
    for (int k = 0; rc == 0 && k < count; k++) {
        long long row_no = selected_row(sel, k, d->n, why, cap);
        if (row_no < 0) {
            rc = -2;
            break;
        }
        uint32_t index = (uint32_t)row_no;
        int32_t label;
        if (!x) {
            rc = -1;
            break;
        }
        mlp_dataset_gather(d, &index, 1, x, &label);
        rc = add_sample(arr, index, label, x, d->features);
    }
    if (rc == -1 || !x) snprintf(why, cap, "out of memory");
    free(x);
    mlp_dataset_free(d);
    return rc ? rc : !x ? -1 : 0;
}

/* ?index=i,j,...: 1..SAMPLES_MAX row numbers into pick. 0, or -1 with res (422). */
static int parse_index_list(const char *text, uint32_t *pick, int *n, http_response *res) {
    const char *p = text;
    *n = 0;
    for (;;) {
        char *end;
        unsigned long long v = p[0] >= '0' && p[0] <= '9' ? strtoull(p, &end, 10) : 0;
        if (p[0] < '0' || p[0] > '9' || v > UINT32_MAX || *n == SAMPLES_MAX ||
            (*end != ',' && *end != '\0')) {
            http_reply_problem(res, 422, "invalid-query", NULL,
                               "query parameter 'index' must be 1 to %d row numbers separated "
                               "by commas",
                               SAMPLES_MAX);
            return -1;
        }
        pick[(*n)++] = (uint32_t)v;
        if (*end == '\0') return 0;
        p = end + 1;
    }
}

void route_dataset_samples(app *a, const http_request *req, http_response *res) {
    const char *name = req->params[0];
    long long n;
    if (route_query_int(req, "n", 1, SAMPLES_MAX, SAMPLES_DEFAULT, &n, res) != 0) return;
    uint32_t pick[SAMPLES_MAX];
    selection sel = {(int)n, NULL};
    const char *index = http_query(req, "index");
    if (index) {
        if (parse_index_list(index, pick, &sel.n, res) != 0) return;
        sel.pick = pick;
    }
    const char *split = http_query(req, "split");
    if (!split) split = "train";
    int test = !strcmp(split, "test");
    if (!test && strcmp(split, "train")) {
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter 'split' must be train or test, got '%.64s'", split);
        return;
    }
    store_dataset ds;
    mlpd_error se = {0};
    if (route_store_check(store_dataset_get(a->st, name, &ds, &se), &se, res,
                          "no data set named '%.64s'", name) != 0)
        return;
    int is_csv = ds.format && !strcmp(ds.format, "csv");
    if (test && (is_csv || ds.n_test <= 0)) {
        http_reply_problem(res, 404, "not-found", NULL, "data set '%.64s' has no test split", name);
        store_dataset_clear(&ds);
        return;
    }
    /* As the job runner: the registered path is relative and stays inside the data dir. */
    if (!ds.path || ds.path[0] == '/' || strstr(ds.path, "..")) {
        http_reply_problem(res, 500, "internal", NULL,
                           "data set '%.64s' has a path outside the "
                           "data dir",
                           name);
        store_dataset_clear(&ds);
        return;
    }
    char path[1100], why[256] = "";
    snprintf(path, sizeof path, "%s/%s", a->cfg->data_dir, ds.path);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "dataset", ds.name);
    cJSON_AddStringToObject(body, "split", test ? "test" : "train");
    cJSON *arr = cJSON_AddArrayToObject(body, "samples");
    int rc = !arr     ? -1
             : is_csv ? csv_samples(path, &sel, arr, why, sizeof why)
                      : idx_samples(path, test, &sel, ds.features, arr, why, sizeof why);
    store_dataset_clear(&ds);
    if (rc == -2) {
        cJSON_Delete(body);
        http_reply_problem(res, 422, "invalid-query", NULL, "%s", why);
        return;
    }
    if (rc != 0) {
        cJSON_Delete(body);
        http_reply_problem(res, 500, "internal", NULL, "cannot read samples of '%.64s': %s", name,
                           why);
        return;
    }
    http_reply_json(res, 200, body);
    http_set_header(res, "Cache-Control", "public, max-age=3600");
}
