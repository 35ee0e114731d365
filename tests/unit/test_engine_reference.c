/* test_engine_reference.c - the engine against PyTorch, llm.c style.
 *
 * tests/reference/fixtures/reference.txt (written by
 * tests/reference/gen_reference.py, float64 PyTorch) holds small networks with
 * fixed weights and inputs, and what PyTorch computes for them: outputs, mean
 * loss, every parameter's gradient, and the parameters after 1..3 epochs of
 * SGD, momentum, Nesterov, Adam and AdamW with L1/L2 penalties, label
 * smoothing, gradient clipping and learning-rate schedules (one or two
 * batches per epoch), with the rate of each epoch. Each test
 * rebuilds the networks in float32 and reports the worst difference per
 * quantity; a value passes when |got - want| <= ATOL + RTOL * |want|.
 *
 * The fixture is found at $MLPD_REFERENCE, else at the path below relative to
 * the repository root (where tests/run.sh runs).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "mlp.h"

#include "reference_fixture.h"

/* ---- comparing ----------------------------------------------------------------- */

/* Name parameter i of arch a as "W1[2][3]" or "b0[4]" (params layout). */
static void param_name(const mlp_arch *a, size_t i, char *buf, size_t n) {
    for (int l = 0; l < a->n_layers; l++) {
        size_t in = (size_t)a->sizes[l], out = (size_t)a->sizes[l + 1];
        if (i < in * out) {
            snprintf(buf, n, "W%d[%zu][%zu]", l, i / in, i % in);
            return;
        }
        i -= in * out;
        if (i < out) {
            snprintf(buf, n, "b%d[%zu]", l, i);
            return;
        }
        i -= out;
    }
    snprintf(buf, n, "[%zu]", i);
}

/* Compare got (n floats) with want; print the worst difference; return 1 if
 * every value is within tolerance. arch (may be NULL) names params-layout
 * entries. */
static int compare(const char *what, const float *got, const ref_array *want, size_t n,
                   const mlp_arch *arch) {
    if (want->n != n) {
        printf("  %-44s size %zu, fixture has %zu  FAIL\n", what, n, want->n);
        return 0;
    }
    double worst = 0.0, worst_excess = -1.0;
    size_t at = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want->v[i]);
        double excess = d - (ATOL + RTOL * fabs(want->v[i]));
        if (!(excess <= 0.0)) ok = 0; /* also catches NaN */
        if (d > worst || isnan(d)) worst = d;
        if (excess > worst_excess || isnan(d)) {
            worst_excess = isnan(d) ? INFINITY : excess;
            at = i;
        }
    }
    char where[96];
    if (arch)
        param_name(arch, at, where, sizeof where);
    else
        snprintf(where, sizeof where, "[%zu]", at);
    printf("  %-44s max |diff| %.3g (closest to the limit: %s got %.9g want %.9g)  %s\n", what,
           worst, where, (double)got[at], want->v[at], ok ? "ok" : "FAIL");
    return ok;
}

static int compare_scalar(const char *what, double got, double want) {
    float g = (float)got;
    ref_array a = {1, &want};
    return compare(what, &g, &a, 1, NULL);
}

/* A model with c's architecture and initial weights. */
static mlp_model *case_model(const ref_case *c) {
    mlp_model *m = NULL;
    mlp_error err = {{0}};
    mlp_status s = mlp_model_create(&c->arch, MLP_INIT_GLOROT_UNIFORM, 1, &m, &err);
    if (s != MLP_OK) fail_msg("%s: mlp_model_create: %s", c->name, err.msg);
    assert_int_equal(m->n_params, c->params.n);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)c->params.v[i];
    return m;
}

/* c's inputs as a float32 data set (caller frees with mlp_dataset_free). */
static mlp_dataset *case_dataset(const ref_case *c) {
    mlp_dataset *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->n = (size_t)c->batch;
    d->features = c->arch.sizes[0];
    d->classes = c->arch.sizes[c->arch.n_layers];
    d->x_f32 = malloc(sizeof(float) * c->x.n);
    d->labels = malloc(sizeof(int32_t) * c->labels.n);
    assert_non_null(d->x_f32);
    assert_non_null(d->labels);
    assert_int_equal(c->x.n, d->n * (size_t)d->features);
    for (size_t i = 0; i < c->x.n; i++) d->x_f32[i] = (float)c->x.v[i];
    for (size_t i = 0; i < c->labels.n; i++) d->labels[i] = (int32_t)c->labels.v[i];
    return d;
}

