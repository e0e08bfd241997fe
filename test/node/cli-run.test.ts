/** The headless runner: `transfer-lab run nb.ipynb --out out.ipynb`, as a user runs it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { validateNotebook } from './nbformat';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'cli.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tl-cli-'));

/** Cells starting with `// ts` are TypeScript cells, marked the way VS Code marks them. */
function notebook(cells: string[], lang = 'javascript') {
  return {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { language_info: { name: lang } },
    cells: [{ cell_type: 'markdown', metadata: {}, source: ['# title'] }, ...cells.map((c) => ({ cell_type: 'code', metadata: c.startsWith('// ts') ? { vscode: { languageId: 'typescript' } } : {}, source: c.split(/(?<=\n)/), outputs: [], execution_count: null }))],
  };
}

function run(nb: object, name: string, extra: string[] = []) {
  const input = path.join(tmp, `${name}.ipynb`);
  const out = path.join(tmp, `${name}.out.ipynb`);
  writeFileSync(input, JSON.stringify(nb));
  const p = spawnSync(process.execPath, [cli, 'run', input, '--out', out, '--backend', 'cpu', ...extra], { encoding: 'utf8', cwd: tmp });
  return { ...p, out: JSON.parse(readFileSync(out, 'utf8')), input };
}

test('runs every cell and writes outputs VS Code and Jupyter read (valid nbformat 4.5)', () => {
  const r = run(
    notebook([
      "console.log('hi');\nconst n = 2;",
      "display({ 'text/plain': 'shown', 'application/vnd.transfer-lab.training+json': { kind: 'training', history: [] } });\nn * 21",
      "// ts\nconst ts: number = 1;\nts",
    ]),
    'ok',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /OK: 3 cells/);
  const cells = r.out.cells.filter((c: any) => c.cell_type === 'code');
  assert.deepEqual(cells[0].outputs, [{ output_type: 'stream', name: 'stdout', text: ['hi\n'] }]);
  assert.equal(cells[0].execution_count, 1);
  const display = cells[1].outputs[0];
  assert.equal(display.output_type, 'display_data');
  // Custom +json MIME data is stored as JSON, text as lines.
  assert.deepEqual(display.data['application/vnd.transfer-lab.training+json'], { kind: 'training', history: [] });
  assert.deepEqual(cells[1].outputs[1], { output_type: 'execute_result', execution_count: 2, data: { 'text/plain': ['42'] }, metadata: {} });
  assert.deepEqual(validateNotebook(r.out), []);
  for (const c of r.out.cells) assert.match(c.id, /^[a-zA-Z0-9-_]{1,64}$/);
});

test('a failing cell stops the run, exits non-zero, prints the error and keeps outputs so far', () => {
  const r = run(notebook(["console.log('ran');", "const v = 1;\nnull.boom;", "console.log('must not run')"]), 'fail');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Cell 3 failed \(error\):\nTypeError: Cannot read properties of null \(reading 'boom'\)\n\s+at Cell 3:2:/);
  const cells = r.out.cells.filter((c: any) => c.cell_type === 'code');
  assert.equal(cells[0].outputs[0].text.join(''), 'ran\n');
  assert.equal(cells[1].outputs.at(-1).output_type, 'error');
  assert.equal(cells[1].outputs.at(-1).ename, 'TypeError');
  assert.deepEqual(cells[2].outputs, []);
  assert.equal(cells[2].execution_count, null);
  assert.deepEqual(validateNotebook(r.out), []);
});

test('a bad notebook file gets a clear error', () => {
  const input = path.join(tmp, 'bad.ipynb');
  writeFileSync(input, '{"cells": 3');
  const p = spawnSync(process.execPath, [cli, 'run', input], { encoding: 'utf8' });
  assert.equal(p.status, 2);
  assert.match(p.stderr, /bad\.ipynb is not valid JSON/);
});
