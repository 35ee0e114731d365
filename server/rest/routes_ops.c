/* routes_ops.c - operations (GET /healthz, /readyz, /metrics, /openapi.yaml) and
 * the dashboard's static files from the web dir (GET / and GET /<file>).
 *
 * Static paths are checked segment by segment ([A-Za-z0-9_-][A-Za-z0-9._-]*,
 * so no "..", no hidden files, no escaping the web dir), then against the
 * allow-list make writes (web_assets.h), before any stat().
 * Files are sent from their descriptor (no copy) with an ETag of size and
 * mtime: the dashboard's own files are "no-cache" (revalidated, 304 when
 * unchanged), vendored libraries under vendor/ may be kept a day.
 */
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_gzip.h"
#include "metrics.h"
#include "router.h"
#include "web_assets.h"

void route_healthz(app *a, const http_request *req, http_response *res) {
    (void)a;
    (void)req;
    static const char body[] = "{\"status\":\"ok\"}";
    http_reply_bytes(res, 200, "application/json", body, sizeof body - 1);
}

/* How soon a probe that found the daemon not ready may ask again. */
#define READYZ_RETRY_AFTER_SECONDS 5

void route_readyz(app *a, const http_request *req, http_response *res) {
    (void)req;
    /* Not ready: a 503 with Retry-After, which load balancers and clients
     * honour before probing again. */
    if (atomic_load(&a->draining)) {
        http_reply_problem(res, 503, "draining", NULL, "the daemon is shutting down");
        http_set_header(res, "Retry-After", "%d", READYZ_RETRY_AFTER_SECONDS);
        return;
    }
    if (!store_ping(a->st)) {
        http_reply_problem(res, 503, "store-down", NULL, "the store does not answer");
        http_set_header(res, "Retry-After", "%d", READYZ_RETRY_AFTER_SECONDS);
        return;
    }
    if (!store_writable(a->st)) {
        route_reply_error(res, MLPD_ELOCKED, NULL, NULL,
                          "the store cannot write: another process holds the database's write "
                          "lock");
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}";
    http_reply_bytes(res, 200, "application/json", body, sizeof body - 1);
}

void route_metrics(app *a, const http_request *req, http_response *res) {
    (void)req;
    size_t len = 0;
    char *text = metrics_render(a, &len);
    if (!text) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory");
        return;
    }
    http_reply_take(res, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* ---- files ---------------------------------------------------------------------------- */
static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".md", "text/markdown; charset=utf-8"},
    {".yaml", "application/yaml"},
};

static const char *mime_for(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++) {
        size_t e = strlen(mime_types[i].ext);
        if (n > e && !strcmp(path + n - e, mime_types[i].ext)) return mime_types[i].type;
    }
    return "application/octet-stream";
}

