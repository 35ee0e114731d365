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
    http_handler handler;         /* the application (http.h) */
    atomic_uint_fast64_t next_id; /* request ids */
    atomic_int in_flight;         /* requests begun and not completed */
    atomic_int deferred;          /* http_defer()ed requests whose finish has not run */
    uint32_t id_prefix;           /* distinguishes ids across restarts */
};

static inline double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* MHD's access handler and completion callback (http.c); cls is the
 * listener the connection belongs to. */
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_size, void **req_cls);
void http_on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                       enum MHD_RequestTerminationCode toe);

#endif /* MLPD_HTTP_IMPL_H */
