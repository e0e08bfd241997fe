/** The "Get started" walkthrough opens once, the first time the extension runs after it is installed. */
import * as vscode from 'vscode';
import { EXTENSION_ID } from '../common/mime';

const SHOWN_KEY = 'transferLab.walkthroughShown';

export async function openWalkthroughOnFirstRun(context: vscode.ExtensionContext): Promise<void> {
  if (context.globalState.get<boolean>(SHOWN_KEY)) return;
  await context.globalState.update(SHOWN_KEY, true);
  // VS Code's own switch for walkthroughs of newly installed extensions; automation turns it off.
  if (!vscode.workspace.getConfiguration('workbench.welcomePage').get<boolean>('walkthroughs.openOnInstall', true)) return;
  // Extension tests start VS Code with a fresh profile each time.
  if (context.extensionMode === vscode.ExtensionMode.Test) return;
  // Opened behind whatever the user already has open (a notebook that activated us), as VS Code does
  // for the walkthroughs of extensions installed from the marketplace; in front of an empty editor area.
  const inactive = vscode.window.tabGroups.all.some((g) => g.tabs.length > 0);
  await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${EXTENSION_ID}#gettingStarted`, { inactive }).then(undefined, () => undefined);
}
