/**
 * Notebooks written for tslab, Deno's Jupyter kernel and @tensorflow/tfjs-node run unchanged:
 * the fixtures run through the headless runner, as a user runs them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { joinLines, validateNotebook } from './nbformat';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'cli.js');
const fixtures = path.join(root, 'test', 'fixtures');

interface Output {
  output_type: string;
  name?: string;
  text?: string[];
  data?: Record<string, string[] | unknown>;
}

/** Runs a fixture (or a notebook object) in a fresh folder; returns the code cells by id. */
function run(nb: string | object, files: Record<string, string> = {}, extraFiles: string[] = []) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-compat-'));
  for (const f of extraFiles) copyFileSync(path.join(fixtures, f), path.join(dir, f));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  const input = path.join(dir, 'nb.ipynb');
  if (typeof nb === 'string') copyFileSync(path.join(fixtures, nb), input);
  else writeFileSync(input, JSON.stringify(nb));
  const out = path.join(dir, 'nb.out.ipynb');
  const p = spawnSync(process.execPath, [cli, 'run', input, '--out', out, '--backend', 'wasm'], { encoding: 'utf8', cwd: dir });
  const written = JSON.parse(readFileSync(out, 'utf8'));
  const cells = new Map<string, Output[]>();
  written.cells.forEach((c: { id: string; cell_type: string; outputs?: Output[] }, i: number) => c.cell_type === 'code' && cells.set(c.id ?? String(i), c.outputs ?? []));
  return { ...p, nb: written, cells };
}

const text = joinLines;
const streams = (outs: Output[], name = 'stdout') => outs.filter((o) => o.output_type === 'stream' && o.name === name).map((o) => text(o.text)).join('');
const rich = (outs: Output[]) => outs.filter((o) => o.output_type === 'display_data' || o.output_type === 'execute_result');

/** A notebook with tslab's metadata and one code cell per source. */
function tslabNotebook(sources: string[]) {
  return {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: 'tslab', language: 'typescript', display_name: 'TypeScript' }, language_info: { name: 'typescript' } },
    cells: sources.map((s, i) => ({ cell_type: 'code', id: `c${i}`, metadata: {}, source: s, outputs: [], execution_count: null })),
  };
}

