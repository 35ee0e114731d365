/* backprop.c - forward and backward of one training batch.
 *
 * mlp_backprop() computes the gradient of (mean data loss + L1/L2 penalty)
 * over a batch without touching the model: the optimizer applies it (train.c)
 * and the gradient-check tests compare it with finite differences. All its
 * buffers are in one mlp_workspace allocated once per training run, sized by
 * the batch, so a step allocates nothing.
 */
/* GCC's -O2 vectorises only loops whose trip count is a known multiple of
 * the vector width ("very-cheap" cost model): these elementwise loops need
 * the dynamic model. No -ffast-math: float reductions keep their order. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Round a count of floats up to a 64-byte multiple so every buffer carved
 * from the block stays aligned for vector loads. */
static size_t round16(size_t n) {
    return (n + 15u) & ~(size_t)15u;
}

/* The widest hidden layer: the width of any dL/dx below the output. */
static int widest_hidden(const mlp_arch *a) {
    int widest = 1;
    for (int l = 1; l < a->n_layers; l++) widest = a->sizes[l] > widest ? a->sizes[l] : widest;
    return widest;
}

size_t mlp_workspace_floats(const mlp_arch *a, int batch, float dropout) {
    int L = a->n_layers;
    size_t B = (size_t)batch;
    size_t total = round16(B * a->sizes[0]) + round16(B); /* x, y */
    for (int l = 1; l <= L; l++)
        total += round16(B * a->sizes[l]) * (l < L && dropout > 0.0f ? 3 : 1);
    total += 2 * round16(B * (size_t)widest_hidden(a));
    return total + round16(mlp_arch_param_count(a));
}

mlp_status mlp_workspace_create(const mlp_arch *a, int batch, float dropout, mlp_workspace **out,
                                mlp_error *err) {
    *out = NULL;
    mlp_status s = mlp_arch_validate(a, err);
    if (s != MLP_OK) return s;
    if (batch < 1) return mlp_fail(err, MLP_EINVAL, "batch %d < 1", batch);
    int L = a->n_layers;
    size_t B = (size_t)batch;
    int widest = widest_hidden(a);
    size_t total = mlp_workspace_floats(a, batch, dropout);
    size_t n_params = mlp_arch_param_count(a);

    mlp_workspace *ws = calloc(1, sizeof *ws);
    void *block = NULL;
    if (!ws || posix_memalign(&block, 64, total * sizeof(float)) != 0) {
        free(ws);
        return mlp_fail(err, MLP_ENOMEM, "out of memory for a training batch of %d", batch);
    }
    memset(block, 0, total * sizeof(float));
    ws->block = block;
    ws->batch = batch;
    ws->dropout = dropout;
    ws->n_params = n_params;
    float *p = block;
    ws->x = p;
    p += round16(B * a->sizes[0]);
    ws->y = (int32_t *)p; /* int32 and float have the same size */
    p += round16(B);
    ws->h[0] = ws->x;
    for (int l = 1; l <= L; l++) {
        size_t n = round16(B * a->sizes[l]);
        ws->h[l] = p;
        p += n;
        if (l < L && dropout > 0.0f) {
            ws->mask[l] = p;
            p += n;
            ws->drop[l] = p;
            p += n;
        }
    }
    ws->d[0] = p;
    p += round16(B * widest);
    ws->d[1] = p;
    p += round16(B * widest);
    ws->grad = p;
    *out = ws;
    return MLP_OK;
}

void mlp_workspace_free(mlp_workspace *ws) {
    if (!ws) return;
    free(ws->block);
    free(ws);
}

double mlp_penalty(const mlp_model *m, float l1, float l2) {
    if (l1 == 0.0f && l2 == 0.0f) return 0.0;
    double s1 = 0.0, s2 = 0.0;
    for (int l = 0; l < m->arch.n_layers; l++) {
        size_t n = (size_t)m->arch.sizes[l + 1] * m->arch.sizes[l];
        const float *w = m->W[l];
        for (size_t i = 0; i < n; i++) {
            s1 += fabsf(w[i]);
            s2 += (double)w[i] * w[i];
        }
    }
    return l1 * s1 + l2 * s2;
}

/* gW += l1 sign(W) + 2 l2 W (sign(0) = 0, as the subgradient TensorFlow uses). */
static void penalty_grad(float *restrict g, const float *restrict w, size_t n, float l1, float l2) {
    float two_l2 = 2.0f * l2;
    for (size_t i = 0; i < n; i++) {
        float sign = (w[i] > 0.0f) - (w[i] < 0.0f);
        g[i] += l1 * sign + two_l2 * w[i];
    }
}

/* The batch's forward and backward. With `update` NULL the gradient goes to
 * ws->grad; with update == m->params (the same memory, writable) plain SGD
 * with rate lr is applied layer by layer instead, each weight matrix after
 * its dx has been computed from the old weights. */
