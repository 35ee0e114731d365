/* sse.c - GET /jobs/{id}/events: a job followed as Server-Sent Events.
 *
 * Events (api/openapi.yaml): `metric` (id: the metric id, data: a Metric),
 * `progress` (data: the Job, while it trains, when its step moved), `status`
 * (data: the Job, when its status changed), `end` (data: the Job, once it has
 * ended; then the stream closes). `: heartbeat` comments every 15 s.
 * Last-Event-ID resumes after that metric id. At most --max-streams streams
 * are open at once; one more is refused with 503 and Retry-After (a stream
 * holds a connection for as long as the job runs).
 *
 * How it waits without holding an HTTP thread: the response is an MHD
 * callback response. When the callback has nothing to send it suspends its
 * connection and returns 0; the hub's ticker thread resumes every suspended
 * stream each SSE_TICK_MS, and the callback then polls the store (metrics
 * after the cursor, the run) and the runner's live state.
 *
 * Lifetime: a stream has two references, the hub's and the MHD response's
 * (dropped by the free callback). The ticker touches a stream's connection
 * only while the stream is marked suspended, which it is between the
 * callback's MHD_suspend_connection and the ticker's MHD_resume_connection,
 * both done under the stream's lock, so the connection is alive then.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "router.h"
#include "sse_impl.h"
#include "views.h"

#define HEARTBEAT_SECONDS 15.0
#define METRICS_PAGE      500

typedef struct sse_stream {
    struct sse_hub *hub;
    app *app;
    struct MHD_Connection *conn;
    int64_t run_id;
    int64_t cursor;    /* last metric id sent */
    int last_status;   /* -1 before the first status event */
    int64_t last_step; /* live position last sent as progress */
    int last_epoch;
    int ended; /* `end` queued */
    double last_poll, last_write;
    char *buf; /* pending text: buf[off..len) */
    size_t off, len, cap;
    pthread_mutex_t mu; /* guards suspended */
    int suspended;
    atomic_int closed; /* the free callback ran */
    atomic_int refs;
    struct sse_stream *next; /* hub list */
    sse_poll_fn poll;        /* poll_job, or another kind's (sse_sweep.c) */
    void *state;             /* that kind's, freed with free_state */
    void (*free_state)(void *);
} sse_stream;

typedef struct sse_hub {
    pthread_mutex_t mu; /* guards list */
    sse_stream *list;
    pthread_t ticker;
    atomic_int stopping;
    int ticker_running;
    int max_streams;
    atomic_int open; /* streams admitted and not yet freed by MHD */
} sse_hub;

static void stream_unref(sse_stream *s) {
    if (atomic_fetch_sub(&s->refs, 1) == 1) {
        if (s->free_state) s->free_state(s->state);
        pthread_mutex_destroy(&s->mu);
        free(s->buf);
        free(s);
    }
}

/* ---- the pending text ------------------------------------------------------------------ */
static void append(sse_stream *s, const char *text, size_t n) {
    if (s->off == s->len) s->off = s->len = 0;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n) cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) return; /* dropped; the client can resume by Last-Event-ID */
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
}

/* One event: optional id, the event name, data = compact JSON of `json` (freed). */
void sse_add_event(sse_stream *s, int64_t id, const char *event, cJSON *json) {
    char *data = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!data) return;
    char head[96];
    int n = id > 0
                ? snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ", (long long)id, event)
                : snprintf(head, sizeof head, "event: %s\ndata: ", event);
    append(s, head, (size_t)n);
    append(s, data, strlen(data));
    append(s, "\n\n", 2);
    free(data);
}

app *sse_app(sse_stream *s) {
    return s->app;
}
int64_t sse_id(sse_stream *s) {
    return s->run_id;
}
void *sse_state(sse_stream *s) {
    return s->state;
}
void sse_end(sse_stream *s) {
    s->ended = 1;
}

/* ---- polling ----------------------------------------------------------------------------- */
static int is_final(run_status st) {
    return st == RUN_SUCCEEDED || st == RUN_FAILED || st == RUN_CANCELLED;
}

