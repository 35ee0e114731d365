/* test_engine_explain.c - attributions (engine/explain.c) against PyTorch autograd.
 *
 * tests/reference/fixtures/explain.txt (written by tests/reference/gen_explain.py,
 * float64 PyTorch) holds small networks with fixed weights and inputs and, for
 * every method and both explained outputs, the resolved targets, the
 * attributions and the convergence delta. Each is recomputed with the engine in
 * float32, on the plain and on the packed model, and passes when
 * |got - want| <= ATOL + RTOL |want| (the worst difference is printed).
 * Then the properties no fixture shows: integrated gradients' completeness on
 * a 784-wide network, chunking that does not change results, and the refusals.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"

#define FIXTURE_PATH "tests/reference/fixtures/explain.txt"
#define ATOL         1e-5
#define RTOL         1e-4
#define MAX_CASES    4
#define MAX_SPECS    12

/* ---- the fixture ------------------------------------------------------------------- */
typedef struct {
    size_t n;
    double *v;
} ref_array;

typedef struct {
    char method[32], output[16], baseline_kind[8];
    int n_steps, samples;
    double noise;
    unsigned long long seed;
    ref_array targets_in, targets, baseline, attr, delta;
} ref_spec;

typedef struct {
    char name[64];
    mlp_arch arch;
    int batch;
    ref_array x, params;
    ref_spec specs[MAX_SPECS];
    int n_specs;
} ref_case;

typedef struct {
    ref_case cases[MAX_CASES];
    int n_cases;
} ref_fixture;

static void read_values(FILE *f, ref_array *a, size_t count, long *lineno) {
    char line[128];
    a->n = count;
    a->v = calloc(count ? count : 1, sizeof(double));
    assert_non_null(a->v);
    for (size_t i = 0; i < count; i++, (*lineno)++) {
        char *end;
        if (!fgets(line, sizeof line, f)) fail_msg("line %ld: file ends in an array", *lineno);
        a->v[i] = strtod(line, &end);
        if (end == line) fail_msg("line %ld: not a number", *lineno);
    }
}

static ref_array *array_slot(ref_case *c, const char *name) {
    ref_spec *s = c->n_specs ? &c->specs[c->n_specs - 1] : NULL;
    if (!strcmp(name, "x")) return &c->x;
    if (!strcmp(name, "params")) return &c->params;
    if (!s) return NULL;
    if (!strcmp(name, "targets_in")) return &s->targets_in;
    if (!strcmp(name, "targets")) return &s->targets;
    if (!strcmp(name, "baseline")) return &s->baseline;
    if (!strcmp(name, "attr")) return &s->attr;
    if (!strcmp(name, "delta")) return &s->delta;
    return NULL;
}

/* One line of the case grammar (gen_explain.py); fails the test on a bad one. */
static void parse_line(ref_case *c, char *line, FILE *f, long *lineno) {
    char key[32] = "", name[64] = "";
    int pos, used;
    sscanf(line, "%31s", key);
    if (!strcmp(key, "arch")) {
        mlp_arch *a = &c->arch;
        if (sscanf(line, "arch %d%n", &a->n_layers, &used) != 1 || a->n_layers < 1 ||
            a->n_layers > MLP_MAX_LAYERS)
            fail_msg("line %ld: bad arch", *lineno);
        for (int l = 0; l <= a->n_layers; l++, used += pos)
            if (sscanf(line + used, "%d%n", &a->sizes[l], &pos) != 1)
                fail_msg("line %ld: bad arch", *lineno);
    } else if (!strcmp(key, "act")) {
        char *tok = strtok(line + 3, " \n");
        for (int l = 0; l < c->arch.n_layers; l++, tok = strtok(NULL, " \n"))
            if (!tok || mlp_act_from_name(tok, &c->arch.act[l]))
                fail_msg("line %ld: bad act", *lineno);
    } else if (!strcmp(key, "loss")) {
        if (sscanf(line, "loss %63s", name) != 1 || mlp_loss_from_name(name, &c->arch.loss))
            fail_msg("line %ld: bad loss", *lineno);
    } else if (!strcmp(key, "batch")) {
        if (sscanf(line, "batch %d", &c->batch) != 1) fail_msg("line %ld: bad batch", *lineno);
    } else if (!strcmp(key, "explain")) {
        if (c->n_specs == MAX_SPECS) fail_msg("line %ld: too many explain lines", *lineno);
        ref_spec *s = &c->specs[c->n_specs++];
        if (sscanf(line, "explain %31s %15s %d %d %lf %llu %7s", s->method, s->output, &s->n_steps,
                   &s->samples, &s->noise, &s->seed, s->baseline_kind) != 7)
            fail_msg("line %ld: bad explain", *lineno);
    } else if (!strcmp(key, "array")) {
        size_t count;
        if (sscanf(line, "array %63s %zu", name, &count) != 2)
            fail_msg("line %ld: bad array", *lineno);
        ref_array *a = array_slot(c, name);
        if (!a) fail_msg("line %ld: unknown array %s", *lineno, name);
        read_values(f, a, count, lineno);
    } else {
        fail_msg("line %ld: unknown keyword %s", *lineno, key);
    }
}

