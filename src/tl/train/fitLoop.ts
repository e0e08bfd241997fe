/**
 * The loop: tfjs fitDataset runs the epochs and batches, and calls our callbacks in list order with
 * plain numbers; a head of Dense layers on wasm runs through the fused loop of denseHead/ instead,
 * with the same calls. Everything else a fit does (schedules, guards, early stopping, checkpoints,
 * the live chart) is one of the callbacks.
 */
import type * as tf from '@tensorflow/tfjs';
import type { EpochPoint } from '../../common/shapes';
import { numbers, type TrainingCallback, type TrainingState } from './callbacks/callback';
import { markGuarded } from './callbacks/interruptGuard';
import type { Progress } from './callbacks/progress';
import type { TfDatasetLike } from './dataset';
import { getLearningRate } from './optimizers';
import type { LabelMode } from './compile';
import { denseChain } from './denseHead/chain';
import { chainLoop } from './denseHead/loop';

type Logs = Record<string, unknown> | undefined;

export interface LoopData {
  train: TfDatasetLike;
  validation?: TfDatasetLike;
  classWeight?: Record<number, number>;
  /** How the labels are encoded; with it, a Dense-chain head may train through the fused loop. */
  mode?: LabelMode;
}

function epochPoint(epoch: number, logs: Record<string, number>, progress: Progress, optimizer: tf.Optimizer): EpochPoint {
  const point: EpochPoint = { epoch: epoch + 1, seconds: (Date.now() - progress.epochStart) / 1000 };
  for (const k of ['loss', 'acc', 'val_loss', 'val_acc'] as const) if (logs[k] !== undefined) point[k] = logs[k];
  const lr = getLearningRate(optimizer);
  if (lr !== undefined) point.lr = lr;
  return point;
}

/** The callback list as the one tfjs callback fitDataset calls. It carries the interrupt guard, so the kernel's patch adds none. */
function asTfCallbacks(state: TrainingState, progress: Progress, list: readonly TrainingCallback[]): tf.CustomCallbackArgs {
  return markGuarded({
    onEpochBegin: async (epoch: number) => {
      for (const cb of list) await cb.onEpochBegin?.(epoch);
    },
    onBatchBegin: async (batch: number) => {
      for (const cb of list) await cb.onBatchBegin?.(progress.epoch, batch);
    },
    onBatchEnd: async (batch: number, logs: Logs) => {
      const end = { epoch: progress.epoch, batch, size: typeof logs?.size === 'number' ? logs.size : state.batchSize, logs: numbers(logs) };
      for (const cb of list) await cb.onBatchEnd?.(end);
    },
    onEpochEnd: async (epoch: number, logs: Logs) => {
      const m = numbers(logs);
      const end = { epoch, logs: m, point: epochPoint(epoch, m, progress, state.trainModel.optimizer), keep: true };
      for (const cb of list) await cb.onEpochEnd?.(end);
    },
  });
}

/**
 * Trains `state.trainModel` for `state.epochs` epochs. `progress` must be in `callbacks` (it keeps
 * the epoch). A head of Dense layers on wasm trains through the fused loop (denseHead/), with the
 * same callbacks and logs; any other model through tfjs's fitDataset.
 */
export async function fitLoop(state: TrainingState, data: LoopData, progress: Progress, callbacks: readonly TrainingCallback[]): Promise<void> {
  const chain = data.mode ? denseChain(state.trainModel, data.mode) : 'no label mode';
  if (typeof chain !== 'string') {
    const pointOf = (epoch: number, logs: Record<string, number>) => epochPoint(epoch, logs, progress, state.trainModel.optimizer);
    return chainLoop(state, chain, data, callbacks, pointOf);
  }
  await state.trainModel.fitDataset(data.train as unknown as tf.data.Dataset<tf.TensorContainer>, {
    epochs: state.epochs,
    verbose: 0,
    yieldEvery: 'never',
    validationData: data.validation as unknown as tf.data.Dataset<tf.TensorContainer> | undefined,
    classWeight: data.classWeight,
    callbacks: asTfCallbacks(state, progress, callbacks),
  });
}
