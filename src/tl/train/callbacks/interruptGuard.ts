/**
 * The one interrupt path for training, used by tl.fit and by the kernel's patch of every
 * `model.fit` / `model.fitDataset` in a cell. Between batches it lets the event loop run (so the
 * interrupt message can arrive) and stops training when this cell's run is interrupted: the fit
 * then ends after the current batch and the model keeps its weights. It never throws from inside
 * the loop: whoever started the fit finishes its own work first (tl.fit puts the best weights back)
 * and then throws InterruptedError with throwIfInterrupted().
 */
import * as tf from '@tensorflow/tfjs';
import { InterruptedError } from '../../../common/errors';
import { currentCellRun, isInterruptRequested, isRunInterrupted, onInterrupt } from '../../output';
import type { EpochEnd, TrainingCallback } from './callback';

/** Most milliseconds of training between two turns of the event loop. */
const YIELD_EVERY_MS = 50;
/**
 * When training last let the event loop run. Shared by every guard: a cell that starts many short
 * fits in a row (each shorter than YIELD_EVERY_MS) must still let the interrupt message in.
 */
let lastYield = Date.now();

/** Marks a tfjs callback list that already holds an interrupt guard (see hasInterruptGuard). */
const GUARDED = Symbol.for('transfer-lab.interruptGuard');

export class InterruptGuard implements TrainingCallback {
  /** Whether this fit's run was interrupted (before it started, or while it ran). */
  interrupted: boolean;
  private readonly removeListener: () => void;

  /**
   * `stop`: ends training after the current batch. `isPartial`: whether the epoch ending now was
   * cut short (an interrupted partial epoch is dropped from the history).
   */
  constructor(
    private readonly stop: () => void,
    private readonly isPartial: () => boolean = () => false,
  ) {
    // Only an interrupt of the run that started this fit stops it (another cell's fit may be running).
    const run = currentCellRun()?.run;
    this.interrupted = isInterruptRequested();
    this.removeListener = onInterrupt(() => {
      if (isRunInterrupted(run)) this.interrupt();
    });
  }

  async onBatchEnd(): Promise<void> {
    if (isInterruptRequested()) this.interrupt();
    if (Date.now() - lastYield > YIELD_EVERY_MS) {
      // Let the kernel's IPC (interrupts, output) run during a long epoch.
      await new Promise((r) => setImmediate(r));
      lastYield = Date.now();
    }
  }

  onEpochEnd(end?: EpochEnd): void {
    if (isInterruptRequested()) this.interrupt();
    // A partial epoch keeps its point only when it finished (an interrupt on its last batch).
    if (end && this.interrupted && this.isPartial()) end.keep = false;
  }

  throwIfInterrupted(message?: string): void {
    if (this.interrupted) throw new InterruptedError(message);
  }

  release(): void {
    this.removeListener();
  }

  /** The guard as a tfjs callback, for fits the kernel did not start (a cell's own model.fit). */
  asTfCallback(): tf.CustomCallback {
    const cb = new tf.CustomCallback({ onBatchEnd: () => this.onBatchEnd(), onEpochEnd: async () => this.onEpochEnd() });
    return markGuarded(cb);
  }

  private interrupt(): void {
    this.interrupted = true;
    this.stop();
  }
}

/** Marks a tfjs callback (or callback list entry) as carrying an interrupt guard. */
export function markGuarded<T extends object>(callback: T): T {
  Object.defineProperty(callback, GUARDED, { value: true, enumerable: false });
  return callback;
}

/** Whether a fit's `callbacks` option already holds an interrupt guard (tl.fit passes one). */
export function hasInterruptGuard(callbacks: unknown): boolean {
  const list = callbacks == null ? [] : Array.isArray(callbacks) ? callbacks : [callbacks];
  return list.some((c) => typeof c === 'object' && c !== null && (c as Record<symbol, unknown>)[GUARDED] === true);
}
