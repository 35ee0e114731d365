// router.js - hash routes (#/jobs/3) to views. A view is
// mount(root, {api, params, query, navigate}) -> cleanup(); the router calls
// the cleanup (stop polling, close streams, destroy charts) before mounting
// the next view, moves focus to the new page's heading and marks the
// current navigation link.

export function createRouter(routes, { root, nav, context, fallback = '#/jobs' }) {
  let cleanup = null;

  function resolve() {
    const raw = location.hash.replace(/^#/, '') || '';
    const [path, qs = ''] = raw.split('?');
    for (const r of routes) {
      const m = r.pattern.exec(path);
      if (m) return { route: r, params: m.slice(1).map(decodeURIComponent), query: new URLSearchParams(qs) };
    }
    return null;
  }

  function render() {
    const hit = resolve();
    if (!hit) {
      location.replace(fallback);
      return;
    }
    if (cleanup) {
      try { cleanup(); } catch { /* a view's cleanup must not block the next one */ }
      cleanup = null;
    }
    root.textContent = '';
    document.title = `${hit.route.title(hit.params)} · mlpd`;
    for (const a of nav.querySelectorAll('a[data-nav]')) {
      if (a.dataset.nav === hit.route.section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    cleanup = hit.route.mount(root, { ...context, params: hit.params, query: hit.query });
    const heading = root.querySelector('h1');
    if (heading && render.moved) heading.focus({ preventScroll: true });
    render.moved = true; // not on first load: keep the browser's initial focus
  }

  window.addEventListener('hashchange', render);
  return { start: render };
}
