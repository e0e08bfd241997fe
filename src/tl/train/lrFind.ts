/**
 * tl.lrFind(): fastai's learning-rate finder. The training loop runs with the LrSweep callback,
 * on a copy of the optimizer and from a snapshot of the weights; afterwards the weights are put
 * back and the model gets its own optimizer back, untouched, so training goes on exactly as if
 * the sweep had never run. A frozen base trains on cached embeddings, as in fit().
 */
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_PLAIN } from '../../common/mime';
import { DISPLAY_SYMBOL, type MimeBundle } from '../../common/display';
import type { LrFindData } from '../../common/shapes';
import { formatLr } from '../../common/formatLr';
import { assertTrainable } from '../models';
import { getMeta } from '../models/meta';
import { asSplit } from '../data';
import { textSplitFor } from '../text/bind';
import { getOutputSink } from '../output';
import { releaseAll, TrainingState, type TrainingCallback } from './callbacks/callback';
import { InterruptGuard } from './callbacks/interruptGuard';
import { LrSweep } from './callbacks/lrSweep';
import { Progress } from './callbacks/progress';
import { compileWith, internals, labelModeFor, prepareCompile } from './compile';
import { checkClasses, toTfDataset } from './dataset';
import { prepareTrainingData } from './embeddingCache';
import { fitLoop } from './fitLoop';
import { formatLrFind, suggestLr } from './lrCurve';
import { cloneOptimizer, makeOptimizer, type OptimizerName } from './optimizers';
import type { FitOptions } from './options';

export interface LrFindOptions extends Pick<FitOptions, 'batchSize' | 'seed' | 'cacheEmbeddings' | 'baseEngine' | 'cacheDir' | 'title'> {
  /** First rate of the sweep (default 1e-7). */
  minLr?: number;
  /** Last rate of the sweep (default 10). */
  maxLr?: number;
  /** Batches in the sweep (default 100); the data repeats when it has fewer. */
  steps?: number;
  /** The optimizer to sweep with, by name; default: a fresh copy of the model's own (adam when it has none). */
  optimizer?: OptimizerName;
  /** Show the chart in the notebook (default true). */
  display?: boolean;
  /** Print status lines (default true). */
  verbose?: boolean;
}

export interface LrFindResult {
  /** The suggested learning rate. */
  suggestion: number;
  /** The rate at the smallest smoothed loss, divided by 10. */
  minimum: number;
  lrs: number[];
  /** Smoothed losses, one per rate. */
  losses: number[];
  rawLosses: number[];
  stoppedReason?: string;
  seconds: number;
}

function checkOptions(opts: LrFindOptions): { minLr: number; maxLr: number; steps: number } {
  const minLr = opts.minLr ?? 1e-7;
  const maxLr = opts.maxLr ?? 10;
  const steps = opts.steps ?? 100;
  if (!(Number.isFinite(minLr) && minLr > 0)) throw new Error(`lrFind(): minLr must be a number above 0, got ${minLr}.`);
  if (!(Number.isFinite(maxLr) && maxLr > minLr)) throw new Error(`lrFind(): maxLr must be a number above minLr (${minLr}), got ${maxLr}.`);
  if (!(Number.isInteger(steps) && steps >= 5)) throw new Error(`lrFind(): steps must be a whole number of at least 5, got ${steps}.`);
  return { minLr, maxLr, steps };
}

