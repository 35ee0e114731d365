/* test_jobs.c - the job runner with a real store, real engine and small
 * synthetic datasets written to a temp data dir: dataset scanning, a job that
 * succeeds, cancelling, the queue limit, unknown datasets and models, warm
 * starts, crash recovery and shutdown; OpenBLAS threads following the
 * prediction traffic.
 *
 * Migrations come from $MLPD_MIGRATIONS or ./migrations (tests run from the
 * repository root).
 */
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

typedef struct {
    char dir[256];
    char data[512];
    char db[512];
    store *st;
    pthread_mutex_t log_mu;
    char log[8192]; /* every job log line, for assertions */
} fixture;

static const char *migrations_dir(void) {
    const char *env = getenv("MLPD_MIGRATIONS");
    return env && *env ? env : "migrations";
}

static void test_log(void *user, const char *fmt, ...) {
    fixture *f = user;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&f->log_mu);
    size_t used = strlen(f->log);
    snprintf(f->log + used, sizeof f->log - used, "%s\n", line);
    pthread_mutex_unlock(&f->log_mu);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A two-class CSV: label 1 when the first half of the features sums above the
 * second half. Values come from a small LCG so every run writes the same file. */
static void write_csv(const char *path, int rows, int features) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "label");
    for (int k = 0; k < features; k++) fprintf(fp, ",f%d", k);
    fputc('\n', fp);
    uint32_t x = 12345;
    float *v = malloc((size_t)features * sizeof *v);
    for (int r = 0; r < rows; r++) {
        float a = 0, b = 0;
        for (int k = 0; k < features; k++) {
            x = x * 1664525u + 1013904223u;
            v[k] = (float)(x >> 8) / 16777216.0f;
            if (k < features / 2)
                a += v[k];
            else
                b += v[k];
        }
        fprintf(fp, "%d", a > b ? 1 : 0);
        for (int k = 0; k < features; k++) fprintf(fp, ",%.4f", v[k]);
        fputc('\n', fp);
    }
    free(v);
    fclose(fp);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (tu_make_temp_dir(f->dir, sizeof f->dir, "test-jobs") != 0) return -1;
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    snprintf(f->db, sizeof f->db, "%s/mlpd.db", f->dir);
    if (mkdir(f->data, 0700) != 0) return -1;
    pthread_mutex_init(&f->log_mu, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny.csv", f->data);
    write_csv(path, 64, 4);
    snprintf(path, sizeof path, "%s/slow.csv", f->data);
    write_csv(path, 2000, 16);
    mlpd_error err = {0};
    if (store_open(f->db, migrations_dir(), &f->st, &err) != MLPD_OK) {
        fprintf(stderr, "store_open: %s\n", err.msg);
        return -1;
    }
    if (datasets_scan(f->st, f->data, MLP_DATASET_MAX_BYTES_DEFAULT, &err) != 2) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    store_close(f->st);
    tu_remove_tree(f->dir);
    pthread_mutex_destroy(&f->log_mu);
    free(f);
    return 0;
}

static jobs *start(fixture *f, int max_running, int max_queued) {
    jobs_config cfg = {.st = f->st,
                       .data_dir = f->data,
                       .max_running = max_running,
                       .max_queued = max_queued,
                       .blas_threads = 1,
                       .log = test_log,
                       .log_user = f};
    jobs *j = NULL;
    mlpd_error err = {0};
    if (jobs_start(&cfg, &j, &err) != MLPD_OK) fail_msg("jobs_start: %s", err.msg);
    return j;
}

/* Long enough never to end during a test; the most POST /train accepts, so
 * that a stored config decodes again after a restart. */
#define SLOW_EPOCHS 10000

