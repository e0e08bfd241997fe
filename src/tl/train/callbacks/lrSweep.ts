/**
 * The learning-rate finder's sweep, as fastai's lr_find: before each batch the rate grows
 * exponentially from `minLr` to `maxLr` over `steps` batches; after it, the loss is recorded and
 * smoothed (an exponential moving average with bias correction). The sweep stops after `steps`
 * batches, or once the loss diverges: a NaN or Infinity, or a smoothed loss above `divergence`
 * times the best one so far.
 */
import { setLearningRate } from '../optimizers';
import type { BatchEnd, TrainingCallback, TrainingState } from './callback';

export interface SweepOptions {
  minLr: number;
  maxLr: number;
  steps: number;
  /** Weight of the past in the moving average (fastai: 0.98). */
  beta?: number;
  /** Stop once the smoothed loss exceeds this many times its best (fastai: 4). */
  divergence?: number;
}

export class LrSweep implements TrainingCallback {
  readonly lrs: number[] = [];
  /** The loss of each batch, as measured. */
  readonly raw: number[] = [];
  /** The smoothed loss of each batch. */
  readonly losses: number[] = [];
  /** Why the sweep ended before `steps` batches, if it did. */
  stoppedReason?: string;
  private avg = 0;
  private best = Infinity;
  private readonly beta: number;
  private readonly divergence: number;

  constructor(
    private readonly state: TrainingState,
    private readonly opts: SweepOptions,
  ) {
    this.beta = opts.beta ?? 0.98;
    this.divergence = opts.divergence ?? 4;
  }

  /** The rate of sweep step `i` (0-based). */
  rateAt(i: number): number {
    const { minLr, maxLr, steps } = this.opts;
    return steps <= 1 ? minLr : minLr * Math.pow(maxLr / minLr, i / (steps - 1));
  }

  onBatchBegin(): void {
    setLearningRate(this.state.trainModel.optimizer, this.rateAt(this.lrs.length));
  }

  onBatchEnd({ logs }: BatchEnd): void {
    const loss = logs.loss;
    const lr = this.rateAt(this.lrs.length);
    if (loss === undefined || !Number.isFinite(loss)) {
      this.stoppedReason = `the loss became ${loss} at learning rate ${lr.toPrecision(2)}`;
      return this.state.stop();
    }
    this.avg = this.beta * this.avg + (1 - this.beta) * loss;
    const smoothed = this.avg / (1 - Math.pow(this.beta, this.raw.length + 1));
    this.lrs.push(lr);
    this.raw.push(loss);
    this.losses.push(smoothed);
    if (smoothed > this.divergence * this.best) {
      this.stoppedReason = `the loss diverged at learning rate ${lr.toPrecision(2)} (smoothed ${smoothed.toPrecision(3)}, more than ${this.divergence}× the best ${this.best.toPrecision(3)})`;
      return this.state.stop();
    }
    this.best = Math.min(this.best, smoothed);
    if (this.lrs.length >= this.opts.steps) this.state.stop();
  }
}
