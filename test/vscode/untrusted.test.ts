/**
 * Restricted mode: in a workspace that is not trusted, cells do not run and each says why.
 * Run by scripts/run-extension-tests.mjs in a second window with workspace trust turned on.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { closeAllEditors, describeOutputs, errorOf, openWithKernel, sleep, stdout } from './notebook';

describe('Untrusted workspace', function () {
  after(closeAllEditors);

  it('the window is in restricted mode', function () {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  it('a cell does not run', async function () {
    const doc = (await openWithKernel('basics.ipynb')).notebook;
    const cell = doc.getCells().find((c) => c.kind === vscode.NotebookCellKind.Code)!;
    // VS Code asks for workspace trust before any kernel runs a cell ("Executing a notebook cell will
    // run code from this workspace"); our controller also refuses on its own. Either way nothing runs.
    void vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: cell.index, end: cell.index + 1 }], document: doc.uri });
    await sleep(4000);
    assert.notEqual(cell.executionSummary?.success, true, describeOutputs(cell));
    assert.ok(!stdout(cell).includes('hello from cell 1'), `the cell ran: ${describeOutputs(cell)}`);
    const err = cell.outputs.length ? errorOf(cell) : undefined;
    if (err) assert.equal(err.name, 'UntrustedWorkspace');
  });
});
