/**
 * The epochs and batches of a fit of a Dense chain (chain.ts) through the fused step (step.ts),
 * with what tfjs's fitDataset gives its callbacks: the same callback calls in the same order, batch
 * logs of loss and accuracy with the batch's size, epoch logs that average them weighted by batch
 * size, validation through the model's evaluateDataset once an epoch has seen all its batches, and
 * a stop after the batch in which a callback sets stopTraining. fitLoop.ts chooses between the two.
 */
import * as tf from '@tensorflow/tfjs';
import type { EpochPoint } from '../../../common/shapes';
import { numbers, type TrainingCallback, type TrainingState } from '../callbacks/callback';
import { internals } from '../compile';
import type { TfDatasetLike } from '../dataset';
import type { DenseChain } from './chain';
import { DenseChainStep } from './step';

export interface ChainLoopData {
  train: TfDatasetLike;
  validation?: TfDatasetLike;
  classWeight?: Record<number, number>;
}

type EpochPointOf = (epoch: number, logs: Record<string, number>) => EpochPoint;

/** One epoch's batches; returns the epoch's loss and accuracy, averaged over the samples seen, and whether it saw all its batches. */
async function runEpoch(state: TrainingState, step: DenseChainStep, data: ChainLoopData, epoch: number, callbacks: readonly TrainingCallback[]): Promise<{ logs: Record<string, number>; complete: boolean }> {
  const model = state.trainModel;
  const it = await data.train.iterator();
  let seen = 0;
  let loss = 0;
  let acc = 0;
  let complete = false;
  for (let batch = 0; ; batch++) {
    const next = await it.next();
    if (next.done) {
      complete = true;
      break;
    }
    for (const cb of callbacks) await cb.onBatchBegin?.(epoch, batch);
    const { xs, ys } = next.value as { xs: tf.Tensor; ys: tf.Tensor };
    const size = xs.shape[0] as number;
    let r;
    try {
      r = step.train(xs, ys, model.optimizer, data.classWeight);
    } finally {
      tf.dispose([xs, ys]);
    }
    seen += size;
    loss += r.loss * size;
    acc += r.acc * size;
    const end = { epoch, batch, size, logs: { loss: r.loss, acc: r.acc } };
    for (const cb of callbacks) await cb.onBatchEnd?.(end);
    if (model.stopTraining) break;
  }
  return { logs: seen ? { loss: loss / seen, acc: acc / seen } : {}, complete };
}

/** val_loss and val_acc: the model's own evaluation of the validation batches. */
async function validate(model: tf.LayersModel, validation: TfDatasetLike): Promise<Record<string, number>> {
  const outs = await model.evaluateDataset(validation as unknown as tf.data.Dataset<{}>, {});
  const list = Array.isArray(outs) ? outs : [outs];
  const logs = numbers(Object.fromEntries(model.metricsNames.map((name, i) => [`val_${name}`, list[i]])));
  tf.dispose(list);
  return logs;
}

/** Trains `state.trainModel`, a Dense chain, for `state.epochs` epochs. */
export async function chainLoop(state: TrainingState, chain: DenseChain, data: ChainLoopData, callbacks: readonly TrainingCallback[], pointOf: EpochPointOf): Promise<void> {
  const model = state.trainModel;
  const m = internals(model);
  const step = new DenseChainStep(chain, model.trainableWeights.map((w) => (w.read() as tf.Variable).name));
  m.isTraining = true;
  model.stopTraining = false;
  try {
    for (let epoch = 0; epoch < state.epochs; epoch++) {
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch);
      const { logs, complete } = await runEpoch(state, step, data, epoch, callbacks);
      // As in fitDataset: an epoch stopped before its last batch is not validated.
      if (data.validation && complete) Object.assign(logs, await validate(model, data.validation));
      const end = { epoch, logs, point: pointOf(epoch, logs), keep: true };
      for (const cb of callbacks) await cb.onEpochEnd?.(end);
      if (model.stopTraining) break;
    }
  } finally {
    m.isTraining = false;
  }
}
