// views/sweep-detail.js - #/sweeps/{id}: one sweep. Its summary and best
// child; "use the best", which registers the best child's model under a
// name (the registry's POST /models?name=); the children in a table that
// sorts by any setting or metric (click a column's header, again to
// reverse); the children's curves of the sweep's metric overlaid; and a
// scatter plot of a chosen setting against the metric. Polls the sweep
// while it runs; curves are read once per child and again while it trains.
import { h, notice, replaceChildren, uid } from '../dom.js';
import { fmtInt, fmtNum, fmtTime, isFinal, isNum, statusBadge } from '../format.js';
import { createCompareChart } from '../charts.js';
import { METRICS_PAGE } from '../api.js';
import { poll } from '../poll.js';
import { createSweepsApi } from '../sweeps-api.js';
import { chartsAvailable, createScatterChart } from '../sweep-charts.js';
import { fmtMetric } from './sweeps-list.js';

const REFRESH_MS = 2000;
const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#d97706', '#0891b2', '#db2777', '#65a30d'];
// Column headers are buttons that look like headers (style.css is shared).
const SORT_STYLE = 'background:none;border:0;padding:0;font:inherit;font-weight:600;color:inherit;cursor:pointer';
const NAME_RE = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

// A setting's value as text (layer lists "512, 256").
export function settingText(v) {
  if (Array.isArray(v)) return v.join(', ');
  if (isNum(v)) return fmtNum(v, 6);
  return v === null || v === undefined ? '–' : String(v);
}

// The table's columns: #, status, every setting, then the metrics.
function columns(sweep) {
  const keys = Object.keys(sweep.config?.space || {});
  const metric = sweep.metric;
  return [
    { id: 'index', label: '#', value: (c) => c.index, cell: (c) => h('a', { href: `#/jobs/${c.job}`, text: `#${c.index} (job ${c.job})` }) },
    { id: 'status', label: 'Status', value: (c) => (c.pruned ? 'pruned' : c.status), cell: (c) => (c.pruned ? statusBadge('pruned') : statusBadge(c.status)) },
    ...keys.map((k) => ({ id: `s:${k}`, label: k, setting: k, value: (c) => sortable(c.settings?.[k]), cell: (c) => settingText(c.settings?.[k]) })),
    { id: 'value', label: metric, value: (c) => c.value, cell: (c) => fmtMetric(metric, c.value) },
    { id: 'epoch', label: 'Epochs', value: (c) => c.epoch, cell: (c) => `${fmtInt(c.epoch)} / ${fmtInt(c.epochs)}` },
    { id: 'val_loss', label: 'val_loss', value: (c) => c.val_loss, cell: (c) => fmtNum(c.val_loss) },
    { id: 'test_accuracy', label: 'test_accuracy', value: (c) => c.test_accuracy, cell: (c) => fmtMetric('accuracy', c.test_accuracy) },
  ];
}

function sortable(v) {
  if (Array.isArray(v)) return v.reduce((a, b) => a * 10000 + b, 0); // layers: by widths, input side first
  return v;
}

// Sort children by a column; nulls last whatever the direction.
export function sortChildren(children, col, dir) {
  return [...children].sort((a, b) => {
    const x = col.value(a); const y = col.value(b);
    const xn = x === null || x === undefined || (typeof x === 'number' && !Number.isFinite(x));
    const yn = y === null || y === undefined || (typeof y === 'number' && !Number.isFinite(y));
    if (xn || yn) return xn === yn ? a.index - b.index : xn ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return (c || a.index - b.index) * dir;
  });
}

async function metricCurve(api, job, key, signal) {
  const points = [];
  let since = 0;
  for (let page = 0; page < 20; page++) {
    const list = await api.jobMetrics(job, since, { signal });
    for (const m of list) {
      if (m.key === key && Number.isFinite(m.value)) points.push({ x: m.epoch, y: m.value });
      since = Math.max(since, m.id);
    }
    if (list.length < METRICS_PAGE) break;
  }
  return points;
}

