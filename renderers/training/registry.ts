/**
 * The training runs drawn in this iframe. All outputs of one notebook share the iframe, so this is
 * "the runs of this notebook" that the compare view overlays.
 */
import type { TrainingRun } from '../../src/common/shapes';

export class RunRegistry {
  private readonly runs = new Map<string, TrainingRun>();
  private readonly listeners = new Set<() => void>();

  /** Call on epoch-level changes only: compare views draw epoch series, not batches. */
  set(run: TrainingRun): void {
    this.runs.set(run.runId, run);
    this.emit();
  }

  delete(runId: string): void {
    if (this.runs.delete(runId)) this.emit();
  }

  /** In the order the outputs were first drawn, which follows the notebook for a fresh run. */
  list(): TrainingRun[] {
    return [...this.runs.values()];
  }

  get size(): number {
    return this.runs.size;
  }

  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private emit(): void {
    for (const l of [...this.listeners]) l();
  }
}
