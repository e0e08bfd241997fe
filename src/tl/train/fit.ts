/**
 * fit(): checks its inputs and resolves the options, prepares the data (cached base outputs or
 * not), builds the callback list, runs the loop, and says how it ended. Each training concern is
 * a callback in callbacks/.
 *
 * Tensors become plain numbers in one place (`numbers()` on the callback logs); everything after
 * that — the TrainingRun shown by the renderer, the text table, the returned history — is plain data.
 */
import * as crypto from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { TEXT_PLAIN } from '../../common/mime';
import { DISPLAY_SYMBOL, type MimeBundle } from '../../common/display';
import { asWasmOutOfMemory, InterruptedError } from '../../common/errors';
import { getMeta } from '../models/meta';
import { assertTrainable } from '../models';
import { asSplit, type Dataset } from '../data';
import { textSplitFor } from '../text/bind';
import { printable } from '../util/text';
import { describeUnreadable, usableOrThrow } from '../data/readable';
import { releaseAll, TrainingState, type TrainingCallback } from './callbacks/callback';
import { Checkpoint } from './callbacks/checkpoint';
import { EarlyStopping } from './callbacks/earlyStopping';
import { EmbeddingRate } from './callbacks/embeddingRate';
import { History } from './callbacks/history';
import { InterruptGuard } from './callbacks/interruptGuard';
import { LiveDisplay } from './callbacks/liveDisplay';
import { Monitor, normaliseMonitor } from './callbacks/monitor';
import { firstNonFiniteWeight, NanGuard } from './callbacks/nanGuard';
import { Progress } from './callbacks/progress';
import { Schedule } from './callbacks/schedule';
import { classWeights } from './classWeights';
import { internals, labelModeFor, prepareCompile, type LabelMode } from './compile';
import { checkClasses, toTfDataset } from './dataset';
import { prepareTrainingData, type TrainingData } from './embeddingCache';
import { fitLoop } from './fitLoop';
import { summarizeFit } from './format';
import { LiveRun } from './liveRun';
import { getLearningRate } from './optimizers';
import { whatTrains } from './whatTrains';
import { describeRates, GroupedOptimizer } from './discriminative';
import type { EarlyStoppingOptions, FitOptions, FitResult } from './options';

/** The options resolved and checked against the model and the data. */
interface FitPlan {
  train: Dataset;
  validation?: Dataset;
  epochs: number;
  batchSize: number;
  mode: LabelMode;
  classWeight?: Record<number, number>;
  monitor: string;
  early?: Required<EarlyStoppingOptions>;
  checkpointDir?: string;
  seed: number;
  /** The optimizer's rate before the fit (a schedule starts from it, and hands it back). */
  baseLr?: number;
  log: (line: string) => void;
}

function positiveWhole(name: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`fit(): ${name} must be a positive whole number, got ${v}`);
  return v;
}

/** Which metric early stopping and checkpoints follow (one for both), and how early stopping behaves. */
function resolveMonitor(opts: FitOptions, hasValidation: boolean): Pick<FitPlan, 'monitor' | 'early' | 'checkpointDir'> {
  const earlyCfg = opts.earlyStopping ? (opts.earlyStopping === true ? {} : opts.earlyStopping) : undefined;
  const checkpointCfg = typeof opts.checkpoint === 'object' ? opts.checkpoint : undefined;
  const monitor = normaliseMonitor(earlyCfg?.monitor ?? checkpointCfg?.monitor ?? (hasValidation ? 'val_loss' : 'loss'));
  const checkpointMonitor = checkpointCfg?.monitor ? normaliseMonitor(checkpointCfg.monitor) : undefined;
  if (checkpointMonitor && checkpointMonitor !== monitor) throw new Error(`fit(): early stopping monitors '${monitor}' but the checkpoint '${checkpointMonitor}'; use one monitor for both.`);
  if (monitor.startsWith('val_') && !hasValidation) throw new Error(`fit(): cannot monitor '${monitor}' without validation data.`);
  const early = earlyCfg && { monitor, patience: earlyCfg.patience ?? 3, minDelta: earlyCfg.minDelta ?? 0, restoreBest: earlyCfg.restoreBest ?? true };
  return { monitor, early, checkpointDir: typeof opts.checkpoint === 'string' ? opts.checkpoint : opts.checkpoint?.dir };
}

