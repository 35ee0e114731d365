/* mlp_train.h - part of mlp.h: training: progress callbacks, schedules, optimizer state, config, mlp_train.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_TRAIN_H
#define MLP_TRAIN_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* ---- training ------------------------------------------------------------------- */
/* What a callback is told. Fields not yet known are NaN (e.g. val_* without a
 * validation split, or per-batch values that are not epoch means). */
typedef struct {
    int epoch;        /* 1-based epoch in progress or just finished */
    int epochs;       /* as configured */
    long step;        /* 1-based batch within the epoch */
    long steps;       /* batches per epoch */
    long global_step; /* batches since training started */
    double loss;      /* per batch: this batch's loss; per epoch: the epoch mean */
    double accuracy;
    double epoch_loss;     /* the epoch's means so far, weighted by rows: after its last */
    double epoch_accuracy; /* batch, the loss and accuracy the epoch reports */
    double val_loss;
    double val_accuracy;
    double seconds;         /* elapsed in this epoch */
    double samples_per_sec; /* in this epoch so far */
    double learning_rate;   /* per batch: the rate this batch used; per epoch: the rate of
                               the epoch's last batch (the metric `learning_rate`) */
    int improved;           /* per epoch: the monitored metric improved by min_delta */
    /* per epoch, with mlp_train_config.checkpoint: the run's checkpoint after
     * this epoch (mlp_train_config.resume continues from it), valid during
     * the on_epoch call only; NULL otherwise */
    const unsigned char *checkpoint;
    size_t checkpoint_len;
} mlp_progress;

/* Return 0 to go on, non-zero to stop training (mlp_train then returns
 * MLP_ESTOPPED after restoring the best weights if configured). The model
 * passed is the one being trained: read it (e.g. to checkpoint), never write. */
typedef int (*mlp_callback)(const mlp_progress *p, const mlp_model *m, void *user);

/* Learning-rate schedule: the rate each batch uses, from the configured lr.
 * Epochs e are 1-based, E = epochs; S = batches per epoch, s = 0-based batch
 * index since the run started, W = warmup_epochs * S.
 * - constant: lr.
 * - step: lr * gamma^floor((e-1) / step_epochs)    (PyTorch StepLR stepped per epoch)
 * - exponential: lr * gamma^(e-1)                  (PyTorch ExponentialLR per epoch)
 * - cosine: s < W: lr * (s+1) / W (linear warm-up); then with k = s - W, D = E*S - W:
 *   min_lr + (lr - min_lr) (1 + cos(pi k / D)) / 2, per batch (PyTorch
 *   CosineAnnealingLR(T_max = D, eta_min = min_lr) stepped per batch after
 *   LinearLR(1/W, 1, W-1) for the warm-up).
 * - reduce_on_plateau: keras.callbacks.ReduceLROnPlateau: after an epoch, if
 *   `monitor` has not improved by more than min_delta (in `mode`'s direction)
 *   for `patience` epochs, lr = max(lr * factor, min_lr), then `cooldown`
 *   epochs during which nothing is counted. The new rate applies from the
 *   next epoch. */
typedef struct {
    mlp_lr_kind type;   /* default constant */
    int step_epochs;    /* step: epochs between decays, >= 1, default 10 */
    float gamma;        /* step, exponential: factor in (0, 1], default 0.1 */
    float min_lr;       /* cosine: the final rate; plateau: the floor; [0, lr], default 0 */
    int warmup_epochs;  /* cosine: epochs of linear warm-up, [0, epochs), default 0 */
    mlp_metric monitor; /* plateau: default val_loss (loss without a validation split) */
    mlp_mode mode;      /* plateau: default auto */
    float factor;       /* plateau: (0, 1), default 0.1 */
    int patience;       /* plateau: >= 1, default 10 */
    float min_delta;    /* plateau: default 1e-4 (Keras') */
    int cooldown;       /* plateau: >= 0, default 0 */
} mlp_lr_schedule;

/* Training-time augmentation of square images: a data set whose samples are
 * side x side pixels, row by row (features = side * side, side >= 8, e.g.
 * 784 = 28 x 28).
 * After a batch is gathered, each of its rows (the batch's copy, never the
 * data set) is, in row order, with draws from the run's generator (after the
 * epoch's shuffle, before the dropout masks):
 * - hflip: mirrored left-right when the top bit of one draw is set (p = 1/2);
 * - shift s > 0: moved by dx, dy = (draw % (2s + 1)) - s pixels (dx then dy;
 *   positive: right, down), the pixels moved in are 0 (the background of
 *   images scaled to [0, 1]).
 * Flip first, then shift: out[r][c] = flipped[r - dy][c - dx]. With both off
 * nothing is drawn, so a run without augmentation is what it was before.
 * Same seed, data and thread count: the same weights, and a checkpoint holds
 * the generator, so a resumed run draws what the uninterrupted one would. */
typedef struct {
    int hflip; /* default 0 */
    int shift; /* 0 (off) .. 16, and below the image's side; default 0 */
} mlp_augment;

/* An optimizer's state between runs: what warm start carries over so that
 * chained runs step like one (model files can hold it, see
 * mlp_model_save_with_state). m and v are one allocation (v = m + n). */
