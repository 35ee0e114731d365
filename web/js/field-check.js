// field-check.js - the new-job form's checks, made from the same limits the
// daemon applies (recipe.js, generated from engine/recipe.c, via
// train-fields.js), worded for people: "Learning rate must be greater than 0
// and at most 10". The daemon still checks everything; these only spare a
// round trip and show every mistake at once.
import { RECIPE } from './recipe.js';

const fmt = (n) => (Math.abs(n) >= 1e4 && Number.isInteger(n) ? n.toLocaleString('en-US') : String(n));

// "greater than 0 and at most 10", "from 1 to 10,000", "at least 0".
export function rangeWords({ min, max, minOpen = false, maxOpen = false, integer = false }) {
  const hasMin = min !== undefined && min !== null;
  const hasMax = max !== undefined && max !== null;
  if (integer && hasMin && hasMax && !minOpen && !maxOpen) return `from ${fmt(min)} to ${fmt(max)}`;
  const lo = hasMin ? `${minOpen ? 'greater than' : 'at least'} ${fmt(min)}` : '';
  const hi = hasMax ? `${maxOpen ? 'less than' : 'at most'} ${fmt(max)}` : '';
  return [lo, hi].filter(Boolean).join(' and ');
}

function outside(v, { min, max, minOpen, maxOpen }) {
  if (min !== undefined && (minOpen ? v <= min : v < min)) return true;
  if (max !== undefined && (maxOpen ? v >= max : v > max)) return true;
  return false;
}

// The message for a number `v` in `field`, or null when it is acceptable.
export function numberProblem(field, v) {
  const integer = field.kind === 'int';
  const range = rangeWords({ ...field, integer });
  if (!Number.isFinite(v)) return `${field.label} must be a number${range ? ` ${range}` : ''}`;
  if ((integer && !Number.isInteger(v)) || outside(v, field)) {
    const what = integer ? 'a whole number' : '';
    return `${field.label} must be ${[what, range].filter(Boolean).join(' ')}`.trim();
  }
  return null;
}

// The message for a list of layer widths, or null.
export function listProblem(field, values) {
  const r = RECIPE[field.name] || {};
  const items = { min: r.items?.minimum, max: r.items?.maximum };
  if (r.maxItems !== undefined && values.length > r.maxItems) {
    return `${field.label}: at most ${r.maxItems} layers`;
  }
  const bad = values.findIndex((n) => !Number.isInteger(n) || outside(n, items));
  if (bad >= 0) {
    return `${field.label}: each width must be a whole number ${rangeWords({ ...items, integer: true })} (layer ${bad + 1} is "${values[bad]}")`;
  }
  return null;
}
