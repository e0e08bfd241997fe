/** Kernel data → VS Code output items. */
import * as vscode from 'vscode';
import type { CellError } from '../common/protocol';

/** Richest first: VS Code shows the first item it has a renderer for; text/plain stays as the fallback. */
export function bundleToItems(bundle: Record<string, unknown>): vscode.NotebookCellOutputItem[] {
  const entries = Object.entries(bundle).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => rank(a) - rank(b));
  return entries.map(([mime, data]) => {
    if (/(^application\/json$)|\+json$/.test(mime)) return vscode.NotebookCellOutputItem.json(data, mime);
    const text = typeof data === 'string' ? data : Array.isArray(data) ? data.join('') : JSON.stringify(data);
    // Bundles carry binary data as base64 (as nbformat does); VS Code's renderers take the bytes.
    if (BINARY_MIME.test(mime)) return new vscode.NotebookCellOutputItem(Buffer.from(text, 'base64'), mime);
    return vscode.NotebookCellOutputItem.text(text, mime);
  });
}

/** Images other than SVG, and PDF: base64 in a bundle, bytes in an output item. */
const BINARY_MIME = /^(image\/(?!svg)|application\/pdf$)/;

function rank(mime: string): number {
  if (mime.startsWith('application/vnd.transfer-lab.')) return 0;
  if (mime === 'text/html' || mime.startsWith('image/') || mime === 'application/javascript') return 1;
  if (mime === 'text/markdown') return 2;
  if (mime === 'application/json') return 3;
  if (mime === 'text/plain') return 5;
  return 4;
}

export function errorItem(err: CellError): vscode.NotebookCellOutputItem {
  const stack = err.traceback.length ? err.traceback.join('\n') : `${err.ename}: ${err.evalue}`;
  return vscode.NotebookCellOutputItem.error({ name: err.ename, message: err.evalue, stack });
}

/**
 * Appends stream text to a cell, merging consecutive writes of one stream into one output
 * (as Jupyter shows them), and keeps display outputs addressable for in-place updates.
 */
export class CellOutputs {
  private lastStream: { name: string; output: vscode.NotebookCellOutput } | undefined;
  private readonly displays = new Map<string, vscode.NotebookCellOutput>();
  private readonly pendingUpdates = new Map<string, Record<string, unknown>>();
  private updating: Promise<void> | undefined;
  /** Serialises edits so outputs keep their order although none of them is awaited by the caller. */
  private chain: Thenable<void> = Promise.resolve();

  constructor(private readonly execution: vscode.NotebookCellExecution) {}

  private enqueue(op: () => Thenable<void>): void {
    this.chain = this.chain.then(op, op);
  }

  stream(name: 'stdout' | 'stderr', text: string): void {
    const item = name === 'stdout' ? vscode.NotebookCellOutputItem.stdout(text) : vscode.NotebookCellOutputItem.stderr(text);
    if (this.lastStream?.name === name) {
      const output = this.lastStream.output;
      this.enqueue(() => this.execution.appendOutputItems(item, output));
    } else {
      const output = new vscode.NotebookCellOutput([item]);
      this.lastStream = { name, output };
      this.enqueue(() => this.execution.appendOutput(output));
    }
  }

  display(displayId: string | undefined, bundle: Record<string, unknown>): void {
    const output = new vscode.NotebookCellOutput(bundleToItems(bundle), displayId ? { transferLab: { displayId } } : undefined);
    if (displayId) this.displays.set(displayId, output);
    this.lastStream = undefined;
    this.enqueue(() => this.execution.appendOutput(output));
  }

  /** Replaces a display's items; bursts collapse to the latest bundle (each replace costs ~17 ms). */
  update(displayId: string, bundle: Record<string, unknown>): void {
    if (!this.displays.has(displayId)) return this.display(displayId, bundle);
    this.pendingUpdates.set(displayId, bundle);
    if (this.updating) return;
    this.updating = (async () => {
      try {
        while (this.pendingUpdates.size) {
          // Everything queued before (the display's own append included) lands first.
          await this.chain;
          const [id, b] = this.pendingUpdates.entries().next().value as [string, Record<string, unknown>];
          this.pendingUpdates.delete(id);
          await this.execution.replaceOutputItems(bundleToItems(b), this.displays.get(id)!);
        }
      } finally {
        this.updating = undefined;
      }
    })();
  }

  error(err: CellError): void {
    this.lastStream = undefined;
    this.enqueue(() => this.execution.appendOutput(new vscode.NotebookCellOutput([errorItem(err)])));
  }

  /** Waits for every queued edit, so the execution can end. Failed edits are not fatal here. */
  async settle(): Promise<void> {
    await Promise.resolve(this.chain).catch(() => undefined);
    while (this.updating) await this.updating.catch(() => undefined);
  }
}
