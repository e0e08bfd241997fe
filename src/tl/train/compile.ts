/** Compiling a model for fit(): optimizer, loss and accuracy, and what its labels look like. */
import * as tf from '@tensorflow/tfjs';
import { recompileIfNeeded } from '../freeze';
import { outputUnits as unitsOf } from '../models';
import type { FitOptions } from './options';
import { isOptimizer, makeOptimizer, setLearningRate } from './optimizers';
import { checkRange, GroupedOptimizer, groupedOptimizer, plainOptimizer } from './discriminative';

export type LabelMode = 'onehot' | 'sparse' | 'binary';

/** tfjs LayersModel fields that fit() reads or sets. */
export interface ModelInternals {
  optimizer_?: tf.Optimizer;
  isOptimizerOwned?: boolean;
  isTraining?: boolean;
  stopTraining_?: boolean;
}

export function internals(model: tf.LayersModel): ModelInternals {
  return model as unknown as ModelInternals;
}

function lossName(model: tf.LayersModel): string | undefined {
  const l = model.loss as unknown;
  if (typeof l === 'string') return l;
  if (Array.isArray(l) && typeof l[0] === 'string') return l[0];
  return undefined;
}

/** The units of the model's output; fit() cannot train one without a fixed number. */
export function outputUnits(model: tf.LayersModel): number {
  const units = unitsOf(model);
  if (units === undefined) throw new Error('fit(): the model output has no fixed number of units.');
  return units;
}

export function labelModeFor(model: tf.LayersModel): LabelMode {
  const l = (lossName(model) ?? '').toLowerCase().replace(/_/g, '');
  if (l.includes('sparse')) return 'sparse';
  if (l.includes('binary') && outputUnits(model) === 1) return 'binary';
  return 'onehot';
}

export function compileWith(model: tf.LayersModel, optimizer: tf.Optimizer, owned: boolean, loss: string | string[] | unknown, metrics: unknown): void {
  model.compile({ optimizer, loss: loss as string, metrics: metrics as string[] });
  internals(model).isOptimizerOwned = owned;
}

/** Compiles with the optimizer and loss asked for (or kept); an optimizer made by us that is replaced is disposed. */
function compileAsked(model: tf.LayersModel, opts: SingleRate): void {
  const m = internals(model);
  const defaultLoss = outputUnits(model) === 1 ? 'binaryCrossentropy' : 'categoricalCrossentropy';
  const lr = opts.learningRate;
  const optimizer = isOptimizer(opts.optimizer)
    ? opts.optimizer
    : opts.optimizer !== undefined
      ? makeOptimizer(opts.optimizer, lr ?? 1e-3)
      : m.optimizer_ ?? makeOptimizer('adam', lr ?? 1e-3);
  const owned = !isOptimizer(opts.optimizer) && (opts.optimizer !== undefined || !m.optimizer_ || m.isOptimizerOwned === true);
  const loss = opts.loss ?? (m.optimizer_ ? model.loss : defaultLoss);
  const previous = m.optimizer_;
  const previousOwned = m.isOptimizerOwned === true;
  compileWith(model, optimizer, owned, loss, ['accuracy']);
  // tfjs's compile does not dispose the optimizer it replaces; one made by us would leak its slots.
  if (previous && previousOwned && previous !== optimizer) previous.dispose();
}

type SingleRate = Omit<FitOptions, 'learningRate'> & { learningRate?: number };

/** Puts `next` in place of the model's optimizer, disposing the old one when it was ours. */
function swapOptimizer(model: tf.LayersModel, next: tf.Optimizer): void {
  const m = internals(model);
  const previous = m.optimizer_;
  const previousOwned = m.isOptimizerOwned === true;
  compileWith(model, next, true, model.loss, model.metrics);
  if (previous && previousOwned && previous !== next) previous.dispose();
}

/** Whether a grouped optimizer's groups still hold exactly the variables that train now. */
function groupsMatch(model: tf.LayersModel, opt: GroupedOptimizer): boolean {
  const now = model.trainableWeights.map((w) => w.name).sort().join('\n');
  return opt.groups.flatMap((g) => g.variables).sort().join('\n') === now;
}

/**
 * Discriminative rates: a [low, high] pair gives every trainable block its own rate (a fresh
 * grouped optimizer of the model's kind); a single number gives one rate to all again; nothing
 * keeps a grouped optimizer, regrouped at the same spread when what trains has changed.
 */
function settleRates(model: tf.LayersModel, range: [number, number] | undefined, lr: number | undefined): void {
  const opt = model.optimizer;
  if (range) return swapOptimizer(model, groupedOptimizer(model, opt, range));
  if (!(opt instanceof GroupedOptimizer)) return;
  if (lr !== undefined) return swapOptimizer(model, plainOptimizer(opt, lr));
  if (groupsMatch(model, opt)) return;
  const low = opt.learningRate * Math.min(...opt.groups.map((g) => g.scale));
  swapOptimizer(model, groupedOptimizer(model, opt, [low, opt.learningRate]));
}

/**
 * Makes sure the model is compiled for classification with accuracy, with the optimizer and rate
 * asked for. A model compiled elsewhere keeps its loss (and optimizer, unless another is asked for);
 * a changed set of trainable layers is recompiled (freeze.ts explains why). `learningRate: [low,
 * high]` gives discriminative rates (discriminative.ts).
 */
export function prepareCompile(model: tf.LayersModel, opts: FitOptions): void {
  const m = internals(model);
  const range = Array.isArray(opts.learningRate) ? checkRange(opts.learningRate, 'fit(): learningRate') : undefined;
  const single: SingleRate = { ...opts, learningRate: range ? range[1] : (opts.learningRate as number | undefined) };
  if (!m.optimizer_ || opts.optimizer !== undefined || opts.loss !== undefined) {
    compileAsked(model, single);
  } else {
    settleRates(model, undefined, undefined);
    recompileIfNeeded(model);
    const names = model.metricsNames ?? [];
    if (!names.includes('acc') && !names.includes('accuracy')) {
      compileWith(model, model.optimizer, m.isOptimizerOwned === true, model.loss, ['accuracy']);
    }
  }
  settleRates(model, range, range ? undefined : single.learningRate);
  if (!range && single.learningRate !== undefined && opts.optimizer === undefined) setLearningRate(model.optimizer, single.learningRate);
}
