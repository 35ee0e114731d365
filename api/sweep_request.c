/* sweep_request.c - decode, validate and encode the POST /sweeps body
 * (contracts in sweep_request.h; children are made in sweep_space.c). */
#include "sweep_request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "model_ref.h"

#define DEFAULT_RANDOM_RUNS  10
#define DEFAULT_GRACE_EPOCHS 2
#define DEFAULT_MIN_CHILDREN 3
#define MAX_GRACE_EPOCHS     10000
#define SWEEP_MODEL_SUFFIX   "-sweep"
#define SWEEP_DEFAULT_MODEL  "sweep"
#define SWEEP_MEMBERS                                                                              \
    "base, space, method, max_runs, parallel, metric, mode, "                                      \
    "budget_seconds, seed, pruning"

void api_sweep_request_free(api_sweep_request *r) {
    for (int i = 0; i < r->n_params; i++) cJSON_Delete(r->params[i].values);
    r->n_params = 0;
}

/* ---- the base ------------------------------------------------------------------- */

/* The base train request, its problems re-pointed under /base. */
static int dec_base(const cJSON *v, api_sweep_request *r, api_problem *p) {
    if (!v) {
        api_train_request_default(&r->base);
    } else {
        if (!cJSON_IsObject(v)) return api_json_invalid(p, "/base", "base must be an object");
        char *text = cJSON_PrintUnformatted(v);
        api_problem in;
        memset(&in, 0, sizeof in);
        int rc = text ? api_train_request_decode(text, strlen(text), &r->base, &in) : -1;
        free(text);
        if (rc != 0) {
            char ptr[sizeof p->pointer];
            snprintf(ptr, sizeof ptr, "/base%.*s", (int)sizeof ptr - 6, in.pointer);
            return api_json_invalid(p, ptr, "%s", in.detail);
        }
    }
    if (!v || !cJSON_GetObjectItemCaseSensitive(v, "model_name")) {
        char name[80];
        snprintf(name, sizeof name, "%s" SWEEP_MODEL_SUFFIX, r->base.dataset);
        if (!api_model_name_ok(name)) snprintf(name, sizeof name, SWEEP_DEFAULT_MODEL);
        snprintf(r->base.model_name, sizeof r->base.model_name, "%.*s",
                 (int)sizeof r->base.model_name - 1, name);
    }
    return 0;
}

/* ---- the space ------------------------------------------------------------------ */

/* A list of values: non-empty array; each value is checked with the children. */
static int dec_values(const cJSON *v, const char *ptr, api_sweep_param *sp, api_problem *p) {
    if (!cJSON_IsArray(v)) return api_json_invalid(p, ptr, "values must be an array");
    int n = cJSON_GetArraySize(v);
    if (n == 0) return api_json_invalid(p, ptr, "%s has no values", sp->key);
    if (n > API_SWEEP_MAX_RUNS)
        return api_json_invalid(p, ptr, "%s has %d values; at most %d", sp->key, n,
                                API_SWEEP_MAX_RUNS);
    sp->values = cJSON_Duplicate(v, 1);
    if (!sp->values) return api_problem_set(p, 500, "internal", NULL, "out of memory"), -1;
    sp->n_values = n;
    return 0;
}

static int dec_bound(const cJSON *spec, const char *name, const char *ptr, double *out,
                     api_problem *p) {
    char bptr[sizeof p->pointer];
    api_json_pointer(bptr, sizeof bptr, ptr, name);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(spec, name);
    if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble))
        return api_json_invalid(p, bptr, "%s must be a number", name);
    *out = b->valuedouble;
    return 0;
}