static void run_config(const ref_run *r, mlp_train_config *cfg) {
    mlp_train_config_default(cfg);
    assert_int_equal(mlp_optimizer_from_name(r->opt, &cfg->optimizer), 0);
    cfg->lr = (float)r->lr;
    cfg->momentum = (float)r->momentum;
    cfg->nesterov = r->nesterov;
    cfg->beta1 = (float)r->beta1;
    cfg->beta2 = (float)r->beta2;
    cfg->epsilon = (float)r->eps;
    cfg->l1 = (float)r->l1;
    cfg->l2 = (float)r->l2;
    if (r->wd >= 0.0) cfg->weight_decay = (float)r->wd;
    cfg->label_smoothing = (float)r->ls;
    cfg->clip_norm = (float)r->clip;
    cfg->schedule = r->sched;
}

/* A run that is one optimizer step per epoch with nothing but the update
 * rule: mlp_optim_step alone reproduces it. */
static int plain_steps(const ref_run *r) {
    return r->bpe == 1 && r->ls == 0.0 && r->clip == 0.0 && r->sched.type == MLP_LR_CONSTANT;
}

/* A workspace for the case's whole batch, loaded with its inputs and
 * labels as one training step would see them (caller frees). */
static mlp_workspace *case_workspace(const ref_case *c, const mlp_dataset *d) {
    mlp_workspace *ws = NULL;
    mlp_error err = {{0}};
    assert_int_equal(mlp_workspace_create(&c->arch, c->batch, 0.0f, &ws, &err), MLP_OK);
    memcpy(ws->x, d->x_f32, sizeof(float) * c->x.n);
    memcpy(ws->y, d->labels, sizeof(int32_t) * c->labels.n);
    return ws;
}

/* ---- tests ------------------------------------------------------------------------ */

/* mlp_forward's outputs (probabilities for softmax) against PyTorch's. */
static void test_forward(void **state) {
    ref_fixture *fx = *state;
    int ok = 1;
    for (int i = 0; i < fx->n_cases; i++) {
        const ref_case *c = &fx->cases[i];
        mlp_model *m = case_model(c);
        mlp_dataset *d = case_dataset(c);
        size_t n_out = (size_t)c->batch * (size_t)c->arch.sizes[c->arch.n_layers];
        float *out = malloc(sizeof(float) * n_out);
        float *scratch = malloc(sizeof(float) * mlp_scratch_floats(m, c->batch));
        assert_non_null(out);
        assert_non_null(scratch);
        mlp_forward(m, d->x_f32, c->batch, out, scratch);
        char what[96];
        snprintf(what, sizeof what, "%s forward", c->name);
        ok &= compare(what, out, &c->out, n_out, NULL);
        free(scratch);
        free(out);
        mlp_dataset_free(d);
        mlp_model_free(m);
    }
    assert_true(ok);
}

/* mlp_evaluate's mean loss against PyTorch's, and its accuracy against the
 * argmax of the reference outputs. */
static void test_evaluate(void **state) {
    ref_fixture *fx = *state;
    int ok = 1;
    for (int i = 0; i < fx->n_cases; i++) {
        const ref_case *c = &fx->cases[i];
        mlp_model *m = case_model(c);
        mlp_dataset *d = case_dataset(c);
        mlp_eval_result r;
        memset(&r, 0, sizeof r);
        mlp_error err = {{0}};
        assert_int_equal(mlp_evaluate(m, d, &r, &err), MLP_OK);
        int O = c->arch.sizes[c->arch.n_layers];
        size_t correct = 0;
        for (int b = 0; b < c->batch; b++) {
            int best = 0;
            for (int j = 1; j < O; j++)
                if (c->out.v[b * O + j] > c->out.v[b * O + best]) best = j;
            correct += best == (int)c->labels.v[b];
        }
        char what[96];
        snprintf(what, sizeof what, "%s evaluate loss", c->name);
        ok &= compare_scalar(what, r.loss, c->loss.v[0]);
        assert_int_equal(r.n, (size_t)c->batch);
        assert_true(fabs(r.accuracy - (double)correct / c->batch) < 1e-12);
        mlp_eval_result_free(&r);
        mlp_dataset_free(d);
        mlp_model_free(m);
    }
    assert_true(ok);
}

/* mlp_backprop's gradient of the mean loss (no penalty), its loss, and
 * mlp_penalty for every run's l1/l2 against PyTorch's. */
