/* mlp_base.h - part of mlp.h: limits, status codes, enums and their names, the seeded random generator.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_BASE_H
#define MLP_BASE_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* ---- limits --------------------------------------------------------------- */
#define MLP_MAX_LAYERS 16                     /* dense layers (hidden + output) */
#define MLP_MAX_INPUT  4096                   /* input width */
#define MLP_MAX_HIDDEN 4096                   /* hidden layer width */
#define MLP_MAX_OUTPUT 1024                   /* output width (classes) */
#define MLP_MAX_PARAMS (256u * 1024u * 1024u) /* total floats in one model (1 GiB) */

/* ---- status codes --------------------------------------------------------- */
typedef enum {
    MLP_OK = 0,
    MLP_EINVAL = -1,   /* bad argument or configuration */
    MLP_ENOMEM = -2,   /* allocation failed */
    MLP_EIO = -3,      /* open/read/write failed (errno kept in msg) */
    MLP_EFORMAT = -4,  /* malformed file or buffer */
    MLP_ESTOPPED = -5, /* a callback asked training to stop */
    MLP_ENUMERIC = -6, /* loss became NaN or infinite */
    MLP_ETOOBIG = -7   /* a data set larger than the limit it is read with */
} mlp_status;

typedef struct {
    char msg[256];
} mlp_error;

/* Short static name of a status ("ok", "invalid argument", ...). */
const char *mlp_status_str(mlp_status s);

/* ---- enums and their names -------------------------------------------------- */
typedef enum {
    MLP_ACT_RELU,
    MLP_ACT_SIGMOID,
    MLP_ACT_TANH,
    MLP_ACT_SOFTMAX,
    MLP_ACT_LINEAR
} mlp_act;
typedef enum { MLP_LOSS_CROSS_ENTROPY, MLP_LOSS_MSE } mlp_loss;
typedef enum { MLP_INIT_GLOROT_UNIFORM, MLP_INIT_HE_NORMAL } mlp_init;
typedef enum { MLP_OPT_SGD, MLP_OPT_MOMENTUM, MLP_OPT_ADAM, MLP_OPT_ADAMW } mlp_optimizer;
typedef enum {
    MLP_LR_CONSTANT,
    MLP_LR_STEP,
    MLP_LR_EXPONENTIAL,
    MLP_LR_COSINE,
    MLP_LR_PLATEAU
} mlp_lr_kind;
/* A per-epoch metric that early stopping and reduce_on_plateau watch. */
typedef enum {
    MLP_METRIC_VAL_LOSS,
    MLP_METRIC_VAL_ACCURACY,
    MLP_METRIC_LOSS,
    MLP_METRIC_ACCURACY
} mlp_metric;
/* Whether the watched metric should fall (min) or rise (max); auto is max
 * for accuracies and min for losses, as Keras' mode="auto". */
typedef enum { MLP_MODE_AUTO, MLP_MODE_MIN, MLP_MODE_MAX } mlp_mode;

/* Names as used on the command line, in JSON and in model files:
 * "relu" "sigmoid" "tanh" "softmax" "linear"; "cross_entropy" "mse";
 * "glorot_uniform" "he_normal"; "sgd" "momentum" "adam" "adamw"; "constant" "step"
 * "exponential" "cosine" "reduce_on_plateau"; "val_loss" "val_accuracy" "loss"
 * "accuracy"; "auto" "min" "max".
 * *_from_name return 0 and set *out, or -1 for an unknown name. */
const char *mlp_act_name(mlp_act a);
int mlp_act_from_name(const char *name, mlp_act *out);
const char *mlp_loss_name(mlp_loss l);
int mlp_loss_from_name(const char *name, mlp_loss *out);
const char *mlp_init_name(mlp_init i);
int mlp_init_from_name(const char *name, mlp_init *out);
const char *mlp_optimizer_name(mlp_optimizer o);
int mlp_optimizer_from_name(const char *name, mlp_optimizer *out);
const char *mlp_lr_kind_name(mlp_lr_kind k);
int mlp_lr_kind_from_name(const char *name, mlp_lr_kind *out);
const char *mlp_metric_name(mlp_metric m);
int mlp_metric_from_name(const char *name, mlp_metric *out);
const char *mlp_mode_name(mlp_mode m);
int mlp_mode_from_name(const char *name, mlp_mode *out);

/* ---- random numbers ----------------------------------------------------------- */
/* Small seeded generator (xoshiro256**, seeded through splitmix64): the same
 * seed gives the same stream on every machine. Not for cryptography. */
typedef struct {
    uint64_t s[4];
} mlp_rng;
void mlp_rng_seed(mlp_rng *r, uint64_t seed);
uint64_t mlp_rng_next(mlp_rng *r);
float mlp_rng_uniform(mlp_rng *r); /* [0, 1) */
float mlp_rng_normal(mlp_rng *r);  /* N(0, 1) */
void mlp_rng_shuffle(mlp_rng *r, uint32_t *a, size_t n);

#endif /* MLP_BASE_H */
