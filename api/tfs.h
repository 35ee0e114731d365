/* tfs.h - TensorFlow Serving's REST predict API (api_rest.md), as KServe's
 * v1 protocol also speaks it, for mlpd's one-input, one-output models.
 *
 * Request: {"signature_name"?: "serving_default", "instances": [...]} (row
 * format: each instance a list of the input's values, or {"input": [...]})
 * or {"signature_name"?, "inputs": ...} (columnar format: a list of rows, or
 * {"input": [rows...]}). Exactly one of instances / inputs.
 * Response: row format -> {"predictions": [[probabilities], ...]};
 * columnar format -> {"outputs": [[probabilities], ...]}.
 * Errors are api_problems whose detail the route sends as {"error": "..."}.
 *
 * Every row has one shape: a number (width 1) or nested lists of numbers
 * (flattened row-major); ragged lists and rows of different shapes are
 * refused, as are "signature_name", "instances" or "inputs" given twice.
 */
#ifndef MLPD_API_TFS_H
#define MLPD_API_TFS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "problem.h"

typedef struct {
    int columnar; /* 1: "inputs" (answer "outputs"); 0: "instances" (answer "predictions") */
    int rows, width;
    float *x; /* rows * width (malloc'ed) */
} api_tfs_request;

/* 0, or -1 with *prob (400; 413 beyond max_rows rows). */
int api_tfs_request_decode(const char *json, size_t len, int max_rows, api_tfs_request *out,
                           api_problem *prob);
void api_tfs_request_free(api_tfs_request *r);

/* The answer's JSON text (malloc'ed), NULL when out of memory. */
char *api_tfs_response_encode(const api_tfs_request *req, int classes, const float *probs);

/* GetModelMetadataResponse as TF Serving writes it in JSON: model_spec and
 * the "serving_default" signature (input "input" DT_FLOAT [-1, width],
 * output "probabilities" DT_FLOAT [-1, classes]). NULL when out of memory. */
cJSON *api_tfs_metadata(const char *name, int version, int width, int classes);

#endif /* MLPD_API_TFS_H */
