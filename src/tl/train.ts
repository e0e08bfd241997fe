/**
 * fit() and fineTune(): training with live metrics, learning-rate schedules, early stopping,
 * checkpoints, class weights, the embedding cache, clean interrupts and NaN guards.
 *
 * Tensors become plain numbers in one place (`numbers()` on the callback logs); everything after
 * that — the TrainingRun shown by the renderer, the text table, the returned history — is plain data.
 */
import * as crypto from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_PLAIN } from '../common/mime';
import { DISPLAY_SYMBOL, type DisplayHandle, type MimeBundle } from '../common/display';
import type { BatchPoint, EpochPoint, RunStatus, TrainingMessage, TrainingRun } from '../common/shapes';
import { currentCellRun, getOutputSink, isInterruptRequested, isRunInterrupted, onInterrupt, InterruptedError } from './output';
import { getMeta } from './models/meta';
import { assertTrainable } from './models';
import { freeze, recompileIfNeeded, unfreeze } from './freeze';
import { blocksOf } from './inspect';
import { save } from './export';
import { asSplit, type Dataset } from './data';
import { firstNonFiniteWeight, freshOptimizerIfPoisoned, NanGuard } from './nan-guard';
import { printable } from './util/text';
import { describeUnreadable, usableOrThrow, type UnreadableFile } from './data/readable';
import { computeEmbeddings, embeddingDataset, layersHash, splitAtFrozenBase, type EmbeddingStats } from './embeddings';

// --- options and results

export type OptimizerName = 'adam' | 'sgd' | 'momentum' | 'rmsprop' | 'adagrad' | 'adadelta' | 'adamax';

/** A learning rate per step. `step` counts batches from 0 over the whole run. */
export type LRSchedule =
  | { type: 'step'; /** Epochs between drops. */ every: number; /** Factor per drop (default 0.1). */ gamma?: number }
  | { type: 'cosine'; /** Floor (default 0). */ minLr?: number; /** Linear warm-up epochs (default 0). */ warmupEpochs?: number }
  | { type: 'one-cycle'; /** Peak (default: the learning rate). */ maxLr?: number; /** Fraction of steps rising (default 0.3). */ pctStart?: number; divFactor?: number; finalDivFactor?: number }
  | ((info: { epoch: number; step: number; totalSteps: number; baseLr: number }) => number);

export interface EarlyStoppingOptions {
  /** Default 'val_loss' (or 'loss' without validation data). */
  monitor?: string;
  /** Epochs without improvement before stopping (default 3). */
  patience?: number;
  /** Smallest change that counts as improvement (default 0). */
  minDelta?: number;
  /** Put the best epoch's weights back at the end (default true). */
  restoreBest?: boolean;
}

export interface CheckpointOptions {
  dir: string;
  /** Default: the early-stopping monitor, else 'val_loss'/'loss'. */
  monitor?: string;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  optimizer?: OptimizerName | tf.Optimizer;
  learningRate?: number;
  /** Loss when the model is (re)compiled here. Default: categorical cross-entropy (binary for one sigmoid unit). */
  loss?: string;
  schedule?: LRSchedule;
  earlyStopping?: boolean | EarlyStoppingOptions;
  /** Save the best model (by the monitored metric) to a folder. */
  checkpoint?: string | CheckpointOptions;
  /** Per class (by name or index), or 'balanced' for n / (classes × count). */
  classWeight?: 'balanced' | Record<string, number> | number[];
  /** Overrides the data's own validation split. */
  validationData?: unknown;
  /** Shuffle the training samples each epoch (default true). */
  shuffle?: boolean;
  seed?: number;
  /** Train the head on cached base outputs: 'auto' (default) when the base is frozen and nothing augments. */
  cacheEmbeddings?: boolean | 'auto';
  /** What computes the cached embeddings of the frozen base: ONNX Runtime when it loads ('auto'), or only TF.js / only ONNX. */
  baseEngine?: 'auto' | 'onnx' | 'tfjs';
  /** Embedding cache folder; false keeps it in memory only. */
  cacheDir?: string | false;
  title?: string;
  phase?: string;
  /** Print status lines (cache on/off, early stop) to the console (default true). */
  verbose?: boolean;
  /** Minimum milliseconds between per-batch renderer messages (default 100). */
  batchMessageIntervalMs?: number;
}

export interface FitResult {
  runId: string;
  status: RunStatus;
  history: EpochPoint[];
  best?: { epoch: number; monitor: string; value: number };
  stoppedEarly: boolean;
  /** Set when the head trained on cached base outputs. */
  embeddingCache?: EmbeddingStats & { train: EmbeddingStats; validation?: EmbeddingStats };
  /** Why the embedding cache was not used (when it was considered). */
  cacheSkippedReason?: string;
  /** Set when a NaN or Infinity stopped training (status 'error'); the weights from the start of that epoch were put back. */
  stoppedReason?: string;
  /** Images that could not be decoded and were left out of training or validation. */
  unreadable?: UnreadableFile[];
  seconds: number;
}

// --- optimizers and learning rates

