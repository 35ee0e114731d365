/* routes_precision.c - the precision a model version serves in
 * (docs/precision.md):
 *   GET /models/{name}/versions/{v}/precision
 *   PUT /models/{name}/versions/{v}/precision  {"precision": "int8", "dataset": "mnist-digits"}
 *
 * PUT measures the version's accuracy on a data set's test split (the run's
 * own data set unless the body names one; an uploaded model must name one)
 * in float32 and in the precision asked for, and refuses (422) when the
 * precision loses more than --max-precision-drop percentage points; else it
 * stores the choice and both accuracies, and the model cache reloads the
 * version packed in it. "float32" goes back to float32. The measurement runs
 * on this HTTP thread, on a private copy of the model (the cached one is
 * shared and read-only): a few tenths of a second for 10,000 test rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluation.h"
#include "json_util.h"
#include "model_cache.h"
#include "model_ref.h"
#include "router.h"

/* The model id of /models/{name}/versions/{v}; 0 with res filled. */
static int64_t version_id(app *a, const http_request *req, http_response *res) {
    const char *name = req->params[0];
    int v = api_model_version_parse(req->params[1]);
    int64_t id = 0;
    mlpd_error se = {0};
    if (!api_model_name_ok(name) || v <= 0) {
        http_reply_problem(res, 404, "not-found", NULL, "model '%s' has no version '%s'", name,
                           req->params[1]);
        return 0;
    }
    if (route_store_check(store_model_find(a->st, name, v, &id, &se), &se, res,
                          "model '%s' has no version %d", name, v) != 0)
        return 0;
    return id;
}

static cJSON *view(const http_request *req, int64_t id, const store_model_precision *p,
                   double max_drop) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", req->params[0]);
    cJSON_AddNumberToObject(o, "version", api_model_version_parse(req->params[1]));
    cJSON_AddNumberToObject(o, "model", (double)id);
    if (!p) {
        cJSON_AddStringToObject(o, "precision", "float32");
        cJSON_AddStringToObject(o, "kernel", mlp_kernel_name_for(MLP_PRECISION_F32));
        return o;
    }
    mlp_precision prec = MLP_PRECISION_F32;
    mlp_precision_from_name(p->precision, &prec);
    cJSON_AddStringToObject(o, "precision", p->precision);
    cJSON_AddStringToObject(o, "kernel", mlp_kernel_name_for(prec));
    cJSON_AddStringToObject(o, "dataset", p->dataset);
    cJSON_AddNumberToObject(o, "test_rows", (double)p->test_rows);
    cJSON *acc = cJSON_AddObjectToObject(o, "accuracy");
    cJSON_AddNumberToObject(acc, "float32", p->accuracy_float32);
    cJSON_AddNumberToObject(acc, p->precision, p->accuracy);
    cJSON_AddNumberToObject(o, "drop_pp", (p->accuracy_float32 - p->accuracy) * 100.0);
    cJSON_AddNumberToObject(o, "max_drop_pp", round(max_drop * 1e6) / 1e6); /* a float setting */
    return o;
}

void route_model_precision_get(app *a, const http_request *req, http_response *res) {
    int64_t id = version_id(a, req, res);
    if (!id) return;
    store_model_precision p;
    mlpd_error se = {0};
    int rc = store_model_precision_get(a->st, id, &p, &se);
    if (rc == MLPD_ENOTFOUND) {
        http_reply_json(res, 200, view(req, id, NULL, 0));
        return;
    }
    if (route_store_check(rc, &se, res, "no model with id %lld", (long long)id) != 0) return;
    http_reply_json(res, 200, view(req, id, &p, a->cfg->max_precision_drop));
}

/* The body: precision (required) and dataset (optional); -1 with res filled. */
static int decode(const http_request *req, mlp_precision *prec, char *dataset, size_t cap,
                  http_response *res) {
    api_problem prob;
    cJSON *root = api_json_parse(req->body, req->body_len, &prob);
    if (!root) {
        http_reply_api_problem(res, &prob);
        return -1;
    }
    static const char *const members[] = {"precision", "dataset", NULL};
    const char *bad = NULL, *why = NULL;
    const cJSON *p =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "precision") : NULL;
    const cJSON *d =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "dataset") : NULL;
    if (!cJSON_IsObject(root))
        bad = "", why = "the body must be a JSON object";
    else if (api_json_members_check(root, "", members, "expected precision and optionally dataset",
                                    &prob) != 0)
        bad = prob.pointer, why = prob.detail;
    else if (!cJSON_IsString(p) || mlp_precision_from_name(p->valuestring, prec) != 0)
        bad = "/precision", why = "precision must be \"float32\", \"bf16\" or \"int8\"";
    else if (d && (!cJSON_IsString(d) || strlen(d->valuestring) >= cap))
        bad = "/dataset", why = "dataset must be a data set's name";
    if (!bad && d) snprintf(dataset, cap, "%s", d->valuestring);
    cJSON_Delete(root);
    if (!bad) return 0;
    http_reply_problem(res, 422, "invalid-field", bad, "%s", why);
    return -1;
}