static void test_gradients(void **state) {
    ref_fixture *fx = *state;
    int ok = 1;
    for (int i = 0; i < fx->n_cases; i++) {
        const ref_case *c = &fx->cases[i];
        mlp_model *m = case_model(c);
        mlp_dataset *d = case_dataset(c);
        mlp_workspace *ws = case_workspace(c, d);
        mlp_batch_stats st;
        memset(&st, 0, sizeof st);
        mlp_backprop(m, ws, c->batch, 0.0f, 0.0f, NULL, &st);
        char what[96];
        snprintf(what, sizeof what, "%s backprop loss", c->name);
        ok &= compare_scalar(what, st.loss_sum / c->batch, c->loss.v[0]);
        snprintf(what, sizeof what, "%s gradient", c->name);
        ok &= compare(what, ws->grad, &c->grad, ws->n_params, &c->arch);
        for (int r = 0; r < c->n_runs; r++) {
            const ref_run *run = &c->runs[r];
            if ((run->l1 == 0.0 && run->l2 == 0.0) || run->bpe != 1) continue; /* epoch means */
            snprintf(what, sizeof what, "%s/%s penalty", c->name, run->name);
            ok &= compare_scalar(what, mlp_penalty(m, (float)run->l1, (float)run->l2),
                                 run->penalty_before.v[0]);
        }
        mlp_workspace_free(ws);
        mlp_dataset_free(d);
        mlp_model_free(m);
    }
    assert_true(ok);
}

/* Three full-batch steps through mlp_backprop + mlp_optim_step. */
static void test_optimizer_steps(void **state) {
    ref_fixture *fx = *state;
    int ok = 1;
    for (int i = 0; i < fx->n_cases; i++) {
        const ref_case *c = &fx->cases[i];
        for (int r = 0; r < c->n_runs; r++) {
            const ref_run *run = &c->runs[r];
            if (!plain_steps(run)) continue; /* test_train_epochs covers it */
            mlp_model *m = case_model(c);
            mlp_dataset *d = case_dataset(c);
            mlp_workspace *ws = case_workspace(c, d);
            mlp_error err = {{0}};
            mlp_train_config cfg;
            run_config(run, &cfg);
            mlp_optim opt;
            assert_int_equal(mlp_optim_init(&opt, &cfg, m->n_params, &err), MLP_OK);
            for (int t = 0; t < STEPS; t++) {
                mlp_batch_stats st;
                memset(&st, 0, sizeof st);
                mlp_backprop(m, ws, c->batch, cfg.l1, cfg.l2, NULL, &st);
                char what[96];
                snprintf(what, sizeof what, "%s/%s step %d loss", c->name, run->name, t + 1);
                ok &= compare_scalar(what, st.loss_sum / c->batch, run->loss_before.v[t]);
                mlp_optim_step(&opt, m->params, ws->grad);
                snprintf(what, sizeof what, "%s/%s after step %d", c->name, run->name, t + 1);
                ok &= compare(what, m->params, &run->after[t], m->n_params, &c->arch);
            }
            mlp_optim_free(&opt);
            mlp_workspace_free(ws);
            mlp_dataset_free(d);
            mlp_model_free(m);
        }
    }
    assert_true(ok);
}

/* What the epoch callback saw: the parameters after each epoch, its loss and rate. */
typedef struct {
    size_t n;
    float *after[STEPS];
    double loss[STEPS], lr[STEPS];
    int epochs_seen;
} epoch_log;

static int log_epoch(const mlp_progress *p, const mlp_model *m, void *user) {
    epoch_log *log = user;
    if (p->epoch >= 1 && p->epoch <= STEPS) {
        memcpy(log->after[p->epoch - 1], m->params, sizeof(float) * log->n);
        log->loss[p->epoch - 1] = p->loss;
        log->lr[p->epoch - 1] = p->learning_rate;
    }
    log->epochs_seen++;
    return 0;
}

/* The same epochs through the public mlp_train: bpe batches per epoch in
 * order (no shuffling, no validation), parameters read by the epoch callback
 * after epochs 1..3. The epoch's loss is the mean of its batches' losses,
 * each taken before that batch's step, penalty included (as Keras reports
 * it); its learning_rate is the rate its last batch used. */