/** Checks the model, the data and the options, and compiles the model for them; allocates nothing else. */
function resolveFit(model: tf.LayersModel, data: unknown, opts: FitOptions): FitPlan {
  assertTrainable(model, 'fit()');
  const split = textSplitFor(model, asSplit(data, 'fit()'), 'fit()');
  const train = split.train;
  const validation = opts.validationData !== undefined ? textSplitFor(model, asSplit(opts.validationData, 'fit() validationData'), 'fit()').train : split.validation;
  const epochs = positiveWhole('epochs', opts.epochs ?? 10);
  const batchSize = positiveWhole('batchSize', opts.batchSize ?? train.batchSize);
  if (internals(model).isTraining) throw new Error('fit(): this model is already training.');
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
    throw new Error(`fit(): validation classes (${validation.classes.map(printable).join(', ')}) differ from training classes (${train.classes.map(printable).join(', ')}).`);
  }
  const classWeight = classWeights(opts.classWeight, train);
  const monitored = resolveMonitor(opts, validation !== undefined);
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const baseLr = getLearningRate(model.optimizer);
  if (opts.schedule && baseLr === undefined) throw new Error(`fit(): a schedule needs an optimizer with a learning rate (${model.optimizer.getClassName()} has none).`);
  return { train, validation, epochs, batchSize, mode, classWeight, ...monitored, seed, baseLr, log };
}

/** The run shown while training, and the result it fills in. */
function startRun(model: tf.LayersModel, plan: FitPlan, opts: FitOptions): { live: LiveRun; result: FitResult } {
  const live = new LiveRun(
    {
      runId: crypto.randomUUID(),
      title: opts.title ?? getMeta(model)?.name ?? model.name,
      phase: opts.phase,
      epochs: plan.epochs,
      batchesPerEpoch: Math.ceil(plan.train.size / plan.batchSize),
      samples: plan.train.size,
      startedAt: Date.now(),
    },
    opts.batchMessageIntervalMs ?? 100,
  );
  const result: FitResult = { runId: live.run.runId, status: 'running', history: [], stoppedEarly: false, seconds: 0 };
  // As a cell's last value the result shows one line: the chart above already shows the run.
  Object.defineProperty(result, DISPLAY_SYMBOL, { value: (): MimeBundle => ({ [TEXT_PLAIN]: summarizeFit(result) }), enumerable: false });
  return { live, result };
}

/** One fit's callbacks, by name, and the list in the order they run. */
interface Callbacks {
  progress: Progress;
  nanGuard: NanGuard;
  interrupt: InterruptGuard;
  monitor: Monitor;
  early?: EarlyStopping;
  display: LiveDisplay;
  list: TrainingCallback[];
}

function buildCallbacks(state: TrainingState, plan: FitPlan, opts: FitOptions, live: LiveRun): Callbacks {
  const progress = new Progress(state);
  const nanGuard = new NanGuard(state);
  const interrupt = new InterruptGuard(() => state.stop(), () => progress.partial);
  const monitor = new Monitor(plan.monitor, plan.early?.minDelta ?? 0);
  const early = plan.early && new EarlyStopping(state, monitor, plan.early.patience, plan.early.restoreBest);
  const display = new LiveDisplay(live, progress, monitor);
  const list: TrainingCallback[] = [progress];
  const embeddingRate = EmbeddingRate.of(state);
  if (embeddingRate) list.push(embeddingRate);
  if (opts.schedule && plan.baseLr !== undefined) list.push(new Schedule(state, opts.schedule, plan.baseLr));
  list.push(nanGuard, interrupt, new History(state), monitor);
  if (early) list.push(early);
  if (plan.checkpointDir) list.push(new Checkpoint(state, monitor, plan.checkpointDir, plan.train.classes));
  // Last: the chart shows an epoch once the guards and the monitor have dealt with it.
  list.push(display);
  return { progress, nanGuard, interrupt, monitor, early, display, list };
}

