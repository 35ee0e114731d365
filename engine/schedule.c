/* schedule.c - learning-rate schedules and the metric watchers of training
 * (early stopping, reduce_on_plateau).
 *
 * The formulas are mlp.h's (mlp_lr_schedule); the references are PyTorch's
 * StepLR, ExponentialLR, LinearLR + CosineAnnealingLR and Keras'
 * ReduceLROnPlateau / EarlyStopping callbacks. tests/reference checks the
 * rates against PyTorch's schedulers and the weights they produce.
 */
#include <math.h>

#include "internal.h"

#define PI 3.14159265358979323846

/* Each member's own range is checked by the recipe table (recipe.c,
 * mlp_recipe_fields) before this runs; only the rules between members are
 * here. Messages start with the member's name under lr_schedule so callers
 * can point at it. */
mlp_status mlp_lr_schedule_validate(const mlp_lr_schedule *s, float lr, int epochs,
                                    mlp_error *err) {
    int uses_min_lr = s->type == MLP_LR_COSINE || s->type == MLP_LR_PLATEAU;
    if (uses_min_lr && !(s->min_lr <= lr))
        return mlp_fail(err, MLP_EINVAL, "lr_schedule.min_lr must be in [0, learning rate]");
    if (s->type == MLP_LR_COSINE && s->warmup_epochs >= epochs)
        return mlp_fail(err, MLP_EINVAL, "lr_schedule.warmup_epochs must be in [0, epochs)");
    return MLP_OK;
}

float mlp_lr_at(const mlp_lr_schedule *s, float lr, float plateau_lr, long step, long steps,
                int epochs) {
    long epoch0 = step / steps; /* 0-based epoch */
    switch (s->type) {
    case MLP_LR_CONSTANT: break;
    case MLP_LR_STEP:
        return (float)((double)lr * pow((double)s->gamma, (double)(epoch0 / s->step_epochs)));
    case MLP_LR_EXPONENTIAL: return (float)((double)lr * pow((double)s->gamma, (double)epoch0));
    case MLP_LR_COSINE: {
        long warm = (long)s->warmup_epochs * steps, total = (long)epochs * steps;
        if (step < warm) return (float)((double)lr * (double)(step + 1) / (double)warm);
        double k = (double)(step - warm), d = (double)(total - warm);
        double min = (double)s->min_lr;
        return (float)(min + ((double)lr - min) * (1.0 + cos(PI * k / d)) / 2.0);
    }
    case MLP_LR_PLATEAU: return plateau_lr;
    }
    return lr;
}

int mlp_watch_maximize(mlp_metric monitor, mlp_mode mode) {
    if (mode == MLP_MODE_MAX) return 1;
    if (mode == MLP_MODE_MIN) return 0;
    return monitor == MLP_METRIC_VAL_ACCURACY || monitor == MLP_METRIC_ACCURACY;
}

double mlp_watch_value(const mlp_progress *p, mlp_metric monitor, int have_val) {
    switch (monitor) {
    case MLP_METRIC_VAL_LOSS: return have_val ? p->val_loss : p->loss;
    case MLP_METRIC_VAL_ACCURACY: return have_val ? p->val_accuracy : p->accuracy;
    case MLP_METRIC_LOSS: return p->loss;
    case MLP_METRIC_ACCURACY: return p->accuracy;
    }
    return NAN;
}

void mlp_watch_init(mlp_watch *w, int maximize, double min_delta) {
    w->maximize = maximize;
    w->min_delta = min_delta;
    w->best = maximize ? -INFINITY : INFINITY;
    w->wait = 0;
}

static int watch_better(const mlp_watch *w, double value) {
    return w->maximize ? value > w->best + w->min_delta : value < w->best - w->min_delta;
}

int mlp_watch_update(mlp_watch *w, double value) {
    int better = watch_better(w, value);
    if (better) {
        w->best = value;
        w->wait = 0;
    } else {
        w->wait++;
    }
    return better;
}

void mlp_plateau_init(mlp_plateau *pl, const mlp_lr_schedule *s, float lr) {
    mlp_watch_init(&pl->watch, mlp_watch_maximize(s->monitor, s->mode), (double)s->min_delta);
    pl->lr = lr;
    pl->cooldown_left = 0;
}

/* keras.callbacks.ReduceLROnPlateau.on_epoch_end, step for step. */
void mlp_plateau_update(mlp_plateau *pl, const mlp_lr_schedule *s, double value) {
    mlp_watch *w = &pl->watch;
    if (pl->cooldown_left > 0) {
        pl->cooldown_left--;
        w->wait = 0;
    }
    if (watch_better(w, value)) {
        w->best = value;
        w->wait = 0;
    } else if (pl->cooldown_left == 0) {
        w->wait++;
        if (w->wait >= s->patience) {
            if (pl->lr > s->min_lr) {
                float next = pl->lr * s->factor;
                pl->lr = next > s->min_lr ? next : s->min_lr;
                pl->cooldown_left = s->cooldown;
                w->wait = 0; /* Keras resets the count only when it reduced */
            }
        }
    }
}
