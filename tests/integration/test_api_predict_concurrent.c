/* test_api_predict_concurrent.c - POST /predict under concurrency: many
 * clients at once (their rows are batched together by the daemon's
 * batcher) each get exactly the answer their rows get alone; so do many
 * keep-alive connections on one HTTP thread, whose requests it gathers
 * (small batches put off a turn for more), also when some clients leave
 * before their answer; a batch delay changes nothing in the answers;
 * SIGTERM with predictions in flight still shuts down cleanly (suspended
 * connections are resumed before the HTTP listeners stop). */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* The model of the fixture's daemon uploaded to e (the same file); its id. */
static int64_t upload_model(const mlpd_daemon *e) {
    http_result r;
    char path[64];
    snprintf(path, sizeof path, "/models/%lld/file", (long long)model_id);
    assert_int_equal(http_get(&D, path, &r), 0);
    assert_int_equal(r.status, 200);
    http_result up;
    assert_int_equal(
        http_do(e, "POST", "/models", "application/octet-stream", r.body, r.len, NULL, 30, &up), 0);
    http_result_free(&r);
    assert_int_equal(up.status, 201);
    cJSON *j = http_result_json(&up);
    int64_t uploaded = j ? (int64_t)json_num(j, "id") : 0;
    cJSON_Delete(j);
    http_result_free(&up);
    assert_true(uploaded > 0);
    return uploaded;
}

/* Send a keep-alive POST /predict of digit i for model `model` on fd. */
static void send_predict(int fd, int64_t model, int i) {
    char *body = predict_body(model, digits + (size_t)i * 784, 1, 784, 0);
    assert_non_null(body);
    size_t blen = strlen(body), hlen;
    char head[256];
    hlen = (size_t)snprintf(head, sizeof head,
                            "POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: "
                            "application/json\r\nContent-Length: %zu\r\n\r\n",
                            blen);
    assert_int_equal(send(fd, head, hlen, MSG_NOSIGNAL), (ssize_t)hlen);
    assert_int_equal(send(fd, body, blen, MSG_NOSIGNAL), (ssize_t)blen);
    free(body);
}

/* Read one response from fd (its head and Content-Length bytes of body, 5 s
 * at most); 1 when it is a 200 whose prediction is digit i's reference. */
static int read_predict_answer(int fd, int i) {
    char buf[8192];
    size_t got = 0, need = 0;
    char *body = NULL;
    double t0 = now_seconds();
    while (now_seconds() - t0 < 5.0 && got < sizeof buf - 1) {
        if (body && got >= (size_t)(body - buf) + need) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) return 0;
        got += (size_t)n;
        buf[got] = '\0';
        char *end = body ? NULL : strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            if (!cl || cl > end) return 0;
            need = (size_t)atol(cl + 17);
            body = end + 4;
        }
    }
    if (!body || got != (size_t)(body - buf) + need || strncmp(buf, "HTTP/1.1 200 ", 13)) return 0;
    cJSON *j = cJSON_Parse(body);
    const cJSON *preds = j ? cJSON_GetObjectItemCaseSensitive(j, "predictions") : NULL;
    float probs[10];
    int label = cJSON_GetArraySize(preds) == 1
                    ? read_prediction(cJSON_GetArrayItem(preds, 0), probs)
                    : -1,
        same = label == ref_label[i];
    for (int k = 0; same && k < 10; k++) same = fabsf(probs[k] - ref_probs[i][k]) < 1e-5f;
    cJSON_Delete(j);
    return same;
}

/* The value of metric line `name ` in /metrics of d; -1 when absent. */
static double metric(const mlpd_daemon *d, const char *name) {
    http_result r;
    assert_int_equal(http_get(d, "/metrics", &r), 0);
    char key[96];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *line = strstr(r.body, key);
    double v = line ? atof(line + strlen(key)) : -1;
    http_result_free(&r);
    return v;
}

/* One HTTP thread (--workers 1) serving KA_CONNS keep-alive connections,
 * each sending its next request only after its answer, all at once: the
 * thread gathers what comes in together into batches (a small one waits a
 * turn for more) and every connection gets its own digit's answer, round
 * after round; clients that send and leave without reading change nothing
 * for the others; the daemon then stops cleanly. */
#define KA_CONNS  12
#define KA_ROUNDS 20
static void test_one_thread_many_keepalive_connections(void **state) {
    (void)state;
    static const char *const one_worker[] = {"--workers", "1", NULL};
    mlpd_daemon e;
    assert_int_equal(daemon_start(&e, one_worker), 0);
    int64_t m = upload_model(&e);
    int fds[KA_CONNS], ok = 0;
    for (int c = 0; c < KA_CONNS; c++) assert_true((fds[c] = raw_connect(&e)) >= 0);
    for (int round = 0; round < KA_ROUNDS; round++) {
        for (int c = 0; c < KA_CONNS; c++) send_predict(fds[c], m, (c + round) % N_DIGITS);
        for (int c = 0; c < KA_CONNS; c++)
            ok += read_predict_answer(fds[c], (c + round) % N_DIGITS);
        if (round == KA_ROUNDS / 2) {
            /* clients that leave before their answer */
            for (int k = 0; k < 6; k++) {
                int fd = raw_connect(&e);
                assert_true(fd >= 0);
                send_predict(fd, m, k);
                close(fd);
            }
        }
    }
    for (int c = 0; c < KA_CONNS; c++) close(fds[c]);
    if (ok != KA_CONNS * KA_ROUNDS) daemon_dump_log(&e);
    assert_int_equal(ok, KA_CONNS * KA_ROUNDS);
    /* batched: fewer forward passes than rows */
    double rows = metric(&e, "mlpd_predict_rows_total"),
           batches = metric(&e, "mlpd_predict_batches_total");
    assert_true(rows >= KA_CONNS * KA_ROUNDS);
    assert_true(batches > 0 && batches < rows);
    int status = daemon_stop(&e);
    if (status != 0) daemon_dump_log(&e);
    daemon_cleanup(&e);
    assert_int_equal(status, 0);
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
    int64_t uploaded = upload_model(&e);
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
        cmocka_unit_test(test_one_thread_many_keepalive_connections),
        cmocka_unit_test(test_batch_delay_and_shutdown_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
