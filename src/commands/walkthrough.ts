/** The "Get started" walkthrough opens once, the first time the extension runs after it is installed. */
import * as vscode from 'vscode';
import { EXTENSION_ID } from '../common/mime';

const SHOWN_KEY = 'transferLab.walkthroughShown';

export async function openWalkthroughOnFirstRun(context: vscode.ExtensionContext): Promise<void> {
  if (context.globalState.get<boolean>(SHOWN_KEY)) return;
  await context.globalState.update(SHOWN_KEY, true);
  // Tests and automation start VS Code with a fresh profile each time; they ask for no welcome pages.
  if (context.extensionMode === vscode.ExtensionMode.Test) return;
  await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${EXTENSION_ID}#gettingStarted`, false).then(undefined, () => undefined);
}
