// views/train-form.js - the new-job form (#/new, #/new?from=<job id> to start
// from a job's configuration). Every option of POST /train with its default
// and the recipe's limits (min/max/step on the inputs). Every field is
// checked in the page first (field-check.js: as soon as it is left, and all
// at once on submit, so nothing is sent with a known mistake); what only the
// daemon can judge comes back as a problem whose pointer(s) put each message
// next to its field, the rest above the form.
import { h, notice, replaceChildren, uid } from '../dom.js';
import { ApiError } from '../api.js';
import { listProblem, numberProblem } from '../field-check.js';
import {
  TRAIN_FIELDS, TRAIN_GROUPS, defaultText, fieldForPointer, fieldPointer, setAt, valueAt,
} from '../train-fields.js';

function control(field, id, describedBy) {
  const common = { id, name: field.name, 'aria-describedby': describedBy, 'data-pointer': fieldPointer(field) };
  switch (field.kind) {
    case 'bool':
      return h('input', { ...common, type: 'checkbox', checked: field.def === true });
    case 'select':
      return h('select', common, field.options.map((o) =>
        h('option', { value: o, selected: o === field.def, text: field.optionLabels?.[o] ?? o })));
    case 'intlist':
      return h('input', { ...common, type: 'text', inputmode: 'numeric', autocomplete: 'off',
        value: (field.def || []).join(', '), placeholder: 'e.g. 512, 256' });
    case 'dataset':
    case 'model':
      return h('select', common, h('option', { value: field.def ?? '', text: field.def ?? 'none' }));
    default: // number, int
      return h('input', { ...common, type: 'number', inputmode: field.kind === 'int' ? 'numeric' : 'decimal',
        step: field.step ?? (field.kind === 'int' ? 1 : 'any'), min: field.min, max: field.max,
        value: field.def ?? '' });
  }
}

// Read one control: {skip} (blank: let the daemon default it), {value} or
// {error} (a message for people, from the recipe's limits).
function readControl(field, el) {
  if (el.disabled) return { skip: true };
  if (field.kind === 'bool') return { value: el.checked };
  if (field.kind === 'intlist') {
    const parts = el.value.split(/[\s,]+/).filter(Boolean);
    const nums = parts.map(Number);
    const error = listProblem(field, nums);
    return error ? { error } : { value: nums };
  }
  if (field.kind === 'number' || field.kind === 'int') {
    if (el.validity.badInput) return { error: numberProblem(field, NaN) };
    if (el.value === '') return { skip: true };
    const v = Number(el.value);
    const error = numberProblem(field, v);
    return error ? { error } : { value: v };
  }
  if (el.value === '') return { skip: true };
  return { value: field.kind === 'model' ? Number(el.value) : el.value };
}

function writeControl(field, el, v) {
  if (v === undefined) return;
  if (field.kind === 'bool') el.checked = Boolean(v);
  else if (field.kind === 'intlist') el.value = Array.isArray(v) ? v.join(', ') : '';
  else if (field.kind === 'dataset' || field.kind === 'model') {
    const s = v === null || v === 0 ? '' : String(v);
    if (![...el.options].some((o) => o.value === s)) el.append(h('option', { value: s, text: s }));
    el.value = s;
  } else el.value = v === null ? '' : String(v);
}

