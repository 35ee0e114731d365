// check-responses.mjs - validates live answers of the daemon against
// api/openapi.yaml, so that the document and the server cannot drift apart.
//
//   node tests/contract/check-responses.mjs LOG.jsonl [more.jsonl ...]
//
// The log is what the integration harness records when $MLPD_CONTRACT_LOG is
// set (tests/integration/common/contract_log.h): one exchange per line. For
// each exchange:
//   - the path is matched to the document's path templates (the template with
//     the most literal characters wins, as /v2/models/stats beats
//     /v2/models/{name});
//   - the method to the path item's operation; HEAD uses GET's operation (the
//     document's convention: HEAD answers wherever GET does, without a body);
//     a method the path item lacks must be answered as
//     the document's x-refusals/method-not-allowed, and a path no template matches as
//     x-refusals/no-route;
//   - the status must be documented (exactly, or as 4XX/5XX, or `default`);
//   - the Content-Type must be one the response lists (a response without
//     `content` must come without a body), and a JSON body (application/json
//     or */*+json) must validate against its schema with ajv (JSON Schema
//     2020-12, the dialect of OpenAPI 3.1);
//   - headers the response marks `required` must be present.
// Prints one line per distinct failure (with a count and one example) and a
// table of what was covered, then "N passed, N failed" where each distinct
// (method, template, status) combination seen is one check.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SPEC_ID = 'mlpd-openapi';
// RFC 3339 date-time (the only format the document uses).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function loadSpec(file = join(REPO, 'api', 'openapi.yaml')) {
  return YAML.parse(readFileSync(file, 'utf8'));
}

// A matcher per path template: literal text escaped, {param} one segment part.
function compileTemplates(spec) {
  return Object.keys(spec.paths).map((template) => {
    let literal = 0;
    const source = template.split(/(\{[^}]+\})/).map((part) => {
      if (/^\{[^}]+\}$/.test(part)) return '([^/]+)';
      literal += part.length;
      return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    }).join('');
    return { template, literal, re: new RegExp(`^${source}$`) };
  }).sort((a, b) => b.literal - a.literal);
}

function resolveRef(spec, node) {
  while (node && node.$ref) {
    const parts = node.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    node = parts.reduce((o, k) => (o ? o[k] : undefined), spec);
  }
  return node;
}

function mediaMatches(documented, actual) {
  if (documented === actual || documented === '*/*') return true;
  const [dt, ds] = documented.split('/');
  const [at] = actual.split('/');
  return ds === '*' && dt === at;
}

const isJson = (type) => type === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(type);