function summary(sweep) {
  const c = sweep.counts || {};
  const best = sweep.best;
  const item = (k, ...v) => h('div', {}, h('dt', { text: k }), h('dd', {}, ...v));
  return h('dl', { class: 'summary', id: 'sweep-summary' },
    item('Status', statusBadge(sweep.status)),
    item('Search', `${sweep.config?.method} over ${Object.keys(sweep.config?.space || {}).join(', ')}; ${sweep.config?.parallel} at once`),
    item('Children', `${c.children ?? 0} of ${c.max_runs ?? '?'}: ${c.succeeded ?? 0} succeeded, ${c.running ?? 0} running, ${c.queued ?? 0} queued, ${c.failed ?? 0} failed, ${c.pruned ?? 0} pruned`),
    item('Metric', `${sweep.metric} (${sweep.mode})`),
    h('div', {}, h('dt', { text: 'Best' }), h('dd', { id: 'sweep-best' }, best
      ? [h('a', { href: `#/jobs/${best.job}`, text: `job ${best.job}` }), ` · ${sweep.metric} ${fmtMetric(sweep.metric, best.value)}`,
        isNum(best.test_accuracy) ? ` · test accuracy ${fmtMetric('accuracy', best.test_accuracy)}` : '',
        best.model_id ? [' · ', h('a', { href: `#/models/${best.model_id}`, text: `model ${best.model_id}` })] : '',
        ` · ${Object.entries(best.settings || {}).map(([k, v]) => `${k} ${settingText(v)}`).join(', ')}`]
      : 'none yet')),
    item('Started', fmtTime(sweep.started_at)),
    item('Ended', fmtTime(sweep.finished_at)),
    sweep.error ? item('Error', sweep.error) : null);
}

