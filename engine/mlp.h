/* mlp.h - mlpd's multilayer-perceptron engine: the whole public API.
 *
 * A small, flat C library (prefix mlp_) for dense feed-forward networks:
 * build, train (mini-batch backpropagation with SGD / momentum / Adam /
 * AdamW, learning-rate schedules, early stopping),
 * evaluate, predict, and read data sets and model files.
 *
 * Contracts that hold everywhere:
 * - No global mutable state. Library code never prints and never exits; it
 *   returns an mlp_status and, where a function takes `mlp_error *err`, fills
 *   err->msg with a one-line human-readable reason (err may be NULL).
 * - Constructors and destructors come in pairs (mlp_model_create/mlp_model_free,
 *   mlp_dataset_load_* and mlp_dataset_free, ...). Destructors accept NULL.
 * - A model's weights are read-only outside mlp_train(): any number of threads
 *   may call mlp_forward()/mlp_predict()/mlp_evaluate() on one model at once,
 *   each with its own scratch buffer (mlp_scratch_floats()).
 * - All parameters of a model live in one contiguous float32 allocation
 *   (model->params); W[l] and b[l] point into it.
 *
 * Shapes: B = batch, I = input width, O = output width. Matrices are
 * row-major. Layer l's weight W[l] is (sizes[l+1], sizes[l]) like PyTorch's
 * nn.Linear, so a layer computes y = x W^T + b for x (B, sizes[l]).
 */
#ifndef MLP_H
#define MLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
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
#define MLP_PACKED_MAX_ROWS 64

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

/* ---- data sets ----------------------------------------------------------------- */
/* A labelled set held compactly: pixels as uint8 (scaled by 1/255 when a
 * batch is gathered) or features as float32. Exactly one of x_u8 / x_f32 is set. */
typedef struct {
    size_t n;        /* samples */
    int features;    /* values per sample */
    int classes;     /* 1 + the largest label (at least 2), or as declared */
    uint8_t *x_u8;   /* n * features, or NULL */
    float *x_f32;    /* n * features, or NULL */
    int32_t *labels; /* n, each in [0, classes) */
    int csv_header;  /* CSV only: 1 when the first non-blank line was a header */
} mlp_dataset;

/* Sizes the readers refuse before allocating anything. */
#define MLP_MAX_SAMPLES  10000000u
#define MLP_MAX_FEATURES MLP_MAX_INPUT
/* Largest data set a reader builds in memory unless told otherwise: what
 * mlp_dataset_bytes() counts, i.e. the decoded size, not the file size. */
#define MLP_DATASET_MAX_BYTES_DEFAULT (2ull << 30)

/* Bytes a data set of n samples takes in memory (values, one byte each for
 * pixels or four for float features, plus the int32 labels). */
uint64_t mlp_dataset_bytes(uint64_t n, int features, int pixels_u8);

/* How the readers find files and how much they may build. Pass NULL for the
 * defaults (paths as given, MLP_DATASET_MAX_BYTES_DEFAULT). */
typedef struct {
    /* NULL, or the folder that relative paths are taken from. Messages then
     * name files by the relative path only: a daemon passes its data folder
     * here so that no error it forwards shows where that folder is. */
    const char *base_dir;
    /* Single-file readers (mlp_dataset_load_csv, mlp_idx_check): the name
     * messages give the file instead of its path (an upload's name rather
     * than its temporary file); NULL for the path. */
    const char *shown_as;
    /* Refuse (MLP_ETOOBIG) a data set whose decoded size (mlp_dataset_bytes)
     * would exceed this, before allocating it; 0 for the default. */
    uint64_t max_bytes;
} mlp_load_opts;

/* Data set names, the one rule every layer applies: 1 to 64 characters of
 * [A-Za-z0-9._-], not starting with '.' (so never hidden, never "." or "..",
 * never a path). 1 when name[0..len-1] is one. */
int mlp_dataset_name_ok(const char *name, size_t len);

