/* http_server.c - the HTTP server's life cycle: one libmicrohttpd daemon
 * (one thread, epoll) per worker, how connections reach them (http.h's
 * http_balance: the acceptor, SO_REUSEPORT or MHD's pool), per-listener
 * counters, quiescing, draining and stopping. Requests: http.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_impl.h"
#include "log.h"

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    (void)c, (void)socket_context;
    listener *l = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add_explicit(&l->connections, 1, memory_order_relaxed);
        if (!l->balanced) atomic_fetch_add_explicit(&l->open, 1, memory_order_relaxed);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub_explicit(&l->open, 1, memory_order_relaxed);
    }
}

/* The listener with the fewest open connections, the lowest index on ties. */
static int fewest_open(const http_server *h, int *open) {
    int best = 0;
    *open = atomic_load_explicit(&h->ls[0].open, memory_order_relaxed);
    for (int i = 1; i < h->n_d; i++) {
        int o = atomic_load_explicit(&h->ls[i].open, memory_order_relaxed);
        if (o < *open) best = i, *open = o;
    }
    return best;
}

/* The acceptor's has_room (HTTP_BALANCE_FEWEST): below --max-connections.
 *
 * The limit is ours to keep, never libmicrohttpd's: 0.9.75 (Debian 12's)
 * checks its connection limit twice for a connection added from another
 * thread, the second time in the worker's thread under a mutex that the
 * refusal path then never releases (daemon.c, new_connection_process_), so
 * one refusal there wedged the worker, and SIGTERM with it. Not accepting
 * while full also keeps the documented behaviour: clients wait in the
 * kernel's backlog instead of being reset. */
static int has_room(void *user) {
    http_server *h = user;
    int open;
    fewest_open(h, &open);
    return open < h->per_listener;
}

/* The acceptor's callback (HTTP_BALANCE_FEWEST): the new connection goes to
 * the listener with the fewest open connections. Only this thread adds
 * connections, so after has_room there is room; MHD_add_connection closes fd
 * itself when it refuses (out of memory). */
static void on_accept(void *user, int fd, const struct sockaddr *peer, socklen_t peer_len) {
    http_server *h = user;
    int open, best = fewest_open(h, &open);
    /* Counted here, not at MHD's STARTED notification: that comes later from
     * the worker's thread, and a burst of connections would all pick the same
     * listener meanwhile. The CLOSED notification takes it off again. */
    atomic_fetch_add_explicit(&h->ls[best].open, 1, memory_order_relaxed);
    if (MHD_add_connection(h->d[best], fd, peer, peer_len) != MHD_YES) {
        log_error("connection refused by worker %d (out of memory or descriptors)", best);
        atomic_fetch_sub_explicit(&h->ls[best].open, 1, memory_order_relaxed);
    }
}

/* libmicrohttpd's messages carry no level. Most are about one client's
 * request or connection (a head too big, a bad length, a client that left,
 * a timeout): info, as the client's fault. The few about the server itself
 * (sockets, threads, epoll, system limits) stay errors. */
static int mhd_message_is_server_fault(const char *msg) {
    static const char *const server[] = {
        "epoll",  "thread",     "Failed to create", "Failed to bind", "Failed to listen",
        "limit", /* process, system or connection limit reached */
        "accept", "setsockopt", "signal",           "inter-thread",   "itc",
    };
    if (strstr(msg, "memory in pool")) return 0; /* one request's head */
    for (size_t i = 0; i < sizeof server / sizeof server[0]; i++)
        if (strstr(msg, server[i])) return 1;
    return 0;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    if (mhd_message_is_server_fault(msg))
        log_error("libmicrohttpd: %s", msg);
    else
        log_info("libmicrohttpd: %s", msg);
}

/* ---- the server ----------------------------------------------------------------------- */
int http_balance_parse(const char *s) {
    static const char *const names[] = {"fewest", "reuseport", "pool"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) return i;
    return -1;
}

/* Whether addr:port is free right now: a plain bind (no SO_REUSEPORT) fails
 * while anyone listens there, also a daemon whose sockets share the port. */
static int port_is_free(const struct sockaddr_in *sa) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int ok = bind(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
    close(fd);
    return ok;
}

static struct MHD_Daemon *start_listener(listener *l, const http_options *o, struct sockaddr_in *sa,
                                         int reuse, unsigned pool, unsigned limit, int no_listen) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (no_listen ? MHD_USE_NO_LISTEN_SOCKET : 0);
    /* Only the options this listener uses: MHD warns about some it ignores
     * (a thread pool of 0), and those lines read like faults in the log. */
    struct MHD_OptionItem opt[16];
    int n = 0;
#define OPT(o, v, p) (opt[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (void *)(p)})
    OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL); /* first, so it sees every message */
    if (!no_listen) OPT(MHD_OPTION_SOCK_ADDR, 0, sa);
    if (!no_listen && reuse) OPT(MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL);
    if (pool > 1) OPT(MHD_OPTION_THREAD_POOL_SIZE, pool, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, limit, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_seconds, NULL);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, l);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, l);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, l);
    /* MHD zeroes a connection's whole memory pool between keep-alive
     * requests; 16 KiB holds the headers and a read buffer (bodies stream
     * through it) at half the default's cost. */
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONNECTION_MEMORY, NULL);
#if MHD_VERSION >= 0x00097701
    /* Refuse bare LF line ends and obs-fold (docs/security.md); 0.9.75,
     * Debian 12's, has no such option and accepts both. */
    OPT(MHD_OPTION_CLIENT_DISCIPLINE_LVL, 1, NULL);
