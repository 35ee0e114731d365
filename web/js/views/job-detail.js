// views/job-detail.js - #/jobs/<id>: one job live. Its state is polled
// (GET /jobs/{id}) until it ends; its per-epoch loss and accuracy, training
// and validation, and its learning rate arrive through metrics-feed.js (SSE,
// else polling) and feed three Chart.js curves plus a table (the same numbers, readable without
// the charts). step_loss and step_accuracy (every few batches) are drawn
// as they come, at fractional epochs, so the first epoch is not empty. Also:
// its configuration (config-view.js), a cancel button, its model.
import { h, notice, replaceChildren } from '../dom.js';
import {
  fmtDuration, fmtInt, fmtNum, fmtPct, fmtTime, isFinal, isNum, statusBadge,
} from '../format.js';
import { chartsAvailable, createCurveChart } from '../charts.js';
import { followMetrics } from '../metrics-feed.js';
import { poll } from '../poll.js';
import { configView } from '../config-view.js';

const REFRESH_MS = 1500;
const CURVE_KEYS = { loss: ['loss', 'train'], val_loss: ['loss', 'val'],
  accuracy: ['accuracy', 'train'], val_accuracy: ['accuracy', 'val'], learning_rate: ['lr', 'train'] };
const STEP_KEYS = { step_loss: 'loss', step_accuracy: 'accuracy' };

// "epoch 1 of 30" while the first epoch runs (job.epoch counts completed ones).
export function epochText(job) {
  const epochs = job.epochs ?? job.config?.epochs;
  if (!isNum(job.epoch)) return '–';
  const shown = job.status === 'running' && (!epochs || job.epoch < epochs) ? job.epoch + 1 : job.epoch;
  return `epoch ${shown} of ${epochs ?? '?'}`;
}

function summaryItems(job) {
  const items = [
    ['Dataset', job.dataset || job.config?.dataset || '–'],
    ['Epoch', epochText(job)],
    ['Step', isNum(job.step) && isNum(job.steps) ? `${job.step} / ${job.steps}` : '–'],
    ['Loss', fmtNum(job.loss)],
    ['Accuracy', fmtPct(job.accuracy, 2)],
    ['Validation loss', fmtNum(job.val_loss)],
    ['Validation accuracy', fmtPct(job.val_accuracy, 2)],
    ['Samples / s', fmtInt(job.samples_per_sec)],
    ['Time left', job.status === 'running' ? fmtDuration(job.eta_seconds) : '–'],
    ['Created', fmtTime(job.created_at)],
    ['Started', fmtTime(job.started_at)],
    ['Finished', fmtTime(job.finished_at)],
  ];
  if (isNum(job.test_accuracy) || isNum(job.test_loss)) {
    items.push(['Test loss', fmtNum(job.test_loss)], ['Test accuracy', fmtPct(job.test_accuracy, 2)]);
  }
  return items;
}