typedef struct {
    mlp_optimizer kind; /* adam and adamw states are interchangeable */
    int64_t step;       /* updates taken: Adam's bias correction continues from it */
    size_t n;           /* floats per buffer (the model's n_params); 0 = no state */
    float *m;           /* momentum buffer or first moment (n), NULL for sgd */
    float *v;           /* second moment (n) for adam/adamw, else NULL */
} mlp_optim_state;
/* Frees m (and v) and zeroes *s; accepts NULL. */
void mlp_optim_state_free(mlp_optim_state *s);
/* 1 when a run with optimizer `opt` can continue state s (not empty, and of
 * the same optimizer, adam and adamw counting as one); a warm start with
 * another optimizer starts its state afresh. */
int mlp_optim_state_fits(const mlp_optim_state *s, mlp_optimizer opt);

typedef struct {
    mlp_optimizer optimizer;     /* default sgd */
    float lr;                    /* default 0.01: the base rate the schedule starts from */
    float momentum;              /* momentum/nesterov, default 0.9 */
    int nesterov;                /* with optimizer momentum, default 0 */
    float beta1, beta2, epsilon; /* adam/adamw, defaults 0.9, 0.999, 1e-7 (Keras' values).
                                    epsilon is added after bias correction, as PyTorch does:
                                    w -= lr m^ / (sqrt(v^) + eps). Keras adds it before the
                                    correction of v, which moves a weight by up to 0.7 lr more
                                    or less on the first step when |g| is near eps. */
    float weight_decay;          /* adamw only: decoupled decay w -= lr * weight_decay * w before
                           the Adam step (PyTorch AdamW), >= 0, default 0.01 */
    float l1, l2; /* penalties added to the loss: l1*sum|w| + l2*sum w^2 over weights, not biases */
    float label_smoothing; /* cross_entropy only: targets (1-s) onehot + s/classes, [0, 1) */
    float clip_norm;       /* > 0: scale the gradient to this global L2 norm when it is
                               larger (torch.nn.utils.clip_grad_norm_); 0 = off */
    mlp_lr_schedule schedule;
    float dropout;          /* rate on hidden layers' outputs, [0, 1), inverted */
    mlp_augment augment;    /* of each batch's copy; needs square images (mlp_augment_check) */
    int batch_size;         /* default 128 */
    int epochs;             /* default 10 */
    int shuffle;            /* default 1 */
    float validation_split; /* [0, 1): the last share of the samples (Keras), default 0 */
    mlp_metric monitor;     /* early stopping and best weights: default val_loss; without a
                               validation split val_loss/val_accuracy fall back to loss/accuracy */
    mlp_mode mode;          /* default auto */
    int patience;           /* early stopping after this many epochs without improvement; 0 = off */
    float min_delta;        /* improvement needed, default 0 */
    int restore_best;       /* with early stopping: restore the best weights, default 1 */
    uint64_t seed;          /* shuffling and dropout (init takes its own seed) */
    const mlp_optim_state *init_state; /* NULL, or the state to continue from (warm start);
                                          its kind and n must match; read only */
    mlp_optim_state *state_out; /* NULL, or filled at the end with the optimizer's final state
                                   (the caller frees it with mlp_optim_state_free) */
    /* Checkpoints: with `checkpoint` set, every epoch's on_epoch gets the
     * bytes that let a later mlp_train continue after that epoch
     * (mlp_progress.checkpoint): the weights, the optimizer's state, the
     * generator's state and shuffle order, the schedule's and early
     * stopping's state, the step and epoch counts (docs/model-format.md,
     * "Checkpoints"). `resume` (resume_len bytes of one, or NULL) continues
     * that run: m must have the checkpoint's architecture and gets its
     * weights; cfg and the data must be the run's own. Same OpenBLAS thread
     * count: the end weights equal the uninterrupted run's, bit for bit. */
    int checkpoint;
    const unsigned char *resume;
    size_t resume_len;
    mlp_callback on_batch; /* may be NULL; called after every batch */
    mlp_callback on_epoch; /* may be NULL; called after every epoch */
    void *user;            /* passed to the callbacks */
} mlp_train_config;

/* Keras' defaults, the reference recipe: sgd lr 0.01, batch 128, 10 epochs,
 * shuffle on (the defaults of mlp_recipe_fields). */
void mlp_train_config_default(mlp_train_config *c);

/* Check every member against the limits of mlp_recipe_fields (lr in (0, 10],
 * batch 1..65536, epochs 1..10000, dropout in [0, 1), ...) and the rules
 * between members (nesterov, the schedule's periods and min_lr <= lr, known
 * enums, ...). The message names the offending member. */
mlp_status mlp_train_config_validate(const mlp_train_config *c, mlp_error *err);

/* The side of a square image of `features` pixels (28 for 784), or 0 when
 * features is not the square of a side of at least MLP_MIN_IMAGE_SIDE. */
#define MLP_MIN_IMAGE_SIDE 8
int mlp_image_side(int features);

/* Can augmentation `a` apply to samples of `features` values? MLP_OK when it
 * is off, or when they are side x side images with shift < side; else
 * MLP_EINVAL with a message starting with the member at fault
 * ("augment.shift ..."), whose dotted name goes to *member (may be NULL).
 * mlp_train checks it too; the daemon and mlpd train check it before a job. */
mlp_status mlp_augment_check(const mlp_augment *a, int features, const char **member,
                             mlp_error *err);

#endif /* MLP_TRAIN_H */
