/* progress.h - Keras-style training progress for `mlpd train`.
 *
 * While an epoch runs and the output is a terminal, one line is redrawn in
 * place (at most every 100 ms):
 *   Epoch 3/10  120/469 [=======>.......................] - ETA: 2s - loss: 0.4123 ...
 * At the end of every epoch, terminal or not, one permanent line is written:
 *   Epoch 3/10 - 1.2s - 51000 samples/s - loss: 0.4123 - accuracy: 0.8812
 *   (then " - val_loss: ... - val_accuracy: ..." with a validation split)
 * Metrics that are NaN (e.g. val_* without a validation split) are left out.
 */
#ifndef MLPD_PROGRESS_H
#define MLPD_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

#include "mlp.h"

typedef struct {
    FILE *out;
    int tty;          /* redraw a bar during epochs (out is a terminal) */
    int drawn;        /* a bar is on screen and must be cleared first */
    double last_draw; /* p->seconds when the bar was last drawn */
    int last_epoch;   /* epoch the bar is drawn for */
} progress_bar;

/* Start reporting to out; the bar is drawn only if out is a terminal
 * (isatty), unless force_tty is 1 (0: decide by isatty). */
void progress_init(progress_bar *pb, FILE *out, int force_tty);

/* On every batch (an mlp_train on_batch callback's data): redraws the bar,
 * with the epoch's running means (p->epoch_loss, p->epoch_accuracy), when
 * due; always after the epoch's last batch. Writes nothing unless tty. */
void progress_batch(progress_bar *pb, const mlp_progress *p);

/* On every epoch's end: clears the bar and writes the epoch line, flushed. */
void progress_epoch(progress_bar *pb, const mlp_progress *p);

/* The two lines as text, without newline (for tests and for other writers).
 * Return what snprintf returns. */
int progress_format_epoch(char *buf, size_t n, const mlp_progress *p);
int progress_format_bar(char *buf, size_t n, const mlp_progress *p, double mean_loss,
                        double mean_accuracy);

#endif /* MLPD_PROGRESS_H */
