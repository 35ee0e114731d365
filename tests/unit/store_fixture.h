/* store_fixture.h - the fixture of the store tests (test_store.c,
 * test_store_objects.c): a fresh database in a temp dir with a private copy
 * of the migrations, and small helpers that make rows.
 *
 * Migrations come from $MLPD_MIGRATIONS or ./migrations (tests run from the
 * repository root). Include after <cmocka.h> and test_util.h; the helpers
 * assert, so a broken fixture fails the test that used it. */
#ifndef MLPD_STORE_FIXTURE_H
#define MLPD_STORE_FIXTURE_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

typedef struct {
    char dir[256];
    char db[512];
    char migrations[512]; /* a private copy, so tests may add files */
    int newest;           /* highest migration number in it */
} fixture;

static inline const char *migrations_src(void) {
    const char *env = getenv("MLPD_MIGRATIONS");
    return env && *env ? env : "migrations";
}

static inline void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static inline int setup(void **state) {
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

static inline int teardown(void **state) {
    fixture *f = *state;
    tu_remove_tree(f->dir);
    free(f);
    return 0;
}

static inline store *open_ok(const fixture *f) {
    store *s = NULL;
    mlpd_error err = {0};
    int rc = store_open(f->db, f->migrations, &s, &err);
    if (rc != MLPD_OK) fail_msg("store_open: %s", err.msg);
    assert_non_null(s);
    return s;
}

/* One integer from a query run on a separate, raw connection. */
static inline int64_t raw_int(const char *db, const char *sql) {
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

static inline void raw_exec(const char *db, const char *sql) {
    sqlite3 *c;
    assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
    assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
}

/* A queued run on `dataset` for `epochs` epochs; its id. */
static inline int64_t new_run(store *s, const char *dataset, int epochs) {
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"dataset\":\"%s\",\"epochs\":%d}", dataset, epochs);
    int64_t id = 0;
    mlpd_error err = {0};
    assert_int_equal(store_run_create(s, cfg, dataset, epochs, &id, &err), MLPD_OK);
    assert_true(id > 0);
    return id;
}

static inline store_metric metric(int64_t run, const char *key, int epoch, int64_t step, double v) {
    store_metric m = {.run_id = run, .epoch = epoch, .step = step, .value = v};
    snprintf(m.key, sizeof m.key, "%s", key);
    return m;
}

/* A model of len bytes (a pattern from seed) under `name`; its id. */
static inline int64_t put_model(store *s, int64_t run, const char *name, size_t len,
                                unsigned seed) {
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

#endif /* MLPD_STORE_FIXTURE_H */
