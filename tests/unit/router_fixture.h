/* router_fixture.h - the fixture of the REST-layer tests without a network
 * (test_serve_router.c, test_serve_access.c): a router with default
 * settings, admitting a request, and loading tokens as a serve_config names
 * them. */
#ifndef MLPD_ROUTER_FIXTURE_H
#define MLPD_ROUTER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "router.h"

/* auth_keys_load with the sources a serve_config names. */
static inline int load_keys(auth_keys *k, const serve_config *c, char *err, size_t errlen) {
    auth_sources src;
    serve_config_auth(c, &src);
    return auth_keys_load(k, &src, err, errlen);
}

/* ---- router ------------------------------------------------------------------------------ */
typedef struct {
    router *r;
    app a;
    serve_config cfg; /* web_dir: the static-file route looks there */
    rest_config rest;
} fixture;

static inline int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->r = router_create(100, 1000, 100);
    f->a.router = f->r;
    serve_config_default(&f->cfg);
    snprintf(f->cfg.web_dir, sizeof f->cfg.web_dir, "/nonexistent-web-dir");
    serve_config_rest(&f->cfg, &f->rest);
    f->a.cfg = &f->rest;
    *state = f;
    return f->r ? 0 : -1;
}

static inline int teardown(void **state) {
    fixture *f = *state;
    router_free(f->r);
    free(f);
    return 0;
}

/* Admit method+path; returns the route (or NULL) and leaves the response in res. */
static inline route *admit(fixture *f, const char *method, const char *path, const char *ctype,
                           long long len, http_request *req, http_response *res, route **matched) {
    static char params[HTTP_MAX_PARAMS][160];
    memset(req, 0, sizeof *req);
    memset(res, 0, sizeof *res);
    req->method = method;
    req->path = path;
    return router_admit(f->r, &f->a, req, ctype, len, params, res, matched);
}

#endif /* MLPD_ROUTER_FIXTURE_H */
