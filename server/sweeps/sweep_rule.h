/* sweep_rule.h - the median stopping rule (Google Vizier's, as Optuna's
 * MedianPruner applies it; docs/sweeps.md).
 *
 * A running child that has completed epoch e > grace_epochs is stopped when
 * its best value of the sweep's metric over epochs 1..e is strictly worse
 * than the median of the values that the sweep's finished (succeeded)
 * children recorded at epoch e, provided at least min_children of them
 * reached epoch e. "Worse" follows the mode: below for max, above for min.
 * A child is never compared with itself, and without enough finished
 * children nothing is stopped: the rule only acts on evidence.
 */
#ifndef MLPD_SWEEP_RULE_H
#define MLPD_SWEEP_RULE_H

#include <stddef.h>

#include "mlp.h"

/* The median of v[0..n) (n >= 1; v is reordered). */
double sweep_median(double *v, size_t n);

/* The best of v[0..n) for mode (NaN values skipped; NaN when none). */
double sweep_best_of(const double *v, size_t n, mlp_mode mode);

typedef struct {
    mlp_mode mode; /* MLP_MODE_MIN or MLP_MODE_MAX */
    int grace_epochs, min_children;
} sweep_rule;

/* Decide for one child: series[0..epochs) its metric per epoch; peers[0..n)
 * the finished children's values at epoch `epochs` (NaN entries ignored).
 * Returns 1 to stop it, with *best and *median filled for the reason;
 * 0 to let it run. */
int sweep_rule_should_stop(const sweep_rule *r, const double *series, int epochs,
                           const double *peers, size_t n, double *best, double *median);

#endif /* MLPD_SWEEP_RULE_H */
