/** Notebooks made from the samples use a copy of the sample data, never the versioned extension folder. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { copySampleData, pointAtData } from '../../src/wizard/sampleData';
import { generateNotebook } from '../../src/wizard/notebook';

const samples = path.join(__dirname, '..', '..', '..', 'samples', 'data', 'digits-5-9');

test('the sample images are copied into the workspace, and what is already there is kept', () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-ws-'));
  const mine = path.join(ws, 'data', 'digits-5-9', '5', 'mine.png');
  fs.mkdirSync(path.dirname(mine), { recursive: true });
  fs.writeFileSync(mine, 'my own image');
  const first = path.join(ws, 'data', 'digits-5-9', '5', fs.readdirSync(path.join(samples, '5'))[0]);
  fs.writeFileSync(first, 'edited by the user');
  const dir = copySampleData(samples, ws);
  assert.equal(dir, path.join(ws, 'data', 'digits-5-9'));
  assert.deepEqual(fs.readdirSync(dir).sort(), fs.readdirSync(samples).sort());
  assert.equal(fs.readdirSync(path.join(dir, '9')).length, fs.readdirSync(path.join(samples, '9')).length);
  assert.equal(fs.readFileSync(mine, 'utf8'), 'my own image');
  assert.equal(fs.readFileSync(first, 'utf8'), 'edited by the user');
  // The wizard's notebook then names the copy relative to itself.
  const nb = generateNotebook({ model: { kind: 'bundled', name: 'digits' }, dataDir: dir, strategy: { kind: 'feature-extraction' }, epochs: 1, learningRate: 0.001, batchSize: 8 }, ws);
  const code = JSON.stringify(nb.cells);
  assert.match(code, /\.\/data\/digits-5-9/);
  assert.doesNotMatch(code, /samples\/data/);
  assert.throws(() => copySampleData(path.join(ws, 'nope'), ws), /sample data folder .*nope is missing/);
});

test('without a workspace, data paths point at the stable copy', () => {
  assert.equal(pointAtData("tl.imageFolder('data/digits-5-9')", '/home/u/.storage/samples'), "tl.imageFolder('/home/u/.storage/samples/data/digits-5-9')");
  assert.equal(pointAtData('`data/x` and "data/y"', 'C:\\s'), '`C:/s/data/x` and "C:/s/data/y"');
});
