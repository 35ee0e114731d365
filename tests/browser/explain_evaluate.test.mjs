// explain_evaluate.test.mjs - understanding a model in the dashboard, against
// a real daemon: the attribution heatmap of a drawn digit (and its method
// selector), a test sample explained, the evaluation report (confusion
// matrix in counts and row-normalised, per-class table, gallery of the worst
// misclassified examples with their heatmaps), and two jobs compared.
// What the page shows is checked against the API's own answers.
// Screenshots go to tests/browser/output/.
import { createSuite, assert } from './lib/harness.mjs';
import { api, startDaemon, trainAndWait } from './lib/daemon.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { assertControlsLabelled, assertNoHorizontalOverflow, chartPoints, realErrors } from './lib/page-checks.mjs';

const t = createSuite('explain_evaluate', { defaultTimeoutMs: 60000 });
let daemon; let browser; let page; let jobA; let jobB;

t.before(async () => {
  daemon = await startDaemon();
  browser = await launchBrowser();
  page = browser.page;
  jobA = await trainAndWait(daemon.url, { dataset: daemon.dataset, hidden: [64], epochs: 3, seed: 1,
    optimizer: 'adam', learning_rate: 0.001, batch_size: 32 });
  jobB = await trainAndWait(daemon.url, { dataset: daemon.dataset, hidden: [32], epochs: 2, seed: 2,
    optimizer: 'sgd', learning_rate: 0.1, batch_size: 64, validation_split: 0.1 });
  assert.equal(jobA.status, 'succeeded', `job A: ${JSON.stringify(jobA)}`);
  assert.equal(jobB.status, 'succeeded', `job B: ${JSON.stringify(jobB)}`);
}, 150000);
t.after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// The next POST /explain the page makes: its body and answer.
function nextExplain() {
  return page.waitForResponse((r) => r.url().endsWith('/explain') && r.request().method() === 'POST')
    .then(async (r) => ({ body: JSON.parse(r.request().postData()), answer: await r.json() }));
}

