/* recipe.c - the training recipe as one table: every member's name, flag,
 * type, default, limits and help (contracts in mlp.h).
 *
 * This table is the single source of the recipe's knowledge. mlpd train
 * builds its options from it, api/train_request.c decodes and encodes
 * POST /train bodies by walking it, mlp_train_config_default/validate read
 * their defaults and limits here, web/js/recipe.js is generated from it and
 * a unit test compares it with api/openapi.yaml's TrainRequest.
 *
 * Why these limits: batch 65536 and epochs 10000 keep one request from asking
 * for absurd work or memory (a batch's activations grow with it; the daemon
 * also checks mlp_train_memory's estimate); patience never needs more than the
 * epochs; lr, l1 and l2 above 10 only diverge; a validation split above 0.9
 * leaves too few rows to train on.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- the table ----------------------------------------------------------------- */

static const char *act_name(int v) {
    return mlp_act_name((mlp_act)v);
}
static const char *loss_name(int v) {
    return mlp_loss_name((mlp_loss)v);
}
static const char *init_name(int v) {
    return mlp_init_name((mlp_init)v);
}
static const char *optimizer_name(int v) {
    return mlp_optimizer_name((mlp_optimizer)v);
}
static const char *lr_kind_name(int v) {
    return mlp_lr_kind_name((mlp_lr_kind)v);
}
static const char *metric_name(int v) {
    return mlp_metric_name((mlp_metric)v);
}
static const char *mode_name(int v) {
    return mlp_mode_name((mlp_mode)v);
}

static const int hidden_acts[] = {MLP_ACT_RELU, MLP_ACT_SIGMOID, MLP_ACT_TANH, -1};
static const int output_acts[] = {MLP_ACT_SOFTMAX, MLP_ACT_SIGMOID, MLP_ACT_LINEAR, -1};
static const int losses[] = {MLP_LOSS_CROSS_ENTROPY, MLP_LOSS_MSE, -1};
static const int inits[] = {MLP_INIT_GLOROT_UNIFORM, MLP_INIT_HE_NORMAL, -1};
static const int optimizers[] = {MLP_OPT_SGD, MLP_OPT_MOMENTUM, MLP_OPT_ADAM, MLP_OPT_ADAMW, -1};
static const int default_hidden[] = {512, 256, 0};
static const int lr_kinds[] = {MLP_LR_CONSTANT, MLP_LR_STEP,    MLP_LR_EXPONENTIAL,
                               MLP_LR_COSINE,   MLP_LR_PLATEAU, -1};
static const int metrics[] = {MLP_METRIC_VAL_LOSS, MLP_METRIC_VAL_ACCURACY, MLP_METRIC_LOSS,
                              MLP_METRIC_ACCURACY, -1};
static const int modes[] = {MLP_MODE_AUTO, MLP_MODE_MIN, MLP_MODE_MAX, -1};

#define AT(member) offsetof(mlp_recipe, member)
#define TR(member) (offsetof(mlp_recipe, train) + offsetof(mlp_train_config, member))
#define SAFE_INT   9007199254740991.0 /* 2^53 - 1: every JSON client holds it exactly */

/* One line per member: name, flag, type, where, default, min, max, flags.
 * FLOAT_/INT_/BOOL_ keep each line short; CHOICE_ names its value list. */
#define FLOAT_(n, fl, m, d, lo, hi, fg, h)                                                         \
    { n, fl, MLP_RF_FLOAT, TR(m), d, lo, hi, fg, NULL, NULL, 0, NULL, h }
#define INT_(n, fl, m, d, lo, hi, h)                                                               \
    { n, fl, MLP_RF_INT, TR(m), d, lo, hi, 0, NULL, NULL, 0, NULL, h }
#define BOOL_(n, fl, m, d, h)                                                                      \
    { n, fl, MLP_RF_BOOL, TR(m), d, 0, 1, 0, NULL, NULL, 0, NULL, h }
#define CHOICE_(n, fl, off, d, vals, fn, fg, h)                                                    \
    { n, fl, MLP_RF_CHOICE, off, d, 0, 0, fg, vals, fn, 0, NULL, h }
#define OPEN_LO MLP_RF_MIN_OPEN
#define OPEN_HI MLP_RF_MAX_OPEN

