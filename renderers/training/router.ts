/**
 * Routes live training messages to the views that draw their run. A message for a run whose output
 * is not drawn yet waits (at most `maxPending` in all, oldest run dropped first; the output's own
 * state covers the rest) and is delivered when a view for the run attaches.
 */
import type { TrainingMessage } from '../../src/common/shapes';
import { toTrainingMessage } from '../shaping/validate';

export const MAX_PENDING = 5000;

/** What the router needs of a view: its run's id and a way to take a message. */
export interface RunTarget {
  readonly run: { runId: string };
  onMessage(msg: TrainingMessage): void;
}

export class RunRouter {
  private readonly byRun = new Map<string, Set<RunTarget>>();
  private readonly pending = new Map<string, TrainingMessage[]>();
  private pendingCount = 0;

  constructor(private readonly maxPending = MAX_PENDING) {}

  /** Delivers a message from the kernel; anything that is not a training message is ignored. */
  route(raw: unknown): void {
    const msg = toTrainingMessage(raw);
    if (!msg) return;
    const targets = this.byRun.get(msg.runId);
    if (targets?.size) {
      for (const v of targets) v.onMessage(msg);
      return;
    }
    this.queue(msg);
  }

  /** `view` draws its run from now on: it gets the messages that waited for the run. */
  attach(view: RunTarget): void {
    const id = view.run.runId;
    let set = this.byRun.get(id);
    if (!set) this.byRun.set(id, (set = new Set()));
    set.add(view);
    const queued = this.pending.get(id);
    if (queued) {
      this.pending.delete(id);
      this.pendingCount -= queued.length;
      for (const m of queued) view.onMessage(m);
    }
  }

  detach(view: RunTarget): void {
    const id = view.run.runId;
    const set = this.byRun.get(id);
    if (!set) return;
    set.delete(view);
    if (!set.size) this.byRun.delete(id);
  }

  private queue(msg: TrainingMessage): void {
    let list = this.pending.get(msg.runId);
    if (!list) this.pending.set(msg.runId, (list = []));
    list.push(msg);
    if (++this.pendingCount > this.maxPending) {
      const oldest = this.pending.keys().next().value as string;
      this.pendingCount -= this.pending.get(oldest)!.length;
      this.pending.delete(oldest);
    }
  }
}
