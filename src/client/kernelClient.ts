/**
 * Starts and talks to one kernel process. Shared by the extension host and the headless CLI,
 * so it has no vscode import: callers get plain events and promises.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { KernelLanguage } from '../common/mime';
import type { CellError, DoneMessage, HostMessage, KernelMessage, KernelOptions } from '../common/protocol';
import { isKernelMessage } from '../common/protocol';
import type { DeviceReport } from '../common/shapes';

export interface KernelClientOptions extends KernelOptions {
  /** Path of the built kernel script (dist/kernel.js). */
  kernelScript: string;
  /** Node executable; default: this process's (with ELECTRON_RUN_AS_NODE under VS Code). */
  nodePath?: string;
  /** Extra environment for the kernel process. */
  env?: Record<string, string>;
}

/** Per-cell callbacks for everything the kernel sends while a cell runs. */
export interface CellHandlers {
  onStream?(name: 'stdout' | 'stderr', text: string): void;
  onDisplay?(displayId: string, bundle: Record<string, unknown>): void;
  onUpdate?(displayId: string, bundle: Record<string, unknown>): void;
  onPost?(displayId: string, message: unknown): void;
  onResult?(bundle: Record<string, unknown>): void;
  /**
   * An error nothing awaited, raised by this cell's code after the cell ended (a timer, a floating
   * promise). Without this handler the client emits 'late-error' (cellName, error).
   */
  onLateError?(error: CellError): void;
}

export type CellResult = { status: 'ok' } | { status: 'error' | 'interrupted' | 'died'; error: CellError };

export class KernelClient extends EventEmitter {
  private proc: ChildProcess | undefined;
  private readyPromise: Promise<DeviceReport> | undefined;
  private readonly running = new Map<string, { cellName: string; handlers: CellHandlers; resolve: (r: CellResult) => void }>();
  /** Recently finished cells, for errors their code raises later. */
  private readonly finished = new Map<string, { cellName: string; handlers: CellHandlers }>();
  /** `process.exit(code)` was called in the kernel (by this cell, when one ran). */
  private exitCall: { cellName?: string; code: number } | undefined;
  private counter = 0;
  private stderrTail = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Set when we killed it on purpose, to word the error. */
  private killReason: string | undefined;
  private fitState = { activeFits: 0, slowestBatchMs: 0 };
  device: DeviceReport | undefined;

