/* v2_infer.h - the Open Inference Protocol v2 (KServe, Triton) inference
 * request and response bodies, with Triton's binary tensor data and
 * classification extensions. No HTTP here: the route passes the body and the
 * Inference-Header-Content-Length value, and sends what the encoder wrote.
 *
 * An mlpd model has one input and two outputs:
 *   input          "input"          FP32  [-1, width]
 *   outputs        "probabilities"  FP32  [-1, classes]
 *                  "label"          INT64 [-1]
 *
 * Request ($inference_request): {"id"?, "parameters"?, "inputs": [one
 * $request_input], "outputs"?: [$request_output...]}. The input's "data" is
 * flat or nested (row-major), its count must equal the product of "shape"
 * ([rows, width] or [width] for one row); nested lists must be regular (one
 * length per depth, numbers at one depth: any reshaping of the tensor, as
 * numpy's reshape takes it), ragged ones are refused; or, with the binary extension,
 * "parameters": {"binary_data_size": N} and N bytes of little-endian float32
 * after the JSON, whose length the header gives. The binary part must be
 * exactly the sum of the binary_data_size values. Request parameters:
 * "binary_data_output" (bool, every output binary unless an output says
 * otherwise); output parameters: "binary_data" (bool) and "classification"
 * (k >= 1, on "probabilities": the top k as "value:index" BYTES strings,
 * shape [rows, k]). Unknown parameters and unknown top-level members (such
 * as "model_name") are ignored; an unknown input or output name is refused,
 * and so is a known member or parameter given twice (JSON leaves which one
 * counts to the reader; a client must not have to guess).
 *
 * Errors are api_problems (status 400, or 413 for too many rows); the route
 * sends their detail as the protocol's {"error": "..."}.
 */
#ifndef MLPD_API_V2_INFER_H
#define MLPD_API_V2_INFER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "problem.h"

#define API_V2_INPUT         "input"
#define API_V2_PROBABILITIES "probabilities"
#define API_V2_LABEL         "label"

typedef enum { API_V2_OUT_PROBABILITIES = 0, API_V2_OUT_LABEL = 1 } api_v2_output_kind;

typedef struct {
    api_v2_output_kind kind;
    int binary;         /* send as binary data */
    int classification; /* 0, or k: top k as BYTES (probabilities only) */
} api_v2_output;

typedef struct {
    char *id;         /* the request's "id" (malloc'ed), NULL when absent */
    int rows, width;  /* the input's shape */
    float *x;         /* rows * width values (malloc'ed) */
    int binary_input; /* the input came as binary data */
    int n_outputs;    /* outputs to send, in order (both by default) */
    int precision;    /* parameters.precision as an mlp_precision, -1 when absent */
    api_v2_output outputs[2];
} api_v2_request;

/* Decode body[0..len). header_len is the Inference-Header-Content-Length
 * value, -1 when the header is absent (the whole body is JSON). max_rows
 * bounds the rows (413 beyond). 0, or -1 with *prob filled. */
int api_v2_request_decode(const char *body, size_t len, long long header_len, int max_rows,
                          api_v2_request *out, api_problem *prob);
void api_v2_request_free(api_v2_request *r);

/* The answer to req: rows of `classes` probabilities and the labels, from
 * model_name's version. *body (malloc'ed) and *len get the HTTP body;
 * *header_len gets the JSON part's length when binary data follows it (the
 * Inference-Header-Content-Length to send), 0 when the body is all JSON.
 * 0, or -1 when out of memory. */
int api_v2_response_encode(const api_v2_request *req, const char *model_name, int model_version,
                           int classes, const float *probs, const int *labels, char **body,
                           size_t *len, size_t *header_len);

/* $metadata_model_response: name, versions (as strings), platform "mlpd",
 * the input and both outputs with the model's width and classes. */
cJSON *api_v2_model_metadata(const char *name, const int *versions, size_t n_versions, int width,
                             int classes);

/* The input width ("inputs") and the classes (the last layer's "units") of
 * a stored architecture's JSON (store_model.arch_json), for the metadata
 * routes of v2 and v1 without loading the model; 0 for what is absent. */
void api_arch_io(const char *arch_json, int *width, int *classes);

/* {"error": msg} as JSON text (malloc'ed), NULL when out of memory. */
char *api_v2_error_json(const char *msg);

#endif /* MLPD_API_V2_INFER_H */
