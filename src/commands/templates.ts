/** "New Transfer-Learning Notebook": an untitled notebook from one of the bundled samples. */
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { CONTROLLER_ID, EXTENSION_ID, NOTEBOOK_TYPE } from '../common/mime';

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
 * An untitled notebook runs in the workspace folder, not in samples/: the samples' relative data
 * paths ('data/…') are pointed at the copy that ships with the extension.
 */
function pointAtSampleData(code: string, samplesDir: string): string {
  const dir = samplesDir.split('\\').join('/');
  return code.replace(/(['"`])data\//g, (_m, q: string) => `${q}${dir}/data/`);
}

function toNotebookData(
  ipynb: { cells: { cell_type: string; source: string | string[]; metadata?: { vscode?: { languageId?: string } } }[]; metadata?: Record<string, unknown> },
  samplesDir?: string,
): vscode.NotebookData {
  const lang = ((ipynb.metadata?.language_info as { name?: string } | undefined)?.name ?? 'javascript') as string;
  const cells = ipynb.cells.map((c) => {
    const source = Array.isArray(c.source) ? c.source.join('') : c.source;
    const kind = c.cell_type === 'markdown' ? vscode.NotebookCellKind.Markup : vscode.NotebookCellKind.Code;
    const text = kind === vscode.NotebookCellKind.Code && samplesDir ? pointAtSampleData(source, samplesDir) : source;
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
    ? toNotebookData(JSON.parse(readFileSync(context.asAbsolutePath(`samples/${picked.file}`), 'utf8')), context.asAbsolutePath('samples'))
    : toNotebookData({ cells: [{ cell_type: 'code', source: "const model = await tl.load('digits');\nmodel" }], metadata: { language_info: { name: 'javascript' } } });
  const doc = await vscode.workspace.openNotebookDocument(NOTEBOOK_TYPE, data);
  const editor = await vscode.window.showNotebookDocument(doc);
  await vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: CONTROLLER_ID, extension: EXTENSION_ID });
}
