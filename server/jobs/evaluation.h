/* evaluation.h - evaluation reports of models, made and stored: at the end of
 * a job (jobs_worker.c, on the test split it already holds) and on request
 * (POST /models/{id}/evaluate, routes_evaluation.c).
 */
#ifndef MLPD_EVALUATION_H
#define MLPD_EVALUATION_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"
#include "store.h"

/* Results of evaluation_load_split / evaluation_record. */
#define EVAL_OK         0
#define EVAL_NO_DATASET 1    /* no data set of that name */
#define EVAL_NO_SPLIT   2    /* the data set has no such split (a CSV has no test split) */
#define EVAL_MISMATCH   3    /* widths or labels do not fit the model */
#define EVAL_NO_MODEL   4    /* the model was deleted meanwhile */
#define EVAL_ERR        (-1) /* a read, store or memory failure */

/* Load split "train" or "test" of the registered data set `name` from
 * data_dir (the path the store records, which must stay inside data_dir),
 * refusing one that decodes to more than max_bytes; messages name files
 * relative to data_dir.
 * *out is the caller's (mlp_dataset_free). The reason goes to why. */
int evaluation_load_split(store *st, const char *data_dir, size_t max_bytes, const char *name,
                          const char *split, mlp_dataset **out, char *why, size_t cap);

/* Evaluate m on d (split `split` of data set `dataset`) and store the report
 * as an evaluation of model_id; its id into *eval_id (may be NULL).
 * EVAL_MISMATCH when d does not fit m (why says how). */
int evaluation_record(store *st, int64_t model_id, const mlp_model *m, const char *dataset,
                      const char *split, const mlp_dataset *d, int64_t *eval_id, char *why,
                      size_t cap);

/* The EvaluationReport of m on d as compact JSON text (malloc'ed, the caller
 * frees), for store_run_succeed; NULL with *rc (EVAL_MISMATCH or EVAL_ERR)
 * and why. evaluation_record is this, then store_evaluation_put. */
char *evaluation_report_json(const mlp_model *m, const char *dataset, const char *split,
                             const mlp_dataset *d, int *rc, char *why, size_t cap);

/* What a job derives from its model m, for store_run_succeed: the report on
 * test (when not NULL) into *json, train's mean input into *mean (the "mean"
 * baseline of POST /explain), *d pointing at them; the caller frees *json
 * and *mean. Both are recomputable, so what fails is left out (NULL) and the
 * first failure is returned with why; EVAL_OK when nothing failed. */
int evaluation_derive(const mlp_model *m, const char *dataset, const mlp_dataset *train,
                      const mlp_dataset *test, store_model_derived *d, char **json, float **mean,
                      char *why, size_t cap);

#endif /* MLPD_EVALUATION_H */
