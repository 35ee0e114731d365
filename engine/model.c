/* model.c - what a network is (mlp_arch) and its parameters (mlp_model).
 *
 * A model's weights and biases live in one float allocation, in the order
 * W[0], b[0], W[1], b[1], ...; W[l] is (sizes[l+1], sizes[l]) row-major like
 * PyTorch's nn.Linear. One allocation makes optimizers a loop over n_params,
 * cloning a memcpy and serialising a single write.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- architecture ---- */

static int act_valid(int a) {
    return a >= MLP_ACT_RELU && a <= MLP_ACT_LINEAR;
}

size_t mlp_arch_param_count(const mlp_arch *a) {
    size_t n = 0;
    for (int l = 0; l < a->n_layers && l < MLP_MAX_LAYERS; l++)
        n += (size_t)a->sizes[l + 1] * (size_t)a->sizes[l] + (size_t)a->sizes[l + 1];
    return n;
}

mlp_status mlp_arch_validate(const mlp_arch *a, mlp_error *err) {
    if (!a) return mlp_fail(err, MLP_EINVAL, "no architecture given");
    int L = a->n_layers;
    if (L < 1 || L > MLP_MAX_LAYERS)
        return mlp_fail(err, MLP_EINVAL, "layer count %d outside 1..%d", L, MLP_MAX_LAYERS);
    if (a->sizes[0] < 1 || a->sizes[0] > MLP_MAX_INPUT)
        return mlp_fail(err, MLP_EINVAL, "input width %d outside 1..%d", a->sizes[0],
                        MLP_MAX_INPUT);
    for (int l = 1; l < L; l++)
        if (a->sizes[l] < 1 || a->sizes[l] > MLP_MAX_HIDDEN)
            return mlp_fail(err, MLP_EINVAL, "hidden layer %d width %d outside 1..%d", l,
                            a->sizes[l], MLP_MAX_HIDDEN);
    if (a->sizes[L] < 1 || a->sizes[L] > MLP_MAX_OUTPUT)
        return mlp_fail(err, MLP_EINVAL, "output width %d outside 1..%d", a->sizes[L],
                        MLP_MAX_OUTPUT);
    for (int l = 0; l < L; l++) {
        if (!act_valid((int)a->act[l]))
            return mlp_fail(err, MLP_EINVAL, "layer %d has an unknown activation (%d)", l,
                            (int)a->act[l]);
        if (a->act[l] == MLP_ACT_SOFTMAX && l != L - 1)
            return mlp_fail(err, MLP_EINVAL, "softmax is only allowed on the output layer");
    }
    mlp_act out = a->act[L - 1];
    if (a->loss == MLP_LOSS_CROSS_ENTROPY) {
        /* Only the fused softmax + cross-entropy is implemented (no binary CE). */
        if (out != MLP_ACT_SOFTMAX)
            return mlp_fail(err, MLP_EINVAL, "cross_entropy needs a softmax output layer, not %s",
                            mlp_act_name(out));
        if (a->sizes[L] < 2)
            return mlp_fail(err, MLP_EINVAL, "softmax needs at least 2 output units");
    } else if (a->loss == MLP_LOSS_MSE) {
        if (out == MLP_ACT_SOFTMAX)
            return mlp_fail(err, MLP_EINVAL, "softmax output pairs with cross_entropy, not mse");
    } else {
        return mlp_fail(err, MLP_EINVAL, "unknown loss (%d)", (int)a->loss);
    }
    size_t n = mlp_arch_param_count(a);
    if (n > MLP_MAX_PARAMS)
        return mlp_fail(err, MLP_EINVAL, "%zu parameters exceed the limit of %u", n,
                        MLP_MAX_PARAMS);
    return MLP_OK;
}

mlp_status mlp_arch_make(mlp_arch *a, int inputs, const int *hidden, int n_hidden,
                         mlp_act hidden_act, int outputs, mlp_loss loss, int out_act,
                         mlp_error *err) {
    if (!a) return mlp_fail(err, MLP_EINVAL, "no architecture to fill");
    memset(a, 0, sizeof *a);
    if (n_hidden < 0 || n_hidden > MLP_MAX_LAYERS - 1)
        return mlp_fail(err, MLP_EINVAL, "hidden layer count %d outside 0..%d", n_hidden,
                        MLP_MAX_LAYERS - 1);
    if (n_hidden > 0 && !hidden) return mlp_fail(err, MLP_EINVAL, "hidden widths missing");
    if (out_act != -1 && !act_valid(out_act))
        return mlp_fail(err, MLP_EINVAL, "unknown output activation (%d)", out_act);
    if (hidden_act == MLP_ACT_SOFTMAX && n_hidden > 0)
        return mlp_fail(err, MLP_EINVAL, "softmax is only allowed on the output layer");
    a->n_layers = n_hidden + 1;
    a->sizes[0] = inputs;
    for (int i = 0; i < n_hidden; i++) {
        a->sizes[i + 1] = hidden[i];
        a->act[i] = hidden_act;
    }
    a->sizes[n_hidden + 1] = outputs;
    if (out_act == -1)
        a->act[n_hidden] = loss == MLP_LOSS_CROSS_ENTROPY ? MLP_ACT_SOFTMAX : MLP_ACT_LINEAR;
    else
        a->act[n_hidden] = (mlp_act)out_act;
    a->loss = loss;
    return mlp_arch_validate(a, err);
}

/* ---- model ---- */

