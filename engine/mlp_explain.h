/* mlp_explain.h - part of mlp.h: explanations: attributions of one output to the input.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_EXPLAIN_H
#define MLP_EXPLAIN_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* ---- explanations: attributions of one output to the input ------------------------ */
/* Which number of the network is explained (`output`) and how the gradient
 * of that number with respect to the input is turned into one attribution
 * per input feature (`method`):
 *   saliency              g(x), the gradient itself (signed: Simonyan et al.
 *                         take |g|, a caller can)
 *   gradient_x_input      x * g(x)
 *   integrated_gradients  (x - b) * mean over k of g(b + a_k (x - b)), a_k =
 *                         (k + 1/2) / n_steps (midpoint Riemann sum, Captum's
 *                         "riemann_middle"), b the baseline (Sundararajan et al.)
 *   smoothgrad            mean over `samples` draws of g(x + noise * N(0, 1)),
 *                         one normal per feature (Smilkov et al.)
 * The explained number of row i is, for its target class t: the output
 * probability p_t (softmax output layers only) or the logit z_t, the output
 * layer's pre-activation (any output layer). Names as used in JSON:
 * "saliency" "gradient_x_input" "integrated_gradients" "smoothgrad";
 * "probability" "logit". */
typedef enum {
    MLP_EXPLAIN_SALIENCY,
    MLP_EXPLAIN_GRADIENT_X_INPUT,
    MLP_EXPLAIN_INTEGRATED_GRADIENTS,
    MLP_EXPLAIN_SMOOTHGRAD
} mlp_explain_method;
typedef enum { MLP_EXPLAIN_PROBABILITY, MLP_EXPLAIN_LOGIT } mlp_explain_output;

const char *mlp_explain_method_name(mlp_explain_method m);
int mlp_explain_method_from_name(const char *name, mlp_explain_method *out);
const char *mlp_explain_output_name(mlp_explain_output o);
int mlp_explain_output_from_name(const char *name, mlp_explain_output *out);

#define MLP_EXPLAIN_MAX_STEPS   1000 /* n_steps of integrated gradients */
#define MLP_EXPLAIN_MAX_SAMPLES 1000 /* samples of smoothgrad */
#define MLP_EXPLAIN_CHUNK       64   /* points per forward/backward pass */

typedef struct {
    mlp_explain_method method; /* default integrated_gradients */
    mlp_explain_output output; /* default probability */
    int n_steps;               /* integrated gradients: 1..MLP_EXPLAIN_MAX_STEPS, default 50 */
    const float *baseline;     /* integrated gradients: (I) floats, or NULL for zeros;
                                  the caller's, read during mlp_explain() only */
    int samples;               /* smoothgrad: 1..MLP_EXPLAIN_MAX_SAMPLES, default 50 */
    float noise;               /* smoothgrad: standard deviation, in input units, >= 0;
                                  default 0.15 (15% of a 0..1 input's range) */
    uint64_t seed;             /* smoothgrad's draws (mlp_rng), default 0 */
} mlp_explain_config;

void mlp_explain_config_default(mlp_explain_config *c);

/* Check c against m: names in range, probability only for a softmax output
 * layer, n_steps and samples within their limits, noise finite and >= 0,
 * every baseline value finite. MLP_OK or MLP_EINVAL with a message. */
mlp_status mlp_explain_config_validate(const mlp_explain_config *c, const mlp_model *m,
                                       mlp_error *err);

/* Floats of scratch mlp_explain() and mlp_input_gradient() need, whatever
 * the batch and the method (they work through MLP_EXPLAIN_CHUNK points at a
 * time). */
size_t mlp_explain_scratch_floats(const mlp_model *m);

/* grad (B, I) = d f_i / d x_i for each row i of x (B, I), where f_i is the
 * `output` of class target[i] (each in 0..O-1); value (B), if not NULL,
 * receives f_i. Reads m only; scratch holds mlp_explain_scratch_floats(m)
 * floats and is the caller's. Arguments are not checked: see mlp_explain. */
void mlp_input_gradient(const mlp_model *m, mlp_explain_output output, const float *x, int batch,
                        const int *target, float *grad, float *value, float *scratch);

/* attr (B, I) = the attributions of `c->method` for each row of x (B, I).
 * target (B) is read and written: an entry < 0 asks for the predicted class
 * (as mlp_predict; 0 for a single output unit) and is replaced by it; others
 * must be below the output width. delta (B), if not NULL, receives for
 * integrated gradients the convergence delta sum(attr_i) - (f(x_i) - f(b)),
 * and 0 for the other methods. Reads m only; scratch as above. MLP_OK, or
 * MLP_EINVAL (a bad config, a target out of range: nothing written to attr). */
mlp_status mlp_explain(const mlp_model *m, const mlp_explain_config *c, const float *x, int batch,
                       int *target, float *attr, float *delta, float *scratch, mlp_error *err);

#endif /* MLP_EXPLAIN_H */