/* Queue what is new since the last poll. */
static void poll_job(sse_stream *s) {
    app *a = s->app;
    store_run run;
    /* The run first, then its metrics: a run found ended has written all its
     * metrics already, so `end` never overtakes a metric. */
    if (store_run_get(a->st, s->run_id, &run, NULL) != MLPD_OK) {
        s->ended = 1; /* deleted or store down: nothing more will come */
        return;
    }
    store_metric *m = NULL;
    size_t n = 0;
    int full = 0;
    if (store_metrics_get(a->st, s->run_id, s->cursor, METRICS_PAGE, &m, &n, NULL) == MLPD_OK) {
        for (size_t i = 0; i < n; i++) {
            sse_add_event(s, m[i].id, "metric", view_metric(&m[i]));
            s->cursor = m[i].id;
        }
        full = n == METRICS_PAGE;
        free(m);
    }
    jobs_live live;
    int has_live = run.status == RUN_RUNNING && jobs_get_live(a->jobs, s->run_id, &live) == MLPD_OK;
    if ((int)run.status != s->last_status) {
        s->last_status = (int)run.status;
        sse_add_event(s, 0, "status", view_job(&run, has_live ? &live : NULL));
    } else if (has_live && (live.step != s->last_step || live.epoch != s->last_epoch)) {
        s->last_step = live.step;
        s->last_epoch = live.epoch;
        sse_add_event(s, 0, "progress", view_job(&run, &live));
    }
    if (is_final(run.status) && !full) {
        sse_add_event(s, 0, "end", view_job(&run, NULL));
        s->ended = 1;
    }
    if (full) s->last_poll = 0; /* more metrics wait: poll again at once */
    store_run_clear(&run);
}