/* Point W[l] and b[l] into m->params in the order W0 b0 W1 b1 ... */
static void carve(mlp_model *m) {
    float *p = m->params;
    for (int l = 0; l < m->arch.n_layers; l++) {
        m->W[l] = p;
        p += (size_t)m->arch.sizes[l + 1] * (size_t)m->arch.sizes[l];
        m->b[l] = p;
        p += m->arch.sizes[l + 1];
    }
}

/* Validate arch and allocate a model whose parameters are all zero, for
 * mlp_model_create (which initialises them) and mlp_model_clone (which copies
 * them). Free with mlp_model_free(). */
static mlp_status model_alloc(const mlp_arch *arch, mlp_model **out, mlp_error *err) {
    if (!out) return mlp_fail(err, MLP_EINVAL, "no output pointer");
    *out = NULL;
    mlp_status s = mlp_arch_validate(arch, err);
    if (s != MLP_OK) return s;
    mlp_model *m = calloc(1, sizeof *m);
    if (!m) return mlp_fail(err, MLP_ENOMEM, "out of memory for the model");
    m->arch = *arch;
    m->n_params = mlp_arch_param_count(arch);
    /* 64-byte alignment lets BLAS and the elementwise loops use aligned
     * vector loads on W[0]; zeroed so a fresh model is all zeros. */
    void *p = NULL;
    if (posix_memalign(&p, 64, m->n_params * sizeof(float)) != 0) {
        size_t n = m->n_params;
        free(m);
        return mlp_fail(err, MLP_ENOMEM, "out of memory for %zu parameters", n);
    }
    m->params = p;
    memset(m->params, 0, m->n_params * sizeof(float));
    carve(m);
    *out = m;
    return MLP_OK;
}

/* Keras' GlorotUniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)). */
static void init_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, mlp_rng *r) {
    float limit = sqrtf(6.0f / (float)(fan_in + fan_out));
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * mlp_rng_uniform(r) - 1.0f) * limit;
}

/* Keras' HeNormal (VarianceScaling scale 2, fan_in, truncated normal): a
 * normal truncated at two standard deviations (redrawn outside), with the
 * stddev divided by 0.8796... (the stddev of a unit normal truncated at +-2)
 * so the weights' variance is 2 / fan_in. */
static void init_he_normal(float *w, size_t n, int fan_in, mlp_rng *r) {
    float stddev = sqrtf(2.0f / (float)fan_in) / 0.87962566103423978f;
    for (size_t i = 0; i < n; i++) {
        float z;
        do z = mlp_rng_normal(r);
        while (z < -2.0f || z > 2.0f);
        w[i] = z * stddev;
    }
}

mlp_status mlp_model_create(const mlp_arch *arch, mlp_init init, uint64_t seed, mlp_model **out,
                            mlp_error *err) {
    if (!out) return mlp_fail(err, MLP_EINVAL, "no output pointer");
    *out = NULL;
    if (init != MLP_INIT_GLOROT_UNIFORM && init != MLP_INIT_HE_NORMAL)
        return mlp_fail(err, MLP_EINVAL, "unknown initialiser (%d)", (int)init);
    mlp_model *m;
    mlp_status s = model_alloc(arch, &m, err);
    if (s != MLP_OK) return s;
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    for (int l = 0; l < arch->n_layers; l++) {
        int fan_in = arch->sizes[l], fan_out = arch->sizes[l + 1];
        size_t n = (size_t)fan_in * (size_t)fan_out;
        if (init == MLP_INIT_GLOROT_UNIFORM)
            init_glorot_uniform(m->W[l], n, fan_in, fan_out, &r);
        else
            init_he_normal(m->W[l], n, fan_in, &r);
        /* biases stay zero (model_alloc zeroed them) */
    }
    *out = m;
    return MLP_OK;
}

mlp_status mlp_model_clone(const mlp_model *src, mlp_model **out, mlp_error *err) {
    if (!out) return mlp_fail(err, MLP_EINVAL, "no output pointer");
    *out = NULL;
    if (!src) return mlp_fail(err, MLP_EINVAL, "no model to clone");
    mlp_model *m;
    mlp_status s = model_alloc(&src->arch, &m, err);
    if (s != MLP_OK) return s;
    memcpy(m->params, src->params, src->n_params * sizeof(float));
    *out = m;
    return MLP_OK;
}

float mlp_model_input_bound(const mlp_model *m) {
    double growth = 1.0;
    for (int l = 0; l < m->arch.n_layers; l++) {
        int in = m->arch.sizes[l], out = m->arch.sizes[l + 1];
        double widest = 0.0, bias = 0.0; /* ||W||_inf: the largest row sum of |w| */
        for (int i = 0; i < out; i++) {
            const float *row = m->W[l] + (size_t)i * (size_t)in;
            double sum = 0.0;
            for (int j = 0; j < in; j++) sum += fabs((double)row[j]);
            widest = sum > widest ? sum : widest;
            double b = fabs((double)m->b[l][i]);
            bias = b > bias ? b : bias;
            if (!isfinite(sum) || !isfinite(b)) return 0.0f;
        }
        double g = widest + bias;
        growth *= g > 1.0 ? g : 1.0;
    }
    /* Below 1 the biases alone may overflow (they do not shrink with x). */
    double bound = (double)FLT_MAX / 4.0 / growth;
    return bound < 1.0 ? 0.0f : (float)bound;
}

void mlp_model_free(mlp_model *m) {
    if (!m) return;
    free(m->packed);
    mlp_lowp_drop(m);
    free(m->params);
    free(m);
}
