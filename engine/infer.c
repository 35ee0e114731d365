/* infer.c - the forward pass for inference.
 *
 * Reads the model only and writes only the caller's `out` and `scratch`, so
 * any number of threads may run it on one model, each with its own scratch.
 * A packed model (mlp_model_pack) runs batches of 1..MLP_PACKED_MAX_ROWS rows
 * through packed.c's kernel, everything else through CBLAS.
 * No allocation: scratch is two ping-pong buffers of (batch, widest hidden
 * layer) floats; the output layer writes straight into `out`.
 */
#include <stdatomic.h>

#include "internal.h"

static int widest_hidden(const mlp_arch *a) {
    int w = 1;
    for (int l = 1; l < a->n_layers; l++) w = a->sizes[l] > w ? a->sizes[l] : w;
    return w;
}

size_t mlp_scratch_floats(const mlp_model *m, int batch) {
    if (!m || batch < 1) return 0;
    /* At least 1 so that a caller's malloc never sees 0 (single-layer models
     * need no ping-pong buffers). */
    size_t pingpong = m->arch.n_layers == 1 ? 1 : 2u * (size_t)batch * widest_hidden(&m->arch);
    return pingpong + mlp_lowp_scratch_floats(m, batch);
}

/* Shared by mlp_forward and mlp_forward_logits: `normalise` decides whether a
 * softmax output layer is applied or left as logits. A reduced precision p
 * (when m has it) runs every layer through lowp.c, whatever the batch. */
static void forward(const mlp_model *m, mlp_precision p, const float *x, int B, float *out,
                    float *scratch, int normalise) {
    const mlp_arch *a = &m->arch;
    int L = a->n_layers;
    size_t half = (size_t)B * (size_t)widest_hidden(a);
    float *lowp_scratch = scratch + (L == 1 ? 1 : 2 * half);
    float *ys[MLP_MAX_LAYERS]; /* layer l's output: ping-pong halves, then out */
    for (int l = 0; l < L; l++) ys[l] = l == L - 1 ? out : scratch + (l % 2) * half;
    int lowp = p != MLP_PRECISION_F32 && mlp_model_has_precision(m, p);
    int packed = m->packed && B <= MLP_PACKED_MAX_ROWS;
    atomic_fetch_add_explicit(&mlp_forwards_running, 1, memory_order_relaxed);
    int first = packed && !lowp ? mlp_packed_forward_split(m, x, B, ys) : 0;
    for (int l = first; l < L; l++) {
        int I = a->sizes[l], O = a->sizes[l + 1];
        const float *in = l == 0 ? x : ys[l - 1];
        mlp_act act = a->act[l];
        if (act == MLP_ACT_SOFTMAX && !normalise) act = MLP_ACT_LINEAR;
        const float *Wp = packed ? mlp_packed_layer(m, l) : NULL;
        if (lowp)
            mlp_lowp_forward_layer(m, p, l, ys[l], in, act, B, lowp_scratch);
        else if (Wp)
            mlp_dense_packed_forward(ys[l], in, Wp, m->b[l], act, B, I, O);
        else
            mlp_dense_bias_act_forward(ys[l], in, m->W[l], m->b[l], act, B, I, O);
    }
    atomic_fetch_sub_explicit(&mlp_forwards_running, 1, memory_order_relaxed);
}

void mlp_forward(const mlp_model *m, const float *x, int batch, float *out, float *scratch) {
    if (batch < 1) return;
    forward(m, MLP_PRECISION_F32, x, batch, out, scratch, 1);
}

void mlp_forward_logits(const mlp_model *m, const float *x, int batch, float *out, float *scratch) {
    if (batch < 1) return;
    forward(m, MLP_PRECISION_F32, x, batch, out, scratch, 0);
}

void mlp_forward_precision(const mlp_model *m, mlp_precision p, const float *x, int batch,
                           float *out, float *scratch) {
    if (batch < 1) return;
    forward(m, p, x, batch, out, scratch, 1);
}

void mlp_forward_logits_precision(const mlp_model *m, mlp_precision p, const float *x, int batch,
                                  float *out, float *scratch) {
    if (batch < 1) return;
    forward(m, p, x, batch, out, scratch, 0);
}

void mlp_predict(const mlp_model *m, const float *x, int batch, float *probs, int *labels,
                 float *scratch) {
    mlp_predict_precision(m, MLP_PRECISION_F32, x, batch, probs, labels, scratch);
}

void mlp_predict_precision(const mlp_model *m, mlp_precision p, const float *x, int batch,
                           float *probs, int *labels, float *scratch) {
    if (batch < 1) return;
    forward(m, p, x, batch, probs, scratch, 1);
    if (!labels) return;
    int O = m->arch.sizes[m->arch.n_layers];
    for (int i = 0; i < batch; i++) labels[i] = mlp_row_label(probs + (size_t)i * O, O);
}
