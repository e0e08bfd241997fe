/**
 * The shape every training callback has, and the state they share. A fit is a loop (tfjs
 * fitDataset) plus a list of these, called in list order; each one does one job. A new training
 * feature is a new callback, not another branch in fit().
 */
import * as tf from '@tensorflow/tfjs';
import type { EpochPoint } from '../../../common/shapes';

/** What the callbacks of one fit share. `trainModel` and the sizes are final once training starts. */
export class TrainingState {
  /** What trains: the model itself, or its head on cached embeddings. */
  trainModel: tf.LayersModel;
  /** Training samples per epoch. */
  samples = 0;
  stepsPerEpoch = 0;
  constructor(
    /** The model asked to train: its weights are snapshot, restored and saved. */
    readonly model: tf.LayersModel,
    readonly epochs: number,
    readonly batchSize: number,
    /** The epochs that count, in order (a bad or partial epoch leaves no point). */
    readonly history: EpochPoint[] = [],
  ) {
    this.trainModel = model;
  }

  /** What trains, on how many samples an epoch; set once, before training starts. */
  trainOn(trainModel: tf.LayersModel, samples: number): void {
    this.trainModel = trainModel;
    this.samples = samples;
    this.stepsPerEpoch = Math.ceil(samples / this.batchSize);
  }

  /** Ends training after the current batch. */
  stop(): void {
    this.trainModel.stopTraining = true;
  }
}

export interface BatchEnd {
  /** 0-based. */
  epoch: number;
  /** 0-based within the epoch. */
  batch: number;
  /** Samples in this batch. */
  size: number;
  logs: Record<string, number>;
}

export interface EpochEnd {
  /** 0-based. */
  epoch: number;
  logs: Record<string, number>;
  /** What the history, the chart and the table get for this epoch. */
  point: EpochPoint;
  /** False once a callback drops the epoch (it went bad, or was cut short); later callbacks skip it. */
  keep: boolean;
}

export interface TrainingCallback {
  onEpochBegin?(epoch: number): void | Promise<void>;
  onBatchBegin?(epoch: number, batch: number): void | Promise<void>;
  onBatchEnd?(end: BatchEnd): void | Promise<void>;
  onEpochEnd?(end: EpochEnd): void | Promise<void>;
  /** Frees what it holds. Called once, however the fit ended (even before training started). */
  release?(): void;
}

/** Keras-style metric names with numbers only: 'accuracy' → 'acc', tensors read, non-metrics dropped. The one place tensors in logs become numbers. */
export function numbers(logs: Record<string, unknown> | undefined): Record<string, number> {
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

/** Releases every callback, last first. */
export function releaseAll(callbacks: readonly TrainingCallback[]): void {
  for (const cb of [...callbacks].reverse()) cb.release?.();
}
