/**
 * Where the tl core sends rich output and how it learns of an interrupt.
 * The kernel process installs both at start-up; outside a kernel, output goes to the console
 * and nothing interrupts.
 */
import type { OutputSink } from '../common/display';

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

let interruptRequested = false;
const listeners = new Set<() => void>();

/** Called by the kernel when the user interrupts; cleared when the next cell starts. */
export function requestInterrupt(): void {
  interruptRequested = true;
  for (const l of [...listeners]) {
    try {
      l();
    } catch {
      // a listener's failure must not stop the others
    }
  }
}

export function clearInterrupt(): void {
  interruptRequested = false;
}

export function isInterruptRequested(): boolean {
  return interruptRequested;
}

/** Run `cb` when an interrupt arrives; returns a function that removes it. */
export function onInterrupt(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** Thrown when training or a cell stops because the user interrupted it. */
export class InterruptedError extends Error {
  constructor(message = 'Interrupted by the user') {
    super(message);
    this.name = 'KeyboardInterrupt';
  }
}
