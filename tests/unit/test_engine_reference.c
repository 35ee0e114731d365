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

#define FIXTURE_PATH "tests/reference/fixtures/reference.txt"
#define ATOL         1e-5
#define RTOL         1e-4
#define STEPS        3
#define MAX_CASES    8
#define MAX_RUNS     24

/* ---- the fixture ----------------------------------------------------------------- */
typedef struct {
    size_t n;
    double *v;
} ref_array;

typedef struct {
    char name[64], opt[16];
    double lr, momentum, beta1, beta2, eps, l1, l2;
    int nesterov;
    /* KEY=VALUE extras of the run line */
    double wd, ls, clip; /* wd < 0: not given (the engine's default) */
    int bpe;             /* batches per epoch */
    mlp_lr_schedule sched;
    ref_array loss_before, penalty_before; /* STEPS values each (epoch means) */
    ref_array lr_epoch;                    /* STEPS rates: each epoch's last batch's */
    ref_array after[STEPS];                /* params layout */
} ref_run;

typedef struct {
    char name[64];
    mlp_arch arch;
    int batch;
    ref_array x, labels, params, out, loss, grad;
    ref_run runs[MAX_RUNS];
    int n_runs;
} ref_case;

typedef struct {
    ref_case cases[MAX_CASES];
    int n_cases;
} ref_fixture;

static void fail_parse(const char *what, long lineno) {
    fail_msg("%s: line %ld: %s", FIXTURE_PATH, lineno, what);
}

/* Apply one KEY=VALUE extra of a run line; 0, or -1 for an unknown key. */
static int run_extra(ref_run *r, const char *tok) {
    char key[32];
    const char *eq = strchr(tok, '=');
    if (!eq || (size_t)(eq - tok) >= sizeof key) return -1;
    memcpy(key, tok, (size_t)(eq - tok));
    key[eq - tok] = '\0';
    const char *v = eq + 1;
    mlp_lr_schedule *sc = &r->sched;
    if (!strcmp(key, "sched")) return mlp_lr_kind_from_name(v, &sc->type);
    double d = strtod(v, NULL);
    if (!strcmp(key, "wd"))
        r->wd = d;
    else if (!strcmp(key, "ls"))
        r->ls = d;
    else if (!strcmp(key, "clip"))
        r->clip = d;
    else if (!strcmp(key, "bpe"))
        r->bpe = (int)d;
    else if (!strcmp(key, "step_epochs"))
        sc->step_epochs = (int)d;
    else if (!strcmp(key, "gamma"))
        sc->gamma = (float)d;
    else if (!strcmp(key, "min_lr"))
        sc->min_lr = (float)d;
    else if (!strcmp(key, "warmup"))
        sc->warmup_epochs = (int)d;
    else if (!strcmp(key, "factor"))
        sc->factor = (float)d;
    else if (!strcmp(key, "patience"))
        sc->patience = (int)d;
    else if (!strcmp(key, "min_delta"))
        sc->min_delta = (float)d;
    else
        return -1;
    return 0;
}

/* Read "array NAME COUNT"'s COUNT values that follow. */
static void read_values(FILE *f, ref_array *a, size_t count, long *lineno) {
    char line[128];
    a->n = count;
    a->v = calloc(count ? count : 1, sizeof(double));
    assert_non_null(a->v);
    for (size_t i = 0; i < count; i++) {
        (*lineno)++;
        if (!fgets(line, sizeof line, f)) fail_parse("file ends inside an array", *lineno);
        char *end;
        a->v[i] = strtod(line, &end);
        if (end == line) fail_parse("not a number", *lineno);
    }
}

/* The array of case c (or of its latest run) that `name` designates. */
static ref_array *array_slot(ref_case *c, const char *name) {
    ref_run *r = c->n_runs ? &c->runs[c->n_runs - 1] : NULL;
    if (!strcmp(name, "x")) return &c->x;
    if (!strcmp(name, "labels")) return &c->labels;
    if (!strcmp(name, "params")) return &c->params;
    if (!strcmp(name, "out")) return &c->out;
    if (!strcmp(name, "loss")) return &c->loss;
    if (!strcmp(name, "grad")) return &c->grad;
    if (!r) return NULL;
    if (!strcmp(name, "loss_before")) return &r->loss_before;
    if (!strcmp(name, "penalty_before")) return &r->penalty_before;
    if (!strcmp(name, "lr")) return &r->lr_epoch;
    for (int t = 1; t <= STEPS; t++) {
        char want[24];
        snprintf(want, sizeof want, "after%d", t);
        if (!strcmp(name, want)) return &r->after[t - 1];
    }
    return NULL;
}

