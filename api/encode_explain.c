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
