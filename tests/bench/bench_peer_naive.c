/* bench_peer_naive.c - the "naive C" peer for `make bench`: what a plain
 * libmicrohttpd + cJSON + cblas_sgemv prediction server does, and no more.
 *
 *   bench_peer_naive MODEL_FILE PORT_FILE [THREADS]
 *
 * Loads an mlpd model file (docs/model-format.md) with the engine's reader,
 * then answers POST (any path) whose body is {"input": [n numbers]} with
 * {"model":1,"predictions":[{"label":L,"probabilities":[...]}]}, like mlpd's
 * POST /predict for one vector. Per request it collects the body, parses it
 * with cJSON, runs one cblas_sgemv per layer (a single vector needs no
 * matrix product), applies relu / softmax and prints the reply with cJSON.
 * No route table, no logging, no metrics, no model cache: the gap between
 * this and mlpd is what mlpd's extra machinery costs. Malformed requests get
 * 400 / 413 / 422 with an empty body.
 *
 * Same threading model as `mlpd serve` (MHD thread pool over epoll, THREADS
 * threads, default 2); OpenBLAS threads are left to the environment, as for
 * mlpd. Writes the bound port to PORT_FILE once listening; runs until SIGINT
 * or SIGTERM.
 */
#include <arpa/inet.h>
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

#define MAX_BODY (1u << 20)

/* The body collected so far for one request (MHD's per-request pointer). */
typedef struct {
    char *buf;
    size_t len, cap;
    int too_big;
} body_buf;

static int body_append(body_buf *b, const char *data, size_t n) {
    if (b->too_big || b->len + n > MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) return -1;
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

/* Probabilities (softmax output) or raw outputs of the model for x; out holds
 * the output width. Returns 0, or -1 when out of memory. */
static int forward(const mlp_model *m, const float *x, float *out) {
    const mlp_arch *a = &m->arch;
    int widest = 1;
    for (int l = 1; l <= a->n_layers; l++) widest = a->sizes[l] > widest ? a->sizes[l] : widest;
    float *h = malloc(2 * (size_t)widest * sizeof *h);
    if (!h) return -1;
    const float *in = x;
    for (int l = 0; l < a->n_layers; l++) {
        int n_in = a->sizes[l], n_out = a->sizes[l + 1];
        float *y = l == a->n_layers - 1 ? out : h + (size_t)(l % 2) * (size_t)widest;
        /* y (n_out) = W (n_out, n_in) x (n_in) + b (n_out) */
        memcpy(y, m->b[l], (size_t)n_out * sizeof *y);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n_out, n_in, 1.0f, m->W[l], n_in, in, 1, 1.0f, y,
                    1);
        if (a->act[l] == MLP_ACT_RELU) {
            for (int o = 0; o < n_out; o++) y[o] = y[o] > 0 ? y[o] : 0;
        } else if (a->act[l] == MLP_ACT_SOFTMAX) {
            float mx = y[0], sum = 0;
            for (int o = 1; o < n_out; o++) mx = y[o] > mx ? y[o] : mx;
            for (int o = 0; o < n_out; o++) sum += (y[o] = expf(y[o] - mx));
            for (int o = 0; o < n_out; o++) y[o] /= sum;
        } else if (a->act[l] == MLP_ACT_SIGMOID) {
            for (int o = 0; o < n_out; o++) y[o] = 1.0f / (1.0f + expf(-y[o]));
        } else if (a->act[l] == MLP_ACT_TANH) {
            for (int o = 0; o < n_out; o++) y[o] = tanhf(y[o]);
        }
        in = y;
    }
    free(h);
    return 0;
}

static enum MHD_Result reply_status(struct MHD_Connection *conn, unsigned status) {
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Decode {"input": [...]}, predict, encode. Returns the malloc'ed reply or
 * NULL with *status set. */
static char *predict_json(const mlp_model *m, const char *body, size_t len, unsigned *status) {
    int n_in = m->arch.sizes[0], n_out = m->arch.sizes[m->arch.n_layers];
    cJSON *req = cJSON_ParseWithLength(body, len);
    if (!req) {
        *status = MHD_HTTP_BAD_REQUEST;
        return NULL;
    }
    char *text = NULL;
    float *x = malloc((size_t)n_in * sizeof *x), *p = malloc((size_t)n_out * sizeof *p);
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(req, "input");
    *status = MHD_HTTP_UNPROCESSABLE_CONTENT;
    if (!x || !p || !cJSON_IsArray(input) || cJSON_GetArraySize(input) != n_in) goto out;
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, input) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) goto out;
        x[i++] = (float)v->valuedouble;
    }
    *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (forward(m, x, p) != 0) goto out;
    int label = 0;
    for (int o = 1; o < n_out; o++) label = p[o] > p[label] ? o : label;
    /* cJSON's Add* helpers accept NULL parents, so one check at the end
     * (the printed text) covers every allocation on the way. */
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "model", 1);
    cJSON *one = cJSON_CreateObject();
    if (!cJSON_AddItemToArray(cJSON_AddArrayToObject(res, "predictions"), one)) cJSON_Delete(one);
    cJSON_AddNumberToObject(one, "label", label);
    cJSON *probs = cJSON_AddArrayToObject(one, "probabilities");
    for (int o = 0; o < n_out; o++) cJSON_AddItemToArray(probs, cJSON_CreateNumber(p[o]));
    text = res ? cJSON_PrintUnformatted(res) : NULL;
    cJSON_Delete(res);
    if (text) *status = MHD_HTTP_OK;
out:
    free(x);
    free(p);
    cJSON_Delete(req);
    return text;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls) {
    (void)url;
    (void)version;
    const mlp_model *m = cls;
    if (*req_cls == NULL) { /* headers are in; the body (if any) follows */
        body_buf *b = calloc(1, sizeof *b);
        if (!b) return MHD_NO;
        *req_cls = b;
        return MHD_YES;
    }
    body_buf *b = *req_cls;
    if (*upload_size) {
        if (body_append(b, upload_data, *upload_size) != 0) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0) return reply_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED);
    if (b->too_big) return reply_status(conn, MHD_HTTP_CONTENT_TOO_LARGE);
    unsigned status = 0;
    char *text = predict_json(m, b->buf ? b->buf : "", b->len, &status);
    if (!text) return reply_status(conn, status);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)cls;
    (void)conn;
    (void)why;
    body_buf *b = *req_cls;
    if (b) free(b->buf);
    free(b);
    *req_cls = NULL;
}

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
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL_FILE PORT_FILE [THREADS]\n", argv[0]);
        return 2;
    }
    int threads = argc == 4 ? atoi(argv[3]) : 2;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "bench_peer_naive: THREADS must be 1..64\n");
        return 2;
    }
    mlp_model *m = NULL;
    mlp_error err = {{0}};
    if (mlp_model_load(argv[1], &m, &err) != MLP_OK) {
        fprintf(stderr, "bench_peer_naive: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    /* Stop signals are taken by sigwait() below only: block them before MHD's
     * threads start, which inherit the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request,
                         m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
                         MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || write_port_file(argv[2], info->port) != 0) {
        fprintf(stderr, "bench_peer_naive: cannot start listening (or write %s)\n", argv[2]);
        if (d) MHD_stop_daemon(d);
        mlp_model_free(m);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    mlp_model_free(m);
    return 0;
}
