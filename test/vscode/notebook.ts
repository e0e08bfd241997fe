/**
 * Notebook helpers for the extension tests: open a fixture, select our kernel, run cells and wait
 * for their results through the public API only (what a user's VS Code would see).
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'transfer-lab.transfer-lab';
export const CONTROLLER_ID = 'transfer-lab-kernel';
export const STDOUT_MIME = 'application/vnd.code.notebook.stdout';
export const STDERR_MIME = 'application/vnd.code.notebook.stderr';
export const ERROR_MIME = 'application/vnd.code.notebook.error';

const decoder = new TextDecoder();

export function workspaceUri(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test run needs a workspace folder holding the fixture notebooks');
  return vscode.Uri.joinPath(folder.uri, name);
}

export async function withTimeout<T>(what: string, ms: number, p: Thenable<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve(p),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function activateExtension(): Promise<void> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in this host`);
  await withTimeout('activating the extension', 30_000, ext.activate());
}

/** Opens a fixture notebook as a notebook (not as JSON text) and selects the Transfer Lab kernel. */
export async function openWithKernel(name: string): Promise<vscode.NotebookEditor> {
  await activateExtension();
  const doc = await vscode.workspace.openNotebookDocument(workspaceUri(name));
  assert.equal(doc.notebookType, 'jupyter-notebook');
  const editor = await vscode.window.showNotebookDocument(doc);
  // With id + extension the command selects directly; if the id were unknown it would open the
  // picker and wait for a person, hence the timeout.
  await withTimeout(
    'notebook.selectKernel',
    15_000,
    vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: CONTROLLER_ID, extension: EXTENSION_ID }),
  );
  return editor;
}

export interface CellRun {
  /** Resolves when the cell's run has ended (executionSummary.success is set). */
  done: Promise<vscode.NotebookCell>;
}

/**
 * Resolves when `cell` reports the end of a run that started after this call. Listening to
 * document changes (rather than reading executionSummary once) avoids reading a previous run's
 * summary before VS Code has reset it for the new one.
 */
export function whenCellEnds(cell: vscode.NotebookCell, timeoutMs: number): Promise<vscode.NotebookCell> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`cell ${cell.index} did not finish in ${timeoutMs} ms (summary: ${JSON.stringify(cell.executionSummary)}; outputs: ${describeOutputs(cell)})`));
    }, timeoutMs);
    const sub = vscode.workspace.onDidChangeNotebookDocument((e) => {
      if (e.notebook !== cell.notebook) return;
      for (const c of e.cellChanges) {
        if (c.cell.index === cell.index && c.executionSummary && c.executionSummary.success !== undefined) {
          clearTimeout(timer);
          sub.dispose();
          resolve(c.cell);
          return;
        }
      }
    });
  });
}

/** Starts cells [start, end) with `notebook.cell.execute`, without waiting for the command. */
export function executeRange(doc: vscode.NotebookDocument, start: number, end: number, timeoutMs = 45_000): Promise<vscode.NotebookCell[]> {
  const waits = [];
  for (let i = start; i < end; i++) {
    if (doc.cellAt(i).kind === vscode.NotebookCellKind.Code) waits.push(whenCellEnds(doc.cellAt(i), timeoutMs));
  }
  // The command may resolve only when the cells have run; a long cell is interrupted while it runs,
  // so the completion is observed through the cells instead.
  const command = Promise.resolve(
    vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start, end }], document: doc.uri }),
  ).catch((e: unknown) => {
    throw new Error(`notebook.cell.execute failed: ${(e as Error).message ?? String(e)}`);
  });
  return Promise.all([...waits, command.then(() => undefined)]).then((r) => r.filter((c): c is vscode.NotebookCell => !!c));
}

export async function executeCell(doc: vscode.NotebookDocument, index: number, timeoutMs = 45_000): Promise<vscode.NotebookCell> {
  const [cell] = await executeRange(doc, index, index + 1, timeoutMs);
  return cell;
}

// --- outputs

export function items(cell: vscode.NotebookCell, mime?: string): vscode.NotebookCellOutputItem[] {
  return cell.outputs.flatMap((o) => o.items).filter((i) => mime === undefined || i.mime === mime);
}

export function text(item: vscode.NotebookCellOutputItem): string {
  return decoder.decode(item.data);
}

export function stdout(cell: vscode.NotebookCell): string {
  return items(cell, STDOUT_MIME).map(text).join('');
}

export function plain(cell: vscode.NotebookCell): string {
  return items(cell, 'text/plain').map(text).join('\n');
}

export function errorOf(cell: vscode.NotebookCell): { name: string; message: string; stack?: string } {
  const errs = items(cell, ERROR_MIME);
  assert.equal(errs.length, 1, `cell ${cell.index} should have one error output; has ${describeOutputs(cell)}`);
  return JSON.parse(text(errs[0])) as { name: string; message: string; stack?: string };
}

export function describeOutputs(cell: vscode.NotebookCell): string {
  const parts = cell.outputs.flatMap((o) => o.items.map((i) => `${i.mime}: ${JSON.stringify(text(i).slice(0, 300))}`));
  return parts.length ? `[${parts.join(', ')}]` : '(no outputs)';
}

export function assertSucceeded(cell: vscode.NotebookCell): void {
  assert.equal(cell.executionSummary?.success, true, `cell ${cell.index} should succeed; outputs: ${describeOutputs(cell)}`);
}

/** Waits until the predicate holds for the cell's outputs (used to see a long cell get going). */
export function whenOutput(cell: vscode.NotebookCell, predicate: (c: vscode.NotebookCell) => boolean, timeoutMs: number, what: string): Promise<void> {
  if (predicate(cell)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`${what}: not seen in ${timeoutMs} ms; outputs: ${describeOutputs(cell)}`));
    }, timeoutMs);
    const sub = vscode.workspace.onDidChangeNotebookDocument((e) => {
      if (e.notebook === cell.notebook && predicate(cell)) {
        clearTimeout(timer);
        sub.dispose();
        resolve();
      }
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}