export function makeOptimizer(name: OptimizerName | string, lr: number): tf.Optimizer {
  switch (name.toLowerCase()) {
    case 'adam':
      return tf.train.adam(lr);
    case 'sgd':
      return tf.train.sgd(lr);
    case 'momentum':
      return tf.train.momentum(lr, 0.9);
    case 'rmsprop':
      return tf.train.rmsprop(lr);
    case 'adagrad':
      return tf.train.adagrad(lr);
    case 'adadelta':
      return tf.train.adadelta(lr);
    case 'adamax':
      return tf.train.adamax(lr);
    default:
      throw new Error(`Unknown optimizer '${name}'. Use adam, sgd, momentum, rmsprop, adagrad, adadelta, adamax or a tf.train optimizer.`);
  }
}

interface LrOptimizer {
  learningRate?: number;
  setLearningRate?: (lr: number) => void;
}

/** The optimizer's current learning rate, when it has one. */
export function getLearningRate(opt: tf.Optimizer): number | undefined {
  const lr = (opt as unknown as LrOptimizer).learningRate;
  return typeof lr === 'number' ? lr : undefined;
}

/**
 * Changes a tfjs 4.22 optimizer's learning rate between steps. SGD (and Momentum, its subclass)
 * cache the rate as a tensor, so they must go through setLearningRate(); Adam, RMSProp, Adagrad,
 * Adadelta and Adamax read the plain `learningRate` field on every step.
 */
export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`learning rate must be a finite number ≥ 0, got ${lr}`);
  const o = opt as unknown as LrOptimizer;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else if (typeof o.learningRate === 'number') o.learningRate = lr;
  else throw new Error(`${opt.getClassName()} has no learning rate that can be changed during training.`);
}

/** The scheduled rate at a step. Exported for tests and for plotting a schedule before training. */
export function scheduledLr(schedule: LRSchedule, baseLr: number, epoch: number, step: number, stepsPerEpoch: number, epochs: number): number {
  const totalSteps = Math.max(1, Math.round(stepsPerEpoch * epochs));
  if (typeof schedule === 'function') return schedule({ epoch, step, totalSteps, baseLr });
  switch (schedule.type) {
    case 'step': {
      if (!(schedule.every > 0)) throw new Error('schedule step: `every` must be a positive number of epochs');
      return baseLr * Math.pow(schedule.gamma ?? 0.1, Math.floor(epoch / schedule.every));
    }
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const warm = Math.round((schedule.warmupEpochs ?? 0) * stepsPerEpoch);
      if (step < warm) return baseLr * ((step + 1) / warm);
      // The last step (totalSteps − 1) reaches the floor.
      const p = Math.min(1, (step - warm) / Math.max(1, totalSteps - 1 - warm));
      return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * p));
    }
    case 'one-cycle': {
      const maxLr = schedule.maxLr ?? baseLr;
      const start = maxLr / (schedule.divFactor ?? 25);
      const end = start / (schedule.finalDivFactor ?? 1e4);
      const up = Math.max(1, Math.round((schedule.pctStart ?? 0.3) * totalSteps));
      const cos = (a: number, b: number, p: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * Math.min(1, p)));
      return step < up ? cos(start, maxLr, step / up) : cos(maxLr, end, (step - up) / Math.max(1, totalSteps - 1 - up));
    }
    default:
      throw new Error(`Unknown schedule ${JSON.stringify(schedule)}; use step, cosine, one-cycle or a function.`);
  }
}

// --- compiling

type LabelMode = 'onehot' | 'sparse' | 'binary';

interface ModelInternals {
  optimizer_?: tf.Optimizer;
  isOptimizerOwned?: boolean;
  isTraining?: boolean;
  stopTraining_?: boolean;
}

function lossName(model: tf.LayersModel): string | undefined {
  const l = model.loss as unknown;
  if (typeof l === 'string') return l;
  if (Array.isArray(l) && typeof l[0] === 'string') return l[0];
  return undefined;
}

function outputUnits(model: tf.LayersModel): number {
  const shape = model.outputs[0].shape;
  const last = shape[shape.length - 1];
  if (typeof last !== 'number') throw new Error('fit(): the model output has no fixed number of units.');
  return last;
}

function labelModeFor(model: tf.LayersModel): LabelMode {
  const l = (lossName(model) ?? '').toLowerCase().replace(/_/g, '');
  if (l.includes('sparse')) return 'sparse';
  if (l.includes('binary') && outputUnits(model) === 1) return 'binary';
  return 'onehot';
}

/** tf.Optimizer's instanceof check reads `.minimize` of its operand, so it throws on undefined. */
function isOptimizer(x: unknown): x is tf.Optimizer {
  return typeof x === 'object' && x !== null && x instanceof tf.Optimizer;
}

function compileWith(model: tf.LayersModel, optimizer: tf.Optimizer, owned: boolean, loss: string | string[] | unknown, metrics: unknown): void {
  model.compile({ optimizer, loss: loss as string, metrics: metrics as string[] });
  (model as unknown as ModelInternals).isOptimizerOwned = owned;
}

/**
 * Makes sure the model is compiled for classification with accuracy, with the optimizer and rate
 * asked for. A model compiled elsewhere keeps its loss (and optimizer, unless another is asked for);
 * a changed set of trainable layers is recompiled (freeze.ts explains why).
 */