/* {"type": "uniform"|"log_uniform", "low", "high"} of a number member. */
static int dec_range(const cJSON *spec, const char *ptr, const mlp_recipe_field *f,
                     api_sweep_param *sp, api_problem *p) {
    char tptr[sizeof p->pointer], lptr[sizeof p->pointer];
    api_json_pointer(tptr, sizeof tptr, ptr, "type");
    api_json_pointer(lptr, sizeof lptr, ptr, "low");
    if (f->type != MLP_RF_FLOAT && f->type != MLP_RF_INT && f->type != MLP_RF_U64)
        return api_json_invalid(p, tptr, "%s is not a number: use a list or a choice", sp->key);
    static const char *const range_members[] = {"type", "low", "high", NULL};
    if (api_json_members_check(spec, ptr, range_members, "a range has type, low, high", p))
        return -1;
    if (dec_bound(spec, "low", ptr, &sp->low, p) || dec_bound(spec, "high", ptr, &sp->high, p))
        return -1;
    if (sp->low > sp->high)
        return api_json_invalid(p, lptr, "low %g is above high %g", sp->low, sp->high);
    if (sp->kind == API_SPEC_LOG_UNIFORM && sp->low <= 0)
        return api_json_invalid(p, lptr, "a log_uniform range needs low > 0; got %g", sp->low);
    sp->integer = f->type != MLP_RF_FLOAT;
    if (sp->integer && ceil(sp->low) > floor(sp->high))
        return api_json_invalid(p, lptr, "no integer lies in [%g, %g]", sp->low, sp->high);
    for (int end = 0; end < 2; end++) { /* each bound must be a valid value itself */
        char bptr[sizeof p->pointer];
        api_json_pointer(bptr, sizeof bptr, ptr, end ? "high" : "low");
        double v = end ? sp->high : sp->low;
        if (sp->integer) v = end ? floor(v) : ceil(v);
        if (mlp_recipe_check_number(f, v, NULL) != MLP_OK) {
            mlp_error e = {{0}};
            mlp_recipe_check_number(f, v, &e);
            return api_json_invalid(p, bptr, "%s", e.msg);
        }
    }
    return 0;
}

