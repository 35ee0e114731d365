// views/compare.js - #/compare?jobs=3,5,8: two to five jobs side by side:
// their loss and accuracy curves overlaid (training solid, validation
// dashed, one colour per job), the configuration members that differ, and
// their final and test metrics.
import { h, notice, replaceChildren } from '../dom.js';
import { fmtInt, fmtNum, fmtPct, statusBadge } from '../format.js';
import { chartsAvailable, createCompareChart } from '../charts.js';
import { METRICS_PAGE } from '../api.js';

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#d97706'];
const MAX_PAGES = 50; // metrics pages read per job (50,000 metrics)

// Nested config objects as "early_stopping.patience" members.
export function flattenConfig(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flattenConfig(v, name, out);
    else out[name] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

// The members whose values are not all equal: [[name, [value per job]]].
export function differingMembers(configs) {
  const flat = configs.map((c) => flattenConfig(c));
  const names = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
  return names.map((n) => [n, flat.map((f) => f[n] ?? '–')]).filter(([, vals]) => new Set(vals).size > 1);
}

// Every per-epoch metric of a job: {key: [{x: epoch, y}]}.
async function epochCurves(api, id, signal) {
  const curves = { loss: [], val_loss: [], accuracy: [], val_accuracy: [] };
  let since = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const list = await api.jobMetrics(id, since, { signal });
    for (const m of list) {
      if (curves[m.key] && Number.isFinite(m.value)) curves[m.key].push({ x: m.epoch, y: m.value });
      since = Math.max(since, m.id);
    }
    if (list.length < METRICS_PAGE) break;
  }
  return curves;
}

function chartCard(id, label, yTitle, percent, jobs, trainKey, valKey) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': `${label} per epoch of jobs ${jobs.map((j) => j.job.id).join(', ')}` });
  const series = jobs.flatMap(({ job, curves }, i) => [
    { label: `#${job.id} training`, color: COLOURS[i], dashed: false, points: curves[trainKey] },
    { label: `#${job.id} validation`, color: COLOURS[i], dashed: true, points: curves[valKey] },
  ].filter((s) => s.points.length));
  const chart = createCompareChart(canvas, { yTitle, percent, series });
  return { el: h('figure', { class: 'card chart-card' }, h('figcaption', { text: label }), h('div', { class: 'chart-area' }, canvas)), chart };
}

const METRIC_ROWS = [
  ['Status', (j) => statusBadge(j.status)], ['Dataset', (j) => j.dataset || j.config?.dataset || '–'],
  ['Epochs run', (j) => fmtInt(j.epoch)], ['Loss', (j) => fmtNum(j.loss)], ['Accuracy', (j) => fmtPct(j.accuracy, 2)],
  ['Validation loss', (j) => fmtNum(j.val_loss)], ['Validation accuracy', (j) => fmtPct(j.val_accuracy, 2)],
  ['Test loss', (j) => fmtNum(j.test_loss)], ['Test accuracy', (j) => fmtPct(j.test_accuracy, 2)],
  ['Samples / s', (j) => fmtInt(j.samples_per_sec)], ['Model', (j) => (j.model_id ? h('a', { href: `#/models/${j.model_id}`, text: `#${j.model_id}` }) : '–')],
];

function jobHeaders(jobs, corner = 'Option') {
  return h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: corner }),
    jobs.map(({ job }, i) => h('th', { scope: 'col' }, h('span', { class: 'swatch', style: `background: ${COLOURS[i]}` }),
      h('a', { href: `#/jobs/${job.id}`, text: `Job #${job.id}` })))));
}

export function mountCompare(root, { api, query }) {
  const ids = [...new Set((query.get('jobs') || '').split(',').filter((s) => /^\d+$/.test(s)))];
  const controller = new AbortController();
  const charts = [];
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  replaceChildren(root, h('h1', { tabindex: -1, text: 'Compare jobs' }), body);
  const stop = () => { controller.abort(); for (const c of charts) c.destroy(); };
  if (ids.length < 2 || ids.length > 5) {
    replaceChildren(body, notice('Pick 2 to 5 jobs to compare (from the jobs list, or #/compare?jobs=3,5).', 'error'));
    return stop;
  }
  Promise.all(ids.map(async (id) => ({
    job: await api.getJob(id, { signal: controller.signal }),
    curves: await epochCurves(api, id, controller.signal),
  }))).then((jobs) => {
    const diff = differingMembers(jobs.map(({ job }) => job.config || {}));
    const chartBox = h('div', { class: 'charts' });
    if (chartsAvailable()) {
      for (const args of [['compare-loss', 'Loss', 'loss', false, 'loss', 'val_loss'],
        ['compare-accuracy', 'Accuracy', 'accuracy', true, 'accuracy', 'val_accuracy']]) {
        const c = chartCard(args[0], args[1], args[2], args[3], jobs, args[4], args[5]);
        charts.push(c.chart);
        chartBox.append(c.el);
      }
    }
    replaceChildren(body, chartBox,
      h('h2', { text: 'Configuration: what differs' }),
      diff.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'config-diff' }, jobHeaders(jobs),
          h('tbody', {}, diff.map(([name, vals]) => h('tr', { dataset: { member: name } },
            h('th', { scope: 'row', text: name }), vals.map((v) => h('td', { text: v })))))))
        : h('p', { class: 'muted', id: 'config-diff', text: 'The configurations are the same.' }),
      h('h2', { text: 'Metrics' }),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'compare-metrics' }, jobHeaders(jobs, 'Result'),
        h('tbody', {}, METRIC_ROWS.map(([label, f]) => h('tr', {}, h('th', { scope: 'row', text: label }),
          jobs.map(({ job }) => h('td', {}, f(job)))))))));
  }).catch((err) => {
    if (err.name !== 'AbortError') replaceChildren(body, notice(err.status === 404 ? `A job does not exist: ${err.message}` : err.message, 'error'));
  });
  return stop;
}