/* The MNIST folder layout: a data set folder holds these four files, each
 * either plain or with ".gz" appended (gzip; decided by content, not name). */
typedef enum {
    MLP_MNIST_TRAIN_IMAGES, /* train-images-idx3-ubyte */
    MLP_MNIST_TRAIN_LABELS, /* train-labels-idx1-ubyte */
    MLP_MNIST_TEST_IMAGES,  /* t10k-images-idx3-ubyte */
    MLP_MNIST_TEST_LABELS,  /* t10k-labels-idx1-ubyte */
    MLP_MNIST_FILES
} mlp_mnist_file;
/* The file's name without ".gz" (static). */
const char *mlp_mnist_file_name(mlp_mnist_file f);
/* Which file `name` is (one of the four, plain or with ".gz"), or -1. */
int mlp_mnist_file_from_name(const char *name);
/* 1 for the two label files, 0 for the image files. */
#define MLP_MNIST_IS_LABELS(f) ((int)(f) % 2 == 1)
/* Write dir/NAME, or dir/NAME.gz when only that is a regular file, into
 * path (cap bytes); dir is relative to o->base_dir when that is set, and so
 * is the result. 0 when one exists, -1 otherwise (or when it does not fit). */
int mlp_mnist_find(const mlp_load_opts *o, const char *dir, mlp_mnist_file f, char *path,
                   size_t cap);

/* One IDX file's header, and what a full check learned. */
typedef struct {
    int labels;          /* 1: idx1 ubyte labels, 0: idx3 ubyte images */
    uint32_t count;      /* samples the header declares */
    uint32_t rows, cols; /* images only */
    int features;        /* rows * cols for images, 0 for labels */
    int classes;         /* labels after a full check: 1 + the largest (at least 2) */
    int gzip;            /* the file is gzip-compressed */
} mlp_idx_info;

/* Check one IDX file (labels = 1 for idx1 labels, 0 for idx3 images):
 * magic, header, and that what the header declares is within the limits
 * (MLP_MAX_SAMPLES, MLP_MAX_FEATURES, o->max_bytes: MLP_ETOOBIG) and can be
 * in the file at all (a plain file's length; gzip's best ratio, 1032:1).
 * With full set, also read the body as a stream, in constant memory, and
 * check that it holds exactly the declared bytes and that a gzip stream is
 * whole (its CRC-32 and length trailer). Messages name the file as
 * o->shown_as or its (relative) path. */
mlp_status mlp_idx_check(const char *path, int labels, int full, const mlp_load_opts *o,
                         mlp_idx_info *info, mlp_error *err);

/* Read a pair of IDX files (idx3 ubyte images, idx1 ubyte labels), each plain
 * or gzip-compressed (decided by content, not by name). Checks magic, dims,
 * counts against each other, against the real file length and against
 * o->max_bytes before allocating. */
mlp_status mlp_dataset_load_idx(const char *images_path, const char *labels_path,
                                const mlp_load_opts *o, mlp_dataset **out, mlp_error *err);

/* Read a CSV file: one sample per line, label first (an integer >= 0), then
 * the features. A UTF-8 byte order mark is skipped. The first non-blank line
 * is a header when its first cell (the label column) is not a number; any
 * other line, the first included, must parse whole or is an error naming
 * its line and column: no row is ever dropped. d->csv_header says whether a
 * header was found. With scale_255 non-zero, features are divided by 255.
 * Every row has the same number of cells; blank lines are skipped. */
mlp_status mlp_dataset_load_csv(const char *path, int scale_255, const mlp_load_opts *o,
                                mlp_dataset **out, mlp_error *err);

/* Load split "train" or "test" of `path`: a folder in the MNIST layout, or a
 * CSV file (whose only split is "train"; "test" gives MLP_EINVAL). */
mlp_status mlp_dataset_load_path(const char *path, const char *split, const mlp_load_opts *o,
                                 mlp_dataset **out, mlp_error *err);

