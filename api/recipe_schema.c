/* recipe_schema.c - the recipe table in JSON Schema words (contracts in
 * recipe_schema.h). */
#include "recipe_schema.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "mlp.h"

/* A bound or default as JSON: floats in their shortest exact form, the
 * others as whole numbers (the seed's 2^53 must not turn into 9.007e15). */
static int add_number(cJSON *o, const char *key, const mlp_recipe_field *f, double v) {
    char buf[40];
    if (f->type == MLP_RF_FLOAT)
        api_json_format_float(buf, sizeof buf, (float)v);
    else
        snprintf(buf, sizeof buf, "%.0f", v);
    return cJSON_AddRawToObject(o, key, buf) ? 0 : -1;
}

static int add_range(cJSON *o, const mlp_recipe_field *f) {
    int rc =
        add_number(o, (f->flags & MLP_RF_MIN_OPEN) ? "exclusiveMinimum" : "minimum", f, f->min);
    if (f->max < FLT_MAX) /* FLT_MAX: no upper bound but the float's */
        rc |=
            add_number(o, (f->flags & MLP_RF_MAX_OPEN) ? "exclusiveMaximum" : "maximum", f, f->max);
    return rc;
}

static int add_choices(cJSON *o, const mlp_recipe_field *f) {
    cJSON *e = cJSON_AddArrayToObject(o, "enum");
    if (!e) return -1;
    const char *n;
    for (int i = 0; (n = mlp_recipe_choice_name(f, i)); i++)
        if (!cJSON_AddItemToArray(e, cJSON_CreateString(n))) return -1;
    int def = (int)f->def;
    int rc = cJSON_AddBoolToObject(o, "nullable", (f->flags & MLP_RF_NULL) != 0) ? 0 : -1;
    if (def < 0) return rc | (cJSON_AddNullToObject(o, "default") ? 0 : -1);
    return rc | (cJSON_AddStringToObject(o, "default", f->name_of(def)) ? 0 : -1);
}

static int add_list(cJSON *o, const mlp_recipe_field *f) {
    cJSON *d = cJSON_AddArrayToObject(o, "default");
    if (!d) return -1;
    for (const int *x = f->def_items; *x; x++)
        if (!cJSON_AddItemToArray(d, cJSON_CreateNumber(*x))) return -1;
    cJSON *items = cJSON_AddObjectToObject(o, "items");
    if (!items || !cJSON_AddNumberToObject(o, "maxItems", f->max_items)) return -1;
    return add_number(items, "minimum", f, f->min) | add_number(items, "maximum", f, f->max);
}

static cJSON *describe(const mlp_recipe_field *f) {
    static const char *const type_names[] = {
        [MLP_RF_FLOAT] = "number", [MLP_RF_INT] = "integer",   [MLP_RF_BOOL] = "boolean",
        [MLP_RF_U64] = "integer",  [MLP_RF_CHOICE] = "string", [MLP_RF_LIST] = "array"};
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "type", type_names[f->type])) goto fail;
    int rc = 0;
    switch (f->type) {
    case MLP_RF_FLOAT:
    case MLP_RF_INT:
    case MLP_RF_U64: rc = add_number(o, "default", f, f->def) | add_range(o, f); break;
    case MLP_RF_BOOL: rc = cJSON_AddBoolToObject(o, "default", f->def != 0) ? 0 : -1; break;
    case MLP_RF_CHOICE: rc = add_choices(o, f); break;
    case MLP_RF_LIST: rc = add_list(o, f); break;
    }
    if (rc) goto fail;
    if (!(f->flag ? cJSON_AddStringToObject(o, "flag", f->flag) : cJSON_AddNullToObject(o, "flag")))
        goto fail;
    if (!cJSON_AddStringToObject(o, "description", f->help)) goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

char *api_recipe_schema_json(void) {
    cJSON *root = cJSON_CreateObject();
    for (size_t i = 0; root && i < mlp_recipe_n_fields; i++) {
        cJSON *m = describe(&mlp_recipe_fields[i]);
        if (!m || !cJSON_AddItemToObject(root, mlp_recipe_fields[i].name, m)) {
            cJSON_Delete(m);
            cJSON_Delete(root);
            return NULL;
        }
    }
    char *s = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return s;
}

char *api_recipe_schema_js(void) {
    static const char head[] =
        "// recipe.js - GENERATED from the engine's recipe table (engine/recipe.c) by\n"
        "// `make web/js/recipe.js`; do not edit. tests/unit/test_recipe.c checks it.\n"
        "// Every POST /train member's type, default, limits and help, keyed by its\n"
        "// dotted name (\"early_stopping.patience\"), in JSON Schema words.\n"
        "export const RECIPE = ";
    char *json = api_recipe_schema_json();
    if (!json) return NULL;
    size_t n = sizeof head + strlen(json) + 3;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s;\n", head, json);
    free(json);
    return s;
}
