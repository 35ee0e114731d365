/* train_request.c - decode, validate and encode the POST /train body.
 *
 * The members of the body are described once, in the tables `fields` and
 * `es_fields` below (name, kind, where it is stored, range). Decoding walks
 * the body's members and looks each up in the table; encoding walks the table.
 * So a member cannot be decodable without being encoded, and both use the
 * same names and the same order. The ranges are the ones api/openapi.yaml
 * documents (schema TrainRequest); keep the two in step.
 */
#include "train_request.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "model_ref.h"

/* ---- the members --------------------------------------------------------------- */

typedef enum {
    FK_FLOAT, /* float member at off, range [lo, hi] with open ends as flagged */
    FK_INT,   /* int member at off, whole number in [lo, hi] */
    FK_BOOL,  /* int member at off, JSON true/false */
    FK_CUSTOM /* decode/encode functions */
} field_kind;

typedef struct field field;
typedef int (*field_decode)(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                            api_problem *p);
typedef int (*field_encode)(const field *f, cJSON *o, const api_train_request *r);

struct field {
    const char *name;
    field_kind kind;
    size_t off;
    double lo, hi;
    int lo_open, hi_open;
    field_decode decode; /* FK_CUSTOM only */
    field_encode encode; /* FK_CUSTOM only */
};

#define OFF(member) offsetof(api_train_request, member)
#define FLOAT_F(n, m, lo, hi, lo_open, hi_open)                                                    \
    { n, FK_FLOAT, OFF(m), lo, hi, lo_open, hi_open, NULL, NULL }
#define INT_F(n, m, lo, hi)                                                                        \
    { n, FK_INT, OFF(m), lo, hi, 0, 0, NULL, NULL }
#define BOOL_F(n, m)                                                                               \
    { n, FK_BOOL, OFF(m), 0, 1, 0, 0, NULL, NULL }
#define CUSTOM_F(n, dec, enc)                                                                      \
    { n, FK_CUSTOM, 0, 0, 0, 0, 0, dec, enc }

static int decode_object(const cJSON *obj, const field *tab, size_t n, const char *base,
                         api_train_request *r, api_problem *p);
static cJSON *encode_object(const field *tab, size_t n, const api_train_request *r);

/* ---- custom members ---------------------------------------------------------------- */

/* The dataset name also names a folder or file under the data dir: a leading
 * dot is refused so that "." and ".." can never be asked for. */
static int dataset_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

static int dec_dataset(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                       api_problem *p) {
    if (!cJSON_IsString(v)) return api_json_invalid(p, ptr, "%s must be a string", f->name);
    if (!dataset_name_ok(v->valuestring))
        return api_json_invalid(p, ptr,
                                "%s must be 1 to 64 characters of A-Z a-z 0-9 . _ - "
                                "not starting with a dot",
                                f->name);
    snprintf(r->dataset, sizeof r->dataset, "%s", v->valuestring);
    return 0;
}
static int enc_dataset(const field *f, cJSON *o, const api_train_request *r) {
    return cJSON_AddStringToObject(o, f->name, r->dataset) ? 0 : -1;
}

static int dec_model_name(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                          api_problem *p) {
    if (!cJSON_IsString(v) || !api_model_name_ok(v->valuestring))
        return api_json_invalid(p, ptr,
                                "%s must be a string of 1 to 64 characters of A-Z a-z 0-9 . _ - "
                                "starting with a letter",
                                f->name);
    snprintf(r->model_name, sizeof r->model_name, "%s", v->valuestring);
    return 0;
}
static int enc_model_name(const field *f, cJSON *o, const api_train_request *r) {
    return cJSON_AddStringToObject(o, f->name, r->model_name) ? 0 : -1;
}

/* The default model name: the dataset's, when it is a valid name. */
static void default_model_name(api_train_request *r) {
    snprintf(r->model_name, sizeof r->model_name, "%s",
             api_model_name_ok(r->dataset) ? r->dataset : "model");
}

