/* tfs.c - TensorFlow Serving REST predict bodies (tfs.h). */
#include "tfs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "encode.h"
#include "json_util.h"

#define MAX_WIDTH (1 << 20)
#define MAX_RANK  8
/* Values of a whole request, at most (64 MiB of floats): a "context" shared
 * by every example would otherwise turn a small body into a huge block. */
#define MAX_VALUES (1 << 24)

static int bad(api_problem *p, const char *detail) {
    api_problem_set(p, 400, "invalid-predict-request", NULL, "%s", detail);
    return -1;
}

static int too_many_values(api_problem *p, size_t n) {
    api_problem_set(p, 413, API_SLUG_TOO_LARGE, NULL,
                    "%zu values in one request; at most %d are accepted", n, MAX_VALUES);
    return -1;
}

/* The values of one row (nested lists flattened) appended to x; *n counts.
 * The row's shape was checked by row_shape first. */
static int row_values(const cJSON *v, float *x, size_t cap, size_t *n, api_problem *p) {
    if (cJSON_IsNumber(v)) {
        float f = (float)v->valuedouble;
        if (!isfinite(f)) return bad(p, "a value is outside float32's range");
        if (*n >= cap) return bad(p, "the rows do not all have the same number of values");
        x[(*n)++] = f;
        return 0;
    }
    for (const cJSON *e = v->child; e; e = e->next)
        if (row_values(e, x, cap, n, p)) return -1;
    return 0;
}

/* The shape of a row: a number has rank 0, a list [len] followed by the
 * shape its elements share. -1 (a 400 in *p) when the lists are ragged
 * ([[1, 2], [3]]), nested too deep, or hold something else than numbers:
 * TF Serving refuses those too, and flattening them would silently feed the
 * model misaligned values. */
typedef struct {
    int rank;
    size_t dims[MAX_RANK];
} row_dims;

static int row_shape(const cJSON *v, int depth, row_dims *out, api_problem *p) {
    out->rank = 0;
    if (cJSON_IsNumber(v)) return 0;
    if (!cJSON_IsArray(v)) return bad(p, "input values must be numbers (or lists of numbers)");
    if (depth >= MAX_RANK) return bad(p, "a row is nested more than 8 lists deep");
    row_dims inner = {0}, other;
    size_t len = 0;
    for (const cJSON *e = v->child; e; e = e->next, len++) {
        if (row_shape(e, depth + 1, len ? &other : &inner, p)) return -1;
        if (len && (other.rank != inner.rank ||
                    memcmp(other.dims, inner.dims, (size_t)inner.rank * sizeof *inner.dims)))
            return bad(p, "a row's nested lists must all have the same shape (no ragged lists)");
    }
    out->rank = inner.rank + 1;
    out->dims[0] = len;
    memcpy(out->dims + 1, inner.dims, (size_t)inner.rank * sizeof *inner.dims);
    return 0;
}

/* The number of values of a row of that shape, 0 when too many. */
static size_t shape_count(const row_dims *d) {
    size_t n = 1;
    for (int i = 0; i < d->rank; i++) {
        if (d->dims[i] > MAX_WIDTH) return 0;
        n *= d->dims[i];
        if (n > MAX_WIDTH) return 0;
    }
    return n;
}

/* An instance in row format: a list, or {"input": list}. */
static const cJSON *unwrap_named(const cJSON *v, api_problem *p) {
    if (!cJSON_IsObject(v)) return v;
    if (!v->child || v->child->next || strcmp(v->child->string, "input")) {
        bad(p, "the model has one input, named \"input\"");
        return NULL;
    }
    return v->child;
}

/* rows: an array of rows, each a number or nested lists of numbers, all of
 * one shape (what TF Serving batches into one tensor). */
