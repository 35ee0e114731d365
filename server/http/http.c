/* http.c - libmicrohttpd glue: per-connection state, body collection with the
 * limit the handler gave, response building, the handler told on completion.
 * Listeners, the acceptor and the server's life cycle: http_server.c. */
#include "clock.h"
#include "http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_gzip.h"
#include "http_impl.h"
#include "log.h"
#include "problem.h"

/* ---- request helpers ------------------------------------------------------------ */
const char *http_query(const http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    int (*fn)(void *user, const char *key, const char *value);
    void *user;
    int stop;
} query_walk;

static enum MHD_Result on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    (void)kind;
    query_walk *w = cls;
    w->stop = w->fn(w->user, key, value);
    return w->stop ? MHD_NO : MHD_YES;
}

int http_query_each(const http_request *req,
                    int (*fn)(void *user, const char *key, const char *value), void *user) {
    if (!req->conn) return 0;
    query_walk w = {fn, user, 0};
    return MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, on_query_arg, &w);
}

const char *http_header(const http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- response helpers ------------------------------------------------------------ */
void http_set_header(http_response *res, const char *name, const char *fmt, ...) {
    if (res->n_headers >= HTTP_MAX_HEADERS) return;
    __typeof__(res->headers[0]) *h = &res->headers[res->n_headers++];
    snprintf(h->name, sizeof h->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->value, sizeof h->value, fmt, ap);
    va_end(ap);
}

void http_add_vary(http_response *res, const char *token) {
    for (int i = 0; i < res->n_headers; i++) {
        if (strcasecmp(res->headers[i].name, "Vary")) continue;
        char *v = res->headers[i].value;
        size_t n = strlen(v);
        if (!strcasestr(v, token) && n + strlen(token) + 3 < sizeof res->headers[i].value)
            snprintf(v + n, sizeof res->headers[i].value - n, "%s%s", n ? ", " : "", token);
        return;
    }
    http_set_header(res, "Vary", "%s", token);
}

static void reset_body(http_response *res) {
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    if (res->mhd) {
        MHD_destroy_response(res->mhd);
        res->mhd = NULL;
    }
}

void http_reply_take(http_response *res, int status, const char *content_type, char *buf,
                     size_t len) {
    reset_body(res);
    res->status = status;
    res->content_type = content_type;
    res->body = buf;
    res->body_len = len;
}

void http_reply_bytes(http_response *res, int status, const char *content_type, const void *bytes,
                      size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) {
        http_reply_take(res, 500, "text/plain", NULL, 0);
        return;
    }
    if (len) memcpy(copy, bytes, len);
    copy[len] = '\0';
    http_reply_take(res, status, content_type, copy, len);
}

void http_reply_json(http_response *res, int status, cJSON *json) {
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory encoding the response");
        return;
    }
    http_reply_take(res, status, "application/json", text, strlen(text));
}

void http_reply_problem(http_response *res, int status, const char *slug, const char *pointer,
                        const char *detail_fmt, ...) {
    char detail[320];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    api_problem p;
    api_problem_set(&p, status, slug, pointer, "%s", detail);
    char *text = api_problem_to_json(&p);
    if (!text) {
        http_reply_take(res, status, "application/problem+json", NULL, 0);
        return;
    }
    http_reply_take(res, status, "application/problem+json", text, strlen(text));
}

void http_reply_api_problem(http_response *res, const api_problem *p) {
    char *text = api_problem_to_json(p);
    http_reply_take(res, p->status, "application/problem+json", text, text ? strlen(text) : 0);
}

void http_reply_mhd(http_response *res, int status, struct MHD_Response *mhd) {
    reset_body(res);
    res->status = status;
    res->mhd = mhd;
}

/* ---- request ids ----------------------------------------------------------------- */
/* prefix and n as "%08x-%06llx" (n grows past six digits as needed) into out
 * (cap >= 32), without printf: every request mints one. */