function prepareCompile(model: tf.LayersModel, opts: FitOptions): void {
  const m = model as unknown as ModelInternals;
  const defaultLoss = outputUnits(model) === 1 ? 'binaryCrossentropy' : 'categoricalCrossentropy';
  const lr = opts.learningRate;
  if (!m.optimizer_ || opts.optimizer !== undefined || opts.loss !== undefined) {
    const optimizer =
      isOptimizer(opts.optimizer)
        ? (opts.optimizer as tf.Optimizer)
        : opts.optimizer !== undefined
          ? makeOptimizer(opts.optimizer as string, lr ?? 1e-3)
          : m.optimizer_ ?? makeOptimizer('adam', lr ?? 1e-3);
    const owned = !(isOptimizer(opts.optimizer)) && (opts.optimizer !== undefined || !m.optimizer_ || m.isOptimizerOwned === true);
    const loss = opts.loss ?? (m.optimizer_ ? model.loss : defaultLoss);
    const previous = m.optimizer_;
    const previousOwned = m.isOptimizerOwned === true;
    compileWith(model, optimizer, owned, loss, ['accuracy']);
    // tfjs's compile does not dispose the optimizer it replaces; one made by us would leak its slots.
    if (previous && previousOwned && previous !== optimizer) previous.dispose();
  } else {
    recompileIfNeeded(model);
    const names = model.metricsNames ?? [];
    if (!names.includes('acc') && !names.includes('accuracy')) {
      compileWith(model, model.optimizer, m.isOptimizerOwned === true, model.loss, ['accuracy']);
    }
  }
  if (lr !== undefined && opts.optimizer === undefined) setLearningRate(model.optimizer, lr);
}

// --- the live run display

