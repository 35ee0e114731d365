// harness.mjs - a tiny sequential test runner for the browser suites.
//
//   const t = createSuite('dashboard');
//   t.before(async () => {...}); t.after(async () => {...});
//   t.test('name', async () => {...}, {timeoutMs});
//   await t.run();   // prints "ok - name" / "not ok - name: reason",
//                    // then "N passed, N failed"; sets process.exitCode
//
// Tests run in order and share state set up in before(); every test and
// hook has a bounded time. after() hooks always run (they stop the daemon
// and the browser). A failing before() fails every test.
import assert from 'node:assert/strict';

export { assert };

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export function createSuite(name, { defaultTimeoutMs = 60000 } = {}) {
  const tests = []; const befores = []; const afters = [];
  return {
    before: (fn, timeoutMs = 60000) => befores.push({ fn, timeoutMs }),
    after: (fn, timeoutMs = 20000) => afters.push({ fn, timeoutMs }),
    test: (title, fn, { timeoutMs = defaultTimeoutMs } = {}) => tests.push({ title, fn, timeoutMs }),
    async run() {
      let passed = 0; let failed = 0;
      const started = Date.now();
      console.log(`# ${name}: ${tests.length} tests`);
      let setupError = null;
      for (const b of befores) {
        try {
          await withTimeout(Promise.resolve().then(b.fn), b.timeoutMs, 'before()');
        } catch (err) {
          setupError = err;
          console.log(`# setup failed: ${err.stack || err}`);
          break;
        }
      }
      for (const t of tests) {
        const t0 = Date.now();
        try {
          if (setupError) throw new Error(`setup failed: ${setupError.message}`);
          await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs, t.title);
          passed += 1;
          console.log(`ok - ${t.title} (${Date.now() - t0} ms)`);
        } catch (err) {
          failed += 1;
          console.log(`not ok - ${t.title} (${Date.now() - t0} ms)\n  ${String(err.stack || err).split('\n').slice(0, 6).join('\n  ')}`);
        }
      }
      for (const a of afters) {
        try {
          await withTimeout(Promise.resolve().then(a.fn), a.timeoutMs, 'after()');
        } catch (err) {
          console.log(`# teardown: ${err.message}`);
        }
      }
      console.log(`# ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
      console.log(`${passed} passed, ${failed} failed`);
      process.exitCode = failed ? 1 : 0;
      return { passed, failed };
    },
  };
}
