// poll.js - run an async task now and then every `ms` until stopped, one run
// at a time, pausing while the page is hidden (a background tab costs the
// daemon nothing).
//
// poll(task, ms) -> {stop(), now()}; task(signal) may throw: the error is
// passed to onError and polling goes on.
export function poll(task, ms, { onError } = {}) {
  let timer = null;
  let stopped = false;
  let running = false;
  const controller = new AbortController();

  async function run() {
    if (stopped || running) return;
    clearTimeout(timer);
    running = true;
    try {
      await task(controller.signal);
    } catch (err) {
      if (err.name !== 'AbortError') onError?.(err);
    } finally {
      running = false;
    }
    if (!stopped && !document.hidden) timer = setTimeout(run, ms);
  }

  function onVisibility() {
    if (!document.hidden) run();
  }
  document.addEventListener('visibilitychange', onVisibility);
  run();

  return {
    now: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
