/* tfs.h - TensorFlow Serving's REST predict, classify and regress APIs
 * (api_rest.md), as KServe's v1 protocol also speaks them, for mlpd's
 * one-input, one-output models.
 *
 * Request: {"signature_name"?: "serving_default", "instances": [...]} (row
 * format: each instance a list of the input's values, or {"input": [...]})
 * or {"signature_name"?, "inputs": ...} (columnar format: a list of rows, or
 * {"input": [rows...]}). Exactly one of instances / inputs.
 * Response: row format -> {"predictions": [[probabilities], ...]};
 * columnar format -> {"outputs": [[probabilities], ...]}.
 * Errors are api_problems whose detail the route sends as {"error": "..."}.
 *
 * Classify / regress: {"signature_name"?, "context"?: {features},
 * "examples": [{features}, ...]}, tf.Example features by name: the model's
 * one feature is "input" (a number or a flat list of numbers), in each
 * example or once in "context" for all of them (never in both).
 * Answers: classify -> {"result": [[["0", p0], ["1", p1], ...], ...]} (every
 * class, labelled by its index); regress -> {"result": [v, ...]} (a model
 * with one output only; the route checks).
 *
 * Every row has one shape: a number (width 1) or nested lists of numbers
 * (flattened row-major); ragged lists and rows of different shapes are
 * refused, as are "signature_name", "instances" or "inputs" given twice.
 * A request holds at most 2^24 values (413 beyond).
 */
#ifndef MLPD_API_TFS_H
#define MLPD_API_TFS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "problem.h"

typedef enum { API_TFS_PREDICT = 0, API_TFS_CLASSIFY, API_TFS_REGRESS } api_tfs_verb;

/* The verb of ":predict", ":classify" or ":regress"; -1 for anything else. */
int api_tfs_verb_parse(const char *colon_verb);

typedef struct {
    api_tfs_verb verb;
    int columnar; /* 1: "inputs" (answer "outputs"); 0: "instances" (answer "predictions") */
    int rows, width;
    float *x; /* rows * width (malloc'ed) */
} api_tfs_request;

/* The body of `verb`. 0, or -1 with *prob (400; 413 beyond max_rows rows). */
int api_tfs_request_decode(const char *json, size_t len, api_tfs_verb verb, int max_rows,
                           api_tfs_request *out, api_problem *prob);
void api_tfs_request_free(api_tfs_request *r);

/* The answer's JSON text (malloc'ed), NULL when out of memory. */
char *api_tfs_response_encode(const api_tfs_request *req, int classes, const float *probs);

/* GetModelMetadataResponse as TF Serving writes it in JSON: model_spec and
 * the "serving_default" signature (input "input" DT_FLOAT [-1, width],
 * output "probabilities" DT_FLOAT [-1, classes]). NULL when out of memory. */
cJSON *api_tfs_metadata(const char *name, int version, int width, int classes);

#endif /* MLPD_API_TFS_H */
