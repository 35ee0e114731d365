/* explain_request.c - decode and validate the POST /explain body (explain_request.h).
 *
 * Unlike /predict's body this one is not on a hot path (each row costs tens
 * of forward and backward passes), so it is read through a cJSON tree: the
 * members are looked up by name and every refusal names its member.
 */
#include "explain_request.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "model_ref.h"

/* A JSON number that fits a float (finite after the cast). */
static int float_value(const cJSON *v, float *out) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > FLT_MAX)
        return -1;
    *out = (float)v->valuedouble;
    return 0;
}

/* Append the numbers of array `row` (pointer ptr) to dst; width into *w. */
static int decode_row(const cJSON *row, const char *ptr, float *dst, int *w, api_problem *p) {
    if (!cJSON_IsArray(row)) return api_json_invalid(p, ptr, "a row must be an array of numbers");
    int n = cJSON_GetArraySize(row);
    if (n < 1 || n > MLP_MAX_INPUT)
        return api_json_invalid(p, ptr, "a row must hold 1 to %d numbers", MLP_MAX_INPUT);
    int i = 0;
    for (const cJSON *v = row->child; v; v = v->next, i++) {
        if (dst && float_value(v, dst + i) == 0) continue;
        if (!dst && cJSON_IsNumber(v)) continue;
        char vp[sizeof p->pointer];
        api_json_pointer_index(vp, sizeof vp, ptr, i);
        return api_json_invalid(p, vp, "must be a finite number (float32 range)");
    }
    *w = n;
    return 0;
}

static int decode_rows(const cJSON *input, const cJSON *inputs, api_explain_request *r,
                       api_problem *p) {
    if (input && inputs)
        return api_json_invalid(p, "/inputs",
                                "give either input (one row) or inputs (a batch), not both");
    if (!input && !inputs)
        return api_json_invalid(p, "/input",
                                "input (one row) or inputs (a batch of rows) is required");
    int n = 1;
    if (inputs) {
        if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) < 1)
            return api_json_invalid(p, "/inputs", "inputs must be a non-empty array of rows");
        n = cJSON_GetArraySize(inputs);
        if (n > API_EXPLAIN_MAX_ROWS) {
            api_problem_set(p, 413, API_SLUG_TOO_LARGE, "/inputs",
                            "inputs holds %d rows; /explain takes at most %d per request", n,
                            API_EXPLAIN_MAX_ROWS);
            return -1;
        }
        r->batch_form = 1;
    }
    const cJSON *first = inputs ? inputs->child : input;
    int w;
    if (decode_row(first, inputs ? "/inputs/0" : "/input", NULL, &w, p)) return -1;
    r->x = malloc(sizeof(float) * (size_t)n * (size_t)w);
    if (!r->x) {
        api_problem_set(p, 500, "internal", NULL, "out of memory");
        return -1;
    }
    r->n = n;
    r->width = w;
    int i = 0;
    for (const cJSON *row = first; row; row = inputs ? row->next : NULL, i++) {
        char ptr[sizeof p->pointer];
        int wi;
        if (inputs)
            api_json_pointer_index(ptr, sizeof ptr, "/inputs", i);
        else
            strcpy(ptr, "/input");
        /* The width before the values are written: r->x holds n rows of row 0's width, so
         * a longer row would run past it. */
        int given = cJSON_IsArray(row) ? cJSON_GetArraySize(row) : w;
        if (given != w)
            return api_json_invalid(p, ptr, "row %d has %d values, row 0 has %d", i, given, w);
        if (decode_row(row, ptr, r->x + (size_t)i * w, &wi, p)) return -1;
    }
    return 0;
}

static int decode_target(const cJSON *v, api_explain_request *r, api_problem *p) {
    for (int i = 0; i < r->n; i++) r->target[i] = -1;
    if (!v || cJSON_IsNull(v)) return 0;
    int64_t t;
    if (!cJSON_IsArray(v)) {
        if (api_json_get_int(v, 0, MLP_MAX_OUTPUT - 1, &t) != API_JSON_OK)
            return api_json_invalid(p, "/target",
                                    "target must be a class (integer 0..%d), an array of one "
                                    "class or null per row, or null (the predicted class)",
                                    MLP_MAX_OUTPUT - 1);
        for (int i = 0; i < r->n; i++) r->target[i] = (int)t;
        return 0;
    }
    if (cJSON_GetArraySize(v) != r->n)
        return api_json_invalid(p, "/target", "target has %d entries for %d rows",
                                cJSON_GetArraySize(v), r->n);
    r->target_array = 1;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (cJSON_IsNull(e)) continue;
        char ptr[sizeof p->pointer];
        api_json_pointer_index(ptr, sizeof ptr, "/target", i);
        if (api_json_get_int(e, 0, MLP_MAX_OUTPUT - 1, &t) != API_JSON_OK)
            return api_json_invalid(p, ptr, "must be a class (integer 0..%d) or null",
                                    MLP_MAX_OUTPUT - 1);
        r->target[i] = (int)t;
    }
    return 0;
}

