/* sse_sweep.c - GET /sweeps/{id}/events: a sweep followed as Server-Sent
 * Events, on sse.c's streams.
 *
 * Events (api/openapi.yaml): `status` (data: the Sweep without children,
 * when its status changed), `child` (data: a SweepChild, when a child
 * appeared or its status or epoch changed), `best` (data: the Sweep's best,
 * when the best child changed), `end` (data: the Sweep with its children,
 * once it has ended; then the stream closes). A new stream first sends the
 * status and every child as they are: there is no Last-Event-ID resumption
 * (the events carry no ids), a reconnecting client gets the whole state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_impl.h"
#include "sweep_request.h"
#include "views.h"

#define MAX_SEEN API_SWEEP_MAX_RUNS

typedef struct {
    int last_status;      /* -1 before the first event */
    int64_t last_best;    /* -1 before the first poll */
    int n_seen;           /* children known */
    int status[MAX_SEEN]; /* per child index: status and epoch last sent */
    int epoch[MAX_SEEN];
} sweep_watch;

static int is_final(run_status st) {
    return st == RUN_SUCCEEDED || st == RUN_FAILED || st == RUN_CANCELLED;
}

static void poll_sweep(sse_stream *s) {
    app *a = sse_app(s);
    sweep_watch *wt = sse_state(s);
    store_sweep w;
    if (store_sweep_get(a->st, sse_id(s), &w, NULL) != MLPD_OK) {
        sse_end(s);
        return;
    }
    store_run *kids = NULL;
    size_t n = 0;
    if (store_sweep_children(a->st, w.id, MAX_SEEN, &kids, &n, NULL) != MLPD_OK) n = 0;
    if ((int)w.status != wt->last_status) {
        wt->last_status = (int)w.status;
        sse_add_event(s, 0, "status", view_sweep(&w, kids, n, 0));
    }
    for (size_t i = 0; i < n; i++) {
        if ((int)i < wt->n_seen && wt->status[i] == (int)kids[i].status &&
            wt->epoch[i] == kids[i].epoch)
            continue;
        wt->status[i] = (int)kids[i].status;
        wt->epoch[i] = kids[i].epoch;
        sse_add_event(s, 0, "child", view_sweep_child(&w, &kids[i], (int)i));
    }
    if ((int)n > wt->n_seen) wt->n_seen = (int)n;
    if (w.best_run_id != wt->last_best) {
        wt->last_best = w.best_run_id;
        cJSON *v = view_sweep(&w, kids, n, 0);
        cJSON *best = cJSON_DetachItemFromObjectCaseSensitive(v, "best");
        cJSON_Delete(v);
        if (best && !cJSON_IsNull(best))
            sse_add_event(s, 0, "best", best);
        else
            cJSON_Delete(best);
    }
    if (is_final(w.status)) {
        sse_add_event(s, 0, "end", view_sweep(&w, kids, n, 1));
        sse_end(s);
    }
    store_run_list_free(kids, n);
    store_sweep_clear(&w);
}

void route_sweep_events(app *a, const http_request *req, http_response *res) {
    int64_t id;
    if (route_param_id(req, 0, "sweep", &id, res) != 0) return;
    store_sweep w;
    mlpd_error se = {0};
    if (route_store_check(store_sweep_get(a->st, id, &w, &se), &se, res, "no sweep with id %lld",
                          (long long)id) != 0)
        return;
    store_sweep_clear(&w);
    sweep_watch *wt = calloc(1, sizeof *wt);
    if (!wt) {
        http_reply_problem(res, 500, "internal", NULL, "out of memory");
        return;
    }
    wt->last_status = -1;
    wt->last_best = -1;
    char fallback[64];
    snprintf(fallback, sizeof fallback, "GET /sweeps/%lld", (long long)id);
    sse_open(a, req, res, id, 0, poll_sweep, wt, free, fallback);
}
