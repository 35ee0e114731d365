/* store_backend.h - the store's backend table, private to server/store.
 *
 * store.h is the interface; its functions dispatch through the table of the
 * backend chosen by store_open from the form of its path: a
 * postgresql:// or postgres:// URI opens PostgreSQL (store_pg.c), anything
 * else is a SQLite file (store_sqlite.c). Each backend's handle begins with a
 * `store` whose ops point at its table; its functions take the `store *` and
 * convert it to their own type.
 *
 * What both backends share lives here too: the migration file listing (the
 * SQLite files in migrations/, PostgreSQL's in migrations/postgresql/), the
 * error helpers and the clock.
 */
#ifndef MLPD_STORE_BACKEND_H
#define MLPD_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct store_ops {
    const char *name; /* "sqlite", "postgresql" */
    void (*close)(store *s);
    int (*ping)(store *s);
    int (*writable)(store *s);
    int (*schema_version)(store *s);
    int (*dataset_put)(store *s, const store_dataset *d, int64_t *id_out, mlpd_error *err);
    int (*dataset_get)(store *s, const char *name, store_dataset *out, mlpd_error *err);
    int (*dataset_list)(store *s, store_dataset **out, size_t *n, mlpd_error *err);
    int (*dataset_delete)(store *s, const char *name, mlpd_error *err);
    int (*model_class_names)(store *s, int64_t model_id, char **json_out, mlpd_error *err);
    int (*run_create)(store *s, const char *config_json, const char *dataset, int epochs,
                      int64_t sweep_id, int64_t *id_out, mlpd_error *err);
    int (*run_set_status)(store *s, int64_t id, run_status st, const char *error, mlpd_error *err);
    int (*run_set_progress)(store *s, int64_t id, int epoch, int64_t step, int64_t steps,
                            double loss, double accuracy, double val_loss, double val_accuracy,
                            double samples_per_sec, mlpd_error *err);
    int (*run_finish)(store *s, int64_t id, double test_loss, double test_accuracy,
                      int64_t model_id, mlpd_error *err);
    int (*run_get)(store *s, int64_t id, store_run *out, mlpd_error *err);
    int (*run_list)(store *s, const store_run_query *q, store_run **out, size_t *n, int64_t *total,
                    mlpd_error *err);
    int (*run_ids_with_status)(store *s, run_status st, int64_t **ids, size_t *n, mlpd_error *err);
    int (*metrics_append)(store *s, const store_metric *m, size_t n, mlpd_error *err);
    void (*set_keep_step_metrics)(store *s, int keep);
    int (*run_record_epoch)(store *s, int64_t id, const store_metric *m, size_t n, int epoch,
                            int64_t steps, double loss, double accuracy, double val_loss,
                            double val_accuracy, double samples_per_sec, const unsigned char *ckpt,
                            size_t ckpt_len, mlpd_error *err);
    int (*run_checkpoint)(store *s, int64_t id, unsigned char **data, size_t *len, int *epoch,
                          mlpd_error *err);
    int (*metrics_get)(store *s, int64_t run_id, int64_t since_id, int limit, store_metric **out,
                       size_t *n, mlpd_error *err);
    int (*model_put)(store *s, const store_model *meta, const unsigned char *file, size_t len,
                     int64_t *id_out, int *version_out, mlpd_error *err);
    int (*run_succeed)(store *s, int64_t id, const store_model *meta, const unsigned char *file,
                       size_t len, double test_loss, double test_accuracy,
                       const store_model_derived *derived, int64_t *model_id_out, mlpd_error *err);
    int (*model_get)(store *s, int64_t id, store_model *out, mlpd_error *err);
    int (*model_file)(store *s, int64_t id, unsigned char **file, size_t *len, mlpd_error *err);
    int (*model_list)(store *s, int limit, int64_t offset, int64_t before_id, store_model **out,
                      size_t *n, int64_t *total, mlpd_error *err);
    int (*model_delete)(store *s, int64_t id, mlpd_error *err);
    int (*model_latest)(store *s, int64_t *id_out, mlpd_error *err);
    int (*model_versions)(store *s, const char *name, store_model **out, size_t *n,
                          mlpd_error *err);
    int (*model_find)(store *s, const char *name, int version, int64_t *id_out, mlpd_error *err);
    int (*alias_set)(store *s, const char *name, const char *alias, int version, mlpd_error *err);
    int (*alias_delete)(store *s, const char *name, const char *alias, mlpd_error *err);
    int (*canary_set)(store *s, const char *name, int version, int percent, mlpd_error *err);
    int (*registry_load)(store *s, store_registry *out, mlpd_error *err);
    int (*evaluation_put)(store *s, const store_evaluation *e, int64_t *id_out, mlpd_error *err);
    int (*evaluation_latest)(store *s, int64_t model_id, store_evaluation *out, mlpd_error *err);
    int (*model_mean_put)(store *s, int64_t model_id, const char *dataset, const float *mean,
                          int features, mlpd_error *err);
    int (*model_mean_get)(store *s, int64_t model_id, float **mean, int *features, mlpd_error *err);
    int (*model_precision_put)(store *s, const store_model_precision *p, mlpd_error *err);
    int (*model_precision_clear)(store *s, int64_t model_id, mlpd_error *err);
    int (*model_precision_get)(store *s, int64_t model_id, store_model_precision *out,
                               mlpd_error *err);
    int (*run_claim)(store *s, const char *worker, double lease_seconds, int64_t *id_out,
                     mlpd_error *err);
    int (*run_heartbeat)(store *s, int64_t id, const char *worker, double lease_seconds,
                         int *cancel_out, mlpd_error *err);
    int (*run_rescue)(store *s, int max_attempts, int *requeued, int *failed, mlpd_error *err);
    int (*run_cancel)(store *s, int64_t id, const char *why, int *was_running, mlpd_error *err);
    int (*run_count)(store *s, run_status st, int64_t *n, mlpd_error *err);
    /* NULL: the backend has no other daemons to hear from (store_listen is a no-op). */
    int (*listen)(store *s, store_event_fn fn, void *user, mlpd_error *err);
    void (*listen_stop)(store *s);
    int (*sweep_create)(store *s, const char *config_json, const char *worker, double lease_seconds,
                        int64_t *id_out, mlpd_error *err);
    int (*sweep_claim)(store *s, const char *worker, double lease_seconds, int own,
                       int64_t after_id, int64_t *id_out, mlpd_error *err);
    int (*sweep_renew)(store *s, int64_t id, const char *worker, double lease_seconds,
                       mlpd_error *err);
    int (*sweep_get)(store *s, int64_t id, store_sweep *out, mlpd_error *err);
    int (*sweep_set_status)(store *s, int64_t id, run_status st, const char *error,
                            mlpd_error *err);
    int (*sweep_set_best)(store *s, int64_t id, int64_t run_id, double value, mlpd_error *err);
    int (*sweep_list)(store *s, const store_run_query *q, store_sweep **out, size_t *n,
                      int64_t *total, mlpd_error *err);
    int (*sweep_children)(store *s, int64_t sweep_id, int limit, store_run **out, size_t *n,
                          mlpd_error *err);
} store_ops;

