/* batcher.h - dynamic batching of concurrent predictions.
 *
 * At batch 1 a forward pass is bound by reading the weights (784-512-256-10:
 * 2 MB per row, ~40 µs); rows computed together share that read, so a batch
 * of 32 costs a fraction per row (make bench, in-process inference:
 * tests/bench/bench_engine.c). Two ways to batch:
 *
 * Gathering (the default, no delay configured): each HTTP thread batches
 * the requests of its own connections. It gathers each decoded request's
 * item (batcher_gather) and answers on its event loop's next turn, when the
 * first of them predicts every item the thread gathered meanwhile
 * (batcher_run_gathered): as many rows as requests came in on one turn, no
 * hand-off to another thread, no wake-up, and every HTTP thread computes on
 * its own core. A thread with one connection predicts at once
 * (batcher_predict_now).
 *
 * The batcher thread (a delay configured, max_delay_us > 0): HTTP threads
 * submit items and suspend their connections; the thread takes every queued
 * item for the same model (up to max_rows rows), waiting up to the delay
 * after the oldest item arrived for max_rows rows, runs one mlp_predict()
 * over them, writes each item's outputs and calls its done() callback, which
 * resumes the connection.
 *
 * Threads: batcher_submit() and batcher_predict_now() from any thread; done()
 * runs on the batcher thread, outside the batcher's lock; gathered items are
 * predicted on the thread that gathered them. Predictions run on several
 * threads at once, each with its own scratch; the model is read-only
 * (mlp.h). A prediction of one request while no other is served and none
 * overlapped lately (low load: batcher_begin) may be split over idle cores
 * by the engine (mlp_predict_cores); a batch of several requests is not,
 * since their HTTP threads keep the other cores busy.
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
    int ready;                    /* set by the batcher: outputs written (or failed) */
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

/* Predict it on the calling thread now, counted as a batch of its own:
 * outputs written or it->failed set; it->done is not called. The engine may
 * split it over idle cores when no other prediction runs. */
void batcher_predict_now(batcher *b, batch_item *it);

/* ---- gathering on the calling thread --------------------------------------------
 * An HTTP thread serving several connections batches the requests it decodes
 * in one turn of its event loop itself: no batcher thread, no hand-off, no
 * wake-up. It gathers each item as it is decoded and, on the next turn
 * (http_answer_next_turn), the first of them to be answered predicts them
 * all at once; each then finds its outputs written. Under load a turn
 * holds many requests, so rows share the weights' reads as in the
 * batcher thread's batches, and each HTTP thread computes its own on its
 * own core.
 *
 * Only when no delay is configured (batcher_gathers): a delay asks for
 * batches that wait for requests of every thread (the batcher thread). */
int batcher_gathers(const batcher *b);
/* Fewer rows than this gathered on a thread: its caller may put the batch
 * off by one turn of its event loop, once, for the requests that turn reads
 * (infer.c). About where a bigger batch stops paying (the reference network
 * on one core: ~6 us a row at 16 rows, ~5.5 at 64, 34 for one row alone). */
#define BATCHER_GATHER_ROWS 16
/* Add it to this thread's gathered items (ready = 0). done() is never called. */
void batcher_gather(batch_item *it);
/* Rows gathered on this thread and not yet predicted. */
int batcher_gathered_rows(void);
/* Predict every item gathered on this thread, in batches of one model and
 * precision up to max_rows rows (an item with more runs alone); each item's
 * outputs are written (or failed set) and ready set. Counted in b's stats. */
void batcher_run_gathered(batcher *b);

/* ---- load ---------------------------------------------------------------------------
 * The inference path tells the batcher when a request enters (after
 * decoding, before its rows are predicted) and when it is answered. A lone
 * request's prediction (batcher_predict_now, or one gathered item) may be
 * split over idle cores only while it is the only request served and no
 * two requests overlapped for BATCHER_QUIET_NS: under load the other cores
 * are busy serving, even between requests. Any thread. */
#define BATCHER_QUIET_NS 10000000u /* 10 ms */
void batcher_begin(batcher *b);
void batcher_end(batcher *b);

void batcher_get_stats(batcher *b, batcher_stats *out);

/* Answer every queued item (done() is called for each), stop the thread,
 * free b. NULL is fine. */
void batcher_free(batcher *b);

#endif /* MLPD_BATCHER_H */
