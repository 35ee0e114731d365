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
 * The engine reads them (mlp_dataset_load_rows), under the data dir so that
 * errors name files relative to it: IDX files are not loaded whole (60000
 * Fashion-MNIST images are 47 MB and most of a second to inflate), only the
 * chosen rows are decoded; values are converted as training gathers them.
 * A CSV data set (split "train" only) is read whole.
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

#include "mlp.h"
#include "router.h"

#define SAMPLES_MAX     64
#define SAMPLES_DEFAULT 8

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

/* The selected samples (pick[0..n-1], or n evenly spaced ones when pick is
 * NULL) of rel's split into arr. 0, -1 with why, or -2 (a listed row beyond
 * the split) with why; files are named relative to the data dir only. */
static int add_samples(const app *a, const char *rel, const char *split, const uint32_t *pick,
                       int n, cJSON *arr, char *why, size_t cap) {
    mlp_load_opts lo = {.base_dir = a->cfg->data_dir, .max_bytes = a->cfg->max_dataset_bytes};
    mlp_dataset *d = NULL;
    mlp_error me = {{0}};
    size_t total = 0;
    mlp_status s = mlp_dataset_load_rows(rel, split, pick, n, &lo, &d, &total, &me);
    if (s != MLP_OK) {
        snprintf(why, cap, "%s", me.msg);
        return s == MLP_EINVAL && pick ? -2 : -1;
    }
    int rc = 0;
    float *x = malloc((size_t)d->features * sizeof *x);
    for (size_t k = 0; rc == 0 && x && k < d->n; k++) {
        uint32_t row = (uint32_t)k;
        int32_t label;
        mlp_dataset_gather(d, &row, 1, x, &label);
        size_t index = pick ? pick[k] : (size_t)((uint64_t)k * total / d->n);
        rc = add_sample(arr, index, label, x, d->features);
    }
    if (rc || !x) snprintf(why, cap, "out of memory");
    free(x);
    mlp_dataset_free(d);
    return rc || !x ? -1 : 0;
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
    int count = (int)n;
    const char *index = http_query(req, "index");
    if (index && parse_index_list(index, pick, &count, res) != 0) return;
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
    char why[256] = "";
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "dataset", ds.name);
    cJSON_AddStringToObject(body, "split", test ? "test" : "train");
    cJSON *arr = cJSON_AddArrayToObject(body, "samples");
    int rc = arr ? add_samples(a, ds.path, test ? "test" : "train", index ? pick : NULL, count, arr,
                               why, sizeof why)
                 : -1;
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
