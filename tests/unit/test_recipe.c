/* test_recipe.c - the engine's recipe table (mlp_recipe_fields) and its
 * readers agree: api/openapi.yaml's TrainRequest (type, minimum/maximum,
 * default and enum of every member, read with libyaml), the generated
 * web/js/recipe.js, the dashboard's web/js/train-fields.js, the POST /train
 * decoder at every member's bounds, and the table with itself.
 * Run from the repository's top folder (tests/run.sh does). */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yaml.h>

#include "mlp.h"
#include "recipe_schema.h"
#include "train_request.h"

/* The API's own members, outside the recipe. */
static const char *const API_ONLY[] = {"dataset", "warm_start_model", "model_name", NULL};

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (run from the repository's top folder)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int is_api_only(const char *name) {
    for (const char *const *a = API_ONLY; *a; a++)
        if (!strcmp(*a, name)) return 1;
    return 0;
}

/* ---- the table itself ------------------------------------------------------------ */

static void test_table_is_consistent(void **state) {
    (void)state;
    mlp_recipe r;
    mlp_recipe_default(&r);
    mlp_error e = {{0}};
    if (mlp_recipe_validate(&r, NULL, &e) != MLP_OK) fail_msg("defaults refused: %s", e.msg);
    mlp_train_config c;
    mlp_train_config_default(&c);
    assert_int_equal(mlp_train_config_validate(&c, NULL), MLP_OK);
    for (size_t i = 0; i < mlp_recipe_n_fields; i++) {
        const mlp_recipe_field *f = &mlp_recipe_fields[i];
        const char *dot = strchr(f->name, '.');
        if (dot && strchr(dot + 1, '.')) fail_msg("%s: at most one level of nesting", f->name);
        assert_ptr_equal(mlp_recipe_field_named(f->name), f);
        assert_false(is_api_only(f->name));
        assert_non_null(f->help);
        if (f->min > f->max) fail_msg("%s: min above max", f->name);
        if (!f->flag) continue;
        /* mlpd train's own options, and flags unique. */
        assert_true(strcmp(f->flag, "data") && strcmp(f->flag, "out") &&
                    strcmp(f->flag, "warm-start") && strcmp(f->flag, "help"));
        for (size_t k = 0; k < i; k++)
            if (mlp_recipe_fields[k].flag && !strcmp(mlp_recipe_fields[k].flag, f->flag))
                fail_msg("flag --%s used twice", f->flag);
        /* A switch that turns a member off says so. */
        if (f->type == MLP_RF_BOOL && f->def != 0) assert_memory_equal(f->flag, "no-", 3);
    }
}

/* ---- api/openapi.yaml ------------------------------------------------------------ */

typedef struct {
    yaml_document_t doc;
    yaml_node_t *props;    /* TrainRequest.properties */
    yaml_node_t *required; /* TrainConfig's required list */
} spec;

static const char *scalar(yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *get(yaml_document_t *d, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(yaml_document_get_node(d, p->key));
        if (k && !strcmp(k, key)) return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static int seq_len(yaml_node_t *n) {
    return n && n->type == YAML_SEQUENCE_NODE
               ? (int)(n->data.sequence.items.top - n->data.sequence.items.start)
               : -1;
}

static yaml_node_t *seq_at(yaml_document_t *d, yaml_node_t *n, int i) {
    return yaml_document_get_node(d, n->data.sequence.items.start[i]);
}

static void load_spec(spec *s) {
    FILE *f = fopen("api/openapi.yaml", "rb");
    if (!f) fail_msg("cannot open api/openapi.yaml (run from the repository's top folder)");
    yaml_parser_t p;
    assert_true(yaml_parser_initialize(&p));
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &s->doc)) fail_msg("api/openapi.yaml: %s", p.problem);
    yaml_parser_delete(&p);
    fclose(f);
    yaml_node_t *schemas =
        get(&s->doc, get(&s->doc, yaml_document_get_root_node(&s->doc), "components"), "schemas");
    s->props = get(&s->doc, get(&s->doc, schemas, "TrainRequest"), "properties");
    assert_non_null(s->props);
    yaml_node_t *all_of = get(&s->doc, get(&s->doc, schemas, "TrainConfig"), "allOf");
    assert_int_equal(seq_len(all_of), 2);
    s->required = get(&s->doc, seq_at(&s->doc, all_of, 1), "required");
    assert_true(seq_len(s->required) > 0);
}

/* The schema of member f: properties[name], or properties[group].properties[leaf]. */
static yaml_node_t *member_schema(spec *s, const mlp_recipe_field *f) {
    const char *dot = strchr(f->name, '.');
    if (!dot) return get(&s->doc, s->props, f->name);
    char group[64];
    snprintf(group, sizeof group, "%.*s", (int)(dot - f->name), f->name);
    return get(&s->doc, get(&s->doc, get(&s->doc, s->props, group), "properties"), dot + 1);
}

