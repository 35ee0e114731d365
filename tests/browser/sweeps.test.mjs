// sweeps.test.mjs - the sweep pages against a real daemon: a small random
// sweep run to its end through the API, then its page: the summary and the
// best child, the children table sorted by a setting and by the metric
// (checked against the API's numbers), the curves (one per child) and the
// scatter plot (one point per child), "use the best" registering the best
// model under a name (checked in the registry), the list page, and the
// phone layout. Screenshots go to tests/browser/output/.
import { createSuite, assert } from './lib/harness.mjs';
import { api, startDaemon } from './lib/daemon.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { assertControlsLabelled, assertNoHorizontalOverflow, chartPoints } from './lib/page-checks.mjs';

const t = createSuite('sweeps', { defaultTimeoutMs: 60000 });
let daemon; let browser; let page; let sweep;

async function waitSweep(id, timeoutMs) {
  const t0 = Date.now();
  for (;;) {
    const s = (await api(daemon.url, 'GET', `/sweeps/${id}`)).data;
    if (['succeeded', 'failed', 'cancelled'].includes(s.status)) return s;
    if (Date.now() - t0 > timeoutMs) throw new Error(`sweep ${id} did not end: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

t.before(async () => {
  daemon = await startDaemon({ extraArgs: ['--max-jobs', '2'] });
  browser = await launchBrowser();
  page = browser.page;
  const r = await api(daemon.url, 'POST', '/sweeps', {
    base: { dataset: daemon.dataset, hidden: [16], epochs: 3, batch_size: 64, validation_split: 0.2, seed: 3 },
    space: { learning_rate: { type: 'log_uniform', low: 0.005, high: 0.5 }, batch_size: [32, 128] },
    max_runs: 5, parallel: 2, seed: 4,
  });
  assert.equal(r.status, 202, JSON.stringify(r.data));
  sweep = await waitSweep(r.data.id, 150000);
  assert.equal(sweep.status, 'succeeded', JSON.stringify(sweep));
}, 180000);
t.after(async () => {
  await browser?.close();
  await daemon?.stop();
});

t.test('the list links each sweep to its page', async () => {
  await page.goto(`${daemon.url}/#/sweeps`);
  const link = page.locator(`a[aria-label="sweep ${sweep.id}"]`);
  await link.waitFor();
  assert.match(await page.locator(`tr[data-sweep="${sweep.id}"]`).textContent(), /succeeded.*5 \/ 5/);
  await link.click();
  await page.waitForSelector('table.sweep-children tbody tr');
  assert.equal(await page.textContent('h1'), `Sweep ${sweep.id}`);
});

t.test('the summary names the best child; the table holds every child', async () => {
  const best = await page.textContent('#sweep-best');
  assert.ok(best.includes(`job ${sweep.best.job}`), best);
  assert.ok(best.includes(`${(sweep.best.value * 100).toFixed(2)}%`), best);
  assert.equal(await page.locator('table.sweep-children tbody tr').count(), 5);
  // sorted by the metric, best first, by default
  const first = await page.locator('table.sweep-children tbody tr').first().getAttribute('data-job');
  assert.equal(Number(first), sweep.best.job);
  await screenshot(page, 'sweep');
  await assertControlsLabelled(page);
});

t.test('the table sorts by a setting, both ways', async () => {
  const order = async () => page.locator('table.sweep-children tbody tr').evaluateAll(
    (rows) => rows.map((r) => Number(r.dataset.job)));
  const byLr = [...sweep.children].sort((a, b) => a.settings.learning_rate - b.settings.learning_rate).map((c) => c.job);
  await page.click('button.sort[data-col="s:learning_rate"]');
  assert.deepEqual(await order(), byLr);
  assert.equal(await page.getAttribute('th:has(button[data-col="s:learning_rate"])', 'aria-sort'), 'ascending');
  await page.click('button.sort[data-col="s:learning_rate"]');
  assert.deepEqual(await order(), [...byLr].reverse());
  const byValue = [...sweep.children].sort((a, b) => b.value - a.value || a.index - b.index).map((c) => c.job);
  await page.click('button.sort[data-col="value"]');
  assert.deepEqual(await order(), byValue);
});

t.test('the curves overlay every child and the scatter has a point per child', async () => {
  await page.waitForFunction(() => window.Chart && window.Chart.getChart(document.getElementById('sweep-curves')));
  const curves = await chartPoints(page, 'sweep-curves');
  assert.equal(curves.length, 5);
  for (const n of curves) assert.equal(n, 3); // three epochs each
  const scatter = await chartPoints(page, 'sweep-scatter');
  assert.deepEqual(scatter, [5]);
  await page.selectOption('#scatter-x', 'batch_size');
  await page.waitForFunction(() => window.Chart.getChart(document.getElementById('sweep-scatter'))?.options.scales.x.title.text === 'batch_size');
  assert.deepEqual(await chartPoints(page, 'sweep-scatter'), [5]);
});

t.test('"use the best" registers the best model under a name', async () => {
  await page.fill('#use-best-form input', '9bad');
  await page.click('#use-best');
  await page.waitForSelector('#use-best-result .notice-error');
  assert.equal(await page.getAttribute('#use-best-form input', 'aria-invalid'), 'true');
  await page.fill('#use-best-form input', 'digits-best');
  await page.click('#use-best');
  await page.waitForSelector('#use-best-result a');
  assert.match(await page.textContent('#use-best-result'), /Registered as digits-best version 1/);
  const reg = (await api(daemon.url, 'GET', '/models/digits-best')).data;
  assert.equal(reg.versions.length, 1);
  const best = (await api(daemon.url, 'GET', `/models/${sweep.best.model_id}`)).data;
  assert.equal(reg.versions[0].checksum, best.checksum); // the same model file
  await page.click('#use-best-result a');
  await page.waitForSelector('table.versions-table tbody tr');
});

t.test('the sweep page fits a phone', async () => {
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(`${daemon.url}/#/sweeps/${sweep.id}`);
  await page.waitForSelector('table.sweep-children tbody tr');
  await assertNoHorizontalOverflow(page);
  await screenshot(page, 'sweep-phone');
  await page.setViewportSize({ width: 1280, height: 900 });
});

await t.run();
