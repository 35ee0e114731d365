// views/model-try.js - #/models/<id>: a model's details and "try it": draw a
// digit, see it reduced to 28x28 the MNIST way (mnist-preprocess.js), post it
// to POST /predict and show the answer with its ten probabilities as bars,
// then why (model-explain.js); a test sample explained; the model's
// evaluation report (model-evaluation.js).
import { h, notice, replaceChildren } from '../dom.js';
import { archSummary, fmtBytes, fmtDuration, fmtInt, fmtNum, fmtPct, fmtTime } from '../format.js';
import { chartsAvailable, createProbabilityChart } from '../charts.js';
import { createDrawPad } from '../draw-pad.js';
import { mnistFromInk, MNIST_SIDE } from '../mnist-preprocess.js';
import { paintPixels } from '../pixels.js';
import { objectField } from './models-list.js';
import { createExplainPanel, testSamplePanel } from './model-explain.js';
import { evaluationSection } from './model-evaluation.js';

const PAD_SIZE = 280;
// The outputs' names: the training set's class names (GET /datasets/{name},
// kept with the set), else the label numbers.
function classNames(n, stored) {
  if (Array.isArray(stored) && stored.length === n) return stored.map(String);
  return Array.from({ length: n }, (_, i) => String(i));
}

// The run's final metrics as people read them: label and formatter per
// member; members not listed here read by their name.
const METRIC_WORDS = {
  epochs_run: ['Epochs run', fmtInt],
  best_epoch: ['Best epoch', (v) => (v > 0 ? fmtInt(v) : '–')],
  stopped_early: ['Stopped early', (v) => (v ? 'yes' : 'no')],
  loss: ['Training loss', fmtNum],
  accuracy: ['Training accuracy', (v) => fmtPct(v, 2)],
  val_loss: ['Validation loss', fmtNum],
  val_accuracy: ['Validation accuracy', (v) => fmtPct(v, 2)],
  test_loss: ['Test loss', fmtNum],
  test_accuracy: ['Test accuracy', (v) => fmtPct(v, 2)],
  train_seconds: ['Training time', fmtDuration],
};

export function metricItems(metrics) {
  return Object.entries(metrics || {}).map(([k, v]) => {
    const [label, fmt] = METRIC_WORDS[k] || [k[0].toUpperCase() + k.slice(1).replace(/_/g, ' '),
      /accuracy/.test(k) ? (x) => fmtPct(x, 2) : fmtNum];
    return [label, fmt(v)];
  });
}

function detailsList(m) {
  const arch = objectField(m, 'arch');
  const metrics = objectField(m, 'metrics') || {};
  const items = [
    ['Architecture', archSummary(arch) || '–'],
    ['Loss function', arch?.loss ? arch.loss.replace(/_/g, ' ') : '–'],
    ['Parameters', fmtInt(m.n_params)],
    ['File size', fmtBytes(m.size_bytes)],
    ['Created', fmtTime(m.created_at)],
  ];
  items.push(...metricItems(metrics));
  return h('dl', { class: 'summary' }, items.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { text: v }))));
}

