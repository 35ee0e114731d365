/* oip_client.h - a small client of the Open Inference Protocol v2 (KServe's
 * open-inference-protocol REST specification, with Triton's binary tensor
 * data and classification extensions) and of TF Serving's REST predict API,
 * written from those documents alone: it shares no code with the daemon's
 * codecs (api/), only a JSON parser (cJSON) and libcurl.
 *
 * Every answer it reads is checked against the documents before its values
 * are handed out: required members and their JSON types, tensor datatypes
 * from the protocol's list, non-negative shapes, data counts that match the
 * shape, binary sections whose sizes add up to exactly what follows the JSON
 * header (whose length Inference-Header-Content-Length must give), and
 * {"error": string} bodies for every error status. A violation prints why
 * and fails the call (-1).
 */
#ifndef MLPD_TEST_OIP_CLIENT_H
#define MLPD_TEST_OIP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "daemon.h"

#define OIP_MAX_TENSORS 4

typedef struct {
    char name[64];
    char datatype[16];
    int64_t shape[8];
    int rank;
    size_t count; /* product of the shape */
    double *num;  /* numeric tensors: count values */
    char **str;   /* BYTES tensors: count NUL-terminated strings */
    int was_binary;
} oip_tensor;

typedef struct {
    long status;
    char error[512]; /* the "error" member of an error answer */
    char model_name[80];
    char model_version[24];
    char id[128];
    int has_id, has_version;
    int n_outputs;
    oip_tensor outputs[OIP_MAX_TENSORS];
    int binary; /* the answer carried binary data */
} oip_response;

typedef struct {
    const char *id;         /* NULL: no "id" */
    const char *datatype;   /* NULL: "FP32" */
    int binary_input;       /* send the input as binary data */
    int binary_data_output; /* the request-level parameter */
    int nested;             /* JSON data as one nested list per row */
    int n_outputs;          /* 0: ask for none (all outputs come back) */
    const char *output_names[2];
    int output_binary[2];   /* -1: unset, else the output's binary_data */
    int classification[2];  /* 0: unset */
    int64_t size_delta;     /* added to binary_data_size (bad-input tests) */
    long long header_delta; /* added to Inference-Header-Content-Length */
} oip_request;

/* POST an inference request for rows x width values to path. 0 when the
 * answer (success or error) is what the protocol allows; *out filled. */
int oip_infer(const mlpd_daemon *d, const char *path, const float *x, int rows, int width,
              const oip_request *req, oip_response *out);
void oip_response_free(oip_response *r);
/* The output named name, NULL when absent. */
const oip_tensor *oip_output(const oip_response *r, const char *name);

/* GET/POST path (body may be NULL) and check the answer against the schema
 * named by what: "server_metadata", "model_metadata", "model_ready",
 * "server_ready", "stats", "index", "tfs_status", "tfs_metadata", "error" (any error status
 * with {"error": string}), or "none" (only the status matters). Returns the
 * JSON (caller deletes) or NULL. */
cJSON *oip_call(const mlpd_daemon *d, const char *method, const char *path, const char *body,
                const char *what, long *status);

/* TF Serving :predict with instances (row format, columnar 0) or inputs
 * (columnar 1): the answer's "predictions" / "outputs" as rows x cols
 * doubles into *values (malloc'ed). 0, or -1 after printing why. */
int tfs_predict(const mlpd_daemon *d, const char *path, const float *x, int rows, int width,
                int columnar, double **values, int *cols, long *status);

#endif /* MLPD_TEST_OIP_CLIENT_H */
