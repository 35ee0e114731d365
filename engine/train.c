/* train.c - mini-batch training: the loop around backprop.c and optim.c.
 *
 * Keras' fit() is the reference for behaviour: the validation split is the
 * last share of the samples taken before shuffling, the training rows are
 * reshuffled every epoch, the epoch's loss and accuracy are running means
 * over its batches (with dropout active), and early stopping follows
 * keras.callbacks.EarlyStopping (monitor val_loss by default, or any of
 * val_accuracy, loss, accuracy with mode min/max; val_* fall back to the
 * training metric without a validation split; patience, min_delta,
 * restore_best_weights). The learning rate of each batch comes from the
 * schedule (schedule.c); reduce_on_plateau acts between epochs like Keras'
 * callback.
 *
 * Everything random (shuffling, augmentation, dropout masks) comes from one generator
 * seeded with cfg->seed and drawn in a fixed order, and every reduction runs
 * in a fixed order, so a run is reproducible bit for bit for a fixed
 * OpenBLAS thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Rows used for training: Keras computes int(n * (1 - validation_split)) in
 * double precision on the decimal the user wrote. The float split is first
 * rounded to 7 significant digits (what a float holds) so that 0.3f counts as
 * 0.3: 1000 rows -> 700, not 699. */
size_t mlp_train_rows(size_t n, float split) {
    double s = (double)split;
    if (s > 0.0) {
        double k = pow(10.0, 6.0 - floor(log10(s)));
        s = round(s * k) / k;
    }
    return (size_t)((double)n * (1.0 - s));
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One training run: what it allocates (once) and where it is. */
typedef struct {
    mlp_workspace *ws;
    mlp_optim opt;
    uint32_t *order;     /* (n_train) row indices, reshuffled per epoch */
    float *best;         /* (n_params) best weights, or NULL without restore */
    float *aug_tmp;      /* (features) one image, or NULL without augmentation */
    int side;            /* the images' side with augmentation */
    mlp_eval_buf val;    /* validation chunks, unused without a split */
    mlp_rng rng;         /* shuffling, then dropout masks, in step order */
    mlp_plateau plateau; /* reduce_on_plateau's rate and counters */
    size_t n_train, n_val;
    long steps; /* batches per epoch */
    long global_step;
    int fused_sgd; /* plain SGD without penalties: applied inside backprop */
} run_state;

static void run_free(run_state *r) {
    mlp_workspace_free(r->ws);
    mlp_optim_free(&r->opt);
    free(r->order);
    free(r->best);
    free(r->aug_tmp);
    mlp_eval_buf_free(&r->val);
}

static mlp_status run_init(run_state *r, const mlp_model *m, const mlp_train_config *c,
                           size_t n_train, size_t n_val, mlp_error *err) {
    memset(r, 0, sizeof *r);
    int B = (size_t)c->batch_size < n_train ? c->batch_size : (int)n_train;
    mlp_status s = mlp_workspace_create(&m->arch, B, c->dropout, &r->ws, err);
    if (s == MLP_OK) s = mlp_optim_init(&r->opt, c, m->n_params, err);
    if (s == MLP_OK && n_val > 0)
        s = mlp_eval_buf_init(&r->val, m, (size_t)B < n_val ? B : (int)n_val, err);
    if (s != MLP_OK) return s;
    r->ws->label_smoothing = c->label_smoothing;
    r->val.label_smoothing = c->label_smoothing; /* val_loss compares with loss, as Keras' */
    mlp_plateau_init(&r->plateau, &c->schedule, c->lr);
    r->order = malloc(n_train * sizeof *r->order);
    if (c->patience > 0 && c->restore_best) r->best = malloc(m->n_params * sizeof *r->best);
    if (c->augment.hflip || c->augment.shift) {
        r->side = mlp_image_side(m->arch.sizes[0]);
        r->aug_tmp = malloc((size_t)m->arch.sizes[0] * sizeof *r->aug_tmp);
        if (!r->aug_tmp) return mlp_fail(err, MLP_ENOMEM, "out of memory for augmentation");
    }
    if (!r->order || (c->patience > 0 && c->restore_best && !r->best))
        return mlp_fail(err, MLP_ENOMEM, "out of memory for training state");
    for (size_t i = 0; i < n_train; i++) r->order[i] = (uint32_t)i;
    mlp_rng_seed(&r->rng, c->seed);
    r->n_train = n_train;
    r->n_val = n_val;
    r->steps = (long)((n_train + (size_t)B - 1) / (size_t)B);
    r->fused_sgd =
        c->optimizer == MLP_OPT_SGD && c->l1 == 0.0f && c->l2 == 0.0f && c->clip_norm == 0.0f;
    return MLP_OK;
}

static void progress_blank(mlp_progress *p, const mlp_train_config *c) {
    memset(p, 0, sizeof *p);
    p->epochs = c->epochs;
    p->loss = p->accuracy = p->val_loss = p->val_accuracy = p->learning_rate = NAN;
    p->epoch_loss = p->epoch_accuracy = NAN;
}

static mlp_status check_data(const mlp_model *m, const mlp_dataset *d, const mlp_train_config *c,
                             mlp_error *err) {
    int O = m->arch.sizes[m->arch.n_layers];
    int classes = O >= 2 ? O : 2;
    if (d->features != m->arch.sizes[0])
        return mlp_fail(err, MLP_EINVAL, "data set has %d features, model expects %d", d->features,
                        m->arch.sizes[0]);
    if (mlp_augment_check(&c->augment, d->features, NULL, err) != MLP_OK) return MLP_EINVAL;
    if (d->n > UINT32_MAX) return mlp_fail(err, MLP_EINVAL, "too many samples (%zu)", d->n);
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= classes)
            return mlp_fail(err, MLP_EINVAL, "label %d of sample %zu outside 0..%d",
                            (int)d->labels[i], i, classes - 1);
    return MLP_OK;
}

