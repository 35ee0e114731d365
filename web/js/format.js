// format.js - how numbers, times and statuses read on the page. Pure
// functions (besides statusBadge, which builds an element).
import { h } from './dom.js';

export const FINAL_STATUSES = new Set(['succeeded', 'failed', 'cancelled']);

export function isFinal(status) {
  return FINAL_STATUSES.has(status);
}

// A JSON number that may be null (the API writes NaN as null) or missing.
export function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

export function fmtNum(v, digits = 4) {
  if (!isNum(v)) return '–';
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(2);
  return String(Number(v.toFixed(digits)));
}

export function fmtPct(v, digits = 1) {
  return isNum(v) ? `${(v * 100).toFixed(digits)}%` : '–';
}

export function fmtInt(v) {
  return isNum(v) ? Math.round(v).toLocaleString('en-US') : '–';
}

export function fmtBytes(v) {
  if (!isNum(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

// "0.88 s", "12 s", "3 min 4 s", "1 h 2 min".
export function fmtDuration(seconds) {
  if (!isNum(seconds) || seconds < 0) return '–';
  if (seconds < 10) return `${Number(seconds.toFixed(2))} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// Seconds between two API times (the second missing: until now), or NaN.
export function secondsBetween(from, to) {
  const a = toDate(from);
  if (!a) return NaN;
  const b = toDate(to) || new Date();
  return (b.getTime() - a.getTime()) / 1000;
}

// A job's network and optimizer in a few words, from its config:
// "512 → 256 relu", "adam, lr 0.001".
export function jobArch(config) {
  const hidden = config?.hidden;
  if (!Array.isArray(hidden)) return '–';
  return hidden.length ? `${hidden.join(' → ')} ${config.activation ?? ''}`.trim() : 'no hidden layer';
}

export function jobOptimizer(config) {
  if (!config?.optimizer) return '–';
  return `${config.optimizer}${isNum(config.learning_rate) ? `, lr ${config.learning_rate}` : ''}`;
}

// A time as the API writes it (an RFC 3339 string; Unix seconds are
// accepted too) in the viewer's local time; null, 0 or '' mean "not yet".
export function toDate(t) {
  if (typeof t === 'string' && t) {
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return isNum(t) && t > 0 ? new Date(t * 1000) : null;
}

export function fmtTime(t) {
  const d = toDate(t);
  if (!d) return '–';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function statusBadge(status) {
  const s = String(status || 'unknown');
  return h('span', { class: `badge badge-${s.replace(/[^a-z]/g, '')}`, text: s });
}

// "784 → 512 relu → 256 relu → 10 softmax" from a model's arch object
// {inputs, layers: [{units, activation}], loss}; '' when it has another shape.
export function archSummary(arch) {
  if (!arch || typeof arch !== 'object' || !Array.isArray(arch.layers)) return '';
  const parts = [String(arch.inputs ?? '?')];
  for (const l of arch.layers) parts.push(`${l.units ?? '?'} ${l.activation ?? ''}`.trim());
  return parts.join(' → ');
}
