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

const EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
type Listener = (...args: unknown[]) => unknown;
/** once() and prependOnceListener() register through these. */
const REGISTER = ['on', 'addListener', 'prependListener'] as const;
const REMOVE = ['removeListener', 'off', 'removeAllListeners'] as const;

/**
 * The kernel's own listeners come first and report; every other listener for the two events
 * (Emscripten's, a library's, a cell's own) still runs, but what it throws cannot end the process.
 * Unlike `process.setUncaughtExceptionCaptureCallback`, this leaves the `domain` module usable.
 */
export class StrayErrorGuard {
  private readonly onRejection = (reason: unknown) => this.deliver(reason, 'rejection');
  private readonly onException = (err: unknown) => this.deliver(err, 'exception');
  /** A listener that rethrows makes one error arrive twice. */
  private lastDelivered: { value: unknown } | undefined;
  /** Other listeners the kernel lives by (IPC messages, disconnect), restored the same way. */
  private readonly kept: { event: string; listener: Listener }[] = [];
  private restoring = false;

  constructor(
    private readonly proc: NodeJS.Process,
    private readonly onError: (e: StrayError) => void,
  ) {}

  install(): void {
    // Node's own listeners (those that keep the IPC channel referenced while 'message' has listeners)
    // must survive a cell's `process.removeAllListeners()` as much as the kernel's do.
    const emitter = this.proc as NodeJS.EventEmitter;
    for (const event of emitter.eventNames()) {
      if (typeof event !== 'string' || (EVENTS as readonly string[]).includes(event)) continue;
      for (const listener of emitter.listeners(event)) this.kept.push({ event, listener: listener as Listener });
    }
    this.guardRegistrations();
    this.keepOwnListeners();
    this.ensureListening();
  }

  /** Listens on the process for good: a cell's `process.removeAllListeners()` cannot cut the kernel off. */
  keep(event: string, listener: Listener): void {
    this.kept.push({ event, listener });
    this.ensureListening();
  }

  /** Puts the kernel's listeners back (its error listeners in front) if code removed them. */
  ensureListening(): void {
    // Adding a listener emits 'newListener', whose handlers (the domain module's) may remove one.
    if (this.restoring) return;
    this.restoring = true;
    try {
      this.restoreListeners();
    } finally {
      this.restoring = false;
    }
  }

  private restoreListeners(): void {
    const emitter = this.proc as NodeJS.EventEmitter;
    if (!emitter.listeners('unhandledRejection').includes(this.onRejection)) emitter.prependListener('unhandledRejection', this.onRejection);
    if (!emitter.listeners('uncaughtException').includes(this.onException)) emitter.prependListener('uncaughtException', this.onException);
    for (const { event, listener } of this.kept) if (!emitter.listeners(event).includes(listener)) emitter.on(event, listener);
  }

  /** Removes the listeners libraries added while the kernel started (the WASM backend's rethrowing ones). */
  removeForeignListeners(): number {
    const emitter = this.proc as NodeJS.EventEmitter;
    let removed = 0;
    for (const event of EVENTS) {
      for (const l of emitter.listeners(event)) {
        if (l === this.onRejection || l === this.onException) continue;
        emitter.removeListener(event, l as Listener);
        removed++;
      }
    }
    return removed;
  }

  private guardRegistrations(): void {
    const target = this.proc as unknown as Record<(typeof REGISTER)[number], (this: unknown, event: string | symbol, l: Listener) => unknown>;
    for (const method of REGISTER) {
      const register = target[method];
      const guard = (l: Listener) => this.guarded(l);
      const own = (l: Listener) => l === this.onRejection || l === this.onException;
      target[method] = function (this: unknown, event: string | symbol, listener: Listener) {
        const wrap = (EVENTS as readonly (string | symbol)[]).includes(event) && typeof listener === 'function' && !own(listener);
        return register.call(this, event, wrap ? guard(listener) : listener);
      };
    }
  }

  /** removeAllListeners() and friends remove the others' listeners; the kernel's come straight back. */
  private keepOwnListeners(): void {
    const target = this.proc as unknown as Record<(typeof REMOVE)[number], (this: unknown, ...args: unknown[]) => unknown>;
    for (const method of REMOVE) {
      const remove = target[method];
      const restore = () => this.ensureListening();
      target[method] = function (this: unknown, ...args: unknown[]) {
        const result = remove.apply(this, args);
        restore();
        return result;
      };
    }
  }

  /** Runs a foreign listener; a rethrow of the error it was given is dropped (already reported). */
  private guarded(listener: Listener): Listener {
    const report = (e: unknown, given: unknown) => e !== given && this.deliver(e, 'exception');
    const wrapper = function (this: unknown, ...args: unknown[]) {
      try {
        return listener.apply(this, args);
      } catch (e) {
        report(e, args[0]);
        return undefined;
      }
    };
    // removeListener(listener) and listeners() see through wrappers that name their `listener`.
    return Object.assign(wrapper, { listener });
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
  const shownOn = place.afterCell ? `${place.cellName}, the last cell run` : `${place.cellName}, which is running`;
  const where = place.unowned ? `outside any cell's code (shown on ${shownOn})` : `in ${place.cellName}${place.afterCell ? ', after the cell had finished' : ''}`;
  const what =
    s.kind === 'rejection'
      ? `Unhandled promise rejection ${where}: a promise failed and nothing awaited or caught it (add \`await\`, or \`.catch(...)\`).`
      : `Uncaught exception ${where}, thrown from a callback (a timer or an event handler).`;
  return { ...base, traceback: [what, ...base.traceback, 'The kernel keeps running and its variables are kept.'] };
}
