/* sweep_space.c - a sweep's children: the grid's enumeration, the random
 * sampler and the merging of a child's settings into the base request
 * (contracts in sweep_request.h).
 *
 * The sampler is a counter-based stream: child i draws from splitmix64
 * seeded with (seed, i), one number per member in the space's order, so the
 * settings of child i never depend on how many children ran before it (a
 * sweep resumed after a restart makes the same children).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "sweep_request.h"

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double next_unit(uint64_t *s) {
    return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

/* A drawn number as the member holds it: rounded for integers (kept in
 * [low, high]), rounded to float for float members so that the settings
 * show exactly the value trained with. */
static cJSON *number_value(const api_sweep_param *p, double v) {
    const mlp_recipe_field *f = mlp_recipe_field_named(p->key);
    if (p->integer) {
        double r = nearbyint(v);
        if (r < ceil(p->low)) r = ceil(p->low);
        if (r > floor(p->high)) r = floor(p->high);
        char buf[32];
        snprintf(buf, sizeof buf, "%.0f", r);
        return cJSON_CreateRaw(buf);
    }
    if (f && f->type == MLP_RF_FLOAT) {
        char buf[32];
        api_json_format_float(buf, sizeof buf, (float)v);
        return cJSON_CreateRaw(buf);
    }
    return cJSON_CreateNumber(v);
}

/* The value of param p for child `index`: a new item. u is the random draw
 * (random search) or NAN with `digit` the grid coordinate. */
static cJSON *param_value(const api_sweep_param *p, double u, int digit) {
    if (p->kind == API_SPEC_LIST || p->kind == API_SPEC_CHOICE) {
        int k = isnan(u) ? digit : (int)(u * p->n_values);
        if (k >= p->n_values) k = p->n_values - 1;
        return cJSON_Duplicate(cJSON_GetArrayItem(p->values, k), 1);
    }
    double v = p->kind == API_SPEC_UNIFORM ? p->low + u * (p->high - p->low)
                                           : exp(log(p->low) + u * (log(p->high) - log(p->low)));
    if (v > p->high) v = p->high; /* exp/log rounding */
    if (v < p->low) v = p->low;
    return number_value(p, v);
}

