/* explain.c - attributions: the gradient of one output with respect to the input.
 *
 * Every method is a weighted sum of input gradients taken at some points:
 * saliency and gradient_x_input at x itself, integrated gradients along the
 * straight path from the baseline to x, smoothgrad at noisy copies of x. So
 * one loop serves all four: it lays the points of consecutive rows out in
 * chunks of MLP_EXPLAIN_CHUNK, runs one forward and one backward pass per
 * chunk (two matrix products per layer, whatever the number of points), and
 * adds weight * gradient into the row's attributions.
 *
 * Each row's first point is x itself (weight 0 unless the method is saliency
 * or gradient_x_input): its forward pass gives the predicted class when the
 * target is asked for, and f(x) for the convergence delta; integrated
 * gradients add the baseline (weight 0) as the second point for f(b).
 *
 * Reads the model only and writes only the caller's scratch and outputs, as
 * inference does (infer.c); nothing is allocated.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "internal.h"

#define C MLP_EXPLAIN_CHUNK

void mlp_explain_config_default(mlp_explain_config *c) {
    memset(c, 0, sizeof *c);
    c->method = MLP_EXPLAIN_INTEGRATED_GRADIENTS;
    c->output = MLP_EXPLAIN_PROBABILITY;
    c->n_steps = 50;
    c->samples = 50;
    c->noise = 0.15f;
}

mlp_status mlp_explain_config_validate(const mlp_explain_config *c, const mlp_model *m,
                                       mlp_error *err) {
    const mlp_arch *a = &m->arch;
    if (!mlp_explain_method_name(c->method) || !mlp_explain_output_name(c->output))
        return mlp_fail(err, MLP_EINVAL, "unknown method or output");
    if (c->output == MLP_EXPLAIN_PROBABILITY && a->act[a->n_layers - 1] != MLP_ACT_SOFTMAX)
        return mlp_fail(err, MLP_EINVAL,
                        "output \"probability\" needs a softmax output layer; this model's is %s "
                        "(use \"logit\")",
                        mlp_act_name(a->act[a->n_layers - 1]));
    if (c->n_steps < 1 || c->n_steps > MLP_EXPLAIN_MAX_STEPS)
        return mlp_fail(err, MLP_EINVAL, "n_steps %d is not in 1..%d", c->n_steps,
                        MLP_EXPLAIN_MAX_STEPS);
    if (c->samples < 1 || c->samples > MLP_EXPLAIN_MAX_SAMPLES)
        return mlp_fail(err, MLP_EINVAL, "samples %d is not in 1..%d", c->samples,
                        MLP_EXPLAIN_MAX_SAMPLES);
    if (!isfinite(c->noise) || c->noise < 0.0f)
        return mlp_fail(err, MLP_EINVAL, "noise must be a finite number >= 0");
    if (c->baseline)
        for (int i = 0; i < a->sizes[0]; i++)
            if (!isfinite(c->baseline[i]))
                return mlp_fail(err, MLP_EINVAL, "baseline[%d] is not a finite number", i);
    return MLP_OK;
}

/* ---- scratch: one chunk's buffers ------------------------------------------------- */

static size_t round16(size_t n) {
    return (n + 15u) & ~(size_t)15u;
}

/* Widest of the hidden layers and the output: the width of any dL/dz. */
static int widest_dz(const mlp_arch *a) {
    int w = 1;
    for (int l = 1; l <= a->n_layers; l++) w = a->sizes[l] > w ? a->sizes[l] : w;
    return w;
}

typedef struct {
    float *pts;                   /* (C, In): the chunk's points */
    float *h[MLP_MAX_LAYERS + 1]; /* h[l] (C, sizes[l]), l >= 1; h[L] the logits */
    float *p;                     /* (C, O): the output layer's activation of h[L] */
    float *d[2];                  /* (C, widest dz): dL/dz ping-pong */
    float *db;                    /* (widest dz): mlp_act_backward's bias sums, unused */
    float *g;                     /* (C, In): d f / d point */
    float *wt;                    /* (C): each point's weight in its row's sum */
    float *val;                   /* (C): f at each point */
    int32_t *row;                 /* (C): the row each point belongs to */
    int32_t *kind;                /* (C): the point's index within its row */
} chunk_buf;

static size_t carve(const mlp_model *m, float *base, chunk_buf *cb) {
    const mlp_arch *a = &m->arch;
    int L = a->n_layers, In = a->sizes[0], O = a->sizes[L], W = widest_dz(a);
    float *p = base;
    size_t used = 0;
#define TAKE(ptr, n)                                                                               \
    do {                                                                                           \
        if (cb) ptr = p + used;                                                                    \
        used += round16(n);                                                                        \
    } while (0)
    chunk_buf dummy, *t = cb ? cb : &dummy;
    TAKE(t->pts, (size_t)C * In);
    for (int l = 1; l <= L; l++) TAKE(t->h[l], (size_t)C * a->sizes[l]);
    TAKE(t->p, (size_t)C * O);
    TAKE(t->d[0], (size_t)C * W);
    TAKE(t->d[1], (size_t)C * W);
    TAKE(t->db, (size_t)W);
    TAKE(t->g, (size_t)C * In);
    TAKE(t->wt, C);
    TAKE(t->val, C);
    float *row = NULL, *kind = NULL;
    TAKE(row, C);
    TAKE(kind, C);
#undef TAKE
    if (cb) { /* int32 and float have the same size */
        cb->row = (int32_t *)row;
        cb->kind = (int32_t *)kind;
    }
    return used;
}

