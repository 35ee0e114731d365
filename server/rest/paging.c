/* paging.c - see paging.h. */
#include "paging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int route_page_parse(const http_request *req, int by_name, route_page *p, http_response *res) {
    memset(p, 0, sizeof *p);
    if (route_query_page(req, &p->limit, &p->offset, res) != 0) return -1;
    const char *c = http_query(req, "cursor");
    if (!c) return 0;
    p->has_cursor = 1;
    if (by_name) {
        size_t n = strlen(c), i = 0;
        while (i < n && name_char(c[i])) i++;
        if (n == 0 || i < n || n >= sizeof p->cursor_name) {
            http_reply_problem(res, 422, "invalid-query", NULL,
                               "query parameter 'cursor' must be the 'next' of a previous page");
            return -1;
        }
        memcpy(p->cursor_name, c, n + 1);
        return 0;
    }
    long long v = 0;
    if (route_parse_int(c, &v) != 0 || v <= 0) {
        http_reply_problem(res, 422, "invalid-query", NULL,
                           "query parameter 'cursor' must be the 'next' of a previous page");
        return -1;
    }
    p->cursor_id = v;
    return 0;
}

void route_page_next(const http_request *req, const route_page *p, const char *keep,
                     const char *next_cursor, cJSON *body, http_response *res) {
    if (!body) return;
    if (!next_cursor) {
        cJSON_AddNullToObject(body, "next");
        return;
    }
    cJSON_AddStringToObject(body, "next", next_cursor);
    /* Only values the route has checked go into the link: limit, the cursor
     * (digits or name characters) and a kept parameter (a status name). */
    char extra[96] = "";
    const char *kv = keep ? http_query(req, keep) : NULL;
    if (kv && strlen(kv) < 48) snprintf(extra, sizeof extra, "&%s=%s", keep, kv);
    http_set_header(res, "Link", "<%s?limit=%lld%s&cursor=%s>; rel=\"next\"", req->path, p->limit,
                    extra, next_cursor);
}
