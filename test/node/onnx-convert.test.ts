/**
 * TF.js layers → ONNX: the converted graph, run by onnxruntime-node, must give TF.js's output to a
 * relative error of 1e-4 on random inputs, on tiny models (seconds, not minutes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { mobileNetV2Like } from '../../src/tl/builders';
import { convertToOnnx, UnsupportedLayerError } from '../../src/tl/onnx/convert';
import { onnxBase, splitFrozen, featureExtractor } from '../../src/tl/onnx/extractor';
import { createSession } from '../../src/tl/onnx/ort';
import { rand, randomiseBatchNorms } from './onnx-fixtures';

async function useCpu(): Promise<void> {
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  await tf.ready();
}

/** max |a − b| / max |b|: the error relative to the output's scale. */
function relError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'output sizes differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  assert.ok(scale > 0, 'reference output is all zeros: the comparison would prove nothing');
  return diff / scale;
}

async function compare(model: tf.LayersModel, batch: number, seed: number, opts = {}): Promise<{ err: number; fx: Awaited<ReturnType<typeof onnxBase>> }> {
  const shape = [batch, ...(model.inputs[0].shape.slice(1) as number[])];
  const input = rand(shape.reduce((a, b) => a * b, 1), seed);
  const ref = tf.tidy(() => model.predict(tf.tensor(input, shape)) as tf.Tensor);
  const want = (await ref.data()) as Float32Array;
  const wantShape = ref.shape;
  ref.dispose();
  const fx = await onnxBase(model, { threads: 1, ...opts });
  const got = await fx.run(input, shape);
  assert.deepEqual(got.shape, wantShape);
  return { err: relError(got.data, want), fx };
}

test('MobileNetV2-style model (BN, ReLU6, Add, ZeroPadding, depthwise) matches TF.js to 1e-4', async () => {
  await useCpu();
  const before = tf.memory().numTensors;
  for (const classes of [undefined, 5]) {
    const m = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 4, lastFilters: 24, classes, seed: 3 });
    assert.ok(randomiseBatchNorms(m, 11) > 40);
    const { err, fx } = await compare(m, 3, 5);
    assert.equal(fx.engine, 'onnxruntime');
    assert.ok(err < 1e-4, `relative error ${err}`);
    const c = fx.conversion!;
    assert.equal(c.tail, undefined);
    assert.equal(c.stop, undefined);
    // Every BN of this model follows a conv: all fold.
    const bns = m.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
    assert.equal(c.foldedBatchNorms, bns);
    const graph = onnx.ModelProto.decode(c.onnx!).graph!;
    const ops = graph.node!.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'BatchNormalization').length, 0);
    assert.ok(ops.includes('Pad') && ops.includes('Sum') && ops.includes('Clip'));
    // One transpose in, and (for the 4-D feature map) one out.
    assert.equal(ops.filter((o) => o === 'Transpose').length, classes === undefined ? 2 : 1);
    await fx.dispose();
    m.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('Sequential conv/pool/flatten/dense model matches TF.js (NHWC flatten order)', async () => {
  await useCpu();
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [15, 13, 2], filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1), biasInitializer: 'randomNormal' }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      tf.layers.conv2d({ filters: 5, kernelSize: [2, 3], padding: 'valid', dilationRate: 1, kernelInitializer: init(2) }),
      tf.layers.batchNormalization({}),
      tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 7, activation: 'relu', kernelInitializer: init(3), biasInitializer: 'randomNormal' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(4) }),
    ],
  });
  randomiseBatchNorms(m, 3);
  const { err, fx } = await compare(m, 4, 9);
  assert.ok(err < 1e-4, `relative error ${err}`);
  assert.equal(fx.conversion!.foldedBatchNorms, 1);
  await fx.dispose();

  // The flatten order is the whole point: a Dense after Flatten must see H, W, C order.
  const probe = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 3, 4] }), tf.layers.dense({ units: 24, kernelInitializer: 'identity', useBias: false })] });
  const conv = tf.sequential({
    layers: [tf.layers.conv2d({ inputShape: [2, 3, 4], filters: 4, kernelSize: 1, kernelInitializer: 'ones', useBias: false }), tf.layers.flatten(), tf.layers.dense({ units: 3, kernelInitializer: init(5) })],
  });
  for (const model of [probe, conv]) {
    const r = await compare(model, 2, 4);
    assert.ok(r.err < 1e-5, `relative error ${r.err}`);
    await r.fx.dispose();
  }
  m.dispose();
});

