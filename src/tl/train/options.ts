/** What fit() takes and what it returns. */
import type * as tf from '@tensorflow/tfjs';
import type { EpochPoint, RunStatus } from '../../common/shapes';
import type { EmbeddingStats } from '../embeddings';
import type { UnreadableFile } from '../data/readable';
import type { OptimizerName } from './optimizers';
import type { LRSchedule } from './schedules';

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
  /**
   * One rate for every trainable layer, or [low, high]: discriminative rates (fastai's slice(low, high)),
   * spread geometrically from the earliest trainable block (low) to the head (high), each block with
   * its own optimizer of the same kind and settings (fresh state).
   */
  learningRate?: number | [number, number];
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