#endif
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    return MHD_start_daemon(flags, ntohs(sa->sin_port), NULL, NULL, http_on_request, l,
                            MHD_OPTION_ARRAY, opt, MHD_OPTION_END);
}

static int listener_port(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}

mlpd_status http_server_start(const http_options *o, const http_handler *handler, http_server **out,
                              mlpd_error *err) {
    *out = NULL;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->bind, &sa.sin_addr) != 1)
        return mlpd_fail(err, MLPD_EINVAL, "--bind: '%s' is not an IPv4 address", o->bind);
    http_server *h = calloc(1, sizeof *h);
    if (!h) return mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    h->handler = *handler;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->id_prefix = (uint32_t)(ts.tv_sec ^ (ts.tv_nsec << 8) ^ getpid());
    /* One MHD daemon (one thread, epoll) per worker. How connections reach
     * them (http.h): by default one acceptor thread hands each connection to
     * the worker with the fewest open ones; with "reuseport" each worker
     * listens on the port itself (SO_REUSEPORT) and the kernel places
     * connections by address hash (16 connections were seen split 6/10);
     * with "pool" one listener uses MHD's own thread pool, whose threads
     * accept bursts of up to ten connections each, so keep-alive load piled
     * onto one thread. The port is checked free first, so a second daemon on
     * a busy port fails instead of sharing it. */
    int n = o->workers < 1 ? 1 : o->workers > HTTP_MAX_LISTENERS ? HTTP_MAX_LISTENERS : o->workers;
    unsigned pool = 0;
    int balanced = o->balance == HTTP_BALANCE_FEWEST && n > 1;
    if (o->balance == HTTP_BALANCE_POOL && n > 1) {
        pool = (unsigned)n;
        n = 1;
    }
    int ok = o->port == 0 || balanced || port_is_free(&sa);
    unsigned limit = (unsigned)((o->max_connections + n - 1) / n);
    h->per_listener = (int)limit;
    /* Balanced, has_room keeps the limit and MHD's own must never be hit
     * (see has_room): MHD also counts connections it has closed and not yet
     * cleaned up (at most one turn of its loop's worth), hence twice ours. */
    unsigned mhd_limit = balanced ? 2 * limit + 1 : limit;
    for (int i = 0; ok && i < n; i++) {
        h->ls[i].h = h;
        h->ls[i].balanced = balanced;
        h->d[i] = start_listener(&h->ls[i], o, &sa, n > 1, pool, mhd_limit, balanced);
        if (!h->d[i]) break;
        h->quiesced_fd[i] = MHD_INVALID_SOCKET;
        h->n_d = i + 1;
        if (i == 0 && !balanced)
            sa.sin_port = htons((uint16_t)listener_port(h->d[0])); /* --port 0 */
    }
    mlpd_error ae = {.msg = "address in use or not permitted"};
    if (ok && h->n_d == n && balanced &&
        acceptor_start(&sa, SOMAXCONN, on_accept, has_room, h, &h->acc, &ae) != MLPD_OK)
        ok = 0;
    if (!ok || h->n_d < n) {
        for (int i = 0; i < h->n_d; i++) MHD_stop_daemon(h->d[i]);
        free(h);
        return mlpd_fail(err, MLPD_EIO, "cannot listen on %s:%d (%s)", o->bind, o->port, ae.msg);
    }
    *out = h;
    return MLPD_OK;
}

int http_server_port(http_server *h) {
    return h->acc ? acceptor_port(h->acc) : listener_port(h->d[0]);
}

int http_server_listeners(http_server *h) {
    return h ? h->n_d : 0;
}

void http_server_listener_stats(http_server *h, int i, uint64_t *connections, uint64_t *requests) {
    *connections = atomic_load_explicit(&h->ls[i].connections, memory_order_relaxed);
    *requests = atomic_load_explicit(&h->ls[i].requests, memory_order_relaxed);
}

void http_server_end_keepalive(http_server *h) {
    if (h) atomic_store(&h->no_keepalive, 1);
}

void http_server_quiesce(http_server *h) {
    if (!h) return;
    if (h->acc) {
        acceptor_stop(h->acc); /* the workers have no listening sockets of their own */
        return;
    }
    for (int i = 0; i < h->n_d; i++)
        if (h->quiesced_fd[i] == MHD_INVALID_SOCKET)
            h->quiesced_fd[i] = MHD_quiesce_daemon(h->d[i]);
}

int http_server_drain(http_server *h, double timeout_seconds) {
    double t0 = mono_seconds();
    int n;
    while ((n = atomic_load(&h->in_flight)) > 0 && mono_seconds() - t0 < timeout_seconds)
        sleep_ms(20);
    return n;
}

void http_server_stop(http_server *h) {
    if (!h) return;
    /* MHD must not be stopped with a suspended connection, and a deferred
     * request's work (a prediction batch: milliseconds) always resumes it:
     * wait for those, however long the drain was. */
    double t0 = mono_seconds();
    while (atomic_load(&h->deferred) > 0 && mono_seconds() - t0 < 30.0) sleep_ms(1);
    acceptor_free(h->acc); /* no connection is handed to a stopped worker */
    for (int i = 0; i < h->n_d; i++) {
        MHD_stop_daemon(h->d[i]);
        if (h->quiesced_fd[i] != MHD_INVALID_SOCKET) close(h->quiesced_fd[i]);
    }
    free(h);
}