  constructor(private readonly options: KernelClientOptions) {
    super();
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get alive(): boolean {
    return !!this.proc && this.exitInfo === undefined;
  }

  /** Starts the process (once) and resolves with the device report when the backend is ready. */
  start(): Promise<DeviceReport> {
    if (this.readyPromise) return this.readyPromise;
    this.readyPromise = new Promise<DeviceReport>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' };
      // A bigger old-space keeps larger models from dying at Node's default heap limit.
      const proc = fork(this.options.kernelScript, [], {
        cwd: this.options.notebookDir,
        execPath: this.options.nodePath || process.execPath,
        execArgv: ['--max-old-space-size=8192'],
        env,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'json',
      });
      this.proc = proc;
      // The kernel captures its own console; anything here came from outside JavaScript (native libraries).
      proc.stdout?.on('data', (d: Buffer) => this.emit('log', d.toString()));
      proc.stderr?.on('data', (d: Buffer) => {
        const s = d.toString();
        this.stderrTail = (this.stderrTail + s).slice(-4000);
        this.emit('log', s);
      });
      proc.on('message', (m) => {
        if (!isKernelMessage(m)) return;
        if (m.type === 'ready') {
          this.device = m.device;
          resolve(m.device);
        } else if (m.type === 'fatal') {
          reject(new Error(`The kernel failed to start: ${m.error}`));
          this.kill('start-up failed');
        }
        this.dispatch(m);
      });
      const ended = (why: string) => {
        for (const [id, r] of this.running) {
          r.resolve({ status: 'died', error: { ename: 'KernelDied', evalue: why, traceback: [why] } });
          this.running.delete(id);
        }
        this.emit('exit', why);
      };
      proc.on('error', (e) => {
        const why = `Could not start the kernel process (${this.options.nodePath || process.execPath}, in ${this.options.notebookDir}): ${e.message}`;
        reject(new Error(why));
        // A process that never started sends no 'exit': end it here so the next run starts afresh.
        if (proc.pid === undefined && !this.exitInfo) {
          this.exitInfo = { code: null, signal: null };
          ended(why);
        }
      });
      proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        const why = this.describeExit();
        reject(new Error(`The kernel process exited during start-up: ${why}`));
        ended(why);
      });
      this.sendRaw({ type: 'init', options: this.plainOptions() });
    });
    return this.readyPromise;
  }

  private plainOptions(): KernelOptions {
    const { notebookDir, workspaceFolders, backend, backendRequestedBy, tfjsNodeGpuPaths, cacheDir } = this.options;
    return { notebookDir, workspaceFolders, backend, backendRequestedBy, tfjsNodeGpuPaths, cacheDir };
  }

  describeExit(): string {
    if (this.exitCall && !this.killReason) {
      const { cellName, code } = this.exitCall;
      return `process.exit(${code}) was called${cellName ? ` in ${cellName}` : ''}: the kernel process ended. All variables were lost; the next run starts a fresh kernel.`;
    }
    if (this.killReason) return `The kernel process was stopped (${this.killReason}). All variables were lost; the next run starts a fresh kernel.`;
    const info = this.exitInfo;
    const how = info?.signal ? `was killed by ${info.signal}` : `exited with code ${info?.code}`;
    const oom = /heap out of memory|Allocation failed/i.test(this.stderrTail) ? ' — it ran out of memory' : info?.signal === 'SIGKILL' ? ' — possibly by the system for using too much memory' : info?.signal === 'SIGSEGV' || info?.signal === 'SIGABRT' ? ' — a native library crashed' : '';
    const tail = this.stderrTail.trim().split('\n').slice(-3).join('\n');
    return `The kernel process ${how}${oom}. All variables were lost; the next run starts a fresh kernel.${tail ? `\nLast output:\n${tail}` : ''}`;
  }

  private sendRaw(msg: HostMessage): void {
    if (this.proc?.connected) this.proc.send(msg);
  }

  private dispatch(m: KernelMessage): void {
    if (m.type === 'interrupting') {
      this.emit('interrupting', m.activeFits);
      return;
    }
    if (m.type === 'fit-state') {
      this.fitState = { activeFits: m.activeFits, slowestBatchMs: m.slowestBatchMs };
      return;
    }
    if (m.type === 'ready' || m.type === 'fatal') return;
    if (m.type === 'exiting') {
      this.exitCall = { cellName: m.id ? (this.running.get(m.id) ?? this.finished.get(m.id))?.cellName : undefined, code: m.code };
      return;
    }
    if (m.type === 'late-error') return this.lateError(m.id, m.error);
    const cell = this.running.get(m.id);
    if (!cell) {
      // Output from a timer after its cell ended.
      if (m.type === 'stream') this.emit('orphan-stream', m.name, m.text);
      return;
    }
    const h = cell.handlers;
    switch (m.type) {
      case 'stream':
        h.onStream?.(m.name, m.text);
        break;
      case 'display':
        h.onDisplay?.(m.displayId, m.bundle);
        break;
      case 'update':
        h.onUpdate?.(m.displayId, m.bundle);
        break;
      case 'post':
        h.onPost?.(m.displayId, m.message);
        break;
      case 'result':
        h.onResult?.(m.bundle);
        break;
      case 'done':
        this.running.delete(m.id);
        this.rememberFinished(m.id, cell);
        cell.resolve(toResult(m));
        break;
    }
  }

  private rememberFinished(id: string, cell: { cellName: string; handlers: CellHandlers }): void {
    this.finished.set(id, { cellName: cell.cellName, handlers: cell.handlers });
    if (this.finished.size > 200) this.finished.delete(this.finished.keys().next().value as string);
  }

  private lateError(id: string, error: CellError): void {
    const cell = this.running.get(id) ?? this.finished.get(id);
    if (cell?.handlers.onLateError) cell.handlers.onLateError(error);
    else this.emit('late-error', cell?.cellName, error);
  }

  /** Runs one cell; resolves when it ends (never rejects: errors come back as results). */
  async execute(code: string, language: KernelLanguage, cellName: string, handlers: CellHandlers = {}): Promise<CellResult> {
    try {
      await this.start();
    } catch (e) {
      const msg = (e as Error).message;
      return { status: 'died', error: { ename: 'KernelStartError', evalue: msg, traceback: [msg] } };
    }
    if (!this.alive) return { status: 'died', error: { ename: 'KernelDied', evalue: this.describeExit(), traceback: [] } };
    const id = `c${++this.counter}`;
    return new Promise<CellResult>((resolve) => {
      this.running.set(id, { cellName, handlers, resolve });
      this.sendRaw({ type: 'execute', id, code, language, cellName });
    });
  }

  /**
   * Asks the running cell to stop. A kernel whose event loop is free answers at once and the cell
   * ends by itself (a fit stops after its current batch). No answer within `timeoutMs` means the
   * cell is stuck in synchronous code: the process is killed and its state is lost.
   */
  interrupt(timeoutMs: number): Promise<'interrupted' | 'killed' | 'idle'> {
    if (!this.alive || this.running.size === 0) return Promise.resolve('idle');
    const wait = this.interruptWaitMs(timeoutMs);
    return new Promise((resolve) => {
      const settle = (outcome: 'interrupted' | 'killed') => {
        clearTimeout(timer);
        this.off('interrupting', onAck);
        this.off('exit', onExit);
        resolve(outcome);
      };
      const onAck = () => settle('interrupted');
      // It ended by itself (crash, or the cell finished and it was shut down): nothing was killed.
      const onExit = () => settle('interrupted');
      const timer = setTimeout(() => {
        this.kill(`the cell did not respond to the interrupt within ${(wait / 1000).toFixed(1)} s — it was stuck in synchronous code`);
        settle('killed');
      }, wait);
      this.once('interrupting', onAck);
      this.once('exit', onExit);
      this.sendRaw({ type: 'interrupt' });
    });
  }

  /** How long to wait for an interrupted cell: during a fit the interrupt is read between batches, so a slow batch may need longer. */
  interruptWaitMs(timeoutMs: number): number {
    const { activeFits, slowestBatchMs } = this.fitState;
    return activeFits > 0 ? Math.max(timeoutMs, 2 * slowestBatchMs + 2000) : timeoutMs;
  }

  /** Kills the process; running cells end with `died`. */
  kill(reason: string): void {
    if (!this.proc || this.exitInfo) return;
    this.killReason = reason;
    this.proc.kill('SIGKILL');
  }

  async shutdown(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.once('exit', () => r()));
    this.killReason = 'shut down';
    this.sendRaw({ type: 'shutdown' });
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 2000);
    // Never hang the caller: a process that cannot even be killed is given up on.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    clearTimeout(timer);
  }
}

function toResult(m: DoneMessage): CellResult {
  return m.status === 'ok' ? { status: 'ok' } : { status: m.status, error: m.error };
}
