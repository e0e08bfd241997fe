/** "Show Device and Backends" (a doctor report) and "Install GPU Backend". */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { diagnose, formatDoctor } from '../client/doctor';
import { installGpuBackend } from '../client/installGpu';
import { KernelClient } from '../client/kernelClient';
import type { DeviceReport } from '../common/shapes';
import { kernelOptions } from '../kernel/config';
import type { TransferLabController } from '../kernel/controller';

async function probeDevice(context: vscode.ExtensionContext, nb: vscode.NotebookDocument | undefined): Promise<DeviceReport> {
  // No kernel yet: a short-lived one probes the backends the same way a notebook's would. Without a
  // notebook it runs in the extension's own storage (never a shared folder such as the temp dir,
  // where a planted node_modules would be loaded).
  const home = context.globalStorageUri.fsPath;
  mkdirSync(home, { recursive: true });
  const target = nb ?? ({ uri: vscode.Uri.file(path.join(home, 'probe.ipynb')), metadata: {} } as unknown as vscode.NotebookDocument);
  const probe = new KernelClient(kernelOptions(context, target));
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      probe.start(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the kernel did not report a backend within 60 s')), 60_000))),
    ]);
  } finally {
    clearTimeout(timer);
    void probe.shutdown();
  }
}

/** The report as a read-only virtual document: nothing to save, nothing asked on close. */
const REPORT_SCHEME = 'transfer-lab-report';
const REPORT_URI = vscode.Uri.from({ scheme: REPORT_SCHEME, path: '/Transfer Lab Device Report.md' });

class ReportContent implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private text = '';
  set(text: string): void {
    this.text = text;
    this.changed.fire(REPORT_URI);
  }
  provideTextDocumentContent(): string {
    return this.text;
  }
}

let reportContent: ReportContent | undefined;

function reportProvider(context: vscode.ExtensionContext): ReportContent {
  if (!reportContent) {
    reportContent = new ReportContent();
    context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, reportContent));
  }
  return reportContent;
}

async function collectReport(context: vscode.ExtensionContext, controller: TransferLabController, nb: vscode.NotebookDocument | undefined): Promise<string> {
  let device = nb && controller.session(nb)?.device;
  let probeError: string | undefined;
  if (!device && !vscode.workspace.isTrusted) {
    // Probing loads native packages from the workspace: not in a workspace that is not trusted.
    probeError = 'not started: this workspace is not trusted, and probing loads packages from it. The GPU libraries below were checked all the same.';
  } else if (!device) {
    try {
      device = await probeDevice(context, nb);
    } catch (e) {
      probeError = (e as Error).message;
    }
  }
  const text = formatDoctor(diagnose(), device);
  return probeError ? `${text}\n\n**The kernel could not start:** ${probeError}` : text;
}

export async function showDoctor(context: vscode.ExtensionContext, controller: TransferLabController, log: vscode.LogOutputChannel): Promise<void> {
  const nb = vscode.window.activeNotebookEditor?.notebook;
  const content = reportProvider(context);
  // The view opens at once and fills in when the kernel has answered.
  content.set('# Transfer Lab: device and backends\n\nChecking backends, engines and GPU libraries…');
  await vscode.commands.executeCommand('markdown.showPreview', REPORT_URI).then(undefined, async () => {
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(REPORT_URI), { preview: true });
  });
  const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Transfer Lab: checking backends and GPU libraries…' }, () => collectReport(context, controller, nb));
  log.info(report);
  content.set(report);
}

export async function installGpu(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<void> {
  const prefix = context.globalStorageUri.fsPath;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Transfer Lab: installing @tensorflow/tfjs-node-gpu', cancellable: false },
    (progress) =>
      installGpuBackend({
        prefix,
        onOutput: (line) => {
          log.info(`[npm] ${line}`);
          progress.report({ message: line.slice(0, 80) });
        },
      }),
  );
  if (result.ok) {
    const restart = await vscode.window.showInformationMessage(`Transfer Lab: ${result.message}`, 'Restart Kernel');
    if (restart) await vscode.commands.executeCommand('transferLab.restartKernel');
  } else {
    log.error(result.message);
    void vscode.window.showErrorMessage(`Transfer Lab: ${result.message}`, 'Show Log').then((a) => a && log.show());
  }
}
