// views/model-evaluation.js - where a model fails: its stored evaluation
// report (GET /models/{id}/evaluation) as a confusion-matrix heatmap (counts
// or row-normalised), the per-class precision / recall / F1 table, the most
// confused pairs, and a gallery of the worst misclassified test examples
// (served by index by GET /datasets/{name}/samples) with their probabilities
// and the attribution heatmap of the wrong class.
import { h, notice, replaceChildren } from '../dom.js';
import { fmtInt, fmtNum, fmtPct } from '../format.js';
import { pixelsCanvas } from '../pixels.js';
import { explainInto } from './model-explain.js';

const GALLERY = 8;

// The confusion matrix as a table whose cells are shaded by their share of
// the row (normalised) or of the largest cell (counts).
// WCAG relative luminance of an sRGB colour (0..255 channels).
function luminance(rgb) {
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

// The cell's blue at `share` over a white page, and whichever of near-black
// and white text reads better on it (axe's colour-contrast rule).
export function cellColours(share) {
  const blue = [29, 78, 216];
  const bg = blue.map((c) => Math.round(255 + (c - 255) * share));
  const l = luminance(bg);
  const onDark = (1.05) / (l + 0.05); // white text
  const onLight = (l + 0.05) / (luminance([17, 17, 17]) + 0.05);
  return { background: `rgb(${bg.join(', ')})`, color: onDark >= onLight ? '#fff' : '#111' };
}

function confusionTable(e, names, normalised) {
  const C = e.confusion;
  const max = Math.max(1, ...C.flat());
  const rows = C.map((row, t) => {
    const sum = row.reduce((s, v) => s + v, 0) || 1;
    return h('tr', {}, h('th', { scope: 'row', text: names[t] ?? t }), row.map((v, p) => {
      const share = normalised ? v / sum : v / max;
      const { background, color } = cellColours(share);
      return h('td', {
        class: `cm-cell${t === p ? ' cm-diag' : ''}`,
        dataset: { true: t, predicted: p, count: v },
        style: `background: ${background}; color: ${color}`,
        title: `true ${names[t] ?? t}, predicted ${names[p] ?? p}: ${v}`,
        text: normalised ? fmtPct(v / sum, 0) : String(v),
      });
    }));
  });
  return h('table', { class: 'data confusion', id: 'confusion' },
    h('caption', { text: `Rows: true class; columns: predicted class${normalised ? ' (share of the row)' : ' (counts)'}` }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'True class' })),
      names.slice(0, C.length).map((n) => h('th', { scope: 'col', text: n })))),
    h('tbody', {}, rows));
}

function perClassTable(e, names) {
  const row = (label, o, support) => h('tr', {}, h('th', { scope: 'row', text: label }),
    h('td', { text: fmtPct(o.precision, 1) }), h('td', { text: fmtPct(o.recall, 1) }),
    h('td', { text: fmtPct(o.f1, 1) }), h('td', { text: support }));
  return h('table', { class: 'data', id: 'per-class' },
    h('thead', {}, h('tr', {}, ['Class', 'Precision', 'Recall', 'F1', 'Support'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, e.per_class.map((c) => row(names[c.class] ?? c.class, c, fmtInt(c.support))),
      row('macro average', e.macro_avg, fmtInt(e.samples)), row('weighted average', e.weighted_avg, fmtInt(e.samples))));
}

// The worst misclassified examples, each with its heatmap for the wrong class.
async function fillGallery(api, model, e, names, list, signal) {
  const worst = e.worst_misclassified.slice(0, GALLERY);
  if (!worst.length) {
    replaceChildren(list, h('p', { class: 'muted', text: 'No misclassified example.' }));
    return;
  }
  const rows = await api.datasetRows(e.dataset, e.split, worst.map((w) => w.index), { signal });
  replaceChildren(list);
  for (let i = 0; i < worst.length && !signal.aborted; i++) {
    const w = worst[i];
    const s = rows[i];
    const heat = h('div', { class: 'gallery-heat' }, h('p', { class: 'muted', text: 'Explaining…' }));
    list.append(h('li', { class: 'card gallery-item', dataset: { index: w.index } },
      pixelsCanvas(s.pixels, `${e.split} sample ${w.index}`),
      h('p', {}, h('strong', { text: `true ${names[w.label] ?? w.label} → predicted ${names[w.predicted] ?? w.predicted}` })),
      h('p', { class: 'muted', text: `P(${names[w.predicted] ?? w.predicted}) ${fmtPct(w.p_predicted, 1)} · P(${names[w.label] ?? w.label}) ${fmtPct(w.p_label, 1)} · #${w.index}` }),
      heat));
    if (s.pixels.length !== 28 * 28) {
      heat.remove();
      continue;
    }
    try {
      await explainInto(api, model, s.pixels, 'integrated_gradients', names, heat,
        { target: w.predicted, idPrefix: `gallery-${w.index}` });
    } catch (err) {
      replaceChildren(heat, notice(err.message, 'error'));
    }
  }
}

export function evaluationSection(api, model, names, cleanups) {
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const section = h('section', { class: 'evaluation', 'aria-labelledby': 'eval-title' },
    h('h2', { id: 'eval-title', text: 'Evaluation' }), body);

  api.getEvaluation(model.id, { signal: controller.signal }).then((e) => {
    const norm = h('input', { type: 'checkbox', id: 'confusion-normalise' });
    // Scrolling regions take keyboard focus (tabindex 0), so they can be scrolled without a mouse.
    const matrix = h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': 'Confusion matrix' },
      confusionTable(e, names, false));
    norm.addEventListener('change', () => replaceChildren(matrix, confusionTable(e, names, norm.checked)));
    const gallery = h('ul', { class: 'gallery', id: 'misclassified' });
    replaceChildren(body,
      h('p', { class: 'lead', text: `${e.dataset}, ${e.split} split: ${fmtInt(e.samples)} samples, accuracy ${fmtPct(e.accuracy, 2)}, loss ${fmtNum(e.loss)}` }),
      h('h3', { text: 'Confusion matrix' }),
      h('div', { class: 'check' }, norm, h('label', { for: 'confusion-normalise', text: 'Row-normalised (recall per class)' })),
      matrix,
      h('h3', { text: 'Per class' }), h('div', { class: 'table-wrap', tabindex: 0, role: 'region',
        'aria-label': 'Per-class precision and recall' }, perClassTable(e, names)),
      h('h3', { text: 'Most confused' }),
      h('ul', { id: 'confused-pairs' }, e.most_confused.slice(0, 5).map((q) => h('li', {
        text: `${names[q.true] ?? q.true} taken for ${names[q.predicted] ?? q.predicted}: ${q.count} times` }))),
      h('h3', { text: 'Worst misclassified' }), gallery);
    fillGallery(api, model, e, names, gallery, controller.signal)
      .catch((err) => { if (err.name !== 'AbortError') replaceChildren(gallery, notice(err.message, 'error')); });
  }).catch((err) => {
    if (err.name === 'AbortError') return;
    replaceChildren(body, notice(err.status === 404
      ? 'No evaluation yet (models uploaded rather than trained have none until POST /models/{id}/evaluate).'
      : err.message, err.status === 404 ? 'info' : 'error'));
  });
  return section;
}
