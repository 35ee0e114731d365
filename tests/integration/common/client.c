/* client.c - the test's side of the harness (see daemon.h): HTTP requests
 * with libcurl, job helpers on top of them, files and raw sockets. */
#include "daemon.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "contract_log.h"
#include "mlp.h"

/* ---- HTTP ------------------------------------------------------------------------- */
size_t http_sink_write(char *data, size_t size, size_t n, void *user) {
    http_sink *g = user;
    size_t add = size * n;
    if (g->len + add + 1 > g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4096;
        while (cap < g->len + add + 1) cap *= 2;
        char *nb = realloc(g->buf, cap);
        if (!nb) return 0;
        g->buf = nb;
        g->cap = cap;
    }
    memcpy(g->buf + g->len, data, add);
    g->len += add;
    g->buf[g->len] = '\0';
    return add;
}

int http_do_lines(const mlpd_daemon *d, const char *method, const char *path, const void *body,
                  size_t len, const char *const *header_lines, long timeout_s, http_result *r) {
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", d->port, path);
    http_sink b = {0}, h = {0};
    struct curl_slist *hdrs = NULL;
    for (int i = 0; header_lines && header_lines[i]; i++)
        hdrs = curl_slist_append(hdrs, header_lines[i]);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* send bodies at once */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_sink_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        char *type = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        if (type) snprintf(r->content_type, sizeof r->content_type, "%s", type);
    }
    r->body = b.buf ? b.buf : calloc(1, 1);
    r->len = b.len;
    r->headers = h.buf ? h.buf : calloc(1, 1);
    contract_log_exchange(method, path, r->status, r->headers, r->body, r->len);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK && rc != CURLE_OPERATION_TIMEDOUT) {
        fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(rc));
        return -1;
    }
    return rc == CURLE_OK ? 0 : -1;
}

int http_do(const mlpd_daemon *d, const char *method, const char *path, const char *content_type,
            const void *body, size_t len, const char *extra_header, long timeout_s,
            http_result *r) {
    char ct[160];
    const char *lines[3] = {NULL, NULL, NULL};
    int n = 0;
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        lines[n++] = ct;
    }
    if (extra_header) lines[n++] = extra_header;
    return http_do_lines(d, method, path, body, len, lines, timeout_s, r);
}

int http_get(const mlpd_daemon *d, const char *path, http_result *r) {
    return http_do(d, "GET", path, NULL, NULL, 0, NULL, 0, r);
}

int http_post_json(const mlpd_daemon *d, const char *path, const char *json, http_result *r) {
    return http_do(d, "POST", path, "application/json", json, strlen(json), NULL, 0, r);
}

void http_result_free(http_result *r) {
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

int http_result_header(const http_result *r, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && line[n] == ':' && !strncasecmp(line, name, n)) {
            const char *v = line + n + 1;
            while (*v == ' ') v++;
            size_t vl = len - (size_t)(v - line);
            if (vl >= cap) vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        line += len + (eol ? 2 : 0);
    }
    return -1;
}

cJSON *http_result_json(const http_result *r) {
    return r->body ? cJSON_Parse(r->body) : NULL;
}

/* ---- helpers ------------------------------------------------------------------------------ */
double json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t train_job(const mlpd_daemon *d, const char *json) {
    http_result r;
    if (http_post_json(d, "/train", json, &r) != 0 || r.status != 202) {
        fprintf(stderr, "POST /train %s -> %ld %s\n", json, r.status, r.body ? r.body : "");
        http_result_free(&r);
        return -1;
    }
    cJSON *j = http_result_json(&r);
    double id = json_num(j, "id");
    cJSON_Delete(j);
    http_result_free(&r);
    return isfinite(id) ? (int64_t)id : -1;
}

static cJSON *get_job(const mlpd_daemon *d, int64_t id) {
    char path[64];
    snprintf(path, sizeof path, "/jobs/%lld", (long long)id);
    http_result r;
    cJSON *j = NULL;
    if (http_get(d, path, &r) == 0 && r.status == 200) j = http_result_json(&r);
    http_result_free(&r);
    return j;
}

