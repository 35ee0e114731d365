/* http.h - the HTTP layer of `mlpd serve`: libmicrohttpd glue, the request a
 * handler reads and the response it fills.
 *
 * One MHD daemon per worker thread (epoll). Connections reach them by one of
 * three http_balance modes (--balance): "fewest" (default) one acceptor
 * thread (acceptor.h) hands each new connection to the worker with the
 * fewest open connections; "reuseport" each worker listens on the port with
 * SO_REUSEPORT and the kernel places connections by address hash; "pool" one
 * listener with MHD's own thread pool.
 *
 * The transport knows nothing of routes, configuration or the store: it calls
 * the application through an http_handler (below). For each request it asks
 * the handler to admit it as soon as the headers are in (the handler may
 * refuse early: 404/405/413/415), collects the body up to the limit the
 * handler gave, then calls the handler once with the whole body, and tells
 * it when the exchange is over (for counting and logging). Handlers run on
 * the HTTP threads: they may block briefly (a store query) but must not wait
 * for long; streaming responses (SSE) use http_reply_mhd() with a callback
 * response.
 */
#ifndef MLPD_HTTP_H
#define MLPD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mlpd_error.h"
#include "problem.h"

struct MHD_Connection;
struct MHD_Response;

#define HTTP_MAX_PARAMS  2
#define HTTP_MAX_HEADERS 12
/* A refused request's body of announced length up to this is read and
 * dropped before the answer (a lingering close; http.c, first_call). */
#define HTTP_LINGER_MAX_BYTES (8u << 20)

/* What a handler is given. Strings point into MHD's or the connection's
 * memory and live until the handler returns. */
typedef struct {
    const char *method; /* "GET", "POST", ... (HEAD is matched as GET) */
    const char *path;   /* decoded path, no query string */
    const char *body;   /* NUL-terminated copy of the body ("" if none) */
    size_t body_len;
    const char *request_id;              /* X-Request-Id sent back with the response */
    const char *params[HTTP_MAX_PARAMS]; /* values of {id}/{name}/{file*} in the pattern order */
    int n_params;
    struct MHD_Connection *conn; /* for query arguments and headers */
    void *internal;              /* http.c's request state (NULL outside http.c: no deferring) */
} http_request;

/* What a handler fills. Exactly one of body / mhd is used. */
typedef struct {
    int status;
    char *body; /* malloc'ed, freed by http.c */
    size_t body_len;
    const char *content_type; /* static string */
    struct MHD_Response *mhd; /* a ready response (streams, files); owned by http.c */
    int n_headers;
    struct {
        char name[32];
        char value[160];
    } headers[HTTP_MAX_HEADERS];
} http_response;

/* ---- request helpers ------------------------------------------------------- */
/* Value of query argument `name`, NULL when absent. */
const char *http_query(const http_request *req, const char *name);
/* Call fn for each query argument in the order sent (value NULL for a bare
 * "?key"), until fn returns non-zero. Returns how many were visited. */
int http_query_each(const http_request *req,
                    int (*fn)(void *user, const char *key, const char *value), void *user);
/* Value of request header `name` (case-insensitive), NULL when absent. */
const char *http_header(const http_request *req, const char *name);

/* ---- response helpers -------------------------------------------------------- */
/* Add a header (silently ignored past HTTP_MAX_HEADERS; values are cut at 159 bytes). */
void http_set_header(http_response *res, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add `token` to the answer's Vary header (one header, a comma-separated
 * list: "Origin, Accept-Encoding"), creating it when absent. */
void http_add_vary(http_response *res, const char *token);
/* Body = the JSON of `json` (compact), application/json. Frees json. */
void http_reply_json(http_response *res, int status, cJSON *json);
/* Body = a copy of bytes[0..len). */
void http_reply_bytes(http_response *res, int status, const char *content_type, const void *bytes,
                      size_t len);
/* Body = buf, taking ownership of the malloc'ed buffer. */
void http_reply_take(http_response *res, int status, const char *content_type, char *buf,
                     size_t len);
/* RFC 9457 problem+json (api/problem.h); detail is printf-formatted. pointer may be NULL. */
void http_reply_problem(http_response *res, int status, const char *slug, const char *pointer,
                        const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));
/* A problem filled by a decoder (train_request.h, ...), type and title kept. */
void http_reply_api_problem(http_response *res, const api_problem *p);
/* Use a prepared MHD response (callback/fd); http.c queues and destroys it. */
void http_reply_mhd(http_response *res, int status, struct MHD_Response *mhd);

/* ---- deferred answers ---------------------------------------------------------- */
/* A handler that hands its work to another thread (the prediction batcher)
 * defers its answer instead of filling res:
 *
 *   d = http_defer(req, finish, arg);   connection suspended: the handler
 *                                       returns at once, res untouched
 *   ... another thread works ...
 *   http_deferred_resume(d);            any thread, exactly once
 *   finish(arg, res)                    later, on the connection's HTTP
 *                                       thread: fills res, frees arg
 *
 * finish is called exactly once after a successful http_defer(), also when
 * the connection is being closed (the response is then discarded), so it is
 * the place to release what the work held. Suspending before the work is
 * handed over means the resume can never overtake the suspend.
 * http_defer returns NULL (nothing suspended, answer synchronously) when the
 * request did not come through http.c (unit tests build their own). */
