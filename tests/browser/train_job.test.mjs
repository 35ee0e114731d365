// train_job.test.mjs - the dashboard against a real daemon: the new-job form
// (a refused value shown next to its field; a small job submitted), the
// job's page (curves gaining points live, reaching succeeded), the jobs
// list, and cancelling a job from its page. Screenshots go to
// tests/browser/output/.
import { createSuite, assert } from './lib/harness.mjs';
import { startDaemon, api } from './lib/daemon.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { assertControlsLabelled, chartPoints, realErrors } from './lib/page-checks.mjs';

const t = createSuite('train_job', { defaultTimeoutMs: 60000 });
let daemon; let browser; let page; let jobId;

t.before(async () => {
  daemon = await startDaemon();
  browser = await launchBrowser();
  page = browser.page;
});
t.after(async () => {
  await browser?.close();
  await daemon?.stop();
});

t.test('the form shows every option with its default, all labelled', async () => {
  await page.goto(`${daemon.url}/#/new`);
  await page.waitForSelector(`select[name=dataset] option[value="${daemon.dataset}"]`, { state: 'attached' });
  for (const name of ['dataset', 'hidden', 'activation', 'output_activation', 'loss', 'init', 'optimizer',
    'learning_rate', 'momentum', 'nesterov', 'beta1', 'beta2', 'epsilon', 'batch_size', 'epochs',
    'validation_split', 'l1', 'l2', 'dropout', 'shuffle', 'seed', 'early_stopping.patience',
    'early_stopping.min_delta', 'early_stopping.restore_best_weights', 'warm_start_model']) {
    assert.equal(await page.locator(`[name="${name}"]`).count(), 1, `field ${name}`);
  }
  assert.match(await page.textContent('[data-field=epochs] .field-hint'), /Default: 10/);
  assert.match(await page.textContent('[data-field=learning_rate] .field-hint'), /Default: 0\.01/);
  assert.match(await page.textContent('[data-field=hidden] .field-hint'), /Default: 512, 256/);
  await assertControlsLabelled(page);
});

