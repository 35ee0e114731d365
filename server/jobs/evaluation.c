/* evaluation.c - evaluation reports made and stored (evaluation.h). */
#include "evaluation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

mlpd_status evaluation_load_split(store *st, const char *data_dir, size_t max_bytes,
                                  const char *name, const char *split, mlp_dataset **out,
                                  mlpd_error *err) {
    *out = NULL;
    store_dataset ds;
    mlpd_error se = {0};
    int rc = store_dataset_get(st, name, &ds, &se);
    if (rc == MLPD_ENOTFOUND) return mlpd_fail(err, rc, "no dataset '%s'", name);
    if (rc != MLPD_OK) return mlpd_fail(err, rc, "store: %s", se.msg);
    if (!strcmp(split, "test") && ds.n_test == 0)
        rc = mlpd_fail(err, MLPD_EINVAL, "dataset '%s' has no test split", name);
    else if (ds.path[0] == '/' || strstr(ds.path, ".."))
        rc = mlpd_fail(err, MLPD_EINTERNAL, "dataset '%s' has a path outside the data dir", name);
    if (rc != MLPD_OK) {
        store_dataset_clear(&ds);
        return rc;
    }
    /* Under the data dir: messages name files relative to it, never where it is. */
    mlp_load_opts lo = {.base_dir = data_dir, .max_bytes = max_bytes};
    mlp_error e = {{0}};
    mlp_status s = mlp_dataset_load_path(ds.path, split, &lo, out, &e);
    store_dataset_clear(&ds);
    if (s != MLP_OK) return mlpd_fail(err, MLPD_EIO, "dataset '%s': %s", name, e.msg);
    return MLPD_OK;
}

char *evaluation_report_json(const mlp_model *m, const char *dataset, const char *split,
                             const mlp_dataset *d, mlpd_error *err) {
    const mlp_arch *a = &m->arch;
    int O = a->sizes[a->n_layers], classes = O >= 2 ? O : 2;
    if (d->features != a->sizes[0]) {
        mlpd_fail(err, MLPD_EINVAL,
                  "dataset '%s' has %d features per sample but the model takes %d inputs", dataset,
                  d->features, a->sizes[0]);
        return NULL;
    }
    if (d->classes > classes) {
        mlpd_fail(err, MLPD_EINVAL, "dataset '%s' has %d classes but the model has %d outputs",
                  dataset, d->classes, O);
        return NULL;
    }
    mlp_report rep;
    mlp_error e = {{0}};
    if (mlp_evaluate_report(m, d, API_REPORT_PAIRS, API_REPORT_WORST, &rep, &e) != MLP_OK) {
        mlpd_fail(err, MLPD_EINVAL, "%s", e.msg);
        return NULL;
    }
    cJSON *o = api_encode_report(&rep, dataset, split);
    mlp_report_free(&rep);
    char *json = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!json) mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    return json;
}

mlpd_status evaluation_record(store *st, int64_t model_id, const mlp_model *m, const char *dataset,
                              const char *split, const mlp_dataset *d, int64_t *eval_id,
                              mlpd_error *err) {
    mlpd_error own = {0};
    if (!err) err = &own; /* the code travels in it */
    char *json = evaluation_report_json(m, dataset, split, d, err);
    if (!json) return err->code;
    store_evaluation ev = {.model_id = model_id,
                           .dataset = (char *)dataset,
                           .split = (char *)split,
                           .report_json = json};
    mlpd_error se = {0};
    int rc = store_evaluation_put(st, &ev, eval_id, &se);
    free(json);
    if (rc == MLPD_ENOTFOUND)
        return mlpd_fail(err, rc, "model %lld no longer exists", (long long)model_id);
    if (rc != MLPD_OK) return mlpd_fail(err, rc, "store: %s", se.msg);
    return MLPD_OK;
}

mlpd_status evaluation_derive(const mlp_model *m, const char *dataset, const mlp_dataset *train,
                              const mlp_dataset *test, store_model_derived *d, char **json,
                              float **mean, mlpd_error *err) {
    mlpd_error own = {0};
    if (!err) err = &own;
    mlpd_status rc = MLPD_OK;
    *json = test ? evaluation_report_json(m, dataset, "test", test, err) : NULL;
    if (test && !*json) rc = err->code;
    *mean = malloc(sizeof(float) * (size_t)train->features);
    if (!*mean || mlp_dataset_mean(train, *mean) != 0) {
        free(*mean);
        *mean = NULL;
        if (rc == MLPD_OK) rc = mlpd_fail(err, MLPD_EINTERNAL, "no training-set mean (empty set?)");
    }
    *d = (store_model_derived){.eval_dataset = dataset,
                               .eval_split = "test",
                               .eval_json = *json,
                               .mean_dataset = dataset,
                               .mean = *mean,
                               .mean_features = train->features};
    return rc;
}
