import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { load } from '../../src/tl/models';
import { withHead } from '../../src/tl/heads';
import { fit } from '../../src/tl/train';
import { evaluate, predict } from '../../src/tl/evaluate';
import { save } from '../../src/tl/export';
import { freeze, unfreeze } from '../../src/tl/freeze';
import { formatLayerTable, summary } from '../../src/tl/inspect';
import { getMeta } from '../../src/tl/models/meta';
import { textFolder } from '../../src/tl/data/textFolder';
import { textEncodingFor } from '../../src/tl/text/encoding';
import { ENCODER_DIR } from './tl-text-encoder-fixtures';
import { tmpDir, useCpu } from './tl-fixtures';
import { patchSavedText, topicFolder } from './tl-text-fixtures';

process.env.TRANSFER_LAB_ORT_PROVIDERS = 'cpu';
const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'cli.js');
const quiet = { verbose: false, cacheDir: false as const, seed: 1 };

async function trained(): Promise<{ model: tf.LayersModel; data: Awaited<ReturnType<typeof textFolder>> }> {
  await useCpu();
  const base = (await load(ENCODER_DIR, { text: { maxLength: 32 } })) as tf.LayersModel;
  const data = await textFolder(topicFolder(), { validationSplit: 0.25, seed: 2, batchSize: 4 });
  const model = withHead(base, { classes: [...data.classes], hidden: 16, dropout: 0.1, seed: 3, verbose: false });
  return { model, data };
}

test('a head on an ONNX sentence encoder: fit on cached sentence vectors, evaluate, predict strings, no tensors left behind', async () => {
  const { model, data } = await trained();
  const r1 = await fit(model, data, { ...quiet, epochs: 60, learningRate: 0.01 });
  assert.equal(r1.embeddingCache?.computed, 16, 'each text ran through the encoder once');
  assert.equal(r1.embeddingCache?.engine, 'onnxruntime (sentence encoder)', 'fit names what ran the encoder');
  const before = tf.memory().numTensors;
  const r2 = await fit(model, data, { ...quiet, epochs: 2, learningRate: 0.01 });
  assert.equal(r2.embeddingCache?.computed, 0, 'the second fit reuses every sentence vector (keyed by text and encoder)');
  assert.equal(tf.memory().numTensors, before, 'no tensors leak across fits');
  const e = await evaluate(model, data, { display: false });
  assert.equal(e.samples, 4);
  assert.deepEqual(e.confusion.classes, ['code', 'pets']);
  const train = await evaluate(model, data.train, { display: false });
  assert.ok(train.accuracy >= 0.9, `training accuracy ${train.accuracy}`);
  const [top] = await predict(model, 'the compiler found a bug in the server code');
  assert.equal(top.label, 'code');
  const many = await predict(model, ['my puppy and my kitten', '', '\u0000\u001b[2J']);
  assert.equal(many[0][0].label, 'pets');
  assert.equal(many.length, 3, 'empty and control-character texts get answers');
  assert.equal(tf.memory().numTensors, before, 'nor across evaluate and predict');
  const encoding = textEncodingFor(model)!;
  model.dispose();
  await assert.rejects(encoding.encode(['cat']), /this sentence encoder was disposed/, "disposing the model released the encoder's ONNX Runtime session");
});

test('the freeze map shows tokenizer → ONNX encoder (frozen) → head, and the encoder cannot be unfrozen', async () => {
  const { model } = await trained();
  const map = summary(model);
  assert.match(map.input ?? '', /ONNX sentence encoder .*Tokenizer: tokenizer\.json \(WordPiece, 156 tokens, lower-cased\).*mean pooling/);
  const enc = map.layers.find((l) => l.name === 'onnx_encoder')!;
  assert.equal(enc.className, 'OnnxSentenceEncoder');
  assert.equal(enc.trainable, false);
  assert.ok(map.layers.filter((l) => l.block === 'head').every((l) => l.trainable || l.trainableParams === 0));
  assert.match(formatLayerTable(map), /onnx_encoder/);
  assert.throws(() => unfreeze(model, 'onnx_encoder'), /'onnx_encoder' is an ONNX sentence encoder: it runs in ONNX Runtime, .* so it stays frozen/);
  assert.throws(() => unfreeze(model), /stays frozen/);
  assert.equal(model.getLayer('head_output').trainable, true, 'a refused unfreeze changes nothing');
  assert.deepEqual(freeze(model, 'onnx_encoder'), ['onnx_encoder']);
  model.dispose();
});

