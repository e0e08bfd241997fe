/** Early stopping: ends training when the monitored metric stops improving, and can put the best epoch's weights back. */
import * as tf from '@tensorflow/tfjs';
import { fmt } from '../format';
import type { EpochEnd, TrainingCallback, TrainingState } from './callback';
import type { Monitor } from './monitor';

export class EarlyStopping implements TrainingCallback {
  stoppedEarly = false;
  /** Set when the best epoch's weights were put back. */
  restoredEpoch?: number;
  private wait = 0;
  private bestWeights?: tf.Tensor[];

  constructor(
    private readonly state: TrainingState,
    private readonly monitor: Monitor,
    readonly patience: number,
    private readonly restoreBest: boolean,
  ) {}

  onEpochEnd(end: EpochEnd): void {
    if (!end.keep || this.monitor.value === undefined) return;
    if (this.monitor.improved) {
      this.wait = 0;
      if (this.restoreBest) this.keepBest();
      return;
    }
    if (++this.wait >= this.patience) {
      this.stoppedEarly = true;
      this.state.stop();
    }
  }

  private keepBest(): void {
    this.release();
    // Clones share memory with the variables until the optimizer assigns new values, so this is cheap.
    this.bestWeights = this.state.model.getWeights().map((w) => tf.clone(w));
  }

  /**
   * After training (finished, stopped early or interrupted): puts the best epoch's weights back
   * unless the last epoch was the best. Returns what it did, for the run's notes.
   */
  restore(): string | undefined {
    const best = this.monitor.best;
    if (!this.bestWeights || !best || best.epoch === this.state.history[this.state.history.length - 1]?.epoch) return undefined;
    this.state.model.setWeights(this.bestWeights);
    this.restoredEpoch = best.epoch;
    return `restored the weights of epoch ${best.epoch} (best ${this.monitor.name} ${fmt(best.value)}).`;
  }

  release(): void {
    this.bestWeights?.forEach((t) => t.dispose());
    this.bestWeights = undefined;
  }
}
