/* encode_report.c - the EvaluationReport body (api_encode_report; encode.h). */
#include "encode.h"

static cJSON *averages(const double fig[3]) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddItemToObject(o, "precision", api_json_number_or_null(fig[0]));
    cJSON_AddItemToObject(o, "recall", api_json_number_or_null(fig[1]));
    cJSON_AddItemToObject(o, "f1", api_json_number_or_null(fig[2]));
    return o;
}

static cJSON *confusion(const mlp_eval_result *e) {
    cJSON *rows = cJSON_CreateArray();
    for (int t = 0; rows && t < e->classes; t++) {
        cJSON *row = cJSON_CreateArray();
        if (!row) break;
        for (int p = 0; p < e->classes; p++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(e->confusion[(size_t)t * e->classes + p]));
        cJSON_AddItemToArray(rows, row);
    }
    return rows;
}

static cJSON *per_class(const mlp_report *r) {
    cJSON *arr = cJSON_CreateArray();
    for (int c = 0; arr && c < r->eval.classes; c++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "class", c);
        cJSON_AddItemToObject(o, "precision", api_json_number_or_null(r->precision[c]));
        cJSON_AddItemToObject(o, "recall", api_json_number_or_null(r->recall[c]));
        cJSON_AddItemToObject(o, "f1", api_json_number_or_null(r->f1[c]));
        cJSON_AddNumberToObject(o, "support", r->support[c]);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *pairs_and_worst(const mlp_report *r, int worst) {
    cJSON *arr = cJSON_CreateArray();
    int n = worst ? r->n_worst : r->n_pairs;
    for (int k = 0; arr && k < n; k++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        if (worst) {
            const mlp_misclassified *w = &r->worst[k];
            cJSON_AddNumberToObject(o, "index", w->index);
            cJSON_AddNumberToObject(o, "label", w->label);
            cJSON_AddNumberToObject(o, "predicted", w->predicted);
            cJSON_AddItemToObject(o, "p_predicted", api_json_number_or_null(w->p_predicted));
            cJSON_AddItemToObject(o, "p_label", api_json_number_or_null(w->p_label));
        } else {
            cJSON_AddNumberToObject(o, "true", r->pairs[k].true_class);
            cJSON_AddNumberToObject(o, "predicted", r->pairs[k].predicted);
            cJSON_AddNumberToObject(o, "count", r->pairs[k].count);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *api_encode_report(const mlp_report *r, const char *dataset, const char *split) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "dataset", dataset);
    cJSON_AddStringToObject(o, "split", split);
    cJSON_AddNumberToObject(o, "samples", (double)r->eval.n);
    cJSON_AddItemToObject(o, "loss", api_json_number_or_null(r->eval.loss));
    cJSON_AddItemToObject(o, "accuracy", api_json_number_or_null(r->eval.accuracy));
    cJSON_AddNumberToObject(o, "classes", r->eval.classes);
    cJSON_AddItemToObject(o, "confusion", confusion(&r->eval));
    cJSON_AddItemToObject(o, "per_class", per_class(r));
    cJSON_AddItemToObject(o, "macro_avg", averages(r->macro));
    cJSON_AddItemToObject(o, "weighted_avg", averages(r->weighted));
    cJSON_AddItemToObject(o, "most_confused", pairs_and_worst(r, 0));
    cJSON_AddItemToObject(o, "worst_misclassified", pairs_and_worst(r, 1));
    /* A member that could not be allocated is missing: no half report. */
    if (cJSON_GetArraySize(o) != 12) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