static int read_rows(const cJSON *rows, int max_rows, api_tfs_request *r, api_problem *p) {
    if (!cJSON_IsArray(rows) || !rows->child)
        return bad(p, "instances / inputs must be a non-empty list of rows");
    int n = cJSON_GetArraySize(rows);
    if (n > max_rows) {
        api_problem_set(p, 413, API_SLUG_TOO_LARGE, NULL,
                        "%d rows; at most %d are accepted at once", n, max_rows);
        return -1;
    }
    row_dims first, shape;
    size_t i = 0, w = 0;
    for (const cJSON *row = rows->child; row; row = row->next, i++) {
        const cJSON *v = r->columnar ? row : unwrap_named(row, p);
        if (!v || row_shape(v, 0, i ? &shape : &first, p)) return -1;
        if (i == 0) {
            w = shape_count(&first);
            if (w == 0) return bad(p, "a row must hold 1 to 1048576 values");
            if ((size_t)n * w > MAX_VALUES) return too_many_values(p, (size_t)n * w);
            r->x = malloc((size_t)n * w * sizeof *r->x);
            if (!r->x) {
                api_problem_set(p, 500, "internal", NULL, "out of memory");
                return -1;
            }
        } else if (shape.rank != first.rank ||
                   memcmp(shape.dims, first.dims, (size_t)first.rank * sizeof *first.dims)) {
            return bad(p, "the rows do not all have the same shape");
        }
        size_t got = 0;
        if (row_values(v, r->x + i * w, w, &got, p)) return -1;
    }
    r->rows = n;
    r->width = (int)w;
    return 0;
}

/* How many members of obj are named key (cJSON keeps duplicates; its
 * lookups return the first, so a second one would be silently ignored). */
static int members_named(const cJSON *obj, const char *key) {
    int n = 0;
    for (const cJSON *m = obj->child; m; m = m->next) n += !strcmp(m->string, key);
    return n;
}

/* The values of an example's feature: a number or a flat list of numbers.
 * Appended to x (room for cap); *n counts. */
static int feature_values(const cJSON *v, float *x, size_t cap, size_t *n, api_problem *p) {
    const cJSON *e = cJSON_IsArray(v) ? v->child : v;
    for (; e; e = cJSON_IsArray(v) ? e->next : NULL) {
        if (!cJSON_IsNumber(e))
            return bad(p, "feature \"input\" must be a number or a flat list of numbers");
        float f = (float)e->valuedouble;
        if (!isfinite(f)) return bad(p, "a value is outside float32's range");
        if (*n >= cap) return bad(p, "the examples do not all have the same number of values");
        x[(*n)++] = f;
    }
    return 0;
}

/* An example's (or the context's) features: only "input" exists. Its value
 * into *input (NULL when absent). 0 or -1. */
static int features(const cJSON *obj, const char *what, const cJSON **input, api_problem *p) {
    *input = NULL;
    if (!cJSON_IsObject(obj)) {
        api_problem_set(p, 400, "invalid-predict-request", NULL, "%s must be an object of features",
                        what);
        return -1;
    }
    for (const cJSON *m = obj->child; m; m = m->next) {
        if (strcmp(m->string, "input")) {
            api_problem_set(p, 400, "invalid-predict-request", NULL,
                            "%s has feature \"%.64s\"; the model's one feature is \"input\"", what,
                            m->string);
            return -1;
        }
        if (*input) {
            api_problem_set(p, 400, "invalid-predict-request", NULL,
                            "%s gives feature \"input\" twice", what);
            return -1;
        }
        *input = m;
    }
    return 0;
}