/** Runs the sweep on a copy of the optimizer; the caller's weights and optimizer are put back however it ends. */
async function sweep(model: tf.LayersModel, data: unknown, opts: LrFindOptions, range: { minLr: number; maxLr: number; steps: number }): Promise<LrSweep> {
  const train = textSplitFor(model, asSplit(data, 'lrFind()'), 'lrFind()').train;
  const batchSize = opts.batchSize ?? train.batchSize;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`lrFind(): batchSize must be a positive whole number, got ${batchSize}.`);
  prepareCompile(model, {});
  const mode = labelModeFor(model);
  checkClasses(model, train, mode);
  const own = { optimizer: model.optimizer, owned: internals(model).isOptimizerOwned === true, loss: model.loss, metrics: model.metrics };
  const copy = opts.optimizer ? makeOptimizer(opts.optimizer, range.minLr) : cloneOptimizer(own.optimizer);
  const snapshot = model.getWeights().map((w) => tf.clone(w));
  compileWith(model, copy, false, own.loss, own.metrics);
  let prepared: Awaited<ReturnType<typeof prepareTrainingData>> | undefined;
  let callbacks: TrainingCallback[] = [];
  try {
    const log = (line: string) => (opts.verbose ?? true) && console.log(`lrFind: ${line}`);
    prepared = await prepareTrainingData(model, train, undefined, { ...opts, batchSize }, log);
    const samples = prepared.trainData.size - prepared.trainData.unreadable().length;
    const state = new TrainingState(model, Math.ceil(range.steps / Math.ceil(samples / batchSize)), batchSize);
    state.trainOn(prepared.trainModel, samples);
    const progress = new Progress(state);
    const interrupt = new InterruptGuard(() => state.stop(), () => progress.partial);
    const lrSweep = new LrSweep(state, range);
    callbacks = [progress, lrSweep, interrupt];
    interrupt.throwIfInterrupted();
    const seed = opts.seed ?? 1;
    const trainTf = toTfDataset(prepared.trainData, batchSize, mode, true, () => seed * 1009 + progress.epoch, true);
    await fitLoop(state, { train: trainTf, mode }, progress, callbacks);
    interrupt.throwIfInterrupted();
    return lrSweep;
  } finally {
    releaseAll(callbacks);
    if (prepared) prepared.trainModel.stopTraining = false;
    model.stopTraining = false;
    model.setWeights(snapshot);
    tf.dispose(snapshot);
    compileWith(model, own.optimizer, own.owned, own.loss, own.metrics);
    prepared?.ownOptimizer?.dispose();
    copy.dispose();
  }
}

/**
 * fastai's lr_find: trains for up to `steps` batches while the learning rate grows exponentially
 * from `minLr` to `maxLr`, records the smoothed loss, stops when it diverges, and suggests a rate
 * (the steepest descent of the loss). Shows loss against rate on a log axis. The model's weights
 * and its optimizer (with its state) are exactly as before afterwards.
 */
export async function lrFind(model: tf.LayersModel, data: unknown, opts: LrFindOptions = {}): Promise<LrFindResult> {
  assertTrainable(model, 'lrFind()');
  if (internals(model).isTraining) throw new Error('lrFind(): this model is training.');
  const range = checkOptions(opts);
  const t0 = Date.now();
  const s = await sweep(model, data, opts, range);
  if (s.lrs.length < 2) throw new Error(`lrFind(): the sweep stopped after ${s.lrs.length} step(s) (${s.stoppedReason ?? 'no loss'}); lower minLr.`);
  const { suggestion, minimum } = suggestLr(s.lrs, s.losses);
  const title = opts.title ?? getMeta(model)?.name ?? model.name;
  const shown: LrFindData = { kind: 'lrfind', version: 1, lrs: s.lrs, losses: s.losses, raw: s.raw, suggestion, minimum, ...range, title, ...(s.stoppedReason ? { stoppedReason: s.stoppedReason } : {}) };
  const text = formatLrFind(shown);
  if (opts.display ?? true) getOutputSink().display({ [MIME.lrFind]: shown, [TEXT_PLAIN]: text });
  const result: LrFindResult = { suggestion, minimum, lrs: s.lrs, losses: s.losses, rawLosses: s.raw, seconds: (Date.now() - t0) / 1000, ...(s.stoppedReason ? { stoppedReason: s.stoppedReason } : {}) };
  const line = `lrFind: suggestion ${formatLr(suggestion)} (minimum/10: ${formatLr(minimum)}) after ${s.lrs.length} steps`;
  Object.defineProperty(result, DISPLAY_SYMBOL, { value: (): MimeBundle => ({ [TEXT_PLAIN]: line }), enumerable: false });
  return result;
}
