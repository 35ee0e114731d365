// train-fields.js - every option of POST /train as the new-job form lays it
// out: group, label, kind, step, and the optimizers it applies to. Its
// default, limits, choices and help come from recipe.js, which is generated
// from the engine's recipe table: the form cannot drift from the daemon.
// dataset and warm_start_model are the API's own members (not in the recipe).
//
// kind: 'number' | 'int' | 'intlist' | 'select' | 'bool' | 'dataset' | 'model'
// optimizers: the optimizers a field applies to (disabled for the others).
// schedules: the lr_schedule types a field applies to (disabled for the others).
// A field left blank is not sent, so the daemon's default applies.
import { RECIPE } from './recipe.js';

export const TRAIN_GROUPS = ['Data', 'Network', 'Optimizer', 'Learning-rate schedule', 'Training', 'Early stopping'];

// The layout of one recipe member, completed from its RECIPE entry:
// def, min and max (inclusive or not: minOpen/maxOpen), options, help.
function member(layout) {
  const r = RECIPE[layout.name];
  if (!r) throw new Error(`train-fields: ${layout.name} is not in the recipe`);
  const f = { ...layout, def: r.default, help: layout.help ?? r.description };
  const min = r.minimum ?? r.exclusiveMinimum;
  const max = r.maximum ?? r.exclusiveMaximum;
  if (min !== undefined) Object.assign(f, { min, minOpen: r.exclusiveMinimum !== undefined });
  if (max !== undefined) Object.assign(f, { max, maxOpen: r.exclusiveMaximum !== undefined });
  if (r.enum) {
    // A nullable choice is offered as '' ("follows the loss"), which is not sent.
    f.options = r.nullable ? ['', ...r.enum] : [...r.enum];
    if (f.def === null) f.def = '';
  }
  return f;
}