static void load_fixture(ref_fixture *fx) {
    const char *path =
        getenv("MLPD_EXPLAIN_REFERENCE") ? getenv("MLPD_EXPLAIN_REFERENCE") : FIXTURE_PATH;
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (run from the repository root)", path);
    ref_case *c = NULL;
    char line[512], key[32];
    long lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || sscanf(line, "%31s", key) != 1) continue;
        if (!strcmp(key, "case")) {
            if (fx->n_cases == MAX_CASES) fail_msg("line %ld: too many cases", lineno);
            c = &fx->cases[fx->n_cases++];
            sscanf(line, "case %63s", c->name);
        } else if (!strcmp(key, "end")) {
            c = NULL;
        } else if (!c) {
            fail_msg("line %ld: outside a case", lineno);
        } else {
            parse_line(c, line, f, &lineno);
        }
    }
    fclose(f);
    assert_true(fx->n_cases > 0);
}

static void free_fixture(ref_fixture *fx) {
    for (int i = 0; fx && i < fx->n_cases; i++) {
        ref_case *c = &fx->cases[i];
        free(c->x.v);
        free(c->params.v);
        for (int k = 0; k < c->n_specs; k++) {
            ref_spec *s = &c->specs[k];
            ref_array *own[] = {&s->targets_in, &s->targets, &s->baseline, &s->attr, &s->delta};
            for (size_t j = 0; j < sizeof own / sizeof own[0]; j++) free(own[j]->v);
        }
    }
    free(fx);
}

static int group_setup(void **state) {
    ref_fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    *state = fx;
    load_fixture(fx);
    return 0;
}

static int group_teardown(void **state) {
    free_fixture(*state);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

static float *floats(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static float *to_floats(const ref_array *a) {
    float *p = floats(a->n);
    for (size_t i = 0; i < a->n; i++) p[i] = (float)a->v[i];
    return p;
}

/* Print the worst difference; 1 if every value is within tolerance. */
static int compare(const char *what, const float *got, const ref_array *want, size_t n) {
    if (want->n != n) {
        printf("  %-60s size %zu, fixture has %zu  FAIL\n", what, n, want->n);
        return 0;
    }
    double worst = 0.0;
    size_t at = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want->v[i]);
        if (!(d <= ATOL + RTOL * fabs(want->v[i]))) ok = 0;
        if (!(d <= worst)) worst = d, at = i;
    }
    printf("  %-60s max |diff| %.3g at [%zu] (got %.9g want %.9g)  %s\n", what, worst, at,
           (double)got[at], want->v[at], ok ? "ok" : "FAIL");
    return ok;
}

static mlp_model *case_model(const ref_case *c, int pack) {
    mlp_model *m = NULL;
    mlp_error err = {{0}};
    if (mlp_model_create(&c->arch, MLP_INIT_GLOROT_UNIFORM, 1, &m, &err) != MLP_OK)
        fail_msg("%s: %s", c->name, err.msg);
    assert_int_equal(m->n_params, c->params.n);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)c->params.v[i];
    if (pack) assert_int_equal(mlp_model_pack(m, &err), MLP_OK);
    return m;
}

