/**
 * tl.save(model, dir, { format: 'onnx' }): the whole model in one model.onnx that ONNX Runtime runs
 * to TF.js's outputs within 1e-4, with its classes and preprocessing in the file, and that tl.load,
 * tl.predict and `transfer-lab predict` accept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import * as tl from '../../src/tl';
import { setMeta, PREPROCESS_MOBILENET } from '../../src/tl/models/meta';
import { rand, randomiseBatchNorms } from './onnx-fixtures';
import { tmpDir, useCpu } from './tl-fixtures';
import { classImage, writePng } from './tl-helpers';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'cli.js');
const CLASSES = ['cat', 'dog', 'bird'];

/** A fine-tuned-looking classifier: a MobileNetV2-style base (BN statistics not trivial) with a hidden-layer head. */
function classifier(): tf.LayersModel {
  const base = tl.mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 3, seed: 5 });
  randomiseBatchNorms(base, 21);
  setMeta(base, { name: 'mnv2-test', source: 'code', format: 'layers', inputSize: [32, 32], preprocessing: PREPROCESS_MOBILENET });
  return tl.withHead(base, { classes: CLASSES, hidden: 8, dropout: 0.2, seed: 2 });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Runs `file` in ONNX Runtime directly (as a user of the exported file would) on NHWC `x`. */
async function runOrt(file: string, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  try {
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, shape) });
    return out[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

test("save { format: 'onnx' }: ONNX Runtime reproduces TF.js within 1e-4, with classes and preprocessing in the file", async () => {
  await useCpu();
  const model = classifier();
  const dir = tmpDir('onnx-export');
  const r = await tl.save(model, dir, { format: 'onnx' });
  assert.deepEqual(r.files, ['model.onnx']);
  assert.deepEqual(fs.readdirSync(dir), ['model.onnx']);
  const shape = [6, 32, 32, 3];
  const x = rand(6 * 32 * 32 * 3, 9, -1, 1);
  const want = tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
  const got = await runOrt(path.join(dir, 'model.onnx'), x, shape);
  const d = maxDiff(got, want);
  assert.ok(d < 1e-4, `max difference ${d}`);
  // The probabilities are not all alike: the comparison can fail.
  assert.ok(Math.max(...want) - Math.min(...want) > 0.01);

  const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const props = Object.fromEntries((proto.metadataProps ?? []).map((p) => [p.key, p.value]));
  assert.deepEqual(JSON.parse(props.classes!), CLASSES);
  assert.deepEqual(JSON.parse(props.preprocessing!), PREPROCESS_MOBILENET);
  const meta = JSON.parse(props.transferLab!);
  assert.deepEqual(meta.inputSize, [32, 32]);
  assert.match(proto.docString ?? '', /NHWC float32 32×32 images, pixels in 0\.\.255 times 0\.00784/);
  model.dispose();
});

test('tl.load reads the exported folder and file; tl.predict and transfer-lab predict give what TF.js gives', async () => {
  await useCpu();
  const model = classifier();
  const dir = tmpDir('onnx-predict');
  await tl.save(model, path.join(dir, 'exported'), { format: 'onnx' });
  const image = path.join(dir, 'img.png');
  writePng(image, 40, 36, classImage(40, 36, [200, 90, 30], 4));

  const want = await tl.predict(model, image, { topK: 3 });
  for (const source of [path.join(dir, 'exported'), path.join(dir, 'exported', 'model.onnx')]) {
    const before = tf.memory().numTensors;
    const loaded = await tl.load(source);
    assert.deepEqual(tl.meta(loaded)?.classes, CLASSES);
    assert.deepEqual(tl.meta(loaded)?.preprocessing, PREPROCESS_MOBILENET);
    assert.match(String((loaded as tl.FeatureExtractor).description), /exported by Transfer Lab \(3 classes\)/);
    const got = await tl.predict(loaded, image, { topK: 3 });
    assert.deepEqual(got.map((p) => p.label), want.map((p) => p.label));
    assert.ok(maxDiff(got.map((p) => p.probability), want.map((p) => p.probability)) < 1e-4);
    await (loaded as tl.FeatureExtractor).dispose();
    assert.equal(tf.memory().numTensors, before, 'predicting with the ONNX model leaves no tensors behind');
  }

  const run = spawnSync(process.execPath, [cli, 'predict', path.join(dir, 'exported'), image, '--backend', 'cpu', '--json'], { encoding: 'utf8', cwd: dir });
  assert.equal(run.status, 0, run.stderr);
  const printed = JSON.parse(run.stdout) as { top: { label: string; probability: number }[] }[];
  assert.deepEqual(printed[0].top.map((t) => t.label), want.map((p) => p.label));
  assert.ok(Math.abs(printed[0].top[0].probability - want[0].probability) < 1e-4);
  model.dispose();
});

test('a head on a sequence (GlobalAveragePooling1D) exports too', async () => {
  await useCpu();
  const inp = tf.input({ shape: [5, 4] });
  let y = tf.layers.dense({ units: 6, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: 'randomNormal' }).apply(inp) as tf.SymbolicTensor;
  y = tf.layers.globalAveragePooling1d({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(y) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: y });
  const dir = tmpDir('onnx-seq');
  await tl.save(m, dir, { format: 'onnx', classes: ['a', 'b', 'c'] });
  const x = rand(2 * 5 * 4, 3);
  const want = tf.tidy(() => (m.predict(tf.tensor(x, [2, 5, 4])) as tf.Tensor).dataSync() as Float32Array);
  assert.ok(maxDiff(await runOrt(path.join(dir, 'model.onnx'), x, [2, 5, 4]), want) < 1e-5);
  m.dispose();
});

test('export refuses what it cannot convert, naming the layer, and writes nothing', async () => {
  await useCpu();
  const inp = tf.input({ shape: [8] });
  const norm = tf.layers.layerNormalization({ name: 'odd_norm' }).apply(inp) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(norm) as tf.SymbolicTensor });
  const dir = tmpDir('onnx-refuse');
  await assert.rejects(tl.save(m, path.join(dir, 'out'), { format: 'onnx' }), /'odd_norm' \(LayerNormalization\).*Nothing was written/s);
  assert.equal(fs.existsSync(path.join(dir, 'out', 'model.onnx')), false);
  await assert.rejects(tl.save(m, dir, { format: 'pt' as 'onnx' }), /format must be 'tfjs' or 'onnx'/);
  m.dispose();
});

