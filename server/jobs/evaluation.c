/* evaluation.c - evaluation reports made and stored (evaluation.h). */
#include "evaluation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

static int fail(char *why, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t cap, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return rc;
}

int evaluation_load_split(store *st, const char *data_dir, size_t max_bytes, const char *name,
                          const char *split, mlp_dataset **out, char *why, size_t cap) {
    *out = NULL;
    store_dataset ds;
    mlpd_error se = {0};
    int rc = store_dataset_get(st, name, &ds, &se);
    if (rc == MLPD_ENOTFOUND) return fail(why, cap, EVAL_NO_DATASET, "no dataset '%s'", name);
    if (rc != MLPD_OK) return fail(why, cap, EVAL_ERR, "store: %s", se.msg);
    if (!strcmp(split, "test") && ds.n_test == 0)
        rc = fail(why, cap, EVAL_NO_SPLIT, "dataset '%s' has no test split", name);
    else if (ds.path[0] == '/' || strstr(ds.path, ".."))
        rc = fail(why, cap, EVAL_ERR, "dataset '%s' has a path outside the data dir", name);
    if (rc != MLPD_OK) {
        store_dataset_clear(&ds);
        return rc;
    }
    /* Under the data dir: messages name files relative to it, never where it is. */
    mlp_load_opts lo = {.base_dir = data_dir, .max_bytes = max_bytes};
    mlp_error e = {{0}};
    mlp_status s = mlp_dataset_load_path(ds.path, split, &lo, out, &e);
    store_dataset_clear(&ds);
    if (s != MLP_OK) return fail(why, cap, EVAL_ERR, "dataset '%s': %s", name, e.msg);
    return EVAL_OK;
}

char *evaluation_report_json(const mlp_model *m, const char *dataset, const char *split,
                             const mlp_dataset *d, int *rc, char *why, size_t cap) {
    const mlp_arch *a = &m->arch;
    int O = a->sizes[a->n_layers], classes = O >= 2 ? O : 2;
    *rc = EVAL_MISMATCH;
    if (d->features != a->sizes[0]) {
        fail(why, cap, 0, "dataset '%s' has %d features per sample but the model takes %d inputs",
             dataset, d->features, a->sizes[0]);
        return NULL;
    }
    if (d->classes > classes) {
        fail(why, cap, 0, "dataset '%s' has %d classes but the model has %d outputs", dataset,
             d->classes, O);
        return NULL;
    }
    mlp_report rep;
    mlp_error e = {{0}};
    if (mlp_evaluate_report(m, d, API_REPORT_PAIRS, API_REPORT_WORST, &rep, &e) != MLP_OK) {
        fail(why, cap, 0, "%s", e.msg);
        return NULL;
    }
    cJSON *o = api_encode_report(&rep, dataset, split);
    mlp_report_free(&rep);
    char *json = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    *rc = json ? EVAL_OK : fail(why, cap, EVAL_ERR, "out of memory");
    return json;
}

int evaluation_record(store *st, int64_t model_id, const mlp_model *m, const char *dataset,
                      const char *split, const mlp_dataset *d, int64_t *eval_id, char *why,
                      size_t cap) {
    int rc;
    char *json = evaluation_report_json(m, dataset, split, d, &rc, why, cap);
    if (!json) return rc;
    store_evaluation ev = {.model_id = model_id,
                           .dataset = (char *)dataset,
                           .split = (char *)split,
                           .report_json = json};
    mlpd_error se = {0};
    rc = store_evaluation_put(st, &ev, eval_id, &se);
    free(json);
    if (rc == MLPD_ENOTFOUND)
        return fail(why, cap, EVAL_NO_MODEL, "model %lld no longer exists", (long long)model_id);
    if (rc != MLPD_OK) return fail(why, cap, EVAL_ERR, "store: %s", se.msg);
    return EVAL_OK;
}

int evaluation_derive(const mlp_model *m, const char *dataset, const mlp_dataset *train,
                      const mlp_dataset *test, store_model_derived *d, char **json, float **mean,
                      char *why, size_t cap) {
    int rc = EVAL_OK;
    *json = test ? evaluation_report_json(m, dataset, "test", test, &rc, why, cap) : NULL;
    *mean = malloc(sizeof(float) * (size_t)train->features);
    if (!*mean || mlp_dataset_mean(train, *mean) != 0) {
        free(*mean);
        *mean = NULL;
        if (rc == EVAL_OK) rc = fail(why, cap, EVAL_ERR, "no training-set mean (empty set?)");
    }
    *d = (store_model_derived){.eval_dataset = dataset,
                               .eval_split = "test",
                               .eval_json = *json,
                               .mean_dataset = dataset,
                               .mean = *mean,
                               .mean_features = train->features};
    return rc;
}