/* {"context"?, "examples"} of :classify and :regress into r. */
static int read_examples(const cJSON *root, int max_rows, api_tfs_request *r, api_problem *p) {
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(root, "context");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "examples");
    if (cJSON_GetObjectItemCaseSensitive(root, "instances") ||
        cJSON_GetObjectItemCaseSensitive(root, "inputs"))
        return bad(p, ":classify and :regress take \"examples\" (\"instances\" / \"inputs\" "
                      "are :predict's)");
    if (!cJSON_IsArray(ex) || !ex->child) return bad(p, "examples must be a non-empty list");
    int n = cJSON_GetArraySize(ex);
    if (n > max_rows) {
        api_problem_set(p, 413, API_SLUG_TOO_LARGE, NULL,
                        "%d examples; at most %d are accepted at once", n, max_rows);
        return -1;
    }
    const cJSON *shared = NULL, *v;
    if (ctx && features(ctx, "context", &shared, p)) return -1;
    size_t i = 0, w = 0;
    for (const cJSON *e = ex->child; e; e = e->next, i++) {
        if (features(e, "an example", &v, p)) return -1;
        if (v && shared) return bad(p, "feature \"input\" is in both the context and an example");
        if (!(v = v ? v : shared)) return bad(p, "an example has no feature \"input\"");
        if (i == 0) {
            w = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 1;
            if (w == 0 || w > MAX_WIDTH) return bad(p, "an example must hold 1 to 1048576 values");
            if ((size_t)n * w > MAX_VALUES) return too_many_values(p, (size_t)n * w);
            if (!(r->x = malloc((size_t)n * w * sizeof *r->x))) {
                api_problem_set(p, 500, "internal", NULL, "out of memory");
                return -1;
            }
        }
        size_t got = 0;
        if (feature_values(v, r->x + i * w, w, &got, p)) return -1;
        if (got != w) return bad(p, "the examples do not all have the same number of values");
    }
    r->rows = n;
    r->width = (int)w;
    return 0;
}

static int read_body(const cJSON *root, int max_rows, api_tfs_request *r, api_problem *p) {
    if (!cJSON_IsObject(root)) return bad(p, "the body must be a JSON object");
    static const char *const known[] = {"signature_name", "instances", "inputs", "context",
                                        "examples"};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (members_named(root, known[k]) > 1) {
            api_problem_set(p, 400, "invalid-predict-request", NULL, "member \"%s\" is given twice",
                            known[k]);
            return -1;
        }
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(root, "signature_name");
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "instances");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    /* "" names the default signature, as in TF Serving (and its metadata's model_spec). */
    if (sig && (!cJSON_IsString(sig) ||
                (sig->valuestring[0] && strcmp(sig->valuestring, "serving_default"))))
        return bad(p, "the only signature is \"serving_default\" (or \"\", the default)");
    if (r->verb != API_TFS_PREDICT) return read_examples(root, max_rows, r, p);
    if (!inst == !inputs) return bad(p, "give exactly one of \"instances\" and \"inputs\"");
    if (inst) return read_rows(inst, max_rows, r, p);
    r->columnar = 1;
    if (cJSON_IsObject(inputs)) {
        if (!inputs->child || inputs->child->next || strcmp(inputs->child->string, "input"))
            return bad(p, "the model has one input, named \"input\"");
        inputs = inputs->child;
    }
    return read_rows(inputs, max_rows, r, p);
}

int api_tfs_verb_parse(const char *colon_verb) {
    static const char *const verbs[] = {":predict", ":classify", ":regress"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(colon_verb, verbs[i])) return i;
    return -1;
}

int api_tfs_request_decode(const char *json, size_t len, api_tfs_verb verb, int max_rows,
                           api_tfs_request *out, api_problem *prob) {
    memset(out, 0, sizeof *out);
    out->verb = verb;
    cJSON *root = api_json_parse(json, len, prob);
    if (!root) {
        prob->status = 400;
        return -1;
    }
    int rc = read_body(root, max_rows, out, prob);
    cJSON_Delete(root);
    if (rc) api_tfs_request_free(out);
    return rc;
}

void api_tfs_request_free(api_tfs_request *r) {
    if (!r) return;
    free(r->x);
    memset(r, 0, sizeof *r);
}

