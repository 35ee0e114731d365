/* test_store.c - the SQLite store against a fresh database in a temp dir:
 * migrations, version refusal, runs, metrics, models, datasets, reopening.
 *
 * Migrations come from $MLPD_MIGRATIONS or ./migrations (tests run from the
 * repository root). Expected schema versions are read from that folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store.h"
#include "test_util.h"

typedef struct {
    char dir[256];
    char db[512];
    char migrations[512]; /* a private copy, so tests may add files */
    int newest;           /* highest migration number in it */
} fixture;

static const char *migrations_src(void) {
    const char *env = getenv("MLPD_MIGRATIONS");
    return env && *env ? env : "migrations";
}

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (tu_make_temp_dir(f->dir, sizeof f->dir, "test-store") != 0) return -1;
    snprintf(f->db, sizeof f->db, "%s/mlpd.db", f->dir);
    snprintf(f->migrations, sizeof f->migrations, "%s/migrations", f->dir);
    if (mkdir(f->migrations, 0700) != 0) return -1;
    DIR *d = opendir(migrations_src());
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql")) continue;
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/%s", migrations_src(), e->d_name);
        snprintf(to, sizeof to, "%s/%s", f->migrations, e->d_name);
        copy_file(from, to);
        int n = atoi(e->d_name);
        if (n > f->newest) f->newest = n;
    }
    closedir(d);
    *state = f;
    return f->newest > 0 ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    tu_remove_tree(f->dir);
    free(f);
    return 0;
}

static store *open_ok(const fixture *f) {
    store *s = NULL;
    mlpd_error err = {0};
    int rc = store_open(f->db, f->migrations, &s, &err);
    if (rc != MLPD_OK) fail_msg("store_open: %s", err.msg);
    assert_non_null(s);
    return s;
}

