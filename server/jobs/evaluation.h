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

/* Every call returns an mlpd_status and fills err (mlpd_error.h). */

/* Load split "train" or "test" of the registered data set `name` from
 * data_dir (the path the store records, which must stay inside data_dir),
 * refusing one that decodes to more than max_bytes; messages name files
 * relative to data_dir. *out is the caller's (mlp_dataset_free).
 * MLPD_ENOTFOUND: no data set of that name; MLPD_EINVAL: it has no such
 * split (a CSV has no test split); MLPD_EIO: its files cannot be read; a
 * store code; MLPD_EINTERNAL: a recorded path outside data_dir. */
mlpd_status evaluation_load_split(store *st, const char *data_dir, size_t max_bytes,
                                  const char *name, const char *split, mlp_dataset **out,
                                  mlpd_error *err);

/* Evaluate m on d (split `split` of data set `dataset`) and store the report
 * as an evaluation of model_id; its id into *eval_id (may be NULL).
 * MLPD_EINVAL: d does not fit m (widths or labels; err says how);
 * MLPD_ENOTFOUND: the model was deleted meanwhile; a store code;
 * MLPD_EINTERNAL: out of memory. */
mlpd_status evaluation_record(store *st, int64_t model_id, const mlp_model *m, const char *dataset,
                              const char *split, const mlp_dataset *d, int64_t *eval_id,
                              mlpd_error *err);

/* The EvaluationReport of m on d as compact JSON text (malloc'ed, the caller
 * frees), for store_run_succeed; NULL with err's code MLPD_EINVAL (d does
 * not fit m) or MLPD_EINTERNAL. evaluation_record is this, then
 * store_evaluation_put. */
char *evaluation_report_json(const mlp_model *m, const char *dataset, const char *split,
                             const mlp_dataset *d, mlpd_error *err);

/* What a job derives from its model m, for store_run_succeed: the report on
 * test (when not NULL) into *json, train's mean input into *mean (the "mean"
 * baseline of POST /explain), *d pointing at them; the caller frees *json
 * and *mean. Both are recomputable, so what fails is left out (NULL) and the
 * first failure is returned; MLPD_OK when nothing failed. */
mlpd_status evaluation_derive(const mlp_model *m, const char *dataset, const mlp_dataset *train,
                              const mlp_dataset *test, store_model_derived *d, char **json,
                              float **mean, mlpd_error *err);

#endif /* MLPD_EVALUATION_H */