/* What a data set is, learned without holding it: sizes from the IDX
 * headers and a full read of the label files (images are not read), or for
 * a CSV file from reading it. */
typedef struct {
    int idx;            /* 1: MNIST folder, 0: CSV file */
    uint64_t n_train;   /* samples of the train split */
    uint64_t n_test;    /* of the test split (0 when there is none) */
    int features;       /* values per sample */
    int classes;        /* over both splits */
    int csv_header;     /* CSV: a header line was found */
    uint64_t mem_bytes; /* mlp_dataset_bytes of both splits */
} mlp_dataset_info;

/* Fill *info for `path` (a folder in the MNIST layout, whose test pair is
 * optional but whole when present, or a CSV file). Refuses what the readers
 * would refuse, including a decoded size over o->max_bytes. */
mlp_status mlp_dataset_probe(const char *path, const mlp_load_opts *o, mlp_dataset_info *info,
                             mlp_error *err);

/* Load some samples of a split as a new small data set without loading the
 * split whole (IDX: only those rows are decoded). rows[0..count-1] are row
 * numbers of the split, in any order, repeats allowed: row k of the result
 * is rows[k]. With rows NULL, `count` evenly spaced ones are taken instead:
 * row k is floor(k * N / count), count capped at N. N, the split's size, goes
 * to *total; a listed row >= N is MLP_EINVAL naming it. */
mlp_status mlp_dataset_load_rows(const char *path, const char *split, const uint32_t *rows,
                                 int count, const mlp_load_opts *o, mlp_dataset **out,
                                 size_t *total, mlp_error *err);

void mlp_dataset_free(mlp_dataset *d);

/* mean (features) = each feature's mean over the rows, scaled as
 * mlp_dataset_gather scales it. 0, or -1 for an empty set or no memory. */
int mlp_dataset_mean(const mlp_dataset *d, float *mean);

/* Copy rows idx[0..count-1] of d, as floats (scaled), into x (count, features);
 * labels into y if y is not NULL. */
void mlp_dataset_gather(const mlp_dataset *d, const uint32_t *idx, int count, float *x, int32_t *y);

/* ---- evaluation ------------------------------------------------------------------ */
typedef struct {
    double loss;         /* mean loss per sample (without L1/L2 penalty) */
    double accuracy;     /* share of predicted class (as mlp_predict) == label */
    size_t n;            /* samples seen */
    int classes;         /* size of the confusion matrix */
    uint32_t *confusion; /* classes x classes, [true][predicted]; freed by mlp_eval_result_free */
} mlp_eval_result;

/* Evaluate m on d (d->features must equal the input width; labels must be
 * below the output width). Allocates res->confusion. Thread-safe on m. */
mlp_status mlp_evaluate(const mlp_model *m, const mlp_dataset *d, mlp_eval_result *res,
                        mlp_error *err);
void mlp_eval_result_free(mlp_eval_result *res);

/* An evaluation report: what a person reading a classifier asks after the
 * accuracy (where does it fail, on what). Per class c (rows of the confusion
 * matrix are true classes, columns predicted ones):
 *   precision = C[c][c] / column sum, recall = C[c][c] / row sum (support),
 *   f1 = 2 p r / (p + r); 0 when the denominator is 0 (scikit-learn's
 *   zero_division=0). macro = unweighted mean over classes, weighted = mean
 *   weighted by support (scikit-learn's classification_report). */
typedef struct {
    int true_class, predicted;
    uint32_t count;
} mlp_confused_pair;

typedef struct {
    uint32_t index; /* row of the data set */
    int label, predicted;
    float p_predicted, p_label; /* the output's probability of each (as mlp_predict) */
} mlp_misclassified;

typedef struct {
    mlp_eval_result eval;            /* loss, accuracy, n, classes, confusion */
    double *precision, *recall, *f1; /* (classes) each */
    uint32_t *support;               /* (classes): rows whose label is the class */
    double macro[3], weighted[3];    /* precision, recall, f1 */
    mlp_confused_pair *pairs;        /* off-diagonal cells with count > 0, largest first */
    int n_pairs;
    mlp_misclassified *worst; /* misclassified rows, highest p_predicted first */
    int n_worst;
} mlp_report;

