/**
 * What bounds a headless run: a time limit per cell, and SIGINT, SIGTERM and SIGHUP (Ctrl+C,
 * `timeout`, a closed terminal). Either way the running cell is interrupted, then the kernel is
 * killed if it does not answer, and the caller still writes the notebook with what ran.
 */
import os from 'node:os';
import type { KernelClient } from '../client/kernelClient';
import type { CellError } from '../common/protocol';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** The longest --timeout: Node's timers hold at most 2^31-1 ms (a longer one fires at once). */
export const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
/** How long an interrupted cell may take to end before its kernel is killed. */
const INTERRUPT_GRACE_MS = 2000;
/** After a signal, the longest wait for the cell to end (a fit may ask for longer). */
const SIGNAL_DEADLINE_MS = 4000;

export class RunLimits {
  /** The signal that stopped the run, once one came. */
  signal: StopSignal | undefined;
  private readonly handlers = new Map<StopSignal, () => void>();

  constructor(
    private readonly client: KernelClient,
    private readonly writeErr: (s: string) => void,
  ) {}

  watchSignals(): void {
    for (const sig of STOP_SIGNALS) {
      const handler = () => this.onSignal(sig);
      this.handlers.set(sig, handler);
      process.on(sig, handler);
    }
  }

  unwatchSignals(): void {
    for (const [sig, handler] of this.handlers) process.off(sig, handler);
    this.handlers.clear();
  }

  /** The exit status of a process ended by the signal, as shells report it (130, 143, 129). */
  exitCode(): number | undefined {
    return this.signal ? 128 + (os.constants.signals[this.signal] ?? 0) : undefined;
  }

  private onSignal(sig: StopSignal): void {
    if (this.signal) {
      // A second signal: no more waiting.
      this.client.kill(`the run was stopped by ${sig}`);
      return;
    }
    this.signal = sig;
    this.writeErr(`\n${sig}: stopping the running cell, writing the notebook and ending the kernel…\n`);
    void this.client.interrupt(INTERRUPT_GRACE_MS);
    setTimeout(() => this.client.kill(`the run was stopped by ${sig}`), SIGNAL_DEADLINE_MS).unref();
  }

  /**
   * Waits for a cell, interrupting it after `seconds`. The kernel is killed when the interrupt is
   * not answered, or when it is answered but the cell still does not end (`endWaitMs`: how long
   * that wait was). Says whether the limit was reached.
   */
  async withTimeout<T>(seconds: number | undefined, cell: Promise<T>): Promise<{ result: T; timedOut: boolean; endWaitMs?: number }> {
    if (!seconds) return { result: await cell, timedOut: false };
    let timedOut = false;
    let endWaitMs: number | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const timer = setTimeout(async () => {
      timedOut = true;
      if ((await this.client.interrupt(INTERRUPT_GRACE_MS)) !== 'interrupted') return;
      // Answered: the cell should end now (a fit after its batch). One that still does not is killed.
      const wait = this.client.interruptWaitMs(SIGNAL_DEADLINE_MS);
      deadline = setTimeout(() => {
        endWaitMs = wait;
        this.client.kill(`the cell did not end within ${(wait / 1000).toFixed(1)} s of the interrupt`);
      }, wait);
    }, seconds * 1000);
    try {
      const result = await cell;
      return { result, timedOut, endWaitMs };
    } finally {
      clearTimeout(timer);
      clearTimeout(deadline);
    }
  }
}

/** The error recorded on a cell stopped by --timeout (`endWaitMs`: killed after answering the interrupt). */
export function timeoutError(cellName: string, seconds: number, status: string, endWaitMs?: number): CellError {
  const how =
    status !== 'died'
      ? 'it was interrupted'
      : endWaitMs !== undefined
        ? `it answered the interrupt but did not end within ${Math.round(endWaitMs / 1000)} s, so the kernel process was killed`
        : `it did not answer the interrupt within ${INTERRUPT_GRACE_MS / 1000} s, so the kernel process was killed`;
  const evalue = `${cellName} ran longer than --timeout ${seconds} s; ${how}.`;
  return { ename: 'CellTimeoutError', evalue, traceback: [`CellTimeoutError: ${evalue}`] };
}

/** The error recorded on the cell that was running when a signal stopped the run. */
export function stoppedError(cellName: string, signal: StopSignal): CellError {
  const evalue = `The run was stopped by ${signal} while ${cellName} ran; the cells after it did not run.`;
  return { ename: 'RunStopped', evalue, traceback: [`RunStopped: ${evalue}`] };
}
