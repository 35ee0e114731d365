/* sweep_request.h - the POST /sweeps body: a base training request, a search
 * space over its members, and how the search runs (docs/sweeps.md).
 *
 *   base          a POST /train body (train_request.h); default: the reference
 *                 recipe. Its model_name, when absent, is "<dataset>-sweep"
 *                 (every child's model becomes a version of that name).
 *   space         {member: spec}; member is a recipe member by its dotted
 *                 name ("learning_rate", "hidden", "lr_schedule.type"); spec is
 *                 a list of values (a grid axis; a choice in a random search),
 *                 or {"type": "uniform"|"log_uniform", "low", "high"} for a
 *                 number member (an integer member gets the value rounded), or
 *                 {"type": "choice", "values": [...]}.
 *   method        "grid" (every combination, last member fastest) or "random"
 *                 (max_runs draws); default random when any spec is an object.
 *   max_runs      children at most (1..API_SWEEP_MAX_RUNS; grid default: every
 *                 point, random default 10); parallel: children at once (1..64).
 *   metric        val_accuracy (default) | val_loss | accuracy | loss; a val_*
 *                 metric needs a validation split in every child. mode: min |
 *                 max | auto (max for accuracies), stored resolved.
 *   budget_seconds  optional: no child starts after it, running ones stop.
 *   seed          the random sampler's (default 0): child i's settings depend
 *                 on (seed, i) only, so a restarted sweep draws the same ones.
 *   pruning       {"rule": "median"|"none", "grace_epochs", "min_children"}
 *                 (the median stopping rule, sweep_rule.h).
 * Every refusal is a 422 (400 for malformed JSON) whose pointer names the
 * member at fault ("/space/dropout/high"). Every child the sweep would make
 * is decoded as a train request when the sweep is decoded, so a child can
 * only fail later for reasons of the daemon's state (a data set removed).
 */
#ifndef MLPD_API_SWEEP_REQUEST_H
#define MLPD_API_SWEEP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "problem.h"
#include "train_request.h"

#define API_SWEEP_MAX_RUNS     1000 /* children of one sweep, and grid points */
#define API_SWEEP_MAX_PARALLEL 64
#define API_SWEEP_MAX_PARAMS   16
#define API_SWEEP_MAX_BUDGET   (30.0 * 24 * 3600)

typedef enum { API_SWEEP_GRID = 0, API_SWEEP_RANDOM } api_sweep_method;
typedef enum {
    API_SPEC_LIST = 0, /* a bare list: a grid axis, or a choice in a random search */
    API_SPEC_UNIFORM,
    API_SPEC_LOG_UNIFORM,
    API_SPEC_CHOICE
} api_sweep_spec_kind;

typedef struct {
    char key[48]; /* the recipe member's dotted name */
    api_sweep_spec_kind kind;
    double low, high; /* uniform, log_uniform */
    int integer;      /* the member is an integer: draws are rounded */
    cJSON *values;    /* list and choice: the JSON array (owned) */
    int n_values;
} api_sweep_param;

typedef struct {
    api_train_request base;
    api_sweep_method method;
    api_sweep_param params[API_SWEEP_MAX_PARAMS];
    int n_params;
    int max_runs, parallel;
    mlp_metric metric;
    mlp_mode mode;         /* MLP_MODE_MIN or MLP_MODE_MAX after decode */
    double budget_seconds; /* 0: none */
    uint64_t seed;
    int prune_median;    /* 1: the median stopping rule, 0: none */
    int grace_epochs;    /* epochs a child always runs before it may be stopped */
    int min_children;    /* finished children needed before the rule applies */
    int64_t grid_points; /* grid: the space's size (product of the lists) */
} api_sweep_request;

/* Decode and validate (see above). 0, or -1 with *prob filled; out is then
 * left empty (nothing to free). */
int api_sweep_request_decode(const char *json, size_t len, api_sweep_request *out,
                             api_problem *prob);
void api_sweep_request_free(api_sweep_request *r);

/* The full, defaulted sweep as compact JSON (malloc'ed): what a sweep
 * records as its config and what decode reads back identically. */
char *api_sweep_request_encode(const api_sweep_request *r);

/* Child `index` (0-based, < max_runs): its train request and, when settings
 * is not NULL, its settings as a new object {member: value} (caller frees).
 * 0, or -1 with *prob saying why the child is not a valid train request
 * (pointer into the sweep body: /space/<member> or /base/...). */
int api_sweep_child(const api_sweep_request *r, int index, api_train_request *child,
                    cJSON **settings, api_problem *prob);

/* Value k of list or choice `param` set into the base must be a valid train
 * request: 0, or -1 with a 422 pointing at it (/space/<member>/k or
 * /space/<member>/values/k). Decode checks every value with it. */
int api_sweep_check_value(const api_sweep_request *r, int param, int k, api_problem *prob);

/* The value of the metric named by the sweep in a run's last epoch values. */
double api_sweep_metric_of(mlp_metric m, double loss, double accuracy, double val_loss,
                           double val_accuracy);

/* 1 when a is strictly better than b for mode (NaN is never better; any
 * number is better than NaN). */
int api_sweep_better(mlp_mode mode, double a, double b);

#endif /* MLPD_API_SWEEP_REQUEST_H */
