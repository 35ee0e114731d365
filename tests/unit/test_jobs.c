/* test_jobs.c - the job runner with a real store, real engine and small
 * synthetic datasets written to a temp data dir (jobs_fixture.h): dataset
 * scanning, a job that succeeds, warm starts and optimizer state, unknown
 * datasets and models, cancelling, the queue limit. Crash recovery,
 * shutdown and OpenBLAS threads: test_jobs_lifecycle.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cblas.h>
#include <stdatomic.h>

#include "datasets.h"
#include "jobs.h"
#include "test_util.h"
#include "jobs_fixture.h"

/* ---- datasets_scan ------------------------------------------------------------------ */

static void write_idx(const char *path, int gz, uint32_t magic, uint32_t n, int rows, int cols,
                      const unsigned char *body, size_t len) {
    unsigned char h[16];
    uint32_t dims[4] = {magic, n, (uint32_t)rows, (uint32_t)cols};
    int nh = magic == 0x803 ? 4 : 2;
    for (int i = 0; i < nh; i++)
        for (int b = 0; b < 4; b++) h[i * 4 + b] = (unsigned char)(dims[i] >> (24 - 8 * b));
    gzFile g = gzopen(path, gz ? "wb" : "wbT"); /* T: plain, uncompressed */
    assert_non_null(g);
    assert_int_equal(gzwrite(g, h, (unsigned)(nh * 4)), nh * 4);
    if (len) assert_int_equal(gzwrite(g, body, (unsigned)len), (int)len);
    gzclose(g);
}

static void test_scan_finds_csv_and_idx(void **state) {
    fixture *f = *state;
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/mini", f->data);
    mkdir(dir, 0700);
    unsigned char px[10 * 6] = {0}, lab[10] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4};
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_idx(path, 0, 0x803, 10, 2, 3, px, sizeof px);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    write_idx(path, 0, 0x801, 10, 0, 0, lab, sizeof lab);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    write_idx(path, 1, 0x803, 4, 2, 3, px, 4 * 6);
    lab[2] = 6; /* the test split has a class the train split lacks */
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_idx(path, 1, 0x801, 4, 0, 0, lab, 4);
    /* Not datasets: a folder without the test split, a badly named CSV. */
    snprintf(dir, sizeof dir, "%s/partial", f->data);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_idx(path, 0, 0x803, 10, 2, 3, px, sizeof px);
    snprintf(path, sizeof path, "%s/bad name.csv", f->data);
    write_csv(path, 5, 2);

    mlpd_error err = {0};
    assert_int_equal(datasets_scan(f->st, f->data, MLP_DATASET_MAX_BYTES_DEFAULT, &err), 3);
    store_dataset d;
    assert_int_equal(store_dataset_get(f->st, "mini", &d, NULL), MLPD_OK);
    assert_string_equal(d.format, "idx");
    assert_string_equal(d.path, "mini");
    assert_string_equal(d.source, "data-dir");
    assert_int_equal(d.n_train, 10);
    assert_int_equal(d.n_test, 4);
    assert_int_equal(d.features, 6);
    assert_int_equal(d.classes, 7);
    store_dataset_clear(&d);
    assert_int_equal(store_dataset_get(f->st, "tiny", &d, NULL), MLPD_OK);
    assert_string_equal(d.format, "csv");
    assert_string_equal(d.path, "tiny.csv");
    assert_int_equal(d.n_train, 64);
    assert_int_equal(d.n_test, 0);
    assert_int_equal(d.features, 4);
    assert_int_equal(d.classes, 2);
    store_dataset_clear(&d);
    assert_int_equal(store_dataset_get(f->st, "partial", &d, NULL), MLPD_ENOTFOUND);
    assert_int_equal(store_dataset_get(f->st, "bad name", &d, NULL), MLPD_ENOTFOUND);

    /* A rescan keeps the source of a dataset registered with the same path. */
    store_dataset up = {.name = "tiny",
                        .source = "upload",
                        .path = "tiny.csv",
                        .format = "csv",
                        .n_train = 1,
                        .features = 4,
                        .classes = 2};
    assert_int_equal(store_dataset_put(f->st, &up, NULL, NULL), MLPD_OK);
    assert_int_equal(datasets_scan(f->st, f->data, MLP_DATASET_MAX_BYTES_DEFAULT, &err), 3);
    assert_int_equal(store_dataset_get(f->st, "tiny", &d, NULL), MLPD_OK);
    assert_string_equal(d.source, "upload");
    assert_int_equal(d.n_train, 64);
    store_dataset_clear(&d);

    snprintf(dir, sizeof dir, "%s/missing", f->dir);
    assert_int_equal(datasets_scan(f->st, dir, MLP_DATASET_MAX_BYTES_DEFAULT, &err), MLPD_EIO);
    assert_non_null(strstr(err.msg, "missing"));
}

