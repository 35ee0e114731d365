/* acceptor.c - a listening socket served by one accept thread (acceptor.h). */
#include "clock.h"
#include "acceptor.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct acceptor {
    int fd;
    int port;
    pthread_t thread;
    int joined;
    atomic_int stopping;
    acceptor_fn on_accept;
    acceptor_room_fn has_room; /* may be NULL: always room */
    void *user;
};

static void *accept_main(void *arg) {
    acceptor *a = arg;
    pthread_setname_np(pthread_self(), "mlpd-accept");
    while (!atomic_load(&a->stopping)) {
        if (a->has_room && !a->has_room(a->user)) {
            sleep_ms(1); /* full: connections wait in the backlog */
            continue;
        }
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(a->fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        if (fd >= 0) {
            a->on_accept(a->user, fd, (struct sockaddr *)&peer, len);
            continue;
        }
        if (atomic_load(&a->stopping)) break;
        switch (errno) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO: continue; /* the client gave up before we took it */
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM: {
            /* Out of descriptors or memory: the connection waits in the
             * backlog; try again shortly rather than spin. */
            log_error("accept: %s; retrying in 10 ms", strerror(errno));
            sleep_ms(10);
            continue;
        }
        default:
            log_error("accept: %s; no longer accepting connections", strerror(errno));
            return NULL;
        }
    }
    return NULL;
}

mlpd_status acceptor_start(const struct sockaddr_in *addr, int backlog, acceptor_fn on_accept,
                           acceptor_room_fn has_room, void *user, acceptor **out, mlpd_error *err) {
    *out = NULL;
    acceptor *a = calloc(1, sizeof *a);
    if (!a) return mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    a->on_accept = on_accept;
    a->has_room = has_room;
    a->user = user;
    atomic_init(&a->stopping, 0);
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (a->fd < 0 || setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(a->fd, (const struct sockaddr *)addr, sizeof *addr) != 0 ||
        listen(a->fd, backlog) != 0 || getsockname(a->fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;
        if (a->fd >= 0) close(a->fd);
        free(a);
        return mlpd_fail(err, MLPD_EIO, "%s", strerror(e));
    }
    a->port = ntohs(bound.sin_port);
    /* Accepting needs little stack. */
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setstacksize(&ta, 128 * 1024);
    int rc = pthread_create(&a->thread, &ta, accept_main, a);
    pthread_attr_destroy(&ta);
    if (rc != 0) {
        close(a->fd);
        free(a);
        return mlpd_fail(err, MLPD_EINTERNAL, "cannot start the accept thread");
    }
    *out = a;
    return MLPD_OK;
}

int acceptor_port(const acceptor *a) {
    return a->port;
}

void acceptor_stop(acceptor *a) {
    if (!a || a->joined) return;
    atomic_store(&a->stopping, 1);
    /* shutdown() wakes a thread blocked in accept() (it returns EINVAL). */
    shutdown(a->fd, SHUT_RDWR);
    pthread_join(a->thread, NULL);
    a->joined = 1;
    close(a->fd);
    a->fd = -1;
}

void acceptor_free(acceptor *a) {
    if (!a) return;
    acceptor_stop(a);
    free(a);
}