// "Use the best": a name field and a button; the result below.
function useBest(sweepsApi, getSweep) {
  const id = uid('best-name');
  const input = h('input', { id, name: 'best-name', type: 'text', required: true, pattern: NAME_RE.source, autocomplete: 'off' });
  const out = h('div', { id: 'use-best-result', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary', id: 'use-best', text: 'Use the best' });
  const form = h('form', { class: 'card', id: 'use-best-form' },
    h('h2', { text: 'Use the best model' }),
    h('label', { for: id, text: 'Register the best child\'s model under the name' }), ' ', input, ' ', button, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const sweep = getSweep();
    const name = input.value.trim();
    if (!NAME_RE.test(name)) {
      input.setAttribute('aria-invalid', 'true');
      replaceChildren(out, notice('A name is 1 to 64 of A-Z a-z 0-9 . _ - and starts with a letter.', 'error'));
      return;
    }
    input.removeAttribute('aria-invalid');
    if (!sweep?.best?.model_id) {
      replaceChildren(out, notice('No child has succeeded yet.', 'error'));
      return;
    }
    button.disabled = true;
    try {
      const m = await sweepsApi.registerModel(sweep.best.model_id, name);
      replaceChildren(out, notice(`Registered as ${m.name} version ${m.version}. `),
        h('a', { href: `#/registry/${encodeURIComponent(m.name)}`, text: `Open ${m.name}` }));
    } catch (err) {
      replaceChildren(out, notice(err.message, 'error'));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function mountSweepDetail(root, { api, params }) {
  const id = params[0];
  const sweepsApi = createSweepsApi(api);
  const controller = new AbortController();
  let sweep = null;
  let sortCol = 'value';
  let sortDir = -1;
  const curves = new Map(); // job -> {points, final}
  const status = h('div', { 'aria-live': 'polite' });
  const head = h('div', { class: 'card-head' }, h('h1', { tabindex: -1, text: `Sweep ${id}` }));
  const cancel = h('button', { type: 'button', class: 'btn btn-danger', id: 'cancel-sweep', text: 'Cancel sweep' });
  head.append(cancel);
  const summaryBox = h('div', { class: 'card' });
  const tableBox = h('div', { class: 'table-wrap' });
  const curveBox = h('figure', { class: 'card chart-card' }, h('figcaption', { text: 'Children\'s curves' }), h('div', { class: 'chart-area' }));
  const scatterSelect = h('select', { id: 'scatter-x', 'aria-label': 'Setting on the x axis' });
  const scatterBox = h('figure', { class: 'card chart-card' },
    h('figcaption', {}, 'Setting against the metric: ', scatterSelect), h('div', { class: 'chart-area' }));
  let curveChart = null; let scatterChart = null;
  replaceChildren(root, head, status, summaryBox, useBest(sweepsApi, () => sweep),
    h('h2', { text: 'Children' }), tableBox,
    chartsAvailable() ? h('div', { class: 'charts' }, curveBox, scatterBox) : null);

  cancel.addEventListener('click', async () => {
    if (!window.confirm(`Cancel sweep ${id} and its unfinished children?`)) return;
    try {
      sweep = await sweepsApi.cancelSweep(id);
      render();
    } catch (err) {
      replaceChildren(status, notice(err.message, 'error'));
    }
  });
  scatterSelect.addEventListener('change', () => drawScatter());

  function drawTable() {
    const cols = columns(sweep);
    const col = cols.find((c) => c.id === sortCol) || cols[0];
    const rows = sortChildren(sweep.children || [], col, sortDir);
    const th = (c) => h('th', { scope: 'col', 'aria-sort': c.id === sortCol ? (sortDir > 0 ? 'ascending' : 'descending') : 'none' },
      h('button', { type: 'button', class: 'sort', dataset: { col: c.id }, style: SORT_STYLE,
        text: `${c.label}${c.id === sortCol ? (sortDir > 0 ? ' ▲' : ' ▼') : ''}`,
        onclick: () => { sortDir = c.id === sortCol ? -sortDir : (c.id === 'value' ? -1 : 1); sortCol = c.id; drawTable(); } }));
    replaceChildren(tableBox, h('table', { class: 'data sweep-children' },
      h('thead', {}, h('tr', {}, cols.map(th))),
      h('tbody', {}, rows.map((c) => h('tr', { dataset: { job: c.job, index: c.index } },
        cols.map((col2) => h('td', {}, col2.cell(c))))))));
  }

  function drawCurves() {
    if (!chartsAvailable()) return;
    curveChart?.destroy();
    const series = (sweep.children || []).filter((c) => curves.get(c.job)?.points.length).map((c, i) => ({
      label: `#${c.index}${sweep.best?.job === c.job ? ' (best)' : ''}`,
      color: COLOURS[i % COLOURS.length], dashed: c.pruned, points: curves.get(c.job).points,
    }));
    const canvas = h('canvas', { id: 'sweep-curves', role: 'img', 'aria-label': `${sweep.metric} per epoch of every child` });
    replaceChildren(curveBox.querySelector('.chart-area'), canvas);
    curveChart = createCompareChart(canvas, { yTitle: sweep.metric, percent: /accuracy/.test(sweep.metric), series });
  }

  function drawScatter() {
    if (!chartsAvailable()) return;
    const keys = Object.keys(sweep.config?.space || {});
    if (!scatterSelect.options.length) {
      for (const k of keys) scatterSelect.append(h('option', { value: k, text: k }));
    }
    const key = scatterSelect.value || keys[0];
    const kids = (sweep.children || []).filter((c) => isNum(c.value));
    const numeric = kids.every((c) => isNum(c.settings?.[key]));
    const labels = numeric ? null : [...new Set(kids.map((c) => settingText(c.settings?.[key])))].sort();
    const points = kids.map((c) => ({
      x: numeric ? c.settings[key] : labels.indexOf(settingText(c.settings?.[key])),
      y: c.value, best: sweep.best?.job === c.job, pruned: c.pruned,
      label: `#${c.index}: ${key} ${settingText(c.settings?.[key])}, ${sweep.metric} ${fmtMetric(sweep.metric, c.value)}`,
    }));
    scatterChart?.destroy();
    const canvas = h('canvas', { id: 'sweep-scatter', role: 'img', 'aria-label': `${key} against ${sweep.metric}` });
    replaceChildren(scatterBox.querySelector('.chart-area'), canvas);
    scatterChart = createScatterChart(canvas, { xTitle: key, yTitle: sweep.metric, percent: /accuracy/.test(sweep.metric), points, xLabels: labels });
  }

  function render() {
    replaceChildren(summaryBox, summary(sweep));
    cancel.disabled = isFinal(sweep.status);
    drawTable();
    drawCurves();
    drawScatter();
  }

  async function refreshCurves(signal) {
    for (const c of sweep.children || []) {
      const known = curves.get(c.job);
      if (known?.final) continue;
      const points = await metricCurve(api, c.job, sweep.metric, signal);
      curves.set(c.job, { points, final: isFinal(c.status) });
    }
  }

  const p = poll(async (signal) => {
    sweep = await sweepsApi.getSweep(id, { signal });
    await refreshCurves(signal);
    replaceChildren(status, '');
    render();
    if (isFinal(sweep.status)) p?.stop();
  }, REFRESH_MS, {
    onError: (err) => replaceChildren(status, notice(err.status === 404 ? `There is no sweep ${id}.` : err.message, 'error')),
  });
  return () => { p.stop(); controller.abort(); curveChart?.destroy(); scatterChart?.destroy(); };
}
