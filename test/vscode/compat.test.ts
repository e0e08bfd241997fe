/**
 * A notebook written for tslab (tslab-display.ipynb, copied into the workspace with its JPEG) runs
 * unchanged with the Transfer Lab kernel in a real VS Code: display API, an updating display,
 * TypeScript cells and redeclaration across cells.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { assertSucceeded, closeAllEditors, describeOutputs, items, openWithKernel, plain, stdout, text, whenCellEnds, withTimeout, workspaceUri } from './notebook';

describe('A tslab notebook in VS Code', function () {
  let doc: vscode.NotebookDocument;
  /** Code cells by their id in the fixture; the markdown title is cell 0. */
  const ORDER = ['import-tslab', 'html', 'jpeg', 'progress', 'interfaces', 'await', 'declare', 'redeclare'];
  const cell = (id: string) => doc.cellAt(ORDER.indexOf(id) + 1);

  before(async function () {
    const editor = await openWithKernel('tslab-display.ipynb');
    doc = editor.notebook;
    const code = doc.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
    const ends = code.map((c) => whenCellEnds(c, 50_000));
    await withTimeout('notebook.execute', 50_000, vscode.commands.executeCommand('notebook.execute', doc.uri));
    await Promise.all(ends);
  });
  after(closeAllEditors);

  it('opens its cells as TypeScript (the notebook says typescript) and runs them all', function () {
    const code = doc.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
    assert.equal(code.length, ORDER.length);
    for (const c of code) {
      assert.equal(c.document.languageId, 'typescript');
      assertSucceeded(c);
    }
  });

  it("resolves require('tslab') without installing it", function () {
    assert.match(stdout(cell('import-tslab')), /^node v\d+\.\d+\.\d+ isNode true isBrowser false\n$/, describeOutputs(cell('import-tslab')));
  });

  it('shows display.html as HTML and display.jpeg as the image bytes', function () {
    const html = items(cell('html'), 'text/html').map(text);
    assert.deepEqual(html, ['<h3 id="greeting">Hello from tslab</h3>'], describeOutputs(cell('html')));
    const jpeg = items(cell('jpeg'), 'image/jpeg');
    assert.equal(jpeg.length, 1, describeOutputs(cell('jpeg')));
    assert.deepEqual(Buffer.from(jpeg[0].data), readFileSync(workspaceUri('tslab-gradient.jpg').fsPath));
  });

  it('updates a newDisplay() output in place to its final value', function () {
    const c = cell('progress');
    assert.equal(c.outputs.length, 1, describeOutputs(c));
    assert.deepEqual(items(c, 'text/html').map(text), ['<b>done: 5/5</b>']);
  });

  it('runs TypeScript interfaces and classes, top-level await, and redeclared let/const/class/function', function () {
    assert.equal(plain(cell('interfaces')), '[ 6, 20 ]');
    assert.equal(plain(cell('await')), '42');
    assert.equal(plain(cell('redeclare')), "[ 10, 'second', 'hello again', 5 ]");
  });
});
