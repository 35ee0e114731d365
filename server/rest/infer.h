/* infer.h - the inference path the three protocols share (/predict, Open
 * Inference Protocol v2, TF Serving v1): which model answers, running the
 * rows through the cache's batcher, per-model statistics, and the answer.
 *
 * A protocol's handler decodes its body, calls infer_resolve() for the
 * model, allocates its job with infer_job_new() (its own struct, whose first
 * member is the infer_job), fills the rows and calls infer_run(). The rows
 * are predicted on this thread at low load or by the batcher (the
 * connection is suspended meanwhile: http_defer); then, on the connection's
 * thread, the job's answer() encodes the outputs and release() frees the
 * protocol's part. Everything the job holds is released in one place.
 */
#ifndef MLPD_INFER_H
#define MLPD_INFER_H

#include <stdint.h>

#include "batcher.h"
#include "model_cache.h"
#include "model_stats.h"
#include "registry.h"
#include "router.h"

/* How errors are written: RFC 9457 problems (mlpd's own routes) or the
 * {"error": "..."} object of the v2 and v1 protocols. */
typedef enum { INFER_ERR_PROBLEM = 0, INFER_ERR_PROTOCOL = 1 } infer_error_style;

typedef struct infer_job infer_job;
struct infer_job {
    batch_item item; /* first: the batcher hands it back */
    app *a;
    cached_model *cm;       /* referenced until the job ends */
    registry_target target; /* which name and version answer ("" name: an unnamed id) */
    model_stat *stat;       /* may be NULL (no memory for it) */
    http_deferred *d;
    const http_request *req; /* the request answered (valid until the job ends) */
    int put_off;             /* its gathered prediction waited a turn for more rows */
    batcher *begun;          /* batcher_begin()'s, told batcher_end() when the job ends */
    infer_error_style style;
    uint64_t start_ns, submit_ns, decoded_ns;
    int outputs;         /* classes */
    int precision_asked; /* item.precision was set by the request (else: the version's) */
    /* Fill res from item.probs / item.labels (not called when the batch failed). */
    void (*answer)(infer_job *j, http_response *res);
    /* Free the protocol's part and j itself (j was made by infer_job_new). */
    void (*release)(infer_job *j);
};

/* Answer failure `code` (mlpd_error.h) in the route's style: problem+json
 * with slug (NULL: the table's type) and pointer (may be NULL), or
 * {"error": detail}. The status and Retry-After come from route_errors.c's
 * table, except that the v1 and v2 protocols answer a request they cannot
 * serve with 400 where mlpd's own routes answer 422 (their specifications
 * have one client-error status). */
void infer_reply_error(infer_error_style style, http_response *res, mlpd_status code,
                       const char *slug, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The same for a body the API layer refused: its api_problem's status is
 * the contract's for that body (400, 413, 415, 422, ...), kept as it is
 * apart from the protocols' 422 -> 400. */
void infer_reply_status(infer_error_style style, http_response *res, int status, const char *slug,
                        const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The model a request names: by registered name (alias / version / the
 * name's default, registry.h) when name is given, else by id (0: the latest
 * model). On success *cm is referenced and *t says which name and version
 * (name "" for a model without one). Otherwise res is filled (problems
 * carry pointer, the member that named the model; may be NULL) (404 for an
 * unknown name, version, alias or id, 503 for an unloaded model, 500 for a
 * store failure) and -1 returned. */
int infer_resolve(app *a, infer_error_style style, const char *pointer, const char *name,
                  const char *alias, int version, int64_t id, registry_target *t, cached_model **cm,
                  http_response *res);

/* A job of `size` bytes (size >= sizeof(infer_job), zeroed) with room for
 * rows x outputs probabilities and rows labels after it; NULL on ENOMEM. */
void *infer_job_new(size_t size, int rows, int outputs);

/* Predict the job's rows (item.x, item.rows set by the caller; the model,
 * outputs and stats come from cm/target) and answer: now or deferred. The
 * job is consumed. */
void infer_run(app *a, infer_job *j, const http_request *req, http_response *res);

/* A request's precision (an mlp_precision, -1: none asked, the version's
 * own): float32 or the one the version serves (docs/precision.md); 0 with
 * the job's item set, or -1 with 422 (400 for the protocols) in res. */
int infer_ask_precision(infer_job *j, int precision, const char *pointer, http_response *res);

/* The first of rows rows of width values in v holding a value that is not
 * finite, or -1. A finite float32 input can still overflow inside a network
 * (3e38 times a weight is inf, inf - inf is NaN, tanh(NaN) is NaN): such a
 * row has no answer, and JSON has no number for it. */
int infer_nonfinite_row(const float *v, int rows, int width);

/* The first row of j's answered item that has no trustworthy answer: an
 * input beyond j->cm->max_input (it may overflow inside the network, and
 * ReLU can hide that as a finite answer of biases alone, differently per
 * kernel and batch) or outputs that are not finite; -1 when every row is
 * fine. The refusal is infer_reply_nonfinite. */
int infer_untrusted_row(const infer_job *j);

/* The 422 (400 for the protocols) for row `row` whose outputs overflowed
 * (infer_nonfinite_row); pointer names the row ("/input", "/inputs/3"). */
void infer_reply_nonfinite(infer_error_style style, const char *pointer, int64_t model_id,
                           http_response *res);

/* The 503 every inference route answers once the draining daemon closed its
 * listener (app.stopping; during --shutdown-delay it still predicts); 1 when
 * sent. */
int infer_refuse_draining(app *a, infer_error_style style, http_response *res);

#endif /* MLPD_INFER_H */
