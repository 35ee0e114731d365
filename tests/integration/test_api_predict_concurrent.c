/* test_api_predict_concurrent.c - POST /predict under concurrency: many
 * clients at once (their rows are batched together by the daemon's
 * batcher) each get exactly the answer their rows get alone; a batch delay
 * changes nothing in the answers; SIGTERM with predictions in flight still
 * shuts down cleanly (suspended connections are resumed before the HTTP
 * listeners stop). */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

#define N_DIGITS 12
#define THREADS  8
#define ROUNDS   15

static mlpd_daemon D;
static int64_t model_id;
static float *digits;
static int labels[N_DIGITS];
static float ref_probs[N_DIGITS][10];
static int ref_label[N_DIGITS];

/* Probabilities and label of one prediction object; -1 when malformed. */
static int read_prediction(const cJSON *p, float probs[10]) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "probabilities");
    if (cJSON_GetArraySize(arr) != 10) return -1;
    for (int k = 0; k < 10; k++) probs[k] = (float)cJSON_GetArrayItem(arr, k)->valuedouble;
    return (int)json_num(p, "label");
}

/* POST one digit; 0 and its answer, or -1 (transport error, not 200, malformed). */
static int predict_one(const mlpd_daemon *d, int i, float probs[10], int *label) {
    char *body = predict_body(model_id, digits + (size_t)i * 784, 1, 784, 0);
    http_result r;
    int rc = http_post_json(d, "/predict", body, &r); /* r is filled either way */
    free(body);
    if (rc != 0 || r.status != 200) {
        http_result_free(&r);
        return -1;
    }
    cJSON *j = http_result_json(&r);
    http_result_free(&r);
    const cJSON *preds = j ? cJSON_GetObjectItemCaseSensitive(j, "predictions") : NULL;
    *label =
        cJSON_GetArraySize(preds) == 1 ? read_prediction(cJSON_GetArrayItem(preds, 0), probs) : -1;
    int model = j ? (int)json_num(j, "model") : -1;
    cJSON_Delete(j);
    return *label >= 0 && model == (int)model_id ? 0 : -1;
}

