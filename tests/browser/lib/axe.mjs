// axe.mjs - axe-core (npm) run inside a page: the rules axe enables by
// default (WCAG 2 A and AA, best practices) plus label-content-name-mismatch
// (experimental in axe, and the one the dashboard's "Try it" links broke).
// The browser suites allow no violation at all.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

// -> ["rule (impact): selector, ..."] for every violation on the page now.
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { rules: { 'label-content-name-mismatch': { enabled: true } } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

export async function assertNoAxeViolations(page, what) {
  const found = await axeViolations(page);
  assert.deepEqual(found, [], `axe on ${what}: ${found.join(' | ')}`);
}
