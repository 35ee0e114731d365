// node_fetch_refusals.test.mjs - Node's own fetch (undici) against early
// refusals: a 413 decided from Content-Length on /predict and a 415 decided
// from Content-Type on /models, for bodies the client sends anyway. The
// daemon reads and drops such a body (up to 8 MiB) before answering and
// closing (a lingering close), so fetch gets the answer instead of EPIPE
// (before: with 6 MB unread, "fetch failed" 3 of 3 tries; checked by
// running this suite against the previous binary).
import { createSuite, assert } from './lib/harness.mjs';
import { startDaemon } from './lib/daemon.mjs';

const t = createSuite('node_fetch_refusals', { defaultTimeoutMs: 30000 });
let daemon;

t.before(async () => {
  daemon = await startDaemon({ extraArgs: ['--max-predict-body', '64K'] });
});
t.after(async () => { await daemon?.stop(); });

async function post(path, type, bytes) {
  const res = await fetch(`${daemon.url}${path}`, { method: 'POST', headers: { 'Content-Type': type },
    body: new Uint8Array(bytes).fill(55) });
  return { status: res.status, type: res.headers.get('content-type'), problem: await res.json() };
}

t.test('a 413 from Content-Length reaches fetch, 3 of 3', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await post('/predict', 'application/json', 6 << 20);
    assert.equal(r.status, 413);
    assert.equal(r.type, 'application/problem+json');
    assert.equal(r.problem.type, '/problems/body-too-large');
  }
});

t.test('a 415 from Content-Type reaches fetch, 3 of 3', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await post('/models', 'text/plain', 6 << 20);
    assert.equal(r.status, 415);
    assert.equal(r.problem.status, 415);
  }
});

await t.run();
