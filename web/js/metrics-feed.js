// metrics-feed.js - follow a job's metrics as they are recorded.
//
// Prefers Server-Sent Events (GET /jobs/{id}/events; the browser resends
// Last-Event-ID on reconnect); falls back to polling
// GET /jobs/{id}/metrics?since=<last id> when EventSource is missing, when a
// bearer token is needed (EventSource cannot send headers), or when the
// stream fails before delivering anything. Metrics are
// {id, key, epoch, step, value, time}; ids increase, so `since` is a cursor
// and duplicates (replays after a reconnect) are dropped.
//
// followMetrics(api, jobId, {onMetrics(list), onJob(job), onMode(mode), passive})
//   -> {finish(): Promise (fetch what is left, then stop), stop()}
//   mode is 'stream' or 'polling'. With passive set nothing is followed
//   until finish() fetches everything once (a job that has ended).

import { METRICS_PAGE } from './api.js';

const POLL_MS = 2000;

export function followMetrics(api, jobId, { onMetrics, onJob, onMode, passive = false } = {}) {
  let lastId = 0;
  let source = null;
  let timer = null;
  let stopped = false;
  let received = 0;
  let failures = 0;

  function deliver(list) {
    const fresh = [];
    for (const m of list) {
      if (!m || typeof m !== 'object' || typeof m.key !== 'string') continue;
      const id = Number(m.id);
      if (Number.isFinite(id) && id > 0) {
        if (id <= lastId) continue;
        lastId = id;
      }
      fresh.push(m);
    }
    if (fresh.length) onMetrics?.(fresh);
  }

  // An event's data may be one metric, a list, {metrics: [...]}, or a job.
  function onEvent(e) {
    received += 1;
    let data;
    try { data = JSON.parse(e.data); } catch { return; }
    if (Array.isArray(data)) deliver(data);
    else if (data && Array.isArray(data.metrics)) deliver(data.metrics);
    else if (data && typeof data.key === 'string') {
      if (data.id === undefined && e.lastEventId) data.id = Number(e.lastEventId);
      deliver([data]);
    } else if (data && (data.job || data.status)) onJob?.(data.job || data);
    if (e.type === 'end' || e.type === 'done') closeStream();
  }

  function closeStream() {
    if (source) { source.close(); source = null; }
  }

  // Everything after lastId, page by page (a long job records thousands of
  // step_loss values between its per-epoch ones).
  async function pollOnce() {
    try {
      for (let page = 0; page < 100 && !stopped; page++) {
        const list = await api.jobMetrics(jobId, lastId);
        deliver(list);
        if (list.length < METRICS_PAGE) break;
      }
    } catch {
      /* transient: the next tick retries */
    }
  }

  function startPolling() {
    closeStream();
    onMode?.('polling');
    const tick = async () => {
      if (stopped) return;
      await pollOnce();
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    tick();
  }

  function startStream() {
    source = new EventSource(api.eventsUrl(jobId));
    for (const type of ['message', 'metric', 'metrics', 'job', 'status', 'progress', 'end', 'done']) {
      source.addEventListener(type, onEvent);
    }
    source.onopen = () => onMode?.('stream');
    source.onerror = () => {
      failures += 1;
      // CLOSED: the server refused the stream (not text/event-stream, 4xx).
      // Repeated errors with nothing received: the endpoint is not usable.
      if (source && (source.readyState === EventSource.CLOSED || (received === 0 && failures >= 2))) {
        startPolling();
      }
    };
  }

  if (!passive) {
    if (typeof EventSource === 'function' && !api.token) startStream();
    else startPolling();
  }

  return {
    async finish() {
      closeStream();
      if (timer) clearTimeout(timer);
      await pollOnce();
      stopped = true;
    },
    stop() {
      stopped = true;
      closeStream();
      if (timer) clearTimeout(timer);
    },
  };
}
