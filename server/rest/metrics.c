/* metrics.c - Prometheus text exposition of the daemon's counters and gauges. */
#include "clock.h"
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>

#include "batcher.h"
#include "model_cache.h"
#include "model_stats.h"
#include "mlp.h"
#include "router.h"
#include "version.h"

void metrics_init(mlpd_metrics *m) {
    atomic_init(&m->predictions, 0);
    atomic_init(&m->prediction_requests, 0);
}

void metrics_count_prediction(mlpd_metrics *m, int rows) {
    atomic_fetch_add_explicit(&m->predictions, (uint_fast64_t)rows, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->prediction_requests, 1, memory_order_relaxed);
}

/* What the process_* families report, read from /proc and getrusage. */
typedef struct {
    double cpu_seconds; /* user + system */
    double open_fds;    /* descriptors open now */
    double max_fds;     /* RLIMIT_NOFILE's soft limit, -1 when unlimited */
    long long virtual_bytes, resident_bytes;
} process_info;

static void process_info_read(process_info *pi) {
    memset(pi, 0, sizeof *pi);
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long long size = 0, resident = 0;
        if (fscanf(f, "%lld %lld", &size, &resident) == 2) {
            pi->virtual_bytes = size * page;
            pi->resident_bytes = resident * page;
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        pi->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
                          (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.') pi->open_fds++;
        closedir(d);
        pi->open_fds--; /* the one opendir itself holds */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        pi->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur;
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
    for (int i = 0; i <= ROUTE_CODES; i++) {
        uint_fast64_t v = atomic_load_explicit(&st->by_code[i], memory_order_relaxed);
        if (!v) continue;
        if (i < ROUTE_CODES)
            put(user, "mlpd_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
                pattern, method, ROUTE_CODE_MIN + i, (unsigned long long)v);
        else
            put(user, "mlpd_http_requests_total{route=\"%s\",method=\"%s\",code=\"other\"} %llu\n",
                pattern, method, (unsigned long long)v);
    }
}

/* The samples of histogram `name` with `labels` ("" or `a="b",` ending in a
 * comma): cumulative buckets, _sum and _count read from one pass, so _count
 * equals the +Inf bucket. */
static void put_hist(text *t, const char *name, const char *labels, const hist *h) {
    unsigned long long cum = 0;
    for (int b = 0; b <= h->n_bounds; b++) {
        cum += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        if (b < h->n_bounds)
            put(t, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, h->bounds[b], cum);
        else
            put(t, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, cum);
    }
    /* _sum and _count carry the labels without the trailing comma, and no
     * braces at all when there are none. */
    int n = (int)strlen(labels);
    const char *open = n ? "{" : "", *close = n ? "}" : "";
    put(t, "%s_sum%s%.*s%s %.6f\n", name, open, n ? n - 1 : 0, labels, close,
        (double)atomic_load_explicit(&h->micros_sum, memory_order_relaxed) * 1e-6);
    put(t, "%s_count%s%.*s%s %llu\n", name, open, n ? n - 1 : 0, labels, close, cum);
}

static void put_durations(void *user, const char *method, const char *pattern,
                          const route_stats *st) {
    if (!atomic_load_explicit(&st->calls, memory_order_relaxed)) return;
    char labels[300];
    snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",", pattern, method);
    put_hist(user, "mlpd_http_request_duration_seconds", labels, &st->duration);
}

/* Runs with a final status are counted by the store (one query per status per scrape). */
static long long runs_with_status(store *st, run_status s) {
    store_run_query q = {.has_status = 1, .status = s, .limit = 1, .offset = 0};
    store_run *list = NULL;
    size_t n = 0;
    int64_t total = 0;
    if (store_run_list(st, &q, &list, &n, &total, NULL) != MLPD_OK) return -1;
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

/* One family of a single unlabelled sample: HELP, TYPE and the value. */
static void put_scalar(text *t, const char *name, const char *type, const char *help,
                       double value) {
    put(t, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

static void put_http(text *t, app *a) {
    put(t, "# HELP mlpd_http_requests_total HTTP requests answered, by route and status code.\n"
           "# TYPE mlpd_http_requests_total counter\n");
    router_foreach(a->router, put_requests, t);
    put(t, "# HELP mlpd_http_request_duration_seconds Time from request headers to response sent.\n"
           "# TYPE mlpd_http_request_duration_seconds histogram\n");
    router_foreach(a->router, put_durations, t);
    /* Per listener thread: how evenly connections and work are spread. */
    put_listener_family(t, atomic_load(&a->http), "connections", "Connections accepted");
    put_listener_family(t, atomic_load(&a->http), "requests", "Requests completed");
}

/* Every prediction family shares the mlpd_predict_ prefix. The batcher's
 * counters tell how well concurrent predictions are shared (rows per batch =
 * batched_rows / batches). */
static void put_predict(text *t, app *a) {
    put_scalar(t, "mlpd_predict_rows_total", "counter", "Rows classified by POST /predict.",
               (double)atomic_load(&a->metrics->predictions));
    put_scalar(t, "mlpd_predict_requests_total", "counter", "Successful POST /predict requests.",
               (double)atomic_load(&a->metrics->prediction_requests));
    batcher_stats bs;
    model_cache_batcher_stats(a->models, &bs);
    put_scalar(t, "mlpd_predict_batches_total", "counter",
               "Forward passes run by the prediction batcher.", (double)bs.batches);
    put_scalar(t, "mlpd_predict_batched_requests_total", "counter",
               "Prediction requests answered by the batcher.", (double)bs.items);
    put_scalar(t, "mlpd_predict_batched_rows_total", "counter", "Rows predicted by the batcher.",
               (double)bs.rows);
    put_scalar(t, "mlpd_models_cached", "gauge", "Models loaded in memory for predictions.",
               model_cache_size(a->models));
    unsigned long lent, late;
    mlp_predict_split_counts(&lent, &late);
    put(t,
        "# HELP mlpd_predict_split_helpers_total Helper threads lent to float32 predictions split "
        "over idle cores: ran (joined the prediction) or late (taken back before starting, its "
        "core busy).\n# TYPE mlpd_predict_split_helpers_total counter\n"
        "mlpd_predict_split_helpers_total{outcome=\"ran\"} %lu\n"
        "mlpd_predict_split_helpers_total{outcome=\"late\"} %lu\n",
        lent - late, late);
}

static void put_jobs(text *t, app *a) {
    jobs_stats js = {0};
    if (a->jobs) jobs_get_stats(a->jobs, &js);
    put(t, "# HELP mlpd_jobs Training runs by status.\n# TYPE mlpd_jobs gauge\n");
    put(t, "mlpd_jobs{status=\"queued\"} %d\nmlpd_jobs{status=\"running\"} %d\n", js.queued,
        js.running);
    static const run_status ended[] = {RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED};
    for (size_t i = 0; i < sizeof ended / sizeof ended[0]; i++) {
        long long n = runs_with_status(a->st, ended[i]);
        if (n >= 0) put(t, "mlpd_jobs{status=\"%s\"} %lld\n", run_status_name(ended[i]), n);
    }
    if (!a->jobs) return;
    const jobs_counters *c = jobs_get_counters(a->jobs);
    put_scalar(t, "mlpd_train_samples_total", "counter",
               "Samples trained over every job (rate() gives the throughput).",
               (double)atomic_load(&c->samples));
    put(t, "# HELP mlpd_epoch_duration_seconds Time of each completed training epoch.\n"
           "# TYPE mlpd_epoch_duration_seconds histogram\n");
    put_hist(t, "mlpd_epoch_duration_seconds", "", &c->epoch_seconds);
    put(t, "# HELP mlpd_job_duration_seconds Time of each ended job, from running to its end.\n"
           "# TYPE mlpd_job_duration_seconds histogram\n");
    put_hist(t, "mlpd_job_duration_seconds", "", &c->job_seconds);
}

/* The standard process_* families (as Prometheus' client libraries export
 * them), read from /proc when scraped. */
static void put_process(text *t, app *a) {
    put_scalar(t, "process_start_time_seconds", "gauge",
               "Start time of the process since the Unix epoch in seconds.", a->started_at);
    process_info pi;
    process_info_read(&pi);
    put_scalar(t, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.", pi.cpu_seconds);
    put_scalar(t, "process_open_fds", "gauge", "Number of open file descriptors.", pi.open_fds);
    put_scalar(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
               pi.max_fds);
    put_scalar(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
               (double)pi.virtual_bytes);
    put_scalar(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               (double)pi.resident_bytes);
    put_scalar(t, "mlpd_uptime_seconds", "gauge", "Seconds since the daemon started.",
               wall_seconds() - a->started_at);
}

/* ---- per model version ({model, version}: model_stats.h) ---- */
typedef struct {
    text *t;
    int family; /* 0 rows, 1 executions, 2 requests, 3 queue histogram */
} model_family;

/* One family's samples for one model version (a family's lines stay together). */
static void put_model_sample(void *user, const model_stat *s) {
    model_family *f = user;
    char labels[STORE_NAME_MAX + 40];
    snprintf(labels, sizeof labels, "model=\"%s\",version=\"%d\",", s->name, s->version);
    if (f->family == 0)
        put(f->t, "mlpd_predict_model_rows_total{%.*s} %llu\n", (int)strlen(labels) - 1, labels,
            (unsigned long long)atomic_load(&s->inference_count));
    else if (f->family == 1)
        put(f->t, "mlpd_predict_model_executions_total{%.*s} %llu\n", (int)strlen(labels) - 1,
            labels, (unsigned long long)atomic_load(&s->execution_count));
    else if (f->family == 2)
        put(f->t,
            "mlpd_predict_model_requests_total{%soutcome=\"success\"} %llu\n"
            "mlpd_predict_model_requests_total{%soutcome=\"failure\"} %llu\n",
            labels, (unsigned long long)atomic_load(&s->success.count), labels,
            (unsigned long long)atomic_load(&s->fail.count));
    else
        put_hist(f->t, "mlpd_predict_queue_seconds", labels, &s->queue_hist);
}

/* Every inference route (/predict, v2, v1) counts here per model version. */
static void put_models(text *t, app *a) {
    if (!a->stats) return;
    static const char *const head[4] = {
        "# HELP mlpd_predict_model_rows_total Rows predicted, per model version.\n"
        "# TYPE mlpd_predict_model_rows_total counter\n",
        "# HELP mlpd_predict_model_executions_total Forward passes (batches) per model version.\n"
        "# TYPE mlpd_predict_model_executions_total counter\n",
        "# HELP mlpd_predict_model_requests_total Inference requests per model version and "
        "outcome.\n# TYPE mlpd_predict_model_requests_total counter\n",
        "# HELP mlpd_predict_queue_seconds Time a request waited for its batch to start.\n"
        "# TYPE mlpd_predict_queue_seconds histogram\n"};
    for (int f = 0; f < 4; f++) {
        put(t, "%s", head[f]);
        model_family mf = {.t = t, .family = f};
        model_stats_foreach(a->stats, put_model_sample, &mf);
    }
}

char *metrics_render(app *a, size_t *len) {
    text t = {.buf = malloc(8192), .len = 0, .cap = 8192, .failed = 0};
    if (!t.buf) return NULL;
    t.buf[0] = '\0';
    put(&t,
        "# HELP mlpd_build_info The daemon's version, the prediction kernels this CPU runs "
        "(float32, bf16, int8) and the cores a float32 prediction may be split over when idle.\n"
        "# TYPE mlpd_build_info gauge\nmlpd_build_info{version=\"%s\",kernel=\"%s\","
        "kernel_bf16=\"%s\",kernel_int8=\"%s\",predict_cores=\"%d\"} 1\n",
        MLPD_VERSION, mlp_kernel_name(), mlp_kernel_name_for(MLP_PRECISION_BF16),
        mlp_kernel_name_for(MLP_PRECISION_INT8), mlp_predict_cores());
    put_http(&t, a);
    put_predict(&t, a);
    put_models(&t, a);
    put_jobs(&t, a);
    put_process(&t, a);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