static int dec_hidden(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                      api_problem *p) {
    if (!cJSON_IsArray(v))
        return api_json_invalid(p, ptr, "%s must be an array of layer widths", f->name);
    int n = cJSON_GetArraySize(v);
    if (n > MLP_MAX_LAYERS - 1)
        return api_json_invalid(p, ptr, "%s has %d layers; at most %d are allowed", f->name, n,
                                MLP_MAX_LAYERS - 1);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char eptr[sizeof p->pointer];
        api_json_pointer_index(eptr, sizeof eptr, ptr, i);
        int64_t w;
        int rc = api_json_get_int(e, 1, MLP_MAX_HIDDEN, &w);
        if (rc == API_JSON_TYPE) return api_json_invalid(p, eptr, "layer width must be an integer");
        if (rc != API_JSON_OK)
            return api_json_invalid(p, eptr, "layer width must be a whole number in 1..%d",
                                    MLP_MAX_HIDDEN);
        r->hidden[i] = (int)w;
    }
    r->n_hidden = n;
    return 0;
}
static int enc_hidden(const field *f, cJSON *o, const api_train_request *r) {
    cJSON *a = cJSON_AddArrayToObject(o, f->name);
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

/* A string that must be one of `names` (NULL-terminated); *idx its position. */
static int dec_choice(const field *f, const cJSON *v, const char *const *names, const char *ptr,
                      api_problem *p, int *idx) {
    char list[160] = "";
    size_t used = 0;
    for (int i = 0; names[i]; i++)
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s",
                                 i ? ", " : "", names[i]);
    if (!cJSON_IsString(v))
        return api_json_invalid(p, ptr, "%s must be a string, one of: %s", f->name, list);
    for (int i = 0; names[i]; i++)
        if (!strcmp(v->valuestring, names[i])) {
            *idx = i;
            return 0;
        }
    return api_json_invalid(p, ptr, "%s must be one of: %s", f->name, list);
}

static const char *const hidden_act_names[] = {"relu", "sigmoid", "tanh", NULL};
static const char *const out_act_names[] = {"softmax", "sigmoid", "linear", NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", NULL};
static const char *const init_names[] = {"glorot_uniform", "he_normal", NULL};
static const char *const optimizer_names[] = {"sgd", "momentum", "adam", NULL};

static int dec_activation(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                          api_problem *p) {
    int i;
    if (dec_choice(f, v, hidden_act_names, ptr, p, &i)) return -1;
    return mlp_act_from_name(hidden_act_names[i], &r->activation) ? -1 : 0;
}
static int enc_activation(const field *f, cJSON *o, const api_train_request *r) {
    return cJSON_AddStringToObject(o, f->name, mlp_act_name(r->activation)) ? 0 : -1;
}

/* The output activation that goes with a loss when none is asked for. */
static mlp_act default_output(mlp_loss loss) {
    return loss == MLP_LOSS_CROSS_ENTROPY ? MLP_ACT_SOFTMAX : MLP_ACT_LINEAR;
}

static int dec_output_activation(const field *f, const cJSON *v, api_train_request *r,
                                 const char *ptr, api_problem *p) {
    if (cJSON_IsNull(v)) { /* explicit null: follow the loss */
        r->output_activation = -1;
        return 0;
    }
    int i;
    mlp_act a;
    if (dec_choice(f, v, out_act_names, ptr, p, &i)) return -1;
    if (mlp_act_from_name(out_act_names[i], &a)) return -1;
    r->output_activation = (int)a;
    return 0;
}
static int enc_output_activation(const field *f, cJSON *o, const api_train_request *r) {
    mlp_act a = r->output_activation < 0 ? default_output(r->loss) : (mlp_act)r->output_activation;
    return cJSON_AddStringToObject(o, f->name, mlp_act_name(a)) ? 0 : -1;
}

static int dec_loss(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                    api_problem *p) {
    int i;
    if (dec_choice(f, v, loss_names, ptr, p, &i)) return -1;
    return mlp_loss_from_name(loss_names[i], &r->loss) ? -1 : 0;
}
static int enc_loss(const field *f, cJSON *o, const api_train_request *r) {
    return cJSON_AddStringToObject(o, f->name, mlp_loss_name(r->loss)) ? 0 : -1;
}

static int dec_init(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                    api_problem *p) {
    int i;
    if (dec_choice(f, v, init_names, ptr, p, &i)) return -1;
    return mlp_init_from_name(init_names[i], &r->init) ? -1 : 0;
}
static int enc_init(const field *f, cJSON *o, const api_train_request *r) {
    return cJSON_AddStringToObject(o, f->name, mlp_init_name(r->init)) ? 0 : -1;
}

static int dec_optimizer(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                         api_problem *p) {
    int i;
    if (dec_choice(f, v, optimizer_names, ptr, p, &i)) return -1;
    return mlp_optimizer_from_name(optimizer_names[i], &r->train.optimizer) ? -1 : 0;
}
static int enc_optimizer(const field *f, cJSON *o, const api_train_request *r) {
    return cJSON_AddStringToObject(o, f->name, mlp_optimizer_name(r->train.optimizer)) ? 0 : -1;
}

/* Seeds and ids are whole numbers up to 2^53 - 1, the range every JSON client
 * holds exactly; they are written as integers, never in exponent form. */
static int dec_seed(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                    api_problem *p) {
    int64_t s;
    int rc = api_json_get_int(v, 0, API_JSON_MAX_SAFE_INT, &s);
    if (rc == API_JSON_TYPE) return api_json_invalid(p, ptr, "%s must be an integer", f->name);
    if (rc != API_JSON_OK)
        return api_json_invalid(p, ptr, "%s must be a whole number in 0..2^53-1", f->name);
    r->train.seed = (uint64_t)s;
    return 0;
}
static int enc_seed(const field *f, cJSON *o, const api_train_request *r) {
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, r->train.seed);
    return cJSON_AddRawToObject(o, f->name, buf) ? 0 : -1;
}