t.test("a value out of the recipe's limits is shown next to its field", async () => {
  await page.fill('[name=epochs]', '-1');
  await page.click('button[type=submit]');
  const error = page.locator('[data-field=epochs] .field-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /^Epochs must be/);
  assert.equal(await page.getAttribute('[name=epochs]', 'aria-invalid'), 'true');
  // The message is tied to the field for screen readers, and focus went there.
  const described = await page.getAttribute('[name=epochs]', 'aria-describedby');
  assert.ok(described.split(' ').includes(await error.getAttribute('id')));
  assert.equal(await page.evaluate(() => document.activeElement.name), 'epochs');
  assert.match(page.url(), /#\/new$/);
  await screenshot(page, 'new-job-error');

  // A pointer into an array ("/hidden/1") lands on the hidden-layers field.
  await page.fill('[name=epochs]', '2');
  await page.fill('[name=hidden]', '32, 0');
  await page.click('button[type=submit]');
  await page.locator('[data-field=hidden] .field-error').waitFor({ state: 'visible' });
  assert.equal(await page.locator('[data-field=epochs] .field-error').isVisible(), false);
});

t.test('a small job submitted from the form trains, its curves gaining points', async () => {
  await page.fill('[name=hidden]', '32');
  await page.fill('[name=epochs]', '2');
  await page.fill('[name=batch_size]', '64');
  await page.fill('[name=validation_split]', '0.1');
  await page.fill('[name=seed]', '7');
  // Sample the loss chart's training points as the page runs (the view is
  // mounted in this same document: hash navigation).
  await page.evaluate(() => {
    window.pointsSeen = [];
    setInterval(() => {
      const c = document.getElementById('chart-loss');
      const chart = c && window.Chart.getChart(c);
      if (!chart) return;
      const n = chart.data.datasets[0].data.length;
      if (window.pointsSeen[window.pointsSeen.length - 1] !== n) window.pointsSeen.push(n);
    }, 20);
  });
  await page.click('button[type=submit]');
  await page.waitForURL(/#\/jobs\/\d+$/);
  jobId = Number(/#\/jobs\/(\d+)$/.exec(page.url())[1]);
  await page.waitForFunction(() => /succeeded|failed|cancelled/.test(document.querySelector('.title-badge .badge')?.textContent),
    null, { timeout: 60000 });
  const ended = (await api(daemon.url, 'GET', `/jobs/${jobId}`)).data;
  assert.equal(await page.textContent('.title-badge .badge'), 'succeeded', `job ended ${ended.status}: ${ended.error}`);
  // Both epochs, training and validation, on both charts and in the table.
  await page.waitForFunction(() => document.querySelectorAll('#epoch-table tbody tr').length === 2, null, { timeout: 10000 });
  assert.deepEqual((await chartPoints(page, 'chart-loss')).slice(0, 2), [2, 2]);
  const seen = await page.evaluate(() => window.pointsSeen);
  assert.ok(seen[0] < 2 && seen[seen.length - 1] === 2 && seen.every((n, i) => i === 0 || n > seen[i - 1]),
    `training points over time: ${seen}`);
  assert.deepEqual((await chartPoints(page, 'chart-accuracy')).slice(0, 2), [2, 2]);
  const values = await page.evaluate(() => window.Chart.getChart(document.getElementById('chart-accuracy'))
    .data.datasets[0].data.map((p) => p.y));
  assert.ok(values.every((v) => v > 0.1 && v <= 1), `accuracy ${values}`);
  // The learning rate in effect, one series: the form's constant 0.01.
  assert.deepEqual(await chartPoints(page, 'chart-lr'), [2]);
  const rates = await page.evaluate(() => window.Chart.getChart(document.getElementById('chart-lr'))
    .data.datasets[0].data.map((p) => p.y));
  assert.ok(rates.every((v) => Math.abs(v - 0.01) < 1e-6), `learning rates ${rates}`);
  // The job resource agrees with the page.
  const job = (await api(daemon.url, 'GET', `/jobs/${jobId}`)).data;
  assert.equal(job.status, 'succeeded');
  assert.equal(job.config.epochs, 2);
  assert.deepEqual(job.config.hidden, [32]);
  assert.equal(await page.getAttribute('a.btn-primary[href^="#/models/"]', 'href'), `#/models/${job.model_id}`);
  assert.equal(await page.evaluate(() => document.getElementById('job-progress').value), 1);
  await page.click('summary:has-text("Per-epoch values")');
  await screenshot(page, 'job-succeeded');
  assert.deepEqual(realErrors(browser.errors), []);
});

t.test('the jobs list shows the job, its status and progress, and refreshes itself', async () => {
  await page.goto(`${daemon.url}/#/jobs`);
  const row = page.locator(`tr[data-job="${jobId}"]`);
  await row.waitFor();
  assert.equal(await row.locator('.badge').textContent(), 'succeeded');
  assert.equal(await row.locator('progress').evaluate((p) => p.value), 1);
  // A job submitted elsewhere appears without reloading the page.
  const r = await api(daemon.url, 'POST', '/train', { hidden: [16], epochs: 1, dataset: daemon.dataset });
  assert.equal(r.status, 202);
  await page.locator(`tr[data-job="${r.data.id}"]`).waitFor({ timeout: 10000 });
  await page.waitForFunction((id) => document.querySelector(`tr[data-job="${id}"] .badge`)?.textContent === 'succeeded',
    r.data.id, { timeout: 30000 });
  await screenshot(page, 'jobs');
});

t.test('a running job is followed by its event stream, or by polling without it, and cancelled', async () => {
  // Big enough to still be training while the page is looked at.
  const r = await api(daemon.url, 'POST', '/train', { hidden: [256, 128], epochs: 500, batch_size: 32,
    dataset: daemon.dataset });
  assert.equal(r.status, 202);
  const id = r.data.id;
  const seen = [];
  const track = (req) => { const m = /\/jobs\/\d+\/(events|metrics)/.exec(req.url()); if (m) seen.push(m[1]); };
  const events = /\/jobs\/\d+\/events/;
  page.on('request', track);
  try {
    // The stream refused: the page says so and polls ?since= for its curves.
    await page.route(events, (route) => route.fulfill({ status: 404, contentType: 'application/problem+json',
      body: '{"type":"about:blank","title":"Not Found","status":404}' }));
    await page.goto(`${daemon.url}/#/jobs/${id}`);
    await page.waitForFunction(() => document.querySelector('.feed-mode')?.textContent === 'Live: polling',
      null, { timeout: 30000 });
    await page.waitForFunction(() => window.Chart.getChart(document.getElementById('chart-loss'))
      .data.datasets[0].data.length >= 1, null, { timeout: 30000 });
    assert.ok(seen.includes('metrics'), `requests: ${seen}`);
    await page.unroute(events);

    // With the stream: no metrics polling while it flows.
    await page.goto('about:blank');
    seen.length = 0;
    await page.goto(`${daemon.url}/#/jobs/${id}`);
    await page.waitForFunction(() => document.querySelector('.feed-mode')?.textContent === 'Live: event stream',
      null, { timeout: 30000 });
    await page.waitForFunction(() => window.Chart.getChart(document.getElementById('chart-loss'))
      .data.datasets[0].data.length >= 1, null, { timeout: 30000 });
    assert.ok(seen.includes('events') && !seen.includes('metrics'), `requests: ${seen}`);
    assert.equal(await page.textContent('.title-badge .badge'), 'running');
    await screenshot(page, 'job-running');
  } finally {
    page.off('request', track);
    await page.unroute(events);
  }
  await page.click('#cancel-job');
  await page.waitForFunction(() => document.querySelector('.title-badge .badge')?.textContent === 'cancelled',
    null, { timeout: 30000 });
  assert.equal(await page.locator('#cancel-job').count(), 0);
  assert.equal((await api(daemon.url, 'GET', `/jobs/${id}`)).data.status, 'cancelled');
});

t.test('"New job from this configuration" copies the options', async () => {
  await page.goto(`${daemon.url}/#/new?from=${jobId}`);
  await page.waitForSelector('.form-alert .notice');
  assert.equal(await page.inputValue('[name=hidden]'), '32');
  assert.equal(await page.inputValue('[name=epochs]'), '2');
  assert.equal(await page.inputValue('[name=seed]'), '7');
});

await t.run();
