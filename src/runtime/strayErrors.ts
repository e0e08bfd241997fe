/**
 * Errors that nothing awaits: a promise that rejects with no handler, a throw from a timer or an
 * event callback. Plain Node ends the process on them, and tfjs-backend-wasm's Emscripten glue adds
 * process listeners that rethrow them (the process then dies with exit code 7). In a kernel they are
 * one cell's mistake: they are handed to `onError` with the cell whose code raised them, and the
 * process and its variables live on.
 */
import type { CellError } from '../common/protocol';
import { currentCellRun } from '../tl/output';
import { type CellPositions, toCellError } from './evaluator';

export type StrayKind = 'rejection' | 'exception';

export interface StrayError {
  error: unknown;
  kind: StrayKind;
  /** The cell whose async context raised it, when known. */
  cell?: string;
}

/** Listeners on the process that may rethrow, and so end it; only ours stay. */
const EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

export class StrayErrorGuard {
  private readonly ownListener = (reason: unknown) => this.deliver(reason, 'rejection');
  /** A listener that rethrows a rejection makes it arrive twice: once as a rejection, once as an exception. */
  private lastDelivered: { value: unknown } | undefined;

  constructor(
    private readonly proc: NodeJS.Process,
    private readonly onError: (e: StrayError) => void,
  ) {}

  install(): void {
    this.proc.prependListener('unhandledRejection', this.ownListener);
    // With a capture callback Node calls it instead of emitting 'uncaughtException', so no listener
    // (Emscripten's rethrows) can turn an exception into the end of the process.
    this.proc.setUncaughtExceptionCaptureCallback((err) => this.deliver(err, 'exception'));
  }

  /**
   * Removes the listeners other code added (the WASM backend's, when it initialises). Called after
   * backend selection; a backend initialised later by a cell is still harmless thanks to the capture
   * callback, whose reports are de-duplicated.
   */
  removeForeignListeners(): number {
    let removed = 0;
    for (const event of EVENTS) {
      const emitter = this.proc as NodeJS.EventEmitter;
      for (const l of emitter.listeners(event)) {
        if (l === this.ownListener) continue;
        emitter.removeListener(event, l as (...args: unknown[]) => void);
        removed++;
      }
    }
    return removed;
  }

  private deliver(error: unknown, kind: StrayKind): void {
    if (this.lastDelivered && this.lastDelivered.value === error) return;
    this.lastDelivered = { value: error };
    setImmediate(() => {
      if (this.lastDelivered?.value === error) this.lastDelivered = undefined;
    });
    try {
      this.onError({ error, kind, cell: currentCellRun()?.cell });
    } catch (e) {
      // Reporting must never throw from here: that would end the process after all.
      try {
        process.stderr.write(`Transfer Lab kernel: could not report an error: ${(e as Error)?.stack ?? String(e)}\n`);
      } catch {
        // nowhere left to say it
      }
    }
  }
}

export interface StrayPlace {
  /** Name of the cell it is shown on ("Cell 3"). */
  cellName: string;
  positions?: CellPositions;
  /** The cell had already finished when it was raised. */
  afterCell: boolean;
  /** No cell's code raised it (a library's own callback): it is shown on the cell that ran last. */
  unowned: boolean;
}

/** The error as a cell shows it: the error's own name, message and cell positions, plus what happened. */
export function strayCellError(s: StrayError, place: StrayPlace): CellError {
  const base = toCellError(s.error, place.cellName, place.positions);
  const where = place.unowned ? `outside any cell's code (shown on ${place.cellName}, the last cell run)` : `in ${place.cellName}${place.afterCell ? ', after the cell had finished' : ''}`;
  const what =
    s.kind === 'rejection'
      ? `Unhandled promise rejection ${where}: a promise failed and nothing awaited or caught it (add \`await\`, or \`.catch(...)\`).`
      : `Uncaught exception ${where}, thrown from a callback (a timer or an event handler).`;
  return { ...base, traceback: [what, ...base.traceback, 'The kernel keeps running and its variables are kept.'] };
}
