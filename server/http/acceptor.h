/* acceptor.h - one listening socket and one thread that accepts on it,
 * handing each new connection to a callback.
 *
 * Why: with one listener per HTTP worker (SO_REUSEPORT) the kernel places a
 * connection by a hash of its addresses, so 16 keep-alive connections could
 * land 6 on one worker and 10 on the other for their whole life. With one
 * acceptor, http.c chooses the worker for every connection (the one with the
 * fewest open) and hands it over with MHD_add_connection().
 *
 * Contract: acceptor_start binds addr (SO_REUSEADDR, never SO_REUSEPORT: a
 * second daemon on a busy port fails) and listens; the thread calls
 * on_accept(user, fd, peer, peer_len) for each connection, which owns fd from
 * then on (closes it or passes it on). Before each accept the thread asks
 * has_room(user) (when given): while it answers 0 nothing is accepted and
 * new connections wait in the kernel's backlog (asked again every
 * millisecond), so a connection limit delays clients instead of resetting
 * them. acceptor_stop stops accepting and joins the thread: no callback runs
 * after it returns. Pending connections in the kernel's backlog are refused.
 */
#ifndef MLPD_ACCEPTOR_H
#define MLPD_ACCEPTOR_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "mlpd_error.h"

typedef struct acceptor acceptor;
typedef void (*acceptor_fn)(void *user, int fd, const struct sockaddr *peer, socklen_t peer_len);
typedef int (*acceptor_room_fn)(void *user);

/* Bind, listen and start the accept thread: *out. MLPD_EIO (the socket
 * cannot be bound: errno's words in err) or MLPD_EINTERNAL (no memory, no
 * thread); *out is then NULL. */
mlpd_status acceptor_start(const struct sockaddr_in *addr, int backlog, acceptor_fn on_accept,
                           acceptor_room_fn has_room, void *user, acceptor **out, mlpd_error *err);
/* The port actually bound (for port 0). */
int acceptor_port(const acceptor *a);
/* Stop accepting (the port is closed at once), join the thread. Idempotent. */
void acceptor_stop(acceptor *a);
/* acceptor_stop, then free (NULL is fine). */
void acceptor_free(acceptor *a);

#endif /* MLPD_ACCEPTOR_H */