static int decode_baseline(const cJSON *v, api_explain_request *r, api_problem *p) {
    if (cJSON_IsString(v)) {
        if (!strcmp(v->valuestring, "zeros"))
            r->baseline_kind = API_BASELINE_ZEROS;
        else if (!strcmp(v->valuestring, "mean"))
            r->baseline_kind = API_BASELINE_MEAN;
        else
            return api_json_invalid(p, "/baseline",
                                    "baseline must be \"zeros\", \"mean\" or an array of numbers");
        return 0;
    }
    if (!cJSON_IsArray(v))
        return api_json_invalid(p, "/baseline",
                                "baseline must be \"zeros\", \"mean\" or an array of numbers");
    int n = cJSON_GetArraySize(v);
    if (n > 0 && n <= MLP_MAX_INPUT) r->baseline = malloc(sizeof(float) * (size_t)n);
    if (n > 0 && n <= MLP_MAX_INPUT && !r->baseline) {
        api_problem_set(p, 500, "internal", NULL, "out of memory");
        return -1;
    }
    r->baseline_kind = API_BASELINE_VECTOR;
    return decode_row(v, "/baseline", r->baseline, &r->baseline_width, p);
}

/* The members of the body; those of one method only name it in `only`. */
static const struct {
    const char *name;
    int only; /* -1: any method, else the mlp_explain_method it belongs to */
} members[] = {
    {"model", -1},
    {"input", -1},
    {"inputs", -1},
    {"method", -1},
    {"output", -1},
    {"target", -1},
    {"n_steps", MLP_EXPLAIN_INTEGRATED_GRADIENTS},
    {"baseline", MLP_EXPLAIN_INTEGRATED_GRADIENTS},
    {"samples", MLP_EXPLAIN_SMOOTHGRAD},
    {"noise", MLP_EXPLAIN_SMOOTHGRAD},
    {"seed", MLP_EXPLAIN_SMOOTHGRAD},
};
#define N_MEMBERS (sizeof members / sizeof members[0])

/* Unknown (when strict) or repeated members, and options of another method. */
static int check_members(const cJSON *o, mlp_explain_method method, int strict, api_problem *p) {
    for (const cJSON *v = o->child; v; v = v->next) {
        char ptr[sizeof p->pointer];
        api_json_pointer(ptr, sizeof ptr, "", v->string);
        size_t k = 0;
        while (k < N_MEMBERS && strcmp(members[k].name, v->string)) k++;
        if (k == N_MEMBERS && !strict) continue;
        if (k == N_MEMBERS)
            return api_json_invalid(p, ptr,
                                    "unknown field \"%.64s\" (expected model, input, inputs, "
                                    "method, output, target, n_steps, baseline, samples, noise, "
                                    "seed)",
                                    v->string);
        for (const cJSON *w = o->child; w != v; w = w->next)
            if (!strcmp(w->string, v->string))
                return api_json_invalid(p, ptr, "field \"%s\" appears twice", v->string);
        if (members[k].only >= 0 && members[k].only != (int)method)
            return api_json_invalid(p, ptr, "%s applies to method %s only, not %s", v->string,
                                    mlp_explain_method_name((mlp_explain_method)members[k].only),
                                    mlp_explain_method_name(method));
    }
    return 0;
}