/* The data set of the run that made model id into out ("" for an upload). */
static int run_dataset(app *a, int64_t id, char *out, size_t cap, http_response *res) {
    store_model m;
    mlpd_error se = {0};
    if (route_store_check(store_model_get(a->st, id, &m, &se), &se, res, "no model with id %lld",
                          (long long)id) != 0)
        return -1;
    int64_t run_id = m.run_id;
    store_model_clear(&m);
    out[0] = '\0';
    if (!run_id) return 0;
    store_run r;
    if (store_run_get(a->st, run_id, &r, &se) == MLPD_OK) {
        snprintf(out, cap, "%s", r.dataset ? r.dataset : "");
        store_run_clear(&r);
    }
    return 0;
}

/* Accuracy of a private copy of cm's model on d in float32 and in prec. */
static int measure(const mlp_model *shared, mlp_precision prec, const mlp_dataset *d, double *f32,
                   double *lowp, char *why, size_t cap) {
    mlp_model *m = NULL;
    mlp_error me = {{0}};
    mlp_eval_result r32 = {0}, rp = {0};
    int ok = mlp_model_clone(shared, &m, &me) == MLP_OK &&
             mlp_model_pack_precision(m, prec, &me) == MLP_OK &&
             mlp_evaluate(m, d, &r32, &me) == MLP_OK &&
             mlp_evaluate_precision(m, prec, d, &rp, &me) == MLP_OK;
    *f32 = r32.accuracy;
    *lowp = rp.accuracy;
    mlp_eval_result_free(&r32);
    mlp_eval_result_free(&rp);
    mlp_model_free(m);
    if (!ok) snprintf(why, cap, "%s", me.msg);
    return ok ? 0 : -1;
}

void route_model_precision_put(app *a, const http_request *req, http_response *res) {
    int64_t id = version_id(a, req, res);
    if (!id) return;
    mlp_precision prec;
    store_model_precision p = {.model_id = id};
    if (decode(req, &prec, p.dataset, sizeof p.dataset, res) != 0) return;
    mlpd_error se = {0};
    if (prec == MLP_PRECISION_F32) {
        if (route_store_check(store_model_precision_clear(a->st, id, &se), &se, res,
                              "no model with id %lld", (long long)id) != 0)
            return;
        model_cache_invalidate(a->models, id);
        http_reply_json(res, 200, view(req, id, NULL, 0));
        return;
    }
    if (!p.dataset[0] && run_dataset(a, id, p.dataset, sizeof p.dataset, res) != 0) return;
    if (!p.dataset[0]) {
        http_reply_problem(res, 422, "invalid-field", "/dataset",
                           "model %lld was uploaded: name the dataset whose test split measures "
                           "its accuracy",
                           (long long)id);
        return;
    }
    char why[320];
    mlp_dataset *d = NULL;
    mlpd_error ee = {0};
    int rc = evaluation_load_split(a->st, a->cfg->data_dir, a->cfg->max_dataset_bytes, p.dataset,
                                   "test", &d, &ee);
    if (rc == MLPD_ENOTFOUND || rc == MLPD_EINVAL) { /* no such data set, or no test split */
        route_reply_error(res, MLPD_EINVAL, NULL, "/dataset", "%s", ee.msg);
        return;
    }
    if (rc != MLPD_OK) {
        route_reply_error(res, route_failure_code(rc), NULL, NULL, "%s", ee.msg);
        return;
    }
    cached_model *cm = NULL;
    if (route_model_lookup(a, id, &cm, res) != 0) {
        mlp_dataset_free(d);
        return;
    }
    p.test_rows = (int64_t)d->n;
    snprintf(p.precision, sizeof p.precision, "%s", mlp_precision_name(prec));
    rc = measure(cm->model, prec, d, &p.accuracy_float32, &p.accuracy, why, sizeof why);
    model_cache_release(a->models, cm);
    mlp_dataset_free(d);
    if (rc != 0) {
        http_reply_problem(res, 422, "width-mismatch", "/dataset", "%s", why);
        return;
    }
    double drop = (p.accuracy_float32 - p.accuracy) * 100.0, max = a->cfg->max_precision_drop;
    if (drop > max + 1e-9) {
        http_reply_problem(res, 422, "precision-accuracy", "/precision",
                           "%s loses %.2f percentage points of test accuracy on %s (%lld rows: "
                           "float32 %.4f, %s %.4f); at most %.2f are allowed "
                           "(--max-precision-drop): the version keeps its precision",
                           p.precision, drop, p.dataset, (long long)p.test_rows, p.accuracy_float32,
                           p.precision, p.accuracy, max);
        return;
    }
    if (route_store_check(store_model_precision_put(a->st, &p, &se), &se, res,
                          "no model with id %lld", (long long)id) != 0)
        return;
    model_cache_invalidate(a->models, id); /* reloaded packed in the precision */
    http_reply_json(res, 200, view(req, id, &p, max));
}