/* {"result": [[["0", p0], ["1", p1], ...], ...]} or {"result": [v, ...]}. */
static char *encode_result(const api_tfs_request *req, int classes, const float *probs) {
    /* per class: ["<index>",<value>], at most 16 bytes beside the value */
    size_t cap = 16 + (size_t)req->rows * (3 + (size_t)classes * (API_PROBABILITY_MAX + 16));
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = (size_t)snprintf(out, cap, "{\"result\":[");
    for (int i = 0; i < req->rows; i++) {
        if (i) out[n++] = ',';
        const float *row = probs + (size_t)i * classes;
        if (req->verb == API_TFS_REGRESS) {
            n += api_format_probability(out + n, row[0]);
            continue;
        }
        out[n++] = '[';
        for (int c = 0; c < classes; c++) {
            n += (size_t)snprintf(out + n, cap - n, "%s[\"%d\",", c ? "," : "", c);
            n += api_format_probability(out + n, row[c]);
            out[n++] = ']';
        }
        out[n++] = ']';
    }
    memcpy(out + n, "]}", 3);
    return out;
}

char *api_tfs_response_encode(const api_tfs_request *req, int classes, const float *probs) {
    if (req->verb != API_TFS_PREDICT) return encode_result(req, classes, probs);
    const char *key = req->columnar ? "{\"outputs\":[" : "{\"predictions\":[";
    size_t cap = strlen(key) + 4 + (size_t)req->rows * (3 + (size_t)classes * API_PROBABILITY_MAX);
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = strlen(key);
    memcpy(out, key, n);
    for (int i = 0; i < req->rows; i++) {
        if (i) out[n++] = ',';
        out[n++] = '[';
        for (int c = 0; c < classes; c++) {
            if (c) out[n++] = ',';
            n += api_format_probability(out + n, probs[(size_t)i * classes + c]);
        }
        out[n++] = ']';
    }
    memcpy(out + n, "]}", 3);
    return out;
}

/* {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": cols}]}, "name"}:
 * int64 fields are strings in protobuf's JSON mapping. */
static cJSON *tensor_info(const char *name, int cols) {
    cJSON *t = cJSON_CreateObject();
    char tensor[80], size[16];
    snprintf(tensor, sizeof tensor, "%s:0", name);
    snprintf(size, sizeof size, "%d", cols);
    cJSON_AddStringToObject(t, "dtype", "DT_FLOAT");
    cJSON *shape = cJSON_AddObjectToObject(t, "tensor_shape");
    cJSON *dims = cJSON_AddArrayToObject(shape, "dim");
    const char *sizes[] = {"-1", size};
    for (int i = 0; dims && i < 2; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "size", sizes[i]);
        cJSON_AddStringToObject(d, "name", "");
        cJSON_AddItemToArray(dims, d);
    }
    cJSON_AddFalseToObject(shape, "unknown_rank");
    cJSON_AddStringToObject(t, "name", tensor);
    return t;
}

cJSON *api_tfs_metadata(const char *name, int version, int width, int classes) {
    cJSON *o = cJSON_CreateObject();
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    cJSON *spec = cJSON_AddObjectToObject(o, "model_spec");
    cJSON_AddStringToObject(spec, "name", name);
    cJSON_AddStringToObject(spec, "signature_name", "");
    cJSON_AddStringToObject(spec, "version", v);
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    cJSON *defs =
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(md, "signature_def"), "signature_def");
    cJSON *sig = cJSON_AddObjectToObject(defs, "serving_default");
    cJSON_AddItemToObject(cJSON_AddObjectToObject(sig, "inputs"), "input",
                          tensor_info("input", width));
    cJSON_AddItemToObject(cJSON_AddObjectToObject(sig, "outputs"), "probabilities",
                          tensor_info("probabilities", classes));
    cJSON_AddStringToObject(sig, "method_name", "tensorflow/serving/predict");
    /* cJSON's adders do nothing on a NULL parent: any failure shows as a missing member. */
    if (!cJSON_GetObjectItemCaseSensitive(sig, "method_name")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