/* One integer from a query run on a separate, raw connection. */
static int64_t raw_int(const char *db, const char *sql) {
    sqlite3 *c;
    assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static void raw_exec(const char *db, const char *sql) {
    sqlite3 *c;
    assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
    assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
}

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
    assert_int_equal(store_open(f->db, f->migrations, &s, &err), MLPD_ESTORE);
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

/* 004_model_checksum.sql: a model stored with the old checksum (the CRC of
 * the whole file, the same for every file) gets the one its file stores. */
static void test_checksum_migration(void **state) {
    fixture *f = *state;
    char on[1024], off[1024];
    snprintf(on, sizeof on, "%s/004_model_checksum.sql", f->migrations);
    snprintf(off, sizeof off, "%s/004_model_checksum.off", f->migrations);
    assert_int_equal(rename(on, off), 0);
    unsigned char file[64];
    for (size_t i = 0; i < sizeof file; i++) file[i] = (unsigned char)(i * 7 + 1);
    file[60] = 0x78, file[61] = 0x56, file[62] = 0x34, file[63] = 0x12; /* little-endian */
    store_model meta = {.name = "old", .arch_json = "{}", .checksum = "2144df1c", .n_params = 1};
    int64_t id = 0;
    mlpd_error err = {0};
    store *s = open_ok(f); /* without the migration */
    assert_int_equal(store_schema_version(s), f->newest - 1);
    if (store_model_put(s, &meta, file, sizeof file, &id, NULL, &err) != MLPD_OK)
        fail_msg("put: %s", err.msg);
    store_close(s);
    assert_int_equal(rename(off, on), 0);
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

static int64_t new_run(store *s, const char *dataset, int epochs) {
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"dataset\":\"%s\",\"epochs\":%d}", dataset, epochs);
    int64_t id = 0;
    mlpd_error err = {0};
    assert_int_equal(store_run_create(s, cfg, dataset, epochs, &id, &err), MLPD_OK);
    assert_true(id > 0);
    return id;
}

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

static store_metric metric(int64_t run, const char *key, int epoch, int64_t step, double v) {
    store_metric m = {.run_id = run, .epoch = epoch, .step = step, .value = v};
    snprintf(m.key, sizeof m.key, "%s", key);
    return m;
}

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

static void test_record_epoch_is_atomic(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    int64_t run = new_run(s, "ds", 5);
    store_metric ok[2] = {metric(run, "loss", 1, 40, 0.7), metric(run, "accuracy", 1, 40, 0.55)};
    assert_int_equal(store_run_record_epoch(s, run, ok, 2, 1, 40, 0.7, 0.55, NAN, NAN, 99.0, &err),
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
    assert_int_equal(store_run_record_epoch(s, run, bad, 2, 2, 40, 0.6, 0.6, NAN, NAN, 99.0, &err),
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
        store_run_record_epoch(s, run + 50, &other, 1, 3, 40, 0.5, 0.6, NAN, NAN, 1, &err),
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

/* ---- models ------------------------------------------------------------------------ */

static int64_t put_model(store *s, int64_t run, const char *name, size_t len, unsigned seed) {
    unsigned char *bytes = malloc(len);
    for (size_t i = 0; i < len; i++) bytes[i] = (unsigned char)(i * 31 + seed);
    store_model meta = {.run_id = run,
                        .name = (char *)name,
                        .arch_json =
                            "{\"inputs\":4,\"layers\":[{\"units\":3,\"activation\":\"softmax\"}],"
                            "\"loss\":\"cross_entropy\"}",
                        .n_params = 15};
    int64_t id = 0;
    mlpd_error err = {0};
    assert_int_equal(store_model_put(s, &meta, bytes, len, &id, NULL, &err), MLPD_OK);
    free(bytes);
    assert_true(id > 0);
    return id;
}

static void test_models(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    int64_t latest;
    assert_int_equal(store_model_latest(s, &latest, &err), MLPD_ENOTFOUND);
    int64_t run = new_run(s, "ds", 1);
    int64_t m1 = put_model(s, run, "first", 1000, 1);
    int64_t m2 = put_model(s, 0, "other", 70000, 2); /* bigger than a page: overflow pages */
    assert_int_equal(store_run_finish(s, run, NAN, NAN, m1, &err), MLPD_OK);

    store_model m;
    assert_int_equal(store_model_get(s, m1, &m, &err), MLPD_OK);
    assert_int_equal(m.run_id, run);
    assert_string_equal(m.name, "first");
    assert_non_null(strstr(m.arch_json, "softmax"));
    assert_null(m.config_json);
    assert_int_equal(m.size_bytes, 1000);
    assert_int_equal(m.n_params, 15);
    unsigned char *bytes;
    size_t len;
    assert_int_equal(store_model_file(s, m1, &bytes, &len, &err), MLPD_OK);
    assert_int_equal(len, 1000);
    for (size_t i = 0; i < len; i++) assert_int_equal(bytes[i], (unsigned char)(i * 31 + 1));
    char crc[16];
    /* Taken by the store when not given: the CRC-32 a model file stores in
     * its last four bytes, little-endian (docs/model-format.md). */
    snprintf(crc, sizeof crc, "%02x%02x%02x%02x", bytes[len - 1], bytes[len - 2], bytes[len - 3],
             bytes[len - 4]);
    assert_string_equal(m.checksum, crc);
    free(bytes);
    store_model_clear(&m);

    assert_int_equal(store_model_get(s, m2, &m, &err), MLPD_OK);
    assert_int_equal(m.run_id, 0);
    assert_string_equal(m.name, "other");
    assert_int_equal(m.version, 1);
    assert_int_equal(m.size_bytes, 70000);
    store_model_clear(&m);

    store_model *list;
    size_t n;
    int64_t total;
    assert_int_equal(store_model_list(s, 10, 0, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(total, 2);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, m2);
    assert_int_equal(list[1].id, m1);
    store_model_list_free(list, n);
    assert_int_equal(store_model_list(s, 1, 1, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, m1);
    store_model_list_free(list, n);

    assert_int_equal(store_model_latest(s, &latest, &err), MLPD_OK);
    assert_int_equal(latest, m2);
    assert_int_equal(store_model_delete(s, m2, &err), MLPD_OK);
    assert_int_equal(store_model_delete(s, m2, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_model_get(s, m2, &m, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_model_file(s, m2, &bytes, &len, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_model_latest(s, &latest, &err), MLPD_OK);
    assert_int_equal(latest, m1);

    /* Deleting the model a run made clears the run's link to it. */
    store_run r;
    assert_int_equal(store_run_get(s, run, &r, &err), MLPD_OK);
    assert_int_equal(r.model_id, m1);
    store_run_clear(&r);
    assert_int_equal(store_model_delete(s, m1, &err), MLPD_OK);
    assert_int_equal(store_run_get(s, run, &r, &err), MLPD_OK);
    assert_int_equal(r.model_id, 0);
    store_run_clear(&r);
    assert_int_equal(store_model_latest(s, &latest, &err), MLPD_ENOTFOUND);
    store_close(s);
}

/* ---- datasets ------------------------------------------------------------------------ */

static void test_datasets(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    store_dataset d = {.name = "zeta",
                       .source = "upload",
                       .path = "zeta.csv",
                       .format = "csv",
                       .n_train = 100,
                       .features = 4,
                       .classes = 3};
    int64_t id1, id2, id3;
    assert_int_equal(store_dataset_put(s, &d, &id1, &err), MLPD_OK);
    store_dataset e = {.name = "alpha",
                       .source = "data-dir",
                       .path = "alpha",
                       .format = "idx",
                       .n_train = 60,
                       .n_test = 10,
                       .features = 784,
                       .classes = 10};
    assert_int_equal(store_dataset_put(s, &e, &id2, &err), MLPD_OK);
    assert_true(id1 != id2);

    store_dataset got;
    assert_int_equal(store_dataset_get(s, "zeta", &got, &err), MLPD_OK);
    assert_int_equal(got.id, id1);
    assert_string_equal(got.source, "upload");
    assert_string_equal(got.path, "zeta.csv");
    assert_string_equal(got.format, "csv");
    assert_int_equal(got.n_train, 100);
    assert_int_equal(got.n_test, 0);
    assert_int_equal(got.features, 4);
    assert_int_equal(got.classes, 3);
    double created = got.created_at;
    store_dataset_clear(&got);

    /* Same name: updated in place, id and created_at kept. */
    d.n_train = 250;
    d.classes = 5;
    assert_int_equal(store_dataset_put(s, &d, &id3, &err), MLPD_OK);
    assert_int_equal(id3, id1);
    assert_int_equal(store_dataset_get(s, "zeta", &got, &err), MLPD_OK);
    assert_int_equal(got.n_train, 250);
    assert_int_equal(got.classes, 5);
    assert_true(got.created_at == created);
    store_dataset_clear(&got);
    assert_int_equal(store_dataset_get(s, "nope", &got, &err), MLPD_ENOTFOUND);

    store_dataset *list;
    size_t n;
    assert_int_equal(store_dataset_list(s, &list, &n, &err), MLPD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "alpha");
    assert_string_equal(list[1].name, "zeta");
    store_dataset_list_free(list, n);

    store_dataset bad = e;
    bad.name = "bad";
    bad.format = "parquet";
    assert_int_equal(store_dataset_put(s, &bad, NULL, &err), MLPD_ESTORE);
    store_close(s);
}

/* ---- persistence ---------------------------------------------------------------------- */

static void test_everything_survives_reopen(void **state) {
    fixture *f = *state;
    store *s = open_ok(f);
    mlpd_error err = {0};
    int64_t run = new_run(s, "keep", 3);
    store_run_set_status(s, run, RUN_RUNNING, NULL, &err);
    store_metric m = metric(run, "loss", 1, 7, 0.25);
    assert_int_equal(store_metrics_append(s, &m, 1, &err), MLPD_OK);
    int64_t model = put_model(s, run, "kept", 321, 9);
    store_dataset d = {.name = "keep",
                       .source = "upload",
                       .path = "keep.csv",
                       .format = "csv",
                       .n_train = 3,
                       .features = 2,
                       .classes = 2};
    assert_int_equal(store_dataset_put(s, &d, NULL, &err), MLPD_OK);
    store_close(s);

    s = open_ok(f);
    store_run r;
    assert_int_equal(store_run_get(s, run, &r, &err), MLPD_OK);
    assert_int_equal(r.status, RUN_RUNNING);
    assert_string_equal(r.dataset, "keep");
    store_run_clear(&r);
    store_metric *got;
    size_t n;
    assert_int_equal(store_metrics_get(s, run, 0, 10, &got, &n, &err), MLPD_OK);
    assert_int_equal(n, 1);
    assert_float_equal(got[0].value, 0.25, 1e-12);
    free(got);
    unsigned char *bytes;
    size_t len;
    assert_int_equal(store_model_file(s, model, &bytes, &len, &err), MLPD_OK);
    assert_int_equal(len, 321);
    assert_int_equal(bytes[5], (unsigned char)(5 * 31 + 9));
    free(bytes);
    store_dataset ds;
    assert_int_equal(store_dataset_get(s, "keep", &ds, &err), MLPD_OK);
    assert_int_equal(ds.features, 2);
    store_dataset_clear(&ds);
    /* Ids are not reused after a delete (AUTOINCREMENT): cursors stay valid. */
    assert_int_equal(store_model_delete(s, model, &err), MLPD_OK);
    int64_t again = put_model(s, 0, "kept", 10, 1);
    assert_true(again > model);
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
        cmocka_unit_test_setup_teardown(test_metrics_from_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datasets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_everything_survives_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