export function mountTrainForm(root, { api, navigate, query }) {
  const controller = new AbortController();
  const controls = new Map(); // name -> {field, el, error}
  const alert = h('div', { class: 'form-alert', 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Start training' });
  const form = h('form', { class: 'train-form', novalidate: true, 'aria-labelledby': 'new-job-title' });

  for (const group of TRAIN_GROUPS) {
    const fields = TRAIN_FIELDS.filter((f) => f.group === group);
    const set = h('fieldset', { class: 'field-group' }, h('legend', { text: group }));
    for (const field of fields) {
      const id = uid('opt');
      const hintId = `${id}-hint`; const errId = `${id}-err`;
      const el = control(field, id, `${hintId} ${errId}`);
      const error = h('p', { class: 'field-error', id: errId, hidden: true });
      const hint = h('p', { class: 'field-hint', id: hintId },
        `Default: ${defaultText(field)}`, field.help ? `. ${field.help[0].toUpperCase()}${field.help.slice(1)}.` : '');
      const label = h('label', { for: id, text: field.label });
      set.append(h('div', { class: `field field-${field.kind}`, dataset: { field: field.name } },
        field.kind === 'bool' ? h('div', { class: 'check' }, el, label) : [label, el], hint, error));
      controls.set(field.name, { field, el, error });
    }
    form.append(set);
  }
  form.append(h('div', { class: 'form-actions' }, submit,
    h('button', { type: 'button', class: 'btn', text: 'Reset to defaults', onclick: reset })));

  // Fields that only one optimizer or one schedule reads are disabled (and
  // not sent) for the others.
  const optimizer = controls.get('optimizer').el;
  const schedule = controls.get('lr_schedule.type').el;
  function applyOptimizer() {
    for (const { field, el } of controls.values()) {
      if (field.optimizers) el.disabled = !field.optimizers.includes(optimizer.value);
      if (field.schedules) el.disabled = !field.schedules.includes(schedule.value);
    }
  }
  optimizer.addEventListener('change', applyOptimizer);
  schedule.addEventListener('change', applyOptimizer);
  applyOptimizer();

  function reset() {
    for (const { field, el } of controls.values()) writeControl(field, el, field.def ?? '');
    applyOptimizer();
    clearErrors();
  }

  function clearErrors() {
    replaceChildren(alert);
    for (const { el, error } of controls.values()) {
      error.hidden = true;
      error.textContent = '';
      el.removeAttribute('aria-invalid');
    }
  }

  function showFieldError(name, message) {
    const c = controls.get(name);
    c.error.textContent = message;
    c.error.hidden = false;
    c.el.setAttribute('aria-invalid', 'true');
  }

  // Every error the daemon's problem names: each pointer's message next to
  // its field (a problem may list several in "errors"), the rest above the form.
  function showServerErrors(err) {
    const p = err.problem;
    const items = Array.isArray(p.errors) && p.errors.length
      ? p.errors.map((e) => ({ pointer: e?.pointer, detail: e?.detail || p.detail }))
      : [{ pointer: p.pointer, detail: p.detail }];
    const unplaced = [];
    for (const { pointer, detail } of items) {
      const field = typeof pointer === 'string' && pointer ? fieldForPointer(pointer) : null;
      if (field) {
        const c = controls.get(field.name);
        showFieldError(field.name, c.error.hidden ? detail || err.message : `${c.error.textContent} ${detail}`);
      } else unplaced.push(detail);
    }
    if (!unplaced.length) return;
    const title = p.title || (err.status ? `Error ${err.status}` : 'Network error');
    const details = unplaced.filter(Boolean);
    alert.append(h('div', { class: 'notice notice-error', role: 'alert' }, h('strong', { text: title }),
      details.length === 1 ? ` ${details[0]}` : (details.length ? h('ul', {}, details.map((d) => h('li', { text: d }))) : ` ${err.status ? '' : err.message}`)));
  }

  // A field's own check as soon as it is left, so mistakes show before submitting.
  function checkOne(name) {
    const c = controls.get(name);
    const r = readControl(c.field, c.el);
    c.error.hidden = !r.error;
    c.error.textContent = r.error || '';
    if (r.error) c.el.setAttribute('aria-invalid', 'true'); else c.el.removeAttribute('aria-invalid');
  }
  for (const [name, { el }] of controls) el.addEventListener('change', () => checkOne(name));

  function focusFirstError() {
    const first = [...controls.values()].find((c) => !c.error.hidden);
    (first ? first.el : alert).focus?.();
  }

  function buildBody() {
    const body = {}; const errors = [];
    for (const { field, el } of controls.values()) {
      const r = readControl(field, el);
      if (r.error) errors.push([field.name, r.error]);
      else if (!r.skip) setAt(body, field.name, r.value);
    }
    // Early stopping is off unless a patience is given.
    const es = body.early_stopping;
    if (es && (es.patience === undefined || es.patience === 0)) delete body.early_stopping;
    return { body, errors };
  }

  async function onSubmit(e) {
    e.preventDefault();
    clearErrors();
    const { body, errors } = buildBody();
    if (errors.length) {
      for (const [name, msg] of errors) showFieldError(name, msg);
      focusFirstError();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Submitting…';
    try {
      const { id } = await api.train(body);
      navigate(id !== undefined ? `#/jobs/${id}` : '#/jobs');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showServerErrors(err);
      focusFirstError();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Start training';
    }
  }
  form.addEventListener('submit', onSubmit);

  // Choices that come from the daemon: data sets and models.
  async function fillChoices() {
    const ds = controls.get('dataset');
    try {
      const list = await api.listDatasets({ signal: controller.signal });
      if (list.length) {
        const current = ds.el.value;
        replaceChildren(ds.el, list.map((d) => h('option', { value: d.name,
          text: `${d.name}${Number.isFinite(d.n_train) ? ` (${d.n_train} samples)` : ''}` })));
        ds.el.value = list.some((d) => d.name === current) ? current : list[0].name;
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      // Without the list, a free text field still lets the job be submitted.
      const text = h('input', { id: ds.el.id, name: 'dataset', type: 'text', value: ds.el.value,
        'aria-describedby': ds.el.getAttribute('aria-describedby'), 'data-pointer': '/dataset' });
      ds.el.replaceWith(text);
      ds.el = text;
    }
    const ms = controls.get('warm_start_model');
    try {
      const models = await api.listModels({}, { signal: controller.signal });
      ms.el.append(...models.map((m) => h('option', { value: m.id,
        text: `#${m.id}${m.name ? ` ${m.name}` : ''}${m.run_id ? ` (job ${m.run_id})` : ''}` })));
    } catch { /* the "none" choice remains */ }
  }

  async function prefill() {
    const dataset = query.get('dataset');
    if (dataset) writeControl(controls.get('dataset').field, controls.get('dataset').el, dataset);
    const from = query.get('from');
    if (!from) return;
    try {
      const job = await api.getJob(from, { signal: controller.signal });
      const config = typeof job.config === 'string' ? JSON.parse(job.config) : job.config || {};
      for (const { field, el } of controls.values()) writeControl(field, el, valueAt(config, field.name));
      applyOptimizer();
      alert.append(notice(`Options copied from job ${from}.`));
    } catch (err) {
      if (err.name !== 'AbortError') alert.append(notice(`Could not copy job ${from}: ${err.message}`, 'error'));
    }
  }

  replaceChildren(root,
    h('h1', { id: 'new-job-title', tabindex: -1, text: 'New training job' }),
    h('p', { class: 'lead', text: 'Every option shows its default; the daemon checks the values and points at any it refuses.' }),
    alert, form);
  alert.tabIndex = -1;
  fillChoices().then(prefill);
  return () => controller.abort();
}