/* A number in the spec equals v as f stores it (floats compared as float). */
static void check_number(const mlp_recipe_field *f, const char *what, yaml_node_t *n, double v) {
    const char *t = scalar(n);
    if (!t) fail_msg("%s: openapi.yaml has no %s (the table says %g)", f->name, what, v);
    double got = strtod(t, NULL);
    int same = f->type == MLP_RF_FLOAT ? (float)got == (float)v : got == v;
    if (!same) fail_msg("%s: openapi.yaml's %s is %s, the table's %.17g", f->name, what, t, v);
}

static void check_absent(const mlp_recipe_field *f, spec *s, yaml_node_t *m, const char *key) {
    if (get(&s->doc, m, key)) fail_msg("%s: openapi.yaml has %s, the table does not", f->name, key);
}

static void check_range(spec *s, const mlp_recipe_field *f, yaml_node_t *m) {
    int lo_open = (f->flags & MLP_RF_MIN_OPEN) != 0, hi_open = (f->flags & MLP_RF_MAX_OPEN) != 0;
    check_number(f, lo_open ? "exclusiveMinimum" : "minimum",
                 get(&s->doc, m, lo_open ? "exclusiveMinimum" : "minimum"), f->min);
    check_absent(f, s, m, lo_open ? "minimum" : "exclusiveMinimum");
    if (f->max >= FLT_MAX) {
        check_absent(f, s, m, "maximum");
        check_absent(f, s, m, "exclusiveMaximum");
        return;
    }
    check_number(f, hi_open ? "exclusiveMaximum" : "maximum",
                 get(&s->doc, m, hi_open ? "exclusiveMaximum" : "maximum"), f->max);
    check_absent(f, s, m, hi_open ? "maximum" : "exclusiveMaximum");
}

static void check_type(spec *s, const mlp_recipe_field *f, yaml_node_t *m, const char *want) {
    yaml_node_t *t = get(&s->doc, m, "type");
    if (f->type == MLP_RF_CHOICE && (f->flags & MLP_RF_NULL)) {
        if (seq_len(t) != 2 || strcmp(scalar(seq_at(&s->doc, t, 0)), want) ||
            strcmp(scalar(seq_at(&s->doc, t, 1)), "null"))
            fail_msg("%s: openapi.yaml's type must be [%s, 'null']", f->name, want);
        return;
    }
    if (!scalar(t) || strcmp(scalar(t), want))
        fail_msg("%s: openapi.yaml's type is %s, the table's %s", f->name,
                 scalar(t) ? scalar(t) : "(not one name)", want);
}

static void check_choice(spec *s, const mlp_recipe_field *f, yaml_node_t *m) {
    yaml_node_t *e = get(&s->doc, m, "enum");
    int n = 0;
    while (mlp_recipe_choice_name(f, n)) n++;
    int nullable = (f->flags & MLP_RF_NULL) != 0;
    if (seq_len(e) != n + nullable) fail_msg("%s: openapi.yaml's enum has other names", f->name);
    for (int i = 0; i < n + nullable; i++) {
        const char *want = i < n ? mlp_recipe_choice_name(f, i) : "null";
        if (strcmp(scalar(seq_at(&s->doc, e, i)), want))
            fail_msg("%s: openapi.yaml's enum[%d] is %s, the table's %s", f->name, i,
                     scalar(seq_at(&s->doc, e, i)), want);
    }
    const char *d = scalar(get(&s->doc, m, "default"));
    const char *want = f->def < 0 ? "null" : f->name_of((int)f->def);
    if (!d || strcmp(d, want)) fail_msg("%s: openapi.yaml's default is not %s", f->name, want);
}

static void check_list(spec *s, const mlp_recipe_field *f, yaml_node_t *m) {
    check_number(f, "maxItems", get(&s->doc, m, "maxItems"), f->max_items);
    yaml_node_t *items = get(&s->doc, m, "items");
    check_number(f, "items.minimum", get(&s->doc, items, "minimum"), f->min);
    check_number(f, "items.maximum", get(&s->doc, items, "maximum"), f->max);
    yaml_node_t *d = get(&s->doc, m, "default");
    int n = 0;
    while (f->def_items[n]) n++;
    if (seq_len(d) != n) fail_msg("%s: openapi.yaml's default has other items", f->name);
    for (int i = 0; i < n; i++)
        check_number(f, "default item", seq_at(&s->doc, d, i), f->def_items[i]);
}