/* One epoch: shuffle, every batch (forward, backward, update, on_batch),
 * then the epoch's means and the validation metrics into *p. Returns
 * MLP_ENUMERIC on a non-finite loss, MLP_ESTOPPED if on_batch asks. */
static mlp_status run_epoch(run_state *r, mlp_model *m, const mlp_dataset *d,
                            const mlp_train_config *c, int epoch, mlp_progress *p, mlp_error *err) {
    mlp_workspace *ws = r->ws;
    int B = ws->batch;
    double t0 = now_seconds(), loss_sum = 0.0;
    long correct = 0;
    size_t seen = 0;
    if (c->shuffle) mlp_rng_shuffle(&r->rng, r->order, r->n_train);
    progress_blank(p, c);
    p->epoch = epoch;
    p->steps = r->steps;
    mlp_rng *drop_rng = c->dropout > 0.0f ? &r->rng : NULL;
    for (long step = 1; step <= r->steps; step++) {
        size_t pos = (size_t)(step - 1) * (size_t)B;
        int count = r->n_train - pos < (size_t)B ? (int)(r->n_train - pos) : B;
        mlp_dataset_gather(d, r->order + pos, count, ws->x, ws->y);
        if (r->aug_tmp) mlp_augment_batch(&c->augment, r->side, ws->x, count, &r->rng, r->aug_tmp);
        mlp_batch_stats st;
        float lr =
            mlp_lr_at(&c->schedule, c->lr, r->plateau.lr, r->global_step, r->steps, c->epochs);
        p->learning_rate = lr;
        if (r->fused_sgd)
            mlp_backprop_sgd(m, ws, count, lr, drop_rng, &st);
        else
            mlp_backprop(m, ws, count, c->l1, c->l2, drop_rng, &st);
        double batch_loss = st.loss_sum / count + st.penalty;
        if (!isfinite(batch_loss))
            return mlp_fail(err, MLP_ENUMERIC, "the loss became %s at epoch %d, step %ld",
                            isnan(batch_loss) ? "NaN" : "infinite", epoch, step);
        if (r->fused_sgd) {
            r->opt.t++; /* the step count a saved state carries */
        } else {
            if (c->clip_norm > 0.0f) mlp_clip_global_norm(ws->grad, m->n_params, c->clip_norm);
            r->opt.lr = lr;
            mlp_optim_step(&r->opt, m->params, ws->grad);
        }
        r->global_step++;
        loss_sum += batch_loss * count;
        correct += st.correct;
        seen += (size_t)count;
        if (c->on_batch) {
            double dt = now_seconds() - t0;
            p->step = step;
            p->global_step = r->global_step;
            p->loss = batch_loss;
            p->accuracy = (double)st.correct / count;
            p->epoch_loss = loss_sum / (double)seen;
            p->epoch_accuracy = (double)correct / (double)seen;
            p->seconds = dt;
            p->samples_per_sec = dt > 0 ? (double)seen / dt : NAN;
            if (c->on_batch(p, m, c->user) != 0)
                return mlp_fail(err, MLP_ESTOPPED, "stopped by the batch callback");
        }
    }
    p->step = r->steps;
    p->global_step = r->global_step;
    p->loss = p->epoch_loss = loss_sum / (double)seen;
    p->accuracy = p->epoch_accuracy = (double)correct / (double)seen;
    p->val_loss = p->val_accuracy = NAN;
    if (r->n_val > 0) {
        double vl = 0.0;
        size_t vc = 0;
        mlp_eval_rows(m, d, r->n_train, r->n_val, &r->val, &vl, &vc, NULL);
        /* Like Keras, val_loss includes the penalty so it compares with loss. */
        p->val_loss = vl / (double)r->n_val + mlp_penalty(m, c->l1, c->l2);
        p->val_accuracy = (double)vc / (double)r->n_val;
        if (!isfinite(p->val_loss))
            return mlp_fail(err, MLP_ENUMERIC, "the validation loss became %s at epoch %d",
                            isnan(p->val_loss) ? "NaN" : "infinite", epoch);
    }
    p->seconds = now_seconds() - t0;
    p->samples_per_sec = p->seconds > 0 ? (double)seen / p->seconds : NAN;
    return MLP_OK;
}

