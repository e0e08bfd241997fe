/** Command palette and notebook toolbar commands. */
import * as vscode from 'vscode';
import type { TransferLabController } from '../kernel/controller';
import { installGpu, showDoctor } from './device';
import { fineTuneWizard } from './fineTune';
import { newNotebookFromTemplate } from './templates';

function targetNotebook(arg: unknown): vscode.NotebookDocument | undefined {
  // Toolbar commands pass `{ notebookEditor }`, the status bar `{ notebookUri }`; the palette nothing.
  const a = arg as { notebookEditor?: vscode.NotebookEditor; notebookUri?: string } | undefined;
  if (a?.notebookUri) return vscode.workspace.notebookDocuments.find((d) => d.uri.toString() === a.notebookUri);
  return a?.notebookEditor?.notebook ?? vscode.window.activeNotebookEditor?.notebook;
}

export function registerCommands(context: vscode.ExtensionContext, controller: TransferLabController, log: vscode.LogOutputChannel): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('transferLab.fineTune', () => fineTuneWizard(context)),
    vscode.commands.registerCommand('transferLab.restartKernel', async (arg?: unknown) => {
      const nb = targetNotebook(arg);
      if (!nb) return void vscode.window.showInformationMessage('Transfer Lab: open a notebook to restart its kernel.');
      await controller.restart(nb);
      void vscode.window.showInformationMessage('Transfer Lab: kernel restarted. Variables were cleared; execution numbers start again at 1.');
    }),
    vscode.commands.registerCommand('transferLab.interruptKernel', async (arg?: unknown) => {
      const nb = targetNotebook(arg);
      if (nb) await controller.interrupt(nb);
    }),
    vscode.commands.registerCommand('transferLab.showDevice', () => showDoctor(context, controller, log)),
    vscode.commands.registerCommand('transferLab.installGpuBackend', () => installGpu(context, log)),
    vscode.commands.registerCommand('transferLab.newNotebook', () => newNotebookFromTemplate(context)),
  ];
}
