/* views.c - JSON bodies of the store's records (jobs, metrics, models, data
 * sets) as api/openapi.yaml's schemas describe them. They live in server/
 * because they read the store's and the job runner's structs; api/ keeps
 * the codecs that depend on the engine only. */
#include "views.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json_scan.h"

void view_add_integer(cJSON *o, const char *name, int64_t v) {
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)v);
    cJSON_AddRawToObject(o, name, text);
}

static cJSON *id_or_null(int64_t id) {
    return id > 0 ? cJSON_CreateNumber((double)id) : cJSON_CreateNull();
}

static cJSON *string_or_null(const char *s) {
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Stored JSON text embedded as JSON; null when absent or not exactly one
 * JSON value. Checked by the strict scanner and embedded as it is (raw):
 * parsing it into a tree and printing it again was most of GET /jobs's time
 * (50 configurations a page; make bench, section 7). */
static cJSON *embedded_json(const char *text) {
    if (!text) return cJSON_CreateNull();
    api_problem prob;
    api_json_scan s = {.p = text, .end = text + strlen(text), .start = text, .prob = &prob};
    api_json_scan_ws(&s);
    int ok = api_json_scan_skip(&s, 0) == 0;
    api_json_scan_ws(&s);
    cJSON *v = ok && s.p == s.end ? cJSON_CreateRaw(text) : NULL;
    return v ? v : cJSON_CreateNull();
}

/* The same as a tree of its members (for a view that moves them). */
static cJSON *embedded_tree(const char *text) {
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    return v ? v : cJSON_CreateNull();
}

/* Share of the run done, from what the store knows. */
static double stored_progress(const store_run *r) {
    if (r->status == RUN_SUCCEEDED) return 1.0;
    if (r->epochs <= 0) return 0.0;
    double p = (double)r->epoch;
    if (r->steps > 0 && r->step > 0 && r->step < r->steps) p += (double)r->step / (double)r->steps;
    p /= (double)r->epochs;
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

cJSON *view_job(const store_run *r, const jobs_live *live) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    cJSON_AddStringToObject(o, "status", run_status_name(r->status));
    cJSON_AddStringToObject(o, "dataset", r->dataset ? r->dataset : "");
    cJSON_AddItemToObject(o, "config", embedded_json(r->config_json));
    int epoch = r->epoch;
    int64_t step = r->step, steps = r->steps;
    double loss = r->loss, accuracy = r->accuracy, sps = r->samples_per_sec, eta = NAN;
    double progress = stored_progress(r);
    if (live) {
        /* live->epoch is the epoch in progress; the Job counts completed ones. */
        epoch = live->epoch > 0 ? live->epoch - 1 : 0;
        if (live->step >= live->steps && live->steps > 0)
            epoch = live->epoch, step = 0;
        else
            step = live->step;
        steps = live->steps;
        /* Before the first batch of an epoch the live means are not values yet. */
        if (live->step > 0 && isfinite(live->loss)) loss = live->loss;
        if (live->step > 0 && isfinite(live->accuracy)) accuracy = live->accuracy;
        sps = live->samples_per_sec;
        eta = live->eta_seconds;
        progress = live->progress;
    }
    cJSON_AddNumberToObject(o, "epoch", epoch);
    cJSON_AddNumberToObject(o, "epochs", r->epochs);
    cJSON_AddNumberToObject(o, "step", (double)step);
    cJSON_AddNumberToObject(o, "steps", (double)steps);
    cJSON_AddNumberToObject(o, "progress", isfinite(progress) ? progress : 0.0);
    cJSON_AddItemToObject(o, "loss", api_json_number_or_null(loss));
    cJSON_AddItemToObject(o, "accuracy", api_json_number_or_null(accuracy));
    cJSON_AddItemToObject(o, "val_loss", api_json_number_or_null(r->val_loss));
    cJSON_AddItemToObject(o, "val_accuracy", api_json_number_or_null(r->val_accuracy));
    cJSON_AddItemToObject(o, "best_val_accuracy", api_json_number_or_null(r->best_val_accuracy));
    cJSON_AddItemToObject(o, "samples_per_sec", api_json_number_or_null(sps > 0 ? sps : NAN));
    cJSON_AddItemToObject(o, "eta_seconds", api_json_number_or_null(eta));
    cJSON_AddItemToObject(o, "created_at", api_json_time_or_null(r->created_at));
    cJSON_AddItemToObject(o, "started_at", api_json_time_or_null(r->started_at));
    cJSON_AddItemToObject(o, "finished_at", api_json_time_or_null(r->finished_at));
    cJSON_AddItemToObject(o, "error", string_or_null(r->error));
    cJSON_AddItemToObject(o, "model_id", id_or_null(r->model_id));
    cJSON_AddItemToObject(o, "test_loss", api_json_number_or_null(r->test_loss));
    cJSON_AddItemToObject(o, "test_accuracy", api_json_number_or_null(r->test_accuracy));
    cJSON_AddItemToObject(o, "sweep", id_or_null(r->sweep_id));
    cJSON_AddItemToObject(o, "worker", string_or_null(r->worker));
    cJSON_AddNumberToObject(o, "attempts", r->attempts);
    return o;
}

/* {"<key>": [items...], "total", "limit", "offset"} around an array being filled. */
static cJSON *page(const char *key, cJSON **arr, int64_t total, int limit, int64_t offset) {
    cJSON *o = cJSON_CreateObject();
    *arr = cJSON_AddArrayToObject(o, key);
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "limit", limit);
    view_add_integer(o, "offset", offset);
    return o;
}

