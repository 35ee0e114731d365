// views/datasets.js - #/datasets: the data sets the daemon knows (GET
// /datasets) and a few sample images of each from
// GET /datasets/{name}/samples?n=8 -> {"samples": [{"label", "pixels": [0..1]}]}.
// A daemon without that endpoint (404/405) gets a note instead of images.
import { h, notice, replaceChildren } from '../dom.js';
import { fmtInt, fmtTime } from '../format.js';
import { pixelsCanvas, squareSide } from '../pixels.js';

const SAMPLES = 8;

function samplesBlock(api, d, signal) {
  const box = h('div', { class: 'samples', 'aria-live': 'polite' }, h('p', { class: 'muted', text: 'Loading samples…' }));
  api.datasetSamples(d.name, SAMPLES, { signal }).then((samples) => {
    const shown = samples.filter((s) => Array.isArray(s.pixels) && squareSide(s.pixels.length));
    if (!shown.length) {
      replaceChildren(box, h('p', { class: 'muted', text: samples.length
        ? 'Its samples are not square images, so they are not drawn.' : 'No samples.' }));
      return;
    }
    replaceChildren(box, h('ul', { class: 'sample-grid', 'aria-label': `Samples of ${d.name}` },
      shown.map((s, i) => h('li', {},
        h('figure', {}, pixelsCanvas(s.pixels, `sample ${i + 1}, label ${s.label}`),
          h('figcaption', { text: `label ${s.label}` }))))));
  }).catch((err) => {
    if (err.name === 'AbortError') return;
    replaceChildren(box, h('p', { class: 'muted', text: err.status === 404 || err.status === 405
      ? 'This daemon does not serve sample images.' : `Samples unavailable: ${err.message}` }));
  });
  return box;
}

function datasetCard(api, d, signal) {
  const facts = [
    ['Training samples', fmtInt(d.n_train)],
    ['Test samples', d.n_test ? fmtInt(d.n_test) : 'none'],
    ['Features', fmtInt(d.features)],
    ['Classes', fmtInt(d.classes)],
    ['Format', d.format || '–'],
    ['Source', d.source || '–'],
    ['Added', fmtTime(d.created_at)],
  ];
  return h('article', { class: 'card dataset', dataset: { dataset: d.name }, 'aria-labelledby': `ds-${d.id ?? d.name}` },
    h('div', { class: 'card-head' },
      h('h2', { id: `ds-${d.id ?? d.name}`, text: d.name }),
      // The accessible name starts with the visible words (axe: label-content-name-mismatch).
      h('a', { class: 'btn btn-small', href: `#/new?dataset=${encodeURIComponent(d.name)}` },
        'Train on it', h('span', { class: 'visually-hidden', text: `: ${d.name}` }))),
    h('dl', { class: 'summary compact' }, facts.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { text: v })))),
    samplesBlock(api, d, signal));
}

export function mountDatasets(root, { api }) {
  const controller = new AbortController();
  const list = h('div', { class: 'dataset-list', 'aria-live': 'polite' }, h('p', { class: 'muted', text: 'Loading…' }));
  api.listDatasets({ signal: controller.signal }).then((sets) => {
    replaceChildren(list, sets.length ? sets.map((d) => datasetCard(api, d, controller.signal))
      : h('p', {}, 'No data sets. Put MNIST-style IDX folders or CSV files in the daemon\'s data directory.'));
  }).catch((err) => {
    if (err.name !== 'AbortError') replaceChildren(list, notice(err.message, 'error'));
  });
  replaceChildren(root, h('h1', { tabindex: -1, text: 'Datasets' }), list);
  return () => controller.abort();
}