function fmt(v: number | undefined, digits = 4): string {
  if (v === undefined) return '';
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

/** The text/plain fallback: one row per epoch with the final metrics, then the status. */
export function formatHistoryTable(run: TrainingRun): string {
  const cols: [keyof EpochPoint, string][] = [
    ['epoch', 'epoch'],
    ['loss', 'loss'],
    ['acc', 'acc'],
    ['val_loss', 'val_loss'],
    ['val_acc', 'val_acc'],
    ['lr', 'lr'],
    ['seconds', 'time'],
  ];
  const used = cols.filter(([k]) => k === 'epoch' || run.history.some((p) => p[k] !== undefined));
  const rows = run.history.map((p) =>
    used.map(([k]) => (k === 'epoch' ? String(p.epoch) : k === 'seconds' ? `${fmt(p.seconds, 1)}s` : fmt(p[k] as number | undefined))),
  );
  const widths = used.map(([, h], i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const title = `${run.title ?? 'Training'}${run.phase ? ` [${run.phase}]` : ''}: ${run.status}, ${run.history.length}/${run.epochs} epochs`;
  const out = [title];
  if (rows.length) out.push(line(used.map(([, h]) => h)), ...rows.map(line));
  if (run.best) out.push(`best ${run.best.monitor} ${fmt(run.best.value)} at epoch ${run.best.epoch}`);
  if (run.message) out.push(run.message);
  return out.join('\n');
}

const MAX_BATCH_POINTS = 2000;

class LiveRun {
  readonly run: TrainingRun;
  private handle: DisplayHandle;
  private lastPost = 0;

  constructor(init: Omit<TrainingRun, 'kind' | 'version' | 'history' | 'batches' | 'status'>, private readonly intervalMs: number) {
    this.run = { kind: 'training', version: 1, status: 'running', history: [], batches: [], ...init };
    this.handle = getOutputSink().display(this.bundle());
  }

  private bundle(): MimeBundle {
    // A copy: sinks may keep the object, and the run keeps changing after this call.
    const run = JSON.parse(JSON.stringify(this.run)) as TrainingRun;
    return { [MIME.training]: run, [TEXT_PLAIN]: formatHistoryTable(run) };
  }

  private post(m: TrainingMessage): void {
    this.handle.post(m);
  }

  batch(point: BatchPoint, throughput: number | undefined, etaSeconds: number | undefined, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPost < this.intervalMs) return;
    this.lastPost = now;
    this.run.throughput = throughput;
    this.run.etaSeconds = etaSeconds;
    this.run.batches.push(point);
    if (this.run.batches.length > MAX_BATCH_POINTS) {
      // Keep the shape of the curve: drop every other point, never the first or last.
      this.run.batches = this.run.batches.filter((_, i, a) => i % 2 === 0 || i === a.length - 1);
    }
    this.post({ type: 'batch', runId: this.run.runId, point, throughput, etaSeconds });
  }

  epoch(point: EpochPoint, throughput: number | undefined, etaSeconds: number | undefined): void {
    this.run.history.push(point);
    this.run.throughput = throughput;
    this.run.etaSeconds = etaSeconds;
    this.post({ type: 'epoch', runId: this.run.runId, point, throughput, etaSeconds });
    this.handle.update(this.bundle());
  }

  note(message: string): void {
    this.run.message = this.run.message ? `${this.run.message}\n${message}` : message;
  }

  finish(status: RunStatus, message?: string): void {
    this.run.status = status;
    this.run.etaSeconds = status === 'running' ? this.run.etaSeconds : 0;
    if (message) this.note(message);
    this.post({ type: 'status', runId: this.run.runId, status, message });
    this.handle.update(this.bundle());
  }
}

// --- logs → numbers (the one place)

type Logs = Record<string, unknown> | undefined;

/** Keras-style metric names with numbers only: 'accuracy' → 'acc', tensors read, non-metrics dropped. */
function numbers(logs: Logs): Record<string, number> {
  const out: Record<string, number> = {};
  if (!logs) return out;
  for (const [k, v] of Object.entries(logs)) {
    if (k === 'batch' || k === 'size') continue;
    let n: number | undefined;
    if (typeof v === 'number') n = v;
    else if (v instanceof tf.Tensor) n = (v.dataSync() as Float32Array)[0];
    if (n === undefined) continue;
    const key = k.replace(/(^|_)accuracy$/, '$1acc').replace(/(^|_)categorical_accuracy$/, '$1acc').replace(/(^|_)binary_accuracy$/, '$1acc');
    out[key] = n;
  }
  return out;
}

// --- datasets in the form fitDataset wants

interface TfDatasetLike {
  size: number;
  iterator(): Promise<{ next(): Promise<IteratorResult<tf.TensorContainer>> }>;
}

function toTfDataset(ds: Dataset, batchSize: number, mode: LabelMode, shuffle: boolean, seedOf: () => number, augment: boolean): TfDatasetLike {
  return {
    size: Math.ceil(ds.size / batchSize),
    iterator: async () => {
      let gen: AsyncGenerator<{ xs: tf.Tensor; ys: tf.Tensor }> | undefined;
      return {
        next: async () => {
          // Created on first use: fitDataset asks for an iterator it never reads before the first epoch.
          gen ??= ds.batches({ batchSize, shuffle, seed: seedOf(), augment });
          const r = await gen.next();
          if (r.done) return { done: true, value: undefined as unknown as tf.TensorContainer };
          const { xs, ys } = r.value;
          return { done: false, value: { xs, ys: encodeLabels(ys, mode) } };
        },
      };
    },
  };
}

function encodeLabels(ys: tf.Tensor, mode: LabelMode): tf.Tensor {
  if (mode === 'onehot') return ys;
  const out = tf.tidy(() => (mode === 'sparse' ? tf.argMax(ys, 1).toFloat().expandDims(1) : ys.slice([0, 1], [-1, 1])));
  ys.dispose();
  return out;
}

function classWeights(spec: FitOptions['classWeight'], data: Dataset): Record<number, number> | undefined {
  if (spec === undefined) return undefined;
  const classes = data.classes;
  const out: Record<number, number> = {};
  if (spec === 'balanced') {
    const n = data.size;
    classes.forEach((c, i) => {
      const count = data.counts[c] ?? 0;
      out[i] = count > 0 ? n / (classes.length * count) : 1;
    });
    return out;
  }
  classes.forEach((_, i) => (out[i] = 1));
  if (Array.isArray(spec) && spec.length !== classes.length) throw new Error(`classWeight: ${spec.length} weights for ${classes.length} classes (${classes.join(', ')}).`);
  // A list is by class index; an object by class name (or index, for classes without names).
  const entries = Array.isArray(spec) ? spec.map((w, i) => [i, w] as const) : Object.entries(spec);
  for (const [k, w] of entries) {
    const byName = typeof k === 'number' ? k : classes.indexOf(k);
    const idx = byName >= 0 ? byName : /^\d+$/.test(String(k)) && Number(k) < classes.length ? Number(k) : -1;
    if (idx < 0) throw new Error(`classWeight: '${k}' is not a class (${classes.join(', ')}).`);
    if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) throw new Error(`classWeight for '${k}' must be a number ≥ 0, got ${w}.`);
    out[idx] = w;
  }
  return out;
}

function checkClasses(model: tf.LayersModel, data: Dataset, mode: LabelMode): void {
  const units = outputUnits(model);
  const k = data.classes.length;
  if (mode === 'binary' ? k !== 2 : units !== k) {
    throw new Error(`fit(): the model has ${units} output unit${units === 1 ? '' : 's'} but the data has ${k} classes (${data.classes.join(', ')}).`);
  }
  const meta = getMeta(model)?.classes;
  if (meta && meta.length === k && meta.some((c, i) => c !== data.classes[i])) {
    throw new Error(`fit(): the data's classes (${data.classes.join(', ')}) differ from the model's (${meta.join(', ')}). Load the data with { model } to use the model's class order.`);
  }
}

// --- weights

function snapshot(model: tf.LayersModel): tf.Tensor[] {
  // Clones share memory with the variables until the optimizer assigns new values, so this is cheap.
  return model.getWeights().map((w) => tf.clone(w));
}

function restore(model: tf.LayersModel, weights: tf.Tensor[]): void {
  model.setWeights(weights);
}

/** Replaces an optimizer whose state went NaN with a fresh one (see freshOptimizerIfPoisoned). */
async function resetOptimizer(model: tf.LayersModel, learningRate: number | undefined): Promise<boolean> {
  const old = model.optimizer;
  const fresh = await freshOptimizerIfPoisoned(old, learningRate);
  if (!fresh) return false;
  const owned = (model as unknown as ModelInternals).isOptimizerOwned === true;
  compileWith(model, fresh, true, model.loss, ['accuracy']);
  if (owned) old.dispose();
  return true;
}

// --- fit

/** Cached base outputs beyond this stay uncached (a cut at an early, wide layer would not fit in memory). */
const MAX_CACHED_BYTES = 1024 * 1024 * 1024;

/** A monitored metric improves when it goes down (losses) or up (accuracies). */
function improves(monitor: string, value: number, best: number | undefined, minDelta: number): boolean {
  if (!Number.isFinite(value)) return false;
  if (best === undefined) return true;
  return /acc/.test(monitor) ? value > best + minDelta : value < best - minDelta;
}

function summarizeFit(r: FitResult): string {
  const last = r.history[r.history.length - 1];
  const metrics = last ? (['loss', 'acc', 'val_loss', 'val_acc'] as const).filter((k) => last[k] !== undefined).map((k) => `${k} ${fmt(last[k])}`).join(', ') : '';
  const best = r.best ? `; best ${r.best.monitor} ${fmt(r.best.value)} at epoch ${r.best.epoch}` : '';
  const cache = r.embeddingCache ? `; head trained on cached embeddings (${r.embeddingCache.samples} samples)` : '';
  const stopped = r.stoppedReason ? `\nstopped: ${r.stoppedReason}` : '';
  const unreadable = r.unreadable?.length ? `\n${describeUnreadable(r.unreadable)}` : '';
  return `fit ${r.status} after ${r.history.length} epoch(s) in ${r.seconds.toFixed(1)} s${metrics ? `: ${metrics}` : ''}${best}${cache}${stopped}${unreadable}`;
}

function newRunId(): string {
  return crypto.randomUUID();
}

/**
 * Trains `model` on `data`. Shows a live TrainingRun, returns the history. On interrupt the model keeps
 * the weights trained so far, the run ends 'interrupted' and InterruptedError is thrown. A NaN or
 * Infinity loss or weight stops training with the weights from the start of that epoch: the result
 * then has status 'error' and says why in stoppedReason. Images that fail to decode are left out and
 * named (result.unreadable); a class with none left is an error before training starts.
 */
export async function fit(model: tf.LayersModel, data: unknown, opts: FitOptions = {}): Promise<FitResult> {
  assertTrainable(model, 'fit()');
  const split = asSplit(data, 'fit()');
  const train = split.train;
  const validation = opts.validationData !== undefined ? asSplit(opts.validationData, 'fit() validationData').train : split.validation;
  const epochs = opts.epochs ?? 10;
  if (!(Number.isInteger(epochs) && epochs > 0)) throw new Error(`fit(): epochs must be a positive whole number, got ${epochs}`);
  const batchSize = opts.batchSize ?? train.batchSize;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`fit(): batchSize must be a positive whole number, got ${batchSize}`);
  if ((model as unknown as ModelInternals).isTraining) throw new Error('fit(): this model is already training.');
  const verbose = opts.verbose ?? true;
  const log = (s: string) => {
    if (verbose) console.log(s);
  };

  const badWeight = firstNonFiniteWeight(model.weights);
  if (badWeight) throw new Error(`fit(): the model's weight '${printable(badWeight)}' holds NaN or Infinity before training; load or build the model again.`);
  prepareCompile(model, opts);
  const mode = labelModeFor(model);
  checkClasses(model, train, mode);
  if (validation && validation.classes.join('\n') !== train.classes.join('\n')) {
    throw new Error(`fit(): validation classes (${validation.classes.join(', ')}) differ from training classes (${train.classes.join(', ')}).`);
  }
  const weights = classWeights(opts.classWeight, train);
  const earlyCfg = opts.earlyStopping ? (opts.earlyStopping === true ? {} : opts.earlyStopping) : undefined;
  const defaultMonitor = validation ? 'val_loss' : 'loss';
  const monitor = normaliseMonitor(earlyCfg?.monitor ?? (typeof opts.checkpoint === 'object' ? opts.checkpoint.monitor : undefined) ?? defaultMonitor);
  const checkpointMonitor = typeof opts.checkpoint === 'object' && opts.checkpoint.monitor ? normaliseMonitor(opts.checkpoint.monitor) : undefined;
  if (checkpointMonitor && checkpointMonitor !== monitor) throw new Error(`fit(): early stopping monitors '${monitor}' but the checkpoint '${checkpointMonitor}'; use one monitor for both.`);
  if (monitor.startsWith('val_') && !validation) throw new Error(`fit(): cannot monitor '${monitor}' without validation data.`);
  const patience = earlyCfg?.patience ?? 3;
  const minDelta = earlyCfg?.minDelta ?? 0;
  const restoreBest = earlyCfg?.restoreBest ?? true;
  const checkpointDir = typeof opts.checkpoint === 'string' ? opts.checkpoint : opts.checkpoint?.dir;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const baseLr = getLearningRate(model.optimizer);
  // A schedule changes the optimizer's rate as it goes; the next fit must start from this one again.
  const lrBefore = baseLr;
  const optimizerBefore = model.optimizer;
  if (opts.schedule && baseLr === undefined) throw new Error(`fit(): a schedule needs an optimizer with a learning rate (${model.optimizer.getClassName()} has none).`);

  const live = new LiveRun(
    {
      runId: newRunId(),
      title: opts.title ?? getMeta(model)?.name ?? model.name,
      phase: opts.phase,
      epochs,
      batchesPerEpoch: Math.ceil(train.size / batchSize),
      samples: train.size,
      startedAt: Date.now(),
    },
    opts.batchMessageIntervalMs ?? 100,
  );
  const result: FitResult = { runId: live.run.runId, status: 'running', history: [], stoppedEarly: false, seconds: 0 };
  // As a cell's last value the result shows one line: the chart above already shows the run.
  Object.defineProperty(result, DISPLAY_SYMBOL, { value: (): MimeBundle => ({ [TEXT_PLAIN]: summarizeFit(result) }), enumerable: false });
  const t0 = Date.now();

  // Everything allocated from here on is released in `finally`.
  let trainModel = model;
  let trainData: Dataset = train;
  let valData: Dataset | undefined = validation;
  let interrupted = isInterruptRequested();
  let best: { epoch: number; value: number; weights?: tf.Tensor[] } | undefined;
  const guard = new NanGuard(model, () => trainModel.weights);
  let epochsWithoutImprovement = 0;
  let stoppedEarly = false;
  /** Set when early stopping put the best epoch's weights back (an interrupt says so). */
  let restoredEpoch: number | undefined;
  /** An optimizer made here for the head-only model (its slots cannot be shared); disposed at the end. */
  let ownOptimizer: tf.Optimizer | undefined;
  // Only an interrupt of this cell's run stops this fit (another cell's fit may still be running).
  const run = currentCellRun()?.run;
  const removeInterrupt = onInterrupt(() => {
    if (!isRunInterrupted(run)) return;
    interrupted = true;
    trainModel.stopTraining = true;
  });

  try {
    if (interrupted) throw new InterruptedError();

    // --- the embedding cache
    const wantCache = opts.cacheEmbeddings ?? 'auto';
    if (wantCache !== false) {
      const splitModel = splitAtFrozenBase(model);
      let reason: string | undefined;
      if ('reason' in splitModel) reason = `the base is not frozen (${splitModel.reason})`;
      else if (train.augmentation) reason = 'augmentation changes the images every epoch, so base outputs cannot be reused';
      else {
        const dim = (splitModel.base.outputs[0].shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
        const bytes = (train.size + (validation?.size ?? 0)) * dim * 4;
        if (bytes > MAX_CACHED_BYTES) reason = `the base outputs at '${splitModel.cutAfter}' would take ${(bytes / 2 ** 30).toFixed(1)} GiB`;
      }
      if (reason) {
        result.cacheSkippedReason = reason;
        if (wantCache === true || train.augmentation) {
          const line = `embedding cache off: ${reason}.`;
          log(line);
          live.note(line);
        }
      } else if (!('reason' in splitModel)) {
        const baseHash = layersHash(splitModel.baseLayers);
        const cacheOpts = { cacheDir: opts.cacheDir, batchSize: Math.max(batchSize, 32), engine: opts.baseEngine };
        const te = await computeEmbeddings(splitModel.base, baseHash, train, cacheOpts);
        const ve = validation ? await computeEmbeddings(splitModel.base, baseHash, validation, cacheOpts) : undefined;
        const sum = (k: Exclude<keyof EmbeddingStats, 'engine'>) => te.stats[k] + (ve?.stats[k] ?? 0);
        result.embeddingCache = {
          samples: sum('samples'),
          fromMemory: sum('fromMemory'),
          fromDisk: sum('fromDisk'),
          computed: sum('computed'),
          baseBatches: sum('baseBatches'),
          seconds: sum('seconds'),
          engine: te.stats.engine ?? ve?.stats.engine,
          train: te.stats,
          validation: ve?.stats,
        };
        trainData = embeddingDataset(te, train.classes, batchSize, `${train.name} embeddings`);
        valData = ve ? embeddingDataset(ve, train.classes, batchSize, `${validation?.name} embeddings`) : undefined;
        const head = splitModel.head;
        // The head model trains the same variables. When its trainable list is the full model's, in
        // the same order, the optimizer (and its slots, kept by position) carries over between fits.
        const same = head.trainableWeights.length === model.trainableWeights.length && head.trainableWeights.every((w, i) => w === model.trainableWeights[i]);
        const optimizer = same ? model.optimizer : (model.optimizer.constructor as unknown as { fromConfig: (c: unknown, cfg: tf.serialization.ConfigDict) => tf.Optimizer }).fromConfig(model.optimizer.constructor, model.optimizer.getConfig());
        if (!same) ownOptimizer = optimizer;
        compileWith(head, optimizer, false, model.loss, ['accuracy']);
        trainModel = head;
        const ec = result.embeddingCache;
        const line =
          ec.computed > 0
            ? `embedding cache: base (up to '${splitModel.cutAfter}') ran on ${ec.computed} sample(s) in ${ec.seconds.toFixed(1)} s with ${ec.engine ?? 'tfjs'}; ${ec.fromMemory + ec.fromDisk} reused. Only the head trains.`
            : `embedding cache: all ${ec.samples} base outputs reused (${ec.fromMemory} from memory, ${ec.fromDisk} from disk). Only the head trains.`;
        log(line);
        live.note(line);
      }
    }
    if (interrupted) throw new InterruptedError();
    // The embedding pass loaded every image; without it, load them once now, so that a class whose
    // images all fail to decode stops the run before it starts rather than in the middle.
    if (!result.embeddingCache) {
      await train.checkReadable();
      await validation?.checkReadable();
    }
    const unreadable = usableOrThrow(train, validation, 'fit()');
    if (unreadable.length) {
      result.unreadable = unreadable;
      const line = describeUnreadable(unreadable);
      console.warn(line);
      live.note(line);
    }

    // --- the training loop (tfjs fitDataset, with our callbacks)
    const stepsPerEpoch = Math.ceil(trainData.size / batchSize);
    let epochIndex = 0;
    let epochStart = 0;
    let trainEnd = 0;
    let samplesThisEpoch = 0;
    let lastYield = Date.now();
    let lastBatch: BatchPoint | undefined;
    let throughput: number | undefined;
    /** Seconds left after `batch` (0-based) of `epoch` (1-based), at the current training speed. */
    const eta = (epoch: number, batch: number) => (throughput ? ((epochs - epoch + 1) * trainData.size - Math.min(trainData.size, (batch + 1) * batchSize)) / throughput : undefined);

    const trainTf = toTfDataset(trainData, batchSize, mode, opts.shuffle ?? true, () => seed * 1009 + epochIndex, true);
    const valTf = valData ? toTfDataset(valData, batchSize, mode, false, () => 0, false) : undefined;

    await trainModel.fitDataset(trainTf as unknown as tf.data.Dataset<tf.TensorContainer>, {
      epochs,
      verbose: 0,
      yieldEvery: 'never',
      validationData: valTf as unknown as tf.data.Dataset<tf.TensorContainer> | undefined,
      classWeight: weights,
      callbacks: {
        onEpochBegin: async (epoch) => {
          epochIndex = epoch;
          epochStart = Date.now();
          samplesThisEpoch = 0;
          guard.onEpochBegin(epoch);
        },
        onBatchBegin: async (batch) => {
          if (opts.schedule && baseLr !== undefined) {
            setLearningRate(trainModel.optimizer, scheduledLr(opts.schedule, baseLr, epochIndex, epochIndex * stepsPerEpoch + batch, stepsPerEpoch, epochs));
          }
        },
        onBatchEnd: async (batch, logs) => {
          const size = typeof logs?.size === 'number' ? logs.size : batchSize;
          const m = numbers(logs);
          samplesThisEpoch += size;
          trainEnd = Date.now();
          const elapsed = (trainEnd - epochStart) / 1000;
          throughput = elapsed > 0 ? samplesThisEpoch / elapsed : throughput;
          lastBatch = { epoch: epochIndex + 1, batch, step: epochIndex * stepsPerEpoch + batch + 1, loss: m.loss, acc: m.acc };
          if (guard.onBatchEnd(batch, m.loss)) trainModel.stopTraining = true;
          live.batch(lastBatch, throughput, eta(epochIndex + 1, batch));
          if (isInterruptRequested()) {
            interrupted = true;
            trainModel.stopTraining = true;
          }
          if (Date.now() - lastYield > 50) {
            // Let the kernel's IPC (interrupts, output) run during a long epoch.
            await new Promise((r) => setImmediate(r));
            lastYield = Date.now();
          }
        },
        onEpochEnd: async (epoch, logs) => {
          const m = numbers(logs);
          const trainSeconds = Math.max(1e-6, (trainEnd - epochStart) / 1000);
          throughput = samplesThisEpoch / trainSeconds;
          if (lastBatch) live.batch(lastBatch, throughput, eta(epoch + 1, stepsPerEpoch - 1), true);
          const lr = getLearningRate(trainModel.optimizer);
          const point: EpochPoint = { epoch: epoch + 1, seconds: (Date.now() - epochStart) / 1000 };
          for (const k of ['loss', 'acc', 'val_loss', 'val_acc'] as const) if (m[k] !== undefined) point[k] = m[k];
          if (lr !== undefined) point.lr = lr;
          // An epoch that went bad leaves no point; its weights are put back at the end.
          if (guard.onEpochEnd(m)) {
            trainModel.stopTraining = true;
            return;
          }
          // A partial epoch: keep its point only when it finished (interrupt on the last batch).
          if (interrupted && samplesThisEpoch < trainData.size) return;
          result.history.push(point);
          const value = m[monitor];
          if (value !== undefined && improves(monitor, value, best?.value, minDelta)) {
            best?.weights?.forEach((t) => t.dispose());
            best = { epoch: epoch + 1, value, weights: earlyCfg && restoreBest ? snapshot(model) : undefined };
            live.run.best = { epoch: best.epoch, monitor, value };
            epochsWithoutImprovement = 0;
            if (checkpointDir) {
              // Class names go with the checkpoint when they name the outputs (not for one sigmoid unit).
              const named = outputUnits(model) === train.classes.length ? { classes: [...train.classes] } : {};
              await save(model, checkpointDir, named, { extra: { checkpoint: { epoch: epoch + 1, monitor, value } } });
            }
          } else if (value !== undefined) {
            epochsWithoutImprovement++;
            if (earlyCfg && epochsWithoutImprovement >= patience) {
              stoppedEarly = true;
              trainModel.stopTraining = true;
            }
          }
          live.epoch(point, throughput, eta(epoch + 1, stepsPerEpoch - 1));
        },
      },
    });

    // --- how it ended
    if (guard.reason) {
      result.stoppedReason = `${guard.reason}; ${guard.restore()}${(await resetOptimizer(model, lrBefore)) ? ' and the optimizer starts afresh' : ''}`;
      result.status = 'error';
      const msg = `Training stopped: ${result.stoppedReason}. Lower the learning rate, or check the data and the model's weights for NaN or Infinity.`;
      console.warn(msg);
      live.finish('error', msg);
      return result;
    }
    if (earlyCfg && restoreBest && best?.weights && best.epoch !== result.history[result.history.length - 1]?.epoch) {
      restore(model, best.weights);
      restoredEpoch = best.epoch;
      const line = `restored the weights of epoch ${best.epoch} (best ${monitor} ${fmt(best.value)}).`;
      log(line);
      live.note(line);
    }
    if (interrupted) throw new InterruptedError();
    result.stoppedEarly = stoppedEarly;
    result.status = stoppedEarly ? 'early-stopped' : 'done';
    if (stoppedEarly) log(`early stopping: no ${monitor} improvement for ${patience} epoch(s); stopped after epoch ${result.history.length}.`);
    live.finish(result.status);
  } catch (e) {
    if (e instanceof InterruptedError || interrupted) {
      result.status = 'interrupted';
      const weights = restoredEpoch ? `the model has the weights of its best epoch (${restoredEpoch}).` : 'the model keeps the weights trained so far.';
      live.finish('interrupted', `Interrupted after ${result.history.length} complete epoch(s); ${weights}`);
      throw e instanceof InterruptedError ? e : new InterruptedError();
    }
    let err = e;
    const msg = e instanceof Error ? e.message : String(e);
    if (tf.getBackend() === 'wasm' && /Aborted\(/.test(msg)) {
      // An allocation past the WASM heap aborts the module; say what to change.
      err = new Error(
        `The WASM backend ran out of memory during training (${msg.split('\n')[0]}). Use a smaller batchSize or input size, ` +
          'or keep the base frozen so that only the head trains on cached embeddings. Restart the kernel before training again.',
      );
    }
    if (result.status !== 'error') {
      result.status = 'error';
      live.finish('error', err instanceof Error ? err.message : String(err));
    }
    throw err;
  } finally {
    removeInterrupt();
    if (opts.schedule && lrBefore !== undefined && model.optimizer === optimizerBefore) setLearningRate(optimizerBefore, lrBefore);
    trainModel.stopTraining = false;
    model.stopTraining = false;
    best?.weights?.forEach((t) => t.dispose());
    guard.release();
    ownOptimizer?.dispose();
    result.seconds = (Date.now() - t0) / 1000;
    if (best) result.best = { epoch: best.epoch, monitor, value: best.value };
  }
  return result;
}

/** Keras spellings (accuracy, val_accuracy) mean acc and val_acc here; anything else is refused. */
function normaliseMonitor(name: string): string {
  const n = name.replace(/accuracy$/, 'acc');
  if (!['loss', 'acc', 'val_loss', 'val_acc'].includes(n)) throw new Error(`fit(): cannot monitor '${name}': use loss, acc, val_loss or val_acc.`);
  return n;
}

// --- fineTune

export interface FineTuneOptions extends Omit<FitOptions, 'epochs' | 'phase'> {
  /** Epochs with the base frozen (default 5). */
  headEpochs?: number;
  /** Epochs with the top blocks unfrozen (default 5). */
  fineTuneEpochs?: number;
  /** Base blocks to unfreeze for phase 2 (default 2). */
  unfreezeBlocks?: number;
  /** Phase 1 rate (default 1e-3). */
  learningRate?: number;
  /** Phase 2 rate (default learningRate / 10). */
  fineTuneLearningRate?: number;
}

export interface FineTuneResult {
  head: FitResult;
  fineTune: FitResult;
  /** Layers unfrozen for phase 2. */
  unfrozen: string[];
}

/** Indices of the head: layers named head_* (withHead), else the last layer with weights and what follows it. */
function headStart(model: tf.LayersModel): number {
  const i = model.layers.findIndex((l) => /^head(_|$)/.test(l.name));
  if (i > 0) return i;
  for (let k = model.layers.length - 1; k > 0; k--) if (model.layers[k].weights.length > 0) return k;
  throw new Error('fineTune(): cannot tell the head from the base: no layer has weights.');
}

/**
 * The two-phase recipe: freeze the base and train the head; then unfreeze the top N base blocks
 * (BatchNormalization layers stay frozen, in inference mode, as Keras advises) and train on at a
 * lower rate. Each phase is its own TrainingRun ('head', then 'fine-tune').
 */
export async function fineTune(model: tf.LayersModel, data: unknown, opts: FineTuneOptions = {}): Promise<FineTuneResult> {
  assertTrainable(model, 'fineTune()');
  const { headEpochs = 5, fineTuneEpochs = 5, unfreezeBlocks = 2, fineTuneLearningRate, ...fitOpts } = opts;
  const lr = opts.learningRate ?? 1e-3;
  const optimizerName = typeof opts.optimizer === 'string' ? opts.optimizer : 'adam';
  if (isOptimizer(opts.optimizer)) {
    throw new Error('fineTune(): give the optimizer by name; each phase makes its own at its own learning rate.');
  }
  if (!(Number.isInteger(unfreezeBlocks) && unfreezeBlocks >= 0)) throw new Error(`fineTune(): unfreezeBlocks must be a whole number ≥ 0, got ${unfreezeBlocks}`);
  const hs = headStart(model);
  freeze(model, { upTo: hs - 1 });
  unfreeze(model, { from: hs });
  const head = await fit(model, data, { ...fitOpts, optimizer: optimizerName, learningRate: lr, epochs: headEpochs, phase: 'head' });
  if (head.stoppedReason) throw new Error(`fineTune(): the head phase stopped (${head.stoppedReason}), so the fine-tune phase did not run.`);

  const blocks = blocksOf(model.layers);
  const headBlocks = new Set(blocks.slice(hs).filter((_, k) => model.layers[hs + k].weights.length > 0));
  const unfrozen = unfreeze(model, { lastBlocks: unfreezeBlocks + headBlocks.size }, { batchNorm: false });
  const ftLr = fineTuneLearningRate ?? lr / 10;
  const fine = await fit(model, data, { ...fitOpts, optimizer: optimizerName, learningRate: ftLr, epochs: fineTuneEpochs, phase: 'fine-tune' });
  return { head, fineTune: fine, unfrozen };
}