cJSON *view_job_list(const store_run *runs, size_t n, int64_t total, int limit, int64_t offset) {
    cJSON *arr;
    cJSON *o = page("jobs", &arr, total, limit, offset);
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, view_job(&runs[i], NULL));
    return o;
}

cJSON *view_metric(const store_metric *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)m->id);
    cJSON_AddStringToObject(o, "key", m->key);
    cJSON_AddNumberToObject(o, "epoch", m->epoch);
    cJSON_AddNumberToObject(o, "step", (double)m->step);
    cJSON_AddItemToObject(o, "value", api_json_number_or_null(m->value));
    cJSON_AddItemToObject(o, "time", api_json_time_or_null(m->time));
    return o;
}

cJSON *view_metrics(int64_t run_id, const store_metric *m, size_t n, int64_t since) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "job", (double)run_id);
    cJSON *arr = cJSON_AddArrayToObject(o, "metrics");
    int64_t next = since;
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, view_metric(&m[i]));
        if (m[i].id > next) next = m[i].id;
    }
    view_add_integer(o, "next_since", next);
    return o;
}

cJSON *view_model(const store_model *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)m->id);
    cJSON_AddItemToObject(o, "run_id", id_or_null(m->run_id));
    cJSON_AddItemToObject(o, "name", string_or_null(m->name));
    cJSON_AddNumberToObject(o, "version", m->version);
    cJSON_AddItemToObject(o, "arch", embedded_json(m->arch_json));
    cJSON_AddItemToObject(o, "config", embedded_json(m->config_json));
    cJSON_AddItemToObject(o, "metrics", embedded_json(m->metrics_json));
    cJSON_AddStringToObject(o, "checksum", m->checksum ? m->checksum : "");
    cJSON_AddNumberToObject(o, "size_bytes", (double)m->size_bytes);
    cJSON_AddNumberToObject(o, "n_params", (double)m->n_params);
    cJSON_AddItemToObject(o, "created_at", api_json_time_or_null(m->created_at));
    return o;
}

cJSON *view_model_list(const store_model *models, size_t n, int64_t total, int limit,
                       int64_t offset) {
    cJSON *arr;
    cJSON *o = page("models", &arr, total, limit, offset);
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, view_model(&models[i]));
    return o;
}

cJSON *view_registered_model(const char *name, const store_model *versions, size_t n,
                             const store_registry *reg, const char *default_alias) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON *arr = cJSON_AddArrayToObject(o, "versions");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, view_model(&versions[i]));
    cJSON_AddNumberToObject(o, "latest_version", n ? versions[n - 1].version : 0);
    cJSON *aliases = cJSON_AddObjectToObject(o, "aliases");
    int default_version = 0;
    for (size_t i = 0; reg && i < reg->n_aliases; i++) {
        if (strcmp(reg->aliases[i].name, name)) continue;
        cJSON_AddNumberToObject(aliases, reg->aliases[i].alias, reg->aliases[i].version);
        if (default_alias && !strcmp(reg->aliases[i].alias, default_alias))
            default_version = reg->aliases[i].version;
    }
    cJSON_AddStringToObject(o, "default_alias", default_alias ? default_alias : "");
    /* What an unversioned request gets (outside the canary's share). */
    cJSON_AddNumberToObject(o, "default_version",
                            default_version ? default_version
                            : n             ? versions[n - 1].version
                                            : 0);
    cJSON *canary = NULL;
    for (size_t i = 0; reg && i < reg->n_canaries && !canary; i++) {
        if (strcmp(reg->canaries[i].name, name)) continue;
        canary = cJSON_CreateObject();
        cJSON_AddNumberToObject(canary, "version", reg->canaries[i].version);
        cJSON_AddNumberToObject(canary, "percent", reg->canaries[i].percent);
    }
    cJSON_AddItemToObject(o, "canary", canary ? canary : cJSON_CreateNull());
    return o;
}

cJSON *view_evaluation(const store_evaluation *e) {
    cJSON *o = cJSON_CreateObject(), *report = embedded_tree(e->report_json);
    if (!o || !report) {
        cJSON_Delete(o);
        cJSON_Delete(report);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "id", (double)e->id);
    cJSON_AddNumberToObject(o, "model", (double)e->model_id);
    cJSON_AddItemToObject(o, "created_at", api_json_time_or_null(e->created_at));
    /* the report's members follow, moved over (not copied) */
    while (report->child) {
        cJSON *m = cJSON_DetachItemViaPointer(report, report->child);
        cJSON_AddItemToObject(o, m->string, m);
    }
    cJSON_Delete(report);
    return o;
}

cJSON *view_dataset(const store_dataset *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)d->id);
    cJSON_AddStringToObject(o, "name", d->name ? d->name : "");
    cJSON_AddStringToObject(o, "source", d->source ? d->source : "");
    cJSON_AddStringToObject(o, "format", d->format ? d->format : "");
    cJSON_AddNumberToObject(o, "n_train", (double)d->n_train);
    cJSON_AddNumberToObject(o, "n_test", (double)d->n_test);
    cJSON_AddNumberToObject(o, "features", d->features);
    cJSON_AddNumberToObject(o, "classes", d->classes);
    cJSON *names = d->class_names ? cJSON_Parse(d->class_names) : NULL;
    cJSON_AddItemToObject(o, "class_names", cJSON_IsArray(names) ? names : cJSON_CreateNull());
    if (names && !cJSON_IsArray(names)) cJSON_Delete(names);
    cJSON_AddItemToObject(o, "created_at", api_json_time_or_null(d->created_at));
    return o;
}

cJSON *view_dataset_list(const store_dataset *list, size_t n) {
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "datasets");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, view_dataset(&list[i]));
    return o;
}
