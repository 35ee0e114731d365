/* store.c - store.h's functions, dispatched to the backend that store_open
 * chose (store_backend.h). */
#include <stdio.h>
#include <string.h>

#include "mlp.h"
#include "store_backend.h"

int store_path_is_uri(const char *path) {
    return path && (!strncmp(path, "postgresql://", 13) || !strncmp(path, "postgres://", 11));
}

void store_path_display(const char *path, char *out, size_t cap) {
    const char *scheme = store_path_is_uri(path) ? strstr(path, "://") : NULL;
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - (scheme + 3))) : NULL;
    if (!colon) {
        snprintf(out, cap, "%s", path ? path : "");
        return;
    }
    snprintf(out, cap, "%.*s:***%s", (int)(colon - path), path, at);
}

int store_open(const char *path, const char *migrations_dir, store **out, mlpd_error *err) {
    if (store_path_is_uri(path)) return pg_store_open(path, migrations_dir, out, err);
    return sqlite_store_open(path, migrations_dir, out, err);
}

void store_close(store *s) {
    if (s) s->ops->close(s);
}

int store_ping(store *s) {
    return s->ops->ping(s);
}

int store_writable(store *s) {
    return s->ops->writable(s);
}

int store_schema_version(store *s) {
    return s->ops->schema_version(s);
}

int store_dataset_put(store *s, const store_dataset *d, int64_t *id_out, mlpd_error *err) {
    return s->ops->dataset_put(s, d, id_out, err);
}

int store_dataset_get(store *s, const char *name, store_dataset *out, mlpd_error *err) {
    return s->ops->dataset_get(s, name, out, err);
}

int store_dataset_list(store *s, store_dataset **out, size_t *n, mlpd_error *err) {
    return s->ops->dataset_list(s, out, n, err);
}

int store_dataset_delete(store *s, const char *name, mlpd_error *err) {
    return s->ops->dataset_delete(s, name, err);
}

int store_model_class_names(store *s, int64_t model_id, char **json_out, mlpd_error *err) {
    return s->ops->model_class_names(s, model_id, json_out, err);
}

int store_class_name_ok(const char *s, size_t len) {
    if (len == 0 || len > 64) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return 0;
    }
    return 1;
}

int store_run_create(store *s, const char *config_json, const char *dataset, int epochs,
                     int64_t *id_out, mlpd_error *err) {
    return s->ops->run_create(s, config_json, dataset, epochs, 0, id_out, err);
}

int store_run_create_in(store *s, const char *config_json, const char *dataset, int epochs,
                        int64_t sweep_id, int64_t *id_out, mlpd_error *err) {
    return s->ops->run_create(s, config_json, dataset, epochs, sweep_id, id_out, err);
}

int store_run_set_status(store *s, int64_t id, run_status st, const char *error, mlpd_error *err) {
    return s->ops->run_set_status(s, id, st, error, err);
}

int store_run_set_progress(store *s, int64_t id, int epoch, int64_t step, int64_t steps,
                           double loss, double accuracy, double val_loss, double val_accuracy,
                           double samples_per_sec, mlpd_error *err) {
    return s->ops->run_set_progress(s, id, epoch, step, steps, loss, accuracy, val_loss,
                                    val_accuracy, samples_per_sec, err);
}

int store_run_finish(store *s, int64_t id, double test_loss, double test_accuracy, int64_t model_id,
                     mlpd_error *err) {
    return s->ops->run_finish(s, id, test_loss, test_accuracy, model_id, err);
}

int store_run_get(store *s, int64_t id, store_run *out, mlpd_error *err) {
    return s->ops->run_get(s, id, out, err);
}

int store_run_list(store *s, const store_run_query *q, store_run **out, size_t *n, int64_t *total,
                   mlpd_error *err) {
    return s->ops->run_list(s, q, out, n, total, err);
}

int store_run_ids_with_status(store *s, run_status st, int64_t **ids, size_t *n, mlpd_error *err) {
    return s->ops->run_ids_with_status(s, st, ids, n, err);
}

void store_set_keep_step_metrics(store *s, int keep) {
    s->ops->set_keep_step_metrics(s, keep);
}

int store_metrics_append(store *s, const store_metric *m, size_t n, mlpd_error *err) {
    return s->ops->metrics_append(s, m, n, err);
}

