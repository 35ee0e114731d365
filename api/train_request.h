/* train_request.h - the POST /train body: decoded, validated, defaulted.
 *
 * Every field is optional and defaults to the reference recipe
 * (784 -> 512 relu -> 256 relu -> 10 softmax, cross-entropy, SGD lr 0.01,
 * batch 128, 10 epochs, dataset "mnist-digits"). JSON field names:
 *   dataset (string), hidden ([int]), activation, output_activation, loss, init,
 *   optimizer, learning_rate, momentum, nesterov (bool), beta1, beta2, epsilon,
 *   batch_size, epochs, validation_split, l1, l2, dropout, shuffle (bool), seed,
 *   early_stopping {patience, min_delta, restore_best_weights}, warm_start_model (id),
 *   model_name (the registered name whose next version the job's model
 *   becomes, model_ref.h; default: the dataset's name when that is a valid
 *   name, else "model")
 * Unknown fields, wrong types and out-of-range values are refused naming the
 * field as a JSON pointer ("/hidden/1").
 */
#ifndef MLPD_API_TRAIN_REQUEST_H
#define MLPD_API_TRAIN_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"
#include "problem.h"

typedef struct {
    char dataset[65];
    int hidden[MLP_MAX_LAYERS];
    int n_hidden;
    mlp_act activation;    /* hidden layers */
    int output_activation; /* -1: follows the loss (softmax / linear) */
    mlp_loss loss;
    mlp_init init;
    mlp_train_config train;   /* optimizer and its parameters, batch, epochs, ...; callbacks NULL */
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
