/* views_sweep.c - JSON bodies of sweeps (schemas Sweep, SweepChild,
 * SweepList of api/openapi.yaml), from the store's rows: the sweep's config
 * names the space's members, each child's config gives its settings. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sweeps.h"
#include "views.h"

/* Member `dotted` ("lr_schedule.type") of a train config object, or NULL. */
static const cJSON *member_at(const cJSON *config, const char *dotted) {
    char path[64];
    snprintf(path, sizeof path, "%s", dotted);
    const cJSON *o = config;
    for (char *tok = strtok(path, "."); tok && o; tok = strtok(NULL, "."))
        o = cJSON_GetObjectItemCaseSensitive(o, tok);
    return o;
}

typedef struct {
    cJSON *config;      /* the sweep's config (owned) */
    const cJSON *space; /* in config */
    mlp_metric metric;
} sweep_info;

static void info_open(sweep_info *si, const store_sweep *w) {
    si->config = w->config_json ? cJSON_Parse(w->config_json) : NULL;
    si->space = cJSON_GetObjectItemCaseSensitive(si->config, "space");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(si->config, "metric");
    si->metric = MLP_METRIC_VAL_ACCURACY;
    if (cJSON_IsString(m)) mlp_metric_from_name(m->valuestring, &si->metric);
}

static int is_pruned(const store_run *r) {
    return r->status == RUN_CANCELLED && r->error &&
           !strncmp(r->error, SWEEP_PRUNED_PREFIX, strlen(SWEEP_PRUNED_PREFIX));
}

static cJSON *settings_of(const sweep_info *si, const store_run *r) {
    cJSON *out = cJSON_CreateObject();
    cJSON *config = r->config_json ? cJSON_Parse(r->config_json) : NULL;
    for (const cJSON *k = si->space ? si->space->child : NULL; k; k = k->next) {
        const cJSON *v = member_at(config, k->string);
        cJSON_AddItemToObject(out, k->string, v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    }
    cJSON_Delete(config);
    return out;
}

static cJSON *child_view(const sweep_info *si, const store_run *r, int index) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "job", (double)r->id);
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddStringToObject(o, "status", run_status_name(r->status));
    cJSON_AddBoolToObject(o, "pruned", is_pruned(r));
    cJSON_AddItemToObject(o, "settings", settings_of(si, r));
    double v = api_sweep_metric_of(si->metric, r->loss, r->accuracy, r->val_loss, r->val_accuracy);
    cJSON_AddItemToObject(o, "value", api_json_number_or_null(v));
    cJSON_AddNumberToObject(o, "epoch", r->epoch);
    cJSON_AddNumberToObject(o, "epochs", r->epochs);
    cJSON_AddItemToObject(o, "loss", api_json_number_or_null(r->loss));
    cJSON_AddItemToObject(o, "accuracy", api_json_number_or_null(r->accuracy));
    cJSON_AddItemToObject(o, "val_loss", api_json_number_or_null(r->val_loss));
    cJSON_AddItemToObject(o, "val_accuracy", api_json_number_or_null(r->val_accuracy));
    cJSON_AddItemToObject(o, "test_accuracy", api_json_number_or_null(r->test_accuracy));
    cJSON_AddItemToObject(o, "model_id",
                          r->model_id > 0 ? cJSON_CreateNumber((double)r->model_id)
                                          : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "error", r->error ? cJSON_CreateString(r->error) : cJSON_CreateNull());
    return o;
}

cJSON *view_sweep_child(const store_sweep *w, const store_run *child, int index) {
    sweep_info si;
    info_open(&si, w);
    cJSON *o = child_view(&si, child, index);
    cJSON_Delete(si.config);
    return o;
}

static cJSON *counts_view(const store_run *children, size_t n, int max_runs) {
    int by[RUN_CANCELLED + 1] = {0}, pruned = 0;
    for (size_t i = 0; i < n; i++) {
        by[children[i].status]++;
        pruned += is_pruned(&children[i]);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "children", (double)n);
    cJSON_AddNumberToObject(o, "max_runs", max_runs);
    for (int s = RUN_QUEUED; s <= RUN_CANCELLED; s++)
        cJSON_AddNumberToObject(o, run_status_name((run_status)s), by[s]);
    cJSON_AddNumberToObject(o, "pruned", pruned);
    return o;
}

static cJSON *best_view(const sweep_info *si, const store_sweep *w, const store_run *children,
                        size_t n) {
    if (w->best_run_id <= 0) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "job", (double)w->best_run_id);
    cJSON_AddItemToObject(o, "value", api_json_number_or_null(w->best_value));
    for (size_t i = 0; i < n; i++) {
        if (children[i].id != w->best_run_id) continue;
        cJSON_AddNumberToObject(o, "index", (double)i);
        cJSON_AddItemToObject(o, "model_id",
                              children[i].model_id > 0
                                  ? cJSON_CreateNumber((double)children[i].model_id)
                                  : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "test_accuracy",
                              api_json_number_or_null(children[i].test_accuracy));
        cJSON_AddItemToObject(o, "settings", settings_of(si, &children[i]));
    }
    return o;
}

cJSON *view_sweep(const store_sweep *w, const store_run *children, size_t n, int with_children) {
    sweep_info si;
    info_open(&si, w);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)w->id);
    cJSON_AddStringToObject(o, "status", run_status_name(w->status));
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(si.config, "max_runs");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(si.config, "mode");
    cJSON_AddStringToObject(o, "metric", mlp_metric_name(si.metric));
    cJSON_AddStringToObject(o, "mode", cJSON_IsString(mode) ? mode->valuestring : "max");
    cJSON_AddItemToObject(o, "counts",
                          counts_view(children, n, cJSON_IsNumber(mr) ? mr->valueint : 0));
    cJSON_AddItemToObject(o, "best", best_view(&si, w, children, n));
    cJSON_AddItemToObject(o, "created_at", api_json_time_or_null(w->created_at));
    cJSON_AddItemToObject(o, "started_at", api_json_time_or_null(w->started_at));
    cJSON_AddItemToObject(o, "finished_at", api_json_time_or_null(w->finished_at));
    cJSON_AddItemToObject(o, "error", w->error ? cJSON_CreateString(w->error) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "config",
                          si.config ? cJSON_Duplicate(si.config, 1) : cJSON_CreateNull());
    if (with_children) {
        cJSON *arr = cJSON_AddArrayToObject(o, "children");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, child_view(&si, &children[i], (int)i));
    }
    cJSON_Delete(si.config);
    return o;
}