// The RGB of heatmap pixel i (canvas#id, 28x28 bitmap).
function heatPixel(id, i) {
  return page.evaluate(([cid, k]) => {
    const d = document.getElementById(cid).getContext('2d').getImageData(k % 28, Math.floor(k / 28), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, [id, i]);
}

t.test('a drawn digit is explained: heatmap, legend, and the method selector', async () => {
  await page.goto(`${daemon.url}/#/models/${jobA.model_id}`);
  await page.waitForSelector('#draw-pad');
  const box = await page.locator('#draw-pad').boundingBox();
  const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
  // Every explanation the page asks for; the one shown is the last answered
  // (the panel drops answers to older drawings).
  const seen = [];
  const record = async (r) => {
    if (r.url().endsWith('/explain') && r.request().method() === 'POST') {
      seen.push({ body: JSON.parse(r.request().postData()), answer: await r.json() });
    }
  };
  page.on('response', record);
  await page.mouse.move(...at(0.3, 0.25));
  await page.mouse.down();
  await page.mouse.move(...at(0.7, 0.25), { steps: 10 });
  await page.mouse.move(...at(0.45, 0.8), { steps: 15 });
  await page.mouse.up();
  await page.waitForSelector('#explain-heatmap');
  await page.waitForLoadState('networkidle');
  page.off('response', record);
  assert.ok(seen.length >= 1);
  const { body, answer } = seen[seen.length - 1];
  assert.equal(body.method, 'integrated_gradients');
  assert.equal(body.input.length, 784);
  const p = answer.predictions[0];
  assert.equal(p.attributions.length, 784);
  assert.equal(p.target, Number(await page.getAttribute('#prediction .digit', 'data-label')));
  // The scale is the largest |attribution|; the strongest pixel for is red,
  // the strongest against is blue.
  const attr = p.attributions;
  const scale = Math.max(...attr.map(Math.abs));
  assert.ok(Math.abs(Number(await page.getAttribute('#explain-heatmap', 'data-scale')) - scale) <= 1e-6 * scale);
  const [r1, , b1] = await heatPixel('explain-heatmap', attr.indexOf(Math.max(...attr)));
  assert.ok(r1 > b1 + 50, `the most positive pixel is red: ${r1} vs ${b1}`);
  if (Math.min(...attr) < -0.05 * scale) {
    const [r2, , b2] = await heatPixel('explain-heatmap', attr.indexOf(Math.min(...attr)));
    assert.ok(b2 > r2 + 20, `the most negative pixel is blue: ${r2} vs ${b2}`);
  }
  assert.equal(await page.locator('#explain-result .heat-legend').count(), 1);
  assert.match(await page.textContent('#explain-result'), /convergence delta/);
  await screenshot(page, 'explain-drawn-digit');
  // Another method: a new request, a new caption.
  const again = nextExplain();
  await page.selectOption('#explain-method', 'saliency');
  const second = await again;
  assert.equal(second.body.method, 'saliency');
  assert.deepEqual(second.body.input, body.input);
  await page.waitForFunction(() => /Saliency/.test(document.querySelector('#explain-result figcaption')?.textContent || ''));
  assert.doesNotMatch(await page.textContent('#explain-result'), /convergence delta/);
  await assertControlsLabelled(page);
});

t.test('a test sample picked by index is shown with its heatmap', async () => {
  await page.fill('#sample-index', '5');
  const explained = nextExplain();
  await page.click('#sample-show');
  const { answer } = await explained;
  await page.waitForSelector('#sample-heatmap');
  const sample = (await api(daemon.url, 'GET', `/datasets/${daemon.dataset}/samples?split=test&index=5`)).data.samples[0];
  assert.match(await page.textContent('#sample-result'), new RegExp(`label ${sample.label}`));
  const verdict = await page.textContent('#sample-verdict');
  assert.match(verdict, new RegExp(`Predicted ${answer.predictions[0].label} `));
  assert.match(verdict, answer.predictions[0].label === sample.label ? /right/ : /wrong/);
  await screenshot(page, 'explain-test-sample');
});

t.test('the evaluation report: confusion matrix, per-class table, misclassified gallery', async () => {
  const ev = (await api(daemon.url, 'GET', `/models/${jobA.model_id}/evaluation`)).data;
  await page.waitForSelector('#confusion');
  const cells = await page.$$eval('#confusion td.cm-cell', (tds) => tds.map((td) => [
    Number(td.dataset.true), Number(td.dataset.predicted), Number(td.dataset.count), td.textContent]));
  assert.equal(cells.length, 100);
  for (const [tr, pr, count, text] of cells) {
    assert.equal(count, ev.confusion[tr][pr]);
    assert.equal(text, String(count));
  }
  await page.check('#confusion-normalise');
  const shares = await page.$$eval('#confusion tbody tr', (trs) => trs.map((tr) =>
    [...tr.querySelectorAll('td')].reduce((s, td) => s + parseFloat(td.textContent), 0)));
  for (const [i, s] of shares.entries()) {
    if (ev.confusion[i].some((v) => v > 0)) assert.ok(Math.abs(s - 100) <= 6, `row ${i} sums to ${s}%`);
  }
  const perClass = await page.$$eval('#per-class tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.equal(perClass.length, 12);
  assert.match(perClass[10], /macro average/);
  const wantItems = Math.min(8, ev.worst_misclassified.length);
  await page.waitForFunction((n) => document.querySelectorAll('#misclassified canvas.heatmap').length === n,
    wantItems, { timeout: 30000 });
  const first = ev.worst_misclassified[0];
  const firstText = await page.textContent(`#misclassified li[data-index="${first.index}"]`);
  assert.match(firstText, new RegExp(`true ${first.label} → predicted ${first.predicted}`));
  await screenshot(page, 'evaluation-report');
});

t.test('two jobs compared: curves overlaid, differing configuration, metrics side by side', async () => {
  await page.goto(`${daemon.url}/#/jobs`);
  await page.waitForSelector(`tr[data-job="${jobB.id}"]`);
  await page.check(`input[aria-label="compare job ${jobA.id}"]`);
  await page.check(`input[aria-label="compare job ${jobB.id}"]`);
  await page.click('#compare-btn');
  await page.waitForSelector('#compare-metrics');
  assert.match(page.url(), new RegExp(`#/compare\\?jobs=${jobA.id},${jobB.id}$`));
  // A: 3 epochs of training curves; B: 2 epochs of training and validation.
  assert.deepEqual(await chartPoints(page, 'compare-loss'), [3, 2, 2]);
  assert.deepEqual(await chartPoints(page, 'compare-accuracy'), [3, 2, 2]);
  const members = await page.$$eval('#config-diff tbody tr', (trs) => trs.map((tr) => tr.dataset.member));
  for (const m of ['hidden', 'optimizer', 'learning_rate', 'epochs', 'batch_size', 'seed', 'validation_split']) {
    assert.ok(members.includes(m), `${m} is listed among ${members}`);
  }
  assert.ok(!members.includes('dataset'), 'equal members are not listed');
  const acc = await page.$$eval('#compare-metrics tbody tr', (trs) => {
    const row = trs.find((tr) => tr.querySelector('th').textContent === 'Test accuracy');
    return [...row.querySelectorAll('td')].map((td) => parseFloat(td.textContent));
  });
  [jobA, jobB].forEach((j, i) => assert.ok(Math.abs(acc[i] - j.test_accuracy * 100) <= 0.006,
    `job ${j.id}: page ${acc[i]}%, API ${j.test_accuracy}`));
  await screenshot(page, 'compare-jobs');
  await page.setViewportSize({ width: 375, height: 740 });
  await page.waitForTimeout(200);
  await assertNoHorizontalOverflow(page);
  await screenshot(page, 'phone-compare');
  await page.setViewportSize({ width: 1280, height: 900 });
  // A deep link with one job is refused with a message.
  await page.goto(`${daemon.url}/#/compare?jobs=${jobA.id}`);
  await page.waitForSelector('.notice-error');
  assert.deepEqual(realErrors(browser.errors), []);
});

await t.run();
