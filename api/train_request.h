/* train_request.h - the POST /train body: decoded, validated, defaulted.
 *
 * The body is a training recipe (engine: mlp_recipe, whose table
 * mlp_recipe_fields gives every member's name, type, default and limits)
 * plus what the API adds: the data set by name and the warm-start model by id.
 *   dataset (string, default "mnist-digits"), the recipe's members (nested
 *   ones such as early_stopping.patience as objects), warm_start_model (id),
 *   model_name (the registered name whose next version the job's model
 *   becomes, model_ref.h; default: the dataset's name when that is a valid
 *   name, else "model")
 * Every member is optional and defaults to the reference recipe. Unknown
 * members, wrong types and out-of-range values are refused naming the member
 * as a JSON pointer ("/hidden/1").
 */
#ifndef MLPD_API_TRAIN_REQUEST_H
#define MLPD_API_TRAIN_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"
#include "problem.h"

typedef struct {
    char dataset[65];
    mlp_recipe recipe;        /* decoded: output_activation resolved, callbacks NULL */
    int64_t warm_start_model; /* 0: fresh weights */
    char model_name[65];      /* always set after decode/default */
} api_train_request;

/* The reference recipe. */
void api_train_request_default(api_train_request *r);

/* Parse and validate a JSON body of len bytes. On failure returns -1 and fills
 * *prob (status 400 for malformed JSON, 422 for a field that is unknown, of a
 * wrong type or out of range; prob->pointer names it). An empty or
 * whitespace-only body is the reference recipe (api_train_request_default).
 * On success out->output_activation is always resolved (never -1); on
 * failure *out is left unchanged. */
int api_train_request_decode(const char *json, size_t len, api_train_request *out,
                             api_problem *prob);

/* The full, defaulted request as compact JSON (malloc'ed; caller frees):
 * what a run records as its config, and what decode reads back identically. */
char *api_train_request_encode(const api_train_request *r);

#endif /* MLPD_API_TRAIN_REQUEST_H */