/* ---- MHD callbacks --------------------------------------------------------------------- */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    sse_stream *s = cls;
    for (;;) {
        if (s->off < s->len) {
            size_t n = s->len - s->off < max ? s->len - s->off : max;
            memcpy(out, s->buf + s->off, n);
            s->off += n;
            s->last_write = mono_seconds();
            return (ssize_t)n;
        }
        if (s->ended || atomic_load(&s->hub->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
        double t = mono_seconds();
        if (t - s->last_poll >= SSE_TICK_MS * 1e-3 * 0.8) {
            s->last_poll = t;
            s->poll(s);
            if (s->off < s->len || s->ended) continue;
        }
        if (t - s->last_write >= HEARTBEAT_SECONDS) {
            static const char beat[] = ": heartbeat\n\n";
            append(s, beat, sizeof beat - 1);
            continue;
        }
        /* Nothing to say: sleep until the ticker wakes us. */
        pthread_mutex_lock(&s->mu);
        if (atomic_load(&s->hub->stopping)) {
            pthread_mutex_unlock(&s->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
}

static void stream_free(void *cls) {
    sse_stream *s = cls;
    atomic_fetch_sub(&s->hub->open, 1);
    atomic_store(&s->closed, 1);
    stream_unref(s);
}

/* ---- the hub ------------------------------------------------------------------------------ */
/* Resume every suspended stream; drop closed ones from the list. */
static void sweep(sse_hub *h) {
    pthread_mutex_lock(&h->mu);
    sse_stream **pp = &h->list;
    while (*pp) {
        sse_stream *s = *pp;
        if (atomic_load(&s->closed)) {
            *pp = s->next;
            stream_unref(s);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        if (s->suspended) {
            s->suspended = 0;
            MHD_resume_connection(s->conn);
        }
        pthread_mutex_unlock(&s->mu);
        pp = &s->next;
    }
    pthread_mutex_unlock(&h->mu);
}

static void *ticker_main(void *arg) {
    sse_hub *h = arg;
    while (!atomic_load(&h->stopping)) {
        sleep_ms(SSE_TICK_MS);
        sweep(h);
    }
    return NULL;
}

struct sse_hub *sse_hub_create(int max_streams, mlpd_error *err) {
    sse_hub *h = calloc(1, sizeof *h);
    if (!h) {
        mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    atomic_init(&h->stopping, 0);
    atomic_init(&h->open, 0);
    h->max_streams = max_streams > 0 ? max_streams : 1;
    if (pthread_create(&h->ticker, NULL, ticker_main, h) != 0) {
        mlpd_fail(err, MLPD_EINTERNAL, "cannot start the event-stream thread");
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    h->ticker_running = 1;
    return h;
}

void sse_hub_stop(struct sse_hub *h) {
    if (!h || atomic_exchange(&h->stopping, 1)) return;
    if (h->ticker_running) pthread_join(h->ticker, NULL);
    h->ticker_running = 0;
    /* Streams see `stopping` and never suspend again; wake the sleeping ones
     * so they end before MHD stops. */
    sweep(h);
}

void sse_hub_free(struct sse_hub *h) {
    if (!h) return;
    sse_hub_stop(h);
    sse_stream *s = h->list;
    while (s) {
        sse_stream *next = s->next;
        stream_unref(s);
        s = next;
    }
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* ---- the handler -------------------------------------------------------------------------- */
void route_job_events(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "job", &id, res) != 0) return;
    if (atomic_load(&a->sse->stopping)) {
        http_reply_problem(res, 503, "draining", NULL, "the daemon is shutting down");
        return;
    }
    store_run run;
    if (route_load_job(a, id, &run, res) != 0) return;
    store_run_clear(&run);
    int64_t cursor = 0;
    const char *last = http_header(req, "Last-Event-ID");
    if (last) {
        char *end;
        long long v = strtoll(last, &end, 10);
        if (end != last && *end == '\0' && v > 0) cursor = v;
    }
    char fallback[64];
    snprintf(fallback, sizeof fallback, "GET /jobs/%lld/metrics", (long long)id);
    sse_open(a, req, res, id, cursor, poll_job, NULL, NULL, fallback);
}

void sse_open(app *a, const http_request *req, http_response *res, int64_t id, int64_t cursor,
              sse_poll_fn poll, void *state, void (*free_state)(void *), const char *fallback) {
    if (atomic_load(&a->sse->stopping)) {
        if (free_state) free_state(state);
        http_reply_problem(res, 503, "draining", NULL, "the daemon is shutting down");
        return;
    }
    /* Admission against --max-streams; from here on `open` counts this
     * stream until stream_free (or the failure paths below) gives it back. */
    if (atomic_fetch_add(&a->sse->open, 1) >= a->sse->max_streams) {
        atomic_fetch_sub(&a->sse->open, 1);
        if (free_state) free_state(state);
        http_reply_problem(res, 503, "too-many-streams", NULL,
                           "%d event streams are open, the most this daemon serves (see "
                           "--max-streams); retry later or poll %s",
                           a->sse->max_streams, fallback);
        http_set_header(res, "Retry-After", "%d", SSE_RETRY_AFTER_SECONDS);
        return;
    }
    sse_stream *s = calloc(1, sizeof *s);
    if (!s) {
        atomic_fetch_sub(&a->sse->open, 1);
        if (free_state) free_state(state);
        http_reply_problem(res, 500, "internal", NULL, "out of memory");
        return;
    }
    s->poll = poll;
    s->state = state;
    s->free_state = free_state;
    s->hub = a->sse;
    s->app = a;
    s->conn = req->conn;
    s->run_id = id;
    s->cursor = cursor;
    s->last_status = -1;
    s->last_step = -1;
    s->last_write = mono_seconds();
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->closed, 0);
    atomic_init(&s->refs, 2); /* the hub's and the response's */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s, stream_free);
    if (!r) {
        atomic_fetch_sub(&a->sse->open, 1);
        pthread_mutex_destroy(&s->mu);
        if (free_state) free_state(state);
        free(s);
        http_reply_problem(res, 500, "internal", NULL, "cannot create the event stream");
        return;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    http_reply_mhd(res, 200, r);
    http_set_header(res, "Cache-Control", "no-cache");
    sse_hub *h = a->sse;
    pthread_mutex_lock(&h->mu);
    s->next = h->list;
    h->list = s;
    pthread_mutex_unlock(&h->mu);
}
