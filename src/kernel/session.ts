/**
 * One notebook's kernel: its process, a FIFO queue of cell executions, interrupt and restart.
 * Cells run one at a time; a failing cell cancels the cells queued after it, as in Jupyter.
 */
import * as vscode from 'vscode';
import type { KernelLanguage } from '../common/mime';
import type { DeviceReport } from '../common/shapes';
import { KernelClient, type KernelClientOptions } from '../client/kernelClient';
import { cellKernelLanguage } from '../common/notebookKind';
import type { CellError } from '../common/protocol';
import { notebookLanguage } from './notebookMeta';
import { CellOutputs, errorItem } from './outputs';

interface Queued {
  cell: vscode.NotebookCell;
  execution: vscode.NotebookCellExecution;
  cancelled: boolean;
  /** Ended by an interrupt or a restart: its failure must not cancel cells queued after that. */
  stopped?: boolean;
}

export interface SessionDeps {
  controller: vscode.NotebookController;
  /** Fresh options each time a process starts, so changed settings apply after a restart. */
  clientOptions(notebook: vscode.NotebookDocument): KernelClientOptions;
  interruptTimeoutMs(): number;
  rendererMessaging: vscode.NotebookRendererMessaging;
  log: vscode.LogOutputChannel;
  onDevice(report: DeviceReport): void;
  /** Every display bundle and renderer message of a running cell, for progress in the status bar. */
  training: {
    onBundle(notebook: vscode.NotebookDocument, bundle: Record<string, unknown>): void;
    onMessage(notebook: vscode.NotebookDocument, message: unknown): void;
    clear(notebook: vscode.NotebookDocument): void;
  };
}

export class KernelSession implements vscode.Disposable {
  private client: KernelClient | undefined;
  private readonly queue: Queued[] = [];
  private current: Queued | undefined;
  private executionOrder = 0;
  private draining = false;

  constructor(
    readonly notebook: vscode.NotebookDocument,
    private readonly deps: SessionDeps,
  ) {}

  get device(): DeviceReport | undefined {
    return this.client?.device;
  }

  get busy(): boolean {
    return !!this.current || this.queue.length > 0;
  }

