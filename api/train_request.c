/* train_request.c - decode, validate and encode the POST /train body.
 *
 * The recipe's members are not listed here: decoding and encoding walk the
 * engine's table mlp_recipe_fields (name, type, range, default), so a member
 * added there is decodable, encoded, validated and documented at once. This
 * file adds what only the API has: the JSON types and pointers, the data set
 * named by the body (first member), the warm-start model id and the
 * registered name of the model made (last).
 * A dotted table name ("early_stopping.patience") is a member of an object;
 * names have at most one dot.
 */
#include "train_request.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "model_ref.h"

#define DATASET    "dataset"
#define WARM_START "warm_start_model"
#define MODEL_NAME "model_name"

/* ---- the API's own members ----------------------------------------------------- */

/* The dataset name also names a folder or file under the data dir: the
 * engine's one rule (mlp_dataset_name_ok) refuses '/', a leading dot, ... */
static int dec_dataset(const cJSON *v, api_train_request *r, const char *ptr, api_problem *p) {
    if (!cJSON_IsString(v)) return api_json_invalid(p, ptr, DATASET " must be a string");
    if (!mlp_dataset_name_ok(v->valuestring, strlen(v->valuestring)))
        return api_json_invalid(p, ptr,
                                DATASET " must be 1 to 64 characters of A-Z a-z 0-9 . _ - "
                                        "not starting with a dot");
    snprintf(r->dataset, sizeof r->dataset, "%s", v->valuestring);
    return 0;
}

/* Ids (and seeds) are whole numbers up to 2^53, the range every JSON client
 * holds exactly; they are written as integers, never in exponent form. */
static int dec_warm_start(const cJSON *v, api_train_request *r, const char *ptr, api_problem *p) {
    if (cJSON_IsNull(v)) {
        r->warm_start_model = 0;
        return 0;
    }
    int64_t id;
    int rc = api_json_get_int(v, 1, API_JSON_MAX_SAFE_INT, &id);
    if (rc == API_JSON_TYPE)
        return api_json_invalid(p, ptr, WARM_START " must be a model id (integer) or null");
    if (rc != API_JSON_OK) return api_json_invalid(p, ptr, WARM_START " must be a model id >= 1");
    r->warm_start_model = id;
    return 0;
}

static int dec_model_name(const cJSON *v, api_train_request *r, const char *ptr, api_problem *p) {
    if (!cJSON_IsString(v) || !api_model_name_ok(v->valuestring))
        return api_json_invalid(p, ptr,
                                MODEL_NAME " must be a string of 1 to 64 characters of A-Z a-z "
                                           "0-9 . _ - starting with a letter");
    snprintf(r->model_name, sizeof r->model_name, "%s", v->valuestring);
    return 0;
}

/* The default model name: the dataset's, when it is a valid name. */
static void default_model_name(api_train_request *r) {
    snprintf(r->model_name, sizeof r->model_name, "%s",
             api_model_name_ok(r->dataset) ? r->dataset : "model");
}

static int add_raw_integer(cJSON *o, const char *name, long long v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", v);
    return cJSON_AddRawToObject(o, name, buf) ? 0 : -1;
}

/* ---- one recipe member ----------------------------------------------------------- */

/* The engine's wording of why v is out of f's range, at ptr. */
static int out_of_range(const mlp_recipe_field *f, double v, const char *ptr, api_problem *p) {
    mlp_error e = {{0}};
    mlp_recipe_check_number(f, v, &e);
    return api_json_invalid(p, ptr, "%s", e.msg);
}

static int dec_list(const mlp_recipe_field *f, const cJSON *v, mlp_recipe *r, const char *ptr,
                    api_problem *p) {
    if (!cJSON_IsArray(v))
        return api_json_invalid(p, ptr, "%s must be an array of layer widths", f->name);
    int n = cJSON_GetArraySize(v);
    if (n > f->max_items)
        return api_json_invalid(p, ptr, "%s has %d layers; at most %d are allowed", f->name, n,
                                f->max_items);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char eptr[sizeof p->pointer];
        api_json_pointer_index(eptr, sizeof eptr, ptr, i);
        int64_t w;
        int rc = api_json_get_int(e, f->min, f->max, &w);
        if (rc == API_JSON_TYPE) return api_json_invalid(p, eptr, "layer width must be an integer");
        if (rc != API_JSON_OK) return out_of_range(f, e->valuedouble, eptr, p);
        r->hidden[i] = (int)w;
    }
    r->n_hidden = n;
    return 0;
}