static void backprop(const mlp_model *m, mlp_workspace *ws, int B, float l1, float l2, mlp_rng *rng,
                     mlp_batch_stats *st, float *update, float lr) {
    const mlp_arch *a = &m->arch;
    int L = a->n_layers;
    int dropping = rng && ws->dropout > 0.0f;
    float *gW[MLP_MAX_LAYERS], *gb[MLP_MAX_LAYERS];
    for (int l = 0; l < L; l++) {
        gW[l] = ws->grad + (m->W[l] - m->params);
        gb[l] = ws->grad + (m->b[l] - m->params);
    }
    /* in[l]: what layer l reads, (B, sizes[l]); with dropout a hidden
     * layer's output is read through its mask. */
    const float *in[MLP_MAX_LAYERS];
    in[0] = ws->x;
    st->correct = 0;

    /* ---- forward ---- */
    for (int l = 0; l < L - 1; l++) {
        int I = a->sizes[l], O = a->sizes[l + 1];
        float *y = ws->h[l + 1]; /* (B, O) */
        mlp_dense_bias_act_forward(y, in[l], m->W[l], m->b[l], a->act[l], B, I, O);
        if (dropping) {
            size_t n = (size_t)B * O;
            mlp_dropout_mask(ws->mask[l + 1], n, ws->dropout, rng);
            mlp_dropout_apply(ws->drop[l + 1], y, ws->mask[l + 1], n);
            in[l + 1] = ws->drop[l + 1];
        } else {
            in[l + 1] = y;
        }
    }

    /* ---- output layer and loss: h[L] becomes dL/dz of the output layer ---- */
    int I = a->sizes[L - 1], O = a->sizes[L];
    float *z = ws->h[L]; /* (B, O) */
    float scale = 1.0f / (float)B;
    if (a->loss == MLP_LOSS_CROSS_ENTROPY) {
        /* logits: the softmax is fused into the loss */
        mlp_dense_bias_act_forward(z, in[L - 1], m->W[L - 1], m->b[L - 1], MLP_ACT_LINEAR, B, I, O);
        st->loss_sum =
            mlp_softmax_ce_backward(z, ws->y, B, O, scale, ws->label_smoothing, &st->correct);
    } else {
        mlp_dense_bias_act_forward(z, in[L - 1], m->W[L - 1], m->b[L - 1], a->act[L - 1], B, I, O);
        st->loss_sum = mlp_mse_backward(z, a->act[L - 1], ws->y, B, O, scale, &st->correct);
    }
    mlp_bias_backward(gb[L - 1], z, B, O);

    /* ---- backward: dz of layer l -> gW[l], and dL/dz of layer l-1 via dx ---- */
    const float *dz = z;
    for (int l = L - 1; l >= 0; l--) {
        int In = a->sizes[l], On = a->sizes[l + 1];
        float *dx = l > 0 ? ws->d[l % 2] : NULL; /* (B, In); never the buffer dz is in */
        if (update) {
            float *W = update + (m->W[l] - m->params), *b = update + (m->b[l] - m->params);
            mlp_dense_backward_sgd(dx, W, dz, in[l], B, In, On, lr);
            for (int j = 0; j < On; j++) /* gb[l] is complete: layer l+1 (or the loss) made it */
                b[j] -= lr * gb[l][j];
        } else {
            mlp_dense_backward(dx, gW[l], dz, in[l], m->W[l], B, In, On);
        }
        if (l > 0) {
            /* dx is dL/d(in[l]); through the mask and layer l-1's activation */
            mlp_act_backward(dx, ws->h[l], dropping ? ws->mask[l] : NULL, a->act[l - 1], gb[l - 1],
                             B, In);
            dz = dx;
        }
    }
    if (update) {
        st->penalty = 0.0;
        return;
    }

    /* ---- penalties on weights only ---- */
    st->penalty = mlp_penalty(m, l1, l2);
    if (l1 != 0.0f || l2 != 0.0f)
        for (int l = 0; l < L; l++)
            penalty_grad(gW[l], m->W[l], (size_t)a->sizes[l + 1] * a->sizes[l], l1, l2);
}

void mlp_backprop(const mlp_model *m, mlp_workspace *ws, int B, float l1, float l2, mlp_rng *rng,
                  mlp_batch_stats *st) {
    backprop(m, ws, B, l1, l2, rng, st, NULL, 0.0f);
}

void mlp_backprop_sgd(mlp_model *m, mlp_workspace *ws, int B, float lr, mlp_rng *rng,
                      mlp_batch_stats *st) {
    backprop(m, ws, B, 0.0f, 0.0f, rng, st, m->params, lr);
}