/* A small network on `dataset`. */
static api_train_request request(const char *dataset, int epochs, int batch) {
    api_train_request r;
    api_train_request_default(&r);
    snprintf(r.dataset, sizeof r.dataset, "%s", dataset);
    r.recipe.hidden[0] = 8;
    r.recipe.n_hidden = 1;
    r.recipe.train.epochs = epochs;
    r.recipe.train.batch_size = batch;
    r.recipe.train.lr = 0.1f;
    r.recipe.train.seed = 7;
    return r;
}

static int64_t submit_ok(jobs *j, const api_train_request *r) {
    int64_t id = 0;
    mlpd_error err = {0};
    int rc = jobs_submit(j, r, &id, &err);
    if (rc != MLPD_OK) fail_msg("jobs_submit: %d %s", rc, err.msg);
    assert_true(id > 0);
    return id;
}

static run_status status_of(fixture *f, int64_t id) {
    store_run r;
    assert_int_equal(store_run_get(f->st, id, &r, NULL), MLPD_OK);
    run_status s = r.status;
    store_run_clear(&r);
    return s;
}

/* Wait until run id has a final status (or fail after `seconds`). */
static run_status wait_final(fixture *f, int64_t id, double seconds) {
    double until = now_s() + seconds;
    for (;;) {
        run_status s = status_of(f, id);
        if (s == RUN_SUCCEEDED || s == RUN_FAILED || s == RUN_CANCELLED) return s;
        if (now_s() > until)
            fail_msg("run %lld still %s after %.0fs", (long long)id, run_status_name(s), seconds);
        sleep_ms(20);
    }
}

static size_t count_metrics(fixture *f, int64_t run, const char *key) {
    store_metric *m;
    size_t n, hits = 0;
    assert_int_equal(store_metrics_get(f->st, run, 0, 100000, &m, &n, NULL), MLPD_OK);
    for (size_t i = 0; i < n; i++) hits += !key || !strcmp(m[i].key, key);
    free(m);
    return hits;
}

/* Wait until the running run id has recorded its first epoch. */
static void wait_first_epoch(fixture *f, jobs *j, int64_t id) {
    double until = now_s() + 30;
    while (count_metrics(f, id, "loss") == 0) {
        if (now_s() > until) fail_msg("run %lld recorded no epoch in 30s", (long long)id);
        sleep_ms(20);
    }
    jobs_live live;
    assert_int_equal(jobs_get_live(j, id, &live), MLPD_OK);
    assert_true(live.epoch >= 1 && live.steps > 0 && live.progress > 0 && live.progress < 1);
}

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

    /* An Adam job's model file keeps the optimizer state (format version 2),
     * with one step per batch; an SGD model has none (version 1 above). */
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

/* ---- OpenBLAS threads and prediction traffic ---------------------------------------- */

static atomic_uint_fast64_t served; /* the fake prediction counter */
static atomic_int serving_on;       /* 1: the feeder thread bumps it */
static atomic_int feeder_stop;

static uint64_t served_so_far(void *user) {
    (void)user;
    return atomic_load(&served);
}

static void *feeder(void *arg) {
    (void)arg;
    while (!atomic_load(&feeder_stop)) {
        if (atomic_load(&serving_on)) atomic_fetch_add(&served, 1);
        sleep_ms(5);
    }
    return NULL;
}

/* Poll until OpenBLAS runs `want` threads (set by the training thread). */
static void wait_blas_threads(int want) {
    double until = now_s() + 5;
    while (openblas_get_num_threads() != want) {
        if (now_s() > until)
            fail_msg("OpenBLAS threads %d, want %d", openblas_get_num_threads(), want);
        sleep_ms(5);
    }
}

/* blas_threads 2: a training job uses two OpenBLAS threads while no
 * prediction is answered, one from the batch after they start, two again
 * once they have been quiet for JOBS_SERVING_QUIET_SECONDS. */