static int setup(void **state) {
    (void)state;
    if (daemon_start(&D, NULL) != 0) return -1;
    model_id = train_model(&D,
                           "{\"hidden\":[32],\"epochs\":2,\"batch_size\":32,"
                           "\"learning_rate\":0.1,\"seed\":5}",
                           120, NULL);
    if (model_id <= 0) return -1;
    if (load_test_digits(&D, N_DIGITS, &digits, labels) != 0) return -1;
    /* The reference: each digit alone, one request at a time. */
    for (int i = 0; i < N_DIGITS; i++)
        if (predict_one(&D, i, ref_probs[i], &ref_label[i]) != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(digits);
    int rc = daemon_stop(&D);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

typedef struct {
    const mlpd_daemon *d;
    int first; /* digit this client starts with */
    int rounds;
    int ok, wrong, failed;
    atomic_int *stop; /* NULL: run all rounds */
} client;

static void *client_main(void *arg) {
    client *c = arg;
    for (int r = 0; r < c->rounds && !(c->stop && atomic_load(c->stop)); r++) {
        int i = (c->first + r) % N_DIGITS, label;
        float probs[10];
        if (predict_one(c->d, i, probs, &label) != 0) {
            c->failed++;
            if (c->stop) break; /* the daemon is going away */
            continue;
        }
        int same = label == ref_label[i];
        for (int k = 0; k < 10; k++) same = same && fabsf(probs[k] - ref_probs[i][k]) < 1e-5f;
        if (same)
            c->ok++;
        else
            c->wrong++;
    }
    return NULL;
}

/* Run THREADS clients against d and add up their counts. */
static void run_clients(const mlpd_daemon *d, int rounds, atomic_int *stop, int *ok, int *wrong,
                        int *failed) {
    pthread_t th[THREADS];
    client cl[THREADS];
    for (int t = 0; t < THREADS; t++) {
        cl[t] = (client){.d = d, .first = t, .rounds = rounds, .stop = stop};
        assert_int_equal(pthread_create(&th[t], NULL, client_main, &cl[t]), 0);
    }
    *ok = *wrong = *failed = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        *ok += cl[t].ok;
        *wrong += cl[t].wrong;
        *failed += cl[t].failed;
    }
}

static void test_concurrent_clients_get_their_own_answers(void **state) {
    (void)state;
    int ok, wrong, failed;
    run_clients(&D, ROUNDS, NULL, &ok, &wrong, &failed);
    if (wrong || failed) daemon_dump_log(&D);
    assert_int_equal(wrong, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(ok, THREADS * ROUNDS);
    /* every one of them was counted */
    http_result r;
    assert_int_equal(http_get(&D, "/metrics", &r), 0);
    const char *line = strstr(r.body, "\nmlpd_predict_rows_total ");
    assert_non_null(line);
    assert_true(atof(line + strlen("\nmlpd_predict_rows_total ")) >= THREADS * ROUNDS + N_DIGITS);
    http_result_free(&r);
}

/* A daemon that waits for fuller batches (MLPD_PREDICT_BATCH_DELAY_US) and
 * batches at most 3 rows answers the same; SIGTERM during load exits 0. */
static void test_batch_delay_and_shutdown_under_load(void **state) {
    (void)state;
    setenv("MLPD_PREDICT_BATCH_DELAY_US", "2000", 1);
    setenv("MLPD_PREDICT_BATCH_ROWS", "3", 1);
    mlpd_daemon e;
    int started = daemon_start(&e, NULL);
    unsetenv("MLPD_PREDICT_BATCH_DELAY_US");
    unsetenv("MLPD_PREDICT_BATCH_ROWS");
    assert_int_equal(started, 0);
    /* the same model, uploaded as a file */
    http_result r;
    char path[64];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)model_id);
    assert_int_equal(http_get(&D, path, &r), 0);
    assert_int_equal(r.status, 200);
    http_result up;
    assert_int_equal(
        http_do(&e, "POST", "/models", "application/octet-stream", r.body, r.len, NULL, 30, &up),
        0);
    http_result_free(&r);
    assert_int_equal(up.status, 201);
    cJSON *j = http_result_json(&up);
    int64_t uploaded = j ? (int64_t)json_num(j, "id") : 0;
    cJSON_Delete(j);
    http_result_free(&up);
    assert_true(uploaded > 0);
    int64_t saved = model_id;
    model_id = uploaded;
    int ok, wrong, failed;
    run_clients(&e, ROUNDS, NULL, &ok, &wrong, &failed);
    if (wrong || failed) daemon_dump_log(&e);
    assert_int_equal(wrong, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(ok, THREADS * ROUNDS);

    /* SIGTERM while clients keep predicting: a clean exit, no crash, and
     * whatever was answered was right. */
    atomic_int stop;
    atomic_init(&stop, 0);
    pthread_t th[THREADS];
    client cl[THREADS];
    for (int t = 0; t < THREADS; t++) {
        cl[t] = (client){.d = &e, .first = t, .rounds = 1000000, .stop = &stop};
        assert_int_equal(pthread_create(&th[t], NULL, client_main, &cl[t]), 0);
    }
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    int status = daemon_stop(&e);
    atomic_store(&stop, 1);
    wrong = 0;
    ok = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        wrong += cl[t].wrong;
        ok += cl[t].ok;
    }
    model_id = saved;
    if (status != 0) daemon_dump_log(&e);
    daemon_cleanup(&e);
    assert_int_equal(status, 0);
    assert_int_equal(wrong, 0);
    assert_true(ok > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_clients_get_their_own_answers),
        cmocka_unit_test(test_batch_delay_and_shutdown_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
