/**
 * The one "is this an improvement?" check. It follows one metric over the kept epochs and knows
 * the best so far; early stopping and checkpoints read `improved` after it has seen an epoch, so
 * they always agree (Keras shares MonitorCallback between EarlyStopping and ModelCheckpoint).
 */
import type { EpochEnd, TrainingCallback } from './callback';

/** Keras spellings (accuracy, val_accuracy) mean acc and val_acc here; anything else is refused. */
export function normaliseMonitor(name: string): string {
  const n = name.replace(/accuracy$/, 'acc');
  if (!['loss', 'acc', 'val_loss', 'val_acc'].includes(n)) throw new Error(`fit(): cannot monitor '${name}': use loss, acc, val_loss or val_acc.`);
  return n;
}

/** A monitored metric improves when it goes down (losses) or up (accuracies). */
export function improves(monitor: string, value: number, best: number | undefined, minDelta: number): boolean {
  if (!Number.isFinite(value)) return false;
  if (best === undefined) return true;
  return /acc/.test(monitor) ? value > best + minDelta : value < best - minDelta;
}

export class Monitor implements TrainingCallback {
  /** The best kept epoch so far (1-based) and its value. */
  best?: { epoch: number; value: number };
  /** Whether the epoch seen last improved on the best before it. */
  improved = false;
  /** The metric's value in the epoch seen last (undefined: the epoch did not report it, or was dropped). */
  value?: number;

  constructor(
    readonly name: string,
    private readonly minDelta: number,
  ) {}

  onEpochEnd(end: EpochEnd): void {
    this.improved = false;
    this.value = end.keep ? end.logs[this.name] : undefined;
    if (this.value === undefined || !improves(this.name, this.value, this.best?.value, this.minDelta)) return;
    this.best = { epoch: end.epoch + 1, value: this.value };
    this.improved = true;
  }
}