/* Fill *r for m on d: mlp_evaluate, the per-class figures, at most max_pairs
 * most confused pairs and max_worst worst misclassified rows (ties keep the
 * lower index first). Allocates; free with mlp_report_free (also after an
 * error). Reads m only. */
mlp_status mlp_evaluate_report(const mlp_model *m, const mlp_dataset *d, int max_pairs,
                               int max_worst, mlp_report *r, mlp_error *err);
void mlp_report_free(mlp_report *r);

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
    mlp_callback on_batch;      /* may be NULL; called after every batch */
    mlp_callback on_epoch;      /* may be NULL; called after every epoch */
    void *user;                 /* passed to the callbacks */
} mlp_train_config;

/* Keras' defaults, the reference recipe: sgd lr 0.01, batch 128, 10 epochs,
 * shuffle on (the defaults of mlp_recipe_fields). */
void mlp_train_config_default(mlp_train_config *c);

/* Check every member against the limits of mlp_recipe_fields (lr in (0, 10],
 * batch 1..65536, epochs 1..10000, dropout in [0, 1), ...) and the rules
 * between members (nesterov, the schedule's periods and min_lr <= lr, known
 * enums, ...). The message names the offending member. */
mlp_status mlp_train_config_validate(const mlp_train_config *c, mlp_error *err);

/* ---- the training recipe ------------------------------------------------------ */
/* Everything a training run is asked for apart from its data: the hidden part
 * of the network and the training configuration. The command line (mlpd
 * train), the API (POST /train, api/train_request.c), the dashboard's form
 * (web/js/recipe.js, generated) and api/openapi.yaml (checked by a test) all
 * read its members, names, defaults and limits from mlp_recipe_fields. */
typedef struct {
    int hidden[MLP_MAX_LAYERS]; /* hidden widths, input side first */
    int n_hidden;               /* 0 (softmax regression) .. MLP_MAX_LAYERS - 1 */
    mlp_act activation;         /* of every hidden layer */
    int output_activation;      /* an mlp_act, or -1: follows the loss (softmax for
                                   cross_entropy, linear for mse) */
    mlp_loss loss;
    mlp_init init;
    mlp_train_config train; /* its callbacks are not part of a recipe */
} mlp_recipe;

typedef enum {
    MLP_RF_FLOAT,  /* float, within [min, max] (ends open as flagged) */
    MLP_RF_INT,    /* int, whole number within [min, max] */
    MLP_RF_BOOL,   /* int, 0 or 1 */
    MLP_RF_U64,    /* uint64_t, whole number within [min, max] (max at most 2^53) */
    MLP_RF_CHOICE, /* int (an enum value), one of `values`, spelled by `name_of` */
    MLP_RF_LIST    /* mlp_recipe.hidden / n_hidden: up to max_items ints in [min, max] */
} mlp_rf_type;

#define MLP_RF_MIN_OPEN 1u /* the value must be > min */
#define MLP_RF_MAX_OPEN 2u /* the value must be < max */
#define MLP_RF_NULL     4u /* MLP_RF_CHOICE: -1 (JSON null, no flag given) is allowed */

/* One member of the recipe. A new training option is one more line in the
 * table (engine/recipe.c) plus its use: the readers walk the table. */