const mlp_recipe_field mlp_recipe_fields[] = {
    {"hidden", "hidden", MLP_RF_LIST, AT(hidden), 0, 1, MLP_MAX_HIDDEN, 0, NULL, NULL,
     MLP_MAX_LAYERS - 1, default_hidden, "hidden layer widths, input side first"},
    CHOICE_("activation", "activation", AT(activation), MLP_ACT_RELU, hidden_acts, act_name, 0,
            "hidden layers' activation"),
    CHOICE_("output_activation", "output-activation", AT(output_activation), -1, output_acts,
            act_name, MLP_RF_NULL,
            "output activation; by default softmax for cross_entropy, linear for mse"),
    CHOICE_("loss", "loss", AT(loss), MLP_LOSS_CROSS_ENTROPY, losses, loss_name, 0,
            "loss function"),
    CHOICE_("init", "init", AT(init), MLP_INIT_GLOROT_UNIFORM, inits, init_name, 0,
            "weight initialisation (biases start at zero)"),
    CHOICE_("optimizer", "optimizer", TR(optimizer), MLP_OPT_SGD, optimizers, optimizer_name, 0,
            "optimizer"),
    FLOAT_("learning_rate", "lr", lr, 0.01, 0, 10, OPEN_LO, "learning rate"),
    FLOAT_("momentum", "momentum", momentum, 0.9, 0, 1, OPEN_HI, "momentum (optimizer momentum)"),
    BOOL_("nesterov", "nesterov", nesterov, 0, "Nesterov momentum (optimizer momentum)"),
    FLOAT_("beta1", "beta1", beta1, 0.9, 0, 1, OPEN_HI, "Adam's beta1"),
    FLOAT_("beta2", "beta2", beta2, 0.999, 0, 1, OPEN_HI, "Adam's beta2"),
    FLOAT_("epsilon", "epsilon", epsilon, 1e-7, 0, 1, OPEN_LO,
           "Adam's epsilon (added after bias correction, as PyTorch does)"),
    FLOAT_("weight_decay", "weight-decay", weight_decay, 0.01, 0, 10, 0,
           "AdamW's decoupled weight decay (optimizer adamw)"),
    FLOAT_("label_smoothing", "label-smoothing", label_smoothing, 0, 0, 1, OPEN_HI,
           "cross-entropy targets (1-s) one-hot + s/classes"),
    FLOAT_("clip_norm", "clip-norm", clip_norm, 0, 0, 1e6, 0,
           "clip the gradient to this global L2 norm (0: off)"),
    CHOICE_("lr_schedule.type", "lr-schedule", TR(schedule.type), MLP_LR_CONSTANT, lr_kinds,
            lr_kind_name, 0, "learning-rate schedule"),
    INT_("lr_schedule.step_epochs", "step-epochs", schedule.step_epochs, 10, 1, 10000,
         "step: epochs between decays"),
    FLOAT_("lr_schedule.gamma", "gamma", schedule.gamma, 0.1, 0, 1, OPEN_LO,
           "step, exponential: the decay factor"),
    FLOAT_("lr_schedule.min_lr", "min-lr", schedule.min_lr, 0, 0, 10, 0,
           "cosine: the final rate; reduce_on_plateau: the floor (at most learning_rate)"),
    INT_("lr_schedule.warmup_epochs", "warmup-epochs", schedule.warmup_epochs, 0, 0, 10000,
         "cosine: epochs of linear warm-up (fewer than epochs)"),
    CHOICE_("lr_schedule.monitor", "plateau-monitor", TR(schedule.monitor), MLP_METRIC_VAL_LOSS,
            metrics, metric_name, 0, "reduce_on_plateau: the metric watched"),
    CHOICE_("lr_schedule.mode", "plateau-mode", TR(schedule.mode), MLP_MODE_AUTO, modes, mode_name,
            0, "reduce_on_plateau: min, max, or auto (max for accuracies)"),
    FLOAT_("lr_schedule.factor", "plateau-factor", schedule.factor, 0.1, 0, 1, OPEN_LO | OPEN_HI,
           "reduce_on_plateau: the rate is multiplied by this"),
    INT_("lr_schedule.patience", "plateau-patience", schedule.patience, 10, 1, 10000,
         "reduce_on_plateau: epochs without improvement before a reduction"),
    FLOAT_("lr_schedule.min_delta", "plateau-min-delta", schedule.min_delta, 1e-4, 0, FLT_MAX, 0,
           "reduce_on_plateau: change that counts as improvement"),
    INT_("lr_schedule.cooldown", "plateau-cooldown", schedule.cooldown, 0, 0, 10000,
         "reduce_on_plateau: epochs after a reduction during which nothing is counted"),
    INT_("batch_size", "batch", batch_size, 128, 1, 65536, "batch size"),
    INT_("epochs", "epochs", epochs, 10, 1, 10000, "epochs"),
    FLOAT_("validation_split", "val", validation_split, 0, 0, 0.9, 0,
           "share of the training samples held out for validation (the last ones)"),
    FLOAT_("l1", "l1", l1, 0, 0, 10, 0, "L1 penalty on weights"),
    FLOAT_("l2", "l2", l2, 0, 0, 10, 0, "L2 penalty on weights"),
    FLOAT_("dropout", "dropout", dropout, 0, 0, 1, OPEN_HI, "dropout rate on hidden layers"),
    BOOL_("augment.hflip", "hflip", augment.hflip, 0,
          "augmentation: mirror each training image left-right with probability 1/2 (square "
          "images only)"),
    INT_("augment.shift", "shift", augment.shift, 0, 0, 16,
         "augmentation: move each training image by up to this many pixels in x and y, "
         "uniformly (square images only; 0: off)"),
    BOOL_("shuffle", "no-shuffle", shuffle, 1, "reshuffle the training samples every epoch"),
    {"seed", "seed", MLP_RF_U64, TR(seed), 0, 0, SAFE_INT, 0, NULL, NULL, 0, NULL,
     "seed of initialisation, shuffling and dropout"},
    CHOICE_("early_stopping.monitor", "monitor", TR(monitor), MLP_METRIC_VAL_LOSS, metrics,
            metric_name, 0,
            "metric watched by early stopping and best weights (val_* fall back to the training "
            "metric without a validation split)"),
    CHOICE_("early_stopping.mode", "mode", TR(mode), MLP_MODE_AUTO, modes, mode_name, 0,
            "min, max, or auto (max for accuracies)"),
    INT_("early_stopping.patience", "patience", patience, 0, 0, 10000,
         "stop after N epochs without improvement (0: off)"),
    FLOAT_("early_stopping.min_delta", "min-delta", min_delta, 0, 0, FLT_MAX, 0,
           "change of the monitored metric that counts as improvement"),
    BOOL_("early_stopping.restore_best_weights", "no-restore-best-weights", restore_best, 1,
          "with early stopping, end with the best epoch's weights"),
};
const size_t mlp_recipe_n_fields = sizeof mlp_recipe_fields / sizeof mlp_recipe_fields[0];

