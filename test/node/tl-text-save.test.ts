import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { load } from '../../src/tl/models';
import { withHead } from '../../src/tl/heads';
import { fit } from '../../src/tl/train';
import { predict } from '../../src/tl/evaluate';
import { save } from '../../src/tl/export';
import { getMeta } from '../../src/tl/models/meta';
import { vocabularyOf } from '../../src/tl/text/vocab';
import { textFolder } from '../../src/tl/data/textFolder';
import { tmpDir, useCpu } from './tl-fixtures';
import { gloveText, patchSavedText, topicFolder, vectorFile } from './tl-text-fixtures';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'cli.js');

async function trainedTextModel(): Promise<tf.LayersModel> {
  const base = (await load(vectorFile('t.txt', gloveText()), { text: { maxLength: 12, pooling: 'mean+max' } })) as tf.LayersModel;
  const data = await textFolder(topicFolder(), { batchSize: 4 });
  const model = withHead(base, { classes: [...data.classes], seed: 3 });
  await fit(model, data, { epochs: 40, learningRate: 0.05, verbose: false, cacheDir: false, seed: 1 });
  return model;
}

test('save keeps the tokenizer and vocabulary; the loaded model predicts the same on strings', async () => {
  await useCpu();
  const model = await trainedTextModel();
  const dir = path.join(tmpDir('textsave'), 'topics');
  const saved = await save(model, dir);
  assert.ok(saved.files.includes('vocab.txt'));
  assert.equal(fs.readFileSync(path.join(dir, 'vocab.txt'), 'utf8').split('\n')[2], 'cat');
  const back = (await load(dir)) as tf.LayersModel;
  const info = getMeta(back)!.text!;
  assert.equal(info.pooling, 'mean+max');
  assert.equal(info.maxLength, 12);
  assert.equal(vocabularyOf(info)!.size, 12);
  const texts = ['the compiler and the bug', 'my kitten'];
  const a = await predict(model, texts);
  const b = await predict(back, texts);
  assert.deepEqual(b.map((p) => p[0].label), ['code', 'pets']);
  a.forEach((p, i) => assert.ok(Math.abs(p[0].probability - b[i][0].probability) < 1e-5));
  model.dispose();
  back.dispose();
});

test('a saved text model is untrusted: a missing, oversized or mismatched vocabulary is refused by name', async () => {
  await useCpu();
  const model = await trainedTextModel();
  const dir = path.join(tmpDir('textbad'), 'm');
  await save(model, dir);
  model.dispose();
  const vocab = path.join(dir, 'vocab.txt');
  const words = fs.readFileSync(vocab, 'utf8');
  fs.writeFileSync(vocab, words + 'extra\n');
  await assert.rejects(load(dir), /vocab\.txt holds 13 words; the model's metadata says 12/);
  fs.writeFileSync(vocab, 'x'.repeat(12 * 256 + 1));
  await assert.rejects(load(dir), /vocab\.txt holds .*more than the/);
  fs.rmSync(vocab);
  const outside = path.join(tmpDir('textbad-outside'), 'vocab.txt');
  fs.writeFileSync(outside, words);
  fs.symlinkSync(outside, vocab);
  await assert.rejects(load(dir), /link that leads outside the model folder/);
  fs.rmSync(vocab);
  await assert.rejects(load(dir), /vocab\.txt is missing/);
  patchSavedText(dir, { vocabFile: '../vocab.txt' });
  await assert.rejects(load(dir), /vocabFile must be a file name inside the model folder/);
  patchSavedText(dir, { vocabFile: 'vocab.txt', vocabularySize: 500 });
  fs.writeFileSync(vocab, words);
  await assert.rejects(load(dir), /vocabulary of 500 words does not fit the embedding table 'embedding' \(13 rows\)/);
});

test('transfer-lab predict <model> "some text" prints the classes of each text', { skip: !fs.existsSync(cli) && 'dist/cli.js is not built' }, async () => {
  await useCpu();
  const model = await trainedTextModel();
  const dir = path.join(tmpDir('textcli'), 'topics');
  await save(model, dir);
  model.dispose();
  const r = spawnSync(process.execPath, [cli, 'predict', dir, 'a bug in the compiler', 'puppy\u001b[2J', '--top', '1', '--backend', 'cpu'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /a bug in the compiler\n\s+1\. code\s+\d/);
  assert.match(r.stdout, /puppy\\e\[2J\n\s+1\. pets/, 'the text is printed with its control characters escaped');
});