static void load_fixture(ref_fixture *fx) {
    const char *path = getenv("MLPD_REFERENCE") ? getenv("MLPD_REFERENCE") : FIXTURE_PATH;
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (run from the repository root or set MLPD_REFERENCE)", path);
    memset(fx, 0, sizeof *fx);
    ref_case *c = NULL;
    char line[512];
    long lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char key[32] = "", name[64] = "";
        if (line[0] == '#' || sscanf(line, "%31s", key) != 1) continue;
        if (!strcmp(key, "case")) {
            if (fx->n_cases == MAX_CASES) fail_parse("too many cases", lineno);
            c = &fx->cases[fx->n_cases++];
            if (sscanf(line, "case %63s", c->name) != 1) fail_parse("bad case", lineno);
            continue;
        }
        if (!c) fail_parse("data before the first case", lineno);
        if (!strcmp(key, "arch")) {
            int used = 0, pos;
            mlp_arch *a = &c->arch;
            if (sscanf(line, "arch %d%n", &a->n_layers, &pos) != 1 || a->n_layers < 1 ||
                a->n_layers > MLP_MAX_LAYERS)
                fail_parse("bad arch", lineno);
            used = pos;
            for (int l = 0; l <= a->n_layers; l++) {
                if (sscanf(line + used, "%d%n", &a->sizes[l], &pos) != 1)
                    fail_parse("bad arch", lineno);
                used += pos;
            }
        } else if (!strcmp(key, "act")) {
            char *tok = strtok(line + 3, " \n");
            for (int l = 0; l < c->arch.n_layers; l++, tok = strtok(NULL, " \n"))
                if (!tok || mlp_act_from_name(tok, &c->arch.act[l])) fail_parse("bad act", lineno);
        } else if (!strcmp(key, "loss")) {
            if (sscanf(line, "loss %63s", name) != 1 || mlp_loss_from_name(name, &c->arch.loss))
                fail_parse("bad loss", lineno);
        } else if (!strcmp(key, "batch")) {
            if (sscanf(line, "batch %d", &c->batch) != 1) fail_parse("bad batch", lineno);
        } else if (!strcmp(key, "run")) {
            if (c->n_runs == MAX_RUNS) fail_parse("too many runs", lineno);
            ref_run *r = &c->runs[c->n_runs++];
            int used = 0;
            if (sscanf(line, "run %63s %15s %lf %lf %d %lf %lf %lf %lf %lf%n", r->name, r->opt,
                       &r->lr, &r->momentum, &r->nesterov, &r->beta1, &r->beta2, &r->eps, &r->l1,
                       &r->l2, &used) != 10)
                fail_parse("bad run", lineno);
            mlp_train_config defaults;
            mlp_train_config_default(&defaults);
            r->sched = defaults.schedule;
            r->wd = -1.0;
            r->bpe = 1;
            for (char *tok = strtok(line + used, " \n"); tok; tok = strtok(NULL, " \n"))
                if (run_extra(r, tok) != 0) fail_parse("bad run extra", lineno);
        } else if (!strcmp(key, "array")) {
            size_t count;
            if (sscanf(line, "array %63s %zu", name, &count) != 2) fail_parse("bad array", lineno);
            ref_array *a = array_slot(c, name);
            if (!a) fail_parse("unknown array", lineno);
            read_values(f, a, count, &lineno);
        } else if (!strcmp(key, "end")) {
            c = NULL;
        } else {
            fail_parse("unknown keyword", lineno);
        }
    }
    fclose(f);
    assert_true(fx->n_cases > 0);
}

static void free_fixture(ref_fixture *fx) {
    if (!fx) return;
    for (int i = 0; i < fx->n_cases; i++) {
        ref_case *c = &fx->cases[i];
        ref_array *own[] = {&c->x, &c->labels, &c->params, &c->out, &c->loss, &c->grad};
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++) free(own[k]->v);
        for (int r = 0; r < c->n_runs; r++) {
            free(c->runs[r].loss_before.v);
            free(c->runs[r].penalty_before.v);
            free(c->runs[r].lr_epoch.v);
            for (int t = 0; t < STEPS; t++) free(c->runs[r].after[t].v);
        }
    }
    free(fx);
}

static int group_setup(void **state) {
    ref_fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    *state = fx; /* teardown frees it even if loading fails */
    load_fixture(fx);
    return 0;
}

static int group_teardown(void **state) {
    free_fixture(*state);
    return 0;
}

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