static void check_member(spec *s, const mlp_recipe_field *f) {
    static const char *const types[] = {
        [MLP_RF_FLOAT] = "number", [MLP_RF_INT] = "integer",   [MLP_RF_BOOL] = "boolean",
        [MLP_RF_U64] = "integer",  [MLP_RF_CHOICE] = "string", [MLP_RF_LIST] = "array"};
    yaml_node_t *m = member_schema(s, f);
    if (!m) fail_msg("%s: not in openapi.yaml's TrainRequest", f->name);
    check_type(s, f, m, types[f->type]);
    switch (f->type) {
    case MLP_RF_FLOAT:
    case MLP_RF_INT:
    case MLP_RF_U64:
        check_range(s, f, m);
        check_number(f, "default", get(&s->doc, m, "default"), f->def);
        break;
    case MLP_RF_BOOL: {
        const char *d = scalar(get(&s->doc, m, "default"));
        if (!d || strcmp(d, f->def ? "true" : "false"))
            fail_msg("%s: openapi.yaml's default is not %s", f->name, f->def ? "true" : "false");
        break;
    }
    case MLP_RF_CHOICE: check_choice(s, f, m); break;
    case MLP_RF_LIST: check_list(s, f, m); break;
    }
}

/* Is `name` (a top-level member, or group.member) known to the table or the API? */
static int known(const char *name, int top) {
    if (top && is_api_only(name)) return 1;
    if (mlp_recipe_field_named(name)) return 1;
    size_t n = strlen(name);
    for (size_t i = 0; top && i < mlp_recipe_n_fields; i++)
        if (!strncmp(mlp_recipe_fields[i].name, name, n) && mlp_recipe_fields[i].name[n] == '.')
            return 1;
    return 0;
}

static void test_openapi_agrees(void **state) {
    (void)state;
    spec s;
    load_spec(&s);
    for (size_t i = 0; i < mlp_recipe_n_fields; i++) check_member(&s, &mlp_recipe_fields[i]);
    /* Nothing in the spec that the table does not have; every member required in TrainConfig. */
    yaml_node_t *p = s.props;
    int top_members = 0;
    for (yaml_node_pair_t *kv = p->data.mapping.pairs.start; kv < p->data.mapping.pairs.top; kv++) {
        const char *k = scalar(yaml_document_get_node(&s.doc, kv->key));
        if (!known(k, 1))
            fail_msg("openapi.yaml's TrainRequest has %s; the recipe table does not", k);
        top_members++;
        int listed = 0;
        for (int i = 0; i < seq_len(s.required); i++)
            listed |= !strcmp(scalar(seq_at(&s.doc, s.required, i)), k);
        if (!listed) fail_msg("openapi.yaml's TrainConfig does not require %s", k);
        yaml_node_t *sub = get(&s.doc, yaml_document_get_node(&s.doc, kv->value), "properties");
        for (yaml_node_pair_t *q = sub ? sub->data.mapping.pairs.start : NULL;
             sub && q < sub->data.mapping.pairs.top; q++) {
            char full[128];
            snprintf(full, sizeof full, "%s.%s", k, scalar(yaml_document_get_node(&s.doc, q->key)));
            if (!known(full, 0))
                fail_msg("openapi.yaml's TrainRequest has %s; the table does not", full);
        }
    }
    assert_int_equal(seq_len(s.required), top_members);
    yaml_document_delete(&s.doc);
}

/* ---- the dashboard ----------------------------------------------------------------- */

static void test_web_agrees(void **state) {
    (void)state;
    char *want = api_recipe_schema_js();
    char *have = read_text("web/js/recipe.js");
    if (strcmp(want, have))
        fail_msg("web/js/recipe.js is not what the table generates: run make web/js/recipe.js");
    free(want);
    free(have);
    /* train-fields.js lays out every member, and no other. */
    char *js = read_text("web/js/train-fields.js");
    char needle[160];
    for (size_t i = 0; i < mlp_recipe_n_fields; i++) {
        snprintf(needle, sizeof needle, "name: '%s'", mlp_recipe_fields[i].name);
        if (!strstr(js, needle)) fail_msg("web/js/train-fields.js lacks %s", needle);
    }
    for (const char *p = js; (p = strstr(p, "name: '")); p++) {
        const char *start = p + 7, *end = strchr(start, '\'');
        assert_non_null(end);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
        if (!is_api_only(name) && !mlp_recipe_field_named(name))
            fail_msg("web/js/train-fields.js has %s; the recipe table does not", name);
    }
    free(js);
}

/* ---- the decoder at every member's bounds --------------------------------------------- */

/* {"name": value}, or {"group": {"leaf": value}}. */
static int decode_one(const mlp_recipe_field *f, const char *value, api_problem *p) {
    char json[256];
    const char *dot = strchr(f->name, '.');
    if (dot)
        snprintf(json, sizeof json, "{\"%.*s\":{\"%s\":%s}}", (int)(dot - f->name), f->name,
                 dot + 1, value);
    else
        snprintf(json, sizeof json, "{\"%s\":%s}", f->name, value);
    api_train_request r;
    memset(p, 0, sizeof *p);
    return api_train_request_decode(json, strlen(json), &r, p);
}