/* "/a/b.js" is a safe relative path under the web dir? */
static int web_path_ok(const char *path) {
    if (path[0] != '/' || strlen(path) > 255) return 0;
    const char *seg = path + 1;
    while (*seg) {
        size_t len = strcspn(seg, "/");
        if (len == 0 || seg[0] == '.') return 0;
        for (size_t i = 0; i < len; i++) {
            char c = seg[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-'))
                return 0;
        }
        seg += len;
        if (*seg == '/') seg++;
    }
    return path[strlen(path) - 1] != '/';
}

int route_web_exists(app *a, const char *path) {
    if (!web_path_ok(path) || !web_assets_has(a->web, path + 1)) return 0;
    char full[1024];
    snprintf(full, sizeof full, "%s%s", a->cfg->web_dir, path);
    struct stat sb;
    return stat(full, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The file to send for `full`: its gzip sibling `full.gz` (written at build
 * time, web/web.mk) when the client accepts gzip and the sibling is at least
 * as new as the file; otherwise the file itself. *gz says which; *fd and *sb
 * describe it. -1 when the file cannot be opened. */
static int open_variant(const http_request *req, const char *full, int *fd, struct stat *sb,
                        int *gz) {
    *gz = 0;
    *fd = open(full, O_RDONLY | O_CLOEXEC);
    if (*fd < 0 || fstat(*fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        if (*fd >= 0) close(*fd);
        return -1;
    }
    if (!http_accepts_gzip(http_header(req, "Accept-Encoding"))) return 0;
    char gzpath[1100];
    snprintf(gzpath, sizeof gzpath, "%s.gz", full);
    int zfd = open(gzpath, O_RDONLY | O_CLOEXEC);
    struct stat zsb;
    if (zfd >= 0 && fstat(zfd, &zsb) == 0 && S_ISREG(zsb.st_mode) &&
        zsb.st_mtim.tv_sec >= sb->st_mtim.tv_sec) {
        close(*fd);
        *fd = zfd;
        *sb = zsb;
        *gz = 1;
    } else if (zfd >= 0) {
        close(zfd);
    }
    return 0;
}

/* Is the client's copy current? If-None-Match (the ETag) wins over
 * If-Modified-Since (RFC 9110 section 13.1.3); the date compares whole
 * seconds, as an HTTP date carries no more. */
static int still_fresh(const http_request *req, const char *etag, time_t mtime) {
    const char *inm = http_header(req, "If-None-Match");
    if (inm) return strstr(inm, etag) != NULL || !strcmp(inm, "*");
    const char *ims = http_header(req, "If-Modified-Since");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!ims || !strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm)) return 0;
    return mtime <= timegm(&tm);
}

/* Send file `full` (already checked) with content type and caching policy:
 * an ETag and Last-Modified, 304 when the client's copy is current, the
 * build-time gzip variant when the client accepts it. */
static void send_file(const http_request *req, http_response *res, const char *full,
                      const char *content_type, const char *cache_control) {
    int fd, gz;
    struct stat sb;
    if (open_variant(req, full, &fd, &sb, &gz) != 0) {
        http_reply_problem(res, 404, "not-found", NULL, "no resource at %s", req->path);
        return;
    }
    char etag[64], modified[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx%s\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)sb.st_mtim.tv_nsec,
             gz ? "-gz" : "");
    struct tm tm;
    gmtime_r(&sb.st_mtim.tv_sec, &tm);
    strftime(modified, sizeof modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int fresh = still_fresh(req, etag, sb.st_mtim.tv_sec);
    /* A 304 is built from the file too: libmicrohttpd 0.9.75 writes a
     * Content-Length on a 304 (never its body), and RFC 9110 section 8.6
     * allows one only when it is the length a 200 would have had. */
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        http_reply_problem(res, 500, "internal", NULL, "cannot send %s", req->path);
        return;
    }
    if (fresh) {
        http_reply_mhd(res, 304, r);
    } else {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        if (gz) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        http_reply_mhd(res, 200, r);
        res->body_len = (size_t)sb.st_size; /* for the request log */
    }
    http_set_header(res, "ETag", "%s", etag);
    http_set_header(res, "Last-Modified", "%s", modified);
    http_add_vary(res, "Accept-Encoding");
    http_set_header(res, "Cache-Control", "%s", cache_control);
}

void route_web_index(app *a, const http_request *req, http_response *res) {
    char full[1024];
    snprintf(full, sizeof full, "%s/index.html", a->cfg->web_dir);
    send_file(req, res, full, "text/html; charset=utf-8", "no-cache");
}

void route_web_file(app *a, const http_request *req, http_response *res) {
    char full[1024];
    snprintf(full, sizeof full, "%s%s", a->cfg->web_dir, req->path);
    int vendored = !strncmp(req->path, "/vendor/", 8);
    send_file(req, res, full, mime_for(req->path), vendored ? "public, max-age=86400" : "no-cache");
}

void route_openapi(app *a, const http_request *req, http_response *res) {
    char full[1024];
    snprintf(full, sizeof full, "%s/openapi.yaml", a->cfg->api_dir);
    send_file(req, res, full, "application/yaml", "no-cache");
}