static void spec_config(const ref_spec *s, const float *baseline, mlp_explain_config *cfg) {
    mlp_explain_config_default(cfg);
    assert_int_equal(mlp_explain_method_from_name(s->method, &cfg->method), 0);
    assert_int_equal(mlp_explain_output_from_name(s->output, &cfg->output), 0);
    cfg->n_steps = s->n_steps;
    cfg->samples = s->samples;
    cfg->noise = (float)s->noise;
    cfg->seed = s->seed;
    cfg->baseline = baseline;
}

/* ---- against PyTorch -------------------------------------------------------------------- */

/* One fixture spec on model m; 1 if everything matches. */
static int check_spec(const ref_case *c, const ref_spec *s, const mlp_model *m, const char *tag) {
    int B = c->batch, In = c->arch.sizes[0];
    float *x = to_floats(&c->x), *baseline = s->baseline.n ? to_floats(&s->baseline) : NULL;
    float *attr = floats((size_t)B * In), *delta = floats(B), *tf = floats(B);
    float *scratch = floats(mlp_explain_scratch_floats(m));
    int *target = calloc(B, sizeof *target);
    assert_non_null(target);
    for (int r = 0; r < B; r++) target[r] = (int)s->targets_in.v[r];
    mlp_explain_config cfg;
    spec_config(s, baseline, &cfg);
    mlp_error err = {{0}};
    if (mlp_explain(m, &cfg, x, B, target, attr, delta, scratch, &err) != MLP_OK)
        fail_msg("%s: %s", c->name, err.msg);
    for (int r = 0; r < B; r++) tf[r] = (float)target[r];
    char what[160];
    int ok = 1;
    snprintf(what, sizeof what, "%s %s %s %s n=%d %s targets", c->name, tag, s->method, s->output,
             s->n_steps, s->baseline_kind);
    ok &= compare(what, tf, &s->targets, B);
    snprintf(what, sizeof what, "%s %s %s %s n=%d %s attributions", c->name, tag, s->method,
             s->output, s->n_steps, s->baseline_kind);
    ok &= compare(what, attr, &s->attr, (size_t)B * In);
    snprintf(what, sizeof what, "%s %s %s %s n=%d %s delta", c->name, tag, s->method, s->output,
             s->n_steps, s->baseline_kind);
    ok &= compare(what, delta, &s->delta, B);
    free(x), free(baseline), free(attr), free(delta), free(tf), free(scratch), free(target);
    return ok;
}

/* Every method and output of every case, on the plain model (CBLAS) and on
 * the packed one (the prediction kernel in the forward pass). */
static void test_against_pytorch(void **state) {
    ref_fixture *fx = *state;
    int ok = 1, checked = 0;
    for (int i = 0; i < fx->n_cases; i++) {
        const ref_case *c = &fx->cases[i];
        for (int pack = 0; pack <= 1; pack++) {
            mlp_model *m = case_model(c, pack);
            for (int k = 0; k < c->n_specs; k++, checked++)
                ok &= check_spec(c, &c->specs[k], m, pack ? "packed" : "plain");
            mlp_model_free(m);
        }
    }
    assert_true(checked >= 2 * 25);
    assert_true(ok);
}

/* mlp_input_gradient is saliency with the targets given; its values are f. */
static void test_input_gradient(void **state) {
    ref_fixture *fx = *state;
    const ref_case *c = &fx->cases[0];
    for (int k = 0; k < c->n_specs; k++) {
        const ref_spec *s = &c->specs[k];
        if (strcmp(s->method, "saliency")) continue;
        mlp_model *m = case_model(c, 0);
        int B = c->batch, In = c->arch.sizes[0], target[16];
        float *x = to_floats(&c->x), *grad = floats((size_t)B * In), value[16];
        float *scratch = floats(mlp_explain_scratch_floats(m));
        mlp_explain_output out;
        assert_int_equal(mlp_explain_output_from_name(s->output, &out), 0);
        for (int r = 0; r < B; r++) target[r] = (int)s->targets.v[r];
        mlp_input_gradient(m, out, x, B, target, grad, value, scratch);
        assert_true(compare("mlp_input_gradient", grad, &s->attr, (size_t)B * In));
        float *probs = floats((size_t)B * 8), *fs = floats(mlp_scratch_floats(m, B));
        mlp_forward(m, x, B, probs, fs);
        int O = c->arch.sizes[c->arch.n_layers];
        if (out == MLP_EXPLAIN_PROBABILITY)
            for (int r = 0; r < B; r++)
                assert_true(fabsf(value[r] - probs[r * O + target[r]]) < 1e-6f);
        free(x), free(grad), free(scratch), free(probs), free(fs);
        mlp_model_free(m);
    }
}