test('more layers: separable conv, concatenate, rescaling, cropping, upsampling, activations, global max pool, nested model', async () => {
  await useCpu();
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const inner = tf.sequential({
    name: 'inner',
    layers: [
      tf.layers.conv2d({ inputShape: [10, 10, 4], filters: 4, kernelSize: 3, padding: 'same', activation: 'swish', kernelInitializer: init(7) }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
    ],
  });
  const input = tf.input({ shape: [20, 20, 3] });
  let x = tf.layers.rescaling({ scale: 2, offset: -0.5 }).apply(input) as tf.SymbolicTensor;
  const a = tf.layers.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'elu', depthwiseInitializer: init(1), pointwiseInitializer: init(2), biasInitializer: 'randomNormal' }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.depthwiseConv2d({ kernelSize: 5, depthMultiplier: 2, padding: 'same', activation: 'tanh', depthwiseInitializer: init(3), useBias: true, biasInitializer: 'randomNormal' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ center: false }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.cropping2D({ cropping: [[1, 2], [0, 3]] }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 2, strides: 2, activation: 'sigmoid', kernelInitializer: init(4) }).apply(x) as tf.SymbolicTensor;
  const y = inner.apply(x) as tf.SymbolicTensor;
  x = tf.layers.multiply().apply([x, y]) as tf.SymbolicTensor;
  x = tf.layers.upSampling2d({ size: [2, 2] }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.zeroPadding2d({ padding: [[0, 1], [2, 0]] }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu6' }).apply(x) as tf.SymbolicTensor;
  const p1 = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const p2 = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.average().apply([p1, p2]) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 6, kernelInitializer: init(5) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'selu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reshape({ targetShape: [2, 3] }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.softmax({ axis: -1 }).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: x });
  randomiseBatchNorms(m, 21);
  const { err, fx } = await compare(m, 2, 13);
  assert.ok(err < 1e-4, `relative error ${err}`);
  const c = fx.conversion!;
  assert.equal(c.tail, undefined, `stopped at ${c.stop?.layer}: ${c.stop?.reason}`);
  assert.ok(c.onnxLayers.includes(inner.layers[0].name), 'the nested model is inlined');
  // The BN after a Dense folds into the Gemm; the one after a Concatenate cannot fold.
  assert.equal(c.foldedBatchNorms, 1);
  await fx.dispose();
  m.dispose();
});

test('an unconvertible layer: the prefix runs in ONNX, the rest in TF.js, and the layer is named', async () => {
  await useCpu();
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  const skip = x;
  x = tf.layers.layerNormalization({ name: 'odd_norm' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'join' }).apply([x, skip]) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 3, name: 'fc', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: x });
  randomiseBatchNorms(m, 5);

  const before = tf.memory().numTensors;
  const { err, fx } = await compare(m, 2, 3);
  assert.ok(err < 1e-4, `relative error ${err}`);
  const c = fx.conversion!;
  assert.equal(c.stop?.layer, 'odd_norm');
  assert.equal(c.stop?.className, 'LayerNormalization');
  assert.equal(c.stop?.kind, 'unsupported');
  assert.deepEqual(c.onnxLayers, ['c1', 'bn1']);
  assert.deepEqual(c.tailLayers, ['odd_norm', 'join', 'gap', 'fc']);
  assert.equal(c.outputs.length, 1, 'the tail reads one tensor (bn1) from ONNX');
  assert.match(fx.description, /'odd_norm' \(LayerNormalization; cannot be converted/);
  // The tail shares the original layers' weights.
  assert.equal(c.tail!.getLayer('fc'), m.getLayer('fc'));
  await fx.dispose();
  assert.equal(tf.memory().numTensors, before);

  assert.throws(() => convertToOnnx(m, { onUnsupported: 'error' }), (e: unknown) => e instanceof UnsupportedLayerError && /'odd_norm' \(LayerNormalization\)/.test(e.message));

  // Unconvertible first layer: nothing in ONNX, everything in TF.js, said so.
  const first = tf.sequential({ layers: [tf.layers.layerNormalization({ inputShape: [4], name: 'ln_first' }), tf.layers.dense({ units: 2 })] });
  const fx2 = await onnxBase(first);
  assert.equal(fx2.engine, 'tfjs');
  assert.match(fx2.description, /'ln_first' \(LayerNormalization\)/);
  await assert.rejects(onnxBase(first, { engine: 'onnx' }), /ln_first/);
  m.dispose();
  first.dispose();
});

test('splitFrozen: frozen part in ONNX, trainable part in TF.js sharing the layers', async () => {
  await useCpu();
  const m = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 4, lastFilters: 16, classes: 3, seed: 4 });
  randomiseBatchNorms(m, 8);
  const firstTrainable = m.layers.findIndex((l) => l.name === 'block_4_expand');
  m.layers.forEach((l, i) => (l.trainable = i >= firstTrainable));
  const { frozen, trainable, conversion } = await splitFrozen(m, { threads: 1 });
  assert.equal(conversion.stop?.layer, 'block_4_expand');
  assert.equal(conversion.stop?.kind, 'trainable');
  assert.deepEqual(frozen.outputShape, [4, 4, m.getLayer('block_3_project_BN').outputShape[3] as number]);
  assert.equal(trainable.getLayer('predictions'), m.getLayer('predictions'));

  const shape = [2, 32, 32, 3];
  const input = rand(2 * 32 * 32 * 3, 17);
  const ref = tf.tidy(() => m.predict(tf.tensor(input, shape)) as tf.Tensor);
  const feats = await frozen.run(input, shape);
  const out = tf.tidy(() => trainable.predict(tf.tensor(feats.data, feats.shape)) as tf.Tensor);
  assert.ok(relError((await out.data()) as Float32Array, (await ref.data()) as Float32Array) < 1e-4);
  tf.dispose([ref, out]);

  // Training the TF.js part changes the original model's weights: they are the same variables.
  const before = (await m.getLayer('predictions').getWeights()[0].data()).slice();
  trainable.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
  const xs = tf.tensor(feats.data, feats.shape);
  const ys = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
  await trainable.trainOnBatch(xs, ys);
  tf.dispose([xs, ys]);
  const after = await m.getLayer('predictions').getWeights()[0].data();
  assert.ok(after.some((v, i) => v !== before[i]));
  await frozen.dispose();
  m.dispose();
});

