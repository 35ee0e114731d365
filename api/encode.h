/* encode.h - JSON helpers and engine-level bodies of the REST API's answers
 * (api/openapi.yaml schemas); the store's records are encoded in server/rest/views.h.
 *
 * Each function builds a new cJSON tree (the caller owns it: cJSON_Delete, or
 * hand it to http_reply_json) or returns NULL when out of memory, except the
 * hot path's PredictResponse, written as text (api_encode_predictions). Conventions
 * of the schemas: times are RFC 3339 strings in UTC, an unknown number (NaN)
 * or time (0) is null, an absent id (0) is null, stored JSON texts (config,
 * arch, metrics) are embedded as JSON, not as strings.
 */
#ifndef MLPD_API_ENCODE_H
#define MLPD_API_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mlp.h"

/* The arch member of a Model: {"inputs", "layers": [{"units", "activation"}], "loss"}. */
cJSON *api_encode_arch(const mlp_arch *a);
/* The same as compact JSON text, as the store keeps it (malloc'ed, the
 * caller frees; NULL when out of memory). */
char *api_encode_arch_json(const mlp_arch *a);

/* What a PredictResponse says: rows of `classes` outputs in probs (n,
 * classes), labels (n). class_names (may be NULL): one name per class, each
 * free of characters JSON escapes; a row then says its label's "class_name".
 * model_name (NULL or "": none) and model_version: the registry name and
 * version that answered; canary: a canary version did. */
typedef struct {
    int64_t model_id;
    int n, classes;
    const float *probs;
    const int *labels;
    char *const *class_names;
    const char *model_name;
    int model_version;
    int canary;
} api_predictions;

/* Schema PredictResponse as compact JSON text with the members in the order
 * model, predictions, model_name, model_version, canary (the last three only
 * when set): malloc'ed and NUL-terminated (the caller frees), its length in
 * *len; NULL when out of memory. Written without a cJSON tree or printf: it
 * ends every POST /predict. */
char *api_encode_predictions(const api_predictions *p, size_t *len);

/* Schema ExplainResponse: PredictResponse's rows (probs (n, classes), labels
 * (n)) each with its target (n), attributions (n, width) and, for integrated
 * gradients, its convergence delta (n); the method and output of cfg. */
cJSON *api_encode_explanations(int64_t model_id, const mlp_explain_config *cfg, int n, int classes,
                               const float *probs, const int *labels, const int *target, int width,
                               const float *attr, const float *delta);

/* The Open Inference Protocol v2 answer of POST /v2/models/{name}/explain, as
 * JSON text (malloc'ed, the caller frees; NULL when out of memory):
 * model_name, model_version (a string), id (when not NULL), parameters
 * {method, output}, and the outputs "probabilities" FP32 [n, classes],
 * "label" INT64 [n], "target" INT64 [n], "attributions" FP32 [n, width] and,
 * for integrated gradients, "convergence_delta" FP32 [n]. */
char *api_v2_explain_encode(const char *model_name, int model_version, const char *id,
                            const mlp_explain_config *cfg, int n, int classes, const float *probs,
                            const int *labels, const int *target, int width, const float *attr,
                            const float *delta);

/* Limits of an EvaluationReport: the most confused pairs and the worst
 * misclassified examples it lists. */
#define API_REPORT_PAIRS 10
#define API_REPORT_WORST 24
/* Schema EvaluationReport (without the id/model/created_at of its record):
 * r (mlp_evaluate_report) on split `split` of data set `dataset`. */
cJSON *api_encode_report(const mlp_report *r, const char *dataset, const char *split);

/* Bytes api_format_probability may write, with the terminating NUL. */
#define API_PROBABILITY_MAX 16
/* v as JSON text into out (>= API_PROBABILITY_MAX bytes), NUL-terminated:
 * exactly snprintf's "%.9g" (9 significant digits, so strtof reads back v),
 * "null" when v is not finite. Returns the length. */
size_t api_format_probability(char *out, float v);

/* A number that becomes null when not finite (NaN/inf). */
cJSON *api_json_number_or_null(double v);
/* An RFC 3339 UTC time with milliseconds ("2024-05-01T10:00:03.200Z"), null when t <= 0. */
cJSON *api_json_time_or_null(double t);
/* Format t (seconds since the epoch) as above into buf (>= 32 bytes). */
void api_format_time(char *buf, size_t cap, double t);

#endif /* MLPD_API_ENCODE_H */