static int dec_spec(const cJSON *spec, const char *ptr, api_sweep_param *sp, api_problem *p) {
    const mlp_recipe_field *f = mlp_recipe_field_named(sp->key);
    if (!f)
        return api_json_invalid(p, ptr,
                                "unknown field \"%.47s\": the space names recipe members such "
                                "as learning_rate, hidden, lr_schedule.type",
                                sp->key);
    if (cJSON_IsArray(spec)) {
        sp->kind = API_SPEC_LIST;
        return dec_values(spec, ptr, sp, p);
    }
    if (!cJSON_IsObject(spec))
        return api_json_invalid(p, ptr,
                                "%s must be a list of values or {\"type\": uniform | "
                                "log_uniform | choice, ...}",
                                sp->key);
    char tptr[sizeof p->pointer];
    api_json_pointer(tptr, sizeof tptr, ptr, "type");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(spec, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : "";
    if (!strcmp(type, "uniform")) {
        sp->kind = API_SPEC_UNIFORM;
    } else if (!strcmp(type, "log_uniform")) {
        sp->kind = API_SPEC_LOG_UNIFORM;
    } else if (!strcmp(type, "choice")) {
        sp->kind = API_SPEC_CHOICE;
        static const char *const choice_members[] = {"type", "values", NULL};
        if (api_json_members_check(spec, ptr, choice_members, "a choice has values", p)) return -1;
        char vptr[sizeof p->pointer];
        api_json_pointer(vptr, sizeof vptr, ptr, "values");
        return dec_values(cJSON_GetObjectItemCaseSensitive(spec, "values"), vptr, sp, p);
    } else {
        return api_json_invalid(p, tptr, "type must be one of: uniform, log_uniform, choice");
    }
    return dec_range(spec, ptr, f, sp, p);
}

static int dec_space(const cJSON *v, api_sweep_request *r, api_problem *p) {
    if (!v) return api_json_invalid(p, "/space", "space is required: {member: values or range}");
    if (!cJSON_IsObject(v)) return api_json_invalid(p, "/space", "space must be an object");
    if (!v->child) return api_json_invalid(p, "/space", "the space is empty: name a member");
    for (const cJSON *m = v->child; m; m = m->next) {
        char ptr[sizeof p->pointer];
        api_json_pointer(ptr, sizeof ptr, "/space", m->string);
        if (r->n_params == API_SWEEP_MAX_PARAMS)
            return api_json_invalid(p, ptr, "the space has more than %d members",
                                    API_SWEEP_MAX_PARAMS);
        for (int i = 0; i < r->n_params; i++)
            if (!strcmp(r->params[i].key, m->string))
                return api_json_invalid(p, ptr, "field \"%.47s\" appears twice", m->string);
        api_sweep_param *sp = &r->params[r->n_params];
        memset(sp, 0, sizeof *sp);
        if (strlen(m->string) >= sizeof sp->key)
            return api_json_invalid(p, ptr, "unknown field \"%.47s...\"", m->string);
        snprintf(sp->key, sizeof sp->key, "%s", m->string);
        int rc = dec_spec(m, ptr, sp, p);
        if (sp->values)
            r->n_params++; /* owned by r from here, freed with it */
        else if (rc == 0)
            r->n_params++;
        if (rc) return -1;
    }
    return 0;
}

/* ---- how it runs ---------------------------------------------------------------- */

static int dec_method(const cJSON *v, api_sweep_request *r, api_problem *p) {
    int any_range = 0;
    for (int i = 0; i < r->n_params; i++)
        any_range |=
            r->params[i].kind == API_SPEC_UNIFORM || r->params[i].kind == API_SPEC_LOG_UNIFORM;
    if (!v) {
        r->method = any_range ? API_SWEEP_RANDOM : API_SWEEP_GRID;
    } else if (cJSON_IsString(v) && !strcmp(v->valuestring, "random")) {
        r->method = API_SWEEP_RANDOM;
    } else if (cJSON_IsString(v) && !strcmp(v->valuestring, "grid")) {
        r->method = API_SWEEP_GRID;
    } else {
        return api_json_invalid(p, "/method", "method must be one of: grid, random");
    }
    if (r->method != API_SWEEP_GRID) return 0;
    r->grid_points = 1;
    for (int i = 0; i < r->n_params; i++) {
        if (r->params[i].kind == API_SPEC_UNIFORM || r->params[i].kind == API_SPEC_LOG_UNIFORM) {
            char ptr[sizeof p->pointer];
            api_json_pointer(ptr, sizeof ptr, "/space", r->params[i].key);
            return api_json_invalid(p, ptr, "a grid takes lists of values, not ranges");
        }
        r->grid_points *= r->params[i].n_values; /* < 1000^16 / 1000: no overflow below */
        if (r->grid_points > API_SWEEP_MAX_RUNS) break;
    }
    if (r->grid_points > API_SWEEP_MAX_RUNS) {
        long double full = 1;
        for (int i = 0; i < r->n_params; i++) full *= r->params[i].n_values;
        return api_json_invalid(p, "/space", "the grid has %.0Lf points; at most %d are allowed",
                                full, API_SWEEP_MAX_RUNS);
    }
    return 0;
}

static int dec_int(const cJSON *v, const char *ptr, double lo, double hi, int64_t def, int64_t *out,
                   api_problem *p) {
    if (!v) {
        *out = def;
        return 0;
    }
    int rc = api_json_get_int(v, lo, hi, out);
    if (rc == API_JSON_OK) return 0;
    return api_json_invalid(p, ptr, "%s must be an integer in [%.0f, %.0f]", ptr + 1, lo, hi);
}

static int dec_metric(const cJSON *metric, const cJSON *mode, api_sweep_request *r,
                      api_problem *p) {
    r->metric = MLP_METRIC_VAL_ACCURACY;
    if (metric &&
        (!cJSON_IsString(metric) || mlp_metric_from_name(metric->valuestring, &r->metric) != 0))
        return api_json_invalid(p, "/metric",
                                "metric must be one of: val_accuracy, val_loss, accuracy, loss");
    r->mode = MLP_MODE_AUTO;
    if (mode && (!cJSON_IsString(mode) || mlp_mode_from_name(mode->valuestring, &r->mode) != 0))
        return api_json_invalid(p, "/mode", "mode must be one of: auto, min, max");
    if (r->mode == MLP_MODE_AUTO)
        r->mode = r->metric == MLP_METRIC_VAL_ACCURACY || r->metric == MLP_METRIC_ACCURACY
                      ? MLP_MODE_MAX
                      : MLP_MODE_MIN;
    return 0;
}

static int dec_pruning(const cJSON *v, api_sweep_request *r, api_problem *p) {
    r->prune_median = 1;
    r->grace_epochs = DEFAULT_GRACE_EPOCHS;
    r->min_children = DEFAULT_MIN_CHILDREN;
    if (!v) return 0;
    if (!cJSON_IsObject(v))
        return api_json_invalid(p, "/pruning",
                                "pruning must be an object {rule, grace_epochs, min_children}");
    static const char *const members[] = {"rule", "grace_epochs", "min_children", NULL};
    if (api_json_members_check(v, "/pruning", members,
                               "pruning has rule, grace_epochs, min_children", p))
        return -1;
    int64_t x;
    for (const cJSON *m = v->child; m; m = m->next) {
        char ptr[sizeof p->pointer];
        api_json_pointer(ptr, sizeof ptr, "/pruning", m->string);
        if (!strcmp(m->string, "rule")) {
            if (!cJSON_IsString(m) ||
                (strcmp(m->valuestring, "median") && strcmp(m->valuestring, "none")))
                return api_json_invalid(p, ptr, "rule must be one of: median, none");
            r->prune_median = !strcmp(m->valuestring, "median");
        } else if (!strcmp(m->string, "grace_epochs")) {
            if (dec_int(m, ptr, 0, MAX_GRACE_EPOCHS, 0, &x, p)) return -1;
            r->grace_epochs = (int)x;
        } else { /* min_children: the only other member api_json_members_check lets by */
            if (dec_int(m, ptr, 1, API_SWEEP_MAX_RUNS, 0, &x, p)) return -1;
            r->min_children = (int)x;
        }
    }
    return 0;
}

static int dec_runs(const cJSON *root, api_sweep_request *r, api_problem *p) {
    int64_t x;
    int64_t def = r->method == API_SWEEP_GRID ? r->grid_points : DEFAULT_RANDOM_RUNS;
    if (dec_int(cJSON_GetObjectItemCaseSensitive(root, "max_runs"), "/max_runs", 1,
                API_SWEEP_MAX_RUNS, def, &x, p))
        return -1;
    r->max_runs = (int)(r->method == API_SWEEP_GRID && x > r->grid_points ? r->grid_points : x);
    if (dec_int(cJSON_GetObjectItemCaseSensitive(root, "parallel"), "/parallel", 1,
                API_SWEEP_MAX_PARALLEL, 1, &x, p))
        return -1;
    r->parallel = (int)x;
    if (dec_int(cJSON_GetObjectItemCaseSensitive(root, "seed"), "/seed", 0, API_JSON_MAX_SAFE_INT,
                0, &x, p))
        return -1;
    r->seed = (uint64_t)x;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "budget_seconds");
    r->budget_seconds = 0;
    if (b && !cJSON_IsNull(b)) {
        if (!cJSON_IsNumber(b) || !(b->valuedouble > 0) || b->valuedouble > API_SWEEP_MAX_BUDGET)
            return api_json_invalid(p, "/budget_seconds",
                                    "budget_seconds must be a number of seconds in (0, %.0f], "
                                    "or null",
                                    API_SWEEP_MAX_BUDGET);
        r->budget_seconds = b->valuedouble;
    }
    return 0;
}

