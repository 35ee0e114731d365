/* report.c - the evaluation report (mlp.h: mlp_evaluate_report).
 *
 * The confusion matrix comes from mlp_evaluate; the per-class figures and the
 * most confused pairs are read off it; the worst misclassified rows need each
 * row's probabilities, so a second pass predicts the data set in chunks and
 * keeps the max_worst rows with the most confident wrong answer (an insertion
 * into a short sorted array: max_worst is small).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define REPORT_CHUNK 256

void mlp_report_free(mlp_report *r) {
    if (!r) return;
    mlp_eval_result_free(&r->eval);
    free(r->precision);
    free(r->recall);
    free(r->f1);
    free(r->support);
    free(r->pairs);
    free(r->worst);
    memset(r, 0, sizeof *r);
}

static void class_figures(mlp_report *r) {
    int K = r->eval.classes;
    const uint32_t *C = r->eval.confusion;
    double n = (double)r->eval.n;
    for (int c = 0; c < K; c++) {
        uint64_t row = 0, col = 0;
        for (int k = 0; k < K; k++) {
            row += C[(size_t)c * K + k];
            col += C[(size_t)k * K + c];
        }
        double tp = C[(size_t)c * K + c];
        double p = col ? tp / (double)col : 0.0, rc = row ? tp / (double)row : 0.0;
        r->precision[c] = p;
        r->recall[c] = rc;
        r->f1[c] = p + rc > 0.0 ? 2.0 * p * rc / (p + rc) : 0.0;
        r->support[c] = (uint32_t)row;
        double fig[3] = {p, rc, r->f1[c]};
        for (int f = 0; f < 3; f++) {
            r->macro[f] += fig[f] / K;
            if (n > 0) r->weighted[f] += fig[f] * (double)row / n;
        }
    }
}

/* Off-diagonal cells, largest first (then by true class, predicted class). */
static void confused_pairs(mlp_report *r, int max_pairs) {
    int K = r->eval.classes;
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++) {
            uint32_t c = r->eval.confusion[(size_t)t * K + p];
            if (t == p || c == 0) continue;
            int at = r->n_pairs < max_pairs ? r->n_pairs : max_pairs;
            while (at > 0 && r->pairs[at - 1].count < c) at--;
            if (at >= max_pairs) continue;
            int last = r->n_pairs < max_pairs ? r->n_pairs : max_pairs - 1;
            memmove(r->pairs + at + 1, r->pairs + at, (size_t)(last - at) * sizeof *r->pairs);
            r->pairs[at] = (mlp_confused_pair){t, p, c};
            if (r->n_pairs < max_pairs) r->n_pairs++;
        }
}

/* The probability the output gives class k (a single unit: k = 1 is y). */
static float class_prob(const float *row, int O, int k) {
    if (O == 1) return k ? row[0] : 1.0f - row[0];
    return row[k];
}

static void keep_worst(mlp_report *r, int max_worst, const mlp_misclassified *w) {
    int at = r->n_worst < max_worst ? r->n_worst : max_worst;
    while (at > 0 && r->worst[at - 1].p_predicted < w->p_predicted) at--;
    if (at >= max_worst) return;
    int last = r->n_worst < max_worst ? r->n_worst : max_worst - 1;
    memmove(r->worst + at + 1, r->worst + at, (size_t)(last - at) * sizeof *r->worst);
    r->worst[at] = *w;
    if (r->n_worst < max_worst) r->n_worst++;
}

static mlp_status worst_rows(const mlp_model *m, const mlp_dataset *d, mlp_report *r, int max_worst,
                             mlp_error *err) {
    int In = m->arch.sizes[0], O = m->arch.sizes[m->arch.n_layers];
    int chunk = d->n < REPORT_CHUNK ? (int)d->n : REPORT_CHUNK;
    uint32_t *idx = malloc(sizeof *idx * (size_t)chunk);
    int32_t *y = malloc(sizeof *y * (size_t)chunk);
    int *pred = malloc(sizeof *pred * (size_t)chunk);
    float *x = malloc(sizeof *x * (size_t)chunk * In),
          *out = malloc(sizeof *out * (size_t)chunk * O);
    float *scratch = malloc(sizeof *scratch * mlp_scratch_floats(m, chunk));
    mlp_status s = MLP_OK;
    if (!idx || !y || !pred || !x || !out || !scratch) {
        s = mlp_fail(err, MLP_ENOMEM, "out of memory for the report");
        goto done;
    }
    for (size_t start = 0; start < d->n; start += (size_t)chunk) {
        int n = d->n - start < (size_t)chunk ? (int)(d->n - start) : chunk;
        for (int i = 0; i < n; i++) idx[i] = (uint32_t)(start + (size_t)i);
        mlp_dataset_gather(d, idx, n, x, y);
        mlp_predict(m, x, n, out, pred, scratch);
        for (int i = 0; i < n; i++) {
            if (pred[i] == y[i]) continue;
            const float *row = out + (size_t)i * O;
            mlp_misclassified w = {idx[i], y[i], pred[i], class_prob(row, O, pred[i]),
                                   class_prob(row, O, y[i])};
            keep_worst(r, max_worst, &w);
        }
    }
done:
    free(idx), free(y), free(pred), free(x), free(out), free(scratch);
    return s;
}

mlp_status mlp_evaluate_report(const mlp_model *m, const mlp_dataset *d, int max_pairs,
                               int max_worst, mlp_report *r, mlp_error *err) {
    memset(r, 0, sizeof *r);
    if (max_pairs < 0 || max_worst < 0)
        return mlp_fail(err, MLP_EINVAL, "max_pairs and max_worst must be >= 0");
    mlp_status s = mlp_evaluate(m, d, &r->eval, err);
    if (s != MLP_OK) return s;
    int K = r->eval.classes;
    r->precision = calloc((size_t)K, sizeof *r->precision);
    r->recall = calloc((size_t)K, sizeof *r->recall);
    r->f1 = calloc((size_t)K, sizeof *r->f1);
    r->support = calloc((size_t)K, sizeof *r->support);
    r->pairs = calloc((size_t)max_pairs + 1, sizeof *r->pairs);
    r->worst = calloc((size_t)max_worst + 1, sizeof *r->worst);
    if (!r->precision || !r->recall || !r->f1 || !r->support || !r->pairs || !r->worst) {
        mlp_report_free(r);
        return mlp_fail(err, MLP_ENOMEM, "out of memory for the report");
    }
    class_figures(r);
    if (max_pairs > 0) confused_pairs(r, max_pairs);
    if (max_worst > 0 && d->n > 0) s = worst_rows(m, d, r, max_worst, err);
    if (s != MLP_OK) mlp_report_free(r);
    return s;
}