/* ---- access -------------------------------------------------------------------- */

void *mlp_recipe_value(mlp_recipe *r, const mlp_recipe_field *f) {
    return (char *)r + f->offset;
}

static const void *value_of(const mlp_recipe *r, const mlp_recipe_field *f) {
    return (const char *)r + f->offset;
}

const mlp_recipe_field *mlp_recipe_field_named(const char *name) {
    for (size_t i = 0; i < mlp_recipe_n_fields; i++)
        if (!strcmp(mlp_recipe_fields[i].name, name)) return &mlp_recipe_fields[i];
    return NULL;
}

const char *mlp_recipe_field_leaf(const mlp_recipe_field *f) {
    const char *dot = strrchr(f->name, '.');
    return dot ? dot + 1 : f->name;
}

void mlp_recipe_default(mlp_recipe *r) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < mlp_recipe_n_fields; i++) {
        const mlp_recipe_field *f = &mlp_recipe_fields[i];
        void *v = mlp_recipe_value(r, f);
        switch (f->type) {
        case MLP_RF_FLOAT: *(float *)v = (float)f->def; break;
        case MLP_RF_INT:
        case MLP_RF_BOOL:
        case MLP_RF_CHOICE: *(int *)v = (int)f->def; break;
        case MLP_RF_U64: *(uint64_t *)v = (uint64_t)f->def; break;
        case MLP_RF_LIST:
            r->n_hidden = 0;
            for (const int *d = f->def_items; *d; d++) r->hidden[r->n_hidden++] = *d;
            break;
        }
    }
}

void mlp_train_config_default(mlp_train_config *c) {
    mlp_recipe r;
    mlp_recipe_default(&r);
    *c = r.train;
}

/* ---- checks -------------------------------------------------------------------- */

void mlp_recipe_range_text(const mlp_recipe_field *f, char *buf, size_t cap) {
    int lo_open = (f->flags & MLP_RF_MIN_OPEN) != 0, hi_open = (f->flags & MLP_RF_MAX_OPEN) != 0;
    if (f->type != MLP_RF_FLOAT)
        snprintf(buf, cap, "in %.0f..%.0f", f->min, f->max);
    else if (f->max >= FLT_MAX)
        snprintf(buf, cap, "%s %g", lo_open ? ">" : ">=", f->min);
    else
        snprintf(buf, cap, "in %c%g, %g%c", lo_open ? '(' : '[', f->min, f->max,
                 hi_open ? ')' : ']');
}