/* Set dotted member key of the train body o to v (owned). */
static int set_member(cJSON *o, const char *key, cJSON *v) {
    const char *dot = strchr(key, '.');
    if (dot) {
        char group[48];
        snprintf(group, sizeof group, "%.*s", (int)(dot - key), key);
        cJSON *g = cJSON_GetObjectItemCaseSensitive(o, group);
        if (!g) g = cJSON_AddObjectToObject(o, group);
        if (!g) return -1;
        o = g;
        key = dot + 1;
    }
    if (cJSON_GetObjectItemCaseSensitive(o, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(o, key, v) ? 0 : -1;
    return cJSON_AddItemToObject(o, key, v) ? 0 : -1;
}

/* The space member a train-body pointer ("/lr_schedule/min_lr", "/hidden/1")
 * falls under, or -1. */
static int param_of_pointer(const api_sweep_request *r, const char *ptr) {
    char dotted[128];
    snprintf(dotted, sizeof dotted, "%s", ptr[0] == '/' ? ptr + 1 : ptr);
    for (char *c = dotted; *c; c++)
        if (*c == '/') *c = '.';
    for (int i = 0; i < r->n_params; i++) {
        size_t kl = strlen(r->params[i].key);
        if (!strncmp(dotted, r->params[i].key, kl) && (dotted[kl] == '\0' || dotted[kl] == '.'))
            return i;
    }
    return -1;
}

/* Re-point a child's problem into the sweep body. */
static void child_problem(const api_sweep_request *r, int index, const cJSON *settings,
                          const api_problem *in, api_problem *out) {
    int p = param_of_pointer(r, in->pointer);
    char ptr[sizeof out->pointer];
    if (p >= 0)
        api_json_pointer(ptr, sizeof ptr, "/space", r->params[p].key);
    else
        snprintf(ptr, sizeof ptr, "/base%.*s", (int)sizeof ptr - 6, in->pointer);
    char *s = settings ? cJSON_PrintUnformatted(settings) : NULL;
    api_json_invalid(out, ptr, "child %d %.120s: %s", index, s ? s : "", in->detail);
    free(s);
}

/* The metric needs a validation split in the child. */
static int check_split(const api_sweep_request *r, const api_train_request *c, int index,
                       const cJSON *settings, api_problem *prob) {
    if (r->metric != MLP_METRIC_VAL_ACCURACY && r->metric != MLP_METRIC_VAL_LOSS) return 0;
    if (c->recipe.train.validation_split > 0) return 0;
    api_problem in;
    api_problem_set(&in, 422, API_SLUG_INVALID, "/validation_split",
                    "metric %s needs a validation split (validation_split > 0)",
                    mlp_metric_name(r->metric));
    child_problem(r, index, settings, &in, prob);
    return -1;
}

int api_sweep_check_value(const api_sweep_request *r, int param, int k, api_problem *prob) {
    const api_sweep_param *sp = &r->params[param];
    char *base_json = api_train_request_encode(&r->base);
    cJSON *body = base_json ? cJSON_Parse(base_json) : NULL;
    free(base_json);
    cJSON *v = cJSON_Duplicate(cJSON_GetArrayItem(sp->values, k), 1);
    char *text = body && v && set_member(body, sp->key, v) == 0 ? cJSON_PrintUnformatted(body)
                                                                : (cJSON_Delete(v), NULL);
    cJSON_Delete(body);
    if (!text) return api_problem_set(prob, 500, "internal", NULL, "out of memory"), -1;
    api_train_request child;
    api_problem in;
    memset(&in, 0, sizeof in);
    int rc = api_train_request_decode(text, strlen(text), &child, &in);
    free(text);
    if (rc == 0) return 0;
    char key[sizeof prob->pointer], ptr[sizeof prob->pointer];
    api_json_pointer(key, sizeof key, "/space", sp->key);
    if (sp->kind == API_SPEC_CHOICE)
        api_json_pointer(key + strlen(key), sizeof key - strlen(key), "", "values");
    api_json_pointer_index(ptr, sizeof ptr, key, k);
    return api_json_invalid(prob, ptr, "%s", in.detail);
}

int api_sweep_child(const api_sweep_request *r, int index, api_train_request *child,
                    cJSON **settings_out, api_problem *prob) {
    if (settings_out) *settings_out = NULL;
    char *base_json = api_train_request_encode(&r->base);
    cJSON *body = base_json ? cJSON_Parse(base_json) : NULL;
    free(base_json);
    cJSON *settings = cJSON_CreateObject();
    if (!body || !settings) {
        cJSON_Delete(body);
        cJSON_Delete(settings);
        api_problem_set(prob, 500, "internal", NULL, "out of memory");
        return -1;
    }
    uint64_t state = r->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(index + 1));
    int rest = index, rc = 0;
    int digits[API_SWEEP_MAX_PARAMS] = {0};
    if (r->method == API_SWEEP_GRID)
        for (int i = r->n_params - 1; i >= 0; i--) {
            digits[i] = rest % r->params[i].n_values;
            rest /= r->params[i].n_values;
        }
    for (int i = 0; i < r->n_params && rc == 0; i++) {
        double u = r->method == API_SWEEP_RANDOM ? next_unit(&state) : NAN;
        cJSON *v = param_value(&r->params[i], u, digits[i]);
        cJSON *copy = v ? cJSON_Duplicate(v, 1) : NULL;
        if (!v || !copy || !cJSON_AddItemToObject(settings, r->params[i].key, copy)) {
            cJSON_Delete(v);
            cJSON_Delete(copy);
            rc = -1;
        } else if (set_member(body, r->params[i].key, v) != 0) {
            rc = -1;
        }
    }
    char *text = rc == 0 ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) {
        cJSON_Delete(settings);
        api_problem_set(prob, 500, "internal", NULL, "out of memory");
        return -1;
    }
    api_problem in;
    memset(&in, 0, sizeof in);
    rc = api_train_request_decode(text, strlen(text), child, &in);
    free(text);
    if (rc != 0)
        child_problem(r, index, settings, &in, prob);
    else
        rc = check_split(r, child, index, settings, prob);
    if (rc == 0 && settings_out)
        *settings_out = settings;
    else
        cJSON_Delete(settings);
    return rc;
}

double api_sweep_metric_of(mlp_metric m, double loss, double accuracy, double val_loss,
                           double val_accuracy) {
    switch (m) {
    case MLP_METRIC_VAL_LOSS: return val_loss;
    case MLP_METRIC_VAL_ACCURACY: return val_accuracy;
    case MLP_METRIC_LOSS: return loss;
    case MLP_METRIC_ACCURACY: return accuracy;
    }
    return NAN;
}

int api_sweep_better(mlp_mode mode, double a, double b) {
    if (isnan(a)) return 0;
    if (isnan(b)) return 1;
    return mode == MLP_MODE_MIN ? a < b : a > b;
}
