/** Shows the run as it trains: per-batch increments, and the chart and table updated per kept epoch. */
import type { RunStatus } from '../../../common/shapes';
import type { LiveRun } from '../liveRun';
import type { BatchEnd, EpochEnd, TrainingCallback } from './callback';
import type { Monitor } from './monitor';
import type { Progress } from './progress';

export class LiveDisplay implements TrainingCallback {
  constructor(
    readonly live: LiveRun,
    private readonly progress: Progress,
    private readonly monitor: Monitor,
  ) {}

  onBatchEnd({ epoch, batch }: BatchEnd): void {
    const { lastBatch, throughput } = this.progress;
    if (lastBatch) this.live.batch(lastBatch, throughput, this.progress.eta(epoch + 1, batch));
  }

  onEpochEnd({ epoch, point, keep }: EpochEnd): void {
    const { lastBatch, throughput } = this.progress;
    const eta = this.progress.etaAfterEpoch(epoch);
    // The epoch's last batch always reaches the chart, whatever the message interval.
    if (lastBatch) this.live.batch(lastBatch, throughput, eta, true);
    if (!keep) return;
    this.showBest();
    this.live.epoch(point, throughput, eta);
  }

  /** Adds a line under the run. */
  note(line: string): void {
    this.live.note(line);
  }

  finish(status: RunStatus, message?: string): void {
    this.showBest();
    this.live.finish(status, message);
  }

  private showBest(): void {
    const best = this.monitor.best;
    if (best) this.live.run.best = { epoch: best.epoch, monitor: this.monitor.name, value: best.value };
  }
}
