/* store_pg_listen.c - events between the daemons of one PostgreSQL database
 * (store_listen in store.h): a thread with a connection of its own LISTENs on
 * the channels the store NOTIFYs and calls the daemon's function.
 *
 *   mlpd_jobs    a run was queued (created or rescued): trainers claim now
 *   mlpd_cancel  payload: a run id whose cancel was requested
 *   mlpd_models  models, versions, aliases or canaries changed
 *
 * NOTIFY is delivered at commit and only to connected listeners: while the
 * connection is down events are missed, so after every (re)connection the
 * thread reports mlpd_jobs and mlpd_models once, which makes the daemon look
 * at the queue and reload what it caches. The thread wakes at least every
 * LISTEN_POLL_MS to notice store_close. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_pg_impl.h"

#define LISTEN_POLL_MS     250
#define LISTEN_RETRY_POLLS 4 /* a lost connection is tried again every second */

static PGconn *listen_connect(pg_store *s) {
    PGconn *c = pgs_connect(s->conninfo);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, "LISTEN mlpd_jobs; LISTEN mlpd_cancel; LISTEN mlpd_models");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok) return c;
    }
    PQfinish(c);
    return NULL;
}

static void deliver(pg_store *s, const PGnotify *n) {
    if (!strcmp(n->relname, "mlpd_jobs"))
        s->listen_fn(s->listen_user, STORE_EVENT_JOBS, 0);
    else if (!strcmp(n->relname, "mlpd_cancel"))
        s->listen_fn(s->listen_user, STORE_EVENT_CANCEL, strtoll(n->extra, NULL, 10));
    else if (!strcmp(n->relname, "mlpd_models"))
        s->listen_fn(s->listen_user, STORE_EVENT_MODELS, 0);
}

static void *listen_main(void *arg) {
    pg_store *s = arg;
    PGconn *c = NULL;
    int wait = 0;
    while (!atomic_load(&s->listen_stop)) {
        if (!c) {
            if (wait-- > 0) {
                poll(NULL, 0, LISTEN_POLL_MS);
                continue;
            }
            c = listen_connect(s);
            if (!c) {
                wait = LISTEN_RETRY_POLLS;
                continue;
            }
            s->listen_fn(s->listen_user, STORE_EVENT_JOBS, 0);
            s->listen_fn(s->listen_user, STORE_EVENT_MODELS, 0);
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int ready = poll(&pfd, 1, LISTEN_POLL_MS);
        if (ready < 0 && errno != EINTR) break;
        if (ready > 0 && !PQconsumeInput(c)) { /* the server went away */
            PQfinish(c);
            c = NULL;
            continue;
        }
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
            deliver(s, n);
            PQfreemem(n);
        }
    }
    PQfinish(c);
    return NULL;
}

int pgs_listen(store *base, store_event_fn fn, void *user, mlpd_error *err) {
    pg_store *s = pgs_of(base);
    if (s->listening) return mlpd_fail(err, MLPD_EINTERNAL, "store_listen called twice");
    s->listen_fn = fn;
    s->listen_user = user;
    atomic_init(&s->listen_stop, 0);
    if (pthread_create(&s->listen_thread, NULL, listen_main, s) != 0)
        return mlpd_fail(err, MLPD_EINTERNAL, "cannot start the listener thread");
    pthread_setname_np(s->listen_thread, "mlpd-listen");
    s->listening = 1;
    return MLPD_OK;
}

void pgs_listen_stop(pg_store *s) {
    if (!s->listening) return;
    atomic_store(&s->listen_stop, 1);
    pthread_join(s->listen_thread, NULL);
    s->listening = 0;
}

void pgs_listen_stop_op(store *base) {
    pgs_listen_stop(pgs_of(base));
}

void pgs_notify(pg_store *s, const char *channel) {
    char sql[64];
    snprintf(sql, sizeof sql, "NOTIFY %s", channel);
    PQclear(pgs_exec(s, sql, NULL, 0, "notify", NULL));
}
