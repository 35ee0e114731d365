/* views.h - JSON bodies of the store's records, as api/openapi.yaml's schemas
 * describe them. Each function builds a new cJSON tree (the caller owns it:
 * cJSON_Delete, or hand it to http_reply_json) or returns NULL when out of
 * memory; conventions as in api/encode.h (times RFC 3339 UTC, unknown numbers
 * and times null, stored JSON texts embedded as JSON). */
#ifndef MLPD_VIEWS_H
#define MLPD_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "encode.h"
#include "jobs.h"
#include "store.h"

/* o[name] = v written as an integer literal: cJSON writes a double and may
 * round one above 10^15 (an echoed ?offset= must be what was sent). */
void view_add_integer(cJSON *o, const char *name, int64_t v);

/* Schema Job. live: the runner's fresher state while the run trains, or NULL. */
cJSON *view_job(const store_run *r, const jobs_live *live);

/* Schema JobList: jobs (live state not included), total, limit, offset. */
cJSON *view_job_list(const store_run *runs, size_t n, int64_t total, int limit, int64_t offset);

/* Schema Metric. */
cJSON *view_metric(const store_metric *m);

/* Schema Metrics: {"job", "metrics": [...], "next_since"}; next_since is the
 * largest id given, or `since` when there are none. */
cJSON *view_metrics(int64_t run_id, const store_metric *m, size_t n, int64_t since);

/* Schema Model. */
cJSON *view_model(const store_model *m);
/* Schema ModelList. */
cJSON *view_model_list(const store_model *models, size_t n, int64_t total, int limit,
                       int64_t offset);

/* Schema RegisteredModel: name, versions (Model, oldest first), latest_version,
 * aliases {alias: version}, default_alias, default_version, canary
 * {version, percent} or null; reg may be NULL (no aliases, no canary). */
cJSON *view_registered_model(const char *name, const store_model *versions, size_t n,
                             const store_registry *reg, const char *default_alias);
/* Schema Evaluation: {"id", "model", "created_at", ...the stored report's members}. */
cJSON *view_evaluation(const store_evaluation *e);

/* Schema Dataset, and DatasetList {"datasets": [...]}. */
cJSON *view_dataset(const store_dataset *d);
cJSON *view_dataset_list(const store_dataset *list, size_t n);

/* Schema Sweep (views_sweep.c): the sweep, counts of its children by
 * status, the best child, its config, and with_children its children
 * (SweepChild, oldest first). */
cJSON *view_sweep(const store_sweep *w, const store_run *children, size_t n, int with_children);
/* Schema SweepChild: child `index` of w. */
cJSON *view_sweep_child(const store_sweep *w, const store_run *child, int index);

#endif /* MLPD_VIEWS_H */
