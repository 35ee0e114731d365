/* test_load.c - a bounded load test: predictions from many connections while
 * training jobs are submitted, polled, streamed and cancelled, for a fixed time.
 *
 * For MLPD_LOAD_SECONDS (default 20) against one daemon:
 * - PRED_CONNS threads, each with its own keep-alive connection, POST
 *   /predict with 1 or 8 digits and check every answer (200, one prediction
 *   per row, labels in 0..9);
 * - a jobs thread submits small training runs one after another, polls them,
 *   reads their metrics and cancels every other one mid-training;
 * - a stream thread follows each run's /jobs/{id}/events to its `end` event;
 * - a reader thread cycles through /jobs, /models, /datasets, /metrics, /healthz;
 * - the main thread samples the daemon's resident memory (VmRSS) every 100 ms.
 * Pass: no 5xx, no connection dropped or failed, no unexpected status, every
 * stream ends with `end`, RSS never above RSS_BOUND_MB and not growing by more
 * than RSS_GROWTH_MB between the first and the last quarter of the run.
 * Figures printed: requests, per-route counts, predict p50/p99/max, rows/s,
 * jobs run and cancelled, stream events, RSS start/max/end.
 */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

#define PRED_CONNS      16
#define DEFAULT_SECONDS 20
#if defined(__SANITIZE_ADDRESS__)
/* The same build flags make the daemon: under ASan it carries shadow memory
 * and a quarantine of freed blocks (256 MiB by default) that fills over the
 * run, so the bounds are wider; leaks are LeakSanitizer's job at exit (the
 * daemon's exit status, checked by daemon_stop). */
#define RSS_BOUND_MB  768.0
#define RSS_GROWTH_MB 384.0
#else
#define RSS_BOUND_MB  128.0 /* absolute ceiling on the daemon's resident memory */
#define RSS_GROWTH_MB 24.0  /* last-quarter mean minus first-quarter mean */
#endif
#define MAX_LAT   400000
#define N_DIGITS  64
#define TRAIN_JOB "{\"hidden\":[16],\"epochs\":3,\"batch_size\":128,\"validation_split\":0.1}"

static mlpd_daemon D;
static double t_end; /* monotonic deadline of the load phase */
static atomic_long n_requests, n_transport_errors, n_5xx, n_unexpected;
static atomic_long n_jobs, n_cancelled, n_events, n_streams, n_streams_bad, n_pred_rows;
static atomic_llong current_job; /* the run the stream thread should follow */
static char *bodies[2];          /* predict bodies: 1 row, 8 rows */
static const int body_rows[2] = {1, 8};
static int labels[N_DIGITS];

/* ---- a keep-alive client ------------------------------------------------------------ */

typedef struct {
    CURL *c;
    http_sink body; /* the last answer's body (daemon.h's curl sink) */
    struct curl_slist *json_hdr;
} client;

static void client_init(client *cl) {
    memset(cl, 0, sizeof *cl);
    cl->c = curl_easy_init();
    cl->json_hdr = curl_slist_append(NULL, "Content-Type: application/json");
    cl->json_hdr = curl_slist_append(cl->json_hdr, "Expect:");
}

static void client_free(client *cl) {
    curl_slist_free_all(cl->json_hdr);
    curl_easy_cleanup(cl->c);
    free(cl->body.buf);
}

/* One request on the client's connection. Returns the status (0 on a
 * transport failure) and counts it; *seconds gets the duration. The body
 * is in cl->body.buf. A status not in `ok` (a list ending in 0) counts as
 * unexpected. */
