/** Command palette and notebook toolbar commands. */
import os from 'node:os';
import * as vscode from 'vscode';
import { KernelClient } from '../client/kernelClient';
import { kernelOptions } from '../kernel/config';
import type { TransferLabController } from '../kernel/controller';
import { formatDevice } from './device';
import { fineTuneWizard } from './fineTune';

function targetNotebook(arg: unknown): vscode.NotebookDocument | undefined {
  // Toolbar commands pass `{ notebookEditor }`; the palette passes nothing.
  const editor = (arg as { notebookEditor?: vscode.NotebookEditor } | undefined)?.notebookEditor;
  return editor?.notebook ?? vscode.window.activeNotebookEditor?.notebook;
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
    vscode.commands.registerCommand('transferLab.showDevice', async () => {
      const nb = vscode.window.activeNotebookEditor?.notebook;
      let device = nb && controller.session(nb)?.device;
      if (!device) {
        // No kernel yet: start a short-lived one just to probe the backends.
        const opts = nb ? kernelOptions(context, nb) : { ...kernelOptions(context, { uri: vscode.Uri.file(os.tmpdir() + '/probe.ipynb'), metadata: {} } as unknown as vscode.NotebookDocument) };
        const probe = new KernelClient(opts);
        try {
          device = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Transfer Lab: probing TensorFlow.js backends…' }, () => probe.start());
        } catch (e) {
          return void vscode.window.showErrorMessage(`Transfer Lab: ${(e as Error).message}`);
        } finally {
          void probe.shutdown();
        }
      }
      log.info(formatDevice(device));
      log.show(true);
      void vscode.window.showInformationMessage(`Transfer Lab: ${device.backend} — ${device.device}. Details are in the Transfer Lab output.`);
    }),
  ];
}
