/**
 * Where the tl core sends rich output and how it learns of an interrupt.
 * The kernel process installs both at start-up; outside a kernel, output goes to the console
 * and nothing interrupts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { OutputSink } from '../common/display';
import { InterruptedError } from '../common/errors';

/** Outside a kernel: print the text fallback once; updates and increments have nowhere to go. */
const consoleSink: OutputSink = {
  display(bundle) {
    const text = bundle['text/plain'];
    if (typeof text === 'string') console.log(text);
    return { update() {}, post() {} };
  },
};

let sink: OutputSink = consoleSink;

export function setOutputSink(s: OutputSink): void {
  sink = s;
}

export function getOutputSink(): OutputSink {
  return sink;
}

// --- interrupt

/**
 * Each cell run has an id, carried through its async continuations (AsyncLocalStorage). An
 * interrupt marks the run, not the kernel: code of an interrupted cell that is still pending
 * (a nested async loop, a fit started from a callback) keeps seeing the interrupt after the next
 * cell has started, so it cannot carry on training or printing into the next cell's output.
 */
interface RunContext {
  run: number;
  /** The execution id its output belongs to. */
  cell: string;
}
const runContext = new AsyncLocalStorage<RunContext>();
const interruptedRuns = new Set<number>();
/** For code outside any cell run (tests, scripts). */
let interruptRequested = false;
const listeners = new Set<() => void>();

/** Runs `fn` as cell run `run`: its async continuations keep that identity. */
export function inCellRun<T>(run: number, cell: string, fn: () => T): T {
  return runContext.run({ run, cell }, fn);
}

/** The cell execution the running code belongs to, if any. */
export function currentCellRun(): RunContext | undefined {
  return runContext.getStore();
}

/** Called by the kernel when the user interrupts run `run` (or, outside a kernel, everything). */
export function requestInterrupt(run?: number): void {
  if (run !== undefined) interruptedRuns.add(run);
  interruptRequested = true;
  for (const l of [...listeners]) {
    try {
      l();
    } catch {
      // a listener's failure must not stop the others
    }
  }
}

/** A new cell starts: code outside cell runs no longer sees the interrupt; interrupted runs still do. */
export function clearInterrupt(): void {
  interruptRequested = false;
}

/** Whether run `run` was interrupted (`undefined`: code outside any cell run). */
export function isRunInterrupted(run: number | undefined): boolean {
  return run === undefined ? interruptRequested : interruptedRuns.has(run);
}

export function isInterruptRequested(): boolean {
  const ctx = runContext.getStore();
  return ctx ? interruptedRuns.has(ctx.run) : interruptRequested;
}

/** Run `cb` when an interrupt arrives; returns a function that removes it. */
export function onInterrupt(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/**
 * The check between steps of work that is not a training loop (a cell's awaits, an embedding pass):
 * throws InterruptedError when the running code's cell run was interrupted. `cleanUp` runs first.
 * Training loops use the interrupt guard (train/callbacks/interruptGuard.ts) instead.
 */
export function throwIfInterrupted(cleanUp?: () => void): void {
  if (!isInterruptRequested()) return;
  cleanUp?.();
  throw new InterruptedError();
}

/** Thrown when training or a cell stops because the user interrupted it (defined with the other typed errors). */
export { InterruptedError };

/**
 * Between two batches of a long pass that is not a training loop (an embedding pass, evaluate,
 * topLosses): lets queued messages (an interrupt, output) in, then throws InterruptedError when
 * this cell's run was interrupted. Call it with nothing left to dispose.
 */
export async function betweenBatches(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  throwIfInterrupted();
}
