/* test_store_objects.c - the SQLite store's models and data sets against a
 * fresh database in a temp dir, and that everything survives reopening
 * (the fixture: store_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "store_fixture.h"

/* ---- models ------------------------------------------------------------------------ */

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
    assert_int_equal(store_model_list(s, 10, 0, 0, &list, &n, &total, &err), MLPD_OK);
    assert_int_equal(total, 2);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, m2);
    assert_int_equal(list[1].id, m1);
    store_model_list_free(list, n);
    assert_int_equal(store_model_list(s, 1, 1, 0, &list, &n, &total, &err), MLPD_OK);
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
        cmocka_unit_test_setup_teardown(test_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datasets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_everything_survives_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