/** One fit in progress: what its steps share. */
interface FitRun {
  plan: FitPlan;
  opts: FitOptions;
  state: TrainingState;
  cbs: Callbacks;
  result: FitResult;
  /** An optimizer made here for the head-only model; disposed at the end. */
  ownOptimizer?: tf.Optimizer;
}

/** Logs a line and adds it under the run. */
function report(run: FitRun, line: string): void {
  run.plan.log(line);
  run.cbs.display.note(line);
}

/** Decides what trains on what, and refuses data with a class whose images all fail to decode. */
async function prepare(run: FitRun): Promise<TrainingData> {
  const { plan, opts, state, result } = run;
  const prepared = await prepareTrainingData(state.model, plan.train, plan.validation, { ...opts, batchSize: plan.batchSize }, (line) => report(run, line));
  run.ownOptimizer = prepared.ownOptimizer;
  report(run, whatTrains(state.model, prepared.cachedUpTo));
  if (state.model.optimizer instanceof GroupedOptimizer) report(run, describeRates(state.model.optimizer));
  if (prepared.cacheSkippedReason) result.cacheSkippedReason = prepared.cacheSkippedReason;
  if (prepared.embeddingCache) result.embeddingCache = prepared.embeddingCache;
  run.cbs.interrupt.throwIfInterrupted();
  // The embedding pass loaded every image; without it, load them once now, so that a class whose
  // images all fail to decode stops the run before it starts rather than in the middle.
  if (!result.embeddingCache) {
    await plan.train.checkReadable();
    await plan.validation?.checkReadable();
  }
  const unreadable = usableOrThrow(plan.train, plan.validation, 'fit()');
  if (unreadable.length) {
    result.unreadable = unreadable;
    const line = describeUnreadable(unreadable);
    console.warn(line);
    run.cbs.display.note(line);
  }
  // Batches skip the images that failed to decode: an epoch is the samples that are left.
  state.trainOn(prepared.trainModel, prepared.trainData.size - prepared.trainData.unreadable().length);
  return prepared;
}

/** Trains the prepared data with the callbacks. */
async function train(run: FitRun, prepared: TrainingData): Promise<void> {
  const { plan, opts, state, cbs } = run;
  const { mode, batchSize, seed } = plan;
  const trainTf = toTfDataset(prepared.trainData, batchSize, mode, opts.shuffle ?? true, () => seed * 1009 + cbs.progress.epoch, true);
  const valTf = prepared.valData ? toTfDataset(prepared.valData, batchSize, mode, false, () => 0, false) : undefined;
  await fitLoop(state, { train: trainTf, validation: valTf, classWeight: plan.classWeight, mode }, cbs.progress, cbs.list);
}

/**
 * After a NaN or Infinity: the weights and optimizer put back (then, with early stopping's
 * restoreBest, the best epoch's weights), and the run ends 'error', not thrown, as Keras's
 * TerminateOnNaN does. The warning says so, for a cell whose code goes on after fit().
 */
async function endOnNan(run: FitRun): Promise<void> {
  const { result, cbs } = run;
  const recovered = await cbs.nanGuard.recover(run.plan.baseLr);
  const restoredBest = cbs.early?.restore();
  if (restoredBest) report(run, restoredBest);
  const best = cbs.early?.restoredEpoch;
  result.stoppedReason = best ? `${recovered}; then the weights of the best epoch (${best}) are put back` : recovered;
  result.status = 'error';
  const msg =
    `Training stopped: ${result.stoppedReason}. fit() ends with status 'error' after ${result.history.length} of ${run.plan.epochs} epoch(s). ` +
    "Lower the learning rate, or check the data and the model's weights for NaN or Infinity.";
  console.warn(msg);
  cbs.display.finish('error', msg);
}