typedef struct {
    const char *name; /* the member in a request body and in a run's recorded
                         config; "early_stopping.patience" is member patience
                         of object early_stopping */
    const char *flag; /* mlpd train's option without "--"; NULL: API only. A
                         MLP_RF_BOOL whose default is 1 is a switch that turns
                         it off ("no-shuffle") */
    mlp_rf_type type;
    size_t offset;                     /* of the value in mlp_recipe */
    double def;                        /* default (MLP_RF_LIST: see def_items) */
    double min, max;                   /* the range (MLP_RF_LIST: of each item) */
    unsigned flags;                    /* MLP_RF_MIN_OPEN | MLP_RF_MAX_OPEN | MLP_RF_NULL */
    const int *values;                 /* MLP_RF_CHOICE: allowed values, ended by -1 */
    const char *(*name_of)(int value); /* MLP_RF_CHOICE: the spelling (mlp_*_name) */
    int max_items;                     /* MLP_RF_LIST */
    const int *def_items;              /* MLP_RF_LIST: the default items, ended by 0 */
    const char *help;                  /* one line, for --help and the docs */
} mlp_recipe_field;

/* The table, in the order a recorded config lists its members. */
extern const mlp_recipe_field mlp_recipe_fields[];
extern const size_t mlp_recipe_n_fields;

/* The reference recipe: every member at its default. */
void mlp_recipe_default(mlp_recipe *r);

/* Where f's value lives in r (the type follows f->type). */
void *mlp_recipe_value(mlp_recipe *r, const mlp_recipe_field *f);

/* The table entry named `name` ("epochs", "early_stopping.patience"), or NULL. */
const mlp_recipe_field *mlp_recipe_field_named(const char *name);

/* f's member name without its object ("patience" for "early_stopping.patience"). */
const char *mlp_recipe_field_leaf(const mlp_recipe_field *f);

/* Is number v allowed for f (MLP_RF_FLOAT: as rounded to float; MLP_RF_INT,
 * MLP_RF_U64 and list items: whole numbers)? MLP_OK, or MLP_EINVAL with
 * "<leaf> must be ..." in err. */
mlp_status mlp_recipe_check_number(const mlp_recipe_field *f, double v, mlp_error *err);

/* f's range as text: "in (0, 10]", "in 1..65536", ">= 0". */
void mlp_recipe_range_text(const mlp_recipe_field *f, char *buf, size_t cap);

/* MLP_RF_CHOICE: the i-th allowed name (NULL past the last); the value of
 * `name` (0, or -1 when it is not allowed); the names joined by sep. */
const char *mlp_recipe_choice_name(const mlp_recipe_field *f, int i);
int mlp_recipe_choice_value(const mlp_recipe_field *f, const char *name, int *value);
void mlp_recipe_choice_list(const mlp_recipe_field *f, const char *sep, char *buf, size_t cap);

/* Check every member of r and the rules between members (the output
 * activation pairs with the loss: softmax with cross_entropy, sigmoid or
 * linear with mse; nesterov needs optimizer momentum with momentum > 0).
 * On failure *bad (may be NULL) names the member at fault. */
mlp_status mlp_recipe_validate(const mlp_recipe *r, const mlp_recipe_field **bad, mlp_error *err);

/* The output activation r asks for: output_activation, or the loss's. */
mlp_act mlp_recipe_output(const mlp_recipe *r);

/* Can `m` be the start of training on data with `features` inputs and
 * `classes` classes (labels below classes)? Its input width must be
 * `features` and its output width at least `classes`; when `want` is given
 * (the network a request describes), the hidden widths, the activations and
 * the loss must also be want's. The one warm-start rule of mlpd train and the
 * daemon's jobs. MLP_OK or MLP_EINVAL with a message naming both shapes. */
mlp_status mlp_warm_start_check(const mlp_arch *m, int features, int classes, const mlp_arch *want,
                                mlp_error *err);

typedef struct {
    int epochs_run;    /* epochs completed */
    int best_epoch;    /* 1-based epoch whose weights m holds at the end */
    mlp_progress last; /* metrics of the last completed epoch */
    int stopped_early; /* early stopping ended training */
} mlp_train_result;

/* Train m in place on `train` (warm start: m's current weights are the start).
 * With validation_split > 0, the last share of `train` is held out (before
 * shuffling, as Keras does). Same seed, config, data and OpenBLAS thread count
 * give bit-identical weights. Returns MLP_OK, MLP_ESTOPPED (callback), or an
 * error; `res` (may be NULL) is filled in every case. Allocates its own
 * scratch once, sized by batch. */
