/* test_store.c - the SQLite store against a fresh database in a temp dir:
 * migrations, version refusal, runs and metrics (models, data sets and
 * reopening: test_store_objects.c; the fixture: store_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "store_fixture.h"

/* ---- migrations ---------------------------------------------------------------- */

static void test_fresh_db_is_migrated(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    assert_int_equal(store_schema_version(s), f->newest);
    assert_int_equal(store_ping(s), 1);
    store_close(s);
    assert_int_equal(raw_int(f->db, "PRAGMA user_version"), f->newest);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                                    " name IN ('datasets', 'runs', 'metrics', 'models')"),
                     4);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                    " AND tbl_name = 'metrics' AND sql LIKE '%run_id, id%'"),
                     1);
    /* WAL is a property of the file: a fresh connection sees it. */
    sqlite3 *c;
    sqlite3_open(f->db, &c);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(c);
    /* Opening again applies nothing new. */
    s = open_ok(f);
    assert_int_equal(store_schema_version(s), f->newest);
    store_close(s);
}

static void test_newer_db_is_refused(void **state) {
    fixture *f = *state;
    char sql[64], want[128];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", f->newest + 2);
    raw_exec(f->db, sql);
    store *s = NULL;
    mlpd_error err = {0};
    assert_int_equal(store_open(f->db, f->migrations, &s, &err), MLPD_ECONFLICT);
    assert_null(s);
    snprintf(want, sizeof want, "database schema version %d is newer than this mlpd (%d)",
             f->newest + 2, f->newest);
    assert_string_equal(err.msg, want);
    /* Nothing was applied to it. */
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'runs'"), 0);
}

static void test_new_migration_applies_and_bad_one_rolls_back(void **state) {
    fixture *f = *state;
    store_close(open_ok(f));
    char path[1024];
    snprintf(path, sizeof path, "%s/%03d_extra.sql", f->migrations, f->newest + 1);
    tu_write_text(path, "CREATE TABLE extra (x INTEGER);\nINSERT INTO extra VALUES (42);\n");
    store *s = open_ok(f);
    assert_int_equal(store_schema_version(s), f->newest + 1);
    store_close(s);
    assert_int_equal(raw_int(f->db, "SELECT x FROM extra"), 42);

    snprintf(path, sizeof path, "%s/%03d_bad.sql", f->migrations, f->newest + 2);
    tu_write_text(path, "CREATE TABLE half (y INTEGER);\nSELECT no_such_column FROM extra;\n");
    mlpd_error err = {0};
    assert_int_equal(store_open(f->db, f->migrations, &s, &err), MLPD_ESTORE);
    assert_non_null(strstr(err.msg, "_bad.sql"));
    assert_int_equal(raw_int(f->db, "PRAGMA user_version"), f->newest + 1);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0);
}

/* Rename the migrations numbered `from` and above to NAME.off (off = 1) or
 * back (off = 0), so a test can open the store as it was before them. */
static void migrations_from(const fixture *f, int from, int off) {
    DIR *d = opendir(f->migrations);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        int num = atoi(e->d_name);
        if (num < from || n < 5) continue;
        const char *want = off ? ".sql" : ".off";
        if (strcmp(e->d_name + n - 4, want)) continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", f->migrations, e->d_name);
        snprintf(b, sizeof b, "%s/%.*s%s", f->migrations, (int)(n - 4), e->d_name,
                 off ? ".off" : ".sql");
        assert_int_equal(rename(a, b), 0);
    }
    closedir(d);
}

/* 004_model_checksum.sql: a model stored with the old checksum (the CRC of
 * the whole file, the same for every file) gets the one its file stores.
 * The database is made as 003 left it (the later migrations set aside). */
static void test_checksum_migration(void **state) {
    fixture *f = *state;
    migrations_from(f, 4, 1);
    unsigned char file[64];
    for (size_t i = 0; i < sizeof file; i++) file[i] = (unsigned char)(i * 7 + 1);
    file[60] = 0x78, file[61] = 0x56, file[62] = 0x34, file[63] = 0x12; /* little-endian */
    store_model meta = {.name = "old", .arch_json = "{}", .checksum = "2144df1c", .n_params = 1};
    int64_t id = 0;
    mlpd_error err = {0};
    store *s = open_ok(f); /* without the migration */
    assert_int_equal(store_schema_version(s), 3);
    if (store_model_put(s, &meta, file, sizeof file, &id, NULL, &err) != MLPD_OK)
        fail_msg("put: %s", err.msg);
    store_close(s);
    migrations_from(f, 4, 0);
    s = open_ok(f);
    store_model m;
    assert_int_equal(store_model_get(s, id, &m, &err), MLPD_OK);
    assert_string_equal(m.checksum, "12345678");
    store_model_clear(&m);
    store_close(s);
}

