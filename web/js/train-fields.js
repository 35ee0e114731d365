// train-fields.js - every option of POST /train as data: how the new-job form
// lays it out, its default (api/train_request.h, the reference recipe), and
// the JSON pointer the API uses to blame it ("/early_stopping/patience").
//
// kind: 'number' | 'int' | 'intlist' | 'select' | 'bool' | 'dataset' | 'model'
// optimizers: the optimizers a field applies to (disabled for the others).
// A field left blank is not sent, so the daemon's default applies.

export const TRAIN_GROUPS = ['Data', 'Network', 'Optimizer', 'Training', 'Early stopping'];

export const TRAIN_FIELDS = [
  { group: 'Data', name: 'dataset', label: 'Dataset', kind: 'dataset', def: 'mnist-digits' },
  { group: 'Data', name: 'validation_split', label: 'Validation split', kind: 'number', def: 0, min: 0, max: 0.9,
    step: 0.05, help: 'share of the training samples held out for validation (the last ones)' },
  { group: 'Data', name: 'shuffle', label: 'Shuffle every epoch', kind: 'bool', def: true },
  { group: 'Data', name: 'seed', label: 'Seed', kind: 'int', def: 0, min: 0,
    help: 'seeds initialisation, shuffling and dropout: the same seed, options and data give the same weights' },

  { group: 'Network', name: 'hidden', label: 'Hidden layers', kind: 'intlist', def: [512, 256],
    help: 'widths, input side first, comma-separated; empty: softmax regression' },
  { group: 'Network', name: 'activation', label: 'Hidden activation', kind: 'select', def: 'relu',
    options: ['relu', 'sigmoid', 'tanh'] },
  { group: 'Network', name: 'output_activation', label: 'Output activation', kind: 'select', def: '',
    options: ['', 'softmax', 'sigmoid', 'linear'], optionLabels: { '': 'follows the loss' },
    help: 'softmax for cross-entropy, linear for MSE unless chosen here' },
  { group: 'Network', name: 'loss', label: 'Loss', kind: 'select', def: 'cross_entropy',
    options: ['cross_entropy', 'mse'] },
  { group: 'Network', name: 'init', label: 'Weight initialisation', kind: 'select', def: 'glorot_uniform',
    options: ['glorot_uniform', 'he_normal'] },

  { group: 'Optimizer', name: 'optimizer', label: 'Optimizer', kind: 'select', def: 'sgd',
    options: ['sgd', 'momentum', 'adam'] },
  { group: 'Optimizer', name: 'learning_rate', label: 'Learning rate', kind: 'number', def: 0.01, min: 0, step: 'any' },
  { group: 'Optimizer', name: 'momentum', label: 'Momentum', kind: 'number', def: 0.9, min: 0, max: 1, step: 'any',
    optimizers: ['momentum'] },
  { group: 'Optimizer', name: 'nesterov', label: 'Nesterov momentum', kind: 'bool', def: false,
    optimizers: ['momentum'] },
  { group: 'Optimizer', name: 'beta1', label: 'Adam β1', kind: 'number', def: 0.9, min: 0, max: 1, step: 'any',
    optimizers: ['adam'] },
  { group: 'Optimizer', name: 'beta2', label: 'Adam β2', kind: 'number', def: 0.999, min: 0, max: 1, step: 'any',
    optimizers: ['adam'] },
  { group: 'Optimizer', name: 'epsilon', label: 'Adam ε', kind: 'number', def: 1e-7, min: 0, step: 'any',
    optimizers: ['adam'] },

  { group: 'Training', name: 'epochs', label: 'Epochs', kind: 'int', def: 10, min: 1 },
  { group: 'Training', name: 'batch_size', label: 'Batch size', kind: 'int', def: 128, min: 1 },
  { group: 'Training', name: 'l1', label: 'L1 penalty', kind: 'number', def: 0, min: 0, step: 'any' },
  { group: 'Training', name: 'l2', label: 'L2 penalty', kind: 'number', def: 0, min: 0, step: 'any' },
  { group: 'Training', name: 'dropout', label: 'Dropout rate', kind: 'number', def: 0, min: 0, max: 0.99,
    step: 0.05, help: 'on hidden layers while training' },
  { group: 'Training', name: 'warm_start_model', label: 'Warm start from model', kind: 'model', def: null,
    help: 'continue from a model\'s weights (same architecture)' },

  { group: 'Early stopping', name: 'early_stopping.patience', label: 'Patience (epochs)', kind: 'int', def: 0, min: 0,
    help: 'stop after this many epochs without improvement; 0: off' },
  { group: 'Early stopping', name: 'early_stopping.min_delta', label: 'Minimum improvement', kind: 'number', def: 0,
    min: 0, step: 'any', needs: 'early_stopping.patience' },
  { group: 'Early stopping', name: 'early_stopping.restore_best_weights', label: 'Restore the best weights',
    kind: 'bool', def: true, needs: 'early_stopping.patience' },
];

// "/early_stopping/patience" for "early_stopping.patience".
export function fieldPointer(field) {
  return `/${field.name.split('.').join('/')}`;
}

// The field a problem's pointer blames: the one whose pointer is the
// longest prefix of it ("/hidden/1" -> hidden), or null.
export function fieldForPointer(pointer) {
  let best = null;
  for (const f of TRAIN_FIELDS) {
    const p = fieldPointer(f);
    if ((pointer === p || pointer.startsWith(`${p}/`)) && (!best || p.length > fieldPointer(best).length)) best = f;
  }
  return best;
}

// How a default reads next to its field.
export function defaultText(field) {
  const d = field.def;
  if (d === null || d === undefined) return 'none';
  if (d === '') return field.optionLabels?.[''] || 'none';
  if (Array.isArray(d)) return d.join(', ');
  if (typeof d === 'boolean') return d ? 'on' : 'off';
  return String(d);
}

// Read a value at a dotted name from a (config) object.
export function valueAt(obj, name) {
  return name.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

// Set a value at a dotted name, creating the objects on the way.
export function setAt(obj, name, value) {
  const keys = name.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ?? (o[k] = {});
  o[keys[keys.length - 1]] = value;
}