export function makeChecker(spec) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true, validateSchema: false });
  ajv.addFormat('date-time', DATE_TIME);
  ajv.addSchema({ ...spec, $id: SPEC_ID });
  const templates = compileTemplates(spec);
  const validators = new Map();

  function validatorFor(pointer) {
    if (!validators.has(pointer)) validators.set(pointer, ajv.getSchema(`${SPEC_ID}#${pointer}`));
    return validators.get(pointer);
  }

  // -> {key: "GET /jobs/{id} 200", errors: [...]} for one recorded exchange.
  return function check(x) {
    const errors = [];
    const method = x.method.toUpperCase();
    const path = x.path.split('?')[0];
    const hit = templates.find((t) => t.re.test(path));
    let response;
    let pointer;
    let key;
    if (!hit) {
      key = `${method} (no documented path) ${x.status}`;
      pointer = '/x-refusals/no-route';
      if (x.status !== 404) errors.push(`a path no template matches answered ${x.status}, not 404`);
    } else {
      const item = spec.paths[hit.template];
      const opName = method === 'HEAD' && !item.head ? 'get' : method.toLowerCase();
      const op = item[opName];
      key = `${method} ${hit.template} ${x.status}`;
      if (!op) {
        pointer = '/x-refusals/method-not-allowed';
        if (x.status !== 405) errors.push(`method not in the path item answered ${x.status}, not 405`);
      } else {
        const base = `/paths/${hit.template.replace(/~/g, '~0').replace(/\//g, '~1')}/${opName}/responses`;
        const s = String(x.status);
        const code = [s, `${s[0]}XX`, 'default'].find((c) => op.responses && op.responses[c]);
        if (!code) errors.push(`status ${x.status} is not documented`);
        else pointer = `${base}/${code}`;
      }
    }
    if (pointer) {
      const parts = pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
      response = resolveRef(spec, parts.reduce((o, k) => (o ? o[k] : undefined), spec));
      if (!response) errors.push(`${pointer} is missing from the document`);
    }
    if (response) checkResponse(x, method, response, pointer, errors);
    return { key, errors };
  };

  function checkResponse(x, method, response, pointer, errors) {
    const headers = x.headers || {};
    for (const [name, h] of Object.entries(response.headers || {})) {
      const header = resolveRef(spec, h);
      if (header && header.required && !(name.toLowerCase() in headers)) errors.push(`required header ${name} is missing`);
    }
    const type = (headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    const hasBody = method !== 'HEAD' && (x.body === undefined ? true : x.body.length > 0);
    const content = response.content;
    if (!content) {
      if (hasBody) errors.push(`a body (${type || 'no Content-Type'}) where the document lists none`);
      return;
    }
    if (!hasBody && method !== 'HEAD' && x.status !== 304) {
      errors.push('no body where the document lists content');
      return;
    }
    const media = Object.keys(content).find((m) => mediaMatches(m.split(';')[0].trim().toLowerCase(), type));
    if (!media) {
      errors.push(`Content-Type ${type || '(none)'} is not among ${Object.keys(content).join(', ')}`);
      return;
    }
    if (method === 'HEAD' || !isJson(type) || x.body === undefined || !content[media].schema) return;
    let value;
    try {
      value = JSON.parse(x.body);
    } catch (e) {
      errors.push(`${type} body is not JSON: ${e.message}`);
      return;
    }
    const esc = media.replace(/~/g, '~0').replace(/\//g, '~1');
    const target = `${refTarget(pointer)}/content/${esc}/schema`;
    const validate = validatorFor(target);
    if (!validate) {
      errors.push(`no schema at ${target}`);
      return;
    }
    if (!validate(value)) {
      for (const e of validate.errors.slice(0, 4)) errors.push(`body${e.instancePath} ${e.message} (${e.schemaPath})`);
    }
  }

  // The pointer of the response object itself once $refs are followed.
  function refTarget(pointer) {
    let p = pointer;
    for (;;) {
      const parts = p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
      const node = parts.reduce((o, k) => (o ? o[k] : undefined), spec);
      if (!node || !node.$ref) return p;
      p = node.$ref.replace(/^#/, '');
    }
  }
}

function main(files) {
  if (!files.length) {
    console.error('usage: check-responses.mjs LOG.jsonl ...');
    process.exit(2);
  }
  const check = makeChecker(loadSpec());
  const seen = new Map(); // key -> {count, failures: Map(error -> {count, example})}
  let exchanges = 0;
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const x = JSON.parse(line);
      exchanges++;
      const { key, errors } = check(x);
      if (!seen.has(key)) seen.set(key, { count: 0, failures: new Map() });
      const s = seen.get(key);
      s.count++;
      for (const e of errors) {
        const f = s.failures.get(e) || { count: 0, example: `${x.test}: ${x.method} ${x.path}` };
        f.count++;
        s.failures.set(e, f);
      }
    }
  }
  let passed = 0;
  let failed = 0;
  for (const [key, s] of [...seen.entries()].sort()) {
    if (s.failures.size === 0) {
      passed++;
      console.log(`ok    ${key}  (${s.count})`);
      continue;
    }
    failed++;
    console.log(`FAIL  ${key}  (${s.count})`);
    for (const [e, f] of s.failures) console.log(`        ${e}  [${f.count}x, e.g. ${f.example}]`);
  }
  console.log(`${exchanges} exchanges checked against api/openapi.yaml`);
  if (exchanges === 0) failed++;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