/* ---- properties --------------------------------------------------------------------------- */

/* A 784-64-32-10 relu/softmax network (he_normal, biases uniform in +-0.2:
 * with zero biases a relu network is linear along the path from a zero
 * baseline and the integral would be exact) and `rows` inputs in 0..1. */
static mlp_model *wide_model(float *x, int rows) {
    mlp_arch a;
    mlp_error err = {{0}};
    int hidden[] = {64, 32};
    assert_int_equal(
        mlp_arch_make(&a, 784, hidden, 2, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1, &err),
        MLP_OK);
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(&a, MLP_INIT_HE_NORMAL, 42, &m, &err), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 5);
    for (int l = 0; l < a.n_layers; l++)
        for (int j = 0; j < a.sizes[l + 1]; j++) m->b[l][j] = 0.4f * mlp_rng_uniform(&r) - 0.2f;
    for (int i = 0; i < rows * 784; i++) x[i] = mlp_rng_uniform(&r);
    return m;
}

/* Integrated gradients' completeness: sum(attr) -> f(x) - f(b) as n_steps grows,
 * within 1% at 200 steps, for both outputs and every row. */
static void test_completeness(void **state) {
    (void)state;
    float x[2 * 784], attr[2 * 784], delta[2];
    mlp_model *m = wide_model(x, 2);
    float *scratch = floats(mlp_explain_scratch_floats(m));
    mlp_error err = {{0}};
    for (int out = 0; out <= 1; out++) {
        double d[3][2], gap[2];
        int steps[3] = {4, 20, 200};
        for (int s = 0; s < 3; s++) {
            mlp_explain_config cfg;
            mlp_explain_config_default(&cfg);
            cfg.output = (mlp_explain_output)out;
            cfg.n_steps = steps[s];
            int target[2] = {-1, 3};
            assert_int_equal(mlp_explain(m, &cfg, x, 2, target, attr, delta, scratch, &err),
                             MLP_OK);
            for (int r = 0; r < 2; r++) {
                double sum = 0.0;
                for (int i = 0; i < 784; i++) sum += attr[r * 784 + i];
                d[s][r] = fabs(delta[r]);
                gap[r] = fabs(sum - delta[r]); /* |f(x) - f(b)| */
            }
        }
        for (int r = 0; r < 2; r++) {
            printf("  %s row %d: |f(x)-f(b)| %.4g, |delta| at 4/20/200 steps %.3g %.3g %.3g\n",
                   out ? "logit" : "probability", r, gap[r], d[0][r], d[1][r], d[2][r]);
            assert_true(gap[r] > 1e-3);
            assert_true(d[2][r] < d[0][r]);
            assert_true(d[2][r] < 0.01 * gap[r]);
        }
    }
    free(scratch);
    mlp_model_free(m);
}

/* Rows explained together equal rows explained one by one, although a row's
 * 52 points straddle the 64-point chunks; smoothgrad repeats with its seed. */