static void test_missing_migrations_dir_is_an_error(void **state) {
    fixture *f = *state;
    store *s = NULL;
    mlpd_error err = {0};
    char dir[600];
    snprintf(dir, sizeof dir, "%s/nowhere", f->dir);
    assert_int_equal(store_open(f->db, dir, &s, &err), MLPD_ESTORE);
    assert_null(s);
    assert_non_null(strstr(err.msg, "nowhere"));
}

/* ---- runs ------------------------------------------------------------------------ */

static void test_runs_lifecycle(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    int64_t id = new_run(s, "digits", 7);
    store_run r;
    assert_int_equal(store_run_get(s, id, &r, &err), MLPD_OK);
    assert_int_equal(r.status, RUN_QUEUED);
    assert_string_equal(r.dataset, "digits");
    assert_string_equal(r.config_json, "{\"dataset\":\"digits\",\"epochs\":7}");
    assert_int_equal(r.epochs, 7);
    assert_true(r.created_at > 1.6e9);
    assert_true(r.started_at == 0 && r.finished_at == 0);
    assert_true(isnan(r.loss) && isnan(r.test_accuracy));
    assert_null(r.error);
    store_run_clear(&r);

    assert_int_equal(store_run_set_status(s, id, RUN_RUNNING, NULL, &err), MLPD_OK);
    assert_int_equal(store_run_set_progress(s, id, 2, 30, 40, 0.5, 0.8, NAN, 0.75, 1234.5, &err),
                     MLPD_OK);
    assert_int_equal(store_run_get(s, id, &r, &err), MLPD_OK);
    assert_int_equal(r.status, RUN_RUNNING);
    assert_true(r.started_at >= r.created_at && r.finished_at == 0);
    assert_int_equal(r.epoch, 2);
    assert_int_equal(r.step, 30);
    assert_int_equal(r.steps, 40);
    assert_float_equal(r.loss, 0.5, 1e-12);
    assert_float_equal(r.accuracy, 0.8, 1e-12);
    assert_true(isnan(r.val_loss));
    assert_float_equal(r.val_accuracy, 0.75, 1e-12);
    assert_float_equal(r.samples_per_sec, 1234.5, 1e-9);
    store_run_clear(&r);

    assert_int_equal(store_run_finish(s, id, 0.3, 0.9, 0, &err), MLPD_OK);
    assert_int_equal(store_run_set_status(s, id, RUN_FAILED, "boom", &err), MLPD_OK);
    assert_int_equal(store_run_get(s, id, &r, &err), MLPD_OK);
    assert_int_equal(r.status, RUN_FAILED);
    assert_string_equal(r.error, "boom");
    assert_true(r.finished_at >= r.started_at && r.finished_at > 0);
    assert_float_equal(r.test_loss, 0.3, 1e-12);
    assert_float_equal(r.test_accuracy, 0.9, 1e-12);
    assert_int_equal(r.model_id, 0);
    store_run_clear(&r);

    assert_int_equal(store_run_get(s, id + 100, &r, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_run_set_status(s, id + 100, RUN_RUNNING, NULL, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_run_set_progress(s, id + 100, 1, 1, 1, 0, 0, 0, 0, 0, &err),
                     MLPD_ENOTFOUND);
    store_close(s);
}

static void test_run_status_names(void **state) {
    (void)state;
    for (int st = RUN_QUEUED; st <= RUN_CANCELLED; st++) {
        run_status back;
        assert_int_equal(run_status_from_name(run_status_name((run_status)st), &back), 0);
        assert_int_equal(back, st);
    }
    run_status x;
    assert_int_equal(run_status_from_name("sleeping", &x), -1);
    assert_string_equal(run_status_name(RUN_CANCELLED), "cancelled");
}

static void test_run_list_filter_pagination(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    int64_t ids[9];
    for (int i = 0; i < 9; i++) {
        ids[i] = new_run(s, "ds", i + 1);
        /* every third run is running */
        if (i % 3 == 0)
            assert_int_equal(store_run_set_status(s, ids[i], RUN_RUNNING, NULL, &err), 0);
    }
    store_run_query q = {.limit = 4, .offset = 0};
    store_run *list;
    size_t n;
    int64_t total = -1;
    assert_int_equal(store_run_list(s, &q, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(total, 9);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) assert_int_equal(list[i].id, ids[8 - i]); /* newest first */
    store_run_list_free(list, n);

    q.offset = 8;
    assert_int_equal(store_run_list(s, &q, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(total, 9);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, ids[0]);
    store_run_list_free(list, n);

    store_run_query qr = {.has_status = 1, .status = RUN_RUNNING, .limit = 2, .offset = 1};
    assert_int_equal(store_run_list(s, &qr, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(total, 3);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, ids[3]);
    assert_int_equal(list[1].id, ids[0]);
    assert_int_equal(list[0].status, RUN_RUNNING);
    store_run_list_free(list, n);

    int64_t *qids;
    assert_int_equal(store_run_ids_with_status(s, RUN_QUEUED, &qids, &n, &err), MLPD_OK);
    assert_int_equal(n, 6);
    for (size_t i = 1; i < n; i++) assert_true(qids[i] > qids[i - 1]); /* oldest first */
    assert_int_equal(qids[0], ids[1]);
    free(qids);
    assert_int_equal(store_run_ids_with_status(s, RUN_SUCCEEDED, &qids, &n, &err), MLPD_OK);
    assert_int_equal(n, 0);
    free(qids);
    store_close(s);
}

/* ---- metrics ------------------------------------------------------------------------ */

static void test_metrics_append_and_cursor(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    int64_t a = new_run(s, "ds", 2), b = new_run(s, "ds", 2);
    store_metric ma[3] = {metric(a, "loss", 1, 10, 0.9), metric(a, "accuracy", 1, 10, 0.6),
                          metric(a, "loss", 2, 20, 0.4)};
    store_metric mb[1] = {metric(b, "loss", 1, 5, 2.5)};
    assert_int_equal(store_metrics_append(s, ma, 2, &err), MLPD_OK);
    assert_int_equal(store_metrics_append(s, mb, 1, &err), MLPD_OK);
    assert_int_equal(store_metrics_append(s, ma + 2, 1, &err), MLPD_OK);

    store_metric *got;
    size_t n;
    assert_int_equal(store_metrics_get(s, a, 0, 100, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].run_id, a);
        assert_string_equal(got[i].key, ma[i].key);
        assert_int_equal(got[i].epoch, ma[i].epoch);
        assert_int_equal(got[i].step, ma[i].step);
        assert_float_equal(got[i].value, ma[i].value, 1e-12);
        assert_true(got[i].time > 1.6e9);
        if (i) assert_true(got[i].id > got[i - 1].id);
    }
    int64_t first = got[0].id, last = got[2].id;
    free(got);
    assert_int_equal(store_metrics_get(s, a, first, 100, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].key, "accuracy");
    free(got);
    assert_int_equal(store_metrics_get(s, a, 0, 1, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, first);
    free(got);
    assert_int_equal(store_metrics_get(s, a, last, 100, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 0);
    free(got);

    /* One bad metric rolls back the whole batch. */
    store_metric bad[2] = {metric(b, "loss", 2, 9, 1.0), metric(b, "loss", 3, 10, NAN)};
    assert_int_equal(store_metrics_append(s, bad, 2, &err), MLPD_ESTORE);
    assert_int_equal(store_metrics_get(s, b, 0, 100, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 1);
    free(got);
    /* Foreign keys are on: no metrics for a run that does not exist. */
    store_metric orphan = metric(b + 1000, "loss", 1, 1, 1.0);
    assert_int_equal(store_metrics_append(s, &orphan, 1, &err), MLPD_ESTORE);
    store_close(s);
}

/* --keep-step-metrics: a run's step_loss rows stay within (keep/2, keep],
 * spread over the whole run (its first and newest kept); epoch metrics and
 * other runs are untouched; 0 keeps everything. */
static void test_step_metrics_retention(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    enum { KEEP = 64, COMMITS = 40, PER = 25 };
    int64_t a = new_run(s, "ds", 2), b = new_run(s, "ds", 2);
    store_set_keep_step_metrics(s, KEEP);
    int64_t step = 0;
    for (int c = 0; c < COMMITS; c++) {
        store_metric m[PER + 1];
        for (int i = 0; i < PER; i++) {
            step++;
            m[i] = metric(a, "step_loss", c / 10 + 1, step, 1.0 / (double)step);
        }
        m[PER] = metric(a, "loss", c / 10 + 1, step, 0.5);
        if (c % 2)
            assert_int_equal(store_metrics_append(s, m, PER + 1, &err), MLPD_OK);
        else
            assert_int_equal(store_run_record_epoch(s, a, m, PER + 1, c / 10 + 1, step, 0.5, 0.5,
                                                    NAN, NAN, 100.0, NULL, 0, &err),
                             MLPD_OK);
        store_metric *got;
        size_t n, steps = 0, losses = 0;
        int64_t first = -1, last = -1;
        assert_int_equal(store_metrics_get(s, a, 0, 10000, &got, &n, &err), MLPD_OK);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(got[i].key, "step_loss")) {
                losses++;
                continue;
            }
            if (first < 0) first = got[i].step;
            last = got[i].step;
            steps++;
        }
        free(got);
        assert_int_equal(losses, (size_t)c + 1);
        assert_int_equal(first, 1);
        assert_int_equal(last, step);
        assert_true(steps <= KEEP);
        if (step > KEEP) assert_true(steps > KEEP / 2);
    }
    store_set_keep_step_metrics(s, 0);
    store_metric mb[3 * KEEP];
    for (int i = 0; i < 3 * KEEP; i++) mb[i] = metric(b, "step_loss", 1, i + 1, 1.0);
    assert_int_equal(store_metrics_append(s, mb, 3 * KEEP, &err), MLPD_OK);
    store_metric *got;
    size_t n;
    assert_int_equal(store_metrics_get(s, b, 0, 10000, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 3 * KEEP);
    free(got);
    store_close(s);
}

static void test_record_epoch_is_atomic(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    int64_t run = new_run(s, "ds", 5);
    store_metric ok[2] = {metric(run, "loss", 1, 40, 0.7), metric(run, "accuracy", 1, 40, 0.55)};
    assert_int_equal(
        store_run_record_epoch(s, run, ok, 2, 1, 40, 0.7, 0.55, NAN, NAN, 99.0, NULL, 0, &err),
        MLPD_OK);
    store_run r;
    assert_int_equal(store_run_get(s, run, &r, &err), MLPD_OK);
    assert_int_equal(r.epoch, 1);
    assert_int_equal(r.step, 40);
    assert_int_equal(r.steps, 40);
    assert_float_equal(r.loss, 0.7, 1e-12);
    assert_true(isnan(r.val_loss));
    store_run_clear(&r);
    /* A bad metric undoes the progress update as well. */
    store_metric bad[2] = {metric(run, "loss", 2, 80, 0.6), metric(run, "accuracy", 2, 80, NAN)};
    assert_int_equal(
        store_run_record_epoch(s, run, bad, 2, 2, 40, 0.6, 0.6, NAN, NAN, 99.0, NULL, 0, &err),
        MLPD_ESTORE);
    assert_int_equal(store_run_get(s, run, &r, &err), MLPD_OK);
    assert_int_equal(r.epoch, 1);
    store_run_clear(&r);
    store_metric *got;
    size_t n;
    assert_int_equal(store_metrics_get(s, run, 0, 100, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 2);
    free(got);
    /* An unknown run: nothing is written. */
    store_metric other = metric(run, "loss", 3, 120, 0.5);
    assert_int_equal(
        store_run_record_epoch(s, run + 50, &other, 1, 3, 40, 0.5, 0.6, NAN, NAN, 1, NULL, 0, &err),
        MLPD_ENOTFOUND);
    assert_int_equal(store_metrics_get(s, run, 0, 100, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 2);
    free(got);
    store_close(s);
}

typedef struct {
    store *s;
    int64_t run;
    int count;
} append_arg;

static void *append_many(void *p) {
    append_arg *a = p;
    for (int i = 0; i < a->count; i++) {
        store_metric m = metric(a->run, "step_loss", 1, i, (double)i);
        if (store_metrics_append(a->s, &m, 1, NULL) != MLPD_OK) return (void *)1;
    }
    return NULL;
}

static void test_metrics_from_many_threads(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    enum { THREADS = 4, EACH = 50 };
    pthread_t t[THREADS];
    append_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (append_arg){.s = s, .run = new_run(s, "ds", 1), .count = EACH};
        pthread_create(&t[i], NULL, append_many, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
    for (int i = 0; i < THREADS; i++) {
        store_metric *got;
        size_t n;
        assert_int_equal(store_metrics_get(s, args[i].run, 0, 1000, &got, &n, NULL), MLPD_OK);
        assert_int_equal(n, EACH);
        for (size_t k = 0; k < n; k++) assert_int_equal(got[k].step, (int64_t)k);
        free(got);
    }
    store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_db_is_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_db_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_migration_applies_and_bad_one_rolls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_checksum_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_migrations_dir_is_an_error, setup, teardown),
        cmocka_unit_test(test_run_status_names),
        cmocka_unit_test_setup_teardown(test_runs_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_list_filter_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_append_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_epoch_is_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_metrics_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_from_many_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
