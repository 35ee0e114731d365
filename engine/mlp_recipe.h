/* mlp_recipe.h - part of mlp.h: the training recipe and its one table (mlp_recipe_fields), warm start.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_RECIPE_H
#define MLP_RECIPE_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

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

#endif /* MLP_RECIPE_H */