static int check_members(const cJSON *root, api_problem *p) {
    static const char *const known[] = {"base",   "space", "method",         "max_runs", "parallel",
                                        "metric", "mode",  "budget_seconds", "seed",     "pruning"};
    for (const cJSON *m = root->child; m; m = m->next) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(known[i], m->string)) i++;
        char ptr[sizeof p->pointer];
        api_json_pointer(ptr, sizeof ptr, "", m->string);
        if (i == sizeof known / sizeof known[0])
            return api_json_invalid(
                p, ptr, "unknown field \"%.64s\" (a sweep has " SWEEP_MEMBERS ")", m->string);
        for (const cJSON *o = root->child; o != m; o = o->next)
            if (!strcmp(o->string, m->string))
                return api_json_invalid(p, ptr, "field \"%s\" appears twice", m->string);
    }
    return 0;
}

int api_sweep_request_decode(const char *json, size_t len, api_sweep_request *out,
                             api_problem *prob) {
    memset(out, 0, sizeof *out);
    cJSON *root = api_json_parse(json, len, prob);
    if (!root) return -1;
    api_sweep_request r;
    memset(&r, 0, sizeof r);
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        api_json_invalid(prob, "", "the body must be a JSON object");
    } else if (!check_members(root, prob) &&
               !dec_base(cJSON_GetObjectItemCaseSensitive(root, "base"), &r, prob) &&
               !dec_space(cJSON_GetObjectItemCaseSensitive(root, "space"), &r, prob) &&
               !dec_method(cJSON_GetObjectItemCaseSensitive(root, "method"), &r, prob) &&
               !dec_runs(root, &r, prob) &&
               !dec_metric(cJSON_GetObjectItemCaseSensitive(root, "metric"),
                           cJSON_GetObjectItemCaseSensitive(root, "mode"), &r, prob) &&
               !dec_pruning(cJSON_GetObjectItemCaseSensitive(root, "pruning"), &r, prob)) {
        rc = 0;
        for (int i = 0; rc == 0 && i < r.n_params; i++)
            for (int k = 0; rc == 0 && k < r.params[i].n_values; k++)
                rc = api_sweep_check_value(&r, i, k, prob);
        /* Every child the sweep may make must be a valid train request. */
        for (int i = 0; rc == 0 && i < r.max_runs; i++) {
            api_train_request child;
            rc = api_sweep_child(&r, i, &child, NULL, prob);
        }
    }
    cJSON_Delete(root);
    if (rc != 0) {
        api_sweep_request_free(&r);
        return -1;
    }
    *out = r;
    return 0;
}