static void test_train_epochs(void **state) {
    ref_fixture *fx = *state;
    int ok = 1;
    for (int i = 0; i < fx->n_cases; i++) {
        const ref_case *c = &fx->cases[i];
        for (int r = 0; r < c->n_runs; r++) {
            const ref_run *run = &c->runs[r];
            mlp_model *m = case_model(c);
            mlp_dataset *d = case_dataset(c);
            mlp_train_config cfg;
            run_config(run, &cfg);
            cfg.batch_size = c->batch / run->bpe;
            cfg.epochs = STEPS;
            cfg.shuffle = 0;
            cfg.validation_split = 0.0f;
            epoch_log log = {.n = m->n_params};
            for (int t = 0; t < STEPS; t++) {
                log.after[t] = calloc(m->n_params, sizeof(float));
                assert_non_null(log.after[t]);
            }
            cfg.on_epoch = log_epoch;
            cfg.user = &log;
            mlp_train_result res;
            mlp_error err = {{0}};
            mlp_status s = mlp_train(m, d, &cfg, &res, &err);
            if (s != MLP_OK) fail_msg("%s/%s: mlp_train: %s", c->name, run->name, err.msg);
            assert_int_equal(log.epochs_seen, STEPS);
            assert_int_equal(res.epochs_run, STEPS);
            for (int t = 0; t < STEPS; t++) {
                char what[96];
                snprintf(what, sizeof what, "%s/%s mlp_train epoch %d", c->name, run->name, t + 1);
                ok &= compare(what, log.after[t], &run->after[t], m->n_params, &c->arch);
                snprintf(what, sizeof what, "%s/%s mlp_train epoch %d loss", c->name, run->name,
                         t + 1);
                ok &= compare_scalar(what, log.loss[t],
                                     run->loss_before.v[t] + run->penalty_before.v[t]);
                snprintf(what, sizeof what, "%s/%s mlp_train epoch %d rate", c->name, run->name,
                         t + 1);
                ok &= compare_scalar(what, log.lr[t], run->lr_epoch.v[t]);
                free(log.after[t]);
            }
            /* Without early stopping the model ends with the last epoch's weights. */
            char what[96];
            snprintf(what, sizeof what, "%s/%s mlp_train final", c->name, run->name);
            ok &= compare(what, m->params, &run->after[STEPS - 1], m->n_params, &c->arch);
            mlp_dataset_free(d);
            mlp_model_free(m);
        }
    }
    assert_true(ok);
}

/* Warm start carrying the optimizer state: one epoch, the model and its
 * state through a model file (buffer), then two more epochs from them, must
 * land where three epochs in one run land (PyTorch's after3), for every run
 * without a schedule (a schedule restarts with each run). */
static void test_warm_start_state(void **state) {
    ref_fixture *fx = *state;
    int ok = 1;
    for (int i = 0; i < fx->n_cases; i++) {
        const ref_case *c = &fx->cases[i];
        for (int r = 0; r < c->n_runs; r++) {
            const ref_run *run = &c->runs[r];
            if (run->sched.type != MLP_LR_CONSTANT) continue;
            mlp_model *m = case_model(c), *back = NULL;
            mlp_dataset *d = case_dataset(c);
            mlp_train_config cfg;
            run_config(run, &cfg);
            cfg.batch_size = c->batch / run->bpe;
            cfg.epochs = 1;
            cfg.shuffle = 0;
            mlp_optim_state st = {0}, loaded = {0};
            cfg.state_out = &st;
            mlp_error err = {{0}};
            assert_int_equal(mlp_train(m, d, &cfg, NULL, &err), MLP_OK);
            assert_int_equal(st.step, run->bpe);
            unsigned char *buf = NULL;
            size_t len = 0;
            assert_int_equal(mlp_model_to_buffer_with_state(m, &st, &buf, &len, &err), MLP_OK);
            assert_int_equal(mlp_model_from_buffer_with_state(buf, len, &back, &loaded, &err),
                             MLP_OK);
            cfg.epochs = STEPS - 1;
            cfg.state_out = NULL;
            cfg.init_state = &loaded;
            if (mlp_train(back, d, &cfg, NULL, &err) != MLP_OK)
                fail_msg("%s/%s: warm start: %s", c->name, run->name, err.msg);
            char what[96];
            snprintf(what, sizeof what, "%s/%s 1 + 2 epochs, state kept", c->name, run->name);
            ok &= compare(what, back->params, &run->after[STEPS - 1], back->n_params, &c->arch);
            free(buf);
            mlp_optim_state_free(&st);
            mlp_optim_state_free(&loaded);
            mlp_model_free(back);
            mlp_dataset_free(d);
            mlp_model_free(m);
        }
    }
    assert_true(ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),      cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_gradients),    cmocka_unit_test(test_optimizer_steps),
        cmocka_unit_test(test_train_epochs), cmocka_unit_test(test_warm_start_state),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
