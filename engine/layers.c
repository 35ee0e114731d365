/* layers.c - forward and backward of each layer kind, side by side.
 *
 * Matrix products go through CBLAS (OpenBLAS); everything else is one pass
 * over contiguous memory per call, with the switch on the activation kept
 * outside the loops so each loop is a plain vectorisable kernel. None of these
 * functions allocate. Shapes are (rows, cols), row-major.
 */
/* GCC's -O2 vectorises only loops whose trip count is a known multiple of
 * the vector width ("very-cheap" cost model): these elementwise loops need
 * the dynamic model. No -ffast-math: float reductions keep their order. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- dense backward: dW = dz^T x, dx = dz W -------------------------------- */

void mlp_dense_backward(float *dx, float *dW, const float *dz, const float *x, const float *W,
                        int B, int In, int O) {
    /* dW (O,In) = dz^T (O,B) * x (B,In) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, In, B, 1.0f, dz, O, x, In, 0.0f, dW,
                In);
    /* dx (B,In) = dz (B,O) * W (O,In) */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, In, O, 1.0f, dz, O, W, In, 0.0f,
                    dx, In);
}

void mlp_dense_backward_sgd(float *dx, float *W, const float *dz, const float *x, int B, int In,
                            int O, float lr) {
    /* dx (B,In) = dz (B,O) * W (O,In), from the weights before the update */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, In, O, 1.0f, dz, O, W, In, 0.0f,
                    dx, In);
    /* W (O,In) += -lr * dz^T (O,B) * x (B,In): the SGD step without a dW buffer */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, In, B, -lr, dz, O, x, In, 1.0f, W, In);
}

/* db (O) = sum over rows of dz (B,O). Rows are added in order 0..B-1, so the
 * result does not depend on threads or vector width. */
void mlp_bias_backward(float *db, const float *dz, int B, int O) {
    memset(db, 0, (size_t)O * sizeof *db);
    for (int i = 0; i < B; i++) {
        const float *r = dz + (size_t)i * O;
        for (int j = 0; j < O; j++) db[j] += r[j];
    }
}

/* ---- dense + bias + activation forward ------------------------------------------------ */

/* Below this many rows each row is one matrix-vector product: sgemm packs
 * the whole of W on every call (for 784-512-256-10 that is 2 MB copied to
 * multiply one row), sgemv streams W once. Measured with OpenBLAS 0.3.21:
 * one row 35 us by sgemv vs 200 us by sgemm; 8 rows about equal. */
#define GEMV_MAX_ROWS 8

void mlp_dense_bias_act_forward(float *y, const float *x, const float *W, const float *b,
                                mlp_act act, int B, int In, int O) {
    /* y starts as the bias in every row and the product is accumulated onto
     * it (beta = 1), as PyTorch's addmm does: no zeroing pass, no bias pass. */
    for (int i = 0; i < B; i++) memcpy(y + (size_t)i * O, b, (size_t)O * sizeof *y);
    if (B < GEMV_MAX_ROWS) {
        for (int i = 0; i < B; i++) /* y_i (O) += W (O,In) x_i (In) */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, O, In, 1.0f, W, In, x + (size_t)i * In, 1,
                        1.0f, y + (size_t)i * O, 1);
    } else {
        /* y (B,O) += x (B,In) * W^T (In,O) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, In, 1.0f, x, In, W, In, 1.0f, y,
                    O);
    }
    mlp_act_rows(y, act, B, O);
}

/* ---- softmax: y = exp(z - max) / sum ------------------------------------------- */

static void softmax_rows(float *y, int B, int O) {
    for (int i = 0; i < B; i++) {
        float *r = y + (size_t)i * O;
        float mx = r[0];
        for (int j = 1; j < O; j++) mx = r[j] > mx ? r[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < O; j++) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < O; j++) r[j] *= inv;
    }
}

void mlp_softmax_backward(float *d, const float *y, int B, int O) {
    /* dz_j = y_j * (dy_j - sum_k dy_k y_k): the softmax Jacobian times dy. */
    for (int i = 0; i < B; i++) {
        float *dr = d + (size_t)i * O;
        const float *yr = y + (size_t)i * O;
        float dot = 0.0f;
        for (int j = 0; j < O; j++) dot += dr[j] * yr[j];
        for (int j = 0; j < O; j++) dr[j] = yr[j] * (dr[j] - dot);
    }
}

/* ---- bias + activation forward ----------------------------------------------------- */

void mlp_act_rows(float *y, mlp_act act, int B, int O) {
    size_t n = (size_t)B * O;
    switch (act) {
    case MLP_ACT_RELU:
        for (size_t k = 0; k < n; k++) y[k] = y[k] > 0.0f ? y[k] : 0.0f;
        break;
    case MLP_ACT_SIGMOID:
        for (size_t k = 0; k < n; k++) y[k] = 1.0f / (1.0f + expf(-y[k]));
        break;
    case MLP_ACT_TANH:
        for (size_t k = 0; k < n; k++) y[k] = tanhf(y[k]);
        break;
    case MLP_ACT_SOFTMAX: softmax_rows(y, B, O); break;
    case MLP_ACT_LINEAR: break;
    }
}

/* ---- activation backward (+ dropout mask, + bias gradient) ----------------------------- */

/* The derivative of each activation is written in terms of its output y, so
 * the forward pass need not keep the pre-activation z:
 *   relu' = (y > 0), sigmoid' = y (1 - y), tanh' = 1 - y^2, linear' = 1. */
void mlp_act_backward(float *d, const float *y, const float *mask, mlp_act act, float *db, int B,
                      int O) {
    memset(db, 0, (size_t)O * sizeof *db);
    for (int i = 0; i < B; i++) {
        float *dr = d + (size_t)i * O;
        const float *yr = y + (size_t)i * O;
        if (mask) {
            const float *mr = mask + (size_t)i * O;
            for (int j = 0; j < O; j++) dr[j] *= mr[j];
        }
        switch (act) {
        case MLP_ACT_RELU:
            for (int j = 0; j < O; j++) dr[j] = yr[j] > 0.0f ? dr[j] : 0.0f;
            break;
        case MLP_ACT_SIGMOID:
            for (int j = 0; j < O; j++) dr[j] *= yr[j] * (1.0f - yr[j]);
            break;
        case MLP_ACT_TANH:
            for (int j = 0; j < O; j++) dr[j] *= 1.0f - yr[j] * yr[j];
            break;
        case MLP_ACT_SOFTMAX: /* not reached: callers use mlp_softmax_backward */
        case MLP_ACT_LINEAR: break;
        }
        for (int j = 0; j < O; j++) db[j] += dr[j];
    }
}

/* ---- dropout (inverted: scale at training time, identity at inference) ------------------ */

void mlp_dropout_mask(float *mask, size_t n, float rate, mlp_rng *r) {
    /* Compare 32-bit halves of each 64-bit draw with rate * 2^32: two mask
     * entries per generator call, exact to 2^-32. */
    uint64_t threshold = (uint64_t)((double)rate * 4294967296.0);
    float keep = 1.0f / (1.0f - rate);
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t v = mlp_rng_next(r);
        mask[i] = (v & 0xffffffffu) < threshold ? 0.0f : keep;
        mask[i + 1] = (v >> 32) < threshold ? 0.0f : keep;
    }
    if (i < n) mask[i] = (mlp_rng_next(r) >> 32) < threshold ? 0.0f : keep;
}

void mlp_dropout_apply(float *out, const float *y, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = y[i] * mask[i];
}
