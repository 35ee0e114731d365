/* predict_request.h - the POST /predict body.
 *
 *   {"model": 3, "input": [784 numbers]}            one vector
 *   {"model": 3, "inputs": [[...], [...], ...]}     a batch (1..max_batch rows)
 * "model" is optional (0 / absent: the latest succeeded model); it is a model
 * id or a registry reference: "name", "name@alias" or "name/version"
 * (model_ref.h). Exactly one of
 * "input" / "inputs" must be present; every row must have the same width and
 * every value must be a finite number.
 */
#ifndef MLPD_API_PREDICT_REQUEST_H
#define MLPD_API_PREDICT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "model_ref.h"
#include "problem.h"

#define API_PREDICT_MAX_BATCH_DEFAULT 256

typedef struct {
    int64_t model_id; /* 0: the latest model (or the one ref names) */
    int has_ref;      /* "model" was a registry reference: ref is set */
    api_model_ref ref;
    int batch_form; /* 1 when the body used "inputs" */
    int n;          /* rows */
    int width;      /* values per row */
    float *x;       /* n * width, malloc'ed; freed by api_predict_request_free */
    int precision;  /* an mlp_precision the body asked for, -1 when it named none */
} api_predict_request;

/* Parse and validate; rows beyond max_batch give 413 naming the limit,
 * malformed JSON 400, a missing/ill-typed field or a non-finite value 422
 * with prob->pointer such as "/inputs/2/17". */
int api_predict_request_decode(const char *json, size_t len, int max_batch,
                               api_predict_request *out, api_problem *prob);
void api_predict_request_free(api_predict_request *r);

#endif /* MLPD_API_PREDICT_REQUEST_H */