test('save copies encoder.onnx and tokenizer.json; the loaded model predicts the same', async () => {
  const { model, data } = await trained();
  await fit(model, data, { ...quiet, epochs: 40, learningRate: 0.01 });
  const dir = path.join(tmpDir('encsave'), 'topics');
  const saved = await save(model, dir);
  assert.ok(saved.files.includes('encoder.onnx') && saved.files.includes('tokenizer.json'), saved.files.join(', '));
  assert.deepEqual(fs.readFileSync(path.join(dir, 'encoder.onnx')), fs.readFileSync(path.join(ENCODER_DIR, 'model.onnx')));
  await assert.rejects(save(model, path.join(tmpDir('encsave-onnx'), 'm'), { format: 'onnx' }), /one model\.onnx cannot hold both/);
  const back = (await load(dir)) as tf.LayersModel;
  const info = getMeta(back)!.text!;
  assert.equal(info.kind, 'sentence-encoder');
  assert.equal(info.maxLength, 32);
  const texts = ['a bug in the program', 'the kitten and the dog'];
  const a = await predict(model, texts);
  const b = await predict(back, texts);
  assert.deepEqual(b.map((p) => p[0].label), a.map((p) => p[0].label));
  a.forEach((p, i) => assert.ok(Math.abs(p[0].probability - b[i][0].probability) < 1e-5));
  model.dispose();
  back.dispose();
});

test('transfer-lab predict <saved encoder model> "some text" prints the classes of each text', { skip: !fs.existsSync(cli) && 'dist/cli.js is not built' }, async () => {
  const { model, data } = await trained();
  await fit(model, data, { ...quiet, epochs: 40, learningRate: 0.01 });
  const dir = path.join(tmpDir('enccli'), 'topics');
  await save(model, dir);
  const [top] = await predict(model, 'a bug in the program');
  model.dispose();
  const r = spawnSync(process.execPath, [cli, 'predict', dir, 'a bug in the program', 'kitten\u001b[2J', '--top', '1', '--backend', 'cpu'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`a bug in the program\\n\\s+1\\. ${top.label}\\s+\\d`));
  assert.match(r.stdout, /kitten\\e\[2J\n\s+1\. \w+/, 'the text is printed with its control characters escaped');
});

test('a saved encoder model is untrusted: files leading out of the folder, oversized or missing are refused by name', async () => {
  const { model } = await trained();
  const dir = path.join(tmpDir('encbad'), 'm');
  await save(model, dir);
  model.dispose();
  const onnx = path.join(dir, 'encoder.onnx');
  const outside = path.join(tmpDir('encbad-outside'), 'encoder.onnx');
  fs.renameSync(onnx, outside);
  fs.symlinkSync(outside, onnx);
  await assert.rejects(load(dir), /encoder\.onnx .*link that leads outside the model folder|encoder\.onnx is a link/);
  fs.rmSync(onnx);
  await assert.rejects(load(dir), /encoder\.onnx is missing: the model's metadata says its sentence encoder is there/);
  fs.copyFileSync(outside, onnx);
  const tokenizer = path.join(dir, 'tokenizer.json');
  fs.writeFileSync(tokenizer, Buffer.alloc(65 * 1024 * 1024, 32));
  await assert.rejects(load(dir), /tokenizer\.json holds 65\.0 MiB, more than the 64\.0 MiB a tokenizer\.json may have/);
  fs.writeFileSync(tokenizer, fs.readFileSync(path.join(ENCODER_DIR, 'tokenizer.json')));
  patchSavedText(dir, { onnxFile: '../encoder.onnx' });
  await assert.rejects(load(dir), /onnxFile must be a file name inside the model folder/);
  patchSavedText(dir, { onnxFile: 'encoder.onnx', dim: 48 });
  await assert.rejects(load(dir), /encoder\.onnx gives 32 numbers a text; the saved model takes 32 \(metadata: 48\)/);
});