test('featureExtractor: TF.js engine gives the same features; bad input is refused with shapes', async () => {
  await useCpu();
  const m = mobileNetV2Like({ inputSize: 16, alpha: 0.35, blocks: 2, lastFilters: 8, seed: 6 });
  const pooled = tf.model({ inputs: m.inputs, outputs: tf.layers.globalAveragePooling2d({}).apply(m.outputs[0]) as tf.SymbolicTensor });
  const viaTf = await featureExtractor(pooled, { engine: 'tfjs' });
  const viaOrt = await featureExtractor(pooled, { threads: 1 });
  assert.equal(viaTf.engine, 'tfjs');
  assert.equal(viaOrt.engine, 'onnxruntime');
  const input = rand(5 * 16 * 16 * 3, 2);
  const a = await viaTf.run(input, [5, 16, 16, 3]);
  const b = await viaOrt.run(input, [5, 16, 16, 3]);
  assert.deepEqual(a.shape, [5, 8]);
  assert.deepEqual(b.shape, [5, 8]);
  assert.ok(relError(b.data, a.data) < 1e-4);
  const t = await viaOrt.predict(tf.tensor(input, [5, 16, 16, 3]));
  assert.deepEqual(t.shape, [5, 8]);
  t.dispose();
  await assert.rejects(viaOrt.run(input, [5, 16, 16, 4]), /does not fit the model's \[batch, 16, 16, 3\]/);
  await assert.rejects(viaOrt.run(input.subarray(1), [5, 16, 16, 3]), /3839 values for shape/);
  await viaOrt.dispose();
  m.dispose();
});

test('execution providers: unavailable ones are skipped with a reason, CPU runs', async () => {
  await useCpu();
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
  const c = convertToOnnx(m);
  const { session, report } = await createSession(c.onnx!, { providers: ['dml', 'coreml', 'cuda', 'cpu'], threads: 2 });
  assert.equal(report.provider, 'cpu');
  assert.equal(report.threads, 2);
  assert.deepEqual(report.skipped.map((s) => s.provider), ['dml', 'coreml', 'cuda']);
  for (const s of report.skipped) assert.ok(s.reason.length > 10, s.reason);
  if (process.platform === 'linux') assert.match(report.skipped[0].reason, /not in onnxruntime-node's build for linux/);
  await session.release();
  await assert.rejects(createSession(c.onnx!, { providers: ['dml'] }), /could not create a session on any provider \(dml: not in/);
  m.dispose();
});

test('inference no-ops (dropout, noise) convert to nothing; RandomWidth, random in inference too, is refused by name', async () => {
  await useCpu();
  const input = tf.input({ shape: [6, 6, 2] });
  let x = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'c', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.gaussianNoise({ stddev: 1, name: 'noise' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.gaussianDropout({ rate: 0.3, name: 'gdrop' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.alphaDropout({ rate: 0.3, name: 'adrop' }).apply(x) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: pooled });
  const { err, fx } = await compare(m, 2, 4);
  assert.ok(err < 1e-4, `relative error ${err}`);
  assert.deepEqual(fx.conversion!.onnxLayers, ['c', 'drop', 'noise', 'gdrop', 'adrop', 'gap']);
  assert.equal(fx.conversion!.tail, undefined);
  await fx.dispose();

  const widened = tf.layers.randomWidth({ factor: 0.5, name: 'rw' }).apply(x) as tf.SymbolicTensor;
  const r = tf.model({ inputs: input, outputs: widened });
  assert.throws(() => convertToOnnx(r, { onUnsupported: 'error' }), (e: unknown) => e instanceof UnsupportedLayerError && /'rw' \(RandomWidth\)/.test(e.message));
  const c = convertToOnnx(r);
  assert.equal(c.stop?.layer, 'rw');
  assert.deepEqual(c.tailLayers, ['rw']);
  m.dispose();
});