static int dec_choice(const mlp_recipe_field *f, const cJSON *v, int *dst, const char *ptr,
                      api_problem *p) {
    if (cJSON_IsNull(v) && (f->flags & MLP_RF_NULL)) { /* explicit null: the default rule */
        *dst = -1;
        return 0;
    }
    char list[160];
    mlp_recipe_choice_list(f, ", ", list, sizeof list);
    const char *leaf = mlp_recipe_field_leaf(f);
    if (!cJSON_IsString(v))
        return api_json_invalid(p, ptr, "%s must be a string, one of: %s", leaf, list);
    if (mlp_recipe_choice_value(f, v->valuestring, dst) != 0)
        return api_json_invalid(p, ptr, "%s must be one of: %s", leaf, list);
    return 0;
}

static int dec_member(const mlp_recipe_field *f, const cJSON *v, mlp_recipe *r, const char *ptr,
                      api_problem *p) {
    void *dst = mlp_recipe_value(r, f);
    const char *leaf = mlp_recipe_field_leaf(f);
    int64_t x;
    int rc;
    switch (f->type) {
    case MLP_RF_BOOL:
        if (!cJSON_IsBool(v)) return api_json_invalid(p, ptr, "%s must be true or false", leaf);
        *(int *)dst = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    case MLP_RF_INT:
    case MLP_RF_U64:
        rc = api_json_get_int(v, f->min, f->max, &x);
        if (rc == API_JSON_TYPE) return api_json_invalid(p, ptr, "%s must be an integer", leaf);
        if (rc != API_JSON_OK) return out_of_range(f, v->valuedouble, ptr, p);
        if (f->type == MLP_RF_INT)
            *(int *)dst = (int)x;
        else
            *(uint64_t *)dst = (uint64_t)x;
        return 0;
    case MLP_RF_FLOAT:
        if (!cJSON_IsNumber(v)) return api_json_invalid(p, ptr, "%s must be a number", leaf);
        if (mlp_recipe_check_number(f, v->valuedouble, NULL) != MLP_OK)
            return out_of_range(f, v->valuedouble, ptr, p);
        *(float *)dst = (float)v->valuedouble;
        return 0;
    case MLP_RF_CHOICE: return dec_choice(f, v, (int *)dst, ptr, p);
    case MLP_RF_LIST: return dec_list(f, v, r, ptr, p);
    }
    return api_json_invalid(p, ptr, "%s has an unknown type", f->name);
}

static int enc_member(const mlp_recipe_field *f, cJSON *o, const mlp_recipe *r) {
    const void *src = (const char *)r + f->offset;
    const char *leaf = mlp_recipe_field_leaf(f);
    char buf[32];
    switch (f->type) {
    case MLP_RF_BOOL: return cJSON_AddBoolToObject(o, leaf, *(const int *)src != 0) ? 0 : -1;
    case MLP_RF_INT: return cJSON_AddNumberToObject(o, leaf, *(const int *)src) ? 0 : -1;
    case MLP_RF_U64: return add_raw_integer(o, leaf, (long long)*(const uint64_t *)src);
    case MLP_RF_FLOAT:
        api_json_format_float(buf, sizeof buf, *(const float *)src);
        return cJSON_AddRawToObject(o, leaf, buf) ? 0 : -1;
    case MLP_RF_CHOICE: {
        int v = *(const int *)src;
        if (v < 0) return cJSON_AddNullToObject(o, leaf) ? 0 : -1;
        return cJSON_AddStringToObject(o, leaf, f->name_of(v)) ? 0 : -1;
    }
    case MLP_RF_LIST: {
        cJSON *a = cJSON_AddArrayToObject(o, leaf);
        if (!a) return -1;
        for (int i = 0; i < r->n_hidden; i++) {
            cJSON *e = cJSON_CreateNumber(r->hidden[i]);
            if (!e || !cJSON_AddItemToArray(a, e)) {
                cJSON_Delete(e);
                return -1;
            }
        }
        return 0;
    }
    }
    return -1;
}

