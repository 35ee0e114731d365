/* batcher.h - dynamic batching of concurrent predictions.
 *
 * At batch 1 a forward pass is bound by reading the weights (784-512-256-10:
 * 2 MB per row, ~40 µs); rows computed together share that read, so a batch
 * of 32 costs a fraction per row (make bench, in-process inference: tests/bench/bench_engine.c). HTTP threads parse a
 * request, submit its rows here and suspend the connection; one batcher
 * thread takes every queued item for the same model (up to max_rows rows),
 * runs one mlp_predict() over them, writes each item's outputs and calls its
 * done() callback, which resumes the connection.
 *
 * The queue is never waited on when it is empty: with max_delay_us = 0 (the
 * default) a batch is whatever queued up while the previous one ran, so an
 * idle daemon answers one request at once and a loaded one batches more
 * (as Triton's dynamic batcher with max_queue_delay 0). With max_delay_us > 0
 * a batch smaller than max_rows waits up to that long after its oldest item
 * arrived for more rows.
 *
 * When nothing is queued, no batch is running and the last batch had one row
 * (low load), batcher_run_here() lets the submitting thread predict its item
 * itself: an idle daemon answers without handing the request to another
 * thread and back (two wake-ups).
 * While that runs, other items queue for the batcher thread as usual.
 *
 * Threads: batcher_submit() and batcher_run_here() from any thread; done()
 * runs on the batcher thread, outside the batcher's lock. Predictions may run
 * on two threads at once (the batcher's and one batcher_run_here), each with
 * its own scratch; the model is read-only (mlp.h). A batch that is one
 * request with nothing else queued (low load) may be split over idle cores
 * by the engine (mlp_predict_cores); one gathered from several requests is
 * not, since their HTTP threads keep the other cores busy.
 */
#ifndef MLPD_BATCHER_H
#define MLPD_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"
#include "mlpd_error.h"

typedef struct batch_item batch_item;

/* One request's rows. The submitter fills the first block and keeps the
 * item (and x, probs, labels) alive until done() is called. */
struct batch_item {
    const mlp_model *model;       /* read-only while queued */
    mlp_precision precision;      /* computed in (float32 when the model lacks it); items of
                                     one batch share model and precision */
    const float *x;               /* (rows, inputs) */
    int rows;                     /* >= 1 */
    float *probs;                 /* (rows, outputs), written by the batcher */
    int *labels;                  /* (rows), written by the batcher */
    int failed;                   /* set by the batcher: no memory for the batch, outputs unset */
    void (*done)(batch_item *it); /* called once, outputs written, on the batcher thread */
    /* Set with the outputs (per-model statistics): when its batch started
     * (mono_ns(), clock.h), how long the batch's forward pass took, and 1 on
     * the first item of its batch (one model execution per batch). */
    uint64_t started_ns;
    uint64_t compute_ns;
    int first_in_batch;
    /* internal */
    batch_item *next;
    uint64_t enqueued_ns;
};

typedef struct {
    int max_rows;     /* rows per mlp_predict call, >= 1 (an item with more runs alone) */
    int max_delay_us; /* wait for more rows, 0 = never wait */
    int idle_gap_us;  /* with a delay: stop waiting when no item came for this long,
                                 and wait only after a batch of 2+ rows; 0 = off */
} batcher_options;

typedef struct {
    uint64_t batches; /* mlp_predict calls */
    uint64_t items;   /* requests answered */
    uint64_t rows;    /* rows predicted */
} batcher_stats;

typedef struct batcher batcher;

#define BATCHER_DEFAULT_MAX_ROWS 64

/* Start the batcher thread. NULL with MLPD_EINTERNAL and a reason in err
 * (may be NULL). */
batcher *batcher_create(const batcher_options *o, mlpd_error *err);

/* Queue it. Returns 0, or -1 once batcher_free() has begun (it->done is then
 * never called: the caller answers by itself). */
int batcher_submit(batcher *b, batch_item *it);

/* Predict it on the calling thread, without the batcher: outputs written, or
 * it->failed set when there is no memory for the scratch; it->done is not
 * called. */
void batch_item_predict_here(batch_item *it);

/* With nothing queued, no batch running, the last batch one row and no
 * delay configured: batch_item_predict_here(it) now and return 1 (outputs written or it->failed set;
 * it->done is NOT called; counted as a batch of its own). Otherwise 0: the
 * caller submits it. */
int batcher_run_here(batcher *b, batch_item *it);

void batcher_get_stats(batcher *b, batcher_stats *out);

/* Answer every queued item (done() is called for each), stop the thread,
 * free b. NULL is fine. */
void batcher_free(batcher *b);

#endif /* MLPD_BATCHER_H */
