// views/sweeps-list.js - #/sweeps: every sweep with its status, how many of
// its children ran, ended and were pruned, and the best value so far,
// refreshed by polling GET /sweeps.
import { h, notice, replaceChildren } from '../dom.js';
import { fmtNum, fmtPct, fmtTime, statusBadge } from '../format.js';
import { poll } from '../poll.js';
import { createSweepsApi } from '../sweeps-api.js';

const REFRESH_MS = 3000;

// The metric's value as the page shows it: accuracies in percent.
export function fmtMetric(metric, v) {
  return /accuracy/.test(metric || '') ? fmtPct(v, 2) : fmtNum(v);
}

function row(w) {
  const c = w.counts || {};
  return h('tr', { dataset: { sweep: w.id } },
    h('td', {}, h('a', { href: `#/sweeps/${w.id}`, text: `#${w.id}`, 'aria-label': `sweep ${w.id}` })),
    h('td', {}, statusBadge(w.status)),
    h('td', { text: (w.config && w.config.base && w.config.base.dataset) || '–' }),
    h('td', { text: `${w.config?.method || ''} · ${Object.keys(w.config?.space || {}).join(', ')}` }),
    h('td', { text: `${c.children ?? 0} / ${c.max_runs ?? '?'}` }),
    h('td', { text: String(c.pruned ?? 0) }),
    h('td', { text: `${w.metric} (${w.mode})` }),
    h('td', { text: w.best ? fmtMetric(w.metric, w.best.value) : '–' }),
    h('td', { text: fmtTime(w.created_at) }));
}

export function mountSweepsList(root, { api }) {
  const sweepsApi = createSweepsApi(api);
  const tbody = h('tbody');
  const status = h('div', { 'aria-live': 'polite' });
  const table = h('table', { class: 'data sweeps-table' },
    h('thead', {}, h('tr', {}, ['Sweep', 'Status', 'Dataset', 'Search', 'Children', 'Pruned', 'Metric', 'Best',
      'Created'].map((t) => h('th', { scope: 'col', text: t })))), tbody);
  replaceChildren(root, h('h1', { tabindex: -1, text: 'Sweeps' }),
    h('p', { class: 'muted', text: 'Hyperparameter searches: each child is an ordinary job. Start one with POST /sweeps (docs/sweeps.md).' }),
    status, h('div', { class: 'table-wrap' }, table));
  const p = poll(async (signal) => {
    const { sweeps } = await sweepsApi.listSweeps({ limit: 100 }, { signal });
    replaceChildren(tbody, sweeps.map(row));
    replaceChildren(status, sweeps.length ? '' : notice('No sweeps yet.'));
  }, REFRESH_MS, { onError: (err) => replaceChildren(status, notice(err.message, 'error')) });
  return () => p.stop();
}
