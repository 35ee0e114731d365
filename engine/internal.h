/* internal.h - what the engine's .c files share with each other and with the engine's
 * unit tests, but not with the rest of mlpd (which sees only mlp.h).
 *
 * Naming: layer kernels are mlp_<layer>_forward / mlp_<layer>_backward; shapes
 * are written as (rows, cols) of row-major float matrices, B = rows in the
 * batch, I = a layer's input width (named In in code: <complex.h>, which
 * cblas.h includes, defines I), O = its output width.
 */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include <stdatomic.h>

#include "mlp.h"

/* ---- errors (status.c) ---- */
/* Format a message into err (if not NULL) and return s. */
mlp_status mlp_fail(mlp_error *err, mlp_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- layers (layers.c) ---- */
/* y (B,O) = act(x (B,I) W^T + b), b (O): the bias is the product's starting
 * value (sgemm beta = 1) and the activation one pass; below a few rows each
 * row is an sgemv. Softmax normalises each row. */
void mlp_dense_bias_act_forward(float *y, const float *x, const float *W, const float *b,
                                mlp_act act, int B, int In, int O);
/* dW (O,I) = dz^T x; dx (B,I) = dz W unless dx is NULL. dz (B,O), x (B,I). */
void mlp_dense_backward(float *dx, float *dW, const float *dz, const float *x, const float *W,
                        int B, int In, int O);
/* Plain SGD fused into the backward product: dx (B,I) = dz W (unless NULL),
 * computed first from the old W, then W (O,I) -= lr dz^T x in the same sgemm
 * that would have produced dW (beta = 1), so no dW is stored or re-read. */
void mlp_dense_backward_sgd(float *dx, float *W, const float *dz, const float *x, int B, int In,
                            int O, float lr);
/* In place on y (B,O): y = act(y), the bias already added. Softmax
 * normalises each row. */
void mlp_act_rows(float *y, mlp_act act, int B, int O);
/* In place on d (B,O): dL/dy in, dL/dz out, where y = act(z) is given as y (B,O)
 * and, if mask (B,O) is not NULL, the layer's output was y * mask (dropout).
 * db (O) = column sums of dL/dz (the bias gradient, folded into the same pass).
 * act must not be softmax (see mlp_softmax_backward). */
void mlp_act_backward(float *d, const float *y, const float *mask, mlp_act act, float *db, int B,
                      int O);
/* In place on d (B,O): dL/dy in, dL/dz out for y = softmax(z) rowwise. */
void mlp_softmax_backward(float *d, const float *y, int B, int O);
/* db (O) = column sums of dz (B,O). */
void mlp_bias_backward(float *db, const float *dz, int B, int O);
/* Inverted dropout: mask[i] = 0 with probability rate, else 1/(1-rate). */
void mlp_dropout_mask(float *mask, size_t n, float rate, mlp_rng *r);
/* out[i] = y[i] * mask[i] for i < n. */
void mlp_dropout_apply(float *out, const float *y, const float *mask, size_t n);

/* ---- packed prediction kernel (packed.c) ---- */
#define MLP_PACKED_NR     16 /* outputs per panel */
#define MLP_PACKED_MAX_MR 12 /* the most rows any variant's register tile takes */
/* One instruction-set variant of the packed kernel. tile_rows: c (rb rows,
 * stride ldc, 16 columns) += x (rb rows, stride ldx)[0..kc) times the panel
 * block w (kc x 16), for 1 <= rb <= mr. */
typedef struct {
    const char *name;   /* as mlp_kernel_name() reports it */
    const char *option; /* as MLPD_KERNEL names it */
    int mr;             /* rows per register tile, <= MLP_PACKED_MAX_MR */
    int (*supported)(void);
    void (*tile_rows)(int rb, float *c, int ldc, const float *x, int ldx, const float *w, int kc);
    /* NULL, or two adjacent panels at once: c (rb rows, 32 columns) +=
     * x times the panel blocks w and w + ws, each output getting exactly the
     * additions tile_rows would give it (so a layer split by panels keeps
     * its bits whichever panels end up paired); 1 <= rb <= mr. */
    void (*tile_rows2)(int rb, float *c, int ldc, const float *x, int ldx, const float *w,
                       size_t ws, int kc);
} mlp_packed_kernel;
extern const mlp_packed_kernel mlp_packed_kernel_avx512;   /* packed_avx512.c */
extern const mlp_packed_kernel mlp_packed_kernel_avx2;     /* packed_avx2.c */
extern const mlp_packed_kernel mlp_packed_kernel_portable; /* packed_portable.c */
/* Use the variant MLPD_KERNEL would name `want` (NULL or "": the best this
 * CPU runs); one the CPU lacks, or an unknown name, gives the best instead.
 * Returns what mlp_kernel_name() reports from then on. For tests and
 * benchmarks: not while another thread predicts. */
const char *mlp_kernel_select(const char *want);
/* 1 when the variant in use is the one MLPD_KERNEL calls `option`. */
int mlp_kernel_is(const char *option);
/* Layer l's packed panels in m->packed (NULL when m is not packed). */
const float *mlp_packed_layer(const mlp_model *m, int layer);
/* As mlp_dense_bias_act_forward, with W given as packed panels (packed.c's
 * layout) instead of (O,I) rows, by the variant in use. */
void mlp_dense_packed_forward(float *y, const float *x, const float *Wp, const float *b,
                              mlp_act act, int B, int In, int O);
/* Panels of a layer with O outputs. */
static inline int mlp_packed_panels(int O) {
    return (O + MLP_PACKED_NR - 1) / MLP_PACKED_NR;
}
/* As mlp_dense_packed_forward for the outputs of panels [pa, pb) only
 * (columns 16 pa .. min(16 pb, O) of every row of y; y's other columns are
 * not touched), bit for bit what the whole layer gives them. act must be
 * elementwise (not softmax) unless the range is the whole layer. */
void mlp_dense_packed_panels(float *y, const float *x, const float *Wp, const float *b, mlp_act act,
                             int B, int In, int O, int pa, int pb);

/* ---- cores lent to a prediction (pool.c) and the split forward pass (split.c) ---- */
#define MLP_POOL_MAX_PARTS 8 /* the caller and up to 7 helpers */
/* A job helpers run: run(job, part) on each helper lent, part 1..n_lent (the
 * caller is part 0). run must let the caller finish without it: a helper may
 * start late or never (its part taken back), so work is claimed, not
 * assigned; and once the caller has left, a helper still in run may touch
 * only the job's own memory (which must not be the caller's stack). */
typedef struct mlp_pool_job mlp_pool_job;
struct mlp_pool_job {
    void (*run)(mlp_pool_job *job, int part);
    atomic_int refs;                  /* the caller's and each started helper's: free at 0 */
    int n_lent;                       /* set by mlp_pool_lend */
    int lent[MLP_POOL_MAX_PARTS - 1]; /* pool.c's: which helpers */
};
/* Lend up to max_helpers idle helpers to job, whose refs is 1 (the
 * caller's); none when this thread said mlp_predict_split_here(0), none is
 * idle, or lending pauses after late helpers. Returns how many; the caller
 * must call mlp_pool_leave(job) when done, even when 0. */
int mlp_pool_lend(mlp_pool_job *job, int max_helpers);
/* The caller is done with job (all its work finished): helpers that have
 * not started are taken back (run never called for their part), those
 * running drop their own reference when they leave; drops the caller's.
 * Returns how many never started. slow = 1 when the caller had to wait
 * long for a helper's work (both pause lending for a while). */
int mlp_pool_leave(mlp_pool_job *job, int slow);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mlp_now_ns(void);
/* Lend again from the next call on, whatever helpers were late before (tests). */
void mlp_pool_backoff_reset(void);
/* Layers [0, n) of the float32 packed forward pass of m over B rows, split
 * by output panels over idle cores; ys[l] is layer l's output (layer l > 0
 * reads ys[l - 1]). Returns n: 0 when nothing was worth splitting or no
 * core was free (the caller then runs every layer), else the caller runs
 * layers n.. itself. Results are bit for bit the unsplit pass's. */
int mlp_packed_forward_split(const mlp_model *m, const float *x, int B, float *const *ys);
/* Forward passes running now in this process (infer.c counts them): a pass
 * splits only when it is the only one. */
extern atomic_int mlp_forwards_running;

/* ---- reduced-precision kernels (lowp.c: layouts, driver, choice) ---- */
/* Words of one row of layer inputs, and of one output's weights in a panel:
 * In inputs as pairs (per_word 2, bf16) or quads (4, int8), padded with
 * zero words to a multiple of 16 so that AMX tiles (16 words deep) need no
 * narrower last step; zero inputs times zero weights add nothing. */
static inline int mlp_lowp_words(int per_word, int In) {
    int w = (In + per_word - 1) / per_word;
    return (w + 15) / 16 * 16;
}
/* bf16 panels: per 16 outputs, per input pair kp, 16 words of two bf16
 * (low half input 2kp, high half 2kp+1): vdpbf16ps's operand layout. A row
 * of inputs is likewise one word per pair. rows: c (rb rows, stride ldc, 16
 * floats) += x (rb rows, stride ldx words)[0..np) times the panel block w
 * (np x 16 words), one float32 accumulator per row and output, each pair
 * added high half first; one: the same for a batch of exactly one row with
 * four accumulators over kp mod 4 (a tail goes to the first), summed as
 * (a0 + a1) + (a2 + a3) and added to c. */
typedef struct {
    const char *name, *option; /* as mlp_kernel_name_for / MLPD_KERNEL call it */
    int mr;                    /* rows per tile, <= MLP_PACKED_MAX_MR */
    int (*supported)(void);
    void (*rows)(int rb, float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int np);
    void (*one)(float *c, const uint32_t *x, const uint32_t *w, int np);
    /* A variant with a whole-layer product instead of tiles (AMX): c (B
     * rows, stride ldc) = x (B rows, stride ldx words)[0..nw) times every
     * panel of w (ceil(O/16) panels of nw x 16 words), written, not added;
     * rows and one are then unused. NULL for the tile variants. */
    void (*gemm)(float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int B, int nw,
                 int O);
    /* The steps around the product, vectorised; NULL: lowp.c's plain C,
     * which they equal bit for bit (lowp_rows_avx512.c). */
    void (*convert)(uint32_t *xw, const float *x, int B, int In);
    void (*finish)(float *y, const float *c, int ldc, const float *b, int B, int O);
} mlp_bf16_kernel;
/* int8 panels: per 16 outputs, per input quad kq, 16 words of four signed
 * bytes (byte t is input 4kq + t): vpdpbusd's layout. Inputs are unsigned
 * bytes, four per word. rows: c (rb rows, stride ldc, 16 int32) += the exact
 * sums of x times w over nq quads (integers: any order gives the same). */
typedef struct {
    const char *name, *option;
    int mr;
    int (*supported)(void);
    void (*rows)(int rb, int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w,
                 int nq);
    /* as mlp_bf16_kernel's */
    void (*gemm)(int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int B, int nq,
                 int O);
    void (*convert)(uint32_t *xw, float *sx, const float *x, int B, int In);
    void (*finish)(float *y, const int32_t *c, int ldc, const float *b, const float *sx,
                   const float *scale, const int32_t *sum, int B, int O);
} mlp_int8_kernel;
extern const mlp_bf16_kernel mlp_bf16_kernel_amx, mlp_bf16_kernel_avx512, mlp_bf16_kernel_avx2,
    mlp_bf16_kernel_portable;
extern const mlp_int8_kernel mlp_int8_kernel_amx, mlp_int8_kernel_avx512, mlp_int8_kernel_avx2,
    mlp_int8_kernel_portable;
/* lowp_rows_avx512.c: convert and finish for the AVX-512 and AMX variants
 * (bf16 rounding needs AVX512-BF16, the rest AVX512F/BW). */
void mlp_lowp_avx512_round_rows(uint32_t *xw, const float *x, int B, int In);
void mlp_lowp_avx512_quantize_rows(uint32_t *xw, float *sx, const float *x, int B, int In);
void mlp_lowp_avx512_finish_bf16(float *y, const float *c, int ldc, const float *b, int B, int O);
void mlp_lowp_avx512_finish_int8(float *y, const int32_t *c, int ldc, const float *b,
                                 const float *sx, const float *scale, const int32_t *sum, int B,
                                 int O);
/* Choose the bf16 and int8 variants as mlp_kernel_select does the float one
 * (called by it, under its once-guard). */
void mlp_lowp_select(const char *want);
/* f rounded to bfloat16, nearest even; denormals to (signed) zero, as the
 * hardware reads them. */
uint16_t mlp_bf16_round(float f);
/* Floats of scratch a reduced-precision layer needs for `batch` rows (0 when
 * m has no reduced precision). */
size_t mlp_lowp_scratch_floats(const mlp_model *m, int batch);
/* Layer l of m in precision p (m has it): y (B,O) = act(x W^T + b); scratch
 * holds mlp_lowp_scratch_floats(m, B) floats. */
void mlp_lowp_forward_layer(const mlp_model *m, mlp_precision p, int l, float *y, const float *x,
                            mlp_act act, int B, float *scratch);
/* Free m's reduced-precision copies. */
void mlp_lowp_drop(mlp_model *m);

/* ---- losses (loss.c) ---- */
/* The predicted class of one output row: argmax (first on ties), or for a
 * single output unit 1 if y >= 0.5 else 0. */
int mlp_row_label(const float *row, int O);
/* Softmax + cross-entropy, fused. z (B,O) holds logits (bias added); on return
 * it holds dL/dz = (softmax(z) - q) * scale, where scale is 1/B of the mean
 * being taken and q the targets: onehot(label) smoothed to (1-s) onehot + s/O
 * by `smoothing` s in [0,1). Returns the SUM over rows of -sum_j q_j log
 * softmax(z)_j (log-sum-exp, stable for any logits); *correct += rows whose
 * argmax == label. */
double mlp_softmax_ce_backward(float *z, const int32_t *labels, int B, int O, float scale,
                               float smoothing, long *correct);
/* Sum over rows of the (smoothed) cross-entropy of logits z (B,O); pred (B) = argmax. */
double mlp_softmax_ce_loss(const float *z, const int32_t *labels, int B, int O, float smoothing,
                           int *pred);
/* Mean squared error against targets onehot(label) (O >= 2) or label (O == 1).
 * y (B,O) = act(z) is the output; on return it holds dL/dz for loss
 * mean-over-outputs-and-rows, scale = 1/B. Returns the SUM over rows of each
 * row's mean squared error; *correct as above. */
double mlp_mse_backward(float *y, mlp_act act, const int32_t *labels, int B, int O, float scale,
                        long *correct);
/* Sum over rows of each row's mean squared error; pred (B) = mlp_row_label. */
double mlp_mse_loss(const float *y, const int32_t *labels, int B, int O, int *pred);

/* ---- inference (infer.c) ---- */
/* As mlp_forward, but a softmax output layer is left as logits (bias added,
 * not normalised) so losses can use log-sum-exp. */
void mlp_forward_logits(const mlp_model *m, const float *x, int batch, float *out, float *scratch);
void mlp_forward_logits_precision(const mlp_model *m, mlp_precision p, const float *x, int batch,
                                  float *out, float *scratch);

/* ---- one training batch (backprop.c) ---- */
/* Buffers for forward + backward of up to `batch` rows, allocated once. */
typedef struct {
    int batch;                       /* capacity in rows */
    float dropout;                   /* rate on hidden outputs, 0 = none */
    float label_smoothing;           /* cross-entropy targets' smoothing, 0 = none (set
                                        after mlp_workspace_create) */
    float *x;                        /* (batch, sizes[0]): fill before mlp_backprop */
    int32_t *y;                      /* (batch): labels, fill before mlp_backprop */
    float *h[MLP_MAX_LAYERS + 1];    /* h[l] (batch, sizes[l]): output of layer l-1, h[0] = x */
    float *mask[MLP_MAX_LAYERS + 1]; /* hidden l only, with dropout: (batch, sizes[l]) */
    float *drop[MLP_MAX_LAYERS + 1]; /* hidden l only, with dropout: h[l] * mask[l] */
    float *d[2];                     /* (batch, max width): gradient ping-pong */
    size_t n_params;
    float *grad; /* n_params, laid out like model->params */
    void *block; /* the one allocation everything points into */
} mlp_workspace;

typedef struct {
    double loss_sum; /* sum over rows of the data loss */
    double penalty;  /* l1 * sum|W| + l2 * sum W^2 */
    long correct;    /* rows whose prediction equals the label */
} mlp_batch_stats;

/* Floats in the one block mlp_workspace_create allocates (also what
 * mlp_train_memory counts). */
size_t mlp_workspace_floats(const mlp_arch *a, int batch, float dropout);
mlp_status mlp_workspace_create(const mlp_arch *a, int batch, float dropout, mlp_workspace **out,
                                mlp_error *err);
void mlp_workspace_free(mlp_workspace *ws);

/* Forward and backward on the first B rows of ws->x / ws->y: on return
 * ws->grad = d/dparams of (mean data loss over the B rows + penalty). Dropout
 * (ws->dropout) is applied only if rng is not NULL; masks come from rng.
 * Reads m only; labels must be valid for the output width. */
void mlp_backprop(const mlp_model *m, mlp_workspace *ws, int B, float l1, float l2, mlp_rng *rng,
                  mlp_batch_stats *st);
/* As mlp_backprop without penalties, but instead of filling ws->grad it
 * applies plain SGD (params -= lr * grad) to m during the backward pass
 * (mlp_dense_backward_sgd): the reference recipe's step with one pass less
 * over the parameters. ws->grad holds only the bias gradients afterwards. */
void mlp_backprop_sgd(mlp_model *m, mlp_workspace *ws, int B, float lr, mlp_rng *rng,
                      mlp_batch_stats *st);
/* l1 * sum|W| + l2 * sum W^2 over the weights of m (not biases). */
double mlp_penalty(const mlp_model *m, float l1, float l2);

/* ---- optimizers (optim.c) ---- */
typedef struct {
    mlp_optimizer kind;
    int nesterov;
    float lr, momentum, beta1, beta2, epsilon, weight_decay; /* lr: the rate of the next step */
    long t; /* steps taken (Adam's bias correction) */
    size_t n;
    float *m; /* momentum buffer / Adam first moment (n), or NULL for sgd */
    float *v; /* Adam second moment (n), or NULL */
} mlp_optim;

/* State for n parameters, zeroed (as PyTorch and Keras start), or copied
 * from c->init_state (MLP_EINVAL if it does not fit the optimizer or n). */
mlp_status mlp_optim_init(mlp_optim *o, const mlp_train_config *c, size_t n, mlp_error *err);
/* Buffers of n floats an optimizer keeps: 0 sgd, 1 momentum, 2 adam/adamw. */
int mlp_optim_buffers(mlp_optimizer kind);
/* Move o's state into *out (freeing what out held); o keeps no buffers after. */
void mlp_optim_export(mlp_optim *o, mlp_optim_state *out);
/* If the L2 norm of g (n) exceeds max_norm, scale g by max_norm / (norm + 1e-6)
 * as torch.nn.utils.clip_grad_norm_ does. Returns the norm before clipping. */
double mlp_clip_global_norm(float *g, size_t n, float max_norm);
/* One update of params (n) from grad (n). */
void mlp_optim_step(mlp_optim *o, float *params, const float *grad);
void mlp_optim_free(mlp_optim *o);

/* ---- augmentation (augment.c; the contract is mlp_train.h's mlp_augment) ---- */
/* dst (side x side) = src flipped left-right when flip, then moved by dx
 * (right) and dy (down) pixels with 0 moved in. src and dst must not overlap. */
void mlp_augment_image(const float *src, float *dst, int side, int flip, int dx, int dy);
/* Augment the count rows of x (each side x side) in place, drawing from rng
 * in row order; tmp holds side * side floats. */
void mlp_augment_batch(const mlp_augment *a, int side, float *x, int count, mlp_rng *rng,
                       float *tmp);

/* ---- schedules and watched metrics (schedule.c) ---- */
/* The rules between the schedule's members and the rest of the config
 * (min_lr <= lr, warmup_epochs < epochs) for the type chosen; each member's
 * own range is the recipe table's (mlp_recipe_validate checks it first).
 * Messages start "lr_schedule.<member>". */
mlp_status mlp_lr_schedule_validate(const mlp_lr_schedule *s, float lr, int epochs, mlp_error *err);
/* The rate of 0-based batch `step` of a run of `epochs` epochs of `steps`
 * batches from base rate lr (mlp.h's formulas); plateau_lr is
 * reduce_on_plateau's current rate. */
float mlp_lr_at(const mlp_lr_schedule *s, float lr, float plateau_lr, long step, long steps,
                int epochs);
/* 1 when `monitor` should rise under `mode` (auto: accuracies rise). */
int mlp_watch_maximize(mlp_metric monitor, mlp_mode mode);
/* The monitored value of an epoch; val_* fall back to the training metric
 * when there is no validation split (have_val 0). */
double mlp_watch_value(const mlp_progress *p, mlp_metric monitor, int have_val);

/* Best value so far and epochs since it (Keras' EarlyStopping bookkeeping). */
typedef struct {
    int maximize;
    double min_delta, best;
    int wait;
} mlp_watch;
void mlp_watch_init(mlp_watch *w, int maximize, double min_delta);
/* 1 (and best = value, wait = 0) if value beats best by more than min_delta,
 * else wait++ and 0. */
int mlp_watch_update(mlp_watch *w, double value);

/* reduce_on_plateau's state: the current rate and Keras' counters. */
typedef struct {
    mlp_watch watch;
    float lr;
    int cooldown_left;
} mlp_plateau;
void mlp_plateau_init(mlp_plateau *pl, const mlp_lr_schedule *s, float lr);
/* After an epoch whose monitored value is `value`. */
void mlp_plateau_update(mlp_plateau *pl, const mlp_lr_schedule *s, double value);

/* ---- checkpoints (checkpoint.c) ---- */
/* A run's state after an epoch, besides the weights (the model's) and the
 * optimizer's (mlp_optim). order and best belong to the run (run_state in
 * train.c): encode reads them, decode fills them (n_order must be the run's;
 * best may be NULL when the run keeps no best weights). */
typedef struct {
    int epoch;      /* epochs completed */
    int best_epoch; /* early stopping's best so far, 0 = none */
    long global_step;
    mlp_rng rng;
    mlp_watch watch;     /* early stopping (maximize and min_delta come from the config) */
    mlp_plateau plateau; /* reduce_on_plateau */
    mlp_progress last;   /* the epoch's metrics (numbers only) */
    uint32_t *order;
    size_t n_order;
    float *best;
} mlp_ckpt;

/* Serialise (the caller free()s *buf). */
mlp_status mlp_ckpt_encode(const mlp_model *m, const mlp_optim *o, const mlp_ckpt *c,
                           unsigned char **buf, size_t *len, mlp_error *err);
/* Parse buf into m's weights, o's state and step, and *c (its order, best,
 * n_order set by the caller; watch.maximize/min_delta are left as they are).
 * MLP_EFORMAT for damaged bytes, MLP_EINVAL for a checkpoint of another
 * network, optimizer or data size. */
mlp_status mlp_ckpt_decode(const unsigned char *buf, size_t len, mlp_model *m, mlp_optim *o,
                           mlp_ckpt *c, mlp_error *err);

/* ---- evaluation over a range of rows (eval.c) ---- */
typedef struct {
    int chunk;               /* rows per forward pass */
    mlp_precision precision; /* of the forward passes, float32 after init */
    float label_smoothing;   /* of the cross-entropy loss summed, 0 after init */
    uint32_t *idx;           /* (chunk) */
    float *x;                /* (chunk, I) */
    int32_t *y;              /* (chunk) */
    float *out;              /* (chunk, O) */
    int *pred;               /* (chunk) */
    float *scratch;          /* mlp_scratch_floats(m, chunk) */
} mlp_eval_buf;

mlp_status mlp_eval_buf_init(mlp_eval_buf *b, const mlp_model *m, int chunk, mlp_error *err);
void mlp_eval_buf_free(mlp_eval_buf *b);
/* Add over rows [start, start + count) of d: *loss_sum (sum of per-row data
 * losses), *correct, and confusion[true * O + pred] if confusion is not NULL. */
void mlp_eval_rows(const mlp_model *m, const mlp_dataset *d, size_t start, size_t count,
                   mlp_eval_buf *b, double *loss_sum, size_t *correct, uint32_t *confusion);

#endif /* MLP_INTERNAL_H */
