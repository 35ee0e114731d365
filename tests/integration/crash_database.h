/* crash_database.h - test_crash_kill.c's look at the database, opened
 * directly while the daemon is dead: integrity, ended runs unchanged (a
 * CRC of each run's row and metrics), runs and models in agreement, model
 * bytes and data sets whole. Include after <cmocka.h>: the checks assert. */
#ifndef MLPD_CRASH_DATABASE_H
#define MLPD_CRASH_DATABASE_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "daemon.h"
#include "mlp.h"

/* Ended runs a round digests at most. */
#define MAX_RUNS 512

/* First column of the first row of sql as text ("" when none); caller frees. */
static inline char *sql_text(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int rc = sqlite3_step(st);
    assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
    const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    char *s = strdup(t ? (const char *)t : "");
    sqlite3_finalize(st);
    return s;
}

static inline long long sql_int(sqlite3 *db, const char *sql) {
    char *s = sql_text(db, sql);
    long long v = atoll(s);
    free(s);
    return v;
}

/* A run's identity: its row and all its metrics, as a CRC. */
typedef struct {
    int64_t id;
    uLong crc;
    long long n_metrics;
} run_digest;

static inline void digest_run(sqlite3 *db, int64_t id, run_digest *out) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT quote(status)||quote(error)||quote(finished_at)||epoch||'/'||epochs||"
             "quote(loss)||quote(test_accuracy)||quote(model_id) FROM runs WHERE id=%lld",
             (long long)id);
    char *row = sql_text(db, sql);
    uLong crc = crc32(0L, (const Bytef *)row, (uInt)strlen(row));
    free(row);
    snprintf(sql, sizeof sql,
             "SELECT group_concat(id||key||epoch||step||quote(value)||quote(time), ';') FROM"
             " (SELECT * FROM metrics WHERE run_id=%lld ORDER BY id)",
             (long long)id);
    char *met = sql_text(db, sql);
    out->id = id;
    out->crc = crc32(crc, (const Bytef *)met, (uInt)strlen(met));
    free(met);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id=%lld", (long long)id);
    out->n_metrics = sql_int(db, sql);
}

/* Digests of every ended run (succeeded, failed, cancelled). */
static inline size_t digest_ended(sqlite3 *db, run_digest *out, size_t cap) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id FROM runs WHERE status IN"
                                        " ('succeeded','failed','cancelled') ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int64_t ids[MAX_RUNS];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < cap) ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) digest_run(db, ids[i], &out[i]);
    return n;
}

static inline sqlite3 *open_db(const mlpd_daemon *d) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The file is whole, ended runs are untouched, and runs and models agree. */
static inline void check_runs(sqlite3 *db, const run_digest *before, size_t n_before) {
    char *ic = sql_text(db, "PRAGMA integrity_check");
    if (strcmp(ic, "ok")) fprintf(stderr, "integrity_check: %s\n", ic);
    assert_string_equal(ic, "ok");
    free(ic);
    char *fk = sql_text(db, "PRAGMA foreign_key_check");
    assert_string_equal(fk, "");
    free(fk);
    /* ended runs are untouched */
    for (size_t i = 0; i < n_before; i++) {
        run_digest now;
        digest_run(db, before[i].id, &now);
        if (now.crc != before[i].crc)
            fprintf(stderr, "run %lld changed after a kill (%lld metrics before, %lld now)\n",
                    (long long)before[i].id, before[i].n_metrics, now.n_metrics);
        assert_true(now.crc == before[i].crc);
    }
    /* succeeded <=> has its model; one loss metric per epoch */
    assert_int_equal(sql_int(db, "SELECT count(*) FROM models m LEFT JOIN runs r ON r.id=m.run_id"
                                 " WHERE m.run_id IS NOT NULL AND (r.status IS NOT 'succeeded'"
                                 " OR r.model_id IS NOT m.id)"),
                     0);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM runs WHERE status='succeeded' AND"
                                 " (model_id IS NULL OR epoch != epochs OR epoch != (SELECT"
                                 " count(DISTINCT epoch) FROM metrics WHERE run_id=runs.id AND"
                                 " key='loss'))"),
                     0);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM runs WHERE status IN ('succeeded','failed',"
                                 "'cancelled') AND finished_at IS NULL"),
                     0);
}

/* Models above id `above`: complete bytes whose CRC is the recorded one. */
static inline void check_models(sqlite3 *db, int64_t models_above, int *models_checked) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id, size_bytes, checksum, file FROM models"
                                        " WHERE id > ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, models_above);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *blob = sqlite3_column_blob(st, 3);
        int len = sqlite3_column_bytes(st, 3);
        assert_int_equal(len, sqlite3_column_int64(st, 1));
        char crc[16];
        snprintf(crc, sizeof crc, "%08lx", crc32(0L, blob, (uInt)len - 4)); /* the payload's */
        assert_string_equal(crc, (const char *)sqlite3_column_text(st, 2));
        mlp_model *m = NULL;
        assert_int_equal(mlp_model_from_buffer(blob, (size_t)len, &m, NULL), MLP_OK);
        mlp_model_free(m);
        (*models_checked)++;
    }
    sqlite3_finalize(st);
}

/* Data sets above id `above`: each loads with the counts it was registered with. */
static inline void check_datasets(const mlpd_daemon *d, sqlite3 *db, int64_t datasets_above,
                                  int *datasets_checked) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name, path, n_train, n_test FROM datasets"
                                        " WHERE id > ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, datasets_above);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", d->data_dir, (const char *)sqlite3_column_text(st, 1));
        mlp_dataset *ds = NULL;
        mlp_error e = {{0}};
        if (mlp_dataset_load_path(path, "train", NULL, &ds, &e) != MLP_OK)
            fprintf(stderr, "data set %s: %s\n", sqlite3_column_text(st, 0), e.msg);
        assert_non_null(ds);
        assert_int_equal((long long)ds->n, sqlite3_column_int64(st, 2));
        mlp_dataset_free(ds);
        if (sqlite3_column_int64(st, 3) > 0) {
            assert_int_equal(mlp_dataset_load_path(path, "test", NULL, &ds, &e), MLP_OK);
            assert_int_equal((long long)ds->n, sqlite3_column_int64(st, 3));
            mlp_dataset_free(ds);
        }
        (*datasets_checked)++;
    }
    sqlite3_finalize(st);
}

/* Every invariant of the header comment that the database alone can show.
 * Models and data sets are read whole only above the ids given (those made
 * since the round began; 0 for all), which keeps a round's cost flat. */
static inline void check_database(const mlpd_daemon *d, const run_digest *before, size_t n_before,
                                  int64_t models_above, int64_t datasets_above, int *models_checked,
                                  int *datasets_checked) {
    sqlite3 *db = open_db(d);
    check_runs(db, before, n_before);
    check_models(db, models_above, models_checked);
    check_datasets(d, db, datasets_above, datasets_checked);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

#endif /* MLPD_CRASH_DATABASE_H */
