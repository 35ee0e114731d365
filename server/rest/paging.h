/* paging.h - the page parameters of the list routes (GET /jobs, /models,
 * /datasets) and the way to the next page.
 *
 * A page is ?limit= in [1, 1000] (default 50), then either ?offset= (rows
 * to skip, as before) or ?cursor= (keyset): the `next` member of the
 * previous page. A cursor names the last row of that page (an id for jobs
 * and models, newest first; a name for data sets, by name), so the next
 * page starts right after it and does not shift when rows are inserted
 * before it. Each list answer carries "next" (the cursor, null on the last
 * page) and, when there is a next page, an RFC 8288 header
 * `Link: </jobs?limit=50&cursor=123>; rel="next"`.
 */
#ifndef MLPD_PAGING_H
#define MLPD_PAGING_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "http.h"

typedef struct {
    long long limit, offset;
    int has_cursor;
    int64_t cursor_id;    /* by id: rows with a smaller id (newest first) */
    char cursor_name[72]; /* by name: rows with a greater name */
} route_page;

/* Parse ?limit=, ?offset= and ?cursor= (an id when by_name is 0, a name of
 * [A-Za-z0-9._-] otherwise). 0, or -1 with a 422 in res naming the parameter. */
int route_page_parse(const http_request *req, int by_name, route_page *p, http_response *res);

/* Add "next" to the list body: next_cursor (a string) or null; with a
 * cursor, also the Link header to the next page. `keep` names query
 * parameters to carry into the link besides limit (e.g. "status"; may be
 * NULL). */
void route_page_next(const http_request *req, const route_page *p, const char *keep,
                     const char *next_cursor, cJSON *body, http_response *res);

#endif /* MLPD_PAGING_H */
