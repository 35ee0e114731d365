// views/registered-model.js - #/registry/{name}: one registered model's
// versions with their metrics and serving figures side by side, its aliases
// (each moved with a button, after a confirmation) and its canary share.
import { h, notice, replaceChildren, uid } from '../dom.js';
import { archSummary, fmtInt, fmtNum, fmtPct, fmtTime } from '../format.js';
import { objectField } from './models-list.js';

const COLUMNS = ['Version', 'Aliases', 'Architecture', 'Parameters', 'Test accuracy', 'Test loss',
  'Val. accuracy', 'Rows served', 'Mean latency', 'Job', 'Created'];

// Serving figures of version v from the v2 statistics ({name, version, ...}).
function servingOf(stats, v) {
  const s = stats.find((e) => String(e.version) === String(v));
  if (!s) return { rows: null, latencyMs: null };
  const ok = s.inference_stats && s.inference_stats.success;
  const latencyMs = ok && ok.count > 0 ? ok.ns / ok.count / 1e6 : null;
  return { rows: s.inference_count, latencyMs };
}

function versionRow(m, aliasesOf, stats, canary) {
  const metrics = objectField(m, 'metrics') || {};
  const serving = servingOf(stats, m.version);
  const tags = (aliasesOf[m.version] || []).map((a) => h('span', { class: 'badge', text: a }));
  if (canary && canary.version === m.version) tags.push(h('span', { class: 'badge badge-canary', text: `canary ${canary.percent}%` }));
  const cells = [
    h('a', { href: `#/models/${m.id}` }, `v${m.version}`, h('span', { class: 'visually-hidden', text: ` (model ${m.id})` })),
    tags.length ? tags : '–',
    archSummary(objectField(m, 'arch')) || '–',
    fmtInt(m.n_params),
    fmtPct(metrics.test_accuracy, 2),
    fmtNum(metrics.test_loss),
    fmtPct(metrics.val_accuracy, 2),
    fmtInt(serving.rows),
    serving.latencyMs === null ? '–' : `${serving.latencyMs.toFixed(2)} ms`,
    m.run_id ? h('a', { href: `#/jobs/${m.run_id}`, text: `#${m.run_id}` }) : 'upload',
    fmtTime(m.created_at),
  ];
  return h('tr', { dataset: { version: m.version } },
    cells.map((c, i) => h('td', { 'data-label': COLUMNS[i] }, c)));
}

function versionSelect(id, versions, selected) {
  return h('select', { id }, versions.map((m) => h('option',
    { value: m.version, selected: m.version === selected, text: `v${m.version}` })));
}

// One alias: where it points, a version to move it to, and the Move button.
function aliasRow(name, alias, version, versions, { api, reload, status }) {
  const sel = uid('alias');
  const select = versionSelect(sel, versions, version);
  const move = h('button', { type: 'button', class: 'btn btn-small', text: 'Move',
    'aria-label': `Move alias ${alias}`, dataset: { alias } });
  move.addEventListener('click', async () => {
    const to = Number(select.value);
    if (to === version) return;
    if (!window.confirm(`Move alias "${alias}" of ${name} from v${version} to v${to}?`)) return;
    try {
      await api.setAlias(name, alias, to);
      reload(`Alias "${alias}" now points at v${to}.`);
    } catch (err) {
      replaceChildren(status, notice(err.message, 'error'));
    }
  });
  return h('li', { dataset: { alias } },
    h('strong', { text: alias }), ` → v${version} `,
    h('label', { for: sel, class: 'visually-hidden', text: `Version for alias ${alias}` }), select, ' ', move);
}

function canaryForm(name, canary, versions, { api, reload, status }) {
  const vid = uid('canary-v'); const pid = uid('canary-p');
  const select = versionSelect(vid, versions, canary ? canary.version : versions[versions.length - 1].version);
  const percent = h('input', { id: pid, type: 'number', min: 0, max: 100, step: 1, value: canary ? canary.percent : 10 });
  const save = h('button', { type: 'button', class: 'btn btn-small', text: 'Set canary' });
  save.addEventListener('click', async () => {
    const v = Number(select.value); const p = Number(percent.value);
    if (!window.confirm(p === 0 ? `End the canary of ${name}?` : `Send ${p}% of ${name}'s requests to v${v}?`)) return;
    try {
      await api.setCanary(name, v, p);
      reload(p === 0 ? 'Canary ended.' : `Canary: v${v} gets ${p}%.`);
    } catch (err) {
      replaceChildren(status, notice(err.message, 'error'));
    }
  });
  return h('p', { class: 'canary-form' },
    h('span', { id: 'canary-share', text: canary ? `v${canary.version} gets ${canary.percent}% of the unversioned requests. ` : 'No canary. ' }),
    h('label', { for: vid, text: 'Version ' }), select, ' ',
    h('label', { for: pid, text: 'Percent ' }), percent, ' ', save);
}

export function mountRegisteredModel(root, { api, params }) {
  const name = params[0];
  const controller = new AbortController();
  const status = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted', text: 'Loading…' }));
  const body = h('div');

  async function load(message) {
    try {
      const [reg, stats] = await Promise.all([
        api.getRegisteredModel(name, { signal: controller.signal }),
        api.modelStats(name, { signal: controller.signal }).catch(() => []),
      ]);
      const versions = reg.versions || [];
      const aliasesOf = {};
      for (const [a, v] of Object.entries(reg.aliases || {})) (aliasesOf[v] ||= []).push(a);
      const ctx = { api, reload: load, status };
      replaceChildren(status, message ? notice(message) : null);
      replaceChildren(body,
        h('p', { id: 'default-version', text: `Unversioned requests get v${reg.default_version}`
          + (reg.aliases && reg.aliases[reg.default_alias] ? ` (alias "${reg.default_alias}")` : ' (the latest)') + '.' }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data versions-table' },
          h('caption', { class: 'visually-hidden', text: `Versions of ${name}, oldest first` }),
          h('thead', {}, h('tr', {}, COLUMNS.map((t) => h('th', { scope: 'col', text: t })))),
          h('tbody', {}, versions.map((m) => versionRow(m, aliasesOf, stats, reg.canary))))),
        h('h2', { text: 'Aliases' }),
        Object.keys(reg.aliases || {}).length
          ? h('ul', { class: 'aliases' }, Object.entries(reg.aliases).map(([a, v]) => aliasRow(name, a, v, versions, ctx)))
          : h('p', { class: 'muted', text: `No aliases yet: set one with PUT /models/${name}/aliases/{alias}.` }),
        h('h2', { text: 'Canary' }),
        canaryForm(name, reg.canary, versions, ctx));
    } catch (err) {
      if (err.name !== 'AbortError') replaceChildren(status, notice(err.message, 'error'));
    }
  }
  load();
  replaceChildren(root, h('h1', { tabindex: -1, text: `Model ${name}` }), status, body);
  return () => controller.abort();
}
