/* v2_request.c - decoding the Open Inference Protocol v2 inference request,
 * binary tensor data included (contract in v2_infer.h).
 *
 * The request sits on the serving hot path and its JSON is mostly numbers
 * (784 per MNIST row), so it is read in one pass with the strict lexer of
 * json_scan.h and the short-number fast path of json_float.h, as POST
 * /predict's body is: values go straight into one float block, nothing is
 * allocated per value. 784 values decode in about 16 us (a cJSON tree took
 * about 300 us; /predict's decoder about 14 us), measured in process. The
 * members are read here, an input's data in v2_request_data.c (the state
 * and the shared lexing steps in v2_scan.h). The first problem in document
 * order is reported, as a 400 (413 for too many rows); a known member given
 * twice is refused, unknown members and parameters are skipped (the protocol
 * lets clients send their own).
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "mlp.h"
#include "v2_scan.h"

/* An "id" longer than this is refused (it is echoed in the answer). */
#define MAX_ID 1024

int v2_bad(v2_scan *s, const char *fmt, ...) {
    char detail[sizeof s->lx.prob->detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    api_problem_set(s->lx.prob, 400, "invalid-inference-request", NULL, "%s", detail);
    return -1;
}

/* Members of the object at s->lx.p: fn(s, key, depth) reads each value. */
typedef int (*member_fn)(v2_scan *s, const char *key, int depth);
static int scan_object(v2_scan *s, int depth, member_fn fn) {
    int more = open_container(s, '{', '}', "'{' expected");
    if (more != 0) return more < 0 ? -1 : 0;
    do {
        char key[64];
        int cut = 0;
        if (peek(s) != '"') return api_json_scan_syntax_error(&s->lx, "a member name expected");
        if (api_json_scan_string(&s->lx, key, sizeof key, &cut)) return -1;
        if (expect(s, ':', "':' expected")) return -1;
        if (cut ? api_json_scan_skip(&s->lx, depth + 1) : fn(s, key, depth + 1)) return -1;
    } while ((more = next_item(s, '}', "',' or '}' expected")) == 1);
    return more;
}

/* Elements of the array at s->lx.p: fn(s, index, depth) reads each. */
typedef int (*element_fn)(v2_scan *s, int index, int depth);
static int scan_array(v2_scan *s, int depth, element_fn fn) {
    int more = open_container(s, '[', ']', "'[' expected");
    if (more != 0) return more < 0 ? -1 : 0;
    int i = 0;
    do {
        if (fn(s, i++, depth + 1)) return -1;
    } while ((more = next_item(s, ']', "',' or ']' expected")) == 1);
    return more;
}

/* A string value into buf; `what` names it for errors. */
static int read_string(v2_scan *s, char *buf, size_t cap, const char *what) {
    int cut = 0;
    if (peek(s) != '"') return v2_bad(s, "%s must be a string", what);
    if (api_json_scan_string(&s->lx, buf, cap, &cut)) return -1;
    return cut ? v2_bad(s, "%s is longer than %zu bytes", what, cap - 1) : 0;
}

static int read_bool(v2_scan *s, int *out, const char *what) {
    if (peek(s) == 't') {
        *out = 1;
        return api_json_scan_literal(&s->lx, "true");
    }
    if (peek(s) == 'f') {
        *out = 0;
        return api_json_scan_literal(&s->lx, "false");
    }
    return v2_bad(s, "%s must be a boolean", what);
}

/* A whole number in [lo, hi]. */
static int read_int(v2_scan *s, int64_t lo, int64_t hi, int64_t *out, const char *what) {
    double d;
    if (peek(s) != '-' && !api_json_is_digit(peek(s)))
        return v2_bad(s, "%s must be an integer", what);
    if (api_json_scan_number(&s->lx, &d, 0)) return -1;
    if (!(d == floor(d)) || d < (double)lo || d > (double)hi)
        return v2_bad(s, "%s must be an integer in [%lld, %lld]", what, (long long)lo,
                      (long long)hi);
    *out = (int64_t)d;
    return 0;
}

/* ---- the input ------------------------------------------------------------------- */

static int shape_dim(v2_scan *s, int i, int depth) {
    (void)depth;
    if (i >= 8) return v2_bad(s, "input '" API_V2_INPUT "' has a shape of more than 8 dimensions");
    s->rank = i + 1;
    return read_int(s, 0, (int64_t)API_JSON_MAX_SAFE_INT, &s->dims[i],
                    "a shape dimension (an unsigned integer)");
}

static int input_param(v2_scan *s, const char *key, int depth) {
    if (strcmp(key, "binary_data_size")) return api_json_scan_skip(&s->lx, depth);
    if (s->has_bsize) return v2_bad(s, "binary_data_size is given twice");
    s->has_bsize = 1;
    return read_int(s, 0, (int64_t)API_JSON_MAX_SAFE_INT, &s->bsize,
                    "binary_data_size (a non-negative integer)");
}

/* Set *seen, refusing a member given twice. */
static int once(v2_scan *s, int *seen, const char *key) {
    if (*seen) return v2_bad(s, "member \"%s\" is given twice", key);
    *seen = 1;
    return 0;
}

static int input_member(v2_scan *s, const char *key, int depth) {
    if (!strcmp(key, "name"))
        return once(s, &s->in_seen_name, key) ||
               read_string(s, s->in_name, sizeof s->in_name, "an input's name");
    if (!strcmp(key, "datatype"))
        return once(s, &s->in_seen_dtype, key) ||
               read_string(s, s->in_dtype, sizeof s->in_dtype, "an input's datatype");
    if (!strcmp(key, "shape")) {
        if (once(s, &s->in_seen_shape, key)) return -1;
        if (peek(s) != '[') return v2_bad(s, "an input's shape must be an array");
        return scan_array(s, depth, shape_dim);
    }
    if (!strcmp(key, "parameters")) {
        if (once(s, &s->in_seen_params, key)) return -1;
        if (peek(s) != '{')
            return v2_bad(s, "input '" API_V2_INPUT "' parameters must be an object");
        return scan_object(s, depth, input_param);
    }
    if (!strcmp(key, "data")) {
        if (once(s, &s->in_seen_data, key)) return -1;
        if (peek(s) != '[') return v2_bad(s, "input '" API_V2_INPUT "' data must be an array");
        return v2_scan_data(s);
    }
    return api_json_scan_skip(&s->lx, depth);
}

static int input_element(v2_scan *s, int i, int depth) {
    s->n_inputs = i + 1;
    if (i > 0)
        return v2_bad(s, "inputs must be an array of exactly one input ('" API_V2_INPUT "')");
    if (peek(s) != '{') return v2_bad(s, "each input must be an object with a string name");
    return scan_object(s, depth, input_member);
}

/* ---- the outputs and the request ------------------------------------------------------ */

static int output_param(v2_scan *s, const char *key, int depth) {
    int k = s->n_out_objs - 1;
    if (!strcmp(key, "binary_data"))
        return once(s, &s->outs[k].seen_binary, key) ||
               read_bool(s, &s->outs[k].binary, "binary_data");
    if (!strcmp(key, "classification")) {
        int64_t v;
        if (once(s, &s->outs[k].seen_class, key) || read_int(s, 1, INT_MAX, &v, "classification"))
            return -1;
        s->outs[k].classification = (int)v;
        return 0;
    }
    return api_json_scan_skip(&s->lx, depth);
}

static int output_member(v2_scan *s, const char *key, int depth) {
    int k = s->n_out_objs - 1;
    if (!strcmp(key, "name"))
        return once(s, &s->outs[k].seen_name, key) ||
               read_string(s, s->outs[k].name, sizeof s->outs[k].name, "an output's name");
    if (!strcmp(key, "parameters")) {
        if (once(s, &s->outs[k].seen_params, key)) return -1;
        if (peek(s) != '{') return v2_bad(s, "output parameters must be an object");
        return scan_object(s, depth, output_param);
    }
    return api_json_scan_skip(&s->lx, depth);
}

static int output_element(v2_scan *s, int i, int depth) {
    if (i >= 2)
        return v2_bad(s,
                      "at most two outputs exist ('" API_V2_PROBABILITIES "', '" API_V2_LABEL "')");
    if (peek(s) != '{')
        return v2_bad(s, "each requested output must be an object with a string name");
    s->n_out_objs = i + 1;
    s->outs[i].binary = -1;
    return scan_object(s, depth, output_member);
}

static int request_param(v2_scan *s, const char *key, int depth) {
    if (!strcmp(key, "binary_data_output"))
        return once(s, &s->seen_binary_out, key) || read_bool(s, &s->binary_out, key);
    if (!strcmp(key, "precision")) { /* mlpd's: float32, bf16, int8 (docs/precision.md) */
        char name[16];
        mlp_precision p;
        if (once(s, &s->seen_precision, key) ||
            read_string(s, name, sizeof name, "parameter precision"))
            return -1;
        if (mlp_precision_from_name(name, &p) != 0)
            return v2_bad(s, "parameter precision must be \"float32\", \"bf16\" or \"int8\"");
        s->r->precision = (int)p;
        return 0;
    }
    return api_json_scan_skip(&s->lx, depth);
}

static int request_member(v2_scan *s, const char *key, int depth) {
    if (!strcmp(key, "id")) {
        char id[MAX_ID + 1];
        if (s->r->id) return v2_bad(s, "member \"id\" is given twice");
        if (read_string(s, id, sizeof id, "id")) return -1;
        if (!(s->r->id = strdup(id))) {
            api_problem_set(s->lx.prob, 500, "internal", NULL, "out of memory");
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "parameters")) {
        if (once(s, &s->seen_params, key)) return -1;
        if (peek(s) != '{') return v2_bad(s, "parameters must be an object");
        return scan_object(s, depth, request_param);
    }
    if (!strcmp(key, "inputs")) {
        if (once(s, &s->seen_inputs, key)) return -1;
        if (peek(s) != '[') return v2_bad(s, "inputs must be an array");
        return scan_array(s, depth, input_element);
    }
    if (!strcmp(key, "outputs")) {
        if (once(s, &s->seen_outputs, key)) return -1;
        if (peek(s) != '[') return v2_bad(s, "outputs must be an array");
        return scan_array(s, depth, output_element);
    }
    return api_json_scan_skip(&s->lx, depth);
}

/* ---- checks once the JSON is read ------------------------------------------------------ */

/* The input's shape: [rows, width] or [width]. */
static int check_shape(v2_scan *s) {
    api_v2_request *r = s->r;
    if (!s->in_seen_shape || (s->rank != 1 && s->rank != 2))
        return v2_bad(s, "input '" API_V2_INPUT "' needs a shape of [rows, width] or [width]");
    int64_t rows = s->rank == 2 ? s->dims[0] : 1, width = s->dims[s->rank - 1];
    if (rows < 1 || width < 1)
        return v2_bad(s, "input '" API_V2_INPUT "' has an empty shape dimension");
    if (rows > s->max_rows) {
        api_problem_set(s->lx.prob, 413, API_SLUG_TOO_LARGE, NULL,
                        "input '" API_V2_INPUT "' has %lld rows; at most %d are accepted at once",
                        (long long)rows, s->max_rows);
        return -1;
    }
    if (width > MAX_VALUES || rows * width > MAX_VALUES)
        return v2_bad(s, "input '" API_V2_INPUT "' is larger than this server accepts");
    r->rows = (int)rows;
    r->width = (int)width;
    return 0;
}

static int check_input(v2_scan *s, const unsigned char *bin, size_t bin_len) {
    if (!s->seen_inputs || s->n_inputs != 1)
        return v2_bad(s, "inputs must be an array of exactly one input ('" API_V2_INPUT "')");
    if (!s->in_seen_name) return v2_bad(s, "each input must be an object with a string name");
    if (strcmp(s->in_name, API_V2_INPUT))
        return v2_bad(s, "unexpected inference input '%s': the model's input is '" API_V2_INPUT "'",
                      s->in_name);
    if (!s->in_seen_dtype) return v2_bad(s, "input '" API_V2_INPUT "' needs a datatype");
    if (strcmp(s->in_dtype, "FP32"))
        return v2_bad(s, "input '" API_V2_INPUT "' has datatype %s; the model expects FP32",
                      s->in_dtype);
    if (check_shape(s)) return -1;
    size_t count = (size_t)s->r->rows * (size_t)s->r->width;
    if (s->has_bsize) {
        if (s->in_seen_data)
            return v2_bad(s, "input '" API_V2_INPUT "' has both data and binary_data_size");
        if ((uint64_t)s->bsize != count * 4)
            return v2_bad(s,
                          "input '" API_V2_INPUT
                          "' binary_data_size is %lld bytes but shape needs %zu (FP32)",
                          (long long)s->bsize, count * 4);
        if ((uint64_t)s->bsize != bin_len)
            return v2_bad(
                s,
                "binary_data_size is %lld, but the body holds %zu bytes of binary data after the "
                "JSON header",
                (long long)s->bsize, bin_len);
        s->r->binary_input = 1;
        return v2_scan_binary(s, bin, count);
    }
    if (bin_len)
        return v2_bad(
            s, "the body has binary data after the JSON header but no input has binary_data_size");
    if (!s->in_seen_data) return v2_bad(s, "input '" API_V2_INPUT "' needs data");
    if (s->n_vals != count)
        return v2_bad(
            s, "input '" API_V2_INPUT "' has %zu data values but its shape [%d, %d] needs %zu",
            s->n_vals, s->r->rows, s->r->width, count);
    return 0;
}

static int check_outputs(v2_scan *s) {
    api_v2_request *r = s->r;
    for (int i = 0; i < s->n_out_objs; i++) {
        api_v2_output o = {.binary = s->outs[i].binary >= 0 ? s->outs[i].binary : s->binary_out,
                           .classification = s->outs[i].classification};
        const char *name = s->outs[i].name;
        if (!name[0])
            return v2_bad(s, "each requested output must be an object with a string name");
        if (!strcmp(name, API_V2_PROBABILITIES))
            o.kind = API_V2_OUT_PROBABILITIES;
        else if (!strcmp(name, API_V2_LABEL))
            o.kind = API_V2_OUT_LABEL;
        else
            return v2_bad(
                s,
                "unexpected inference output '%s': the model's outputs are '" API_V2_PROBABILITIES
                "' and '" API_V2_LABEL "'",
                name);
        for (int k = 0; k < r->n_outputs; k++)
            if (r->outputs[k].kind == o.kind)
                return v2_bad(s, "output '%s' is requested twice", name);
        if (o.classification && o.kind != API_V2_OUT_PROBABILITIES)
            return v2_bad(s, "classification applies to output '" API_V2_PROBABILITIES "' only");
        r->outputs[r->n_outputs++] = o;
    }
    if (r->n_outputs == 0) {
        r->n_outputs = 2;
        r->outputs[0] = (api_v2_output){.kind = API_V2_OUT_PROBABILITIES, .binary = s->binary_out};
        r->outputs[1] = (api_v2_output){.kind = API_V2_OUT_LABEL, .binary = s->binary_out};
    }
    return 0;
}

int api_v2_request_decode(const char *body, size_t len, long long header_len, int max_rows,
                          api_v2_request *out, api_problem *prob) {
    memset(out, 0, sizeof *out);
    out->precision = -1;
    v2_scan s = {.r = out, .max_rows = max_rows, .leaf_depth = -1};
    for (int i = 0; i < DATA_MAX_DEPTH; i++) s.level_len[i] = -1;
    s.lx = (api_json_scan){.p = body, .end = body + len, .start = body, .prob = prob};
    size_t json_len = len;
    if (header_len >= 0) {
        if (header_len == 0 || (unsigned long long)header_len > len)
            return v2_bad(&s, "Inference-Header-Content-Length is %lld, but the body has %zu bytes",
                          header_len, len);
        json_len = (size_t)header_len;
        s.lx.end = body + json_len;
    }
    api_json_scan_ws(&s.lx);
    int rc = peek(&s) == '{'
                 ? scan_object(&s, 0, request_member)
                 : (s.lx.p >= s.lx.end ? api_json_scan_syntax_error(&s.lx, "the body is empty")
                                       : v2_bad(&s, "the inference request must be a JSON object"));
    if (rc == 0) {
        api_json_scan_ws(&s.lx);
        if (s.lx.p != s.lx.end)
            rc = header_len < 0
                     ? v2_bad(&s,
                              "%zu bytes after the JSON object: binary tensor data needs "
                              "the Inference-Header-Content-Length header (the JSON's "
                              "length)",
                              (size_t)(s.lx.end - s.lx.p))
                     : api_json_scan_syntax_error(&s.lx, "data after the JSON object");
    }
    if (rc == 0) rc = check_input(&s, (const unsigned char *)body + json_len, len - json_len);
    if (rc == 0) rc = check_outputs(&s);
    if (rc) {
        prob->status = prob->status == 413 || prob->status == 500 ? prob->status : 400;
        api_v2_request_free(out);
    }
    return rc;
}

void api_v2_request_free(api_v2_request *r) {
    if (!r) return;
    free(r->id);
    free(r->x);
    memset(r, 0, sizeof *r);
}