static long request(client *cl, const char *method, const char *path, const char *json,
                    const long *ok, double *seconds) {
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", D.port, path);
    cl->body.len = 0;
    if (cl->body.buf) cl->body.buf[0] = '\0';
    curl_easy_setopt(cl->c, CURLOPT_URL, url);
    curl_easy_setopt(cl->c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(cl->c, CURLOPT_HTTPGET, 1L); /* reset the body options */
    curl_easy_setopt(cl->c, CURLOPT_CUSTOMREQUEST, method);
    if (json) {
        curl_easy_setopt(cl->c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(cl->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
        curl_easy_setopt(cl->c, CURLOPT_HTTPHEADER, cl->json_hdr);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(cl->c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(cl->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(cl->c, CURLOPT_HTTPHEADER, cl->json_hdr);
    } else {
        curl_easy_setopt(cl->c, CURLOPT_HTTPHEADER, NULL);
    }
    curl_easy_setopt(cl->c, CURLOPT_WRITEFUNCTION, http_sink_write);
    curl_easy_setopt(cl->c, CURLOPT_WRITEDATA, &cl->body);
    curl_easy_setopt(cl->c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(cl->c, CURLOPT_NOSIGNAL, 1L);
    double t0 = now_seconds();
    CURLcode rc = curl_easy_perform(cl->c);
    if (seconds) *seconds = now_seconds() - t0;
    long status = 0;
    atomic_fetch_add(&n_requests, 1);
    if (rc != CURLE_OK) {
        fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(rc));
        atomic_fetch_add(&n_transport_errors, 1);
        return 0;
    }
    curl_easy_getinfo(cl->c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 500) {
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, status, cl->body.buf);
        atomic_fetch_add(&n_5xx, 1);
        return status;
    }
    for (const long *o = ok; *o; o++)
        if (*o == status) return status;
    fprintf(stderr, "%s %s -> unexpected %ld %s\n", method, path, status, cl->body.buf);
    atomic_fetch_add(&n_unexpected, 1);
    return status;
}

static const long OK_200[] = {200, 0};

/* ---- predictions ----------------------------------------------------------------------- */

typedef struct {
    int index;
    double *lat; /* seconds per request */
    size_t n_lat;
    long wrong; /* answers with a bad shape */
} pred_worker;

static void *pred_main(void *arg) {
    pred_worker *w = arg;
    client cl;
    client_init(&cl);
    uint64_t k = (uint64_t)w->index * 7919u;
    while (now_seconds() < t_end) {
        int which = (int)(k++ % 4 == 0); /* one request in four sends 8 rows */
        double secs = 0;
        long st = request(&cl, "POST", "/predict", bodies[which], OK_200, &secs);
        if (w->n_lat < MAX_LAT / PRED_CONNS) w->lat[w->n_lat++] = secs;
        if (st != 200) continue;
        cJSON *j = cJSON_Parse(cl.body.buf);
        cJSON *preds = cJSON_GetObjectItemCaseSensitive(j, "predictions");
        int ok = cJSON_GetArraySize(preds) == body_rows[which];
        cJSON *p;
        cJSON_ArrayForEach(p, preds) {
            double label = json_num(p, "label");
            if (!(label >= 0 && label <= 9)) ok = 0;
        }
        if (!ok)
            w->wrong++;
        else
            atomic_fetch_add(&n_pred_rows, body_rows[which]);
        cJSON_Delete(j);
    }
    client_free(&cl);
    return NULL;
}

/* ---- jobs: submit, poll, metrics, cancel -------------------------------------------- */

static void *jobs_main(void *arg) {
    (void)arg;
    client cl;
    client_init(&cl);
    static const long ok_submit[] = {202, 0}, ok_cancel[] = {202, 409, 0};
    for (int n = 0; now_seconds() < t_end - 1; n++) {
        if (request(&cl, "POST", "/train", TRAIN_JOB, ok_submit, NULL) != 202) {
            sleep_millis(200);
            continue;
        }
        cJSON *j = cJSON_Parse(cl.body.buf);
        int64_t id = (int64_t)json_num(j, "id");
        cJSON_Delete(j);
        atomic_store(&current_job, id);
        atomic_fetch_add(&n_jobs, 1);
        char path[96], status[32] = "queued";
        int cancelled = 0;
        while (strcmp(status, "succeeded") && strcmp(status, "failed") &&
               strcmp(status, "cancelled") && now_seconds() < t_end + 30) {
            snprintf(path, sizeof path, "/jobs/%lld", (long long)id);
            if (request(&cl, "GET", path, NULL, OK_200, NULL) == 200) {
                j = cJSON_Parse(cl.body.buf);
                snprintf(status, sizeof status, "%s",
                         json_str(j, "status") ? json_str(j, "status") : "?");
                double epoch = json_num(j, "epoch");
                cJSON_Delete(j);
                /* every other run is cancelled once it has trained an epoch */
                if (n % 2 == 1 && !cancelled && !strcmp(status, "running") && epoch >= 1) {
                    snprintf(path, sizeof path, "/jobs/%lld/cancel", (long long)id);
                    if (request(&cl, "POST", path, NULL, ok_cancel, NULL) == 202)
                        atomic_fetch_add(&n_cancelled, 1);
                    cancelled = 1;
                }
            }
            snprintf(path, sizeof path, "/jobs/%lld/metrics?since=0", (long long)id);
            request(&cl, "GET", path, NULL, OK_200, NULL);
            sleep_millis(100);
        }
    }
    client_free(&cl);
    return NULL;
}

/* ---- event streams ------------------------------------------------------------------------ */

static void *stream_main(void *arg) {
    (void)arg;
    int64_t followed = 0;
    while (now_seconds() < t_end) {
        int64_t id = atomic_load(&current_job);
        if (id == 0 || id == followed) {
            sleep_millis(20);
            continue;
        }
        followed = id;
        CURL *c = curl_easy_init();
        char url[256];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/jobs/%lld/events", D.port, (long long)id);
        http_sink body = {0};
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        atomic_fetch_add(&n_requests, 1);
        atomic_fetch_add(&n_streams, 1);
        long events = 0;
        for (const char *p = body.buf; p && (p = strstr(p, "\nevent:")); p++) events++;
        if (body.buf && !strncmp(body.buf, "event:", 6)) events++;
        atomic_fetch_add(&n_events, events);
        int ended = body.buf && strstr(body.buf, "event: end") != NULL;
        if (rc != CURLE_OK) {
            fprintf(stderr, "stream of job %lld: %s\n", (long long)id, curl_easy_strerror(rc));
            atomic_fetch_add(&n_transport_errors, 1);
        } else if (status != 200 || !ended) {
            fprintf(stderr, "stream of job %lld: status %ld, %s\n", (long long)id, status,
                    ended ? "ended" : "no end event");
            atomic_fetch_add(&n_streams_bad, 1);
        }
        free(body.buf);
    }
    return NULL;
}

/* ---- readers ---------------------------------------------------------------------------------- */

static void *reader_main(void *arg) {
    (void)arg;
    static const char *const paths[] = {"/jobs?limit=20", "/models",  "/datasets",
                                        "/metrics",       "/healthz", "/readyz"};
    client cl;
    client_init(&cl);
    for (size_t i = 0; now_seconds() < t_end; i++) {
        request(&cl, "GET", paths[i % (sizeof paths / sizeof paths[0])], NULL, OK_200, NULL);
        sleep_millis(20);
    }
    client_free(&cl);
    return NULL;
}

/* ---- resident memory ------------------------------------------------------------------------ */

static double rss_mb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    double kb = NAN;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atof(line + 6);
    fclose(f);
    return kb / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the test ------------------------------------------------------------------------------------ */

/* Stops the daemon even when an assertion failed mid-test. */
static int teardown(void **state) {
    (void)state;
    daemon_cleanup(&D);
    return 0;
}

static void test_bounded_load(void **state) {
    (void)state;
    const char *env = getenv("MLPD_LOAD_SECONDS");
    double seconds = env && atof(env) > 0 ? atof(env) : DEFAULT_SECONDS;
    const char *extra[] = {"--quiet", NULL};
    assert_int_equal(daemon_start(&D, extra), 0);
    int64_t first = train_job(&D, "{\"hidden\":[32],\"epochs\":1}");
    assert_true(first > 0);
    cJSON *j = wait_job(&D, first, 60);
    assert_string_equal(json_str(j, "status"), "succeeded");
    cJSON_Delete(j);
    float *x;
    assert_int_equal(load_test_digits(&D, N_DIGITS, &x, labels), 0);
    bodies[0] = predict_body(0, x, 1, 784, 0);
    bodies[1] = predict_body(0, x + 784 * 8, 8, 784, 1);
    free(x);

    double rss_start = rss_mb(D.pid), rss_max = rss_start;
    t_end = now_seconds() + seconds;
    double t_start = now_seconds();
    pred_worker workers[PRED_CONNS];
    pthread_t th[PRED_CONNS + 3];
    for (int i = 0; i < PRED_CONNS; i++) {
        workers[i] =
            (pred_worker){.index = i, .lat = malloc(sizeof(double) * (MAX_LAT / PRED_CONNS))};
        assert_int_equal(pthread_create(&th[i], NULL, pred_main, &workers[i]), 0);
    }
    assert_int_equal(pthread_create(&th[PRED_CONNS], NULL, jobs_main, NULL), 0);
    assert_int_equal(pthread_create(&th[PRED_CONNS + 1], NULL, stream_main, NULL), 0);
    assert_int_equal(pthread_create(&th[PRED_CONNS + 2], NULL, reader_main, NULL), 0);

    /* RSS every 100 ms; means over the first and the last quarter. */
    double q_first = 0, q_last = 0;
    int n_first = 0, n_last = 0;
    while (now_seconds() < t_end) {
        double r = rss_mb(D.pid), t = now_seconds() - t_start;
        if (r > rss_max) rss_max = r;
        if (t < seconds / 4)
            q_first += r, n_first++;
        else if (t > seconds * 3 / 4)
            q_last += r, n_last++;
        sleep_millis(100);
    }
    for (int i = 0; i < PRED_CONNS + 3; i++) pthread_join(th[i], NULL);
    double elapsed = now_seconds() - t_start;
    double rss_end = rss_mb(D.pid);
    q_first /= n_first > 0 ? n_first : 1;
    q_last /= n_last > 0 ? n_last : 1;

    double *all = malloc(sizeof(double) * MAX_LAT);
    size_t n = 0;
    long wrong = 0;
    for (int i = 0; i < PRED_CONNS; i++) {
        memcpy(all + n, workers[i].lat, workers[i].n_lat * sizeof(double));
        n += workers[i].n_lat;
        wrong += workers[i].wrong;
        free(workers[i].lat);
    }
    qsort(all, n, sizeof *all, cmp_double);
    assert_true(n > 0);
    double p50 = all[n / 2] * 1000, p99 = all[(size_t)((double)n * 0.99)] * 1000,
           pmax = all[n - 1] * 1000;
    free(all);
    free(bodies[0]);
    free(bodies[1]);

    printf("load: %.1f s, %d predict connections + jobs, stream and reader threads\n", elapsed,
           PRED_CONNS);
    printf("load: %ld requests (%zu predict, %.0f req/s predict, %.0f rows/s); predict latency"
           " p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           atomic_load(&n_requests), n, (double)n / elapsed,
           (double)atomic_load(&n_pred_rows) / elapsed, p50, p99, pmax);
    printf("load: %ld training runs submitted, %ld cancelled mid-run; %ld event streams, %ld"
           " events\n",
           atomic_load(&n_jobs), atomic_load(&n_cancelled), atomic_load(&n_streams),
           atomic_load(&n_events));
    printf("load: errors: %ld transport, %ld 5xx, %ld unexpected status, %ld bad streams, %ld"
           " malformed predictions\n",
           atomic_load(&n_transport_errors), atomic_load(&n_5xx), atomic_load(&n_unexpected),
           atomic_load(&n_streams_bad), wrong);
    printf("load: RSS start %.1f MB, max %.1f MB (bound %.0f MB), end %.1f MB; first-quarter mean"
           " %.1f MB, last-quarter mean %.1f MB (growth bound %.0f MB)\n",
           rss_start, rss_max, RSS_BOUND_MB, rss_end, q_first, q_last, RSS_GROWTH_MB);

    assert_int_equal(atomic_load(&n_transport_errors), 0);
    assert_int_equal(atomic_load(&n_5xx), 0);
    assert_int_equal(atomic_load(&n_unexpected), 0);
    assert_int_equal(atomic_load(&n_streams_bad), 0);
    assert_int_equal(wrong, 0);
    assert_true(atomic_load(&n_jobs) >= 2);
    assert_true(atomic_load(&n_cancelled) >= 1);
    assert_true(atomic_load(&n_events) > 0);
    assert_true(rss_max <= RSS_BOUND_MB);
    assert_true(q_last - q_first <= RSS_GROWTH_MB);
    assert_int_equal(daemon_stop(&D), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_load),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