static void test_blas_threads_follow_serving(void **state) {
    fixture *f = *state;
    atomic_store(&served, 0);
    atomic_store(&serving_on, 0);
    atomic_store(&feeder_stop, 0);
    openblas_set_num_threads(1);
    jobs_config cfg = {.st = f->st,
                       .data_dir = f->data,
                       .max_running = 1,
                       .max_queued = 1,
                       .blas_threads = 2,
                       .serving = served_so_far,
                       .log = test_log,
                       .log_user = f};
    jobs *j = NULL;
    mlpd_error err = {0};
    if (jobs_start(&cfg, &j, &err) != MLPD_OK) fail_msg("jobs_start: %s", err.msg);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feeder, NULL), 0);
    api_train_request r = request("slow", SLOW_EPOCHS, 4);
    int64_t id = submit_ok(j, &r);
    wait_first_epoch(f, j, id);
    wait_blas_threads(2);
    atomic_store(&serving_on, 1);
    double t0 = now_s();
    wait_blas_threads(1);
    printf("serving: one OpenBLAS thread after %.0f ms\n", (now_s() - t0) * 1e3);
    sleep_ms(300); /* still serving: stays at one */
    assert_int_equal(openblas_get_num_threads(), 1);
    atomic_store(&serving_on, 0);
    t0 = now_s();
    wait_blas_threads(2);
    double quiet = now_s() - t0;
    printf("quiet: two OpenBLAS threads after %.0f ms\n", quiet * 1e3);
    assert_true(quiet >= JOBS_SERVING_QUIET_SECONDS - 0.05);
    assert_int_equal(jobs_cancel(j, id), MLPD_OK);
    assert_int_equal(wait_final(f, id, 10), RUN_CANCELLED);
    atomic_store(&feeder_stop, 1);
    pthread_join(t, NULL);
    jobs_free(j);
    openblas_set_num_threads(1);
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

static void test_recovery_after_crash(void **state) {
    fixture *f = *state;
    /* What a crashed daemon leaves: one run "running", two "queued". */
    api_train_request r = request("tiny", 2, 16);
    char *cfg = api_train_request_encode(&r);
    int64_t crashed, q1, q2;
    assert_int_equal(store_run_create(f->st, cfg, "tiny", 2, &crashed, NULL), MLPD_OK);
    assert_int_equal(store_run_set_status(f->st, crashed, RUN_RUNNING, NULL, NULL), MLPD_OK);
    assert_int_equal(store_run_create(f->st, cfg, "tiny", 2, &q1, NULL), MLPD_OK);
    assert_int_equal(store_run_create(f->st, "{\"epochs\": \"many\"}", "tiny", 2, &q2, NULL),
                     MLPD_OK);
    free(cfg);

    jobs *j = start(f, 1, 4);
    store_run run;
    assert_int_equal(store_run_get(f->st, crashed, &run, NULL), MLPD_OK);
    assert_int_equal(run.status, RUN_FAILED);
    assert_string_equal(run.error, "interrupted");
    store_run_clear(&run);
    assert_int_equal(wait_final(f, q1, 60), RUN_SUCCEEDED);
    assert_int_equal(count_metrics(f, q1, "loss"), 2);
    /* A stored config that no longer decodes fails with a reason, not silently. */
    assert_int_equal(store_run_get(f->st, q2, &run, NULL), MLPD_OK);
    assert_int_equal(run.status, RUN_FAILED);
    assert_non_null(run.error);
    store_run_clear(&run);
    jobs_free(j);
}

