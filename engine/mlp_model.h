/* mlp_model.h - part of mlp.h: networks: architecture, model allocation, inference and the packed kernel.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_MODEL_H
#define MLP_MODEL_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* ---- model ---------------------------------------------------------------------- */
/* What a network is: validated by mlp_model_create(). */
typedef struct {
    int n_layers;                  /* dense layers, 1..MLP_MAX_LAYERS */
    int sizes[MLP_MAX_LAYERS + 1]; /* sizes[0] input width, sizes[n_layers] output width */
    mlp_act act[MLP_MAX_LAYERS];   /* activation applied after layer l */
    mlp_loss loss;                 /* softmax output pairs with cross_entropy;
                                         sigmoid/linear output with mse */
} mlp_arch;

typedef struct {
    mlp_arch arch;
    size_t n_params;          /* floats in params */
    float *params;            /* one allocation: W[0], b[0], W[1], b[1], ... */
    float *W[MLP_MAX_LAYERS]; /* (sizes[l+1], sizes[l]), points into params */
    float *b[MLP_MAX_LAYERS]; /* (sizes[l+1]), points into params */
    float *packed;            /* NULL, or the weights again in the prediction
                                         kernel's layout (mlp_model_pack) */
    struct mlp_lowp *lowp[2]; /* NULL, or reduced-precision copies of the weights,
                                 [0] bf16, [1] int8 (mlp_model_pack_precision) */
} mlp_model;

/* Fill *a from a list of hidden widths: layers hidden[0..n_hidden-1] with
 * activation `hidden_act`, then an output layer of `outputs` units whose
 * activation follows the loss (softmax for cross_entropy, linear for mse
 * unless out_act is given: pass MLP_ACT_SOFTMAX/SIGMOID/LINEAR, or -1 for
 * the default). Returns MLP_EINVAL with a message on a bad combination. */
mlp_status mlp_arch_make(mlp_arch *a, int inputs, const int *hidden, int n_hidden,
                         mlp_act hidden_act, int outputs, mlp_loss loss, int out_act,
                         mlp_error *err);

/* Check every limit and pairing of an arch (widths, layer count, total
 * parameters, softmax only last and only with cross_entropy, ...). */
mlp_status mlp_arch_validate(const mlp_arch *a, mlp_error *err);

/* Total floats of weights and biases for an arch (no validation). */
size_t mlp_arch_param_count(const mlp_arch *a);

/* Allocate a model for `arch` and initialise it: weights by `init` from
 * `seed`, biases zero. The caller frees *out with mlp_model_free(). */
mlp_status mlp_model_create(const mlp_arch *arch, mlp_init init, uint64_t seed, mlp_model **out,
                            mlp_error *err);
/* Deep copy (new allocation). */
mlp_status mlp_model_clone(const mlp_model *src, mlp_model **out, mlp_error *err);
void mlp_model_free(mlp_model *m);

/* ---- inference -------------------------------------------------------------- */
/* Batches of up to MLP_PACKED_MAX_ROWS rows on a packed model run the packed
 * kernel (no OpenBLAS call at all); others go through CBLAS (sgemv for a
 * few rows, sgemm above). */
#define MLP_PACKED_MAX_ROWS 256

/* Prepare m for fast small-batch prediction: keep a second copy of the
 * weights (4 bytes per weight, plus padding of each layer to a multiple of 16
 * outputs) laid out for the prediction kernel, which reads them as they are
 * instead of repacking them on every product as sgemm does (every CPU: the
 * kernel has a plain-C variant). Writes m: call it before
 * m is shared between threads. The copy is freed by mlp_model_free() and
 * dropped by mlp_train() and mlp_model_unpack() (training changes the
 * weights, the copy would be stale). MLP_OK or MLP_ENOMEM. */
mlp_status mlp_model_pack(mlp_model *m, mlp_error *err);
/* The packed kernel's variant in use, chosen once per process: "avx512",
 * "avx2-fma" or "portable", the best this CPU runs, unless the environment
 * variable MLPD_KERNEL=avx512|avx2|portable (read once) asks for one; a
 * request the CPU cannot run, or an unknown name, gets the best instead and
 * the name says so, e.g. "avx2-fma (MLPD_KERNEL=avx512 unsupported by this
 * CPU)". Static string. */
const char *mlp_kernel_name(void);
/* Cores a float32 prediction on a packed model may use: the caller's and one
 * helper thread per other core (MLPD_PREDICT_CORES=N, read once, caps it; 1
 * never splits). A pass whose layers are big enough (the reference network
 * at any batch) is split by output neurons over the helpers that are idle
 * at that moment, only while no other forward pass runs in the process;
 * results are bit for bit the single-core ones, scratch stays the caller's.
 * The helpers start with the first prediction that splits (engine/pool.c). */
int mlp_predict_cores(void);
/* For the calling thread's later predictions: 0 = never borrow other cores
 * (say, the batch was built from concurrent requests, so the other cores are
 * busy serving), 1 = may (the default). */
void mlp_predict_split_here(int allow);
/* Since the process started: helper threads lent to split predictions, and
 * how many of those were taken back before they started (too late: their
 * core was busy). /metrics and the benchmarks show them. */
void mlp_predict_split_counts(unsigned long *lent, unsigned long *late);
void mlp_model_unpack(mlp_model *m);

/* Floats of scratch that mlp_forward()/mlp_predict() need for `batch` rows. */
size_t mlp_scratch_floats(const mlp_model *m, int batch);

/* out (B, O) = the network's output for x (B, I): probabilities for a
 * softmax output. scratch holds mlp_scratch_floats(m, batch) floats and is
 * the caller's (one per thread). Reads m only. */
void mlp_forward(const mlp_model *m, const float *x, int batch, float *out, float *scratch);

/* As mlp_forward, then labels[i] = the predicted class of row i: the argmax,
 * or for a single output unit 1 when the output is >= 0.5, else 0 (labels may be NULL). */
void mlp_predict(const mlp_model *m, const float *x, int batch, float *probs, int *labels,
                 float *scratch);

/* The largest input magnitude the network is sure to compute without
 * overflow: for every row whose values all satisfy |x| <= the bound, every
 * pre-activation of every layer stays below FLT_MAX / 4 in any summation
 * order, so the outputs are finite whichever kernel, precision or batch
 * computes them. Beyond it a row may overflow to inf - inf = NaN, which ReLU
 * silently turns into 0 (an answer made of biases alone) while another
 * kernel's order gives NaN. The bound is FLT_MAX / 4 over the product of
 * max(1, ||W_l||_inf + max|b_l|) across layers (each activation is
 * 1-Lipschitz through 0 or bounded by 1); about 1e34 for a trained
 * 784-512-256-10 network. 0 when no input is sure to be safe (weights that
 * are not finite, or a product of norms above FLT_MAX / 4): callers then
 * have only the outputs to check. */
float mlp_model_input_bound(const mlp_model *m);

#endif /* MLP_MODEL_H */