static void test_chunking_and_seed(void **state) {
    (void)state;
    float x[3 * 784], all[3 * 784], one[784], again[3 * 784], delta[3], d1;
    mlp_model *m = wide_model(x, 3);
    float *scratch = floats(mlp_explain_scratch_floats(m));
    mlp_error err = {{0}};
    mlp_explain_config cfg;
    mlp_explain_config_default(&cfg);
    int target[3] = {-1, -1, -1};
    assert_int_equal(mlp_explain(m, &cfg, x, 3, target, all, delta, scratch, &err), MLP_OK);
    for (int r = 0; r < 3; r++) {
        int t = -1;
        assert_int_equal(mlp_explain(m, &cfg, x + r * 784, 1, &t, one, &d1, scratch, &err), MLP_OK);
        assert_int_equal(t, target[r]);
        for (int i = 0; i < 784; i++) assert_true(fabsf(one[i] - all[r * 784 + i]) <= 1e-6f);
        assert_true(fabsf(d1 - delta[r]) <= 1e-6f);
    }
    cfg.method = MLP_EXPLAIN_SMOOTHGRAD;
    cfg.seed = 9;
    assert_int_equal(mlp_explain(m, &cfg, x, 3, target, all, NULL, scratch, &err), MLP_OK);
    assert_int_equal(mlp_explain(m, &cfg, x, 3, target, again, NULL, scratch, &err), MLP_OK);
    assert_memory_equal(all, again, sizeof all);
    cfg.seed = 10;
    assert_int_equal(mlp_explain(m, &cfg, x, 3, target, again, NULL, scratch, &err), MLP_OK);
    assert_true(memcmp(all, again, sizeof all) != 0);
    free(scratch);
    mlp_model_free(m);
}

/* What mlp_explain refuses, each with a message and attr left alone. */
static void test_refusals(void **state) {
    ref_fixture *fx = *state;
    const ref_case *lin = NULL;
    for (int i = 0; i < fx->n_cases; i++)
        if (fx->cases[i].arch.act[fx->cases[i].arch.n_layers - 1] == MLP_ACT_LINEAR)
            lin = &fx->cases[i];
    assert_non_null(lin);
    float x[2 * 784], attr[784], base[784];
    mlp_model *m = wide_model(x, 1), *ml = case_model(lin, 0);
    float *scratch = floats(mlp_explain_scratch_floats(m));
    mlp_error err = {{0}};
    mlp_explain_config cfg;
    mlp_explain_config_default(&cfg);
    assert_int_equal(mlp_explain_config_validate(&cfg, ml, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "softmax"));
    cfg.output = MLP_EXPLAIN_LOGIT;
    assert_int_equal(mlp_explain_config_validate(&cfg, ml, &err), MLP_OK);
    int bad_steps[] = {0, 1001, 1000000}, bad_target[] = {10, 11};
    for (int k = 0; k < 3; k++) {
        mlp_explain_config_default(&cfg);
        cfg.n_steps = bad_steps[k];
        assert_int_equal(mlp_explain_config_validate(&cfg, m, &err), MLP_EINVAL);
        mlp_explain_config_default(&cfg);
        cfg.samples = bad_steps[k];
        assert_int_equal(mlp_explain_config_validate(&cfg, m, &err), MLP_EINVAL);
    }
    mlp_explain_config_default(&cfg);
    cfg.noise = -1.0f;
    assert_int_equal(mlp_explain_config_validate(&cfg, m, &err), MLP_EINVAL);
    for (int i = 0; i < 784; i++) base[i] = 0.5f;
    base[300] = NAN;
    cfg.noise = 0.1f;
    cfg.baseline = base;
    assert_int_equal(mlp_explain_config_validate(&cfg, m, &err), MLP_EINVAL);
    assert_non_null(strstr(err.msg, "baseline[300]"));
    cfg.baseline = NULL;
    for (int k = 0; k < 2; k++) {
        memset(attr, 0x7f, sizeof attr);
        int t = bad_target[k];
        assert_int_equal(mlp_explain(m, &cfg, x, 1, &t, attr, NULL, scratch, &err), MLP_EINVAL);
        assert_non_null(strstr(err.msg, "target"));
        for (int i = 0; i < 784; i++) assert_int_equal(((unsigned char *)attr)[i], 0x7f);
    }
    free(scratch);
    mlp_model_free(m);
    mlp_model_free(ml);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_pytorch), cmocka_unit_test(test_input_gradient),
        cmocka_unit_test(test_completeness),    cmocka_unit_test(test_chunking_and_seed),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
