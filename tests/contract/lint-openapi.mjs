// lint-openapi.mjs - Redocly's linter (@redocly/openapi-core, its
// `recommended` rules) over api/openapi.yaml: every error and every warning
// fails, so the document stays clean as it grows.
//
//   node tests/contract/lint-openapi.mjs [file]
// Prints each problem with its rule and JSON pointer, then "N passed, N failed"
// (one check: the document).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lint, loadConfig } from '@redocly/openapi-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const file = process.argv[2] || join(REPO, 'api', 'openapi.yaml');
const config = await loadConfig({});
let problems;
try {
  problems = await lint({ ref: file, config });
} catch (e) { // not YAML at all: one line saying where
  console.log(`${file}: ${String(e.message).split('\n')[0]}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
for (const p of problems) {
  const where = (p.location && p.location[0] && p.location[0].pointer) || '';
  console.log(`${p.severity} ${p.ruleId}: ${p.message} ${where}`);
}
console.log(`${file}: ${problems.length} problems (Redocly recommended rules)`);
console.log(problems.length ? '0 passed, 1 failed' : '1 passed, 0 failed');
process.exit(problems.length ? 1 : 0);
