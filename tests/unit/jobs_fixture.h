/* jobs_fixture.h - the fixture of the job runner tests (test_jobs.c,
 * test_jobs_lifecycle.c): a real store and small synthetic data sets in a
 * temp data dir, a runner started on them, and waits on runs.
 *
 * Migrations come from $MLPD_MIGRATIONS or ./migrations (tests run from the
 * repository root). Include after <cmocka.h> and test_util.h: the helpers
 * assert. */
#ifndef MLPD_JOBS_FIXTURE_H
#define MLPD_JOBS_FIXTURE_H

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datasets.h"
#include "jobs.h"

typedef struct {
    char dir[256];
    char data[512];
    char db[512];
    store *st;
    pthread_mutex_t log_mu;
    char log[8192]; /* every job log line, for assertions */
} fixture;

static inline const char *migrations_dir(void) {
    const char *env = getenv("MLPD_MIGRATIONS");
    return env && *env ? env : "migrations";
}

static inline void test_log(void *user, const char *fmt, ...) {
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

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A two-class CSV: label 1 when the first half of the features sums above the
 * second half. Values come from a small LCG so every run writes the same file. */
static inline void write_csv(const char *path, int rows, int features) {
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

static inline int setup(void **state) {
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

static inline int teardown(void **state) {
    fixture *f = *state;
    store_close(f->st);
    tu_remove_tree(f->dir);
    pthread_mutex_destroy(&f->log_mu);
    free(f);
    return 0;
}

static inline jobs *start(fixture *f, int max_running, int max_queued) {
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
static inline api_train_request request(const char *dataset, int epochs, int batch) {
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

static inline int64_t submit_ok(jobs *j, const api_train_request *r) {
    int64_t id = 0;
    mlpd_error err = {0};
    int rc = jobs_submit(j, r, &id, &err);
    if (rc != MLPD_OK) fail_msg("jobs_submit: %d %s", rc, err.msg);
    assert_true(id > 0);
    return id;
}

static inline run_status status_of(fixture *f, int64_t id) {
    store_run r;
    assert_int_equal(store_run_get(f->st, id, &r, NULL), MLPD_OK);
    run_status s = r.status;
    store_run_clear(&r);
    return s;
}

/* Wait until run id has a final status (or fail after `seconds`). */
static inline run_status wait_final(fixture *f, int64_t id, double seconds) {
    double until = now_s() + seconds;
    for (;;) {
        run_status s = status_of(f, id);
        if (s == RUN_SUCCEEDED || s == RUN_FAILED || s == RUN_CANCELLED) return s;
        if (now_s() > until)
            fail_msg("run %lld still %s after %.0fs", (long long)id, run_status_name(s), seconds);
        sleep_ms(20);
    }
}

static inline size_t count_metrics(fixture *f, int64_t run, const char *key) {
    store_metric *m;
    size_t n, hits = 0;
    assert_int_equal(store_metrics_get(f->st, run, 0, 100000, &m, &n, NULL), MLPD_OK);
    for (size_t i = 0; i < n; i++) hits += !key || !strcmp(m[i].key, key);
    free(m);
    return hits;
}

/* Wait until the running run id has recorded its first epoch. */
static inline void wait_first_epoch(fixture *f, jobs *j, int64_t id) {
    double until = now_s() + 30;
    while (count_metrics(f, id, "loss") == 0) {
        if (now_s() > until) fail_msg("run %lld recorded no epoch in 30s", (long long)id);
        sleep_ms(20);
    }
    jobs_live live;
    assert_int_equal(jobs_get_live(j, id, &live), MLPD_OK);
    assert_true(live.epoch >= 1 && live.steps > 0 && live.progress > 0 && live.progress < 1);
}

#endif /* MLPD_JOBS_FIXTURE_H */
