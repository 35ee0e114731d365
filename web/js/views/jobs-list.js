// views/jobs-list.js - #/jobs: a page of jobs (newest first) with what tells
// two apart (dataset, architecture, optimizer, duration, best validation
// accuracy), status and a progress bar, refreshed by polling GET /jobs.
// Older pages follow the list's `next` cursor (keyset: a page does not shift
// when new jobs arrive); "Newest" goes back to the first. Rows are updated
// in place (keyed by job id) so focus and reading position survive a
// refresh. 2 to 5 jobs can be ticked and compared (#/compare?jobs=...).
import { h, notice, replaceChildren } from '../dom.js';
import {
  fmtDuration, fmtPct, fmtTime, isFinal, isNum, jobArch, jobOptimizer, secondsBetween, statusBadge,
} from '../format.js';
import { poll } from '../poll.js';

const REFRESH_MS = 2000;
const PAGE_SIZE = 50;
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

function duration(job) {
  if (!job.started_at) return '–';
  return fmtDuration(secondsBetween(job.started_at, isFinal(job.status) ? job.finished_at : null));
}

function cells(job, selected, onToggle) {
  const box = h('input', { type: 'checkbox', class: 'compare-box', checked: selected.has(job.id),
    'aria-label': `compare job ${job.id}`, onchange: (ev) => onToggle(job.id, ev.target.checked) });
  return [
    box,
    h('a', { href: `#/jobs/${job.id}`, text: `#${job.id}` }),
    statusBadge(job.status),
    job.dataset || (job.config && job.config.dataset) || '–',
    jobArch(job.config),
    jobOptimizer(job.config),
    progressCell(job),
    duration(job),
    fmtPct(job.best_val_accuracy),
    fmtTime(job.created_at),
  ];
}

const HEADERS = ['Compare', 'Job', 'Status', 'Dataset', 'Architecture', 'Optimizer', 'Progress', 'Duration',
  'Best val. accuracy', 'Created'];
// The columns a phone leaves out of a job's card (the job page has them).
const WIDE_ONLY = new Set(['Created']);

export function mountJobsList(root, { api, query }) {
  // #/jobs?limit=N shows N jobs a page (1..1000).
  const asked = Number(query?.get('limit'));
  const pageSize = Number.isInteger(asked) && asked >= 1 && asked <= 1000 ? asked : PAGE_SIZE;
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
  const filter = h('select', { id: 'jobs-filter', onchange: () => { cursors = []; cursor = null; restart(); } },
    STATUSES.map((s) => h('option', { value: s, text: s || 'all' })));

  function render(jobs, total) {
    const seen = new Set();
    jobs.forEach((job, i) => {
      seen.add(job.id);
      const key = JSON.stringify([job.status, job.progress, job.epoch, job.best_val_accuracy, job.finished_at,
        job.status === 'running' ? Math.floor(Date.now() / 1000) : 0]);
      let row = rows.get(job.id);
      if (!row) {
        row = { tr: h('tr', { dataset: { job: job.id } }), key: null };
        rows.set(job.id, row);
      }
      if (row.key !== key) {
        replaceChildren(row.tr, cells(job, selected, onToggle).map((c, j) => h('td', { 'data-label': HEADERS[j],
          class: WIDE_ONLY.has(HEADERS[j]) ? 'wide-only' : null }, c)));
        row.key = key;
      }
      if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
    });
    for (const [id, row] of rows) if (!seen.has(id)) { row.tr.remove(); rows.delete(id); }
    const first = cursors.length === 0;
    let text;
    if (jobs.length) {
      const what = `${filter.value ? `${filter.value} ` : ''}job${total === 1 ? '' : 's'}`;
      text = total > jobs.length ? `${jobs.length} of ${total} ${what}${first ? ', newest first' : ''}`
        : `${jobs.length} ${what}`;
    } else if (!first) text = 'No older jobs.';
    else if (filter.value) text = `No ${filter.value} jobs.`;
    replaceChildren(status, text || h('span', {}, 'No jobs yet. ', h('a', { href: '#/new', text: 'Start one' }), '.'));
    newer.hidden = first;
    older.hidden = !next;
    pager.hidden = newer.hidden && older.hidden;
  }

  // Keyset paging: cursors[] holds the cursor of each page before this one.
  let cursors = [];
  let cursor = null;
  let next = null;
  const older = h('button', { type: 'button', class: 'btn', text: 'Older jobs', onclick: () => {
    cursors.push(cursor); cursor = next; restart();
  } });
  const newer = h('button', { type: 'button', class: 'btn', text: 'Newer jobs', onclick: () => {
    cursor = cursors.pop() ?? null; restart();
  } });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Job pages', hidden: true }, newer, older);
  function restart() { rows.clear(); tbody.textContent = ''; poller.now(); }

  const poller = poll(async (signal) => {
    const page = await api.listJobs({ limit: pageSize, status: filter.value, cursor }, { signal });
    next = page.next ?? null;
    render(page.jobs, page.total);
  }, REFRESH_MS, { onError: (err) => replaceChildren(status, notice(err.message, 'error')) });

  replaceChildren(root,
    h('div', { class: 'page-head' },
      h('h1', { tabindex: -1, text: 'Jobs' }),
      h('a', { class: 'btn btn-primary', href: '#/new', text: 'New job' })),
    h('div', { class: 'toolbar' }, h('label', { for: 'jobs-filter', text: 'Status' }), filter, compare),
    status,
    h('div', { class: 'table-wrap' }, table),
    pager);
  return () => poller.stop();
}