mlp_status mlp_recipe_check_number(const mlp_recipe_field *f, double v, mlp_error *err) {
    int ok;
    if (f->type == MLP_RF_FLOAT) {
        /* The range applies to the float that is stored: 1e-60 rounds to 0
         * and 0.999999999 to 1, which an open bound must still refuse. */
        float x = (float)v;
        ok = isfinite(v) && isfinite(x) &&
             ((f->flags & MLP_RF_MIN_OPEN) ? x > f->min : x >= f->min) &&
             ((f->flags & MLP_RF_MAX_OPEN) ? x < f->max : x <= f->max);
    } else {
        ok = isfinite(v) && v == floor(v) && v >= f->min && v <= f->max;
    }
    if (ok) return MLP_OK;
    char range[80];
    mlp_recipe_range_text(f, range, sizeof range);
    if (f->type == MLP_RF_LIST)
        return mlp_fail(err, MLP_EINVAL, "layer width must be a whole number %s", range);
    return mlp_fail(err, MLP_EINVAL, "%s must be %s%s", mlp_recipe_field_leaf(f),
                    f->type == MLP_RF_FLOAT ? "" : "a whole number ", range);
}

const char *mlp_recipe_choice_name(const mlp_recipe_field *f, int i) {
    if (f->type != MLP_RF_CHOICE || i < 0) return NULL;
    for (int k = 0; k <= i; k++)
        if (f->values[k] < 0) return NULL;
    return f->name_of(f->values[i]);
}

int mlp_recipe_choice_value(const mlp_recipe_field *f, const char *name, int *value) {
    for (int i = 0; f->type == MLP_RF_CHOICE && f->values[i] >= 0; i++)
        if (!strcmp(f->name_of(f->values[i]), name)) {
            *value = f->values[i];
            return 0;
        }
    return -1;
}

void mlp_recipe_choice_list(const mlp_recipe_field *f, const char *sep, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    const char *n;
    for (int i = 0; (n = mlp_recipe_choice_name(f, i)) && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? sep : "", n);
}

static mlp_status check_field(const mlp_recipe *r, const mlp_recipe_field *f, mlp_error *err) {
    const void *v = value_of(r, f);
    switch (f->type) {
    case MLP_RF_FLOAT: return mlp_recipe_check_number(f, *(const float *)v, err);
    case MLP_RF_INT: return mlp_recipe_check_number(f, *(const int *)v, err);
    case MLP_RF_U64: return mlp_recipe_check_number(f, (double)*(const uint64_t *)v, err);
    case MLP_RF_BOOL:
        if (*(const int *)v == 0 || *(const int *)v == 1) return MLP_OK;
        return mlp_fail(err, MLP_EINVAL, "%s must be true or false", mlp_recipe_field_leaf(f));
    case MLP_RF_CHOICE: {
        int x = *(const int *)v;
        if (x == -1 && (f->flags & MLP_RF_NULL)) return MLP_OK;
        for (int i = 0; f->values[i] >= 0; i++)
            if (f->values[i] == x) return MLP_OK;
        char list[160];
        mlp_recipe_choice_list(f, ", ", list, sizeof list);
        return mlp_fail(err, MLP_EINVAL, "%s must be one of: %s", f->name, list);
    }
    case MLP_RF_LIST:
        if (r->n_hidden < 0 || r->n_hidden > f->max_items)
            return mlp_fail(err, MLP_EINVAL, "%s has %d layers; at most %d are allowed", f->name,
                            r->n_hidden, f->max_items);
        for (int i = 0; i < r->n_hidden; i++)
            if (mlp_recipe_check_number(f, r->hidden[i], err) != MLP_OK) return MLP_EINVAL;
        return MLP_OK;
    }
    return mlp_fail(err, MLP_EINVAL, "%s has an unknown type", f->name);
}

mlp_act mlp_recipe_output(const mlp_recipe *r) {
    if (r->output_activation >= 0) return (mlp_act)r->output_activation;
    return r->loss == MLP_LOSS_CROSS_ENTROPY ? MLP_ACT_SOFTMAX : MLP_ACT_LINEAR;
}

static mlp_status blame(const mlp_recipe_field **bad, const char *name) {
    if (bad) *bad = mlp_recipe_field_named(name);
    return MLP_EINVAL;
}

