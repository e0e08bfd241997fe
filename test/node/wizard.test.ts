/** The Fine-tune wizard's folder check and the notebook it writes (no VS Code needed). */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { codeSpan, generateNotebook, notebookFileName, parseLearningRate, parsePositiveInt, validatePlan, type FineTunePlan } from '../../src/wizard/notebook';
import { scanDataFolder } from '../../src/wizard/scan';
import { validateNotebook } from './nbformat';

const root = path.resolve(__dirname, '..', '..', '..');

function folder(layout: Record<string, string[]>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-wizard-'));
  for (const [sub, files] of Object.entries(layout)) {
    const d = sub ? path.join(dir, sub) : dir;
    mkdirSync(d, { recursive: true });
    for (const f of files) writeFileSync(path.join(d, f), 'x');
  }
  return dir;
}

test('the sample data folder is accepted, with classes and counts', () => {
  const r = scanDataFolder(path.join(root, 'samples', 'data', 'digits-5-9'));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.classes.map((c) => c.name), ['5', '6', '7', '8', '9']);
  assert.ok(r.classes.every((c) => c.images === 40));
  assert.equal(r.total, 200);
});

test('unusable folders are refused with the reason, naming the thing', () => {
  assert.match(scanDataFolder(folder({ '': ['a.png', 'b.jpg'] })).problems.join(), /holds 2 images but no class subfolders/);
  assert.match(scanDataFolder(folder({ cats: ['1.png'] })).problems.join(), /Only one class \("cats"\)/);
  assert.match(scanDataFolder(folder({ cats: ['1.png'], dogs: [] })).problems.join(), /Class folder "dogs" has no PNG or JPEG images/);
  assert.match(scanDataFolder(path.join(os.tmpdir(), 'no-such-folder-tl')).problems.join(), /cannot be read: ENOENT/);
  const ok = scanDataFolder(folder({ cats: ['1.png', '2.JPEG', 'notes.txt'], dogs: ['1.jpg', '2.jpg', '3.jpg', '4.jpg', '5.jpg'] }));
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.classes, [{ name: 'cats', images: 2 }, { name: 'dogs', images: 5 }]);
  assert.match(ok.warnings.join(), /Class "cats" has only 2 images/);
});

test('inputs are validated', () => {
  assert.equal(parsePositiveInt('12'), 12);
  assert.equal(parsePositiveInt('0'), undefined);
  assert.equal(parsePositiveInt('1.5'), undefined);
  assert.equal(parseLearningRate('1e-3'), 0.001);
  assert.equal(parseLearningRate('0.01'), 0.01);
  assert.equal(parseLearningRate('-1'), undefined);
  assert.equal(parseLearningRate('abc'), undefined);
  assert.equal(parseLearningRate(' Auto '), 'auto');
  const bad: FineTunePlan = { model: { kind: 'file', path: '/x/weights.bin' }, dataDir: '/d', strategy: { kind: 'fine-tune', blocks: 0 }, epochs: 0, learningRate: 0, batchSize: 2.5 };
  assert.deepEqual(validatePlan(bad).map((p) => p.field).sort(), ['batchSize', 'epochs', 'learningRate', 'model', 'strategy']);
  assert.throws(() => generateNotebook(bad, '/'), /Epochs must be a whole number/);
});

const plan = (strategy: FineTunePlan['strategy']): FineTunePlan => ({
  model: { kind: 'bundled', name: 'digits' },
  dataDir: path.join(root, 'samples', 'data', 'digits-5-9'),
  strategy,
  epochs: 3,
  learningRate: 0.001,
  batchSize: 16,
  classes: ['5', '6', '7', '8', '9'],
});

test('the notebook is valid nbformat 4.5, readable, with relative paths and the chosen strategy', () => {
  const nbDir = path.join(root, 'samples');
  for (const s of [{ kind: 'feature-extraction' }, { kind: 'fine-tune', blocks: 2 }, { kind: 'full' }] as const) {
    const nb = generateNotebook(plan(s), nbDir);
    assert.deepEqual(validateNotebook(nb), [], s.kind);
    const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (c.source as string[]).join(''));
    assert.match(code[0], /tl\.load\("digits"\)/);
    assert.match(code[1], /tl\.imageFolder\("\.\/data\/digits-5-9"/);
    assert.match(code[2], /tl\.freeze\(base, 'all'\)/);
    if (s.kind === 'fine-tune') assert.match(code[3], /tl\.fineTune\(model, data, \{[\s\S]*unfreezeBlocks: 2/);
    else assert.match(code[3], /tl\.fit\(model, data, \{[\s\S]*epochs: 3,[\s\S]*batchSize: 16/);
    assert.equal(/tl\.unfreeze\(model, 'all'\)/.test(code[2]), s.kind === 'full');
    assert.match(code[4], /tl\.evaluate\(model, data\.validation\)/);
    assert.match(code[5], /tl\.save\(model, "\.\/export\/fine-tune-digits-digits-5-9"\)/);
  }
  assert.equal(notebookFileName(plan({ kind: 'full' })), 'fine-tune-digits-digits-5-9.ipynb');
});

test('a hostile folder name stays a string literal in the code', () => {
  const evil = plan({ kind: 'full' });
  evil.dataDir = '/data/x");require("child_process").exec("rm -rf ~");("';
  const nb = generateNotebook(evil, '/nb');
  const cell = (nb.cells[2].source as string[]).join('');
  const literal = /tl\.imageFolder\(("(?:[^"\\]|\\.)*")/.exec(cell)![1];
  assert.equal(path.resolve('/nb', JSON.parse(literal)), evil.dataDir);
});

test('names in the markdown cannot break out of their code spans', () => {
  const p = plan({ kind: 'full' });
  p.classes = ['a`<img src=x onerror=alert(1)>`b', 'plain'];
  const md = (generateNotebook(p, '/nb').cells[0].source as string[]).join('');
  assert.ok(md.includes('`` a`<img src=x onerror=alert(1)>`b ``'), md);
  assert.equal(codeSpan('x'), '`x`');
});

test("learning rate 'auto': the notebook picks it with tl.lrFind before training, for both strategies", () => {
  for (const s of [{ kind: 'feature-extraction' }, { kind: 'fine-tune', blocks: 2 }] as const) {
    const p = { ...plan(s), learningRate: 'auto' as const };
    assert.deepEqual(validatePlan(p), []);
    const nb = generateNotebook(p, path.join(root, 'samples'));
    assert.deepEqual(validateNotebook(nb), [], s.kind);
    const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (c.source as string[]).join(''));
    assert.match(code[3], /^\/\/ The learning rate \('auto'\): tl\.lrFind [\s\S]*const \{ suggestion: learningRate \} = await tl\.lrFind\(model, data, \{ batchSize: 16, seed: 42 \}\);\nlearningRate$/);
    assert.match(code[4], s.kind === 'fine-tune' ? /tl\.fineTune\(model, data, \{[\s\S]*\n  learningRate,\n/ : /tl\.fit\(model, data, \{[\s\S]*\n  learningRate,\n/);
    assert.match((nb.cells[0].source as string[]).join(''), /learning rate picked by `tl\.lrFind`/);
  }
});
