/* metrics.c - Prometheus text exposition of the daemon's counters and gauges. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batcher.h"
#include "model_cache.h"
#include "router.h"

void metrics_init(mlpd_metrics *m) {
    atomic_init(&m->predictions, 0);
    atomic_init(&m->prediction_requests, 0);
}

void metrics_count_prediction(mlpd_metrics *m, int rows) {
    atomic_fetch_add_explicit(&m->predictions, (uint_fast64_t)rows, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->prediction_requests, 1, memory_order_relaxed);
}

long long metrics_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long long size = 0, resident = 0;
    int ok = fscanf(f, "%lld %lld", &size, &resident) == 2;
    fclose(f);
    return ok ? resident * sysconf(_SC_PAGESIZE) : 0;
}

/* A growing text buffer; on ENOMEM it stops growing and `failed` is set. */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *nb = realloc(t->buf, cap);
        if (!nb) {
            t->failed = 1;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

static void put_requests(void *user, const char *method, const char *pattern,
                         const route_stats *st) {
    static const char *const classes[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int c = 0; c < 6; c++) {
        uint_fast64_t v = atomic_load_explicit(&st->by_class[c], memory_order_relaxed);
        if (v)
            put(user, "mlpd_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                pattern, method, classes[c], (unsigned long long)v);
    }
}

static void put_durations(void *user, const char *method, const char *pattern,
                          const route_stats *st) {
    uint_fast64_t calls = atomic_load_explicit(&st->calls, memory_order_relaxed);
    if (!calls) return;
    unsigned long long cum = 0;
    for (int b = 0; b <= ROUTE_N_BUCKETS; b++) {
        cum += atomic_load_explicit(&st->buckets[b], memory_order_relaxed);
        if (b < ROUTE_N_BUCKETS)
            put(user,
                "mlpd_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} "
                "%llu\n",
                pattern, method, route_bucket_bounds[b], cum);
        else
            put(user,
                "mlpd_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} "
                "%llu\n",
                pattern, method, cum);
    }
    put(user, "mlpd_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n", pattern,
        method, (double)atomic_load_explicit(&st->micros_sum, memory_order_relaxed) * 1e-6);
    /* _count equals the +Inf bucket, read once above, so the two agree. */
    put(user, "mlpd_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n",
        pattern, method, cum);
}

/* Runs with a final status are counted by the store (one query per status per scrape). */
static long long runs_with_status(store *st, run_status s) {
    store_run_query q = {.has_status = 1, .status = s, .limit = 1, .offset = 0};
    store_run *list = NULL;
    size_t n = 0;
    int64_t total = 0;
    if (store_run_list(st, &q, &list, &n, &total, NULL) != STORE_OK) return -1;
    store_run_list_free(list, n);
    return (long long)total;
}

/* mlpd_http_listener_<what>_total{listener="i"} for each HTTP listener thread
 * (what: "connections" or "requests"); nothing before the server started. */
static void put_listener_family(text *t, struct http_server *hs, const char *what,
                                const char *help) {
    int nl = http_server_listeners(hs);
    if (nl <= 0) return;
    put(t,
        "# HELP mlpd_http_listener_%s_total %s, by listener thread.\n"
        "# TYPE mlpd_http_listener_%s_total counter\n",
        what, help, what);
    for (int i = 0; i < nl; i++) {
        uint64_t conns, reqs;
        http_server_listener_stats(hs, i, &conns, &reqs);
        put(t, "mlpd_http_listener_%s_total{listener=\"%d\"} %llu\n", what, i,
            (unsigned long long)(what[0] == 'c' ? conns : reqs));
    }
}

char *metrics_render(app *a, size_t *len) {
    text t = {.buf = malloc(8192), .len = 0, .cap = 8192, .failed = 0};
    if (!t.buf) return NULL;
    t.buf[0] = '\0';

    put(&t, "# HELP mlpd_http_requests_total HTTP requests answered, by route and status class.\n"
            "# TYPE mlpd_http_requests_total counter\n");
    router_foreach(a->router, put_requests, &t);
    put(&t,
        "# HELP mlpd_http_request_duration_seconds Time from request headers to response sent.\n"
        "# TYPE mlpd_http_request_duration_seconds histogram\n");
    router_foreach(a->router, put_durations, &t);

    /* Per listener thread: how evenly connections and work are spread. */
    put_listener_family(&t, atomic_load(&a->http), "connections", "Connections accepted");
    put_listener_family(&t, atomic_load(&a->http), "requests", "Requests completed");

    put(&t,
        "# HELP mlpd_predictions_total Rows classified by POST /predict.\n"
        "# TYPE mlpd_predictions_total counter\nmlpd_predictions_total %llu\n",
        (unsigned long long)atomic_load(&a->metrics->predictions));
    put(&t,
        "# HELP mlpd_prediction_requests_total Successful POST /predict requests.\n"
        "# TYPE mlpd_prediction_requests_total counter\nmlpd_prediction_requests_total %llu\n",
        (unsigned long long)atomic_load(&a->metrics->prediction_requests));

    /* The batcher's counters: how well concurrent predictions are shared
     * (rows per batch = batched_rows / batches). */
    batcher_stats bs;
    model_cache_batcher_stats(a->models, &bs);
    put(&t,
        "# HELP mlpd_predict_batches_total Forward passes run by the prediction batcher.\n"
        "# TYPE mlpd_predict_batches_total counter\nmlpd_predict_batches_total %llu\n",
        (unsigned long long)bs.batches);
    put(&t,
        "# HELP mlpd_predict_batched_requests_total Prediction requests answered by the batcher.\n"
        "# TYPE mlpd_predict_batched_requests_total counter\n"
        "mlpd_predict_batched_requests_total %llu\n",
        (unsigned long long)bs.items);
    put(&t,
        "# HELP mlpd_predict_batched_rows_total Rows predicted by the batcher.\n"
        "# TYPE mlpd_predict_batched_rows_total counter\nmlpd_predict_batched_rows_total %llu\n",
        (unsigned long long)bs.rows);

    jobs_stats js = {0};
    if (a->jobs) jobs_get_stats(a->jobs, &js);
    put(&t, "# HELP mlpd_jobs Training runs by status.\n# TYPE mlpd_jobs gauge\n");
    put(&t, "mlpd_jobs{status=\"queued\"} %d\nmlpd_jobs{status=\"running\"} %d\n", js.queued,
        js.running);
    static const run_status ended[] = {RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED};
    for (size_t i = 0; i < sizeof ended / sizeof ended[0]; i++) {
        long long n = runs_with_status(a->st, ended[i]);
        if (n >= 0) put(&t, "mlpd_jobs{status=\"%s\"} %lld\n", run_status_name(ended[i]), n);
    }
    put(&t,
        "# HELP mlpd_train_samples_per_second Training throughput summed over running jobs.\n"
        "# TYPE mlpd_train_samples_per_second gauge\nmlpd_train_samples_per_second %.3f\n",
        js.train_samples_per_sec);
    put(&t,
        "# HELP mlpd_models_cached Models loaded in memory for predictions.\n"
        "# TYPE mlpd_models_cached gauge\nmlpd_models_cached %d\n",
        model_cache_size(a->models));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    put(&t,
        "# HELP mlpd_uptime_seconds Seconds since the daemon started.\n"
        "# TYPE mlpd_uptime_seconds gauge\nmlpd_uptime_seconds %.3f\n",
        (double)now.tv_sec + now.tv_nsec * 1e-9 - a->started_at);
    put(&t,
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n",
        metrics_rss_bytes());
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