/* Rows mlp_train trains on out of n with validation_split `split` (the rest
 * are held out): Keras' int(n * (1 - split)) on the decimal the user wrote. */
size_t mlp_train_rows(size_t n, float split);

mlp_status mlp_train(mlp_model *m, const mlp_dataset *train, const mlp_train_config *cfg,
                     mlp_train_result *res, mlp_error *err);

/* What one training run holds in memory, in bytes: the one estimate that
 * the daemon (at submit, against --max-job-memory) and `mlpd train` apply.
 * It counts what mlp_train() allocates plus the model and the data. */
typedef struct {
    uint64_t params;      /* the model's weights and biases */
    uint64_t optimizer;   /* momentum / Adam state, best weights kept for restore_best */
    uint64_t activations; /* per-batch buffers: activations, dropout masks, gradients,
                             the validation chunk */
    uint64_t dataset;     /* data_bytes as given, plus the shuffle order */
    uint64_t total;       /* the sum */
} mlp_memory_estimate;

/* Fill *out for training arch `a` with config `c` on n_train samples (the
 * train split before any validation hold-out) while data_bytes of data sets
 * are held (mlp_dataset_bytes of every split loaded). No validation: an
 * arch or config that mlp_train() would refuse gets a meaningless figure. */
void mlp_train_memory(const mlp_arch *a, const mlp_train_config *c, uint64_t n_train,
                      uint64_t data_bytes, mlp_memory_estimate *out);

/* ---- model files ------------------------------------------------------------------ */
/* The format is documented byte by byte in docs/model-format.md.
 * Serialise into a new buffer (*buf, *len; the caller free()s *buf). */
mlp_status mlp_model_to_buffer(const mlp_model *m, unsigned char **buf, size_t *len,
                               mlp_error *err);
/* Parse a buffer; rejects a wrong magic or version, truncation, a bad checksum,
 * absurd sizes. The caller frees *out with mlp_model_free(). */
mlp_status mlp_model_from_buffer(const unsigned char *buf, size_t len, mlp_model **out,
                                 mlp_error *err);
/* File versions of the two above. Save writes to a temporary file in the same
 * folder, fsyncs it and renames it over `path`, so a reader never sees half a file. */
mlp_status mlp_model_save(const mlp_model *m, const char *path, mlp_error *err);
mlp_status mlp_model_load(const char *path, mlp_model **out, mlp_error *err);
/* The same with an optimizer state (format version 2, which only files holding
 * a state use; a model without one is written as version 1). `state` may be
 * NULL (saves version 1). The state's n must equal m's n_params. */
mlp_status mlp_model_to_buffer_with_state(const mlp_model *m, const mlp_optim_state *state,
                                          unsigned char **buf, size_t *len, mlp_error *err);
mlp_status mlp_model_save_with_state(const mlp_model *m, const mlp_optim_state *state,
                                     const char *path, mlp_error *err);
/* Read a version 1 or 2 file; *state (if not NULL) receives the file's state,
 * or an empty one (n = 0) for a file without. Free with mlp_optim_state_free. */
mlp_status mlp_model_from_buffer_with_state(const unsigned char *buf, size_t len, mlp_model **out,
                                            mlp_optim_state *state, mlp_error *err);
mlp_status mlp_model_load_with_state(const char *path, mlp_model **out, mlp_optim_state *state,
                                     mlp_error *err);
/* The checksum of a model file as mlpd reports it: the CRC-32 stored in its
 * trailer, which covers every byte before it (docs/model-format.md). Call
 * it on a buffer mlp_model_from_buffer() accepted; 0 when len < 4. (A CRC
 * taken over the whole file, trailer included, is the same constant for
 * every file: CRC-32's residue.) */
uint32_t mlp_model_checksum(const unsigned char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MLP_H */
