/** The notebook controller "Transfer Lab (TensorFlow.js)" and the kernel sessions behind it. */
import * as vscode from 'vscode';
import { CONTROLLER_ID, CONTROLLER_LABEL, KERNEL_LANGUAGES, NOTEBOOK_TYPE, RENDERER_ID } from '../common/mime';
import type { DeviceReport } from '../common/shapes';
import { interruptTimeoutMs, kernelOptions } from './config';
import { isJsNotebook } from '../common/notebookKind';
import { nbMetadata } from './notebookMeta';
import { errorItem } from './outputs';
import { KernelSession } from './session';
import { TrainingStatus } from './trainingStatus';

export class TransferLabController implements vscode.Disposable {
  readonly controller: vscode.NotebookController;
  private readonly sessions = new Map<vscode.NotebookDocument, KernelSession>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly messaging: vscode.NotebookRendererMessaging;
  private readonly training = new TrainingStatus();
  private readonly deviceEmitter = new vscode.EventEmitter<{ notebook: vscode.NotebookDocument; device: DeviceReport }>();
  readonly onDevice = this.deviceEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.controller = vscode.notebooks.createNotebookController(CONTROLLER_ID, NOTEBOOK_TYPE, CONTROLLER_LABEL, (cells, notebook) => this.execute(cells, notebook));
    this.controller.supportedLanguages = [...KERNEL_LANGUAGES];
    this.controller.supportsExecutionOrder = true;
    this.controller.description = 'JavaScript/TypeScript with TensorFlow.js and the tl transfer-learning API';
    this.controller.interruptHandler = (notebook) => this.sessions.get(notebook)?.interrupt() ?? Promise.resolve();
    this.messaging = vscode.notebooks.createRendererMessaging(RENDERER_ID);
    this.disposables.push(
      this.controller,
      this.deviceEmitter,
      this.training,
      vscode.workspace.onDidCloseNotebookDocument((nb) => this.endSession(nb)),
      // Another kernel was picked for the notebook: its process is no longer needed.
      this.controller.onDidChangeSelectedNotebooks(({ notebook, selected }) => {
        if (!selected) this.endSession(notebook);
      }),
      vscode.workspace.onDidOpenNotebookDocument((nb) => this.updateAffinity(nb)),
    );
    for (const nb of vscode.workspace.notebookDocuments) this.updateAffinity(nb);
  }

  /** Notebooks written for tslab, jslab, Deno or another JS/TS kernel get this kernel offered first. */
  private updateAffinity(notebook: vscode.NotebookDocument): void {
    if (notebook.notebookType !== NOTEBOOK_TYPE || !isJsNotebook(nbMetadata(notebook))) return;
    this.controller.updateNotebookAffinity(notebook, vscode.NotebookControllerAffinity.Preferred);
  }

  private endSession(notebook: vscode.NotebookDocument): void {
    this.sessions.get(notebook)?.dispose();
    this.sessions.delete(notebook);
  }

  session(notebook: vscode.NotebookDocument): KernelSession | undefined {
    return this.sessions.get(notebook);
  }

  private execute(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument): void {
    if (!vscode.workspace.isTrusted) {
      // Cells are code: in an untrusted workspace they do not run, and each says why.
      for (const cell of cells) {
        const execution = this.controller.createNotebookCellExecution(cell);
        execution.start(Date.now());
        void execution.replaceOutput(
          new vscode.NotebookCellOutput([
            errorItem({
              ename: 'UntrustedWorkspace',
              evalue: 'Transfer Lab does not run cells in an untrusted workspace. Trust this workspace (Workspaces: Manage Workspace Trust) to run them.',
              traceback: [],
            }),
          ]),
        );
        execution.end(false, Date.now());
      }
      return;
    }
    let session = this.sessions.get(notebook);
    if (!session) {
      session = new KernelSession(notebook, {
        controller: this.controller,
        clientOptions: (nb) => kernelOptions(this.context, nb),
        interruptTimeoutMs,
        rendererMessaging: this.messaging,
        log: this.log,
        onDevice: (device) => this.deviceEmitter.fire({ notebook, device }),
        training: this.training,
      });
      this.sessions.set(notebook, session);
    }
    session.enqueue(cells);
  }

  async restart(notebook: vscode.NotebookDocument): Promise<void> {
    await this.sessions.get(notebook)?.restart();
  }

  async interrupt(notebook: vscode.NotebookDocument): Promise<void> {
    await this.sessions.get(notebook)?.interrupt();
  }

  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    for (const d of this.disposables) d.dispose();
  }
}