cJSON *wait_job(const mlpd_daemon *d, int64_t id, double timeout_s) {
    double t0 = now_seconds();
    cJSON *j = NULL;
    while (now_seconds() - t0 < timeout_s) {
        cJSON_Delete(j);
        j = get_job(d, id);
        const char *st = j ? json_str(j, "status") : NULL;
        if (st && (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled")))
            return j;
        sleep_millis(50);
    }
    fprintf(stderr, "job %lld did not end within %.0f s\n", (long long)id, timeout_s);
    return j;
}

int64_t train_model(const mlpd_daemon *d, const char *json, double timeout_s, int64_t *job_id) {
    int64_t id = train_job(d, json);
    if (job_id) *job_id = id;
    cJSON *j = id > 0 ? wait_job(d, id, timeout_s) : NULL;
    const char *st = j ? json_str(j, "status") : NULL;
    double model = json_num(j, "model_id");
    int64_t out = st && !strcmp(st, "succeeded") && model > 0 ? (int64_t)model : -1;
    if (j && out < 0) fprintf(stderr, "job %lld ended %s\n", (long long)id, st ? st : "(unknown)");
    cJSON_Delete(j);
    return out;
}

long cancel_job(const mlpd_daemon *d, int64_t id) {
    char path[64];
    snprintf(path, sizeof path, "/jobs/%lld/cancel", (long long)id);
    http_result r;
    long status = http_do(d, "POST", path, NULL, NULL, 0, NULL, 0, &r) == 0 ? r.status : -1;
    http_result_free(&r);
    return status;
}

int wait_job_progress(const mlpd_daemon *d, int64_t id, int min_metrics, double timeout_s) {
    double t0 = now_seconds();
    char path[96];
    snprintf(path, sizeof path, "/jobs/%lld/metrics", (long long)id);
    while (now_seconds() - t0 < timeout_s) {
        cJSON *j = get_job(d, id);
        const char *st = j ? json_str(j, "status") : NULL;
        int running = st && !strcmp(st, "running");
        cJSON_Delete(j);
        if (running) {
            http_result r;
            int n = 0;
            if (http_get(d, path, &r) == 0 && r.status == 200) {
                cJSON *m = http_result_json(&r);
                n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "metrics"));
                cJSON_Delete(m);
            }
            http_result_free(&r);
            if (n >= min_metrics) return 0;
        }
        sleep_millis(30);
    }
    fprintf(stderr, "job %lld did not make progress within %.0f s\n", (long long)id, timeout_s);
    return -1;
}

/* ---- files and sockets ---------------------------------------------------------------- */
unsigned char *repo_file_bytes(const mlpd_daemon *d, const char *rel, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", d->repo, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) &&
        fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *len = (size_t)size;
    return buf;
}

unsigned char *gzip_bytes(const void *in, size_t len, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END) {
        free(out);
        out = NULL;
    } else {
        *out_len = z.total_out;
    }
    deflateEnd(&z);
    return out;
}

unsigned char *model_file_bytes(const int *hidden, int n_hidden, uint64_t seed, size_t *len) {
    mlp_arch a;
    mlp_model *m = NULL;
    unsigned char *buf = NULL;
    if (mlp_arch_make(&a, 784, hidden, n_hidden, MLP_ACT_RELU, 10, MLP_LOSS_CROSS_ENTROPY, -1,
                      NULL) != MLP_OK ||
        mlp_model_create(&a, MLP_INIT_HE_NORMAL, seed, &m, NULL) != MLP_OK ||
        mlp_model_to_buffer(m, &buf, len, NULL) != MLP_OK) {
        fprintf(stderr, "cannot make a model file\n");
        buf = NULL;
    }
    mlp_model_free(m);
    return buf;
}

int64_t upload_model_file(const mlpd_daemon *d, const char *name, const int *hidden, int n_hidden,
                          uint64_t seed) {
    size_t len;
    unsigned char *bytes = model_file_bytes(hidden, n_hidden, seed, &len);
    if (!bytes) return -1;
    char path[160] = "/models";
    if (name) snprintf(path, sizeof path, "/models?name=%s", name);
    http_result r;
    int rc = http_do(d, "POST", path, "application/octet-stream", bytes, len, NULL, 0, &r);
    free(bytes);
    cJSON *m = rc == 0 && r.status == 201 ? http_result_json(&r) : NULL;
    int64_t id = m ? (int64_t)json_num(m, "id") : -1;
    cJSON_Delete(m);
    http_result_free(&r);
    return id;
}

static int count_upload_temps(const char *dir, int depth) {
    DIR *dd = opendir(dir);
    if (!dd) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        char path[1024];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!strncmp(e->d_name, ".upload-", 8))
            n++;
        else if (depth == 0 && e->d_name[0] != '.' && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            n += count_upload_temps(path, 1);
    }
    closedir(dd);
    return n;
}

int upload_temporaries(const char *data_dir) {
    return count_upload_temps(data_dir, 0);
}