/* The schedule's and the watchers' messages start with the member at fault
 * ("lr_schedule.min_lr must be ..."): blame it when the table has it. */
static mlp_status blame_by_message(const mlp_recipe_field **bad, const mlp_error *err) {
    char name[64] = "";
    if (err) sscanf(err->msg, "%63[a-z0-9_.]", name);
    return blame(bad, name);
}

mlp_status mlp_recipe_validate(const mlp_recipe *r, const mlp_recipe_field **bad, mlp_error *err) {
    if (bad) *bad = NULL;
    if (!r) return mlp_fail(err, MLP_EINVAL, "no training configuration");
    for (size_t i = 0; i < mlp_recipe_n_fields; i++)
        if (check_field(r, &mlp_recipe_fields[i], err) != MLP_OK) {
            if (bad) *bad = &mlp_recipe_fields[i];
            return MLP_EINVAL;
        }
    /* The engine pairs softmax with cross-entropy and sigmoid/linear with MSE. */
    mlp_act out = mlp_recipe_output(r);
    if ((r->loss == MLP_LOSS_CROSS_ENTROPY) != (out == MLP_ACT_SOFTMAX)) {
        mlp_fail(err, MLP_EINVAL,
                 "output_activation %s does not go with loss %s (softmax pairs with "
                 "cross_entropy; sigmoid and linear with mse)",
                 mlp_act_name(out), mlp_loss_name(r->loss));
        return blame(bad, r->output_activation >= 0 ? "output_activation" : "loss");
    }
    const mlp_train_config *c = &r->train;
    if (c->label_smoothing > 0.0f && r->loss != MLP_LOSS_CROSS_ENTROPY) {
        mlp_fail(err, MLP_EINVAL, "label_smoothing needs the cross_entropy loss");
        return blame(bad, "label_smoothing");
    }
    if (c->nesterov && (c->optimizer != MLP_OPT_MOMENTUM || !(c->momentum > 0.0f))) {
        mlp_fail(err, MLP_EINVAL, "nesterov needs optimizer momentum with momentum > 0");
        return blame(bad, "nesterov");
    }
    mlp_error own = {{0}};
    if (!err) err = &own; /* the message names the member to blame */
    /* Rules between members: the schedule's min_lr <= learning_rate and
     * warmup_epochs < epochs (messages start with the member's name). */
    if (mlp_lr_schedule_validate(&c->schedule, c->lr, c->epochs, err) != MLP_OK)
        return blame_by_message(bad, err);
    return MLP_OK;
}

mlp_status mlp_train_config_validate(const mlp_train_config *c, mlp_error *err) {
    if (!c) return mlp_fail(err, MLP_EINVAL, "no training configuration");
    mlp_recipe r;
    mlp_recipe_default(&r);
    r.train = *c;
    return mlp_recipe_validate(&r, NULL, err);
}

/* ---- warm start ------------------------------------------------------------------ */

/* "784-512-256-10 relu,relu,softmax" */
static void describe(const mlp_arch *a, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int l = 0; l <= a->n_layers && len < cap; l++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%d", l ? "-" : "", a->sizes[l]);
    for (int l = 0; l < a->n_layers && len < cap; l++)
        len +=
            (size_t)snprintf(buf + len, cap - len, "%s%s", l ? "," : " ", mlp_act_name(a->act[l]));
}

static int same_network(const mlp_arch *x, const mlp_arch *y) {
    if (x->n_layers != y->n_layers || x->loss != y->loss) return 0;
    for (int l = 0; l < x->n_layers; l++)
        if (x->sizes[l] != y->sizes[l] || x->act[l] != y->act[l]) return 0;
    return 1; /* the output widths are checked against the classes */
}

mlp_status mlp_warm_start_check(const mlp_arch *m, int features, int classes, const mlp_arch *want,
                                mlp_error *err) {
    char have[160], asked[160];
    describe(m, have, sizeof have);
    if (m->sizes[0] != features || m->sizes[m->n_layers] < classes)
        return mlp_fail(err, MLP_EINVAL,
                        "the model is %s: it takes %d inputs and has %d outputs; the data has "
                        "%d features and %d classes",
                        have, m->sizes[0], m->sizes[m->n_layers], features, classes);
    if (want && !same_network(m, want)) {
        describe(want, asked, sizeof asked);
        return mlp_fail(err, MLP_EINVAL, "the model is %s but the request builds %s", have, asked);
    }
    return MLP_OK;
}