/** After the loop: the best weights back (also when interrupted), then the status. */
function endNormally(run: FitRun): void {
  const { result, cbs } = run;
  const restored = cbs.early?.restore();
  if (restored) report(run, restored);
  cbs.interrupt.throwIfInterrupted();
  const stoppedEarly = cbs.early?.stoppedEarly ?? false;
  result.stoppedEarly = stoppedEarly;
  result.status = stoppedEarly ? 'early-stopped' : 'done';
  if (stoppedEarly) run.plan.log(`early stopping: no ${run.plan.monitor} improvement for ${cbs.early?.patience} epoch(s); stopped after epoch ${result.history.length}.`);
  cbs.display.finish(result.status);
}

/** The WASM backend's heap size now, when it runs. */
function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  return (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.buffer.byteLength;
}

/** An error or an interrupt: the run says how it ended, and the error is what the caller gets. */
function failed(run: FitRun, e: unknown): unknown {
  const { result, cbs } = run;
  if (e instanceof InterruptedError || cbs.interrupt.interrupted) {
    result.status = 'interrupted';
    const restoredEpoch = cbs.early?.restoredEpoch;
    const weights = restoredEpoch ? `the model has the weights of its best epoch (${restoredEpoch}).` : 'the model keeps the weights trained so far.';
    cbs.display.finish('interrupted', `Interrupted after ${result.history.length} complete epoch(s); ${weights}`);
    return e instanceof InterruptedError ? e : new InterruptedError();
  }
  const err =
    asWasmOutOfMemory(
      e,
      tf.getBackend(),
      (abort) =>
        `during training (${abort}). Use a smaller batchSize or input size, ` +
        'or keep the base frozen so that only the head trains on cached embeddings. Restart the kernel before training again.',
      wasmHeapBytes(),
    ) ?? e;
  if (result.status !== 'error') {
    result.status = 'error';
    cbs.display.finish('error', err instanceof Error ? err.message : String(err));
  }
  return err;
}

function cleanUp(run: FitRun, t0: number): void {
  const { state, cbs, result } = run;
  releaseAll(cbs.list);
  state.trainModel.stopTraining = false;
  state.model.stopTraining = false;
  run.ownOptimizer?.dispose();
  result.seconds = (Date.now() - t0) / 1000;
  const best = cbs.monitor.best;
  if (best) result.best = { epoch: best.epoch, monitor: cbs.monitor.name, value: best.value };
}

/**
 * Trains `model` on `data`. Shows a live TrainingRun, returns the history. On interrupt the model keeps
 * the weights trained so far (or, with early stopping, its best epoch's), the run ends 'interrupted'
 * and InterruptedError is thrown. A NaN or Infinity loss or weight stops training with the weights
 * from the start of that epoch (or, with early stopping, its best epoch's): the result then has
 * status 'error', says why in stoppedReason, and a warning is printed; nothing is thrown.
 * Images that fail to decode are left out and named (result.unreadable); a class with none left is
 * an error before training starts.
 */
export async function fit(model: tf.LayersModel, data: unknown, opts: FitOptions = {}): Promise<FitResult> {
  const plan = resolveFit(model, data, opts);
  const { live, result } = startRun(model, plan, opts);
  const t0 = Date.now();
  // Everything allocated from here on is released in `finally`.
  const state = new TrainingState(model, plan.epochs, plan.batchSize, result.history);
  const run: FitRun = { plan, opts, state, cbs: buildCallbacks(state, plan, opts, live), result };
  try {
    run.cbs.interrupt.throwIfInterrupted();
    await train(run, await prepare(run));
    if (run.cbs.nanGuard.reason) await endOnNan(run);
    else endNormally(run);
  } catch (e) {
    throw failed(run, e);
  } finally {
    cleanUp(run, t0);
  }
  return result;
}