int store_run_record_epoch(store *s, int64_t id, const store_metric *m, size_t n, int epoch,
                           int64_t steps, double loss, double accuracy, double val_loss,
                           double val_accuracy, double samples_per_sec, const unsigned char *ckpt,
                           size_t ckpt_len, mlpd_error *err) {
    if (ckpt && (ckpt_len == 0 || ckpt_len > (size_t)0x7fffffff))
        return mlpd_fail(err, MLPD_ESTORE, "a checkpoint of %zu bytes cannot be stored", ckpt_len);
    return s->ops->run_record_epoch(s, id, m, n, epoch, steps, loss, accuracy, val_loss,
                                    val_accuracy, samples_per_sec, ckpt, ckpt_len, err);
}

int store_run_checkpoint(store *s, int64_t id, unsigned char **data, size_t *len, int *epoch,
                         mlpd_error *err) {
    *data = NULL;
    *len = 0;
    *epoch = 0;
    return s->ops->run_checkpoint(s, id, data, len, epoch, err);
}

int store_metrics_get(store *s, int64_t run_id, int64_t since_id, int limit, store_metric **out,
                      size_t *n, mlpd_error *err) {
    return s->ops->metrics_get(s, run_id, since_id, limit, out, n, err);
}

/* What every backend needs of a model before it stores one: its
 * architecture, a registered name, 1 byte to 2 GiB of file, and a checksum,
 * the one the file stores (mlp_model_checksum) unless the caller gave one.
 * *checked is meta with that checksum (pointing into crc_hex). */
static int store_model_check(const store_model *meta, const unsigned char *file, size_t len,
                             store_model *checked, char crc_hex[9], mlpd_error *err) {
    if (!meta->arch_json) return mlpd_fail(err, MLPD_ESTORE, "a model needs its arch_json");
    if (!meta->name || !meta->name[0] || strlen(meta->name) > STORE_NAME_MAX)
        return mlpd_fail(err, MLPD_ESTORE, "a model needs a registered name of 1 to %d characters",
                         STORE_NAME_MAX);
    if (!file || len == 0 || len > (size_t)0x7fffffff)
        return mlpd_fail(err, MLPD_ESTORE, "model file of %zu bytes cannot be stored", len);
    *checked = *meta;
    if (!checked->checksum) {
        snprintf(crc_hex, 9, "%08x", (unsigned)mlp_model_checksum(file, len));
        checked->checksum = crc_hex;
    }
    return MLPD_OK;
}

int store_model_put(store *s, const store_model *meta, const unsigned char *file, size_t len,
                    int64_t *id_out, int *version_out, mlpd_error *err) {
    store_model m;
    char crc_hex[9];
    int rc = store_model_check(meta, file, len, &m, crc_hex, err);
    return rc != MLPD_OK ? rc : s->ops->model_put(s, &m, file, len, id_out, version_out, err);
}

int store_run_succeed(store *s, int64_t id, const store_model *meta, const unsigned char *file,
                      size_t len, double test_loss, double test_accuracy,
                      const store_model_derived *derived, int64_t *model_id_out, mlpd_error *err) {
    store_model m;
    char crc_hex[9];
    int rc = store_model_check(meta, file, len, &m, crc_hex, err);
    return rc != MLPD_OK ? rc
                         : s->ops->run_succeed(s, id, &m, file, len, test_loss, test_accuracy,
                                               derived, model_id_out, err);
}

int store_model_get(store *s, int64_t id, store_model *out, mlpd_error *err) {
    return s->ops->model_get(s, id, out, err);
}

int store_model_file(store *s, int64_t id, unsigned char **file, size_t *len, mlpd_error *err) {
    return s->ops->model_file(s, id, file, len, err);
}

int store_model_list(store *s, int limit, int64_t offset, int64_t before_id, store_model **out,
                     size_t *n, int64_t *total, mlpd_error *err) {
    return s->ops->model_list(s, limit, offset, before_id, out, n, total, err);
}

int store_model_delete(store *s, int64_t id, mlpd_error *err) {
    return s->ops->model_delete(s, id, err);
}

int store_model_latest(store *s, int64_t *id_out, mlpd_error *err) {
    return s->ops->model_latest(s, id_out, err);
}

int store_model_versions(store *s, const char *name, store_model **out, size_t *n,
                         mlpd_error *err) {
    return s->ops->model_versions(s, name, out, n, err);
}

int store_model_find(store *s, const char *name, int version, int64_t *id_out, mlpd_error *err) {
    return s->ops->model_find(s, name, version, id_out, err);
}

int store_alias_set(store *s, const char *name, const char *alias, int version, mlpd_error *err) {
    return s->ops->alias_set(s, name, alias, version, err);
}

int store_alias_delete(store *s, const char *name, const char *alias, mlpd_error *err) {
    return s->ops->alias_delete(s, name, alias, err);
}

