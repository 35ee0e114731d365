/* mlp.h - mlpd's multilayer-perceptron engine: the whole public API.
 *
 * A small, flat C library (prefix mlp_) for dense feed-forward networks:
 * build, train (mini-batch backpropagation with SGD / momentum / Adam /
 * AdamW, learning-rate schedules, early stopping),
 * evaluate, predict (float32, bf16, int8), and read data sets and model files.
 *
 * Contracts that hold everywhere:
 * - No global mutable state. Library code never prints and never exits; it
 *   returns an mlp_status and, where a function takes `mlp_error *err`, fills
 *   err->msg with a one-line human-readable reason (err may be NULL).
 * - Constructors and destructors come in pairs (mlp_model_create/mlp_model_free,
 *   mlp_dataset_load_* and mlp_dataset_free, ...). Destructors accept NULL.
 * - A model's weights are read-only outside mlp_train(): any number of threads
 *   may call mlp_forward()/mlp_predict()/mlp_evaluate() on one model at once,
 *   each with its own scratch buffer (mlp_scratch_floats()).
 * - All parameters of a model live in one contiguous float32 allocation
 *   (model->params); W[l] and b[l] point into it.
 *
 * Shapes: B = batch, I = input width, O = output width. Matrices are
 * row-major. Layer l's weight W[l] is (sizes[l+1], sizes[l]) like PyTorch's
 * nn.Linear, so a layer computes y = x W^T + b for x (B, sizes[l]).
 *
 * The API is written in parts, one topic each, which only this header
 * includes (each refuses to be included alone): mlp_base.h (limits, status,
 * enum names, rng), mlp_model.h (architecture, models, inference),
 * mlp_precision.h (bf16 and int8 prediction),
 * mlp_explain.h (attributions), mlp_data.h (data set readers), mlp_eval.h
 * (evaluation, reports), mlp_train.h (training), mlp_recipe.h (the recipe
 * table, warm start), mlp_modelfile.h (model files). Code includes mlp.h.
 */
#ifndef MLP_H
#define MLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLP_H_INSIDE
#include "mlp_base.h"
#include "mlp_model.h"
#include "mlp_precision.h"
#include "mlp_explain.h"
#include "mlp_data.h"
#include "mlp_eval.h"
#include "mlp_train.h"
#include "mlp_recipe.h"
#include "mlp_modelfile.h"
#undef MLP_H_INSIDE

#ifdef __cplusplus
}
#endif
#endif /* MLP_H */