size_t mlp_explain_scratch_floats(const mlp_model *m) {
    return m ? carve(m, NULL, NULL) : 0;
}

/* ---- one chunk: forward, seed, backward ------------------------------------------- */

/* h[1..L] and p for the chunk's n points (pts). The output layer is kept as
 * logits in h[L]; p is its activation, as mlp_forward would return. */
static void chunk_forward(const mlp_model *m, chunk_buf *cb, int n) {
    const mlp_arch *a = &m->arch;
    int L = a->n_layers;
    int packed = m->packed && n <= MLP_PACKED_MAX_ROWS;
    const float *in = cb->pts;
    for (int l = 0; l < L; l++) {
        int In = a->sizes[l], O = a->sizes[l + 1];
        mlp_act act = l == L - 1 ? MLP_ACT_LINEAR : a->act[l];
        const float *Wp = packed ? mlp_packed_layer(m, l) : NULL;
        if (Wp)
            mlp_dense_packed_forward(cb->h[l + 1], in, Wp, m->b[l], act, n, In, O);
        else
            mlp_dense_bias_act_forward(cb->h[l + 1], in, m->W[l], m->b[l], act, n, In, O);
        in = cb->h[l + 1];
    }
    int O = a->sizes[L];
    memcpy(cb->p, cb->h[L], (size_t)n * O * sizeof *cb->p);
    mlp_act_rows(cb->p, a->act[L - 1], n, O);
}

/* val[j] = f of point j for class t[j], and d[0] row j = d f / d logits:
 * e_t for the logit, p_t (e_t - p) for a softmax probability. */
static void chunk_seed(const mlp_model *m, mlp_explain_output output, chunk_buf *cb, int n,
                       const int *t) {
    int O = m->arch.sizes[m->arch.n_layers];
    for (int j = 0; j < n; j++) {
        float *dz = cb->d[0] + (size_t)j * O;
        const float *p = cb->p + (size_t)j * O;
        if (output == MLP_EXPLAIN_LOGIT) {
            memset(dz, 0, (size_t)O * sizeof *dz);
            dz[t[j]] = 1.0f;
            cb->val[j] = cb->h[m->arch.n_layers][(size_t)j * O + t[j]];
        } else {
            float pt = p[t[j]];
            for (int k = 0; k < O; k++) dz[k] = -pt * p[k];
            dz[t[j]] += pt;
            cb->val[j] = pt;
        }
    }
}

/* g (n, In) = d[0] (dL/dlogits) carried back to the input. */
static void chunk_backward(const mlp_model *m, chunk_buf *cb, int n) {
    const mlp_arch *a = &m->arch;
    int cur = 0;
    for (int l = a->n_layers - 1; l >= 0; l--) {
        int In = a->sizes[l], O = a->sizes[l + 1];
        float *dx = l > 0 ? cb->d[1 - cur] : cb->g;
        /* dx (n, In) = dz (n, O) W (O, In); a few rows as W^T dz each, which
         * streams W once instead of packing it (as layers.c's forward does) */
        if (n < 4)
            for (int j = 0; j < n; j++)
                cblas_sgemv(CblasRowMajor, CblasTrans, O, In, 1.0f, m->W[l], In,
                            cb->d[cur] + (size_t)j * O, 1, 0.0f, dx + (size_t)j * In, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, In, O, 1.0f, cb->d[cur], O,
                        m->W[l], In, 0.0f, dx, In);
        if (l > 0) {
            mlp_act_backward(dx, cb->h[l], NULL, a->act[l - 1], cb->db, n, In);
            cur = 1 - cur;
        }
    }
}

void mlp_input_gradient(const mlp_model *m, mlp_explain_output output, const float *x, int batch,
                        const int *target, float *grad, float *value, float *scratch) {
    chunk_buf cb;
    carve(m, scratch, &cb);
    int In = m->arch.sizes[0];
    for (int r0 = 0; r0 < batch; r0 += C) {
        int n = batch - r0 < C ? batch - r0 : C;
        memcpy(cb.pts, x + (size_t)r0 * In, (size_t)n * In * sizeof *x);
        chunk_forward(m, &cb, n);
        chunk_seed(m, output, &cb, n, target + r0);
        chunk_backward(m, &cb, n);
        memcpy(grad + (size_t)r0 * In, cb.g, (size_t)n * In * sizeof *grad);
        if (value) memcpy(value + r0, cb.val, (size_t)n * sizeof *value);
    }
}

