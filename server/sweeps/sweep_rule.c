/* sweep_rule.c - the median stopping rule (contract in sweep_rule.h). */
#include "sweep_rule.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double sweep_median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double sweep_best_of(const double *v, size_t n, mlp_mode mode) {
    double best = NAN;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        if (isnan(best) || (mode == MLP_MODE_MIN ? v[i] < best : v[i] > best)) best = v[i];
    }
    return best;
}

int sweep_rule_should_stop(const sweep_rule *r, const double *series, int epochs,
                           const double *peers, size_t n, double *best, double *median) {
    if (epochs <= r->grace_epochs || epochs < 1) return 0;
    double *vals = malloc((n ? n : 1) * sizeof *vals);
    if (!vals) return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(peers[i])) vals[k++] = peers[i];
    int stop = 0;
    if (k >= (size_t)r->min_children && k > 0) {
        double m = sweep_median(vals, k);
        double b = sweep_best_of(series, (size_t)epochs, r->mode);
        stop = !isnan(b) && (r->mode == MLP_MODE_MIN ? b > m : b < m);
        if (best) *best = b;
        if (median) *median = m;
    }
    free(vals);
    return stop;
}