int store_canary_set(store *s, const char *name, int version, int percent, mlpd_error *err) {
    return s->ops->canary_set(s, name, version, percent, err);
}

int store_registry_load(store *s, store_registry *out, mlpd_error *err) {
    return s->ops->registry_load(s, out, err);
}

int store_run_claim(store *s, const char *worker, double lease_seconds, int64_t *id_out,
                    mlpd_error *err) {
    return s->ops->run_claim(s, worker, lease_seconds, id_out, err);
}

int store_run_heartbeat(store *s, int64_t id, const char *worker, double lease_seconds,
                        int *cancel_out, mlpd_error *err) {
    return s->ops->run_heartbeat(s, id, worker, lease_seconds, cancel_out, err);
}

int store_run_rescue(store *s, int max_attempts, int *requeued, int *failed, mlpd_error *err) {
    return s->ops->run_rescue(s, max_attempts, requeued, failed, err);
}

int store_run_cancel(store *s, int64_t id, const char *why, int *was_running, mlpd_error *err) {
    return s->ops->run_cancel(s, id, why, was_running, err);
}

int store_run_count(store *s, run_status st, int64_t *n, mlpd_error *err) {
    return s->ops->run_count(s, st, n, err);
}

int store_listen(store *s, store_event_fn fn, void *user, mlpd_error *err) {
    return s->ops->listen ? s->ops->listen(s, fn, user, err) : MLPD_OK;
}

void store_listen_stop(store *s) {
    if (s && s->ops->listen_stop) s->ops->listen_stop(s);
}

int store_is_shared(store *s) {
    return s->ops->listen != NULL;
}

int store_evaluation_put(store *s, const store_evaluation *e, int64_t *id_out, mlpd_error *err) {
    return s->ops->evaluation_put(s, e, id_out, err);
}

int store_evaluation_latest(store *s, int64_t model_id, store_evaluation *out, mlpd_error *err) {
    return s->ops->evaluation_latest(s, model_id, out, err);
}

int store_model_mean_put(store *s, int64_t model_id, const char *dataset, const float *mean,
                         int features, mlpd_error *err) {
    return s->ops->model_mean_put(s, model_id, dataset, mean, features, err);
}

int store_model_mean_get(store *s, int64_t model_id, float **mean, int *features, mlpd_error *err) {
    return s->ops->model_mean_get(s, model_id, mean, features, err);
}

int store_model_precision_put(store *s, const store_model_precision *p, mlpd_error *err) {
    return s->ops->model_precision_put(s, p, err);
}

int store_model_precision_clear(store *s, int64_t model_id, mlpd_error *err) {
    return s->ops->model_precision_clear(s, model_id, err);
}

int store_model_precision_get(store *s, int64_t model_id, store_model_precision *out,
                              mlpd_error *err) {
    return s->ops->model_precision_get(s, model_id, out, err);
}

int store_sweep_create(store *s, const char *config_json, const char *worker, double lease_seconds,
                       int64_t *id_out, mlpd_error *err) {
    return s->ops->sweep_create(s, config_json, worker, lease_seconds, id_out, err);
}

int store_sweep_claim(store *s, const char *worker, double lease_seconds, int own, int64_t after_id,
                      int64_t *id_out, mlpd_error *err) {
    return s->ops->sweep_claim(s, worker, lease_seconds, own, after_id, id_out, err);
}

int store_sweep_renew(store *s, int64_t id, const char *worker, double lease_seconds,
                      mlpd_error *err) {
    return s->ops->sweep_renew(s, id, worker, lease_seconds, err);
}

int store_sweep_get(store *s, int64_t id, store_sweep *out, mlpd_error *err) {
    return s->ops->sweep_get(s, id, out, err);
}

int store_sweep_set_status(store *s, int64_t id, run_status st, const char *error,
                           mlpd_error *err) {
    return s->ops->sweep_set_status(s, id, st, error, err);
}

int store_sweep_set_best(store *s, int64_t id, int64_t run_id, double value, mlpd_error *err) {
    return s->ops->sweep_set_best(s, id, run_id, value, err);
}

int store_sweep_list(store *s, const store_run_query *q, store_sweep **out, size_t *n,
                     int64_t *total, mlpd_error *err) {
    return s->ops->sweep_list(s, q, out, n, total, err);
}

int store_sweep_children(store *s, int64_t sweep_id, int limit, store_run **out, size_t *n,
                         mlpd_error *err) {
    return s->ops->sweep_children(s, sweep_id, limit, out, n, err);
}