/* ---- the methods ------------------------------------------------------------------- */

/* Points per row: x, then the baseline and the path (integrated gradients)
 * or the noisy copies (smoothgrad). */
static int points_per_row(const mlp_explain_config *c) {
    switch (c->method) {
    case MLP_EXPLAIN_INTEGRATED_GRADIENTS: return 2 + c->n_steps;
    case MLP_EXPLAIN_SMOOTHGRAD: return 1 + c->samples;
    default: return 1;
    }
}

/* Write point k of row x (In) into pt (In) and return its weight. */
static float make_point(const mlp_explain_config *c, const float *x, int In, int k, float *pt,
                        mlp_rng *rng) {
    int ig = c->method == MLP_EXPLAIN_INTEGRATED_GRADIENTS;
    if (k == 0) {
        memcpy(pt, x, (size_t)In * sizeof *pt);
        return ig || c->method == MLP_EXPLAIN_SMOOTHGRAD ? 0.0f : 1.0f;
    }
    if (ig) {
        const float *b = c->baseline;
        if (k == 1) {
            for (int i = 0; i < In; i++) pt[i] = b ? b[i] : 0.0f;
            return 0.0f;
        }
        float alpha = ((float)(k - 2) + 0.5f) / (float)c->n_steps;
        for (int i = 0; i < In; i++) {
            float bi = b ? b[i] : 0.0f;
            pt[i] = bi + alpha * (x[i] - bi);
        }
        return 1.0f / (float)c->n_steps;
    }
    for (int i = 0; i < In; i++) pt[i] = x[i] + c->noise * mlp_rng_normal(rng);
    return 1.0f / (float)c->samples;
}

/* After the chunk's forward pass: resolve the targets asked for (at each
 * row's x point, the first of the row's points) and list each point's
 * target into t. */
static void resolve_targets(const mlp_model *m, chunk_buf *cb, int n, int *target, int *t) {
    int O = m->arch.sizes[m->arch.n_layers];
    for (int j = 0; j < n; j++) {
        int r = cb->row[j];
        if (cb->kind[j] == 0 && target[r] < 0)
            target[r] = O == 1 ? 0 : mlp_row_label(cb->p + (size_t)j * O, O);
        t[j] = target[r];
    }
}

mlp_status mlp_explain(const mlp_model *m, const mlp_explain_config *c, const float *x, int batch,
                       int *target, float *attr, float *delta, float *scratch, mlp_error *err) {
    mlp_status s = mlp_explain_config_validate(c, m, err);
    if (s != MLP_OK) return s;
    int In = m->arch.sizes[0], O = m->arch.sizes[m->arch.n_layers];
    for (int r = 0; r < batch; r++)
        if (target[r] >= O)
            return mlp_fail(err, MLP_EINVAL, "row %d: target %d is not an output (0..%d)", r,
                            target[r], O - 1);
    chunk_buf cb;
    carve(m, scratch, &cb);
    mlp_rng rng;
    mlp_rng_seed(&rng, c->seed);
    int per_row = points_per_row(c), ig = c->method == MLP_EXPLAIN_INTEGRATED_GRADIENTS;
    int t[C];
    memset(attr, 0, (size_t)batch * In * sizeof *attr);
    if (delta) memset(delta, 0, (size_t)batch * sizeof *delta);
    int r = 0, k = 0; /* the next point: row r, its point k */
    while (r < batch) {
        int n = 0;
        for (; n < C && r < batch; n++) {
            cb.row[n] = r;
            cb.kind[n] = k;
            cb.wt[n] = make_point(c, x + (size_t)r * In, In, k, cb.pts + (size_t)n * In, &rng);
            if (++k == per_row) r++, k = 0;
        }
        chunk_forward(m, &cb, n);
        resolve_targets(m, &cb, n, target, t);
        chunk_seed(m, c->output, &cb, n, t);
        chunk_backward(m, &cb, n);
        for (int j = 0; j < n; j++) {
            float *a = attr + (size_t)cb.row[j] * In, w = cb.wt[j];
            const float *g = cb.g + (size_t)j * In;
            if (w != 0.0f)
                for (int i = 0; i < In; i++) a[i] += w * g[i];
            /* delta holds f(x) - f(b) until the attributions are complete */
            if (delta && ig && cb.kind[j] <= 1)
                delta[cb.row[j]] += cb.kind[j] ? -cb.val[j] : cb.val[j];
        }
    }
    if (c->method == MLP_EXPLAIN_SALIENCY || c->method == MLP_EXPLAIN_SMOOTHGRAD) return MLP_OK;
    for (int row = 0; row < batch; row++) {
        float *a = attr + (size_t)row * In;
        const float *xr = x + (size_t)row * In;
        double sum = 0.0;
        for (int i = 0; i < In; i++) {
            float b = ig && c->baseline ? c->baseline[i] : 0.0f;
            a[i] *= xr[i] - b;
            sum += a[i];
        }
        if (delta && ig) delta[row] = (float)(sum - delta[row]);
    }
    return MLP_OK;
}
