// screenshots-before-after.mjs - the same dashboard views of two builds
// (an old commit's and the current one's), for before/after comparisons.
// Run by tools/screenshots-before-after.sh, which builds both trees:
//
//   node tools/screenshots-before-after.mjs OUT_DIR before=OLD_ROOT after=NEW_ROOT
//
// For each side: start ROOT/build/mlpd on a free 127.0.0.1 port with a
// temporary database (data/mnist-digits of this repository linked in),
// train one short job, and save viewport PNGs (the form: full page) (to keep them
// small) at 1280 and 375 px wide as OUT_DIR/<side>-<view>-<width>.png.
// Every wait is bounded; a view whose page lacks an expected element is
// still captured (the old dashboard differs) and reported on stderr.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const WIDTHS = [{ width: 1280, height: 900 }, { width: 375, height: 800 }];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startDaemon(root) {
  const dir = mkdtempSync(join(tmpdir(), 'mlpd-shots-'));
  mkdirSync(join(dir, 'data'));
  symlinkSync(join(REPO, 'data', 'mnist-digits'), join(dir, 'data', 'mnist-digits'));
  const portFile = join(dir, 'port');
  const child = spawn(join(root, 'build', 'mlpd'), ['serve', '--bind', '127.0.0.1', '--port', '0',
    '--port-file', portFile, '--db', join(dir, 't.db'), '--data-dir', join(dir, 'data'),
    '--web-dir', join(root, 'web'), '--migrations', join(root, 'migrations'), '--api-dir', join(root, 'api'),
    '--blas-threads', '1'], { cwd: root, stdio: 'ignore' });
  let exited = false;
  const exit = new Promise((r) => child.on('exit', () => { exited = true; r(); }));
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    await Promise.race([exit, sleep(5000)]);
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 20000;
  while (Date.now() < end && !exited) {
    const port = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8').trim()) : 0;
    const url = `http://127.0.0.1:${port}`;
    if (port > 0 && await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.status === 200).catch(() => false)) return { url, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`mlpd of ${root} not ready within 20 s`);
}

async function api(base, method, path, body) {
  const res = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(10000),
    headers: body ? { 'Content-Type': 'application/json' } : {}, body: body && JSON.stringify(body) });
  return { status: res.status, data: await res.json().catch(() => null) };
}

async function waitJob(base, id, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = (await api(base, 'GET', `/jobs/${id}`)).data;
    if (['succeeded', 'failed', 'cancelled'].includes(j.status)) return j;
    if (Date.now() > end) throw new Error(`job ${id} still ${j.status} after ${timeoutMs} ms`);
    await sleep(300);
  }
}

// Wait for a selector, but take the picture either way.
async function settle(page, selector, what) {
  await page.waitForSelector(selector, { state: 'attached', timeout: 8000 }).catch(() => console.error(`${what}: no ${selector}`));
  await sleep(1200); // charts and polled lists render
}

async function shoot(page, out, side, view, viewport, fullPage = false) {
  const file = join(out, `${side}-${view}-${viewport.width}.png`);
  await page.screenshot({ path: file, fullPage });
  console.log(file);
}

async function side(browser, out, name, root) {
  const d = await startDaemon(root);
  try {
    const dataset = 'mnist-digits';
    // The finished job: two short epochs, small batches (curves with points).
    const r = await api(d.url, 'POST', '/train', { dataset, hidden: [32], epochs: 2, batch_size: 32,
      learning_rate: 0.05, validation_split: 0.1, seed: 3 });
    if (r.status !== 202) throw new Error(`${name}: POST /train ${r.status} ${JSON.stringify(r.data)}`);
    const job = await waitJob(d.url, r.data.id, 120000);
    const page = await browser.newPage();
    page.setDefaultTimeout(10000);
    for (const viewport of WIDTHS) {
      await page.setViewportSize(viewport);
      await page.goto(`${d.url}/#/new`);
      await settle(page, `select[name=dataset] option[value="${dataset}"]`, `${name} form`);
      await page.fill('[name=epochs]', '-1');
      await page.fill('[name=learning_rate]', '0');
      await page.click('button[type=submit]');
      await settle(page, '.field-error:not([hidden])', `${name} form errors`);
      // The whole page here: the errors sit far apart (learning rate, epochs).
      await shoot(page, out, name, 'form-errors', viewport, true);
      // A slow job (wide, one sample a step), pictured in its first epoch.
      const slow = await api(d.url, 'POST', '/train', { dataset, hidden: [1024, 1024, 1024], epochs: 5,
        batch_size: 1 });
      await page.goto(`${d.url}/#/jobs/${slow.data.id}`);
      await settle(page, 'canvas', `${name} job-running`);
      await sleep(4000); // some steps trained and fed
      await shoot(page, out, name, 'job-running', viewport);
      await api(d.url, 'POST', `/jobs/${slow.data.id}/cancel`);
      await waitJob(d.url, slow.data.id, 30000);
      for (const [view, hash, sel] of [
        ['job', `#/jobs/${job.id}`, 'canvas'],
        ['jobs', '#/jobs', 'tr[data-job], tbody tr'],
        ['model', `#/models/${job.model_id}`, 'dl'],
        ['datasets', '#/datasets', `[data-dataset="${dataset}"], figure`],
      ]) {
        await page.goto(`${d.url}/${hash}`);
        await settle(page, sel, `${name} ${view}`);
        await shoot(page, out, name, view, viewport);
      }
    }
    await page.close();
  } finally {
    await d.stop();
  }
}

const [out, ...sides] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  for (const s of sides) {
    const [name, root] = s.split('=');
    await side(browser, out, name, root);
  }
} finally {
  await browser.close();
}
