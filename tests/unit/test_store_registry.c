/* test_store_registry.c - the store's model registry (store.h, 002_registry.sql):
 * versions numbered per name, aliases that move, canaries, the conflict when
 * deleting a referenced version, the snapshot, and the migration of a
 * database made before the registry (labels folded into names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "test_util.h"

static char dir[256], db[512], mig1[512];

static const char *migrations(void) {
    const char *env = getenv("MLPD_MIGRATIONS");
    return env && *env ? env : "migrations";
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "test-registry") != 0) return -1;
    snprintf(db, sizeof db, "%s/mlpd.db", dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_remove_tree(dir);
    return 0;
}

static store *open_with(const char *migs) {
    store *s = NULL;
    mlpd_error err = {0};
    if (store_open(db, migs, &s, &err) != MLPD_OK) fail_msg("store_open: %s", err.msg);
    return s;
}

static int64_t put(store *s, const char *name, int *version) {
    unsigned char bytes[64];
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(i * 7 + 1);
    store_model meta = {.name = (char *)name, .arch_json = "{\"inputs\":4}", .n_params = 4};
    int64_t id = 0;
    mlpd_error err = {0};
    assert_int_equal(store_model_put(s, &meta, bytes, sizeof bytes, &id, version, &err), MLPD_OK);
    return id;
}

static void test_versions_aliases_canary(void **state) {
    (void)state;
    store *s = open_with(migrations());
    mlpd_error err = {0};
    int v = 0;
    int64_t a1 = put(s, "alpha", &v);
    assert_int_equal(v, 1);
    int64_t b1 = put(s, "beta", &v);
    assert_int_equal(v, 1);
    int64_t a2 = put(s, "alpha", &v);
    assert_int_equal(v, 2);
    int64_t id = 0;
    assert_int_equal(store_model_find(s, "alpha", 2, &id, &err), MLPD_OK);
    assert_int_equal(id, a2);
    assert_int_equal(store_model_find(s, "alpha", 3, &id, &err), MLPD_ENOTFOUND);
    store_model *list;
    size_t n;
    assert_int_equal(store_model_versions(s, "alpha", &list, &n, &err), MLPD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, a1);
    assert_int_equal(list[1].version, 2);
    store_model_list_free(list, n);
    assert_int_equal(store_model_versions(s, "gamma", &list, &n, &err), MLPD_ENOTFOUND);

    /* Aliases: set, move, refuse an unknown version, block deletes. */
    assert_int_equal(store_alias_set(s, "alpha", "production", 1, &err), MLPD_OK);
    assert_int_equal(store_alias_set(s, "alpha", "production", 9, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_model_delete(s, a1, &err), MLPD_ECONFLICT);
    assert_non_null(strstr(err.msg, "production"));
    assert_int_equal(store_alias_set(s, "alpha", "production", 2, &err), MLPD_OK);
    assert_int_equal(store_canary_set(s, "alpha", 1, 25, &err), MLPD_OK);
    assert_int_equal(store_canary_set(s, "alpha", 7, 25, &err), MLPD_ENOTFOUND);
    assert_int_equal(store_canary_set(s, "alpha", 1, -1, &err), MLPD_ESTORE);
    assert_int_equal(store_model_delete(s, a1, &err), MLPD_ECONFLICT);
    assert_non_null(strstr(err.msg, "canary"));

    store_registry reg;
    assert_int_equal(store_registry_load(s, &reg, &err), MLPD_OK);
    assert_int_equal(reg.n_versions, 3);
    assert_string_equal(reg.versions[0].name, "alpha");
    assert_int_equal(reg.versions[2].model_id, b1);
    assert_int_equal(reg.n_aliases, 1);
    assert_int_equal(reg.aliases[0].version, 2);
    assert_int_equal(reg.n_canaries, 1);
    assert_int_equal(reg.canaries[0].percent, 25);
    store_registry_free(&reg);

    assert_int_equal(store_canary_set(s, "alpha", 0, 0, &err), MLPD_OK);
    assert_int_equal(store_model_delete(s, a1, &err), MLPD_OK);
    assert_int_equal(store_alias_delete(s, "alpha", "production", &err), MLPD_OK);
    assert_int_equal(store_alias_delete(s, "alpha", "production", &err), MLPD_ENOTFOUND);
    assert_int_equal(store_model_delete(s, a2, &err), MLPD_OK);
    /* Versions are never reused while a row of the name lives; a name whose
     * versions are all gone starts again at 1. */
    put(s, "alpha", &v);
    assert_int_equal(v, 1);
    store_close(s);
}

static void raw_exec(const char *sql) {
    sqlite3 *c;
    assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(c, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s", msg);
    sqlite3_close(c);
}

static void test_migration_folds_labels_into_names(void **state) {
    (void)state;
    /* A database at schema 1 (before the registry) with labelled models. */
    snprintf(mig1, sizeof mig1, "%s/m1", dir);
    assert_int_equal(mkdir(mig1, 0700), 0);
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/001_init.sql", migrations());
    snprintf(to, sizeof to, "%s/001_init.sql", mig1);
    size_t len = 0;
    FILE *in = fopen(from, "rb");
    assert_non_null(in);
    static char sql[65536];
    len = fread(sql, 1, sizeof sql, in);
    fclose(in);
    tu_write_file(to, sql, len, 0);
    store *s = open_with(mig1);
    store_close(s);
    raw_exec("INSERT INTO runs (id, status, config_json, dataset, created_at, epochs) "
             "VALUES (1, 'succeeded', '{}', 'fashion-mnist', 0, 1), "
             "(2, 'succeeded', '{}', '8bit', 0, 1);"
             "INSERT INTO models (id, run_id, name, arch_json, checksum, size_bytes, n_params,"
             " created_at, file) VALUES"
             " (1, 1, NULL, '{}', 'x', 1, 1, 0, x'00'),"
             " (2, NULL, 'copy', '{}', 'x', 1, 1, 0, x'00'),"
             " (3, NULL, 'has space', '{}', 'x', 1, 1, 0, x'00'),"
             " (4, 1, NULL, '{}', 'x', 1, 1, 0, x'00'),"
             " (5, 2, NULL, '{}', 'x', 1, 1, 0, x'00');");
    s = open_with(migrations());
    mlpd_error err = {0};
    store_model m;
    static const struct {
        int64_t id;
        const char *name;
        int version;
    } want[] = {{1, "fashion-mnist", 1},
                {2, "copy", 1},
                {3, "model", 1},
                {4, "fashion-mnist", 2},
                {5, "model", 2}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(store_model_get(s, want[i].id, &m, &err), MLPD_OK);
        assert_string_equal(m.name, want[i].name);
        assert_int_equal(m.version, want[i].version);
        store_model_clear(&m);
    }
    int v = 0;
    put(s, "copy", &v);
    assert_int_equal(v, 2);
    store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_aliases_canary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_folds_labels_into_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