/* method and output, then the method's options; strict: unknown members are refused. */
static int decode_options(const cJSON *o, api_explain_request *r, int strict, api_problem *p) {
    mlp_explain_config *c = &r->cfg;
    const cJSON *v;
    int64_t i;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "method")) &&
        (!cJSON_IsString(v) || mlp_explain_method_from_name(v->valuestring, &c->method)))
        return api_json_invalid(p, "/method",
                                "method must be \"saliency\", \"gradient_x_input\", "
                                "\"integrated_gradients\" or \"smoothgrad\"");
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "output")) &&
        (!cJSON_IsString(v) || mlp_explain_output_from_name(v->valuestring, &c->output)))
        return api_json_invalid(p, "/output", "output must be \"probability\" or \"logit\"");
    if (check_members(o, c->method, strict, p)) return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "n_steps"))) {
        if (api_json_get_int(v, 1, MLP_EXPLAIN_MAX_STEPS, &i) != API_JSON_OK)
            return api_json_invalid(p, "/n_steps", "n_steps must be an integer in 1..%d",
                                    MLP_EXPLAIN_MAX_STEPS);
        c->n_steps = (int)i;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "samples"))) {
        if (api_json_get_int(v, 1, MLP_EXPLAIN_MAX_SAMPLES, &i) != API_JSON_OK)
            return api_json_invalid(p, "/samples", "samples must be an integer in 1..%d",
                                    MLP_EXPLAIN_MAX_SAMPLES);
        c->samples = (int)i;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "noise")) &&
        (float_value(v, &c->noise) || c->noise < 0.0f))
        return api_json_invalid(p, "/noise", "noise must be a finite number >= 0");
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "seed"))) {
        if (api_json_get_int(v, 0, API_JSON_MAX_SAFE_INT, &i) != API_JSON_OK)
            return api_json_invalid(p, "/seed", "seed must be an integer in 0..2^53");
        c->seed = (uint64_t)i;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "baseline")) && decode_baseline(v, r, p))
        return -1;
    return 0;
}

static int decode_tree(const cJSON *o, api_explain_request *r, api_problem *p) {
    if (!cJSON_IsObject(o)) return api_json_invalid(p, "", "the body must be a JSON object");
    if (decode_options(o, r, 1, p)) return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "model");
    int64_t id = 0;
    if (cJSON_IsString(v)) {
        if (api_model_ref_parse(v->valuestring, &r->ref) != 0)
            return api_json_invalid(p, "/model",
                                    "model must be a registered name (\"name\", "
                                    "\"name@alias\" or \"name/3\") or a model id");
        r->has_ref = 1;
    } else if (v && !cJSON_IsNull(v) &&
               api_json_get_int(v, 0, API_JSON_MAX_SAFE_INT, &id) != API_JSON_OK) {
        return api_json_invalid(p, "/model",
                                "model must be a model id (integer >= 0; 0 or null for the "
                                "latest) or a registered name");
    }
    r->model_id = id;
    if (decode_rows(cJSON_GetObjectItemCaseSensitive(o, "input"),
                    cJSON_GetObjectItemCaseSensitive(o, "inputs"), r, p))
        return -1;
    r->target = malloc(sizeof(int) * (size_t)r->n);
    if (!r->target) {
        api_problem_set(p, 500, "internal", NULL, "out of memory");
        return -1;
    }
    return decode_target(cJSON_GetObjectItemCaseSensitive(o, "target"), r, p);
}

int api_explain_params_decode(const cJSON *params, int rows, api_explain_request *r,
                              api_problem *prob) {
    memset(r, 0, sizeof *r);
    mlp_explain_config_default(&r->cfg);
    r->n = rows;
    if (params && !cJSON_IsObject(params)) return api_json_invalid(prob, "", "must be an object");
    if (params && decode_options(params, r, 0, prob)) return -1;
    r->target = malloc(sizeof(int) * (size_t)(rows > 0 ? rows : 1));
    if (!r->target) {
        api_problem_set(prob, 500, "internal", NULL, "out of memory");
        return -1;
    }
    return decode_target(params ? cJSON_GetObjectItemCaseSensitive(params, "target") : NULL, r,
                         prob);
}

int api_explain_request_decode(const char *json, size_t len, api_explain_request *out,
                               api_problem *prob) {
    memset(out, 0, sizeof *out);
    mlp_explain_config_default(&out->cfg);
    cJSON *o = api_json_parse(json, len, prob);
    if (!o) return -1;
    int rc = decode_tree(o, out, prob);
    cJSON_Delete(o);
    return rc;
}

void api_explain_request_free(api_explain_request *r) {
    if (!r) return;
    free(r->x);
    free(r->target);
    free(r->baseline);
    memset(r, 0, sizeof *r);
}