/* ---- walking the body ------------------------------------------------------------ */

enum { MAX_MEMBERS = 96 }; /* checked against mlp_recipe_n_fields in decode */

/* Index of the member prefix+key: a leaf (*group = 0), the first member of
 * object prefix+key (*group = 1), or -1. */
static int find_member(const char *prefix, const char *key, int *group) {
    size_t pl = strlen(prefix), kl = strlen(key);
    for (size_t i = 0; i < mlp_recipe_n_fields; i++) {
        const char *n = mlp_recipe_fields[i].name;
        if (strncmp(n, prefix, pl) || strncmp(n + pl, key, kl)) continue;
        if (n[pl + kl] == '\0' || n[pl + kl] == '.') {
            *group = n[pl + kl] == '.';
            return (int)i;
        }
    }
    return -1;
}

/* Every member's refusal, not only the first: a person fixes them at once. */
typedef struct {
    int n;
    api_problem first; /* the first refusal whole (its type and status answer) */
    struct {
        char pointer[128];
        char detail[320];
    } e[API_PROBLEM_MAX_ERRORS];
} refusals;

static void note(refusals *errs, const api_problem *p) {
    if (errs->n >= API_PROBLEM_MAX_ERRORS) return;
    if (errs->n == 0) errs->first = *p;
    snprintf(errs->e[errs->n].pointer, sizeof errs->e[0].pointer, "%s", p->pointer);
    snprintf(errs->e[errs->n].detail, sizeof errs->e[0].detail, "%s", p->detail);
    errs->n++;
}

static int decode_object(const cJSON *obj, const char *prefix, const char *base,
                         api_train_request *r, api_problem *p, refusals *errs);

/* An object member such as early_stopping: its members listed in the error. */
static int decode_group(const cJSON *v, const char *group, const char *ptr, api_train_request *r,
                        api_problem *p, refusals *errs) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.", group);
    if (cJSON_IsObject(v)) return decode_object(v, prefix, ptr, r, p, errs);
    char list[256] = "";
    size_t used = 0, pl = strlen(prefix);
    for (size_t i = 0; i < mlp_recipe_n_fields && used < sizeof list; i++)
        if (!strncmp(mlp_recipe_fields[i].name, prefix, pl))
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                     mlp_recipe_fields[i].name + pl);
    return api_json_invalid(p, ptr, "%s must be an object {%s}", group, list);
}

/* Decode every member, noting each refusal in errs (a group's members' own);
 * -1 when any was refused. */
static int decode_object(const cJSON *obj, const char *prefix, const char *base,
                         api_train_request *r, api_problem *p, refusals *errs) {
    unsigned char seen[MAX_MEMBERS + 3] = {0}; /* + dataset, warm_start_model, model_name */
    int top = prefix[0] == '\0', failed = 0;
    for (const cJSON *m = obj->child; m; m = m->next) {
        const char *key = m->string ? m->string : "";
        char ptr[sizeof p->pointer];
        api_json_pointer(ptr, sizeof ptr, base, key);
        int group = 0, i = -1;
        if (top && !strcmp(key, DATASET))
            i = MAX_MEMBERS;
        else if (top && !strcmp(key, WARM_START))
            i = MAX_MEMBERS + 1;
        else if (top && !strcmp(key, MODEL_NAME))
            i = MAX_MEMBERS + 2;
        else
            i = find_member(prefix, key, &group);
        if (i < 0 || seen[i]) {
            if (i < 0)
                api_json_invalid(p, ptr, "unknown field \"%.64s\"", key);
            else
                api_json_invalid(p, ptr, "field \"%s\" appears twice", key);
            note(errs, p);
            failed = 1;
            continue;
        }
        seen[i] = 1;
        int rc, before = errs->n;
        if (i == MAX_MEMBERS)
            rc = dec_dataset(m, r, ptr, p);
        else if (i == MAX_MEMBERS + 1)
            rc = dec_warm_start(m, r, ptr, p);
        else if (i == MAX_MEMBERS + 2)
            rc = dec_model_name(m, r, ptr, p);
        else if (group)
            rc = decode_group(m, key, ptr, r, p, errs);
        else
            rc = dec_member(&mlp_recipe_fields[i], m, &r->recipe, ptr, p);
        if (rc && errs->n == before) note(errs, p);
        if (rc) failed = 1;
    }
    return failed ? -1 : 0;
}

