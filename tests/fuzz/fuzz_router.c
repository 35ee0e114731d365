/* fuzz_router.c - libFuzzer target for the HTTP router's admission step,
 * router_admit (path matching, method, body limit, content type, and the
 * dashboard's file-path check), plus route_param_id on what it extracts.
 *
 * An input is four lines, missing ones taking a default:
 *
 *   METHOD \n CONTENT-TYPE \n CONTENT-LENGTH \n PATH (the rest, newlines included)
 *
 * (no content type line: none sent; no or an empty length line: no body
 * (0); a length that is not a number: a body of unknown length (-1), as for
 * chunked uploads; no path: "/"). Each field stops at a NUL, as MHD's strings do.
 * The dashboard folder is a temporary one holding a few files and the
 * allow-list naming them (web_assets.h), made once.
 * Query strings are parsed by libmicrohttpd, not by mlpd, so they are not
 * fuzzed here.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - no crash, leak or overflow (ASan/UBSan), e.g. in the 160-byte parameters;
 * - a refusal is 404, 405 (with a non-empty Allow header), 413 or 415, with a
 *   problem+json body that parses; OPTIONS on a known path is 204 with Allow
 *   (no tokens and no CORS origins are configured, so never 401/403);
 * - an admitted route, or one refused for its body (413/415, reported in
 *   *matched), has the request's method (HEAD as GET) and parameters that,
 *   put back into its pattern, give exactly the request's path; an admitted
 *   one also has the declared length within its limit;
 * - a path admitted as a dashboard file names a regular file inside the
 *   dashboard folder once symbolic links and ".." are resolved.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "router.h"
#include "web_assets.h"

#define JSON_LIMIT   1024
#define UPLOAD_LIMIT 65536

static void check(int ok) {
    if (!ok) abort();
}

/* Made once by LLVMFuzzerInitialize, read by every run, removed at exit. */
static char web_dir[PATH_MAX];
static rest_config web_cfg = {.web_dir = web_dir};
static web_assets *web_list;
static char web_real[PATH_MAX];

static void write_small(const char *dir, const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    check(f != NULL);
    fputs("x\n", f);
    check(fclose(f) == 0);
}

static void remove_web_dir(void) {
    static const char *const files[] = {"index.html", "app.js", "js/chart.js", "js",
                                        WEB_ASSETS_LIST};
    web_assets_free(web_list);
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", web_dir, files[i]);
        remove(path);
    }
    rmdir(web_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(web_dir, sizeof web_dir, "/tmp/fuzz_router_web.XXXXXX");
    check(mkdtemp(web_dir) != NULL);
    char js[PATH_MAX];
    snprintf(js, sizeof js, "%s/js", web_dir);
    check(mkdir(js, 0700) == 0);
    write_small(web_dir, "index.html");
    write_small(web_dir, "app.js");
    write_small(web_dir, "js/chart.js");
    /* js/chart.js stays off the list: on disk, yet never served */
    char list[PATH_MAX];
    snprintf(list, sizeof list, "%s/%s", web_dir, WEB_ASSETS_LIST);
    FILE *f = fopen(list, "w");
    check(f != NULL);
    fputs("index.html\napp.js\n", f);
    check(fclose(f) == 0);
    check(web_assets_load(web_dir, &web_list, NULL) == MLPD_OK);
    check(realpath(web_dir, web_real) != NULL);
    atexit(remove_web_dir);
    return 0;
}

/* Copy the next field of data[*at, size) up to a newline (or the end, when
 * `last`) into a new string cut at its first NUL. *at moves past the
 * newline, or beyond size when the input has ended: then NULL. */
static char *next_field(const uint8_t *data, size_t size, size_t *at, int last) {
    if (*at > size) return NULL;
    const uint8_t *start = data + *at;
    const uint8_t *nl = last ? NULL : memchr(start, '\n', size - *at);
    size_t len = nl ? (size_t)(nl - start) : size - *at;
    char *s = malloc(len + 1);
    check(s != NULL);
    if (len) memcpy(s, start, len);
    s[len] = '\0';
    *at += len + 1;
    return s;
}

