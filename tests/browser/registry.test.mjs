// registry.test.mjs - a registered model's page against a real daemon: two
// versions of one name (uploaded through the API) side by side with their
// metrics and serving figures, an alias moved with its button after a
// confirmation (a dismissed confirmation moves nothing), and the canary
// share set and ended from the page. Screenshots go to tests/browser/output/.
import { createSuite, assert } from './lib/harness.mjs';
import { api, startDaemon, trainAndWait } from './lib/daemon.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { assertControlsLabelled, assertNoHorizontalOverflow } from './lib/page-checks.mjs';

const t = createSuite('registry', { defaultTimeoutMs: 60000 });
let daemon; let browser; let page;
const NAME = 'digits';

t.before(async () => {
  daemon = await startDaemon();
  browser = await launchBrowser();
  page = browser.page;
  // Two jobs under one name: versions 1 and 2 with their own test metrics.
  for (const seed of [1, 2]) {
    const job = await trainAndWait(daemon.url, { dataset: daemon.dataset, model_name: NAME, hidden: [16],
      epochs: 1, seed, learning_rate: 0.05 });
    assert.equal(job.status, 'succeeded', `setup job: ${JSON.stringify(job)}`);
  }
  const r = await api(daemon.url, 'PUT', `/models/${NAME}/aliases/production`, { version: 1 });
  assert.equal(r.status, 200);
  // Serve a few rows by version 1 so its serving figures are not empty.
  const row = Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
  for (let i = 0; i < 3; i++) {
    const p = await api(daemon.url, 'POST', '/predict', { model: `${NAME}@production`, input: row });
    assert.equal(p.status, 200);
    assert.equal(p.data.model_version, 1);
  }
}, 180000);
t.after(async () => {
  await browser?.close();
  await daemon?.stop();
});

t.test('the models page links each model to its name and version', async () => {
  await page.goto(`${daemon.url}/#/models`);
  const link = page.locator(`a[title="Versions of ${NAME}"]`).first();
  await link.waitFor();
  assert.match(await link.textContent(), /^digits v[12]$/);
  await link.click();
  await page.waitForSelector('table.versions-table tbody tr');
  assert.equal(await page.textContent('h1'), `Model ${NAME}`);
});

t.test('versions sit side by side with their metrics, aliases and serving figures', async () => {
  const rows = page.locator('table.versions-table tbody tr');
  assert.equal(await rows.count(), 2);
  const reg = (await api(daemon.url, 'GET', `/models/${NAME}`)).data;
  for (const m of reg.versions) {
    const text = await page.locator(`tr[data-version="${m.version}"]`).textContent();
    assert.ok(text.includes(`v${m.version}`), text);
    assert.ok(text.includes(`${(m.metrics.test_accuracy * 100).toFixed(2)}%`), `${text} lacks its accuracy`);
    assert.match(text, /784 → 16 relu → 10 softmax/);
  }
  const v1 = await page.locator('tr[data-version="1"]').textContent();
  assert.match(v1, /production/);
  const cell = (v, label) => page.locator(`tr[data-version="${v}"] td[data-label="${label}"]`).textContent();
  assert.equal(await cell(1, 'Rows served'), '3');
  assert.match(await cell(1, 'Mean latency'), /^\d+\.\d\d ms$/);
  assert.equal(await cell(2, 'Rows served'), '0'); // listed by the statistics, never served
  assert.match(await page.textContent('#default-version'), /v1 \(alias "production"\)/);
  await screenshot(page, 'registry');
  await assertControlsLabelled(page);
});

t.test('moving an alias asks first; dismissing moves nothing, accepting moves it', async () => {
  const li = page.locator('li[data-alias="production"]');
  await li.locator('select').selectOption('2');
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.dismiss(); });
  await li.locator('button').click();
  await page.waitForTimeout(300);
  assert.match(asked, /Move alias "production" of digits from v1 to v2\?/);
  assert.equal((await api(daemon.url, 'GET', `/models/${NAME}`)).data.aliases.production, 1);
  page.once('dialog', (d) => d.accept());
  await page.locator('li[data-alias="production"] button').click();
  await page.waitForFunction(() => /v2/.test(document.querySelector('#default-version')?.textContent || ''));
  assert.equal((await api(daemon.url, 'GET', `/models/${NAME}`)).data.aliases.production, 2);
  assert.match(await page.locator('tr[data-version="2"]').textContent(), /production/);
});

t.test('the canary share is set and ended from the page', async () => {
  const form = page.locator('.canary-form');
  await form.locator('select').selectOption('1');
  await form.locator('input[type=number]').fill('25');
  page.once('dialog', (d) => d.accept());
  await form.locator('button').click();
  await page.waitForFunction(() => /v1 gets 25%/.test(document.querySelector('#canary-share')?.textContent || ''));
  const reg = (await api(daemon.url, 'GET', `/models/${NAME}`)).data;
  assert.deepEqual(reg.canary, { version: 1, percent: 25 });
  assert.match(await page.locator('tr[data-version="1"]').textContent(), /canary 25%/);
  await page.locator('.canary-form input[type=number]').fill('0');
  page.once('dialog', (d) => d.accept());
  await page.locator('.canary-form button').click();
  await page.waitForFunction(() => /No canary/.test(document.querySelector('#canary-share')?.textContent || ''));
  assert.equal((await api(daemon.url, 'GET', `/models/${NAME}`)).data.canary, null);
});

t.test('the page fits a phone', async () => {
  await page.setViewportSize({ width: 390, height: 800 });
  await page.reload();
  await page.waitForSelector('table.versions-table tbody tr');
  await assertNoHorizontalOverflow(page);
  await screenshot(page, 'registry-phone');
  await page.setViewportSize({ width: 1280, height: 900 });
});

await t.run();