/* o's object member `name` up to the dot of a dotted table name, created on
 * first use (so it sits where its first member is in the table). */
static cJSON *parent_of(cJSON *o, const char *name) {
    const char *dot = strchr(name, '.');
    if (!dot) return o;
    char group[64];
    snprintf(group, sizeof group, "%.*s", (int)(dot - name), name);
    cJSON *g = cJSON_GetObjectItemCaseSensitive(o, group);
    return g ? g : cJSON_AddObjectToObject(o, group);
}

/* ---- public ------------------------------------------------------------------------ */

void api_train_request_default(api_train_request *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->dataset, sizeof r->dataset, "mnist-digits");
    mlp_recipe_default(&r->recipe);
    r->recipe.output_activation = (int)mlp_recipe_output(&r->recipe);
    r->warm_start_model = 0;
    default_model_name(r);
}

int api_train_request_decode(const char *json, size_t len, api_train_request *out,
                             api_problem *prob) {
    /* No body at all (or only whitespace) asks for the reference recipe:
     * `curl -X POST /train` is the shortest way to start a run. */
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", json[lead]) && json[lead]) lead++;
    if (lead == len) {
        api_train_request_default(out);
        return 0;
    }
    if (mlp_recipe_n_fields > MAX_MEMBERS) /* a table grown past seen[] */
        return api_problem_set(prob, 500, "internal", NULL, "the recipe table is too long"), -1;
    cJSON *root = api_json_parse(json, len, prob);
    if (!root) return -1;
    int rc = -1;
    api_train_request r;
    api_train_request_default(&r);
    r.recipe.output_activation = -1; /* until the body or the loss decides */
    r.model_name[0] = '\0';          /* until the body or the dataset decides */
    static const refusals none;
    refusals errs = none;
    if (!cJSON_IsObject(root)) {
        api_json_invalid(prob, "", "the body must be a JSON object");
    } else if (decode_object(root, "", "", &r, prob, &errs) != 0) {
        /* The first refusal is the problem's detail and pointer; all are listed. */
        *prob = errs.first;
        prob->n_errors = errs.n;
        for (int i = 0; i < errs.n; i++) {
            memcpy(prob->errors[i].pointer, errs.e[i].pointer, sizeof prob->errors[i].pointer);
            memcpy(prob->errors[i].detail, errs.e[i].detail, sizeof prob->errors[i].detail);
        }
    } else {
        const mlp_recipe_field *bad = NULL;
        mlp_error e = {{0}};
        if (mlp_recipe_validate(&r.recipe, &bad, &e) == MLP_OK) {
            r.recipe.output_activation = (int)mlp_recipe_output(&r.recipe);
            rc = 0;
        } else {
            char ptr[sizeof prob->pointer];
            snprintf(ptr, sizeof ptr, "/%s", bad ? bad->name : "");
            for (char *c = ptr; *c; c++)
                if (*c == '.') *c = '/';
            api_json_invalid(prob, ptr, "%s", e.msg);
        }
    }
    if (rc == 0 && !r.model_name[0]) default_model_name(&r);
    cJSON_Delete(root);
    if (rc == 0) *out = r;
    return rc;
}

char *api_train_request_encode(const api_train_request *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    /* The recorded config names the output activation even when it follows the loss. */
    mlp_recipe rec = r->recipe;
    rec.output_activation = (int)mlp_recipe_output(&rec);
    int rc = cJSON_AddStringToObject(o, DATASET, r->dataset) ? 0 : -1;
    for (size_t i = 0; i < mlp_recipe_n_fields && rc == 0; i++) {
        cJSON *parent = parent_of(o, mlp_recipe_fields[i].name);
        rc = parent ? enc_member(&mlp_recipe_fields[i], parent, &rec) : -1;
    }
    if (rc == 0)
        rc = r->warm_start_model > 0
                 ? add_raw_integer(o, WARM_START, (long long)r->warm_start_model)
             : cJSON_AddNullToObject(o, WARM_START) ? 0
                                                    : -1;
    if (rc == 0 && !cJSON_AddStringToObject(o, MODEL_NAME, r->model_name)) rc = -1;
    char *s = rc == 0 ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}
