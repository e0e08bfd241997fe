/** Status bar item: which backend runs the active notebook's cells. */
import * as vscode from 'vscode';
import type { DeviceReport } from '../common/shapes';
import type { TransferLabController } from './controller';

export class DeviceStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('transferLab.device', vscode.StatusBarAlignment.Right, 100);
  private readonly devices = new WeakMap<vscode.NotebookDocument, DeviceReport>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly controller: TransferLabController) {
    this.item.name = 'Transfer Lab backend';
    this.item.command = 'transferLab.showDevice';
    this.disposables.push(
      this.item,
      controller.onDevice(({ notebook, device }) => {
        this.devices.set(notebook, device);
        this.refresh();
      }),
      vscode.window.onDidChangeActiveNotebookEditor(() => this.refresh()),
    );
  }

  private refresh(): void {
    const nb = vscode.window.activeNotebookEditor?.notebook;
    const device = nb && this.devices.get(nb);
    if (!device) {
      this.item.hide();
      return;
    }
    this.item.text = `$(chip) TF.js ${device.backend}`;
    const skipped = device.skipped.map((s) => `- ${s.backend}: ${s.reason}`).join('\n');
    this.item.tooltip = new vscode.MarkdownString(`**${device.backend}** — ${device.device}\n\nRequested: ${device.requested} (${device.requestedBy})${skipped ? `\n\nSkipped:\n${skipped}` : ''}`);
    this.item.tooltip.isTrusted = false;
    this.item.show();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
