/* sse_impl.h - what another kind of event stream needs from sse.c (the
 * hub, admission against --max-streams, suspension, heartbeats): a poll
 * function called whenever the stream may have something new, which queues
 * events and ends the stream. Not part of the router's interface. */
#ifndef MLPD_SSE_IMPL_H
#define MLPD_SSE_IMPL_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "router.h"

typedef struct sse_stream sse_stream;
/* Called on an HTTP thread, at most every SSE_TICK_MS, never concurrently
 * for one stream. */
typedef void (*sse_poll_fn)(sse_stream *s);

/* Open a stream of `id` (after the caller checked it exists): 200
 * text/event-stream, or 503 (draining, too many streams: fallback names
 * what to poll instead) / 500. state is the poll's, freed by free_state
 * (may be NULL) when the stream ends or is refused. cursor: Last-Event-ID. */
void sse_open(app *a, const http_request *req, http_response *res, int64_t id, int64_t cursor,
              sse_poll_fn poll, void *state, void (*free_state)(void *), const char *fallback);

/* For the poll function. add_event takes json (freed); id 0: no id line. */
void sse_add_event(sse_stream *s, int64_t id, const char *event, cJSON *json);
void sse_end(sse_stream *s);
app *sse_app(sse_stream *s);
int64_t sse_id(sse_stream *s);
void *sse_state(sse_stream *s);

#endif /* MLPD_SSE_IMPL_H */