export const TRAIN_FIELDS = [
  { group: 'Data', name: 'dataset', label: 'Dataset', kind: 'dataset', def: 'mnist-digits' },
  member({ group: 'Data', name: 'validation_split', label: 'Validation split', kind: 'number', step: 0.05 }),
  member({ group: 'Data', name: 'shuffle', label: 'Shuffle every epoch', kind: 'bool' }),
  member({ group: 'Data', name: 'seed', label: 'Seed', kind: 'int',
    help: 'seeds initialisation, shuffling and dropout: the same seed, options and data give the same weights' }),

  member({ group: 'Network', name: 'hidden', label: 'Hidden layers', kind: 'intlist',
    help: 'widths, input side first, comma-separated; empty: softmax regression' }),
  member({ group: 'Network', name: 'activation', label: 'Hidden activation', kind: 'select' }),
  member({ group: 'Network', name: 'output_activation', label: 'Output activation', kind: 'select',
    optionLabels: { '': 'follows the loss' }, help: 'softmax for cross-entropy, linear for MSE unless chosen here' }),
  member({ group: 'Network', name: 'loss', label: 'Loss', kind: 'select' }),
  member({ group: 'Network', name: 'init', label: 'Weight initialisation', kind: 'select' }),

  member({ group: 'Optimizer', name: 'optimizer', label: 'Optimizer', kind: 'select' }),
  member({ group: 'Optimizer', name: 'learning_rate', label: 'Learning rate', kind: 'number', step: 'any' }),
  member({ group: 'Optimizer', name: 'momentum', label: 'Momentum', kind: 'number', step: 'any',
    optimizers: ['momentum'] }),
  member({ group: 'Optimizer', name: 'nesterov', label: 'Nesterov momentum', kind: 'bool', optimizers: ['momentum'] }),
  member({ group: 'Optimizer', name: 'beta1', label: 'Adam β1', kind: 'number', step: 'any', optimizers: ['adam', 'adamw'] }),
  member({ group: 'Optimizer', name: 'beta2', label: 'Adam β2', kind: 'number', step: 'any', optimizers: ['adam', 'adamw'] }),
  member({ group: 'Optimizer', name: 'epsilon', label: 'Adam ε', kind: 'number', step: 'any', optimizers: ['adam', 'adamw'] }),
  member({ group: 'Optimizer', name: 'weight_decay', label: 'Weight decay', kind: 'number', step: 'any', optimizers: ['adamw'] }),
  member({ group: 'Optimizer', name: 'clip_norm', label: 'Gradient clip (global norm)', kind: 'number', step: 'any' }),

  member({ group: 'Learning-rate schedule', name: 'lr_schedule.type', label: 'Schedule', kind: 'select' }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.step_epochs', label: 'Step every (epochs)', kind: 'int',
    schedules: ['step'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.gamma', label: 'Decay factor γ', kind: 'number', step: 'any',
    schedules: ['step', 'exponential'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.min_lr', label: 'Minimum rate', kind: 'number', step: 'any',
    schedules: ['cosine', 'reduce_on_plateau'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.warmup_epochs', label: 'Warm-up (epochs)', kind: 'int',
    schedules: ['cosine'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.monitor', label: 'Plateau: watch', kind: 'select',
    schedules: ['reduce_on_plateau'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.mode', label: 'Plateau: mode', kind: 'select',
    schedules: ['reduce_on_plateau'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.factor', label: 'Plateau: factor', kind: 'number', step: 'any',
    schedules: ['reduce_on_plateau'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.patience', label: 'Plateau: patience (epochs)', kind: 'int',
    schedules: ['reduce_on_plateau'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.min_delta', label: 'Plateau: minimum change', kind: 'number',
    step: 'any', schedules: ['reduce_on_plateau'] }),
  member({ group: 'Learning-rate schedule', name: 'lr_schedule.cooldown', label: 'Plateau: cooldown (epochs)', kind: 'int',
    schedules: ['reduce_on_plateau'] }),

  member({ group: 'Training', name: 'epochs', label: 'Epochs', kind: 'int' }),
  member({ group: 'Training', name: 'batch_size', label: 'Batch size', kind: 'int' }),
  member({ group: 'Training', name: 'l1', label: 'L1 penalty', kind: 'number', step: 'any' }),
  member({ group: 'Training', name: 'l2', label: 'L2 penalty', kind: 'number', step: 'any' }),
  member({ group: 'Training', name: 'dropout', label: 'Dropout rate', kind: 'number', step: 0.05,
    help: 'on hidden layers while training' }),
  member({ group: 'Training', name: 'label_smoothing', label: 'Label smoothing', kind: 'number', step: 0.05 }),
  member({ group: 'Training', name: 'augment.hflip', label: 'Augment: mirror left-right', kind: 'bool',
    help: 'mirror each training image with probability 1/2 (square images only; not for digits)' }),
  member({ group: 'Training', name: 'augment.shift', label: 'Augment: shift (pixels)', kind: 'int',
    help: 'move each training image by up to this many pixels in x and y (square images only; 0: off)' }),
  { group: 'Training', name: 'warm_start_model', label: 'Warm start from model', kind: 'model', def: null,
    help: 'continue from a model\'s weights (same architecture)' },

  member({ group: 'Early stopping', name: 'early_stopping.monitor', label: 'Watch', kind: 'select' }),
  member({ group: 'Early stopping', name: 'early_stopping.mode', label: 'Mode', kind: 'select' }),
  member({ group: 'Early stopping', name: 'early_stopping.patience', label: 'Patience (epochs)', kind: 'int',
    help: 'stop after this many epochs without improvement; 0: off' }),
  member({ group: 'Early stopping', name: 'early_stopping.min_delta', label: 'Minimum improvement', kind: 'number',
    step: 'any', needs: 'early_stopping.patience' }),
  member({ group: 'Early stopping', name: 'early_stopping.restore_best_weights', label: 'Restore the best weights',
    kind: 'bool', needs: 'early_stopping.patience' }),
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
