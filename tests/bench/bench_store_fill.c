/* bench_store_fill.c - fill a SQLite store with many runs and metrics, for the
 * store-at-scale figures of `make bench` (tests/bench/section_7_store.sh).
 *
 *   bench_store_fill DB MIGRATIONS [RUNS [EPOCHS [STEP_ROWS_PER_EPOCH]]]
 *
 * Creates the schema through store_open (the daemon's own migrations), then
 * writes RUNS runs (default 100,000) and, per run, EPOCHS epochs (default 10)
 * of STEP_ROWS_PER_EPOCH "step_loss" rows (default 5) plus the five epoch
 * metrics (loss, accuracy, val_loss, val_accuracy, seconds): 100 rows per run,
 * 10,000,000 in all by default. Rows look like a job's: the full defaulted
 * configuration JSON of POST /train (seed and learning rate varying), 97%
 * succeeded, 2% failed, 1% cancelled, metrics in the run's order. No model
 * files: 100,000 of them would be 200 GB of the reference network.
 *
 * Fast: one transaction, prepared statements reset and rebound per row,
 * no journal, synchronous off and a large page cache while filling; the file
 * is left in WAL mode, as the daemon keeps it. Prints key=value lines: the rows, the
 * seconds, the file's bytes and bytes per run.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store.h"

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    fprintf(stderr, "bench_store_fill: %s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_store_fill: %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
    return st;
}

static void step(sqlite3 *db, sqlite3_stmt *st) {
    if (sqlite3_step(st) != SQLITE_DONE) {
        fprintf(stderr, "bench_store_fill: insert: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_reset(st);
}

/* The configuration a POST /train of the reference recipe records. */
static int config_json(char *buf, size_t cap, long run, const char *dataset) {
    return snprintf(
        buf, cap,
        "{\"dataset\":\"%s\",\"hidden\":[512,256],\"activation\":\"relu\",\"output_activation\":"
        "\"softmax\",\"loss\":\"cross_entropy\",\"init\":\"glorot_uniform\",\"optimizer\":\"sgd\","
        "\"learning_rate\":%.4g,\"momentum\":0.9,\"nesterov\":false,\"beta1\":0.9,\"beta2\":0.999,"
        "\"epsilon\":1e-07,\"weight_decay\":0.01,\"label_smoothing\":0,\"clip_norm\":0,"
        "\"lr_schedule\":{\"type\":\"constant\",\"step_epochs\":10,\"gamma\":0.1,\"min_lr\":0,"
        "\"warmup_epochs\":0,\"monitor\":\"val_loss\",\"mode\":\"auto\",\"factor\":0.1,"
        "\"patience\":10,\"min_delta\":0.0001,\"cooldown\":0},\"batch_size\":128,\"epochs\":10,"
        "\"validation_split\":0.1,\"l1\":0,\"l2\":0,\"dropout\":0,\"shuffle\":true,\"seed\":%ld,"
        "\"early_stopping\":{\"monitor\":\"val_loss\",\"mode\":\"auto\",\"patience\":0,"
        "\"min_delta\":0,\"restore_best_weights\":true},\"warm_start_model\":null,"
        "\"model_name\":\"%s\"}",
        dataset, 0.01 * (1 + run % 7), run, dataset);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_store_fill DB MIGRATIONS [RUNS [EPOCHS [STEP_ROWS]]]\n");
        return 2;
    }
    long runs = argc > 3 ? atol(argv[3]) : 100000;
    int epochs = argc > 4 ? atoi(argv[4]) : 10, steps = argc > 5 ? atoi(argv[5]) : 5;
    store *s = NULL;
    mlpd_error err = {0};
    if (store_open(argv[1], argv[2], &s, &err) != MLPD_OK) {
        fprintf(stderr, "bench_store_fill: %s\n", err.msg);
        return 1;
    }
    store_close(s);
    sqlite3 *db = NULL;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) return 1;
    double t0 = now_sec();
    if (exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = "
                 "-262144; BEGIN"))
        return 1;
    sqlite3_stmt *run = prepare(
        db, "INSERT INTO runs (id, status, config_json, dataset, error, created_at, started_at,"
            " finished_at, epoch, epochs, step, steps, loss, accuracy, val_loss, val_accuracy,"
            " samples_per_sec, test_loss, test_accuracy) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
            " ?9, ?9, 422, 422, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
    sqlite3_stmt *met = prepare(db, "INSERT INTO metrics (run_id, key, epoch, step, value, time)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    static const char *const epoch_keys[] = {"loss", "accuracy", "val_loss", "val_accuracy",
                                             "seconds"};
    char cfg[2048];
    double t = 1.7e9; /* seconds since the epoch of the first run */
    long metrics = 0;
    for (long r = 1; r <= runs; r++) {
        const char *ds = r % 3 ? "fashion-mnist" : "mnist-digits";
        int pct = (int)(r % 100);
        const char *status = pct < 97 ? "succeeded" : pct < 99 ? "failed" : "cancelled";
        double start = t + 1, end = start + 2.0 * epochs;
        sqlite3_bind_int64(run, 1, r);
        sqlite3_bind_text(run, 2, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(run, 3, cfg, config_json(cfg, sizeof cfg, r, ds), SQLITE_STATIC);
        sqlite3_bind_text(run, 4, ds, -1, SQLITE_STATIC);
        if (pct == 97 || pct == 98)
            sqlite3_bind_text(run, 5, "loss became NaN", -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(run, 5);
        sqlite3_bind_double(run, 6, t);
        sqlite3_bind_double(run, 7, start);
        sqlite3_bind_double(run, 8, end);
        sqlite3_bind_int(run, 9, epochs);
        sqlite3_bind_double(run, 10, 0.3);
        sqlite3_bind_double(run, 11, 0.89);
        sqlite3_bind_double(run, 12, 0.33);
        sqlite3_bind_double(run, 13, 0.88);
        sqlite3_bind_double(run, 14, 60000.0);
        sqlite3_bind_double(run, 15, 0.34);
        sqlite3_bind_double(run, 16, 0.88);
        step(db, run);
        for (int e = 1; e <= epochs; e++) {
            double te = start + 2.0 * e;
            for (int k = 0; k < steps + 5; k++, metrics++) {
                int is_step = k < steps;
                sqlite3_bind_int64(met, 1, r);
                sqlite3_bind_text(met, 2, is_step ? "step_loss" : epoch_keys[k - steps], -1,
                                  SQLITE_STATIC);
                sqlite3_bind_int(met, 3, e);
                sqlite3_bind_int64(met, 4, (int64_t)e * 469 - (is_step ? (steps - k) * 50 : 0));
                sqlite3_bind_double(met, 5, 1.0 / (e + k + 1));
                sqlite3_bind_double(met, 6, te - (is_step ? (steps - k) * 0.2 : 0));
                step(db, met);
            }
        }
        t = end + 0.5;
    }
    sqlite3_finalize(run);
    sqlite3_finalize(met);
    /* Back to the daemon's journal (it would switch on its first start). */
    if (exec(db, "COMMIT; PRAGMA journal_mode = WAL")) return 1;
    double fill = now_sec() - t0;
    sqlite3_close(db);
    struct stat sb;
    long long bytes = stat(argv[1], &sb) == 0 ? (long long)sb.st_size : -1;
    printf("store_runs=%ld\nstore_metrics=%ld\nstore_fill_seconds=%.2f\n", runs, metrics, fill);
    printf("store_rows_per_sec=%.0f\n", (double)(runs + metrics) / fill);
    printf("store_db_bytes=%lld\nstore_bytes_per_run=%.0f\n", bytes, (double)bytes / runs);
    return 0;
}
