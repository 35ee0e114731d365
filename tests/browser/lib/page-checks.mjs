// page-checks.mjs - assertions about a page shared by the browser suites.
import assert from 'node:assert/strict';

// Errors a page reported, minus the browser's own log line for an HTTP
// error answer (a 4xx the page asked for on purpose, e.g. a refused form).
export function realErrors(errors) {
  return errors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));
}

// Every visible control has an accessible name: a <label for>, a wrapping
// label, aria-label/aria-labelledby, or text content (buttons and links).
export async function assertControlsLabelled(page) {
  const unnamed = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('input, select, textarea, button, a[href], canvas[tabindex]')) {
      if (el.closest('[hidden]') || el.type === 'hidden' || el.getClientRects().length === 0) continue;
      const byFor = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
      const named = byFor || el.closest('label') || el.getAttribute('aria-label') ||
        el.getAttribute('aria-labelledby') || (el.textContent || '').trim();
      if (!named) out.push(el.outerHTML.slice(0, 120));
    }
    return out;
  });
  assert.deepEqual(unnamed, [], `controls without a name: ${unnamed.join(' | ')}`);
}

// The page does not scroll sideways (it fits a phone's width).
export async function assertNoHorizontalOverflow(page) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client + 1, `page is ${scroll}px wide in a ${client}px viewport`);
}

// Points in the series of a Chart.js chart drawn on canvas#id.
export function chartPoints(page, canvasId) {
  return page.evaluate((id) => {
    const chart = window.Chart && window.Chart.getChart(document.getElementById(id));
    return chart ? chart.data.datasets.map((d) => d.data.length) : null;
  }, canvasId);
}