static void test_shutdown_interrupts_running_keeps_queued(void **state) {
    fixture *f = *state;
    jobs *j = start(f, 1, 4);
    api_train_request slow = request("slow", SLOW_EPOCHS, 4);
    int64_t a = submit_ok(j, &slow);
    int64_t b = submit_ok(j, &slow);
    wait_first_epoch(f, j, a);
    double t0 = now_s();
    jobs_stop(j);
    assert_true(now_s() - t0 < 2.0);
    store_run run;
    assert_int_equal(store_run_get(f->st, a, &run, NULL), MLPD_OK);
    assert_int_equal(run.status, RUN_FAILED);
    assert_string_equal(run.error, "interrupted: daemon shut down");
    store_run_clear(&run);
    assert_int_equal(status_of(f, b), RUN_QUEUED);
    mlpd_error err = {0};
    int64_t c = 0;
    assert_int_equal(jobs_submit(j, &slow, &c, &err), MLPD_EINTERNAL);
    jobs_free(j);
    /* It is picked up again by the next runner. */
    j = start(f, 1, 4);
    double until = now_s() + 10;
    while (status_of(f, b) == RUN_QUEUED && now_s() < until) sleep_ms(10);
    assert_int_equal(jobs_cancel(j, b), MLPD_OK);
    assert_int_equal(wait_final(f, b, 10), RUN_CANCELLED);
    jobs_free(j);
}

/* A daemon killed with SIGKILL mid-training: every epoch it finished is in the
 * database, and the next start marks the run failed "interrupted". The
 * "daemon" is a child process with its own connection to the same file. */
static void test_sigkill_keeps_finished_epochs(void **state) {
    fixture *f = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store *cs = NULL;
        jobs *cj = NULL;
        mlpd_error err = {0};
        if (store_open(f->db, migrations_dir(), &cs, NULL) != MLPD_OK) _exit(2);
        jobs_config cfg = {
            .st = cs, .data_dir = f->data, .max_running = 1, .max_queued = 1, .blas_threads = 1};
        if (jobs_start(&cfg, &cj, &err) != MLPD_OK) _exit(3);
        api_train_request r = request("slow", SLOW_EPOCHS, 4);
        int64_t id;
        if (jobs_submit(cj, &r, &id, &err) != MLPD_OK) _exit(4);
        for (;;) pause(); /* until killed */
    }
    /* Wait (through the parent's own connection) for three finished epochs. */
    int64_t run = 0;
    double until = now_s() + 30;
    while (run == 0 || count_metrics(f, run, "loss") < 3) {
        int wstatus;
        if (waitpid(pid, &wstatus, WNOHANG) == pid) fail_msg("the child exited early: %d", wstatus);
        if (now_s() > until) {
            kill(pid, SIGKILL);
            fail_msg("no three epochs in 30s");
        }
        int64_t *ids;
        size_t n;
        assert_int_equal(store_run_ids_with_status(f->st, RUN_RUNNING, &ids, &n, NULL), MLPD_OK);
        if (n) run = ids[0];
        free(ids);
        sleep_ms(10);
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    size_t epochs = count_metrics(f, run, "loss");

    /* Restart: a fresh connection finds the same epochs 1..n, in order. */
    store_close(f->st);
    assert_int_equal(store_open(f->db, migrations_dir(), &f->st, NULL), MLPD_OK);
    store_metric *m;
    size_t n;
    assert_int_equal(store_metrics_get(f->st, run, 0, 100000, &m, &n, NULL), MLPD_OK);
    int next_epoch = 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].key, "loss")) assert_int_equal(m[i].epoch, next_epoch++);
    free(m);
    assert_true((size_t)(next_epoch - 1) >= epochs);
    store_run rec;
    assert_int_equal(store_run_get(f->st, run, &rec, NULL), MLPD_OK);
    assert_int_equal(rec.status, RUN_RUNNING);
    assert_int_equal(rec.epoch, next_epoch - 1); /* progress and metrics agree */
    store_run_clear(&rec);
    jobs *j = start(f, 1, 1);
    assert_int_equal(store_run_get(f->st, run, &rec, NULL), MLPD_OK);
    assert_int_equal(rec.status, RUN_FAILED);
    assert_string_equal(rec.error, "interrupted");
    store_run_clear(&rec);
    jobs_free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scan_finds_csv_and_idx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_job_succeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_dataset_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blas_threads_follow_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_interrupts_running_keeps_queued, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_keeps_finished_epochs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