static void format_request_id(char *out, size_t cap, uint32_t prefix, uint64_t n) {
    static const char hex[] = "0123456789abcdef";
    char tail[16];
    size_t k = 0;
    do {
        tail[k++] = hex[n & 15];
        n >>= 4;
    } while (n || k < 6);
    if (cap < 8 + 1 + k + 1) {
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < 8; i++) out[i] = hex[(prefix >> (28 - 4 * i)) & 15];
    out[8] = '-';
    for (size_t i = 0; i < k; i++) out[9 + i] = tail[k - 1 - i];
    out[9 + k] = '\0';
}

/* Keep a client's X-Request-Id when it is short and plain; otherwise mint one. */
static void set_request_id(http_server *h, struct MHD_Connection *c, char *out, size_t cap) {
    const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (given) {
        size_t n = strlen(given), ok = n > 0 && n < cap && n <= 40;
        for (size_t i = 0; ok && i < n; i++)
            ok = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
                 (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_' ||
                 given[i] == '.';
        if (ok) {
            memcpy(out, given, n + 1);
            return;
        }
    }
    uint64_t n = atomic_fetch_add(&h->next_id, 1) + 1;
    format_request_id(out, cap, h->id_prefix, n);
}

/* ---- sending ----------------------------------------------------------------------- */
/* A buffered answer of a compressible type and at least HTTP_GZIP_MIN bytes
 * varies with Accept-Encoding; it is sent gzip-coded when the client accepts
 * that and the handler set no coding of its own (http_gzip.h). */
static void maybe_gzip(struct MHD_Connection *c, http_response *res, int *gzipped) {
    if (!res->body || res->body_len < HTTP_GZIP_MIN || !http_compressible(res->content_type))
        return;
    for (int i = 0; i < res->n_headers; i++)
        if (!strcasecmp(res->headers[i].name, "Content-Encoding")) return;
    http_add_vary(res, "Accept-Encoding");
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    if (!http_accepts_gzip(ae)) return;
    size_t n = 0;
    char *z = http_gzip(res->body, res->body_len, &n);
    if (!z) return; /* out of memory: the plain answer is still right */
    free(res->body);
    res->body = z;
    res->body_len = n;
    *gzipped = 1;
}

static enum MHD_Result send_response(struct MHD_Connection *c, conn_state *s) {
    http_response *res = &s->res;
    struct MHD_Response *r = res->mhd;
    res->mhd = NULL;
    int gzipped = 0;
    if (!r) {
        if (res->status == 0) http_reply_problem(res, 500, "internal", NULL, "no response");
        maybe_gzip(c, res, &gzipped);
        r = MHD_create_response_from_buffer(res->body_len, res->body ? res->body : (void *)"",
                                            res->body ? MHD_RESPMEM_MUST_FREE
                                                      : MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        res->body = NULL; /* owned by MHD now; body_len kept for the log */
        if (res->content_type)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    }
    int has_cache = 0;
    if (gzipped) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    for (int i = 0; i < res->n_headers; i++) {
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
        if (!strcasecmp(res->headers[i].name, "Cache-Control")) has_cache = 1;
    }
    /* API answers describe changing state: never let a cache keep them. */
    if (!has_cache) MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Request-Id", s->request_id);
    if (atomic_load_explicit(&s->h->no_keepalive, memory_order_relaxed) &&
        !MHD_get_response_header(r, MHD_HTTP_HEADER_CONNECTION))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    s->queued = 1;
    return ret;
}

/* ---- deferred answers ---------------------------------------------------------------- */
http_deferred *http_defer(const http_request *req, http_finish_fn finish, void *arg) {
    conn_state *s = req->internal;
    if (!s || s->deferred || !finish) return NULL;
    s->finish = finish;
    s->finish_arg = arg;
    s->deferred = 1;
    atomic_fetch_add(&s->h->deferred, 1);
    MHD_suspend_connection(s->req.conn);
    return (http_deferred *)s;
}

void http_deferred_resume(http_deferred *d) {
    /* MHD_resume_connection is safe from any thread, also before the handler
     * that suspended returned; the connection's thread then calls on_request
     * again, which runs finish. */
    MHD_resume_connection(((conn_state *)d)->req.conn);
}

int http_answer_next_turn(const http_request *req, http_finish_fn finish, void *arg) {
    conn_state *s = req->internal;
    if (!s || s->deferred || s->next_turn || s->completing || !finish) return -1;
    s->finish = finish;
    s->finish_arg = arg;
    s->next_turn = 1;
    return 0;
}

int http_thread_connections(const http_request *req) {
    conn_state *s = req->internal;
    if (!s || !s->l) return 1;
    int n = atomic_load_explicit(&s->l->open, memory_order_relaxed);
    return n > 1 ? n : 1;
}

/* Run a next-turn request's finish (on its HTTP thread); its answer goes to s->res. */
static void finish_next_turn(conn_state *s) {
    s->next_turn = 0;
    s->finish(s->finish_arg, &s->res);
}

/* Run a deferred request's finish (on its HTTP thread); its answer goes to s->res. */
static void finish_deferred(conn_state *s) {
    s->deferred = 0;
    s->finish(s->finish_arg, &s->res);
    atomic_fetch_sub(&s->h->deferred, 1);
}

/* ---- MHD callbacks ------------------------------------------------------------------ */
/* The path of a request target. A server must accept the absolute-form
 * ("GET http://host/jobs", RFC 9112 section 3.2.2), which libmicrohttpd
 * passes on whole: the scheme and authority are dropped (an empty path is
 * "/"). Every other form is returned as it is. */
static const char *origin_path(const char *url) {
    const char *rest = NULL;
    if (!strncasecmp(url, "http://", 7)) rest = url + 7;
    if (!strncasecmp(url, "https://", 8)) rest = url + 8;
    if (!rest) return url;
    const char *slash = strchr(rest, '/');
    return slash ? slash : "/";
}

/* The request's state: made by http_on_uri (http_strict.c) or, when that
 * failed for memory, here; filled now that the decoded URL and the headers are in. */
static conn_state *begin(listener *l, conn_state *s, struct MHD_Connection *c, const char *url,
                         const char *method) {
    http_server *h = l->h;
    if (!s && (s = calloc(1, sizeof *s)) != NULL) s->start = mono_seconds();
    if (!s) return NULL;
    size_t mlen = strnlen(method, sizeof s->method - 1); /* cut as snprintf would */
    memcpy(s->method, method, mlen);
    s->method[mlen] = '\0';
    s->path = strdup(origin_path(url));
    if (!s->path) {
        free(s);
        return NULL;
    }
    set_request_id(h, c, s->request_id, sizeof s->request_id);
    s->req.method = s->method;
    s->req.path = s->path;
    s->req.body = "";
    s->req.request_id = s->request_id;
    s->req.conn = c;
    s->req.internal = s;
    s->h = h;
    s->l = l;
    s->began = 1;
    return s;
}

/* The headers are in: the transport's own checks, then the handler's
 * admission, before any body is read. */
static enum MHD_Result first_call(http_server *h, conn_state *s, struct MHD_Connection *c,
                                  const char *version) {
    atomic_fetch_add(&h->in_flight, 1);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    long long len = te ? -1 : 0; /* neither header: there is no body */
    if (cl) {
        char *end;
        len = strtoll(cl, &end, 10);
        if (*end || len < 0) len = -1;
    }
    if (http_check_request(s, c, version)) {
        /* A fault in the head itself: answered now, and the connection is
         * closed after it (MHD reads no body of an early answer). */
        s->refused = 1;
        http_set_header(&s->res, "Connection", "close");
        return send_response(c, s);
    }
    s->target = h->handler.admit(h->handler.ctx, &s->req, ct, len, s->params, &s->limit, &s->res,
                                 &s->counted);
    if (s->target) {
        /* A announced length within the limit: one buffer of that size
         * (no growing copies of an upload; a predict body fits at once). */
        if (len > 0 && (size_t)len <= s->limit && (s->body = malloc((size_t)len + 1)) != NULL)
            s->body_cap = (size_t)len + 1;
        return MHD_YES;
    }
    s->refused = 1;
    /* One without a body is answered on the final call, keeping keep-alive. */
    if (len == 0) return MHD_YES;
    /* One that announces a body is closed after its answer. A body of
     * announced length up to HTTP_LINGER_MAX_BYTES is first read and
     * dropped (a lingering close, as nginx's): closing with it unread makes
     * the kernel reset the connection, and a client still writing it
     * (Node's fetch) sees EPIPE instead of the answer. A client that asked
     * to be told first (Expect: 100-continue, no body sent yet), a longer
     * body or a chunked one is answered at once. */
    http_set_header(&s->res, "Connection", "close");
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    if (len > 0 && len <= HTTP_LINGER_MAX_BYTES && !expect) return MHD_YES;
    return send_response(c, s);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_size, void **req_cls) {
    http_server *h = ((listener *)cls)->h;
    conn_state *s = *req_cls;
    if (!s || !s->began) {
        s = begin(cls, s, c, url, method);
        if (!s) return MHD_NO;
        *req_cls = s;
        return first_call(h, s, c, version);
    }
    if (s->next_turn) {
        /* Called again on a later turn: libmicrohttpd (0.9.75 and 1.0
         * alike) calls the handler of a complete request that has no
         * response yet on each turn of its loop, without sleeping. */
        finish_next_turn(s);
        if (s->next_turn) return MHD_YES; /* finish asked for yet another turn */
        return send_response(c, s);
    }
    if (s->deferred) { /* resumed: the deferred work is done */
        finish_deferred(s);
        return send_response(c, s);
    }
    if (s->refused) { /* drop whatever body still arrives; answer once it is in */
        if (*upload_size > 0) {
            *upload_size = 0;
            return MHD_YES;
        }
        return s->queued ? MHD_YES : send_response(c, s);
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (s->body_len + n > s->limit) {
            /* Past the limit with no length announced (chunked): answer
             * now rather than read a body that may never end. MHD 0.9.75
             * accepts no queued response while a body is arriving, so the
             * 413 goes on the socket and MHD closes the connection. */
            http_reply_problem(&s->res, 413, "body-too-large", NULL,
                               "the request body exceeds this route's limit of %zu bytes",
                               s->limit);
            http_answer_on_socket(s, c);
            return MHD_NO;
        }
        if (s->body_len + n + 1 > s->body_cap) {
            size_t cap = s->body_cap ? s->body_cap : 4096;
            while (cap < s->body_len + n + 1) cap *= 2;
            char *nb = realloc(s->body, cap);
            if (!nb) {
                log_error("out of memory reading a %zu-byte request body", s->body_len + n);
                return MHD_NO;
            }
            s->body = nb;
            s->body_cap = cap;
        }
        memcpy(s->body + s->body_len, upload_data, n);
        s->body_len += n;
        return MHD_YES;
    }
    /* The whole request is in. */
    if (s->body) {
        s->body[s->body_len] = '\0';
        s->req.body = s->body;
        s->req.body_len = s->body_len;
    }
    h->handler.handle(h->handler.ctx, s->target, &s->req, &s->res);
    if (s->deferred) return MHD_YES;  /* suspended; answered when resumed */
    if (s->next_turn) return MHD_YES; /* no response yet: MHD calls again next turn */
    return send_response(c, s);
}

void http_on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                       enum MHD_RequestTerminationCode toe) {
    (void)c;
    listener *l = cls;
    http_server *h = l->h;
    conn_state *s = *req_cls;
    if (!s) return;
    *req_cls = NULL;
    if (!s->began) {
        /* libmicrohttpd refused the request itself (its log line says why)
         * or the client left while sending the head: no handler to tell. */
        free(s);
        return;
    }
    atomic_fetch_add_explicit(&l->requests, 1, memory_order_relaxed);
    s->completing = 1;                   /* no more turns: a finish run now cannot ask for one */
    if (s->deferred) finish_deferred(s); /* closed before the answer: release the work */
    if (s->next_turn) finish_next_turn(s);
    atomic_fetch_sub(&h->in_flight, 1);
    double secs = mono_seconds() - s->start;
    int status = s->queued ? s->res.status : 499; /* 499: client went away before an answer */
    (void)toe;
    h->handler.done(h->handler.ctx, s->counted, &s->req, status, s->res.body_len, secs);
    reset_body(&s->res);
    free(s->body);
    free(s->path);
    free(s);
}