struct store {
    const store_ops *ops;
};

/* Open a SQLite store (store_sqlite.c): WAL, migrations_dir/NNN_*.sql. */
int sqlite_store_open(const char *path, const char *migrations_dir, store **out, mlpd_error *err);
/* Open a PostgreSQL store (store_pg.c): connect with libpq (the URI form, its
 * sslmode and the PG* environment variables honoured; connect_timeout 10 s
 * unless the URI or PGCONNECT_TIMEOUT says otherwise), then apply
 * migrations_dir/postgresql/NNN_*.sql under pg_advisory_lock. */
int pg_store_open(const char *uri, const char *migrations_dir, store **out, mlpd_error *err);

/* ---- migration files (store_migrations.c) ---------------------------------- */
typedef struct {
    int number;
    char name[256];
} store_migration;

/* The NNN_name.sql files of dir sorted by number (malloc'ed array in *out,
 * at least one); MLPD_ESTORE for an unreadable folder, none, or two files with
 * one number. */
int store_migrations_list(const char *dir, store_migration **out, size_t *n, mlpd_error *err);
/* The text of one migration file (malloc'ed, NUL-terminated, at most 4 MiB). */
char *store_migration_text(const char *dir, const store_migration *m, mlpd_error *err);

#endif /* MLPD_STORE_BACKEND_H */