static void test_decoder_uses_the_limits(void **state) {
    (void)state;
    for (size_t i = 0; i < mlp_recipe_n_fields; i++) {
        const mlp_recipe_field *f = &mlp_recipe_fields[i];
        if (f->type != MLP_RF_FLOAT && f->type != MLP_RF_INT && f->type != MLP_RF_U64) continue;
        char v[64], ptr[96];
        snprintf(ptr, sizeof ptr, "/%s", f->name);
        for (char *c = ptr; *c; c++)
            if (*c == '.') *c = '/';
        api_problem p;
        /* The bounds themselves: taken unless open. */
        double ends[2] = {f->min, f->max};
        int open[2] = {(f->flags & MLP_RF_MIN_OPEN) != 0, (f->flags & MLP_RF_MAX_OPEN) != 0};
        for (int k = 0; k < 2; k++) {
            if (ends[k] >= FLT_MAX) continue;
            snprintf(v, sizeof v, "%.17g", ends[k]);
            int rc = decode_one(f, v, &p);
            if (open[k] ? rc == 0 : rc != 0)
                fail_msg("%s = %s: decode %s", f->name, v, rc ? p.detail : "took it");
            if (rc) assert_string_equal(p.pointer, ptr);
        }
        /* Just outside: refused, naming the member. */
        double step = f->type == MLP_RF_FLOAT ? fmax(fabs(f->max) * 1e-3, 1e-3) : 1;
        snprintf(v, sizeof v, "%.17g", f->min - step);
        if (decode_one(f, v, &p) == 0) fail_msg("%s = %s was taken", f->name, v);
        assert_string_equal(p.pointer, ptr);
        if (f->max < FLT_MAX) {
            snprintf(v, sizeof v, "%.17g", f->max + (f->type == MLP_RF_U64 ? 2 : step));
            if (decode_one(f, v, &p) == 0) fail_msg("%s = %s was taken", f->name, v);
            assert_string_equal(p.pointer, ptr);
        }
    }
}

/* ---- the warm-start rule (mlpd train and the daemon's jobs) ------------------------------ */

static mlp_arch arch_of(int inputs, int hidden, mlp_act act, int outputs, mlp_loss loss) {
    mlp_arch a;
    assert_int_equal(mlp_arch_make(&a, inputs, &hidden, 1, act, outputs, loss, -1, NULL), MLP_OK);
    return a;
}

static void test_warm_start_rule(void **state) {
    (void)state;
    mlp_arch m = arch_of(4, 8, MLP_ACT_RELU, 3, MLP_LOSS_CROSS_ENTROPY);
    mlp_error e = {{0}};
    /* The data's widths: inputs equal, outputs at least the classes. */
    assert_int_equal(mlp_warm_start_check(&m, 4, 3, NULL, &e), MLP_OK);
    assert_int_equal(mlp_warm_start_check(&m, 4, 2, NULL, &e), MLP_OK);
    assert_int_equal(mlp_warm_start_check(&m, 5, 3, NULL, &e), MLP_EINVAL);
    assert_non_null(strstr(e.msg, "4-8-3"));
    assert_int_equal(mlp_warm_start_check(&m, 4, 4, NULL, &e), MLP_EINVAL);
    assert_non_null(strstr(e.msg, "4 classes"));
    /* A described network must be the model's: widths, activations, loss. */
    mlp_arch same = arch_of(4, 8, MLP_ACT_RELU, 3, MLP_LOSS_CROSS_ENTROPY);
    assert_int_equal(mlp_warm_start_check(&m, 4, 3, &same, &e), MLP_OK);
    mlp_arch fewer = arch_of(4, 8, MLP_ACT_RELU, 2, MLP_LOSS_CROSS_ENTROPY);
    assert_int_equal(mlp_warm_start_check(&m, 4, 2, &fewer, &e), MLP_OK);
    const mlp_arch other[] = {arch_of(4, 9, MLP_ACT_RELU, 3, MLP_LOSS_CROSS_ENTROPY),
                              arch_of(4, 8, MLP_ACT_TANH, 3, MLP_LOSS_CROSS_ENTROPY),
                              arch_of(4, 8, MLP_ACT_RELU, 3, MLP_LOSS_MSE)};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        assert_int_equal(mlp_warm_start_check(&m, 4, 3, &other[i], &e), MLP_EINVAL);
        assert_non_null(strstr(e.msg, "the request builds"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_consistent), cmocka_unit_test(test_openapi_agrees),
        cmocka_unit_test(test_web_agrees),          cmocka_unit_test(test_decoder_uses_the_limits),
        cmocka_unit_test(test_warm_start_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
