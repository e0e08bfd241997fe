/**
 * The live TrainingRun a fit shows: displayed once, then updated in place per epoch, with per-batch
 * increments posted to the renderer (at most one per interval).
 */
import { MIME, TEXT_PLAIN } from '../../common/mime';
import type { DisplayHandle, MimeBundle } from '../../common/display';
import type { BatchPoint, EpochPoint, RunStatus, TrainingMessage, TrainingRun } from '../../common/shapes';
import { getOutputSink } from '../output';
import { formatHistoryTable } from './format';

const MAX_BATCH_POINTS = 2000;

export class LiveRun {
  readonly run: TrainingRun;
  private handle: DisplayHandle;
  private lastPost = 0;

  constructor(init: Omit<TrainingRun, 'kind' | 'version' | 'history' | 'batches' | 'status'>, private readonly intervalMs: number) {
    this.run = { kind: 'training', version: 1, status: 'running', history: [], batches: [], ...init };
    this.handle = getOutputSink().display(this.bundle());
  }

  private bundle(): MimeBundle {
    // A copy: sinks may keep the object, and the run keeps changing after this call.
    const run = JSON.parse(JSON.stringify(this.run)) as TrainingRun;
    return { [MIME.training]: run, [TEXT_PLAIN]: formatHistoryTable(run) };
  }

  private post(m: TrainingMessage): void {
    this.handle.post(m);
  }

  batch(point: BatchPoint, throughput: number | undefined, etaSeconds: number | undefined, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPost < this.intervalMs) return;
    this.lastPost = now;
    this.run.throughput = throughput;
    this.run.etaSeconds = etaSeconds;
    this.run.batches.push(point);
    if (this.run.batches.length > MAX_BATCH_POINTS) {
      // Keep the shape of the curve: drop every other point, never the first or last.
      this.run.batches = this.run.batches.filter((_, i, a) => i % 2 === 0 || i === a.length - 1);
    }
    this.post({ type: 'batch', runId: this.run.runId, point, throughput, etaSeconds });
  }

  epoch(point: EpochPoint, throughput: number | undefined, etaSeconds: number | undefined): void {
    this.run.history.push(point);
    this.run.throughput = throughput;
    this.run.etaSeconds = etaSeconds;
    this.post({ type: 'epoch', runId: this.run.runId, point, throughput, etaSeconds });
    this.handle.update(this.bundle());
  }

  note(message: string): void {
    this.run.message = this.run.message ? `${this.run.message}\n${message}` : message;
  }

  finish(status: RunStatus, message?: string): void {
    this.run.status = status;
    this.run.etaSeconds = status === 'running' ? this.run.etaSeconds : 0;
    if (message) this.note(message);
    this.post({ type: 'status', runId: this.run.runId, status, message });
    this.handle.update(this.bundle());
  }
}