/* Continue from cfg->resume: the weights into m, the optimizer's state into
 * r->opt, the generator, order, counts and schedule into r, early stopping's
 * state into *watch and *best_epoch, the last epoch's metrics into res. */
static mlp_status resume_run(run_state *r, mlp_model *m, const mlp_train_config *c,
                             mlp_watch *watch, int *best_epoch, mlp_train_result *res,
                             mlp_error *err) {
    mlp_ckpt k = {.watch = *watch,
                  .plateau = r->plateau,
                  .order = r->order,
                  .n_order = r->n_train,
                  .best = r->best};
    progress_blank(&k.last, c);
    mlp_status s = mlp_ckpt_decode(c->resume, c->resume_len, m, &r->opt, &k, err);
    if (s != MLP_OK) return s;
    if (k.epoch < 1 || k.epoch > c->epochs)
        return mlp_fail(err, MLP_EINVAL, "the checkpoint is after epoch %d of a %d-epoch run",
                        k.epoch, c->epochs);
    r->rng = k.rng;
    r->global_step = k.global_step;
    r->plateau = k.plateau;
    *watch = k.watch;
    *best_epoch = k.best_epoch;
    res->epochs_run = k.epoch;
    res->last = k.last;
    return MLP_OK;
}

/* The checkpoint after `epoch` (cfg->checkpoint) into p->checkpoint; the
 * caller frees it once on_epoch has seen it. */
static mlp_status take_checkpoint(const run_state *r, const mlp_model *m, int epoch, int best_epoch,
                                  const mlp_watch *watch, mlp_progress *p, mlp_error *err) {
    mlp_ckpt k = {.epoch = epoch,
                  .best_epoch = best_epoch,
                  .global_step = r->global_step,
                  .rng = r->rng,
                  .watch = *watch,
                  .plateau = r->plateau,
                  .last = *p,
                  .order = r->order,
                  .n_order = r->n_train,
                  .best = r->best};
    unsigned char *buf = NULL;
    size_t len = 0;
    mlp_status s = mlp_ckpt_encode(m, &r->opt, &k, &buf, &len, err);
    p->checkpoint = buf;
    p->checkpoint_len = len;
    return s;
}

void mlp_train_memory(const mlp_arch *a, const mlp_train_config *c, uint64_t n_train,
                      uint64_t data_bytes, mlp_memory_estimate *out) {
    memset(out, 0, sizeof *out);
    uint64_t n_params = mlp_arch_param_count(a), f = sizeof(float);
    int B = c->batch_size < 1 ? 1 : c->batch_size;
    if (n_train > 0 && (uint64_t)B > n_train) B = (int)n_train; /* as run_init */
    out->params = n_params * f;
    int buffers = mlp_optim_buffers(c->optimizer); /* as mlp_optim_init */
    if (c->patience > 0 && c->restore_best) buffers++;
    out->optimizer = (uint64_t)buffers * n_params * f;
    out->activations = mlp_workspace_floats(a, B, c->dropout) * f;
    if (c->augment.hflip || c->augment.shift) out->activations += (uint64_t)a->sizes[0] * f;
    if (c->validation_split > 0.0f) { /* mlp_eval_buf_init for chunks of B rows */
        int widest = 1;
        for (int l = 1; l < a->n_layers; l++) widest = a->sizes[l] > widest ? a->sizes[l] : widest;
        uint64_t per_row = (uint64_t)a->sizes[0] + (uint64_t)a->sizes[a->n_layers] + 3 +
                           (a->n_layers > 1 ? 2u * (uint64_t)widest : 0);
        out->activations += (uint64_t)B * per_row * f;
    }
    out->dataset = data_bytes + n_train * sizeof(uint32_t);
    out->total = out->params + out->optimizer + out->activations + out->dataset;
}

