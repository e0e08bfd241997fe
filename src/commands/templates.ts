/** "New Transfer-Learning Notebook": an untitled notebook from one of the bundled samples. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { CONTROLLER_ID, EXTENSION_ID, NOTEBOOK_TYPE } from '../common/mime';
import { copySampleData, pointAtData } from '../wizard/sampleData';

interface Template {
  label: string;
  detail: string;
  file: string;
}

const TEMPLATES: Template[] = [
  { label: 'Quick start (offline)', detail: 'Transfer the bundled digits model to new classes with a few labels; compare with training from scratch.', file: 'quickstart.ipynb' },
  { label: 'Image folder', detail: 'Your own images, one subfolder per class: freeze map, train a head, evaluate, export.', file: 'image-folder.ipynb' },
  { label: 'MobileNet from the model zoo', detail: 'Download MobileNet once (cached), fine-tune its last blocks on an image folder.', file: 'mobilenet.ipynb' },
  { label: 'TypeScript', detail: 'The quick start written in TypeScript cells.', file: 'typescript.ipynb' },
  { label: 'Empty', detail: 'One JavaScript cell with tf and tl in scope.', file: '' },
];

/**
 * An untitled notebook runs in the workspace folder, so the samples' relative data paths
 * ('data/…') work once the sample data is copied there. With no folder open it goes to the
 * extension's global storage (a path that survives updates, unlike the versioned install folder)
 * and the paths are pointed at that copy.
 */
function placeSampleData(context: vscode.ExtensionContext): string | undefined {
  const workspace = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
  const home = workspace ?? path.join(context.globalStorageUri.fsPath, 'samples');
  const samples = context.asAbsolutePath(path.join('samples', 'data'));
  for (const name of readdirSync(samples)) copySampleData(path.join(samples, name), home);
  return workspace ? undefined : home;
}

function toNotebookData(
  ipynb: { cells: { cell_type: string; source: string | string[]; metadata?: { vscode?: { languageId?: string } } }[]; metadata?: Record<string, unknown> },
  dataParent?: string,
): vscode.NotebookData {
  const lang = ((ipynb.metadata?.language_info as { name?: string } | undefined)?.name ?? 'javascript') as string;
  const cells = ipynb.cells.map((c) => {
    const source = Array.isArray(c.source) ? c.source.join('') : c.source;
    const kind = c.cell_type === 'markdown' ? vscode.NotebookCellKind.Markup : vscode.NotebookCellKind.Code;
    const text = kind === vscode.NotebookCellKind.Code && dataParent ? pointAtData(source, dataParent) : source;
    return new vscode.NotebookCellData(kind, text, kind === vscode.NotebookCellKind.Markup ? 'markdown' : c.metadata?.vscode?.languageId ?? lang);
  });
  const data = new vscode.NotebookData(cells);
  data.metadata = { metadata: ipynb.metadata ?? { language_info: { name: lang } } };
  return data;
}

export async function newNotebookFromTemplate(context: vscode.ExtensionContext): Promise<void> {
  const picked = await vscode.window.showQuickPick(TEMPLATES, { title: 'New transfer-learning notebook', placeHolder: 'Start from a template' });
  if (!picked) return;
  const data = picked.file
    ? toNotebookData(JSON.parse(readFileSync(context.asAbsolutePath(`samples/${picked.file}`), 'utf8')), placeSampleData(context))
    : toNotebookData({ cells: [{ cell_type: 'code', source: "const model = await tl.load('digits');\nmodel" }], metadata: { language_info: { name: 'javascript' } } });
  const doc = await vscode.workspace.openNotebookDocument(NOTEBOOK_TYPE, data);
  const editor = await vscode.window.showNotebookDocument(doc);
  await vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: CONTROLLER_ID, extension: EXTENSION_ID });
}
