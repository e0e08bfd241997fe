/** Training speed and position: samples per second, the last batch, and the time left. */
import type { BatchPoint } from '../../../common/shapes';
import type { BatchEnd, EpochEnd, TrainingCallback, TrainingState } from './callback';

export class Progress implements TrainingCallback {
  /** 0-based epoch running now. */
  epoch = 0;
  epochStart = 0;
  samplesThisEpoch = 0;
  /** Samples per second of training (validation excluded). */
  throughput?: number;
  lastBatch?: BatchPoint;
  private trainEnd = 0;

  constructor(private readonly state: TrainingState) {}

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
    this.epochStart = Date.now();
    this.samplesThisEpoch = 0;
  }

  onBatchEnd({ epoch, batch, size, logs }: BatchEnd): void {
    this.samplesThisEpoch += size;
    this.trainEnd = Date.now();
    const elapsed = (this.trainEnd - this.epochStart) / 1000;
    this.throughput = elapsed > 0 ? this.samplesThisEpoch / elapsed : this.throughput;
    this.lastBatch = { epoch: epoch + 1, batch, step: epoch * this.state.stepsPerEpoch + batch + 1, loss: logs.loss, acc: logs.acc };
  }

  onEpochEnd(_end: EpochEnd): void {
    const trainSeconds = Math.max(1e-6, (this.trainEnd - this.epochStart) / 1000);
    this.throughput = this.samplesThisEpoch / trainSeconds;
  }

  /** Whether the epoch running now stopped before all its samples were seen. */
  get partial(): boolean {
    return this.samplesThisEpoch < this.state.samples;
  }

  /** Seconds left after `batch` (0-based) of `epoch` (1-based), at the current training speed. */
  eta(epoch: number, batch: number): number | undefined {
    const { epochs, samples, batchSize } = this.state;
    return this.throughput ? ((epochs - epoch + 1) * samples - Math.min(samples, (batch + 1) * batchSize)) / this.throughput : undefined;
  }

  /** Seconds left once `epoch` (0-based) has ended. */
  etaAfterEpoch(epoch: number): number | undefined {
    return this.eta(epoch + 1, this.state.stepsPerEpoch - 1);
  }
}
