/* infer.c - the inference path shared by /predict, v2 and v1 (infer.h). */
#include "clock.h"
#include "infer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "v2_infer.h"

static void reply(infer_error_style style, http_response *res, int status, const char *slug,
                  const char *pointer, const char *detail) {
    if (style == INFER_ERR_PROBLEM) {
        http_reply_problem(res, status, slug, pointer, "%s", detail);
        return;
    }
    if (status == 422) status = 400;
    char *body = api_v2_error_json(detail);
    if (body)
        http_reply_take(res, status, "application/json", body, strlen(body));
    else
        http_reply_bytes(res, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
}

void infer_reply_error(infer_error_style style, http_response *res, mlpd_status code,
                       const char *slug, const char *pointer, const char *fmt, ...) {
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *type;
    int retry_after;
    int status = route_http_status(code, &type, &retry_after);
    reply(style, res, status, slug ? slug : type, pointer, detail);
    if (retry_after) http_set_header(res, "Retry-After", "%d", retry_after);
}

void infer_reply_status(infer_error_style style, http_response *res, int status, const char *slug,
                        const char *pointer, const char *fmt, ...) {
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    reply(style, res, status, slug, pointer, detail);
}

int infer_nonfinite_row(const float *v, int rows, int width) {
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < width; k++)
            if (!isfinite(v[(size_t)r * width + k])) return r;
    return -1;
}

int infer_untrusted_row(const infer_job *j) {
    const batch_item *it = &j->item;
    int inputs = it->model->arch.sizes[0];
    float bound = j->cm->max_input;
    for (int r = 0; r < it->rows; r++) {
        if (bound > 0.0f) {
            const float *row = it->x + (size_t)r * (size_t)inputs;
            for (int k = 0; k < inputs; k++)
                if (fabsf(row[k]) > bound) return r;
        }
        if (infer_nonfinite_row(it->probs + (size_t)r * (size_t)j->outputs, 1, j->outputs) >= 0)
            return r;
    }
    return -1;
}

void infer_reply_nonfinite(infer_error_style style, const char *pointer, int64_t model_id,
                           http_response *res) {
    infer_reply_error(style, res, MLPD_EINVAL, "invalid-field", pointer,
                      "model %lld has no finite answer for this row: its values overflow (or may "
                      "overflow) float32 arithmetic inside the network; send smaller values",
                      (long long)model_id);
}

int infer_refuse_draining(app *a, infer_error_style style, http_response *res) {
    if (!atomic_load(&a->stopping)) return 0;
    infer_reply_error(style, res, MLPD_EDRAINING, NULL, NULL, "the daemon is shutting down");
    return 1;
}

int infer_resolve(app *a, infer_error_style style, const char *pointer, const char *name,
                  const char *alias, int version, int64_t id, registry_target *t, cached_model **cm,
                  http_response *res) {
    mlpd_error err = {0};
    memset(t, 0, sizeof *t);
    if (name && name[0]) {
        int rc = registry_resolve(a->registry, name, alias, version, 1, t, &err);
        if (rc != MLPD_OK) {
            infer_reply_error(style, res, rc == MLPD_ENOTFOUND ? rc : MLPD_ESTORE, NULL, pointer,
                              "%s", err.msg);
            return -1;
        }
        id = t->model_id;
    }
    int rc = MLPD_OK;
    mlpd_error me = {0};
    *cm = NULL;
    if (!(name && name[0] && registry_is_unloaded(a->registry, name)))
        rc = model_cache_get(a->models, id, cm, &me);
    if (rc == MLPD_ENOTFOUND) {
        if (id)
            infer_reply_error(style, res, MLPD_ENOTFOUND, NULL, pointer, "no model with id %lld",
                              (long long)id);
        else
            infer_reply_error(style, res, MLPD_ENOTFOUND, "no-model", pointer,
                              "there is no model yet: train one (POST /train) or upload one "
                              "(POST /models)");
        return -1;
    }
    if (rc != MLPD_OK) {
        infer_reply_error(style, res, route_failure_code(rc), NULL, NULL, "%s", me.msg);
        return -1;
    }
    if (*cm && !t->name[0]) registry_lookup_id(a->registry, (*cm)->id, t);
    if (*cm) t->model_id = (*cm)->id;
    if (!*cm || registry_is_unloaded(a->registry, t->name)) {
        model_cache_release(a->models, *cm);
        *cm = NULL;
        infer_reply_error(style, res, MLPD_EUNLOADED, NULL, pointer,
                          "model '%s' is unloaded: load it again (POST "
                          "/v2/repository/models/%s/load)",
                          t->name, t->name);
        return -1;
    }
    return 0;
}

void *infer_job_new(size_t size, int rows, int outputs) {
    size_t n_probs = (size_t)rows * (size_t)outputs;
    /* Keep the floats after the job aligned. */
    size = (size + 15) & ~(size_t)15;
    char *p = calloc(1, size + n_probs * sizeof(float) + (size_t)rows * sizeof(int));
    if (!p) return NULL;
    infer_job *j = (infer_job *)p;
    j->item.probs = (float *)(p + size);
    j->item.labels = (int *)(j->item.probs + n_probs);
    j->outputs = outputs;
    return j;
}

