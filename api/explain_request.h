/* explain_request.h - the POST /explain body.
 *
 *   {"model": 3, "input": [784 numbers]}            one vector (or "inputs": rows);
 *                                                   model: an id, or a registered name
 *                                                   ("name", "name@alias", "name/3")
 *    + "method": "saliency" | "gradient_x_input" | "integrated_gradients" (default)
 *               | "smoothgrad"
 *    + "output": "probability" (default) | "logit"
 *    + "target": a class for every row, or one class (or null) per row;
 *                absent/null: the predicted class
 *    + integrated_gradients only: "n_steps" (1..1000, default 50),
 *                "baseline": "zeros" (default) | "mean" | [one number per input]
 *    + smoothgrad only: "samples" (1..1000, default 50), "noise" (>= 0, default
 *                0.15), "seed" (integer >= 0, default 0)
 * The rows follow POST /predict's rules (predict_request.h). What depends on
 * the model (widths, the target's range, probability needing a softmax
 * output) is checked by the route, which knows the model.
 */
#ifndef MLPD_API_EXPLAIN_REQUEST_H
#define MLPD_API_EXPLAIN_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mlp.h"
#include "model_ref.h"
#include "problem.h"

/* Rows per request: an explanation costs n_steps (or samples) forward and
 * backward passes per row, so the batch is far smaller than /predict's. */
#define API_EXPLAIN_MAX_ROWS 32

typedef enum { API_BASELINE_ZEROS, API_BASELINE_MEAN, API_BASELINE_VECTOR } api_baseline_kind;

typedef struct {
    int64_t model_id; /* 0: the latest model (or the one ref names) */
    int has_ref;      /* "model" was a registered name: ref says which */
    api_model_ref ref;
    int batch_form;         /* 1 when the body used "inputs" */
    int n, width;           /* rows, values per row */
    float *x;               /* n * width */
    int *target;            /* n: the class asked for, or -1 for the predicted one */
    int target_array;       /* 1 when "target" was an array (one entry per row) */
    mlp_explain_config cfg; /* method, output, n_steps, samples, noise, seed; baseline NULL */
    api_baseline_kind baseline_kind;
    int baseline_width; /* API_BASELINE_VECTOR: its length */
    float *baseline;    /* API_BASELINE_VECTOR: baseline_width values */
} api_explain_request;

/* Parse and validate. 0, or -1 with *prob: 400 malformed JSON, 413 more than
 * API_EXPLAIN_MAX_ROWS rows (pointer /inputs), 422 a missing, unknown,
 * ill-typed or out-of-range member, or an option of another method, with the
 * member's pointer ("/n_steps", "/baseline/3", "/inputs/2/17"). Everything
 * allocated is freed by api_explain_request_free (also after a failure). */
int api_explain_request_decode(const char *json, size_t len, api_explain_request *out,
                               api_problem *prob);
void api_explain_request_free(api_explain_request *r);

/* The options alone, from an Open Inference Protocol v2 request's
 * "parameters" object (NULL: all defaults) for `rows` rows: the members of
 * the /explain body but model and the rows, with the same checks, except
 * that unknown parameters are ignored (as the protocol does). Fills *r's
 * cfg, baseline and target (n = rows); the rows are the caller's to add.
 * 0, or -1 with *prob (pointer relative to "parameters"). */
int api_explain_params_decode(const cJSON *params, int rows, api_explain_request *r,
                              api_problem *prob);

#endif /* MLPD_API_EXPLAIN_REQUEST_H */
