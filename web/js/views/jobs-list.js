// views/jobs-list.js - #/jobs: every job with its status, a progress bar and
// its latest loss and accuracy, refreshed by polling GET /jobs. Rows are
// updated in place (keyed by job id) so focus and reading position survive
// a refresh. 2 to 5 jobs can be ticked and compared (#/compare?jobs=...).
import { h, notice, replaceChildren } from '../dom.js';
import { fmtNum, fmtPct, fmtTime, isFinal, isNum, statusBadge } from '../format.js';
import { poll } from '../poll.js';

const REFRESH_MS = 2000;
const STATUSES = ['', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];

function progressCell(job) {
  const p = isNum(job.progress) ? job.progress : (isFinal(job.status) && job.status === 'succeeded' ? 1 : 0);
  const epochs = isNum(job.epochs) ? job.epochs : (job.config && job.config.epochs);
  const text = `${Math.round(p * 100)}%${isNum(job.epoch) && epochs ? ` · epoch ${job.epoch}/${epochs}` : ''}`;
  return [
    h('progress', { max: 1, value: p, 'aria-label': `job ${job.id} progress`, 'aria-valuetext': text }),
    h('span', { class: 'progress-text', text }),
  ];
}

const COMPARE_MAX = 5;

function cells(job, selected, onToggle) {
  const box = h('input', { type: 'checkbox', class: 'compare-box', checked: selected.has(job.id),
    'aria-label': `compare job ${job.id}`, onchange: (ev) => onToggle(job.id, ev.target.checked) });
  return [
    box,
    h('a', { href: `#/jobs/${job.id}`, text: `#${job.id}`, 'aria-label': `job ${job.id}` }),
    statusBadge(job.status),
    job.dataset || (job.config && job.config.dataset) || '–',
    progressCell(job),
    fmtNum(job.loss),
    fmtPct(job.accuracy),
    fmtPct(job.val_accuracy),
    fmtTime(job.created_at),
  ];
}

const HEADERS = ['Compare', 'Job', 'Status', 'Dataset', 'Progress', 'Loss', 'Accuracy', 'Val. accuracy', 'Created'];

export function mountJobsList(root, { api }) {
  const rows = new Map(); // id -> {tr, key}
  const selected = new Set();
  const compare = h('a', { class: 'btn', id: 'compare-btn', href: '#/compare', 'aria-disabled': 'true', text: 'Compare' });
  function onToggle(id, on) {
    if (on) selected.add(id); else selected.delete(id);
    const ok = selected.size >= 2 && selected.size <= COMPARE_MAX;
    compare.setAttribute('aria-disabled', ok ? 'false' : 'true');
    compare.href = `#/compare?jobs=${[...selected].sort((a, b) => a - b).join(',')}`;
    compare.textContent = `Compare${selected.size ? ` (${selected.size})` : ''}`;
  }
  compare.addEventListener('click', (ev) => {
    if (compare.getAttribute('aria-disabled') === 'true') {
      ev.preventDefault();
      replaceChildren(status, notice(`Tick 2 to ${COMPARE_MAX} jobs to compare.`, 'error'));
    }
  });
  const tbody = h('tbody');
  const table = h('table', { class: 'data jobs-table' },
    h('caption', { class: 'visually-hidden', text: 'Training jobs, newest first' }),
    h('thead', {}, h('tr', {}, HEADERS.map((t) => h('th', { scope: 'col', text: t })))), tbody);
  const status = h('div', { class: 'list-status', 'aria-live': 'polite' });
  const filter = h('select', { id: 'jobs-filter', onchange: () => { rows.clear(); tbody.textContent = ''; poller.now(); } },
    STATUSES.map((s) => h('option', { value: s, text: s || 'all' })));

  function render(jobs, total) {
    const seen = new Set();
    jobs.forEach((job, i) => {
      seen.add(job.id);
      const key = JSON.stringify([job.status, job.progress, job.epoch, job.loss, job.accuracy, job.val_accuracy]);
      let row = rows.get(job.id);
      if (!row) {
        row = { tr: h('tr', { dataset: { job: job.id } }), key: null };
        rows.set(job.id, row);
      }
      if (row.key !== key) {
        replaceChildren(row.tr, cells(job, selected, onToggle).map((c, j) => h('td', { 'data-label': HEADERS[j] }, c)));
        row.key = key;
      }
      if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
    });
    for (const [id, row] of rows) if (!seen.has(id)) { row.tr.remove(); rows.delete(id); }
    replaceChildren(status, jobs.length
      ? `${jobs.length}${total !== null && total > jobs.length ? ` of ${total}` : ''} job${jobs.length === 1 ? '' : 's'}`
      : h('span', {}, 'No jobs yet. ', h('a', { href: '#/new', text: 'Start one' }), '.'));
  }

  const poller = poll(async (signal) => {
    const { jobs, total } = await api.listJobs({ limit: 50, status: filter.value }, { signal });
    render(jobs, total);
  }, REFRESH_MS, { onError: (err) => replaceChildren(status, notice(err.message, 'error')) });

  replaceChildren(root,
    h('div', { class: 'page-head' },
      h('h1', { tabindex: -1, text: 'Jobs' }),
      h('a', { class: 'btn btn-primary', href: '#/new', text: 'New job' })),
    h('div', { class: 'toolbar' }, h('label', { for: 'jobs-filter', text: 'Status' }), filter, compare),
    status,
    h('div', { class: 'table-wrap' }, table));
  return () => poller.stop();
}
