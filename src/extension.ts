/** Entry point: construct and register, nothing else. */
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { openWalkthroughOnFirstRun } from './commands/walkthrough';
import { TransferLabController } from './kernel/controller';
import { DeviceStatus } from './kernel/status';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Transfer Lab', { log: true });
  const controller = new TransferLabController(context, log);
  const status = new DeviceStatus(controller);
  context.subscriptions.push(log, controller, status, ...registerCommands(context, controller, log));
  void openWalkthroughOnFirstRun(context);
}

export function deactivate(): void {
  // Sessions are disposed through context.subscriptions; their processes are killed there.
}