static int dec_warm_start(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                          api_problem *p) {
    if (cJSON_IsNull(v)) {
        r->warm_start_model = 0;
        return 0;
    }
    int64_t id;
    int rc = api_json_get_int(v, 1, API_JSON_MAX_SAFE_INT, &id);
    if (rc == API_JSON_TYPE)
        return api_json_invalid(p, ptr, "%s must be a model id (integer) or null", f->name);
    if (rc != API_JSON_OK) return api_json_invalid(p, ptr, "%s must be a model id >= 1", f->name);
    r->warm_start_model = id;
    return 0;
}
static int enc_warm_start(const field *f, cJSON *o, const api_train_request *r) {
    if (r->warm_start_model <= 0) return cJSON_AddNullToObject(o, f->name) ? 0 : -1;
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, r->warm_start_model);
    return cJSON_AddRawToObject(o, f->name, buf) ? 0 : -1;
}

/* early_stopping {patience, min_delta, restore_best_weights}: Keras' names. */
static const field es_fields[] = {
    INT_F("patience", train.patience, 0, 10000),
    FLOAT_F("min_delta", train.min_delta, 0, FLT_MAX, 0, 0),
    BOOL_F("restore_best_weights", train.restore_best),
};
#define N_ES_FIELDS (sizeof es_fields / sizeof es_fields[0])

static int dec_early_stopping(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                              api_problem *p) {
    if (!cJSON_IsObject(v))
        return api_json_invalid(p, ptr,
                                "%s must be an object {patience, min_delta, "
                                "restore_best_weights}",
                                f->name);
    return decode_object(v, es_fields, N_ES_FIELDS, ptr, r, p);
}
static int enc_early_stopping(const field *f, cJSON *o, const api_train_request *r) {
    cJSON *sub = encode_object(es_fields, N_ES_FIELDS, r);
    if (!sub) return -1;
    if (!cJSON_AddItemToObject(o, f->name, sub)) {
        cJSON_Delete(sub);
        return -1;
    }
    return 0;
}