typedef struct http_deferred http_deferred;
typedef void (*http_finish_fn)(void *arg, http_response *res);
http_deferred *http_defer(const http_request *req, http_finish_fn finish, void *arg);
void http_deferred_resume(http_deferred *d);

/* ---- answers on the next turn -------------------------------------------------- */
/* A handler whose work this same thread does a little later, together with
 * other requests' (a batch of the predictions gathered from the connections
 * it serves), answers on its event loop's next turn instead of now:
 *
 *   http_answer_next_turn(req, finish, arg);   res untouched, the handler returns
 *   finish(arg, res)                           on this thread, on a later turn of
 *                                              its loop (after the other
 *                                              connections ready on this one
 *                                              were handled), fills res
 *
 * Nothing is suspended (no wake-up, no system call): the loop does not sleep
 * while such an answer is pending, so finish must not wait for another
 * thread. finish may instead call http_answer_next_turn again (res left
 * untouched) to be called once more on the turn after. finish is called once
 * per such call, also when the connection is being closed (the response is
 * then discarded; on that call http_answer_next_turn refuses, as no turn
 * follows). Returns 0, or -1 when the request did not come through http.c
 * (unit tests build their own) or is being closed: answer now. */
int http_answer_next_turn(const http_request *req, http_finish_fn finish, void *arg);
/* Connections open on the thread serving req (1 outside http.c): more than
 * one means other requests may come in on this thread's same turn. */
int http_thread_connections(const http_request *req);

/* ---- the server ------------------------------------------------------------------ */
typedef struct http_server http_server;

typedef enum {
    HTTP_BALANCE_FEWEST = 0, /* one acceptor; each connection to the least-loaded worker */
    HTTP_BALANCE_REUSEPORT,  /* one SO_REUSEPORT listener per worker (kernel hash) */
    HTTP_BALANCE_POOL        /* one listener, libmicrohttpd's thread pool */
} http_balance;

/* The mode named s ("fewest", "reuseport", "pool"), or -1. */
int http_balance_parse(const char *s);

typedef struct {
    const char *bind; /* IPv4 address to listen on */
    int port;         /* 0: any free port (see http_server_port) */
    int workers;      /* HTTP threads (one listener each), >= 1 */
    int max_connections;
    int timeout_seconds; /* idle connection timeout */
    int balance;         /* http_balance: how connections reach the workers */
} http_options;

/* ---- the application, as the transport sees it --------------------------------- */
/* Three calls per request, all on the request's HTTP thread; ctx is the
 * handler's own. "target" is opaque to the transport: what admit returned,
 * handed back to handle; "counted" is what done gets (the thing whose
 * counters take the request, possibly NULL).
 *
 * admit: the headers are in. content_length is 0 without a body, -1 when
 *   unknown (chunked). Return non-NULL with *body_limit set to accept the
 *   request (req->params may be set, pointing into param_buf); return NULL
 *   with res filled to refuse it before any body is read.
 * handle: the whole body is in (req->body): fill res, or http_defer().
 * done: the exchange is over; status is 499 when the client left first. */
typedef struct http_handler {
    void *ctx;
    void *(*admit)(void *ctx, http_request *req, const char *content_type, long long content_length,
                   char param_buf[HTTP_MAX_PARAMS][160], size_t *body_limit, http_response *res,
                   void **counted);
    void (*handle)(void *ctx, void *target, const http_request *req, http_response *res);
    void (*done)(void *ctx, void *counted, const http_request *req, int status, size_t bytes,
                 double seconds);
} http_handler;

/* Listen and serve through handler (copied; ctx must outlive the server):
 * *out. MLPD_EINVAL (o->bind is not an IPv4 address), MLPD_EIO (the port
 * cannot be listened on) or MLPD_EINTERNAL (no memory), with the reason in
 * err; *out is then NULL. */
mlpd_status http_server_start(const http_options *o, const http_handler *handler, http_server **out,
                              mlpd_error *err);
/* The port actually bound. */
int http_server_port(http_server *h);
/* Listeners (one thread each) and, for listener i < that count, the
 * connections it accepted and the requests it completed so far: how evenly
 * the kernel spreads connections over the workers (/metrics). */
int http_server_listeners(http_server *h);
void http_server_listener_stats(http_server *h, int i, uint64_t *connections, uint64_t *requests);
/* From now on every answer says "Connection: close" and its connection
 * closes after it: clients holding keep-alive connections (a load balancer's
 * pool, an L4 service) reconnect, and find another replica. The start of a
 * drain. */
void http_server_end_keepalive(http_server *h);
/* Stop accepting new connections; requests in flight go on. */
void http_server_quiesce(http_server *h);
/* Wait until no request is in flight (responses being sent included) or
 * timeout_seconds pass. Returns the number still in flight. */
int http_server_drain(http_server *h, double timeout_seconds);
/* Close everything (what is still in flight is cut), free h (NULL is fine). */
void http_server_stop(http_server *h);

#endif /* MLPD_HTTP_H */