/* Put the params back into the pattern: must give the path again. */
static void check_params(const route *rt, const http_request *req) {
    char rebuilt[2048];
    size_t used = 0;
    int k = 0;
    check(req->n_params >= 0 && req->n_params <= HTTP_MAX_PARAMS);
    for (const char *p = rt->pattern; *p;) {
        if (*p == '{') {
            check(k < req->n_params);
            size_t len = strlen(req->params[k]);
            check(len >= 1 && len < 160 && used + len < sizeof rebuilt);
            memcpy(rebuilt + used, req->params[k++], len);
            used += len;
            p = strchr(p, '}') + 1;
        } else {
            check(used + 1 < sizeof rebuilt);
            rebuilt[used++] = *p++;
        }
    }
    rebuilt[used] = '\0';
    check(k == req->n_params);
    check(strcmp(rebuilt, req->path) == 0);
}

/* A dashboard file must resolve to a regular file under the folder. */
static void check_web_file(const char *path) {
    char full[2 * PATH_MAX], real[PATH_MAX];
    snprintf(full, sizeof full, "%s%s", web_dir, path);
    check(web_assets_has(web_list, path + 1));
    check(realpath(full, real) != NULL);
    size_t n = strlen(web_real);
    check(strncmp(real, web_real, n) == 0 && real[n] == '/');
    struct stat sb;
    check(stat(real, &sb) == 0 && S_ISREG(sb.st_mode));
}

static int has_header(const http_response *res, const char *name) {
    for (int i = 0; i < res->n_headers; i++)
        if (strcmp(res->headers[i].name, name) == 0 && res->headers[i].value[0]) return 1;
    return 0;
}

/* What router_admit may answer itself. No tokens are configured, so never
 * 401/403; an OPTIONS on a known path is answered 204 with Allow (and no
 * Origin is sent, so no CORS refusal). */
static void check_refusal(const http_request *req, const http_response *res) {
    if (res->status == 204) {
        check(strcmp(req->method, "OPTIONS") == 0 && has_header(res, "Allow"));
        return;
    }
    check(res->status == 404 || res->status == 405 || res->status == 413 || res->status == 415);
    check(res->body != NULL && res->body_len == strlen(res->body));
    cJSON *o = cJSON_Parse(res->body);
    check(o != NULL);
    cJSON_Delete(o);
    if (res->status == 405) check(has_header(res, "Allow"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t at = 0;
    char *method = next_field(data, size, &at, 0), *ctype = next_field(data, size, &at, 0);
    char *length = next_field(data, size, &at, 0), *path = next_field(data, size, &at, 1);
    char *stop = NULL;
    long long content_length = 0;
    if (length && length[0]) {
        content_length = strtoll(length, &stop, 10);
        if (stop == length) content_length = -1;
    }

    router *r = router_create(JSON_LIMIT, UPLOAD_LIMIT, JSON_LIMIT);
    check(r != NULL);
    app a;
    memset(&a, 0, sizeof a);
    a.cfg = &web_cfg;
    a.web = web_list;
    a.router = r;
    http_request req;
    memset(&req, 0, sizeof req);
    req.method = method ? method : "GET";
    req.path = path ? path : "/";
    req.body = "";
    http_response res;
    memset(&res, 0, sizeof res);
    char param_buf[HTTP_MAX_PARAMS][160];

    route *matched = NULL;
    route *rt = router_admit(r, &a, &req, ctype, content_length, param_buf, &res, &matched);
    if (!rt) {
        check_refusal(&req, &res);
        check((matched == NULL) == (res.status == 404 || res.status == 405));
    } else {
        check(matched == rt);
        check(res.status == 0 && res.body == NULL);
        check(content_length <= (long long)rt->body_limit);
    }
    /* An OPTIONS answer names the path's first route, whose method differs
     * and whose parameters were not extracted. */
    if (matched && res.status != 204) {
        const char *want = strcmp(req.method, "HEAD") ? req.method : "GET";
        check(strcmp(matched->method, want) == 0);
        check_params(matched, &req);
        if (matched->exists) check_web_file(req.path);
        for (int i = 0; i < req.n_params; i++) {
            int64_t id = 0;
            http_response id_res;
            memset(&id_res, 0, sizeof id_res);
            if (route_param_id(&req, i, "thing", &id, &id_res) == 0) {
                /* one spelling per id: what is taken prints back the same */
                char back[24];
                snprintf(back, sizeof back, "%lld", (long long)id);
                check(id > 0 && id_res.status == 0 && !strcmp(back, req.params[i]));
            } else
                check(id_res.status == 404 && id_res.body != NULL);
            free(id_res.body);
        }
    }
    free(res.body);
    router_free(r);
    free(method);
    free(ctype);
    free(length);
    free(path);
    return 0;
}