mlp_status mlp_train(mlp_model *m, const mlp_dataset *train, const mlp_train_config *cfg,
                     mlp_train_result *res, mlp_error *err) {
    mlp_train_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (cfg) progress_blank(&res->last, cfg);
    if (!m || !train || !cfg)
        return mlp_fail(err, MLP_EINVAL, "model, data set and configuration are required");
    mlp_status s = mlp_train_config_validate(cfg, err);
    if (s == MLP_OK) s = check_data(m, train, cfg, err);
    if (s != MLP_OK) return s;
    mlp_model_unpack(m); /* the packed copy would not follow the new weights */
    size_t n_train = mlp_train_rows(train->n, cfg->validation_split);
    size_t n_val = train->n - n_train;
    if (cfg->label_smoothing > 0.0f && m->arch.loss != MLP_LOSS_CROSS_ENTROPY)
        return mlp_fail(err, MLP_EINVAL, "label_smoothing needs the cross_entropy loss");
    if (n_train == 0)
        return mlp_fail(err, MLP_EINVAL, "no training samples (%zu samples, split %g)", train->n,
                        (double)cfg->validation_split);
    if (cfg->validation_split > 0.0f && n_val == 0)
        return mlp_fail(err, MLP_EINVAL, "validation split %g of %zu samples is empty",
                        (double)cfg->validation_split, train->n);

    run_state r;
    s = run_init(&r, m, cfg, n_train, n_val, err);
    if (s != MLP_OK) {
        run_free(&r);
        return s;
    }
    mlp_watch watch;
    mlp_watch_init(&watch, mlp_watch_maximize(cfg->monitor, cfg->mode), (double)cfg->min_delta);
    int best_epoch = 0, have_val = r.n_val > 0, first = 1;
    if (cfg->resume) {
        s = resume_run(&r, m, cfg, &watch, &best_epoch, res, err);
        if (s != MLP_OK) {
            run_free(&r);
            return s;
        }
        first = res->epochs_run + 1;
        /* Killed between its last epoch's record and the stop that followed. */
        res->stopped_early = cfg->patience > 0 && watch.wait >= cfg->patience;
    }
    mlp_progress p;
    for (int epoch = first; epoch <= cfg->epochs && !res->stopped_early; epoch++) {
        s = run_epoch(&r, m, train, cfg, epoch, &p, err);
        if (s != MLP_OK) break;
        /* Early stopping, as keras.callbacks.EarlyStopping: an improvement
         * beats the best by more than min_delta in the mode's direction;
         * `patience` epochs without one stop. */
        p.improved = mlp_watch_update(&watch, mlp_watch_value(&p, cfg->monitor, have_val));
        if (p.improved) {
            best_epoch = epoch;
            if (r.best) memcpy(r.best, m->params, m->n_params * sizeof(float));
        }
        if (cfg->schedule.type == MLP_LR_PLATEAU)
            mlp_plateau_update(&r.plateau, &cfg->schedule,
                               mlp_watch_value(&p, cfg->schedule.monitor, have_val));
        if (cfg->checkpoint && (s = take_checkpoint(&r, m, epoch, best_epoch, &watch, &p, err)))
            break;
        int stop = cfg->on_epoch && cfg->on_epoch(&p, m, cfg->user) != 0;
        free((void *)p.checkpoint);
        p.checkpoint = NULL;
        p.checkpoint_len = 0;
        res->epochs_run = epoch;
        res->last = p;
        if (stop) {
            s = mlp_fail(err, MLP_ESTOPPED, "stopped by the epoch callback");
            break;
        }
        if (cfg->patience > 0 && watch.wait >= cfg->patience) {
            res->stopped_early = 1;
            break;
        }
    }

    /* Which weights m ends with: the best epoch's when early stopping with
     * restore_best is configured and the run stops before its last epoch
     * (by patience, a callback or a numeric error; Keras restores only when
     * it stops), else the last ones. */
    res->best_epoch = res->epochs_run;
    int stopped = res->stopped_early || s != MLP_OK;
    if (r.best && stopped && best_epoch > 0) {
        memcpy(m->params, r.best, m->n_params * sizeof(float));
        res->best_epoch = best_epoch;
    }
    /* The state of the last step, even when the best weights were restored:
     * it is what continuing this run would use. */
    if (cfg->state_out) mlp_optim_export(&r.opt, cfg->state_out);
    run_free(&r);
    return s;
}
