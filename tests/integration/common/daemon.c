/* daemon.c - start/stop a real mlpd daemon and talk HTTP to it (see daemon.h). */
#include "daemon.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms) {
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static const char *mlpd_bin(void) {
    const char *b = getenv("MLPD_BIN");
    return b && *b ? b : "build/mlpd";
}

/* The repository root: the working directory if it has migrations/, else
 * the nearest parent of the binary that has. */
static int find_repo(char *out, size_t cap) {
    struct stat sb;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) && stat("migrations", &sb) == 0 && strlen(cwd) < cap) {
        snprintf(out, cap, "%s", cwd);
        return 0;
    }
    char bin[PATH_MAX];
    if (!realpath(mlpd_bin(), bin)) return -1;
    for (char *slash; (slash = strrchr(bin, '/')) && slash != bin;) {
        *slash = '\0';
        char probe[PATH_MAX + 16];
        snprintf(probe, sizeof probe, "%s/migrations", bin);
        if (stat(probe, &sb) == 0 && strlen(bin) < cap) {
            snprintf(out, cap, "%s", bin);
            return 0;
        }
    }
    return -1;
}

static int read_port(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int port = -1;
    if (fscanf(f, "%d", &port) != 1) port = -1;
    fclose(f);
    return port;
}

/* fork/exec the daemon in d->dir and wait until /readyz answers 200. */
static int launch(mlpd_daemon *d) {
    char port_file[340];
    snprintf(port_file, sizeof port_file, "%s/port", d->dir);
    unlink(port_file);
    char migrations[300], web[300], api[300];
    snprintf(migrations, sizeof migrations, "%s/migrations", d->repo);
    snprintf(web, sizeof web, "%s/web", d->repo);
    snprintf(api, sizeof api, "%s/api", d->repo);
    const char *argv[40];
    int n = 0;
    argv[n++] = mlpd_bin();
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    argv[n++] = "--db";
    argv[n++] = d->db;
    argv[n++] = "--data-dir";
    argv[n++] = d->data_dir;
    argv[n++] = "--migrations";
    argv[n++] = migrations;
    argv[n++] = "--web-dir";
    argv[n++] = web;
    argv[n++] = "--api-dir";
    argv[n++] = api;
    for (int i = 0; i < d->n_extra; i++) argv[n++] = d->extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    d->pid = pid;
    double t0 = now_seconds();
    while (now_seconds() - t0 < 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "daemon exited during start-up (status %d)\n", status);
            d->pid = 0;
            daemon_dump_log(d);
            return -1;
        }
        if (d->port <= 0 || access(port_file, R_OK) == 0) d->port = read_port(port_file);
        if (d->port > 0 && access(port_file, R_OK) == 0) {
            http_result r;
            if (http_do(d, "GET", "/readyz", NULL, NULL, 0, NULL, 2, &r) == 0 && r.status == 200) {
                http_result_free(&r);
                return 0;
            }
            http_result_free(&r);
        }
        sleep_ms(20);
    }
    fprintf(stderr, "daemon did not become ready within 20 s\n");
    daemon_dump_log(d);
    daemon_kill(d);
    return -1;
}

int daemon_start(mlpd_daemon *d, const char *const *extra) {
    memset(d, 0, sizeof *d);
    if (find_repo(d->repo, sizeof d->repo) != 0) {
        fprintf(stderr, "cannot find the repository root (run from it or set MLPD_BIN)\n");
        return -1;
    }
    snprintf(d->dir, sizeof d->dir, "/tmp/mlpd-test-XXXXXX");
    if (!mkdtemp(d->dir)) return -1;
    snprintf(d->data_dir, sizeof d->data_dir, "%s/data", d->dir);
    snprintf(d->db, sizeof d->db, "%s/mlpd.db", d->dir);
    snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
    if (mkdir(d->data_dir, 0755) != 0) return -1;
    char src[PATH_MAX], dst[400];
    snprintf(src, sizeof src, "%s/data/mnist-digits", d->repo);
    snprintf(dst, sizeof dst, "%s/mnist-digits", d->data_dir);
    if (symlink(src, dst) != 0) return -1;
    for (int i = 0; extra && extra[i] && i < 8; i++)
        snprintf(d->extra[d->n_extra++], sizeof d->extra[0], "%s", extra[i]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return launch(d);
}

int daemon_restart(mlpd_daemon *d) {
    if (d->pid) daemon_stop(d);
    d->port = 0;
    return launch(d);
}

int daemon_wait(mlpd_daemon *d, double timeout_s) {
    if (!d->pid) return -1;
    double t0 = now_seconds();
    int status = 0;
    while (now_seconds() - t0 < timeout_s) {
        pid_t w = waitpid(d->pid, &status, WNOHANG);
        if (w == d->pid) {
            d->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "daemon did not exit within %.0f s\n", timeout_s);
    daemon_kill(d);
    return -1;
}

int daemon_stop(mlpd_daemon *d) {
    if (!d->pid) return -1;
    kill(d->pid, SIGTERM);
    return daemon_wait(d, 30);
}

void daemon_kill(mlpd_daemon *d) {
    if (!d->pid) return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void daemon_cleanup(mlpd_daemon *d) {
    if (d->pid) daemon_kill(d);
    if (d->dir[0] && !getenv("MLPD_TEST_KEEP")) nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void daemon_dump_log(const mlpd_daemon *d) {
    FILE *f = fopen(d->log, "r");
    if (!f) return;
    fprintf(stderr, "---- %s ----\n", d->log);
    char line[1024];
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fclose(f);
}

/* ---- HTTP ------------------------------------------------------------------------- */
typedef struct {
    char *buf;
    size_t len, cap;
} growbuf;

static size_t collect(char *data, size_t size, size_t n, void *user) {
    growbuf *g = user;
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

int http_do(const mlpd_daemon *d, const char *method, const char *path,
            const char *content_type, const void *body, size_t len, const char *extra_header,
            long timeout_s, http_result *r) {
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", d->port, path);
    growbuf b = {0}, h = {0};
    struct curl_slist *hdrs = NULL;
    char ct[160];
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (extra_header) hdrs = curl_slist_append(hdrs, extra_header);
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
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
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
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK && rc != CURLE_OPERATION_TIMEDOUT) {
        fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(rc));
        return -1;
    }
    return rc == CURLE_OK ? 0 : -1;
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

cJSON *http_result_json(const http_result *r) { return r->body ? cJSON_Parse(r->body) : NULL; }

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
        sleep_ms(50);
    }
    fprintf(stderr, "job %lld did not end within %.0f s\n", (long long)id, timeout_s);
    return j;
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
        sleep_ms(30);
    }
    fprintf(stderr, "job %lld did not make progress within %.0f s\n", (long long)id, timeout_s);
    return -1;
}

int load_test_digits(const mlpd_daemon *d, int n, float **x, int *labels) {
    char path[400];
    snprintf(path, sizeof path, "%s/data/mnist-digits/t10k-images-idx3-ubyte", d->repo);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char head[16];
    *x = malloc((size_t)n * 784 * sizeof **x);
    unsigned char *px = malloc((size_t)n * 784);
    int ok = *x && px && fread(head, 1, 16, f) == 16 && fread(px, 1, (size_t)n * 784, f) == (size_t)n * 784;
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
            len += (size_t)sprintf(s + len, "%s%.6g", k ? "," : "", (double)x[(size_t)i * width + k]);
        s[len++] = ']';
        if (batch_form && i + 1 < rows) s[len++] = ',';
    }
    if (batch_form) s[len++] = ']';
    s[len++] = '}';
    s[len] = '\0';
    return s;
}