/* ---- jobs ------------------------------------------------------------------------------- */

static void test_small_job_succeeds(void **state) {
    fixture *f = *state;
    jobs *j = start(f, 1, 4);
    api_train_request r = request("tiny", 3, 16);
    int64_t id = submit_ok(j, &r);
    assert_int_equal(wait_final(f, id, 60), RUN_SUCCEEDED);

    store_run run;
    assert_int_equal(store_run_get(f->st, id, &run, NULL), MLPD_OK);
    assert_null(run.error);
    assert_int_equal(run.epoch, 3);
    assert_int_equal(run.epochs, 3);
    assert_int_equal(run.steps, 4); /* 64 rows / batch 16 */
    assert_true(isfinite(run.loss) && isfinite(run.accuracy));
    assert_true(isnan(run.test_loss)); /* a CSV has no test split */
    assert_true(run.started_at > 0 && run.finished_at >= run.started_at);
    assert_true(run.model_id > 0);
    char *enc = api_train_request_encode(&r);
    assert_string_equal(run.config_json, enc);
    free(enc);
    int64_t model_id = run.model_id;
    store_run_clear(&run);

    assert_int_equal(count_metrics(f, id, "loss"), 3);
    assert_int_equal(count_metrics(f, id, "accuracy"), 3);
    assert_int_equal(count_metrics(f, id, "seconds"), 3);
    assert_int_equal(count_metrics(f, id, "learning_rate"), 3);
    assert_int_equal(count_metrics(f, id, "val_loss"), 0); /* no validation split: NaN skipped */

    store_model m;
    assert_int_equal(store_model_get(f->st, model_id, &m, NULL), MLPD_OK);
    assert_int_equal(m.run_id, id);
    unsigned char *buf;
    size_t len;
    assert_int_equal(store_model_file(f->st, model_id, &buf, &len, NULL), MLPD_OK);
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", crc32(0L, buf, (uInt)len - 4));
    assert_string_equal(m.checksum, crc);
    assert_string_not_equal(m.checksum, "2144df1c");
    mlp_model *model = NULL;
    assert_int_equal(mlp_model_from_buffer(buf, len, &model, NULL), MLP_OK);
    assert_int_equal(model->arch.n_layers, 2);
    assert_int_equal(model->arch.sizes[0], 4);
    assert_int_equal(model->arch.sizes[1], 8);
    assert_int_equal(model->arch.sizes[2], 2);
    assert_int_equal(m.n_params, (int64_t)mlp_arch_param_count(&model->arch));
    assert_non_null(strstr(m.arch_json, "\"inputs\":4"));
    assert_non_null(strstr(m.metrics_json, "\"epochs_run\":3"));
    mlp_model_free(model);
    free(buf);
    store_model_clear(&m);
    assert_int_equal(jobs_get_live(j, id, &(jobs_live){0}), MLPD_ENOTFOUND);
    assert_int_equal(jobs_cancel(j, id), MLPD_ECONFLICT);

    /* Warm start from that model: same layers run, others are refused. */
    api_train_request warm = request("tiny", 1, 16);
    warm.warm_start_model = model_id;
    int64_t id2 = submit_ok(j, &warm);
    assert_int_equal(wait_final(f, id2, 60), RUN_SUCCEEDED);
    warm.recipe.hidden[0] = 5;
    mlpd_error err = {0};
    int64_t none = 0;
    assert_int_equal(jobs_submit(j, &warm, &none, &err), MLPD_ECONFLICT);
    assert_non_null(strstr(err.msg, "4-8-2"));
    warm.recipe.hidden[0] = 8;
    warm.warm_start_model = model_id + 1000;
    assert_int_equal(jobs_submit(j, &warm, &none, &err), MLPD_ENOTFOUND);
    jobs_free(j);
    assert_non_null(strstr(f->log, "succeeded"));
}

/* An Adam job's model file keeps the optimizer state (format version 2),
 * with one step per batch (an SGD model has none: version 1); a warm start
 * from it continues the state. */
