/** fineTune(): the two-phase Keras recipe, head first, then the top blocks at a lower rate. */
import type * as tf from '@tensorflow/tfjs';
import { assertTrainable } from '../models';
import { freeze, unfreeze } from '../freeze';
import { blocksOf } from '../inspect';
import { fit } from './fit';
import { isOptimizer } from './optimizers';
import { checkRange } from './discriminative';
import type { FitOptions, FitResult } from './options';

export interface FineTuneOptions extends Omit<FitOptions, 'epochs' | 'phase'> {
  /** Epochs with the base frozen (default 5). */
  headEpochs?: number;
  /** Epochs with the top blocks unfrozen (default 5). */
  fineTuneEpochs?: number;
  /** Base blocks to unfreeze for phase 2 (default 2). */
  unfreezeBlocks?: number;
  /** Phase 1 rate (default 1e-3). */
  learningRate?: number;
  /**
   * Phase 2 rate (default learningRate / 10), or [low, high]: discriminative rates from the earliest
   * unfrozen block (low) to the head (high), as fastai's slice(low, high).
   */
  fineTuneLearningRate?: number | [number, number];
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
  const ftLr = fineTuneLearningRate === undefined ? lr / 10 : Array.isArray(fineTuneLearningRate) ? checkRange(fineTuneLearningRate, 'fineTune(): fineTuneLearningRate') : fineTuneLearningRate;
  const fine = await fit(model, data, { ...fitOpts, optimizer: optimizerName, learningRate: ftLr, epochs: fineTuneEpochs, phase: 'fine-tune' });
  // Not thrown (the head phase's training is kept), but never silent: a headless run's output says so.
  if (fine.stoppedReason) console.warn(`fineTune(): the fine-tune phase stopped (${fine.stoppedReason}); the head phase finished, and result.fineTune.status is 'error'.`);
  return { head, fineTune: fine, unfrozen };
}