function tryPanel(api, m, dataset, cleanups, names) {
  const canvas = h('canvas', { id: 'draw-pad', class: 'draw-pad', width: PAD_SIZE, height: PAD_SIZE, tabindex: 0,
    role: 'img', 'aria-label': 'Drawing area. Draw a digit with the mouse or a finger; with the keyboard, arrow keys move the pen and Space lifts or lowers it.' });
  const cursor = h('canvas', { class: 'draw-cursor', width: PAD_SIZE, height: PAD_SIZE, 'aria-hidden': 'true' });
  const preview = h('canvas', { id: 'draw-preview', class: 'pixels preview', role: 'img',
    'aria-label': 'The drawing as the model sees it, 28 by 28 pixels' });
  paintPixels(preview, new Float32Array(MNIST_SIDE * MNIST_SIDE), MNIST_SIDE);
  const auto = h('input', { type: 'checkbox', id: 'auto-predict', checked: true });
  const answer = h('div', { id: 'prediction', class: 'prediction', 'aria-live': 'polite' },
    h('p', { class: 'muted', text: 'Draw a digit, then predict.' }));
  const probTable = h('tbody');
  const chartCanvas = h('canvas', { id: 'prob-chart', role: 'img', 'aria-label': 'Probability of each class' });
  const chart = chartsAvailable() ? createProbabilityChart(chartCanvas) : null;
  if (chart) cleanups.push(() => chart.destroy());
  const why = createExplainPanel(api, m, names);
  let seq = 0;

  async function predict() {
    if (pad.isEmpty()) {
      replaceChildren(answer, notice('Draw something first.'));
      return;
    }
    const ink = pad.ink();
    const input = mnistFromInk(ink.data, ink.w, ink.h);
    paintPixels(preview, input, MNIST_SIDE);
    const mine = ++seq;
    try {
      const r = await api.predict(m.id, input);
      if (mine !== seq) return; // a newer drawing was sent meanwhile
      const probs = r.probabilities.map(Number);
      const best = Number.isInteger(r.label) ? r.label : probs.indexOf(Math.max(...probs));
      replaceChildren(answer,
        h('p', { class: 'digit', 'data-label': best }, h('span', { class: 'muted', text: 'Prediction ' }),
          h('strong', { text: names[best] ?? best })),
        h('p', { class: 'muted', text: `${fmtPct(probs[best], 1)} sure` }));
      chart?.show(probs, names, best);
      replaceChildren(probTable, probs.map((p, i) => h('tr', {}, h('th', { scope: 'row', text: names[i] }), h('td', { text: fmtPct(p, 2) }))));
      why.explain(input);
    } catch (err) {
      if (mine === seq) replaceChildren(answer, notice(`Prediction failed: ${err.message}`, 'error'));
    }
  }

  const pad = createDrawPad(canvas, cursor, { onStroke: () => { if (auto.checked) predict(); } });
  cleanups.push(() => pad.destroy());

  function clear() {
    pad.clear();
    seq += 1;
    paintPixels(preview, new Float32Array(MNIST_SIDE * MNIST_SIDE), MNIST_SIDE);
    replaceChildren(answer, h('p', { class: 'muted', text: 'Draw a digit, then predict.' }));
    replaceChildren(probTable);
    chart?.show([], [], -1);
    why.clear();
  }

  return h('section', { class: 'try', 'aria-labelledby': 'try-title' },
    h('h2', { id: 'try-title', text: 'Try it' }),
    h('div', { class: 'try-grid' },
      h('div', { class: 'pad-col' },
        h('div', { class: 'pad-wrap' }, canvas, cursor),
        h('div', { class: 'pad-actions' },
          h('button', { type: 'button', class: 'btn btn-primary', id: 'predict-btn', text: 'Predict', onclick: predict }),
          h('button', { type: 'button', class: 'btn', id: 'clear-btn', text: 'Clear', onclick: clear }),
          h('div', { class: 'check' }, auto, h('label', { for: 'auto-predict', text: 'Predict when the pen lifts' })))),
      h('div', { class: 'result-col' },
        h('figure', { class: 'preview-fig' }, preview, h('figcaption', { text: 'What the model sees (28×28)' })),
        answer,
        chart ? h('div', { class: 'chart-area prob-area' }, chartCanvas) : null,
        h('details', {}, h('summary', { text: 'Probabilities' }),
          h('table', { class: 'data', id: 'prob-table' }, h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: 'Class' }), h('th', { scope: 'col', text: 'Probability' }))), probTable)),
        why.el)));
}

export function mountModelTry(root, { api, params }) {
  const id = params[0];
  const controller = new AbortController();
  const cleanups = [];
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));

  api.getModel(id, { signal: controller.signal }).then(async (m) => {
    const arch = objectField(m, 'arch');
    const config = objectField(m, 'config') || {};
    const inputs = arch?.inputs;
    const outputs = arch?.layers?.[arch.layers.length - 1]?.units ?? 10;
    const set = config.dataset
      ? await api.getDataset(config.dataset, { signal: controller.signal }).catch(() => null) : null;
    const names = classNames(outputs, set?.class_names);
    const image = inputs === undefined || inputs === MNIST_SIDE * MNIST_SIDE;
    replaceChildren(body,
      h('div', { class: 'actions' },
        m.run_id ? h('a', { class: 'btn', href: `#/jobs/${m.run_id}`, text: `Job #${m.run_id}` }) : null,
        h('a', { class: 'btn', href: api.modelFileUrl(m.id), download: `model-${m.id}.mlp`, text: 'Download' })),
      detailsList(m),
      inputs === undefined || inputs === MNIST_SIDE * MNIST_SIDE
        ? tryPanel(api, m, config.dataset, cleanups, names)
        : notice(`This model takes ${inputs} inputs; drawing needs a 784-input (28×28) model.`),
      image && config.dataset ? testSamplePanel(api, m, config.dataset, names) : null,
      evaluationSection(api, m, names, cleanups));
  }).catch((err) => {
    if (err.name !== 'AbortError') {
      replaceChildren(body, notice(err.status === 404 ? `There is no model ${id}.` : err.message, 'error'));
    }
  });

  replaceChildren(root, h('h1', { tabindex: -1, text: `Model #${id}` }), body);
  return () => {
    controller.abort();
    for (const c of cleanups) c();
  };
}