  enqueue(cells: vscode.NotebookCell[]): void {
    for (const cell of cells) {
      const execution = this.deps.controller.createNotebookCellExecution(cell);
      const item: Queued = { cell, execution, cancelled: false };
      execution.token.onCancellationRequested(() => this.cancelOne(item));
      this.queue.push(item);
    }
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length) {
        const item = this.queue.shift()!;
        if (item.cancelled) continue;
        this.current = item;
        const ok = await this.run(item);
        this.current = undefined;
        // A failing cell cancels the queue, as in Jupyter; a stopped one already did when it was stopped.
        if (!ok && !item.stopped) this.cancelQueued();
      }
    } finally {
      this.draining = false;
    }
  }

  private ensureClient(): KernelClient {
    if (this.client?.alive) return this.client;
    const client = new KernelClient(this.deps.clientOptions(this.notebook));
    client.on('log', (s: string) => this.deps.log.info(`[kernel ${client.pid}] ${s.trimEnd()}`));
    client.on('orphan-stream', (_name: string, text: string) => this.deps.log.info(`[kernel output after its cell ended] ${text.trimEnd()}`));
    client.on('exit', (why: string) => {
      this.deps.log.warn(`Kernel for ${this.notebook.uri.toString()} ended: ${why}`);
      if (this.client === client) this.client = undefined;
    });
    this.client = client;
    this.executionOrder = 0;
    client.start().then(
      (device) => {
        this.deps.log.info(`Kernel ${client.pid} ready: ${device.backend} — ${device.device}`);
        for (const s of device.skipped) this.deps.log.info(`  skipped ${s.backend}: ${s.reason}${s.error ? ` (${s.error.split('\n')[0]})` : ''}`);
        this.deps.onDevice(device);
      },
      (e: Error) => this.deps.log.error(e.message),
    );
    return client;
  }

  private async run(item: Queued): Promise<boolean> {
    const { cell, execution } = item;
    let ok = false;
    try {
      const client = this.ensureClient();
      execution.executionOrder = ++this.executionOrder;
      execution.start(Date.now());
      await execution.clearOutput();
      const outputs = new CellOutputs(execution);
      const language: KernelLanguage = cellKernelLanguage(cell.document.languageId, notebookLanguage(this.notebook));
      const result = await client.execute(cell.document.getText(), language, `Cell ${cell.index + 1}`, {
        onStream: (name, text) => outputs.stream(name, text),
        onDisplay: (id, bundle) => {
          outputs.display(id, bundle);
          this.deps.training.onBundle(this.notebook, bundle);
        },
        onUpdate: (id, bundle) => {
          outputs.update(id, bundle);
          this.deps.training.onBundle(this.notebook, bundle);
        },
        // Increments go straight to the renderer, never awaited: the output already holds the full state.
        onPost: (_id, message) => {
          void this.deps.rendererMessaging.postMessage(message);
          this.deps.training.onMessage(this.notebook, message);
        },
        onResult: (bundle) => outputs.display(undefined, bundle),
        onLateError: (error) => void this.showLateError(cell, error),
      });
      if (result.status !== 'ok') outputs.error(result.error);
      await outputs.settle();
      ok = result.status === 'ok';
    } catch (e) {
      // An edit failed (the notebook closed, say): the cell still ends, and the queue moves on.
      this.deps.log.error(`Cell ${cell.index + 1}: ${(e as Error).message}`);
    } finally {
      this.deps.training.clear(this.notebook);
      try {
        execution.end(ok, Date.now());
      } catch {
        // already ended (its document went away)
      }
    }
    return ok;
  }

  /**
   * An error the cell's code raised after the cell finished (a timer, a floating promise): appended
   * to that cell's outputs by a short execution of its own that keeps its execution order. A cell
   * that is queued or running again cannot take one, so the error is shown as a notification.
   */
  private async showLateError(cell: vscode.NotebookCell, error: CellError): Promise<void> {
    this.deps.log.warn(`Cell ${cell.index + 1}: ${error.traceback.join('\n') || `${error.ename}: ${error.evalue}`}`);
    const summary = cell.executionSummary;
    try {
      const execution = this.deps.controller.createNotebookCellExecution(cell);
      execution.executionOrder = summary?.executionOrder;
      execution.start(summary?.timing?.startTime ?? Date.now());
      try {
        await execution.appendOutput(new vscode.NotebookCellOutput([errorItem(error)]));
      } finally {
        execution.end(false, Date.now());
      }
    } catch {
      void vscode.window.showErrorMessage(`Transfer Lab: Cell ${cell.index + 1} raised an error after it finished: ${error.ename}: ${error.evalue}`);
    }
  }

  private cancelOne(item: Queued): void {
    if (item === this.current) {
      void this.interrupt();
      return;
    }
    const i = this.queue.indexOf(item);
    if (i >= 0 && !item.cancelled) {
      item.cancelled = true;
      this.queue.splice(i, 1);
      item.execution.end(undefined);
    }
  }

  private cancelQueued(): void {
    for (const item of this.queue.splice(0)) {
      if (item.cancelled) continue;
      item.cancelled = true;
      item.execution.end(undefined);
    }
  }

  /** Stops the running cell and drops the queue. Kills the process if the cell does not respond. */
  async interrupt(): Promise<void> {
    this.cancelQueued();
    if (!this.current || !this.client) return;
    this.current.stopped = true;
    const outcome = await this.client.interrupt(this.deps.interruptTimeoutMs());
    if (outcome === 'killed') {
      void vscode.window.showWarningMessage('Transfer Lab: the cell was stuck in synchronous code, so the kernel process was stopped. Its variables were lost; the next run starts a fresh kernel.');
    }
  }

  async restart(): Promise<void> {
    this.cancelQueued();
    if (this.current) this.current.stopped = true;
    const client = this.client;
    this.client = undefined;
    this.executionOrder = 0;
    if (client) {
      if (this.current) client.kill('restarted by the user');
      else await client.shutdown();
    }
  }

  dispose(): void {
    this.cancelQueued();
    this.client?.kill('notebook closed');
    this.client = undefined;
  }
}