test('a tslab notebook runs unchanged: HTML, JPEG, an updating display, TypeScript, top-level await, redeclaration', () => {
  const r = run('tslab-display.ipynb', {}, ['tslab-gradient.jpg']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(streams(r.cells.get('import-tslab')!), /^node v\d+\.\d+\.\d+ isNode true isBrowser false\n$/);

  const [html, md] = rich(r.cells.get('html')!);
  assert.equal(text(html.data!['text/html']), '<h3 id="greeting">Hello from tslab</h3>');
  assert.equal(text(html.data!['text/plain']), 'Hello from tslab');
  assert.equal(text(md.data!['text/markdown']), '**bold** text');

  const [jpeg] = rich(r.cells.get('jpeg')!);
  assert.deepEqual(Buffer.from(text(jpeg.data!['image/jpeg']), 'base64'), readFileSync(path.join(fixtures, 'tslab-gradient.jpg')));

  // One output that ends at its final value, not one output per step.
  const progress = rich(r.cells.get('progress')!);
  assert.equal(progress.length, 1);
  assert.equal(text(progress[0].data!['text/html']), '<b>done: 5/5</b>');

  assert.equal(text(rich(r.cells.get('interfaces')!)[0].data!['text/plain']), '[ 6, 20 ]');
  assert.equal(text(rich(r.cells.get('await')!)[0].data!['text/plain']), '42');
  assert.equal(text(rich(r.cells.get('redeclare')!)[0].data!['text/plain']), "[ 10, 'second', 'hello again', 5 ]");
  assert.deepEqual(validateNotebook(r.nb), []);
});

test('an MNIST-style tfjs-node notebook defines and fits its model on the kernel tf, with tf.node image functions', () => {
  const r = run('tslab-tfjs-node.ipynb');
  assert.equal(r.status, 0, r.stderr);
  const notice = streams(r.cells.get('import')!, 'stderr');
  assert.match(notice, /^Note: @tensorflow\/tfjs-node is not installed; using the kernel's TensorFlow\.js on the 'wasm' backend instead/);
  assert.equal(notice.trim().split('\n').length, 1, 'the notice is one line');
  assert.equal(text(rich(r.cells.get('model')!)[0].data!['text/plain']), '6810');
  const fit = streams(r.cells.get('fit')!);
  const losses = /losses ([\d.]+) ([\d.]+) ([\d.]+)/.exec(fit)!.slice(1).map(Number);
  assert.ok(losses[2] < losses[0], `loss falls on the tiny data: ${losses.join(', ')}`);
  assert.match(fit, /tensors added by a second fit 0\n/);
  const png = r.cells.get('png')!;
  assert.match(streams(png), /png true decoded 28x28x1 int32/);
  const shown = Buffer.from(text(rich(png)[0].data!['image/png']), 'base64');
  assert.equal(shown.subarray(1, 4).toString(), 'PNG');
  assert.match(streams(r.cells.get('save')!), /same predictions after file:\/\/ save and load: true/);
});

test("Deno's display protocol: Symbol.for('Jupyter.display'), Deno.jupyter.display and the html/md/svg templates", () => {
  const r = run('deno-display.ipynb', {}, ['tslab-gradient.jpg']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(rich(r.cells.get('symbol')!)[0].data, { 'text/html': ['<span class="badge">ok</span>'], 'text/plain': ['[ok]'] });
  assert.equal(text(rich(r.cells.get('templates')!)[0].data!['text/markdown']), '**3** items');
  const [svg, raw, last] = rich(r.cells.get('display')!);
  assert.match(text(svg.data!['image/svg+xml']), /^<svg /);
  assert.deepEqual(raw.data, { 'text/plain': ['raw bundle'] });
  assert.equal(text(last.data!['text/html']), '<b>last</b>');
  const image = r.cells.get('image')!;
  assert.match(streams(image), /keyed by Deno\.jupyter\.\$display: true/);
  assert.deepEqual(Buffer.from(text(rich(image)[0].data!['image/jpeg']), 'base64'), readFileSync(path.join(fixtures, 'tslab-gradient.jpg')));
});

test('Deno APIs other than Deno.jupyter fail with their name; no global Deno is defined', () => {
  const r = run(tslabNotebook(['typeof globalThis.Deno', 'Deno.readTextFile("x")']));
  assert.equal(text(rich(r.cells.get('c0')!)[0].data!['text/plain']), "'undefined'");
  const err = r.cells.get('c1')!.find((o) => o.output_type === 'error') as unknown as { evalue: string };
  assert.match(err.evalue, /Deno\.readTextFile is not available: Transfer Lab runs cells on Node\.js/);
});

test("the notebook's own installed tslab and tfjs-node packages win over the built-in ones", () => {
  const r = run(tslabNotebook(["require('tslab').own", "const t = require('@tensorflow/tfjs-node'); t.own"]), {
    'node_modules/tslab/package.json': '{"name":"tslab","main":"index.js"}',
    'node_modules/tslab/index.js': "exports.own = 'user tslab';",
    'node_modules/@tensorflow/tfjs-node/package.json': '{"name":"@tensorflow/tfjs-node","main":"index.js"}',
    'node_modules/@tensorflow/tfjs-node/index.js': "exports.own = 'user tfjs-node';",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(text(rich(r.cells.get('c0')!)[0].data!['text/plain']), "'user tslab'");
  assert.equal(text(rich(r.cells.get('c1')!)[0].data!['text/plain']), "'user tfjs-node'");
  assert.equal(streams(r.cells.get('c1')!, 'stderr'), '');
});

test('a tfjs-node-gpu that is installed but does not load falls back with the reason, once', () => {
  const r = run(tslabNotebook(["import * as tf from '@tensorflow/tfjs-node-gpu';\ntf.getBackend()", "require('@tensorflow/tfjs-node-gpu') === tf"]), {
    'node_modules/@tensorflow/tfjs-node-gpu/package.json': '{"name":"@tensorflow/tfjs-node-gpu","main":"index.js"}',
    'node_modules/@tensorflow/tfjs-node-gpu/index.js': "throw new Error('libcudart.so.11.0: cannot open shared object file\\nmore detail');",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(streams(r.cells.get('c0')!, 'stderr'), /^Note: @tensorflow\/tfjs-node-gpu did not load \(libcudart\.so\.11\.0: cannot open shared object file\); using the kernel's TensorFlow\.js on the 'wasm' backend instead/);
  assert.equal(text(rich(r.cells.get('c0')!)[0].data!['text/plain']), "'wasm'");
  assert.equal(streams(r.cells.get('c1')!, 'stderr'), '');
});

test('npm: specifiers of Deno notebooks resolve to npm packages; jsr: says why it cannot', () => {
  const r = run(tslabNotebook(["import { own } from 'npm:tslab@^1.0.0';\nown", "import { x } from 'jsr:@std/path';"]), {
    'node_modules/tslab/package.json': '{"name":"tslab","main":"index.js"}',
    'node_modules/tslab/index.js': "exports.own = 'from npm:';",
  });
  assert.equal(text(rich(r.cells.get('c0')!)[0].data!['text/plain']), "'from npm:'");
  const err = r.cells.get('c1')!.find((o) => o.output_type === 'error') as unknown as { evalue: string };
  assert.match(err.evalue, /jsr: packages come from Deno's registry/);
});

test('tensors show shape, dtype and a preview; tl.show draws an image tensor; an image folder shows thumbnails per class', () => {
  const digits = path.join(root, 'samples', 'data', 'digits-5-9');
  const r = run(tslabNotebook(['tf.tensor2d([[1, 2], [3, 4]])', 'tl.show(tf.ones([28, 28, 1]).mul(0.5))', `await tl.imageFolder(${JSON.stringify(digits)}, { size: [28, 28], channels: 1 })`]));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(text(rich(r.cells.get('c0')!)[0].data!['text/plain']), 'Tensor float32 [2, 2] · min 1 · max 4 · mean 2.5\n[[1, 2],\n [3, 4]]');
  const img = rich(r.cells.get('c1')!)[0].data!;
  assert.equal(text(img['text/plain']), '<image, 28×28, float32>');
  assert.equal(Buffer.from(text(img['image/png']), 'base64').subarray(1, 4).toString(), 'PNG');
  const folder = rich(r.cells.get('c2')!)[0].data!;
  const html = text(folder['text/html']);
  for (const c of ['5', '6', '7', '8', '9']) assert.match(html, new RegExp(`<tr><td>${c}</td><td style="text-align:right">40</td><td><img alt="" [^>]*src="data:image/png;base64,`));
  assert.match(text(folder['text/plain']), /5 classes, 200 training samples/);
});

test('in a TypeScript notebook, a cell marked JavaScript still compiles as TypeScript (kernelspec tslab alone says so)', () => {
  const nb = {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript' } },
    cells: [{ cell_type: 'code', id: 'c0', metadata: { vscode: { languageId: 'javascript' } }, source: 'const typed: number = 3;\ntyped', outputs: [], execution_count: null }],
  };
  const r = run(nb);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(text(rich(r.cells.get('c0')!)[0].data!['text/plain']), '3');
});