test('metadata in a model.onnx is untrusted: bad JSON, bad fields and a wrong class count are refused by name', async () => {
  await useCpu();
  const m = classifier();
  const dir = tmpDir('onnx-meta');
  await tl.save(m, path.join(dir, 'good'), { format: 'onnx' });
  const bytes = fs.readFileSync(path.join(dir, 'good', 'model.onnx'));
  const cases: [string, RegExp][] = [
    ['{"classes": ', /metadata_props "transferLab" is not valid JSON/],
    ['{"classes": 5}', /metadata_props "transferLab": "classes" must be an array of strings/],
    ['{"inputSize": [100000, 3]}', /"inputSize" is \[100000, 3\]: images are at most 8192 pixels a side/],
    ['{"classes": ["a", "b"]}', /its metadata names 2 classes for an output of 3/],
  ];
  for (const [value, why] of cases) {
    const proto = onnx.ModelProto.decode(bytes);
    proto.metadataProps = proto.metadataProps!.map((p) => (p.key === 'transferLab' ? onnx.StringStringEntryProto.create({ key: p.key, value }) : p));
    const bad = path.join(dir, 'bad.onnx');
    fs.writeFileSync(bad, onnx.ModelProto.encode(proto).finish());
    await assert.rejects(tl.load(bad), why, value);
  }
  m.dispose();
});

