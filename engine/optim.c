/* optim.c - parameter updates: SGD, (Nesterov) momentum, Adam, AdamW; the
 * global-norm gradient clip; the optimizer state carried between runs.
 *
 * Each update is one fused pass over the n parameters (one contiguous
 * allocation, see model.c). The L1/L2 penalties are already in the gradient
 * (backprop.c adds them, as Keras' kernel regularizers do through the loss),
 * so every optimizer sees the same objective.
 *
 * Update rules follow PyTorch's documented algorithms, and the reference
 * tests (tests/reference) check them against PyTorch itself:
 *   https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
 *   https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
 *   https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html
 * SGD and momentum also give Keras' trajectory (v = mu v - lr g; w += v,
 * Nesterov: w += mu v - lr g) for a constant learning rate. Adam does NOT
 * follow Keras exactly: PyTorch adds epsilon after the bias correction,
 *   w -= lr m^ / (sqrt(v^) + eps),  m^ = m / (1 - b1^t), v^ = v / (1 - b2^t),
 * while Keras adds it to sqrt(v) before correcting v, which is PyTorch's rule
 * with eps replaced by eps / sqrt(1 - b2^t). With Keras' default eps 1e-7 the
 * two differ only for gradients near 1e-6, but there they differ by up to
 * 0.7 lr per weight on the first step (|g| ~ 5.6 eps / sqrt(1 - b2)).
 */
/* GCC's -O2 vectorises only loops whose trip count is a known multiple of
 * the vector width ("very-cheap" cost model): these elementwise loops need
 * the dynamic model. Adam's sqrtf is vectorised only without errno, which the
 * Makefile turns off for this file (the pragma cannot): v is never negative,
 * so errno would never be set, and sqrt and division are correctly rounded
 * in both forms, so results do not change. No -ffast-math: float reductions
 * keep their order. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "internal.h"

mlp_status mlp_optim_init(mlp_optim *o, const mlp_train_config *c, size_t n, mlp_error *err) {
    memset(o, 0, sizeof *o);
    o->kind = c->optimizer;
    o->nesterov = c->nesterov;
    o->lr = c->lr;
    o->momentum = c->momentum;
    o->beta1 = c->beta1;
    o->beta2 = c->beta2;
    o->epsilon = c->epsilon;
    o->weight_decay = c->weight_decay;
    o->n = n;
    int buffers = mlp_optim_buffers(c->optimizer);
    const mlp_optim_state *st = c->init_state;
    if (st && st->n > 0) {
        /* The buffer count names the optimizer, except adam/adamw which share theirs. */
        if (mlp_optim_buffers(st->kind) != buffers)
            return mlp_fail(err, MLP_EINVAL, "optimizer state is %s's, the run uses %s",
                            mlp_optimizer_name(st->kind), mlp_optimizer_name(c->optimizer));
        if (st->n != n)
            return mlp_fail(err, MLP_EINVAL, "optimizer state holds %zu parameters, model %zu",
                            st->n, n);
        if (st->step < 0) return mlp_fail(err, MLP_EINVAL, "optimizer state step < 0");
        o->t = (long)st->step;
    }
    if (buffers > 0) {
        /* Zeroed state: PyTorch's first momentum step sets buf = g, which is
         * mu * 0 + g; Adam's moments start at zero in both libraries. */
        o->m = calloc(n * (size_t)buffers, sizeof(float));
        if (!o->m) return mlp_fail(err, MLP_ENOMEM, "out of memory for optimizer state");
        if (buffers == 2) o->v = o->m + n;
        if (st && st->n > 0) {
            memcpy(o->m, st->m, n * sizeof(float));
            if (buffers == 2) memcpy(o->v, st->v, n * sizeof(float));
        }
    }
    return MLP_OK;
}

int mlp_optim_buffers(mlp_optimizer kind) {
    return kind == MLP_OPT_ADAM || kind == MLP_OPT_ADAMW ? 2 : kind == MLP_OPT_MOMENTUM ? 1 : 0;
}

void mlp_optim_export(mlp_optim *o, mlp_optim_state *out) {
    mlp_optim_state_free(out);
    out->kind = o->kind;
    out->step = o->t;
    out->n = o->n;
    out->m = o->m; /* ownership moves: o->m is one allocation holding v too */
    out->v = o->v;
    o->m = o->v = NULL;
}