static void test_adam_job_keeps_optimizer_state(void **state) {
    fixture *f = *state;
    jobs *j = start(f, 1, 4);
    store_run run;
    unsigned char *buf;
    size_t len;
    mlp_model *model = NULL;
    api_train_request adam = request("tiny", 2, 16);
    adam.recipe.train.optimizer = MLP_OPT_ADAM;
    int64_t id3 = submit_ok(j, &adam);
    assert_int_equal(wait_final(f, id3, 60), RUN_SUCCEEDED);
    assert_int_equal(store_run_get(f->st, id3, &run, NULL), MLPD_OK);
    assert_int_equal(store_model_file(f->st, run.model_id, &buf, &len, NULL), MLPD_OK);
    mlp_optim_state st;
    assert_int_equal(mlp_model_from_buffer_with_state(buf, len, &model, &st, NULL), MLP_OK);
    assert_int_equal(st.kind, MLP_OPT_ADAM);
    assert_int_equal(st.step, 2 * 4);
    assert_int_equal(st.n, model->n_params);
    mlp_optim_state_free(&st);
    mlp_model_free(model);
    free(buf);
    /* and a warm start from it continues the state: 8 + 4 steps */
    adam.recipe.train.epochs = 1;
    adam.warm_start_model = run.model_id;
    store_run_clear(&run);
    int64_t id4 = submit_ok(j, &adam);
    assert_int_equal(wait_final(f, id4, 60), RUN_SUCCEEDED);
    assert_int_equal(store_run_get(f->st, id4, &run, NULL), MLPD_OK);
    assert_int_equal(store_model_file(f->st, run.model_id, &buf, &len, NULL), MLPD_OK);
    assert_int_equal(mlp_model_from_buffer_with_state(buf, len, &model, &st, NULL), MLP_OK);
    assert_int_equal(st.step, 2 * 4 + 4);
    mlp_optim_state_free(&st);
    mlp_model_free(model);
    free(buf);
    store_run_clear(&run);
    jobs_free(j);
    assert_non_null(strstr(f->log, "succeeded"));
}

static void test_unknown_dataset_is_refused(void **state) {
    fixture *f = *state;
    jobs *j = start(f, 1, 4);
    api_train_request r = request("no-such-set", 1, 16);
    mlpd_error err = {0};
    int64_t id = 0;
    assert_int_equal(jobs_submit(j, &r, &id, &err), MLPD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no-such-set"));
    store_run_query q = {.limit = 10};
    store_run *list;
    size_t n;
    int64_t total;
    assert_int_equal(store_run_list(f->st, &q, &list, &n, &total, NULL), MLPD_OK);
    assert_int_equal(total, 0); /* nothing was recorded */
    store_run_list_free(list, n);
    assert_int_equal(jobs_cancel(j, 424242), MLPD_ENOTFOUND);
    jobs_free(j);
}

static void test_cancel_running_job(void **state) {
    fixture *f = *state;
    jobs *j = start(f, 1, 4);
    api_train_request r = request("slow", SLOW_EPOCHS, 4);
    int64_t id = submit_ok(j, &r);
    wait_first_epoch(f, j, id);
    jobs_stats stats;
    jobs_get_stats(j, &stats);
    assert_int_equal(stats.running, 1);
    assert_int_equal(stats.queued, 0);
    assert_true(stats.train_samples_per_sec > 0);

    double t0 = now_s();
    assert_int_equal(jobs_cancel(j, id), MLPD_OK);
    assert_int_equal(wait_final(f, id, 10), RUN_CANCELLED);
    double took = now_s() - t0;
    assert_true(took < 2.0);
    assert_true(count_metrics(f, id, "loss") >= 1); /* what it recorded stays */
    store_run run;
    assert_int_equal(store_run_get(f->st, id, &run, NULL), MLPD_OK);
    assert_int_equal(run.model_id, 0);
    assert_true(run.epoch >= 1);
    store_run_clear(&run);
    assert_int_equal(jobs_cancel(j, id), MLPD_ECONFLICT);
    jobs_free(j);
}

static void test_queue_full(void **state) {
    fixture *f = *state;
    jobs *j = start(f, 1, 1);
    api_train_request slow = request("slow", SLOW_EPOCHS, 4);
    int64_t a = submit_ok(j, &slow);
    int64_t b = submit_ok(j, &slow);
    mlpd_error err = {0};
    int64_t c = 0;
    assert_int_equal(jobs_submit(j, &slow, &c, &err), MLPD_EBUSY);
    assert_int_equal(c, 0);
    /* Cancelling the queued run frees its place at once. */
    assert_int_equal(jobs_cancel(j, b), MLPD_OK);
    assert_int_equal(status_of(f, b), RUN_CANCELLED);
    c = submit_ok(j, &slow);
    assert_int_equal(status_of(f, c), RUN_QUEUED);
    jobs_stats stats;
    jobs_get_stats(j, &stats);
    assert_int_equal(stats.queued + stats.running, 2);
    assert_int_equal(jobs_cancel(j, a), MLPD_OK);
    assert_int_equal(wait_final(f, a, 10), RUN_CANCELLED);
    /* The queued one starts next (FIFO); cancel it too. */
    double until = now_s() + 10;
    while (status_of(f, c) != RUN_RUNNING && now_s() < until) sleep_ms(10);
    assert_int_equal(jobs_cancel(j, c), MLPD_OK);
    assert_int_equal(wait_final(f, c, 10), RUN_CANCELLED);
    jobs_free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scan_finds_csv_and_idx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_job_succeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adam_job_keeps_optimizer_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_dataset_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
