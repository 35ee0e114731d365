/* eval.c - loss, accuracy and confusion matrix of a model on a data set.
 *
 * Rows are gathered and pushed through the inference forward pass in chunks,
 * so memory stays bounded whatever the data set's size. The loss is computed
 * from logits (log-sum-exp) for a softmax output, so it stays finite even for
 * a confidently wrong model. Reads the model only: thread-safe on m.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define EVAL_CHUNK 256

mlp_status mlp_eval_buf_init(mlp_eval_buf *b, const mlp_model *m, int chunk, mlp_error *err) {
    memset(b, 0, sizeof *b);
    size_t C = (size_t)chunk;
    b->chunk = chunk;
    b->idx = malloc(C * sizeof *b->idx);
    b->x = malloc(C * (size_t)m->arch.sizes[0] * sizeof *b->x);
    b->y = malloc(C * sizeof *b->y);
    b->out = malloc(C * (size_t)m->arch.sizes[m->arch.n_layers] * sizeof *b->out);
    b->pred = malloc(C * sizeof *b->pred);
    b->scratch = malloc(mlp_scratch_floats(m, chunk) * sizeof *b->scratch);
    if (!b->idx || !b->x || !b->y || !b->out || !b->pred || !b->scratch) {
        mlp_eval_buf_free(b);
        return mlp_fail(err, MLP_ENOMEM, "out of memory for evaluation buffers");
    }
    return MLP_OK;
}

void mlp_eval_buf_free(mlp_eval_buf *b) {
    if (!b) return;
    free(b->idx);
    free(b->x);
    free(b->y);
    free(b->out);
    free(b->pred);
    free(b->scratch);
    memset(b, 0, sizeof *b);
}

void mlp_eval_rows(const mlp_model *m, const mlp_dataset *d, size_t start, size_t count,
                   mlp_eval_buf *b, double *loss_sum, size_t *correct, uint32_t *confusion) {
    const mlp_arch *a = &m->arch;
    int O = a->sizes[a->n_layers];
    int classes = O >= 2 ? O : 2;
    for (size_t done = 0; done < count;) {
        int n = count - done < (size_t)b->chunk ? (int)(count - done) : b->chunk;
        for (int i = 0; i < n; i++) b->idx[i] = (uint32_t)(start + done + (size_t)i);
        mlp_dataset_gather(d, b->idx, n, b->x, b->y);
        mlp_forward_logits_precision(m, b->precision, b->x, n, b->out, b->scratch);
        if (a->loss == MLP_LOSS_CROSS_ENTROPY)
            *loss_sum += mlp_softmax_ce_loss(b->out, b->y, n, O, b->label_smoothing, b->pred);
        else
            *loss_sum += mlp_mse_loss(b->out, b->y, n, O, b->pred);
        for (int i = 0; i < n; i++) {
            if (b->pred[i] == b->y[i]) (*correct)++;
            if (confusion) confusion[(size_t)b->y[i] * classes + b->pred[i]]++;
        }
        done += (size_t)n;
    }
}

mlp_status mlp_evaluate(const mlp_model *m, const mlp_dataset *d, mlp_eval_result *res,
                        mlp_error *err) {
    return mlp_evaluate_precision(m, MLP_PRECISION_F32, d, res, err);
}

mlp_status mlp_evaluate_precision(const mlp_model *m, mlp_precision p, const mlp_dataset *d,
                                  mlp_eval_result *res, mlp_error *err) {
    if (!res) return mlp_fail(err, MLP_EINVAL, "no result to fill");
    memset(res, 0, sizeof *res);
    if (!m || !d) return mlp_fail(err, MLP_EINVAL, "no model or data set");
    const mlp_arch *a = &m->arch;
    int O = a->sizes[a->n_layers];
    if (d->features != a->sizes[0])
        return mlp_fail(err, MLP_EINVAL, "data set has %d features, model expects %d", d->features,
                        a->sizes[0]);
    /* One output unit is a binary (thresholded) prediction: classes 0 and 1. */
    int classes = O >= 2 ? O : 2;
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= classes)
            return mlp_fail(err, MLP_EINVAL, "label %d of sample %zu outside 0..%d",
                            (int)d->labels[i], i, classes - 1);
    res->classes = classes;
    res->confusion = calloc((size_t)classes * classes, sizeof *res->confusion);
    if (!res->confusion) return mlp_fail(err, MLP_ENOMEM, "out of memory for the confusion matrix");
    if (d->n == 0) return MLP_OK;
    mlp_eval_buf b;
    int chunk = d->n < EVAL_CHUNK ? (int)d->n : EVAL_CHUNK;
    mlp_status s = mlp_eval_buf_init(&b, m, chunk, err);
    if (s != MLP_OK) {
        mlp_eval_result_free(res);
        return s;
    }
    b.precision = p;
    double loss = 0.0;
    size_t correct = 0;
    mlp_eval_rows(m, d, 0, d->n, &b, &loss, &correct, res->confusion);
    mlp_eval_buf_free(&b);
    res->n = d->n;
    res->loss = loss / (double)d->n;
    res->accuracy = (double)correct / (double)d->n;
    return MLP_OK;
}

void mlp_eval_result_free(mlp_eval_result *res) {
    if (!res) return;
    free(res->confusion);
    res->confusion = NULL;
}
