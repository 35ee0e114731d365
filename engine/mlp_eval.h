/* mlp_eval.h - part of mlp.h: evaluation: loss, accuracy, confusion matrix and the report.
 *
 * Include "mlp.h", never this file: mlp.h is the engine's one public header
 * and includes its parts in dependency order (the general contracts are
 * written at its top). */
#ifndef MLP_EVAL_H
#define MLP_EVAL_H

#ifndef MLP_H_INSIDE
#error "include mlp.h, not the parts of it"
#endif

/* ---- evaluation ------------------------------------------------------------------ */
typedef struct {
    double loss;         /* mean loss per sample (without L1/L2 penalty) */
    double accuracy;     /* share of predicted class (as mlp_predict) == label */
    size_t n;            /* samples seen */
    int classes;         /* size of the confusion matrix */
    uint32_t *confusion; /* classes x classes, [true][predicted]; freed by mlp_eval_result_free */
} mlp_eval_result;

/* Evaluate m on d (d->features must equal the input width; labels must be
 * below the output width). Allocates res->confusion. Thread-safe on m. */
mlp_status mlp_evaluate(const mlp_model *m, const mlp_dataset *d, mlp_eval_result *res,
                        mlp_error *err);
/* As mlp_evaluate, predicting in precision p (mlp_forward_precision). */
mlp_status mlp_evaluate_precision(const mlp_model *m, mlp_precision p, const mlp_dataset *d,
                                  mlp_eval_result *res, mlp_error *err);
void mlp_eval_result_free(mlp_eval_result *res);

/* An evaluation report: what a person reading a classifier asks after the
 * accuracy (where does it fail, on what). Per class c (rows of the confusion
 * matrix are true classes, columns predicted ones):
 *   precision = C[c][c] / column sum, recall = C[c][c] / row sum (support),
 *   f1 = 2 p r / (p + r); 0 when the denominator is 0 (scikit-learn's
 *   zero_division=0). macro = unweighted mean over classes, weighted = mean
 *   weighted by support (scikit-learn's classification_report). */
typedef struct {
    int true_class, predicted;
    uint32_t count;
} mlp_confused_pair;

typedef struct {
    uint32_t index; /* row of the data set */
    int label, predicted;
    float p_predicted, p_label; /* the output's probability of each (as mlp_predict) */
} mlp_misclassified;

typedef struct {
    mlp_eval_result eval;            /* loss, accuracy, n, classes, confusion */
    double *precision, *recall, *f1; /* (classes) each */
    uint32_t *support;               /* (classes): rows whose label is the class */
    double macro[3], weighted[3];    /* precision, recall, f1 */
    mlp_confused_pair *pairs;        /* off-diagonal cells with count > 0, largest first */
    int n_pairs;
    mlp_misclassified *worst; /* misclassified rows, highest p_predicted first */
    int n_worst;
} mlp_report;

/* Fill *r for m on d: mlp_evaluate, the per-class figures, at most max_pairs
 * most confused pairs and max_worst worst misclassified rows (ties keep the
 * lower index first). Allocates; free with mlp_report_free (also after an
 * error). Reads m only. */
mlp_status mlp_evaluate_report(const mlp_model *m, const mlp_dataset *d, int max_pairs,
                               int max_worst, mlp_report *r, mlp_error *err);
void mlp_report_free(mlp_report *r);

#endif /* MLP_EVAL_H */