/* The body's members, in the order encode writes them. */
static const field fields[] = {
    CUSTOM_F("dataset", dec_dataset, enc_dataset),
    CUSTOM_F("hidden", dec_hidden, enc_hidden),
    CUSTOM_F("activation", dec_activation, enc_activation),
    CUSTOM_F("output_activation", dec_output_activation, enc_output_activation),
    CUSTOM_F("loss", dec_loss, enc_loss),
    CUSTOM_F("init", dec_init, enc_init),
    CUSTOM_F("optimizer", dec_optimizer, enc_optimizer),
    FLOAT_F("learning_rate", train.lr, 0, 10, 1, 0),
    FLOAT_F("momentum", train.momentum, 0, 1, 0, 1),
    BOOL_F("nesterov", train.nesterov),
    FLOAT_F("beta1", train.beta1, 0, 1, 0, 1),
    FLOAT_F("beta2", train.beta2, 0, 1, 0, 1),
    FLOAT_F("epsilon", train.epsilon, 0, 1, 1, 0),
    INT_F("batch_size", train.batch_size, 1, 65536),
    INT_F("epochs", train.epochs, 1, 10000),
    FLOAT_F("validation_split", train.validation_split, 0, 0.9, 0, 0),
    FLOAT_F("l1", train.l1, 0, 10, 0, 0),
    FLOAT_F("l2", train.l2, 0, 10, 0, 0),
    FLOAT_F("dropout", train.dropout, 0, 1, 0, 1),
    BOOL_F("shuffle", train.shuffle),
    CUSTOM_F("seed", dec_seed, enc_seed),
    CUSTOM_F("early_stopping", dec_early_stopping, enc_early_stopping),
    CUSTOM_F("warm_start_model", dec_warm_start, enc_warm_start),
    CUSTOM_F("model_name", dec_model_name, enc_model_name),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

/* ---- generic walk ---------------------------------------------------------------- */

static void range_text(const field *f, char *buf, size_t cap) {
    if (f->hi >= FLT_MAX)
        snprintf(buf, cap, "%s %g", f->lo_open ? ">" : ">=", f->lo);
    else
        snprintf(buf, cap, "in %c%g, %g%c", f->lo_open ? '(' : '[', f->lo, f->hi,
                 f->hi_open ? ')' : ']');
}

static int decode_plain(const field *f, const cJSON *v, api_train_request *r, const char *ptr,
                        api_problem *p) {
    char *dst = (char *)r + f->off;
    switch (f->kind) {
    case FK_BOOL:
        if (!cJSON_IsBool(v)) return api_json_invalid(p, ptr, "%s must be true or false", f->name);
        *(int *)dst = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    case FK_INT: {
        int64_t x;
        int rc = api_json_get_int(v, f->lo, f->hi, &x);
        if (rc == API_JSON_TYPE) return api_json_invalid(p, ptr, "%s must be an integer", f->name);
        if (rc != API_JSON_OK)
            return api_json_invalid(p, ptr, "%s must be a whole number in %.0f..%.0f", f->name,
                                    f->lo, f->hi);
        *(int *)dst = (int)x;
        return 0;
    }
    case FK_FLOAT: {
        if (!cJSON_IsNumber(v)) return api_json_invalid(p, ptr, "%s must be a number", f->name);
        /* The range applies to the float that is stored: 1e-60 rounds to 0
         * and 0.999999999 to 1, which an open bound must still refuse. */
        float x = (float)v->valuedouble;
        int bad = !isfinite(v->valuedouble) || !isfinite(x) ||
                  (f->lo_open ? x <= f->lo : x < f->lo) || (f->hi_open ? x >= f->hi : x > f->hi);
        if (bad) {
            char range[80];
            range_text(f, range, sizeof range);
            return api_json_invalid(p, ptr, "%s must be %s", f->name, range);
        }
        *(float *)dst = x;
        return 0;
    }
    case FK_CUSTOM: return f->decode(f, v, r, ptr, p);
    }
    return -1;
}

static int decode_object(const cJSON *obj, const field *tab, size_t n, const char *base,
                         api_train_request *r, api_problem *p) {
    unsigned char seen[32] = {0};
    _Static_assert(N_FIELDS <= sizeof seen && N_ES_FIELDS <= sizeof seen, "seen[] too small");
    for (const cJSON *m = obj->child; m; m = m->next) {
        const char *key = m->string ? m->string : "";
        char ptr[sizeof p->pointer];
        api_json_pointer(ptr, sizeof ptr, base, key);
        size_t i = 0;
        while (i < n && strcmp(tab[i].name, key)) i++;
        if (i == n) return api_json_invalid(p, ptr, "unknown field \"%.64s\"", key);
        if (seen[i]) return api_json_invalid(p, ptr, "field \"%s\" appears twice", key);
        seen[i] = 1;
        if (decode_plain(&tab[i], m, r, ptr, p)) return -1;
    }
    return 0;
}

static cJSON *encode_object(const field *tab, size_t n, const api_train_request *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        const field *f = &tab[i];
        const char *src = (const char *)r + f->off;
        int rc = 0;
        char buf[32];
        switch (f->kind) {
        case FK_BOOL:
            rc = cJSON_AddBoolToObject(o, f->name, *(const int *)src != 0) ? 0 : -1;
            break;
        case FK_INT: rc = cJSON_AddNumberToObject(o, f->name, *(const int *)src) ? 0 : -1; break;
        case FK_FLOAT:
            api_json_format_float(buf, sizeof buf, *(const float *)src);
            rc = cJSON_AddRawToObject(o, f->name, buf) ? 0 : -1;
            break;
        case FK_CUSTOM: rc = f->encode(f, o, r); break;
        }
        if (rc) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* ---- cross-member rules ------------------------------------------------------------ */

static int check_combination(api_train_request *r, api_problem *p) {
    int out_given = r->output_activation >= 0;
    mlp_act out = out_given ? (mlp_act)r->output_activation : default_output(r->loss);
    /* The engine pairs softmax with cross-entropy and sigmoid/linear with MSE. */
    int ok = (r->loss == MLP_LOSS_CROSS_ENTROPY) == (out == MLP_ACT_SOFTMAX);
    if (!ok)
        return api_json_invalid(p, out_given ? "/output_activation" : "/loss",
                                "output_activation %s does not go with loss %s (softmax pairs "
                                "with cross_entropy; sigmoid and linear with mse)",
                                mlp_act_name(out), mlp_loss_name(r->loss));
    r->output_activation = (int)out;
    if (r->train.nesterov && (r->train.optimizer != MLP_OPT_MOMENTUM || r->train.momentum <= 0))
        return api_json_invalid(p, "/nesterov",
                                "nesterov needs optimizer momentum with momentum > 0");
    return 0;
}

/* ---- public ------------------------------------------------------------------------ */

void api_train_request_default(api_train_request *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->dataset, sizeof r->dataset, "mnist-digits");
    r->hidden[0] = 512;
    r->hidden[1] = 256;
    r->n_hidden = 2;
    r->activation = MLP_ACT_RELU;
    r->loss = MLP_LOSS_CROSS_ENTROPY;
    r->output_activation = (int)default_output(r->loss);
    r->init = MLP_INIT_GLOROT_UNIFORM;
    mlp_train_config_default(&r->train);
    r->train.on_batch = NULL;
    r->train.on_epoch = NULL;
    r->train.user = NULL;
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
    cJSON *root = api_json_parse(json, len, prob);
    if (!root) return -1;
    int rc = -1;
    api_train_request r;
    api_train_request_default(&r);
    r.output_activation = -1; /* until the body or the loss decides */
    r.model_name[0] = '\0';   /* until the body or the dataset decides */
    if (!cJSON_IsObject(root))
        api_json_invalid(prob, "", "the body must be a JSON object");
    else if (!decode_object(root, fields, N_FIELDS, "", &r, prob) && !check_combination(&r, prob))
        rc = 0;
    if (rc == 0 && !r.model_name[0]) default_model_name(&r);
    cJSON_Delete(root);
    if (rc == 0) *out = r;
    return rc;
}

char *api_train_request_encode(const api_train_request *r) {
    cJSON *o = encode_object(fields, N_FIELDS, r);
    if (!o) return NULL;
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
