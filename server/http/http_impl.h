/* http_impl.h - what http.c (requests) and http_server.c (listeners and the
 * server's life cycle) share; nothing outside the HTTP layer includes it. */
#ifndef MLPD_HTTP_IMPL_H
#define MLPD_HTTP_IMPL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "acceptor.h"
#include "http.h"

/* Listeners at most (--workers beyond it share them). */
#define HTTP_MAX_LISTENERS     64
#define HTTP_CONNECTION_MEMORY (16 * 1024)

/* One listener's identity and counters: MHD's callback argument, so each
 * callback knows which listener (worker thread) it runs on. */
typedef struct {
    struct http_server *h;
    atomic_uint_fast64_t connections; /* accepted */
    atomic_uint_fast64_t requests;    /* completed */
    atomic_int open;                  /* connections open now (or being handed over) */
    int balanced;                     /* set before start: on_accept counts opens */
} listener;

struct http_server {
    struct MHD_Daemon *d[HTTP_MAX_LISTENERS];
    listener ls[HTTP_MAX_LISTENERS];
    acceptor *acc;                              /* HTTP_BALANCE_FEWEST: the one listening socket */
    MHD_socket quiesced_fd[HTTP_MAX_LISTENERS]; /* closed after MHD_stop_daemon */
    int n_d;
    int per_listener;     /* HTTP_BALANCE_FEWEST: the connections each listener may have open */
    http_handler handler; /* the application (http.h) */
    atomic_uint_fast64_t next_id; /* request ids */
    atomic_int in_flight;         /* requests begun and not completed */
    atomic_int deferred;          /* http_defer()ed requests whose finish has not run */
    atomic_int no_keepalive;      /* http_server_end_keepalive: answers close connections */
    uint32_t id_prefix;           /* distinguishes ids across restarts */
};

/* One request's state, MHD's *req_cls, from the first call to completion. */
typedef struct {
    http_server *h;
    listener *l;   /* the listener (thread) the connection belongs to */
    void *target;  /* the handler's admit() result; NULL when refused */
    void *counted; /* what the handler's done() gets */
    int refused;   /* admission refused: res holds the problem */
    int queued;    /* a response was queued */
    http_request req;
    http_response res;
    char *body;
    size_t body_len, body_cap, limit;
    char method[16];
    char *path;
    char request_id[48];
    char params[HTTP_MAX_PARAMS][160];
    double start;
    int began;      /* the access handler has seen the request */
    int fault;      /* http_uri_fault found in the raw request target */
    int closing;    /* answered on the socket itself; MHD closes it */
    int deferred;   /* 1: suspended by http_defer(), finish not yet run */
    int next_turn;  /* 1: http_answer_next_turn(), finish not yet run */
    int completing; /* http_on_completed runs: no more turns */
    http_finish_fn finish;
    void *finish_arg;
} conn_state;

/* What the raw request target (before MHD decodes it) shows. */
enum http_uri_fault { HTTP_URI_OK = 0, HTTP_URI_TOO_MANY_PARAMS, HTTP_URI_ENCODED_NUL };

/* Query parameters at most: each costs libmicrohttpd a record in the
 * connection's memory pool (HTTP_CONNECTION_MEMORY), and 0.9.75 loses its
 * own 431 when they overflow it (the client waits for the idle timeout).
 * mlpd's routes read at most three. */
#define HTTP_MAX_QUERY_PARAMS 64

/* MHD's access handler and completion callback (http.c); cls is the
 * listener the connection belongs to. */
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_size, void **req_cls);
/* MHD's URI log callback (http_strict.c): the request's state is created
 * here, before MHD parses the query, so the raw target can be checked. */
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *c);
/* Checks of the request head no route needs to know (http_strict.c):
 * framing a proxy could read differently (RFC 9112 §6), Host, duplicated
 * singleton fields, field syntax, expectations, content codings. 0 when the
 * request may go on; otherwise s->res holds the problem and its status is
 * returned (the connection is then closed after the answer). */
int http_check_request(conn_state *s, struct MHD_Connection *c, const char *version);
/* Answer s->res on the connection's socket itself and let MHD close it: for
 * refusals while a body is being read, when libmicrohttpd 0.9.75 no longer
 * accepts a queued response (http_strict.c). */
void http_answer_on_socket(conn_state *s, struct MHD_Connection *c);

void http_on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                       enum MHD_RequestTerminationCode toe);

#endif /* MLPD_HTTP_IMPL_H */
