// views/model-explain.js - "why did it say 7?": the attributions of a
// prediction (POST /explain) as a heatmap over the 28x28 input, with a
// method selector; used by the model page after a drawn digit is predicted,
// and for any test sample picked by its index.
import { h, notice, replaceChildren } from '../dom.js';
import { fmtNum, fmtPct } from '../format.js';
import { heatmapFigure } from '../heatmap.js';
import { MNIST_SIDE } from '../mnist-preprocess.js';
import { pixelsCanvas } from '../pixels.js';

export const METHODS = [
  ['integrated_gradients', 'Integrated gradients'],
  ['saliency', 'Saliency (gradient)'],
  ['gradient_x_input', 'Gradient × input'],
  ['smoothgrad', 'SmoothGrad'],
];
const METHOD_NAME = Object.fromEntries(METHODS);

// One explanation's figure and numbers into `out`; returns the answer.
async function explainInto(api, model, input, method, names, out, { target, idPrefix = 'explain' } = {}) {
  const r = await api.explain(model.id, input, { method, target });
  const t = r.target;
  const caption = `${METHOD_NAME[r.method] || r.method} of P(${names[t] ?? t})`;
  replaceChildren(out,
    heatmapFigure(r.attributions, MNIST_SIDE, input, caption, `${idPrefix}-heatmap`),
    h('p', { class: 'muted', dataset: { target: t } },
      `Class ${names[t] ?? t}, probability ${fmtPct(r.probabilities?.[t], 1)}`,
      Number.isFinite(r.convergence_delta) ? ` · convergence delta ${fmtNum(r.convergence_delta, 3)}` : ''));
  return r;
}

// The panel under "Try it": explain(input) after each prediction.
export function createExplainPanel(api, model, names) {
  const select = h('select', { id: 'explain-method' },
    METHODS.map(([v, label]) => h('option', { value: v, text: label })));
  const out = h('div', { id: 'explain-result', 'aria-live': 'polite' },
    h('p', { class: 'muted', text: 'After a prediction, the pixels that pushed the model towards its answer show here in red, those against it in blue.' }));
  let last = null;
  let seq = 0;

  async function explain(input) {
    last = input;
    const mine = ++seq;
    replaceChildren(out, h('p', { class: 'muted', text: 'Explaining…' }));
    try {
      const holder = h('div');
      await explainInto(api, model, input, select.value, names, holder);
      if (mine === seq) replaceChildren(out, ...holder.childNodes);
    } catch (err) {
      if (mine === seq) replaceChildren(out, notice(`Explanation failed: ${err.message}`, 'error'));
    }
  }
  select.addEventListener('change', () => { if (last) explain(last); });

  const el = h('section', { class: 'explain', 'aria-labelledby': 'explain-title' },
    h('h3', { id: 'explain-title', text: 'Why this answer?' }),
    h('div', { class: 'toolbar' }, h('label', { for: 'explain-method', text: 'Method' }), select),
    out);
  return { el, explain, clear: () => { last = null; seq += 1; } };
}

// "Explain a test sample": its image, label, the model's answer and heatmap.
export function testSamplePanel(api, model, dataset, names) {
  const index = h('input', { id: 'sample-index', type: 'number', min: 0, value: 0, inputmode: 'numeric' });
  const select = h('select', { id: 'sample-method' },
    METHODS.map(([v, label]) => h('option', { value: v, text: label })));
  const out = h('div', { id: 'sample-result', 'aria-live': 'polite' });

  async function show() {
    const k = Number(index.value);
    if (!Number.isInteger(k) || k < 0) {
      replaceChildren(out, notice('The index is a whole number from 0.', 'error'));
      return;
    }
    replaceChildren(out, h('p', { class: 'muted', text: 'Loading…' }));
    try {
      const [s] = await api.datasetRows(dataset, 'test', [k]);
      const holder = h('div', { class: 'heat-pair' });
      const sample = h('figure', { class: 'heat-fig' },
        pixelsCanvas(s.pixels, `test sample ${k}`),
        h('figcaption', { text: `Test sample ${k}, label ${names[s.label] ?? s.label}` }));
      const right = h('div');
      const r = await explainInto(api, model, s.pixels, select.value, names, right, { idPrefix: 'sample' });
      replaceChildren(holder, sample, right);
      replaceChildren(out, holder, h('p', { class: r.label === s.label ? 'ok' : 'wrong', id: 'sample-verdict',
        text: `Predicted ${names[r.label] ?? r.label} (${fmtPct(r.probabilities?.[r.label], 1)}): ${r.label === s.label ? 'right' : 'wrong'}` }));
    } catch (err) {
      replaceChildren(out, notice(err.message, 'error'));
    }
  }

  return h('section', { class: 'explain', 'aria-labelledby': 'sample-title' },
    h('h3', { id: 'sample-title', text: `Explain a test sample of ${dataset}` }),
    h('div', { class: 'toolbar' },
      h('label', { for: 'sample-index', text: 'Index' }), index,
      h('label', { for: 'sample-method', text: 'Method' }), select,
      h('button', { type: 'button', class: 'btn', id: 'sample-show', text: 'Show', onclick: show })),
    out);
}

export { explainInto };
