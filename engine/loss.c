/* loss.c - the two losses and the prediction rule.
 *
 * Cross-entropy is only ever taken of a softmax, so the two are fused: the
 * loss of a row is logsumexp(z) - z[label] (stable for any logits, never
 * log(0)), and its gradient w.r.t. the logits is softmax(z) - onehot(label).
 * MSE follows Keras and PyTorch's default reduction: the mean over outputs
 * and rows of (y - t)^2; targets are onehot(label), or the label itself for
 * a single output unit.
 */
/* GCC's -O2 vectorises only loops whose trip count is a known multiple of
 * the vector width ("very-cheap" cost model): these elementwise loops need
 * the dynamic model. No -ffast-math: float reductions keep their order. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#include <math.h>

#include "internal.h"

int mlp_row_label(const float *row, int O) {
    if (O == 1) return row[0] >= 0.5f ? 1 : 0;
    int best = 0;
    for (int j = 1; j < O; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

/* logsumexp of a row, with the max subtracted so exp() cannot overflow. */
static double row_logsumexp(const float *z, int O, float mx) {
    double sum = 0.0;
    for (int j = 0; j < O; j++) sum += exp((double)(z[j] - mx));
    return (double)mx + log(sum);
}

static float row_max(const float *z, int O) {
    float mx = z[0];
    for (int j = 1; j < O; j++) mx = z[j] > mx ? z[j] : mx;
    return mx;
}

double mlp_softmax_ce_backward(float *z, const int32_t *labels, int B, int O, float scale,
                               float smoothing, long *correct) {
    double total = 0.0;
    /* Label smoothing (PyTorch's CrossEntropyLoss(label_smoothing=s), Keras'
     * likewise): targets q = (1-s) onehot + s/O, loss -sum_j q_j log p_j,
     * gradient p - q. s = 0 is the plain loss, term for term. */
    float off = smoothing / (float)O, on = 1.0f - smoothing;
    for (int i = 0; i < B; i++) {
        float *r = z + (size_t)i * O;
        int y = labels[i];
        if (mlp_row_label(r, O) == y) (*correct)++;
        float mx = row_max(r, O);
        float zy = r[y] - mx; /* kept: exp(zy) may underflow, zy itself cannot */
        double zsum = 0.0;    /* sum of z - mx, for the smoothed part */
        float sum = 0.0f;
        for (int j = 0; j < O; j++) {
            zsum += (double)(r[j] - mx);
            r[j] = expf(r[j] - mx); /* r now holds unnormalised probabilities */
            sum += r[j];
        }
        /* -log p[j] = log(sum exp(z - mx)) - (z[j] - mx); sum >= 1 as the max term is 1 */
        double lse = log((double)sum);
        if (smoothing == 0.0f)
            total += lse - (double)zy;
        else
            total += lse - (double)on * zy - (double)off * zsum;
        float k = scale / sum;
        for (int j = 0; j < O; j++) r[j] = r[j] * k - off * scale;
        r[y] -= on * scale;
    }
    return total;
}

double mlp_softmax_ce_loss(const float *z, const int32_t *labels, int B, int O, float smoothing,
                           int *pred) {
    double total = 0.0;
    double off = (double)smoothing / O, on = 1.0 - (double)smoothing;
    for (int i = 0; i < B; i++) {
        const float *r = z + (size_t)i * O;
        pred[i] = mlp_row_label(r, O);
        double lse = row_logsumexp(r, O, row_max(r, O));
        if (smoothing == 0.0f) {
            total += lse - (double)r[labels[i]];
        } else {
            double zsum = 0.0;
            for (int j = 0; j < O; j++) zsum += (double)r[j];
            total += lse - on * (double)r[labels[i]] - off * zsum;
        }
    }
    return total;
}

/* Row i's target for output j. */
static float target(const int32_t *labels, int i, int j, int O) {
    if (O == 1) return (float)labels[i];
    return labels[i] == j ? 1.0f : 0.0f;
}

double mlp_mse_backward(float *y, mlp_act act, const int32_t *labels, int B, int O, float scale,
                        long *correct) {
    double total = 0.0;
    float g = 2.0f * scale / (float)O; /* d/dy of mean((y - t)^2) over O outputs, B rows */
    for (int i = 0; i < B; i++) {
        float *r = y + (size_t)i * O;
        if (mlp_row_label(r, O) == labels[i]) (*correct)++;
        double row = 0.0;
        for (int j = 0; j < O; j++) {
            float yj = r[j];
            float e = yj - target(labels, i, j, O);
            row += (double)e * e;
            float dy = g * e;
            switch (act) { /* dL/dz = dL/dy * act'(y), act' written in y */
            case MLP_ACT_RELU: r[j] = yj > 0.0f ? dy : 0.0f; break;
            case MLP_ACT_SIGMOID: r[j] = dy * yj * (1.0f - yj); break;
            case MLP_ACT_TANH: r[j] = dy * (1.0f - yj * yj); break;
            case MLP_ACT_SOFTMAX: /* rejected by mlp_arch_validate */
            case MLP_ACT_LINEAR: r[j] = dy; break;
            }
        }
        total += row / O;
    }
    return total;
}

double mlp_mse_loss(const float *y, const int32_t *labels, int B, int O, int *pred) {
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        const float *r = y + (size_t)i * O;
        pred[i] = mlp_row_label(r, O);
        double row = 0.0;
        for (int j = 0; j < O; j++) {
            double e = (double)r[j] - (double)target(labels, i, j, O);
            row += e * e;
        }
        total += row / O;
    }
    return total;
}
