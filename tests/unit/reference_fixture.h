/* reference_fixture.h - reading tests/reference/fixtures/reference.txt (written
 * by tests/reference/gen_reference.py) for test_engine_reference.c: its
 * cases (a network, its inputs and what PyTorch computed) and runs (a
 * training configuration and the parameters after each epoch), and the
 * cmocka group setup/teardown that load and free it. The fixture is found
 * at $MLPD_REFERENCE, else at FIXTURE_PATH from the repository root.
 * Include after <cmocka.h>: a malformed fixture fails the test. */
#ifndef MLPD_REFERENCE_FIXTURE_H
#define MLPD_REFERENCE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static inline void fail_parse(const char *what, long lineno) {
    fail_msg("%s: line %ld: %s", FIXTURE_PATH, lineno, what);
}

/* Apply one KEY=VALUE extra of a run line; 0, or -1 for an unknown key. */
static inline int run_extra(ref_run *r, const char *tok) {
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
static inline void read_values(FILE *f, ref_array *a, size_t count, long *lineno) {
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
static inline ref_array *array_slot(ref_case *c, const char *name) {
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

static inline void load_fixture(ref_fixture *fx) {
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

static inline void free_fixture(ref_fixture *fx) {
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

static inline int group_setup(void **state) {
    ref_fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    *state = fx; /* teardown frees it even if loading fails */
    load_fixture(fx);
    return 0;
}

static inline int group_teardown(void **state) {
    free_fixture(*state);
    return 0;
}

#endif /* MLPD_REFERENCE_FIXTURE_H */