int write_text_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int remove_tree(const char *dir) {
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int raw_connect(const mlpd_daemon *d) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int raw_exchange(const mlpd_daemon *d, const void *request, size_t len, double timeout_s,
                 raw_reply *out) {
    memset(out, 0, sizeof *out);
    int fd = raw_connect(d);
    if (fd < 0) return -1;
    double t0 = now_seconds();
    /* The server may answer and close before it read everything: not an error. */
    for (size_t sent = 0; sent < len;) {
        ssize_t n = send(fd, (const char *)request + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    enum { CAP = 65536 };
    char *buf = malloc(CAP);
    if (!buf) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (now_seconds() - t0 < timeout_s) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(fd, buf + got, CAP - 1 - got, 0);
        if (n <= 0) {
            out->closed = 1;
            break;
        }
        got += (size_t)n;
        if (got == CAP - 1) got = CAP / 2; /* keep the head; read on to see the close */
    }
    out->seconds = now_seconds() - t0;
    close(fd);
    buf[got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 ", 9) == 0) out->status = atoi(buf + 9);
    size_t hlen = end ? (size_t)(end - buf) : strlen(buf);
    snprintf(out->head, sizeof out->head, "%.*s", (int)hlen, buf);
    if (end) snprintf(out->body, sizeof out->body, "%s", end + 4);
    const char *ct = strcasestr(out->head, "\r\nContent-Type:");
    if (ct) {
        ct += 15;
        while (*ct == ' ') ct++;
        snprintf(out->content_type, sizeof out->content_type, "%.*s", (int)strcspn(ct, "\r"), ct);
    }
    free(buf);
    return 0;
}

int load_test_digits(const mlpd_daemon *d, int n, float **x, int *labels) {
    char path[400];
    snprintf(path, sizeof path, "%s/data/mnist-digits/t10k-images-idx3-ubyte", d->repo);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char head[16];
    *x = malloc((size_t)n * 784 * sizeof **x);
    unsigned char *px = malloc((size_t)n * 784);
    int ok = *x && px && fread(head, 1, 16, f) == 16 &&
             fread(px, 1, (size_t)n * 784, f) == (size_t)n * 784;
    fclose(f);
    for (size_t i = 0; ok && i < (size_t)n * 784; i++) (*x)[i] = px[i] / 255.0f;
    free(px);
    if (ok && labels) {
        snprintf(path, sizeof path, "%s/data/mnist-digits/t10k-labels-idx1-ubyte", d->repo);
        f = fopen(path, "rb");
        unsigned char lh[8], lb[4096];
        ok = f && n <= 4096 && fread(lh, 1, 8, f) == 8 && fread(lb, 1, (size_t)n, f) == (size_t)n;
        if (f) fclose(f);
        for (int i = 0; ok && i < n; i++) labels[i] = lb[i];
    }
    if (!ok) {
        free(*x);
        *x = NULL;
    }
    return ok ? 0 : -1;
}

char *digits_csv(const mlpd_daemon *d, int n, size_t *len) {
    float *x = NULL;
    int *labels = malloc((size_t)n * sizeof *labels);
    char *s = malloc((size_t)n * 784 * 9 + 64); /* "%.3g" of [0,1] is at most 5 chars + ',' */
    if (!labels || !s || load_test_digits(d, n, &x, labels) != 0) {
        free(labels);
        free(s);
        return NULL;
    }
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        k += (size_t)sprintf(s + k, "%d", labels[i]);
        for (int f = 0; f < 784; f++) k += (size_t)sprintf(s + k, ",%.3g", (double)x[i * 784 + f]);
        s[k++] = '\n';
    }
    s[k] = '\0';
    free(x);
    free(labels);
    *len = k;
    return s;
}

char *predict_body(int64_t model, const float *x, int rows, int width, int batch_form) {
    size_t cap = (size_t)rows * (size_t)width * 16 + 64, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    len += (size_t)sprintf(s, "{");
    if (model) len += (size_t)sprintf(s + len, "\"model\":%lld,", (long long)model);
    len += (size_t)sprintf(s + len, batch_form ? "\"inputs\":[" : "\"input\":");
    for (int i = 0; i < rows; i++) {
        s[len++] = '[';
        for (int k = 0; k < width; k++)
            len +=
                (size_t)sprintf(s + len, "%s%.6g", k ? "," : "", (double)x[(size_t)i * width + k]);
        s[len++] = ']';
        if (batch_form && i + 1 < rows) s[len++] = ',';
    }
    if (batch_form) s[len++] = ']';
    s[len++] = '}';
    s[len] = '\0';
    return s;
}
