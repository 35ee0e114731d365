/* bench_peer_fixed.c - the HTTP ceiling for `make bench`: a bare
 * libmicrohttpd server that reads and discards any request body and answers
 * every request with the same prebuilt JSON, shaped like one mlpd prediction.
 *
 *   bench_peer_fixed PORT_FILE [THREADS]
 *
 * Listens on 127.0.0.1, any free port, with the same MHD threading model as
 * `mlpd serve` (internal polling thread pool over epoll, THREADS threads,
 * default 2), so the difference to mlpd is everything mlpd does per request
 * beyond HTTP: JSON decoding, the model, encoding, logging, counters.
 * Writes the bound port to PORT_FILE (via a rename, so a reader never sees a
 * partial file) once listening; runs until SIGINT or SIGTERM.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One prediction of a 10-class softmax, as mlpd encodes it. */
static const char FIXED_REPLY[] =
    "{\"model\":1,\"predictions\":[{\"label\":3,\"probabilities\":["
    "0.0012,0.0034,0.0101,0.9021,0.0005,0.0432,0.0011,0.0203,0.0150,0.0031]}]}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls) {
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    struct MHD_Response *reply = cls;
    /* MHD calls this once when the headers are in, then once per body chunk,
     * then once with no data: only that last call may queue the reply. */
    if (*req_cls == NULL) {
        *req_cls = reply; /* any non-NULL mark: "headers seen" */
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* discard the body */
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, reply);
}

/* Write "port\n" to path via path.tmp + rename. Returns 0 or -1. */
static int write_port_file(const char *path, unsigned port) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int ok = fprintf(f, "%u\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT_FILE [THREADS]\n", argv[0]);
        return 2;
    }
    int threads = argc == 3 ? atoi(argv[2]) : 2;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "bench_peer_fixed: THREADS must be 1..64\n");
        return 2;
    }
    /* Block the stop signals before MHD starts its threads (they inherit the
     * mask), so only sigwait() below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct MHD_Response *reply = MHD_create_response_from_buffer(
        sizeof FIXED_REPLY - 1, (void *)FIXED_REPLY, MHD_RESPMEM_PERSISTENT);
    if (!reply || MHD_add_response_header(reply, "Content-Type", "application/json") != MHD_YES) {
        fprintf(stderr, "bench_peer_fixed: cannot build the reply\n");
        return 1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, reply,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(threads > 1 ? threads : 0), MHD_OPTION_CONNECTION_LIMIT, 1024u,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bench_peer_fixed: cannot start the HTTP daemon\n");
        MHD_destroy_response(reply);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || write_port_file(argv[1], info->port) != 0) {
        fprintf(stderr, "bench_peer_fixed: cannot write the port to %s\n", argv[1]);
        MHD_stop_daemon(d);
        MHD_destroy_response(reply);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(reply);
    return 0;
}
