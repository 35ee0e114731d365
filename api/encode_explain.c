/* encode_explain.c - the ExplainResponse body (api_encode_explanations).
 *
 * A row carries one attribution per input feature (784 for MNIST), so each
 * prediction is written as one raw cJSON item with the printf-free number
 * writer of encode_predict.c (9 significant digits: strtof reads back the
 * same float), as PredictResponse's rows are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

/* Append the numbers v[0..n) as a JSON array to buf at *len. */
static void put_array(char *buf, size_t *len, const float *v, int n) {
    buf[(*len)++] = '[';
    for (int k = 0; k < n; k++) {
        if (k) buf[(*len)++] = ',';
        *len += api_format_probability(buf + *len, v[k]);
    }
    buf[(*len)++] = ']';
}

static cJSON *explanation_raw(int label, int classes, const float *probs, int target, int width,
                              const float *attr, const float *delta) {
    size_t cap = 160 + (size_t)(classes + width) * (API_PROBABILITY_MAX + 1);
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t n = (size_t)snprintf(buf, cap, "{\"label\":%d,\"probabilities\":", label);
    put_array(buf, &n, probs, classes);
    n += (size_t)snprintf(buf + n, cap - n, ",\"target\":%d,\"attributions\":", target);
    put_array(buf, &n, attr, width);
    if (delta) {
        memcpy(buf + n, ",\"convergence_delta\":", 21);
        n += 21;
        n += api_format_probability(buf + n, *delta);
    }
    buf[n++] = '}';
    buf[n] = '\0';
    cJSON *item = cJSON_CreateRaw(buf);
    free(buf);
    return item;
}

cJSON *api_encode_explanations(int64_t model_id, const mlp_explain_config *cfg, int n, int classes,
                               const float *probs, const int *labels, const int *target, int width,
                               const float *attr, const float *delta) {
    cJSON *o = cJSON_CreateObject(), *arr = NULL;
    if (!o || !cJSON_AddNumberToObject(o, "model", (double)model_id) ||
        !cJSON_AddStringToObject(o, "method", mlp_explain_method_name(cfg->method)) ||
        !cJSON_AddStringToObject(o, "output", mlp_explain_output_name(cfg->output)) ||
        !(arr = cJSON_AddArrayToObject(o, "predictions"))) {
        cJSON_Delete(o);
        return NULL;
    }
    int ig = cfg->method == MLP_EXPLAIN_INTEGRATED_GRADIENTS;
    for (int i = 0; i < n; i++) {
        cJSON *p = explanation_raw(labels[i], classes, probs + (size_t)i * classes, target[i],
                                   width, attr + (size_t)i * width, ig ? delta + i : NULL);
        if (!p) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(arr, p);
    }
    return o;
}

/* ---- the Open Inference Protocol v2 answer ---------------------------------------- */

/* {"name", "datatype", "shape": [rows(, cols)], "data": [...]} with the data
 * written as raw text: floats (f) or ints (i), rows * (cols or 1) of them. */
static cJSON *v2_tensor(const char *name, const char *datatype, int rows, int cols, const float *f,
                        const int *i) {
    size_t count = (size_t)rows * (size_t)(cols ? cols : 1);
    char *buf = malloc(3 + count * (API_PROBABILITY_MAX + 1));
    cJSON *t = cJSON_CreateObject(), *shape = cJSON_CreateArray();
    if (!buf || !t || !shape) {
        free(buf);
        cJSON_Delete(t);
        cJSON_Delete(shape);
        return NULL;
    }
    size_t n = 0;
    buf[n++] = '[';
    for (size_t k = 0; k < count; k++) {
        if (k) buf[n++] = ',';
        n += f ? api_format_probability(buf + n, f[k]) : (size_t)sprintf(buf + n, "%d", i[k]);
    }
    buf[n++] = ']';
    buf[n] = '\0';
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", datatype);
    cJSON_AddItemToArray(shape, cJSON_CreateNumber(rows));
    if (cols) cJSON_AddItemToArray(shape, cJSON_CreateNumber(cols));
    cJSON_AddItemToObject(t, "shape", shape);
    cJSON_AddRawToObject(t, "data", buf);
    free(buf);
    return t;
}

char *api_v2_explain_encode(const char *model_name, int model_version, const char *id,
                            const mlp_explain_config *cfg, int n, int classes, const float *probs,
                            const int *labels, const int *target, int width, const float *attr,
                            const float *delta) {
    cJSON *o = cJSON_CreateObject(), *outs = NULL;
    char version[16];
    snprintf(version, sizeof version, "%d", model_version);
    if (!o || !cJSON_AddStringToObject(o, "model_name", model_name) ||
        !cJSON_AddStringToObject(o, "model_version", version) ||
        (id && !cJSON_AddStringToObject(o, "id", id))) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON *params = cJSON_AddObjectToObject(o, "parameters");
    cJSON_AddStringToObject(params, "method", mlp_explain_method_name(cfg->method));
    cJSON_AddStringToObject(params, "output", mlp_explain_output_name(cfg->output));
    outs = cJSON_AddArrayToObject(o, "outputs");
    cJSON *t[] = {
        v2_tensor("probabilities", "FP32", n, classes, probs, NULL),
        v2_tensor("label", "INT64", n, 0, NULL, labels),
        v2_tensor("target", "INT64", n, 0, NULL, target),
        v2_tensor("attributions", "FP32", n, width, attr, NULL),
        cfg->method == MLP_EXPLAIN_INTEGRATED_GRADIENTS
            ? v2_tensor("convergence_delta", "FP32", n, 0, delta, NULL)
            : NULL,
    };
    int want = cfg->method == MLP_EXPLAIN_INTEGRATED_GRADIENTS ? 5 : 4, ok = params && outs;
    for (int k = 0; k < 5; k++) {
        if (k < want && !t[k]) ok = 0;
        if (t[k] && outs)
            cJSON_AddItemToArray(outs, t[k]);
        else
            cJSON_Delete(t[k]);
    }
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}