int mlp_optim_state_fits(const mlp_optim_state *s, mlp_optimizer opt) {
    if (!s || s->n == 0) return 0;
    return s->kind == opt || (mlp_optim_buffers(s->kind) == 2 && mlp_optim_buffers(opt) == 2);
}

void mlp_optim_state_free(mlp_optim_state *s) {
    if (!s) return;
    free(s->m); /* v points into the same allocation */
    memset(s, 0, sizeof *s);
}

double mlp_clip_global_norm(float *g, size_t n, float max_norm) {
    double sq = 0.0;
    for (size_t i = 0; i < n; i++) sq += (double)g[i] * g[i];
    double norm = sqrt(sq);
    /* torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), at most 1. */
    double coef = (double)max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        float k = (float)coef;
        for (size_t i = 0; i < n; i++) g[i] *= k;
    }
    return norm;
}

void mlp_optim_free(mlp_optim *o) {
    if (!o) return;
    free(o->m); /* v points into the same allocation */
    o->m = o->v = NULL;
}

/* w -= lr g */
static void sgd_step(float *restrict w, const float *restrict g, size_t n, float lr) {
    for (size_t i = 0; i < n; i++) w[i] -= lr * g[i];
}

/* PyTorch, dampening 0:  b = mu b + g;  w -= lr b  (Nesterov: w -= lr (g + mu b)) */
static void momentum_step(float *restrict w, const float *restrict g, float *restrict b, size_t n,
                          float lr, float mu, int nesterov) {
    if (nesterov) {
        for (size_t i = 0; i < n; i++) {
            b[i] = mu * b[i] + g[i];
            w[i] -= lr * (g[i] + mu * b[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            b[i] = mu * b[i] + g[i];
            w[i] -= lr * b[i];
        }
    }
}

/* PyTorch Adam (no weight decay, no amsgrad), step t >= 1:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
static void adam_step(float *restrict w, const float *restrict g, float *restrict m,
                      float *restrict v, size_t n, float lr, float b1, float b2, float eps,
                      long t) {
    double bc1 = 1.0 - pow((double)b1, (double)t);
    double bc2 = 1.0 - pow((double)b2, (double)t);
    float step = (float)((double)lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + c1 * g[i];
        v[i] = b2 * v[i] + c2 * g[i] * g[i];
        w[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

/* PyTorch AdamW: w -= lr * wd * w (decoupled from the gradient), then Adam's step. */
static void decay_step(float *restrict w, size_t n, float lr, float wd) {
    float keep = 1.0f - lr * wd;
    for (size_t i = 0; i < n; i++) w[i] *= keep;
}

/* Denormal moments are flushed to zero during a step (and read as zero).
 * Why: a weight whose gradient is zero for many steps (an input pixel that is
 * blank in most images, a unit that rarely fires) has its momentum decayed
 * geometrically through the denormal range (below 1.2e-38), where each
 * multiply takes a microcode assist of ~100 cycles: over a 75-epoch Adam run
 * on Fashion-MNIST the step's share of an epoch doubled and epochs slowed
 * from 1.0 s to 1.4 s. Values that small move no weight (lr * m / (sqrt(v) +
 * eps) underflows float32 anyway), so flushing them changes no result that
 * matters; the caller's floating-point mode is restored on return. */
/* Returns the mode to restore (0 where there is none to change). */
static unsigned flush_denormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); /* FTZ (bit 15) and DAZ (bit 6) */
    return csr;
#else
    return 0;
#endif
}

static void restore_fp_mode(unsigned csr) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(csr);
#else
    (void)csr;
#endif
}

void mlp_optim_step(mlp_optim *o, float *params, const float *grad) {
    unsigned csr = flush_denormals();
    o->t++;
    switch (o->kind) {
    case MLP_OPT_SGD: sgd_step(params, grad, o->n, o->lr); break;
    case MLP_OPT_MOMENTUM:
        momentum_step(params, grad, o->m, o->n, o->lr, o->momentum, o->nesterov);
        break;
    case MLP_OPT_ADAMW:
        if (o->weight_decay != 0.0f) decay_step(params, o->n, o->lr, o->weight_decay);
        /* fall through */
    case MLP_OPT_ADAM:
        adam_step(params, grad, o->m, o->v, o->n, o->lr, o->beta1, o->beta2, o->epsilon, o->t);
        break;
    }
    restore_fp_mode(csr);
}
