// views/models-list.js - #/models: every stored model with its architecture
// and metrics, each linking to its page (details and "try it"), and deleted
// after a confirmation (DELETE /models/{id}; 409 while an alias points at it).
import { h, notice, replaceChildren } from '../dom.js';
import { archSummary, fmtInt, fmtNum, fmtPct, fmtTime } from '../format.js';

// Fields the API may send as objects or as JSON text (arch_json, ...).
export function objectField(m, name) {
  const v = m[name] ?? m[`${name}_json`];
  if (typeof v === 'string') {
    try { return JSON.parse(v); } catch { return null; }
  }
  return v && typeof v === 'object' ? v : null;
}

export function modelAccuracy(m) {
  const metrics = objectField(m, 'metrics') || {};
  return metrics.test_accuracy ?? metrics.accuracy ?? metrics.val_accuracy;
}

const HEADERS = ['Model', 'Name', 'Architecture', 'Parameters', 'Test accuracy', 'Test loss', 'Job', 'Created', ''];

export function mountModelsList(root, { api }) {
  const controller = new AbortController();
  const status = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted', text: 'Loading…' }));
  const tbody = h('tbody');
  const message = h('div', { class: 'list-status', 'aria-live': 'polite' });

  async function remove(m) {
    if (!window.confirm(`Delete model #${m.id}${m.name ? ` (${m.name} v${m.version})` : ''}? This cannot be undone.`)) return;
    try {
      await api.deleteModel(m.id);
      tbody.querySelector(`tr[data-model="${m.id}"]`)?.remove();
      replaceChildren(message, notice(`Model #${m.id} deleted.`));
    } catch (err) {
      replaceChildren(message, notice(`Could not delete model #${m.id}: ${err.message}`, 'error'));
    }
  }

  api.listModels({}, { signal: controller.signal }).then((models) => {
    if (!models.length) {
      replaceChildren(status, h('p', {}, 'No models yet: a job that succeeds stores one. ',
        h('a', { href: '#/new', text: 'Train one' }), '.'));
      return;
    }
    replaceChildren(status);
    replaceChildren(tbody, models.map((m) => {
      const metrics = objectField(m, 'metrics') || {};
      const cells = [
        h('a', { href: `#/models/${m.id}`, text: `#${m.id}` }),
        m.name ? h('a', { href: `#/registry/${encodeURIComponent(m.name)}`, text: `${m.name} v${m.version}`,
          title: `Versions of ${m.name}` }) : '–',
        archSummary(objectField(m, 'arch')) || '–',
        fmtInt(m.n_params),
        fmtPct(modelAccuracy(m), 2),
        fmtNum(metrics.test_loss ?? metrics.loss),
        m.run_id ? h('a', { href: `#/jobs/${m.run_id}`, text: `#${m.run_id}` }) : 'upload',
        fmtTime(m.created_at),
        h('span', { class: 'row-actions' },
          h('a', { class: 'btn btn-small', href: `#/models/${m.id}` }, 'Try it',
            h('span', { class: 'visually-hidden', text: `: model ${m.id}` })),
          h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: () => remove(m) }, 'Delete',
            h('span', { class: 'visually-hidden', text: ` model ${m.id}` }))),
      ];
      return h('tr', { dataset: { model: m.id } }, cells.map((c, i) => h('td', { 'data-label': HEADERS[i] }, c)));
    }));
  }).catch((err) => {
    if (err.name !== 'AbortError') replaceChildren(status, notice(err.message, 'error'));
  });

  replaceChildren(root,
    h('h1', { tabindex: -1, text: 'Models' }),
    status, message,
    h('div', { class: 'table-wrap' }, h('table', { class: 'data models-table' },
      h('caption', { class: 'visually-hidden', text: 'Stored models, newest first' }),
      h('thead', {}, h('tr', {}, HEADERS.map((t) => h('th', { scope: 'col', text: t || 'Actions' })))), tbody)));
  return () => controller.abort();
}
