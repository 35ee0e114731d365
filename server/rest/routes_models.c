/* routes_models.c - GET/POST /models, GET/DELETE /models/{id}, GET /models/{id}/file.
 * /models/{id} also takes a registered name (registry routes: routes_registry.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_cache.h"
#include "model_ref.h"
#include "paging.h"
#include "router.h"
#include "views.h"

/* route_store_check for a store call about model id. */
static int check_model(int rc, const mlpd_error *se, int64_t id, http_response *res) {
    return route_store_check(rc, se, res, "no model with id %lld", (long long)id);
}

void route_models_list(app *a, const http_request *req, http_response *res) {
    route_page pg;
    if (route_page_parse(req, 0, &pg, res) != 0) return;
    store_model *list = NULL;
    size_t n = 0;
    int64_t total = 0;
    mlpd_error se = {0};
    /* One row more than the page: is there a next page? */
    if (route_store_check(store_model_list(a->st, (int)pg.limit + 1, pg.offset, pg.cursor_id, &list,
                                           &n, &total, &se),
                          &se, res, "no models") != 0)
        return;
    size_t shown = n > (size_t)pg.limit ? (size_t)pg.limit : n;
    char next[24] = "";
    if (shown < n) snprintf(next, sizeof next, "%lld", (long long)list[shown - 1].id);
    cJSON *body = view_model_list(list, shown, total, (int)pg.limit, pg.offset);
    route_page_next(req, &pg, NULL, next[0] ? next : NULL, body, res);
    http_reply_json(res, 200, body);
    store_model_list_free(list, n);
}

/* Answer with model id's metadata (status on success). */
static void reply_model(app *a, int64_t id, int status, http_response *res) {
    store_model m;
    mlpd_error se = {0};
    if (check_model(store_model_get(a->st, id, &m, &se), &se, id, res) != 0) return;
    http_reply_json(res, status, view_model(&m));
    store_model_clear(&m);
}

void route_model_get(app *a, const http_request *req, http_response *res) {
    if (req->n_params > 0 && api_model_name_ok(req->params[0])) {
        route_registered_model_get(a, req, res);
        return;
    }
    int64_t id;
    if (route_param_id(req, 0, "model", &id, res) != 0) return;
    reply_model(a, id, 200, res);
}

void route_model_delete(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "model", &id, res) != 0) return;
    mlpd_error se = {0};
    if (check_model(store_model_delete(a->st, id, &se), &se, id, res) != 0) return;
    model_cache_invalidate(a->models, id); /* and the registry: the version is gone */
    http_reply_take(res, 204, NULL, NULL, 0);
}

void route_model_file(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "model", &id, res) != 0) return;
    unsigned char *file = NULL;
    size_t len = 0;
    mlpd_error se = {0};
    if (check_model(store_model_file(a->st, id, &file, &len, &se), &se, id, res) != 0) return;
    /* A model's bytes never change under its id (a new version is a new id):
     * the ETag is the CRC-32 the file stores (mlp_model_checksum; one taken
     * over the whole file is the same for every model) and caches may keep
     * them for a year. */
    char etag[24];
    snprintf(etag, sizeof etag, "\"%08x\"", (unsigned)mlp_model_checksum(file, len));
    const char *inm = http_header(req, "If-None-Match");
    if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
        /* The buffer stays for its length only: libmicrohttpd writes a 304's
         * Content-Length, which must be the 200's (RFC 9110 8.6), never 0. */
        http_reply_take(res, 304, "application/octet-stream", (char *)file, len);
    } else {
        http_reply_take(res, 200, "application/octet-stream", (char *)file, len);
        http_set_header(res, "Content-Disposition", "attachment; filename=\"model-%lld.mlp\"",
                        (long long)id);
    }
    http_set_header(res, "ETag", "%s", etag);
    http_set_header(res, "Cache-Control", "public, max-age=31536000, immutable");
}

void route_model_upload(app *a, const http_request *req, http_response *res) {
    /* The upload becomes the next version of ?name= ("model" when absent). */
    const char *name = http_query(req, "name");
    if (!name) name = "model";
    if (!api_model_name_ok(name)) {
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "name must be a letter followed by up to 63 of A-Z a-z 0-9 . _ -");
        return;
    }
    mlp_model *m = NULL;
    mlp_error me = {{0}};
    if (mlp_model_from_buffer((const unsigned char *)req->body, req->body_len, &m, &me) != MLP_OK) {
        http_reply_problem(res, 422, "invalid-model", NULL, "not a valid model file: %s", me.msg);
        return;
    }
    char crc[16];
    snprintf(crc, sizeof crc, "%08x",
             (unsigned)mlp_model_checksum((const unsigned char *)req->body, req->body_len));
    char *arch_json = api_encode_arch_json(&m->arch);
    store_model meta = {.name = (char *)name,
                        .arch_json = arch_json,
                        .checksum = crc,
                        .size_bytes = (int64_t)req->body_len,
                        .n_params = (int64_t)m->n_params};
    mlp_model_free(m);
    if (!arch_json) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory");
        return;
    }
    int64_t id = 0;
    mlpd_error se = {0};
    int rc = store_model_put(a->st, &meta, (const unsigned char *)req->body, req->body_len, &id,
                             NULL, &se);
    free(arch_json);
    if (check_model(rc, &se, id, res) != 0) return;
    model_cache_models_changed(a->models);
    reply_model(a, id, 201, res);
    if (res->status == 201) http_set_header(res, "Location", "/models/%lld", (long long)id);
}
