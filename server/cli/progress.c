/* progress.c - Keras-style progress lines (contracts in progress.h). */
#include "progress.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#define BAR_WIDTH      30
#define REDRAW_SECONDS 0.1

void progress_init(progress_bar *pb, FILE *out, int force_tty) {
    memset(pb, 0, sizeof *pb);
    pb->out = out;
    pb->tty = force_tty ? 1 : isatty(fileno(out));
    pb->last_draw = -1.0;
}

/* Append " - name: value" when value is known. Returns the new length. */
static size_t add_metric(char *buf, size_t n, size_t used, const char *name, double v,
                         const char *fmt) {
    if (isnan(v) || used >= n) return used;
    int k = snprintf(buf + used, n - used, " - %s: ", name);
    if (k < 0) return used;
    used += (size_t)k;
    if (used >= n) return used;
    k = snprintf(buf + used, n - used, fmt, v);
    return k < 0 ? used : used + (size_t)k;
}

int progress_format_epoch(char *buf, size_t n, const mlp_progress *p) {
    size_t used = 0;
    int k = snprintf(buf, n, "Epoch %d/%d - %.1fs - %.0f samples/s", p->epoch, p->epochs,
                     p->seconds, isnan(p->samples_per_sec) ? 0.0 : p->samples_per_sec);
    if (k < 0) return k;
    used = (size_t)k;
    used = add_metric(buf, n, used, "loss", p->loss, "%.4f");
    used = add_metric(buf, n, used, "accuracy", p->accuracy, "%.4f");
    used = add_metric(buf, n, used, "val_loss", p->val_loss, "%.4f");
    used = add_metric(buf, n, used, "val_accuracy", p->val_accuracy, "%.4f");
    used = add_metric(buf, n, used, "learning_rate", p->learning_rate, "%.4g");
    return (int)used;
}

int progress_format_bar(char *buf, size_t n, const mlp_progress *p, double mean_loss,
                        double mean_accuracy) {
    char bar[BAR_WIDTH + 1];
    long steps = p->steps > 0 ? p->steps : 1;
    int filled = (int)((double)p->step * BAR_WIDTH / (double)steps);
    if (filled > BAR_WIDTH) filled = BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled - 1 ? '=' : (i == filled - 1 ? (p->step >= steps ? '=' : '>') : '.');
    bar[BAR_WIDTH] = '\0';
    /* ETA from the mean time per batch so far. */
    double eta = p->step > 0 ? p->seconds / (double)p->step * (double)(steps - p->step) : 0.0;
    int k = snprintf(buf, n, "Epoch %d/%d %*ld/%ld [%s] - ETA: %.0fs", p->epoch, p->epochs,
                     (int)snprintf(NULL, 0, "%ld", steps), p->step, steps, bar, eta);
    if (k < 0) return k;
    size_t used = (size_t)k;
    used = add_metric(buf, n, used, "loss", mean_loss, "%.4f");
    used = add_metric(buf, n, used, "accuracy", mean_accuracy, "%.4f");
    return (int)used;
}

/* Erase the bar line so the next text starts at column 0 on a clean line. */
static void clear_bar(progress_bar *pb) {
    if (pb->drawn) fputs("\r\033[K", pb->out);
    pb->drawn = 0;
}

/* The bar shows the engine's running epoch means (weighted by rows, as the
 * epoch's own figures are), so its last drawing and the epoch line agree. */
void progress_batch(progress_bar *pb, const mlp_progress *p) {
    if (p->epoch != pb->last_epoch) {
        pb->last_epoch = p->epoch;
        pb->last_draw = -1.0;
    }
    if (!pb->tty) return;
    int last = p->step >= p->steps;
    if (!last && pb->last_draw >= 0.0 && p->seconds - pb->last_draw < REDRAW_SECONDS) return;
    pb->last_draw = p->seconds;
    char line[512];
    progress_format_bar(line, sizeof line, p, p->epoch_loss, p->epoch_accuracy);
    fputs("\r\033[K", pb->out);
    fputs(line, pb->out);
    fflush(pb->out);
    pb->drawn = 1;
}

void progress_epoch(progress_bar *pb, const mlp_progress *p) {
    char line[512];
    clear_bar(pb);
    progress_format_epoch(line, sizeof line, p);
    fprintf(pb->out, "%s\n", line);
    fflush(pb->out);
}