/* The statistics of a finished job (the answer written or failed). */
static void record(infer_job *j, int ok, uint64_t answered_ns, uint64_t end_ns) {
    model_stat *s = j->stat;
    if (!s) return;
    if (!ok) {
        model_duration_add(&s->fail, end_ns - j->start_ns);
        return;
    }
    uint64_t started = j->item.started_ns;
    model_stat_queue(s, started > j->submit_ns ? started - j->submit_ns : 0);
    model_duration_add(&s->compute_input, j->decoded_ns - j->start_ns);
    model_duration_add(&s->compute_infer, j->item.compute_ns);
    model_duration_add(&s->compute_output, end_ns - answered_ns);
    model_duration_add(&s->success, end_ns - j->start_ns);
    atomic_fetch_add_explicit(&s->inference_count, (uint64_t)j->item.rows, memory_order_relaxed);
    if (j->item.first_in_batch)
        atomic_fetch_add_explicit(&s->execution_count, 1, memory_order_relaxed);
    atomic_store_explicit(&s->last_inference_ms, wall_ms(), memory_order_relaxed);
}

/* The answer for a job whose outputs are written (or failed); releases everything. */
static void finish(void *arg, http_response *res) {
    infer_job *j = arg;
    uint64_t t0 = mono_ns();
    int ok = !j->item.failed;
    if (ok) {
        j->answer(j, res);
        ok = res->status == 200;
        if (ok) metrics_count_prediction(j->a->metrics, j->item.rows);
    } else {
        infer_reply_error(j->style, res, MLPD_EINTERNAL, NULL, NULL, "out of memory predicting");
    }
    record(j, ok, t0, mono_ns());
    if (j->begun) batcher_end(j->begun);
    model_cache_release(j->a->models, j->cm);
    j->release(j);
}

/* A gathered job's answer, on its HTTP thread's next turn: the first of the
 * turn's jobs to be answered predicts every job the thread gathered. */
static void finish_gathered(void *arg, http_response *res) {
    infer_job *j = arg;
    if (!j->item.ready) {
        /* A small batch waits one more turn of the loop, once, for the
         * requests that turn reads (when the thread has connections that
         * may send them): the weights are read once per batch, so under
         * load a batch of 1-4 rows costs 2-6x per row what 16 rows do. At
         * 64 connections this took float32's rows per batch from ~9 to
         * ~14 and its CPU per request down ~9%; the wait is one turn,
         * microseconds when nothing else is ready. */
        int rows = batcher_gathered_rows();
        if (!j->put_off && rows < BATCHER_GATHER_ROWS && http_thread_connections(j->req) > rows &&
            http_answer_next_turn(j->req, finish_gathered, j) == 0) {
            j->put_off = 1;
            return;
        }
        batcher_run_gathered(j->begun);
    }
    finish(j, res);
}

/* Batcher thread: the outputs are in; let the connection's thread answer. */
static void on_batched(batch_item *it) {
    http_deferred_resume(((infer_job *)it)->d);
}

int infer_ask_precision(infer_job *j, int precision, const char *pointer, http_response *res) {
    if (precision < 0) return 0;
    mlp_precision served = j->cm->precision;
    if (precision != MLP_PRECISION_F32 && (mlp_precision)precision != served) {
        infer_reply_error(j->style, res, MLPD_EINVAL, "precision-not-served", pointer,
                          "model %lld serves float32%s%s; another precision is opted into, with "
                          "its accuracy check, by PUT /models/{name}/versions/{v}/precision",
                          (long long)j->cm->id, served ? " and " : " only",
                          served ? mlp_precision_name(served) : "");
        return -1;
    }
    j->precision_asked = 1;
    j->item.precision = (mlp_precision)precision;
    return 0;
}

void infer_run(app *a, infer_job *j, const http_request *req, http_response *res) {
    j->a = a;
    j->req = req;
    j->item.model = j->cm->model;
    if (!j->precision_asked) j->item.precision = j->cm->precision;
    j->item.done = on_batched;
    j->stat = model_stats_get(a->stats, j->cm->id, j->target.name, j->target.version);
    j->decoded_ns = j->submit_ns = mono_ns();
    if (!j->start_ns) j->start_ns = j->decoded_ns;
    batcher *b = model_cache_batcher(a->models);
    if (b) batcher_begin(j->begun = b); /* batcher_end in finish() */
    if (b && batcher_gathers(b)) {
        /* This thread serves other connections too: gather the rows and
         * answer on its next turn, predicted with whatever else came in on
         * this one. With one connection, nothing would join them: now. */
        if ((http_thread_connections(req) > 1 || batcher_gathered_rows() > 0) &&
            http_answer_next_turn(req, finish_gathered, j) == 0) {
            batcher_gather(&j->item);
            return;
        }
        batcher_predict_now(b, &j->item);
        finish(j, res);
        return;
    }
    /* A batch delay asks for batches across threads: the batcher thread's. */
    if (b && (j->d = http_defer(req, finish, j)) != NULL) {
        if (batcher_submit(b, &j->item) == 0) return;
        /* The batcher is stopping (shutdown): predict here, answer as deferred. */
        batch_item_predict_here(&j->item);
        http_deferred_resume(j->d);
        return;
    }
    batch_item_predict_here(&j->item); /* no batcher (--predict-batch-rows 0), or not deferrable */
    finish(j, res);
}