export function mountJobDetail(root, { api, params }) {
  const id = params[0];
  let feed = null;
  const charts = {};
  const epochs = new Map(); // epoch -> {loss, accuracy, val_loss, val_accuracy, learning_rate}
  const stepPoints = []; // {chart, step (global), value}: drawn once the steps per epoch are known
  let stepsPerEpoch = 0;

  const title = h('h1', { tabindex: -1, text: `Job #${id}` });
  const badge = h('span', { class: 'title-badge' });
  const message = h('div', { 'aria-live': 'polite' });
  const actions = h('div', { class: 'actions' });
  const progress = h('progress', { max: 1, value: 0, id: 'job-progress' });
  const progressText = h('span', { class: 'progress-text' });
  const summary = h('dl', { class: 'summary' });
  const feedMode = h('p', { class: 'feed-mode muted' });
  const epochBody = h('tbody');
  const config = h('div', { class: 'config-view' });
  const chartBox = h('div', { class: 'charts' });

  function chartCard(name, label, yTitle, percent, single = null, steps = null) {
    const canvas = h('canvas', { id: `chart-${name}`, role: 'img',
      'aria-label': `${label} per epoch${single ? '' : ', training and validation'}` });
    const card = h('figure', { class: 'card chart-card' },
      h('figcaption', { text: label }), h('div', { class: 'chart-area' }, canvas));
    chartBox.append(card);
    charts[name] = createCurveChart(canvas, { yTitle, percent, single, steps });
  }
  if (chartsAvailable()) {
    chartCard('loss', 'Loss', 'loss', false, null, 'training, every 50 batches');
    chartCard('accuracy', 'Accuracy', 'accuracy', true, null, 'training, running in the epoch');
    chartCard('lr', 'Learning rate', 'learning rate', false, 'learning rate');
  } else {
    chartBox.append(notice('Charts are unavailable (web/vendor/chart.umd.js missing: run "make web-assets"); the table below has the same values.'));
  }

  function renderEpochs() {
    const rows = [...epochs.entries()].sort((a, b) => a[0] - b[0]);
    replaceChildren(epochBody, rows.map(([e, m]) => h('tr', {},
      h('th', { scope: 'row', text: e }), h('td', { text: fmtNum(m.loss) }), h('td', { text: fmtPct(m.accuracy, 2) }),
      h('td', { text: fmtNum(m.val_loss) }), h('td', { text: fmtPct(m.val_accuracy, 2) }),
      h('td', { text: fmtNum(m.learning_rate) }))));
  }

  // Step points wait for the steps per epoch; a replay of many is drawn once.
  function drawSteps() {
    if (!stepsPerEpoch || !stepPoints.length) return;
    const touched = new Set();
    for (const p of stepPoints.splice(0)) {
      charts[p.chart]?.set('step', p.step / stepsPerEpoch, p.value, false);
      touched.add(p.chart);
    }
    for (const name of touched) charts[name]?.redraw();
  }

  function onMetrics(list) {
    let changed = false;
    for (const m of list) {
      if (STEP_KEYS[m.key] && isNum(m.step) && isNum(m.value)) {
        stepPoints.push({ chart: STEP_KEYS[m.key], step: m.step, value: m.value });
        continue;
      }
      const target = CURVE_KEYS[m.key];
      if (!target || !isNum(m.epoch) || !isNum(m.value)) continue;
      const row = epochs.get(m.epoch) || {};
      row[m.key] = m.value;
      epochs.set(m.epoch, row);
      charts[target[0]]?.set(target[1], m.epoch, m.value);
      changed = true;
    }
    drawSteps();
    if (changed) renderEpochs();
  }

  async function cancel(button) {
    button.disabled = true;
    try {
      await api.cancelJob(id);
      replaceChildren(message, notice('Cancellation requested.'));
      poller.now();
    } catch (err) {
      button.disabled = false;
      replaceChildren(message, notice(`Could not cancel: ${err.message}`, 'error'));
    }
  }

  function renderJob(j) {
    replaceChildren(badge, statusBadge(j.status));
    if (isNum(j.steps) && j.steps > 0 && !stepsPerEpoch) {
      stepsPerEpoch = j.steps;
      drawSteps();
    }
    const total = j.epochs ?? j.config?.epochs;
    for (const c of Object.values(charts)) c.setEpochs?.(total);
    const p = isNum(j.progress) ? j.progress : (j.status === 'succeeded' ? 1 : 0);
    progress.value = p;
    progress.setAttribute('aria-valuetext', `${Math.round(p * 100)}%`);
    progressText.textContent = `${Math.round(p * 100)}%`;
    replaceChildren(summary, summaryItems(j).map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { text: v }))));
    const acts = [];
    if (!isFinal(j.status)) {
      acts.push(h('button', { type: 'button', class: 'btn btn-danger', id: 'cancel-job', text: 'Cancel job',
        onclick: (e) => cancel(e.currentTarget) }));
    }
    if (j.model_id) {
      acts.push(h('a', { class: 'btn btn-primary', href: `#/models/${j.model_id}`, text: `Model #${j.model_id}: try it` }));
      acts.push(h('a', { class: 'btn', href: api.modelFileUrl(j.model_id), download: `model-${j.model_id}.mlp`,
        text: 'Download model' }));
    }
    acts.push(h('a', { class: 'btn', href: `#/new?from=${id}`, text: 'New job from this configuration' }));
    const focused = actions.contains(document.activeElement) ? document.activeElement.textContent : null;
    replaceChildren(actions, acts);
    if (focused) [...actions.children].find((b) => b.textContent === focused)?.focus();
    if (j.error) replaceChildren(message, notice(`Error: ${j.error}`, 'error'));
    const cfg = typeof j.config === 'string' ? JSON.parse(j.config) : j.config;
    if (cfg && !config.children.length) replaceChildren(config, configView(cfg));
  }

  const poller = poll(async (signal) => {
    const j = await api.getJob(id, { signal });
    renderJob(j);
    // A job that has ended needs no stream: finish() below fetches its metrics once.
    if (!feed && isFinal(j.status)) feed = followMetrics(api, id, { onMetrics, passive: true });
    if (!feed) {
      feed = followMetrics(api, id, {
        onMetrics,
        // Stream "progress"/"status"/"end" events carry the job: fresher than polling.
        onJob: (fresh) => {
          if (String(fresh.id) !== String(id)) return;
          renderJob(fresh);
          if (isFinal(fresh.status)) poller.now();
        },
        onMode: (mode) => { feedMode.textContent = mode === 'stream' ? 'Live: event stream' : 'Live: polling'; },
      });
    }
    if (isFinal(j.status)) {
      poller.stop();
      await feed.finish();
      feedMode.textContent = `Finished: ${epochs.size} epoch${epochs.size === 1 ? '' : 's'} recorded`;
    }
  }, REFRESH_MS, {
    onError: (err) => replaceChildren(message, notice(err.status === 404 ? `There is no job ${id}.` : err.message, 'error')),
  });

  replaceChildren(root,
    h('div', { class: 'page-head' }, h('div', { class: 'title-row' }, title, badge), actions),
    message,
    h('div', { class: 'progress-row' }, h('label', { for: 'job-progress', text: 'Progress' }), progress, progressText),
    summary,
    h('section', { 'aria-labelledby': 'curves-title' },
      h('h2', { id: 'curves-title', text: 'Curves' }), feedMode, chartBox,
      h('details', { class: 'epoch-table' }, h('summary', { text: 'Per-epoch values' }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'epoch-table' },
          h('thead', {}, h('tr', {}, ['Epoch', 'Loss', 'Accuracy', 'Val. loss', 'Val. accuracy', 'Learning rate'].map((t) => h('th', { scope: 'col', text: t })))),
          epochBody)))),
    h('section', { 'aria-labelledby': 'config-title' },
      h('h2', { id: 'config-title', text: 'Configuration' }), config));

  return () => {
    poller.stop();
    feed?.stop();
    for (const c of Object.values(charts)) c.destroy();
  };
}
