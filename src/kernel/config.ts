/** Settings and notebook metadata → plain options for the kernel process. Read here only. */
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { BACKEND_NAMES, type BackendName } from '../common/protocol';
import type { KernelClientOptions } from '../client/kernelClient';
import { DEFAULT_MAX_MODEL_MB, modelBudgetEnv } from '../common/modelBudget';

export function notebookBackend(notebook: vscode.NotebookDocument): BackendName | undefined {
  // The ipynb serializer keeps the file's top-level metadata under `metadata` (older builds: `custom.metadata`).
  const meta = (notebook.metadata?.metadata ?? notebook.metadata?.custom?.metadata ?? {}) as { transferLab?: { backend?: string } };
  const b = meta.transferLab?.backend;
  return b && (BACKEND_NAMES as readonly string[]).includes(b) ? (b as BackendName) : undefined;
}

export function kernelOptions(context: vscode.ExtensionContext, notebook: vscode.NotebookDocument): KernelClientOptions {
  const config = vscode.workspace.getConfiguration('transferLab', notebook.uri);
  const workspaceFolders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  const notebookDir = notebook.uri.scheme === 'file' ? path.dirname(notebook.uri.fsPath) : workspaceFolders[0] ?? os.homedir();
  const fromMeta = notebookBackend(notebook);
  const fromSetting = config.get<BackendName>('backend', 'auto');
  const gpuPath = config.get<string>('tfjsNodeGpuPath', '').trim();
  const globalStorage = context.globalStorageUri.fsPath;
  return {
    kernelScript: context.asAbsolutePath(path.join('dist', 'kernel.js')),
    nodePath: config.get<string>('nodePath', '').trim() || undefined,
    notebookDir,
    workspaceFolders,
    backend: fromMeta ?? fromSetting,
    backendRequestedBy: fromMeta ? 'notebook metadata' : fromSetting !== 'auto' ? 'setting transferLab.backend' : 'auto',
    tfjsNodeGpuPaths: [...(gpuPath ? [gpuPath] : []), notebookDir, ...workspaceFolders, path.join(globalStorage, 'node_modules')],
    cacheDir: config.get<string>('modelCache', '').trim() || path.join(globalStorage, 'cache'),
    // The tl core never reads settings: the loading budget and the engine search order reach the
    // kernel (and its decode workers) as environment variables (src/tl/engines.ts reads the latter).
    env: {
      ...modelBudgetEnv(config.get<number>('maxModelSizeMB', DEFAULT_MAX_MODEL_MB)),
      TRANSFER_LAB_ENGINES: config.get<string>('engines', 'extension') === 'workspace' ? 'workspace' : 'extension',
    },
  };
}

export function interruptTimeoutMs(): number {
  return Math.max(500, vscode.workspace.getConfiguration('transferLab').get<number>('interruptTimeoutSeconds', 3) * 1000);
}
