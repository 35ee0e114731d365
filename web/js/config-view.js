// config-view.js - a job's training configuration in words (the job page).
// First only what matters: the members its optimizer and schedule read
// (train-fields.js says which) whose values differ from the defaults; then
// every member behind a toggle. Labels and defaults come from the same
// table as the new-job form, so the two read alike.
import { h } from './dom.js';
import { TRAIN_FIELDS, valueAt } from './train-fields.js';

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b === '' ? null : b ?? null);

// A value as people read it: "on", "512, 256", "cross entropy".
export function valueWords(field, v) {
  if (v === null || v === undefined || v === '') {
    return field.optionLabels?.[''] || (field.kind === 'model' ? 'none' : 'default');
  }
  switch (field.kind) {
    case 'bool': return v ? 'on' : 'off';
    case 'intlist': return Array.isArray(v) && v.length ? v.join(', ') : 'none (softmax regression)';
    case 'select': return field.optionLabels?.[v] ?? String(v).replace(/_/g, ' ');
    case 'model': return `model #${v}`;
    default: return String(v);
  }
}

// Does the member take part in this run (its optimizer, schedule, switch)?
export function fieldMatters(field, cfg) {
  if (field.optimizers && !field.optimizers.includes(cfg.optimizer ?? 'sgd')) return false;
  if (field.schedules && !field.schedules.includes(valueAt(cfg, 'lr_schedule.type') ?? 'constant')) return false;
  if (field.name.startsWith('early_stopping.') && !(valueAt(cfg, 'early_stopping.patience') > 0)) return false;
  return true;
}

function rows(list) {
  return h('table', { class: 'data kv' }, h('tbody', {}, list.map(([k, v]) =>
    h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { text: v })))));
}

// Members of cfg that no form field describes (kept visible, by their API name).
function otherMembers(cfg, prefix = '', out = []) {
  for (const [k, v] of Object.entries(cfg || {})) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) otherMembers(v, name, out);
    else if (!TRAIN_FIELDS.some((f) => f.name === name)) out.push([name, Array.isArray(v) ? v.join(', ') : String(v)]);
  }
  return out;
}

// -> [summary table, <details> with every member].
export function configView(cfg) {
  const main = [];
  const all = [];
  for (const f of TRAIN_FIELDS) {
    const v = valueAt(cfg, f.name);
    if (v === undefined && f.kind !== 'model') continue;
    all.push([f.label, valueWords(f, v)]);
    if (f.name === 'dataset' || (fieldMatters(f, cfg) && !same(v, f.def))) main.push([f.label, valueWords(f, v)]);
  }
  all.push(...otherMembers(cfg));
  const note = h('p', { class: 'muted', text: main.length > 1
    ? 'Options that differ from the defaults:' : 'Every option has its default value.' });
  return [note, rows(main),
    h('details', { class: 'config-all' }, h('summary', { text: `All options (${all.length})` }), rows(all))];
}