/* ---- encode --------------------------------------------------------------------- */

static const char *kind_name(api_sweep_spec_kind k) {
    return k == API_SPEC_UNIFORM ? "uniform" : k == API_SPEC_LOG_UNIFORM ? "log_uniform" : "choice";
}

static cJSON *enc_spec(const api_sweep_param *sp) {
    if (sp->kind == API_SPEC_LIST) return cJSON_Duplicate(sp->values, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", kind_name(sp->kind));
    if (sp->kind == API_SPEC_CHOICE) {
        cJSON_AddItemToObject(o, "values", cJSON_Duplicate(sp->values, 1));
    } else {
        cJSON_AddNumberToObject(o, "low", sp->low);
        cJSON_AddNumberToObject(o, "high", sp->high);
    }
    return o;
}

char *api_sweep_request_encode(const api_sweep_request *r) {
    char *base = api_train_request_encode(&r->base);
    cJSON *o = cJSON_CreateObject();
    if (!base || !o) {
        free(base);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToObject(o, "base", cJSON_Parse(base));
    free(base);
    cJSON_AddStringToObject(o, "method", r->method == API_SWEEP_GRID ? "grid" : "random");
    cJSON *space = cJSON_AddObjectToObject(o, "space");
    for (int i = 0; i < r->n_params; i++)
        cJSON_AddItemToObject(space, r->params[i].key, enc_spec(&r->params[i]));
    cJSON_AddNumberToObject(o, "max_runs", r->max_runs);
    cJSON_AddNumberToObject(o, "parallel", r->parallel);
    cJSON_AddStringToObject(o, "metric", mlp_metric_name(r->metric));
    cJSON_AddStringToObject(o, "mode", mlp_mode_name(r->mode));
    if (r->budget_seconds > 0)
        cJSON_AddNumberToObject(o, "budget_seconds", r->budget_seconds);
    else
        cJSON_AddNullToObject(o, "budget_seconds");
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    cJSON_AddRawToObject(o, "seed", seed);
    cJSON *pr = cJSON_AddObjectToObject(o, "pruning");
    cJSON_AddStringToObject(pr, "rule", r->prune_median ? "median" : "none");
    cJSON_AddNumberToObject(pr, "grace_epochs", r->grace_epochs);
    cJSON_AddNumberToObject(pr, "min_children", r->min_children);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
