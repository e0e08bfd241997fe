/**
 * The Transfer Lab kernel in a real VS Code: fixture notebooks from test/fixtures (copied into the
 * run's workspace folder by the runner) are opened, run with our controller, and their outputs read
 * back through the notebook API.
 */
import * as assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';
import {
  assertSucceeded,
  closeAllEditors,
  describeOutputs,
  errorOf,
  executeCell,
  openWithKernel,
  plain,
  stdout,
  whenCellEnds,
  sleep,
  whenOutput,
  withTimeout,
} from './notebook';

/** util.inspect shows strings quoted; the tests compare the text inside. */
function unquote(s: string): string {
  const t = s.trim();
  return /^'.*'$/s.test(t) ? t.slice(1, -1) : t;
}

describe('Transfer Lab kernel', function () {
  after(closeAllEditors);

  describe('basics.ipynb (Run All)', function () {
    let doc: vscode.NotebookDocument;

    before(async function () {
      const editor = await openWithKernel('basics.ipynb');
      doc = editor.notebook;
      const code = doc.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
      const ends = code.map((c) => whenCellEnds(c, 50_000));
      await withTimeout('notebook.execute', 50_000, vscode.commands.executeCommand('notebook.execute', doc.uri));
      await Promise.all(ends);
    });

    it('runs every code cell successfully, in order', function () {
      const code = doc.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
      assert.equal(code.length, 4);
      for (const c of code) assertSucceeded(c);
      const orders = code.map((c) => c.executionSummary?.executionOrder);
      for (const o of orders) assert.equal(typeof o, 'number', `execution orders: ${JSON.stringify(orders)}`);
      assert.deepEqual([...orders].sort((a, b) => a! - b!), orders, `cells ran out of order: ${JSON.stringify(orders)}`);
      const md = doc.cellAt(0).executionSummary;
      assert.ok(md?.executionOrder === undefined && md?.success === undefined, `the markdown cell must not run: ${JSON.stringify(md)}`);
    });

    it('sends console.log to a stdout output', function () {
      const cell = doc.cellAt(1);
      assert.equal(stdout(cell), 'stdout says hello from cell 1\n', describeOutputs(cell));
      assert.equal(plain(cell), '', `a cell ending in a declaration has no value; outputs: ${describeOutputs(cell)}`);
    });

    it('shows the last expression as text/plain', function () {
      assert.equal(plain(doc.cellAt(2)).trim(), '43', describeOutputs(doc.cellAt(2)));
    });

    it('keeps const bindings across cells', function () {
      assert.equal(unquote(plain(doc.cellAt(3))), 'HELLO FROM CELL 1 / 42', describeOutputs(doc.cellAt(3)));
    });

    it('runs a TypeScript cell with the same state', function () {
      const cell = doc.cellAt(4);
      assert.equal(cell.document.languageId, 'typescript');
      assert.equal(unquote(plain(cell)), '84:17', describeOutputs(cell));
    });
  });

  describe('overhead', function () {
    it('of running an empty cell in VS Code (median of 50 runs)', async function () {
      this.timeout(120_000);
      const doc = (await openWithKernel('basics.ipynb')).notebook;
      const edit = new vscode.WorkspaceEdit();
      edit.set(doc.uri, [vscode.NotebookEdit.insertCells(doc.cellCount, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, '', 'javascript')])]);
      assert.ok(await vscode.workspace.applyEdit(edit));
      const index = doc.cellCount - 1;
      assertSucceeded(await executeCell(doc, index)); // starts the kernel
      const times: number[] = [];
      for (let i = 0; i < 50; i++) {
        const t = performance.now();
        assertSucceeded(await executeCell(doc, index));
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const line = `      empty cell in VS Code (execute command → cell ended): median ${times[25].toFixed(1)} ms, p90 ${times[45].toFixed(1)} ms`;
      // The host's stdout is not visible in code-server; the runner prints the report file.
      if (process.env.TRANSFER_LAB_TEST_REPORT) appendFileSync(process.env.TRANSFER_LAB_TEST_REPORT, line + '\n');
      else console.log(line);
      assert.ok(times[25] > 0);
    });
  });

  describe('errors.ipynb', function () {
    let doc: vscode.NotebookDocument;

    before(async function () {
      doc = (await openWithKernel('errors.ipynb')).notebook;
      assertSucceeded(await executeCell(doc, 0));
    });

    it('reports a thrown error as an error output and a failed run', async function () {
      const cell = await executeCell(doc, 1);
      assert.equal(cell.executionSummary?.success, false, describeOutputs(cell));
      const err = errorOf(cell);
      assert.equal(err.name, 'RangeError');
      assert.equal(err.message, 'deliberate failure #3');
      // The position points into the cell itself (line 2), not into the kernel's wrapper.
      assert.match(err.stack ?? '', /:2:\d+/, `stack: ${err.stack}`);
    });

    it('reports a syntax error without running anything', async function () {
      const cell = await executeCell(doc, 2);
      assert.equal(cell.executionSummary?.success, false, describeOutputs(cell));
      const err = errorOf(cell);
      assert.equal(err.name, 'SyntaxError', JSON.stringify(err));
    });

    it('keeps state after failed cells', async function () {
      const cell = await executeCell(doc, 3);
      assertSucceeded(cell);
      assert.equal(unquote(plain(cell)), 'still here!', describeOutputs(cell));
    });

    it('a failing cell cancels the cells queued after it, as Run All does in Jupyter', async function () {
      assert.ok(doc.cellAt(3).executionSummary?.success, 'the last cell ran once before');
      const failed = whenCellEnds(doc.cellAt(1), 45_000);
      await withTimeout('notebook.cell.execute', 45_000, vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: 1, end: 4 }], document: doc.uri }));
      assert.equal((await failed).executionSummary?.success, false);
      await sleep(300);
      // Cancelled while queued: no run summary, and the earlier output is untouched (a run clears it first).
      for (const i of [2, 3]) {
        const c = doc.cellAt(i);
        assert.equal(c.executionSummary?.success, undefined, `cell ${i} was cancelled, not run: ${JSON.stringify(c.executionSummary)}`);
        assert.equal(c.executionSummary?.executionOrder, undefined, `cell ${i} got no execution number`);
      }
      assert.equal(unquote(plain(doc.cellAt(3))), 'still here!', describeOutputs(doc.cellAt(3)));
    });
  });

  describe('interrupt.ipynb', function () {
    let doc: vscode.NotebookDocument;

    before(async function () {
      doc = (await openWithKernel('interrupt.ipynb')).notebook;
      assertSucceeded(await executeCell(doc, 0));
    });

    it('interrupts an awaiting loop with transferLab.interruptKernel', async function () {
      const loop = doc.cellAt(1);
      const ended = executeCell(doc, 1, 30_000);
      ended.catch(() => undefined);
      await whenOutput(loop, (c) => stdout(c).includes('loop running'), 20_000, 'the loop cell printing "loop running"');
      const t0 = Date.now();
      await vscode.commands.executeCommand('transferLab.interruptKernel');
      const cell = await ended;
      const ms = Date.now() - t0;
      assert.equal(cell.executionSummary?.success, false, `an interrupted cell is not a success; outputs: ${describeOutputs(cell)}`);
      assert.ok(ms < 5_000, `the interrupt took ${ms} ms`);
    });

    it('keeps the state defined before the interrupt', async function () {
      const cell = await executeCell(doc, 2);
      assertSucceeded(cell);
      assert.equal(plain(cell).trim(), 'true', describeOutputs(cell));
    });

    it('stops the interrupted loop (counter no longer moves)', async function () {
      const cell = await executeCell(doc, 3);
      assertSucceeded(cell);
      assert.equal(plain(cell).trim(), '0', `counter advanced after the interrupt; outputs: ${describeOutputs(cell)}`);
    });

    it('interrupts model.fit with notebook.cell.cancelExecution and keeps the model', async function () {
      const fit = doc.cellAt(4);
      const ended = executeCell(doc, 4, 60_000);
      ended.catch(() => undefined);
      await whenOutput(fit, (c) => stdout(c).includes('training started'), 40_000, 'the fit cell printing "training started"');
      const t0 = Date.now();
      await vscode.commands.executeCommand('notebook.cell.cancelExecution', { ranges: [{ start: 4, end: 5 }], document: doc.uri });
      const cell = await ended;
      const ms = Date.now() - t0;
      assert.equal(cell.executionSummary?.success, false, `outputs: ${describeOutputs(cell)}`);
      assert.ok(!plain(cell).includes('fit finished'), 'the fit ran to its end instead of stopping');
      assert.ok(ms < 5_000, `the interrupt took ${ms} ms`);

      const after = await executeCell(doc, 5);
      assertSucceeded(after);
      // "<before> <trained past batch 10> <batches since> <layers>": state kept, training stopped.
      assert.equal(unquote(plain(after)), 'kept true 0 1', describeOutputs(after));
    });

    it('forgets all state on transferLab.restartKernel', async function () {
      await withTimeout('transferLab.restartKernel', 30_000, vscode.commands.executeCommand('transferLab.restartKernel'));
      const cell = await executeCell(doc, 6);
      assertSucceeded(cell);
      assert.equal(unquote(plain(cell)), 'undefined', describeOutputs(cell));
    });
  });
});
