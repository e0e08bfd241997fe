/**
 * Conv nets train on the WASM backend once the missing gradient kernels are registered, with the
 * cpu backend's gradients (the conv backprops rebuilt from wasm kernels, not run on the cpu ones);
 * and (where Dawn finds an adapter) on WebGPU too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { cpuDelegatingKernel, registerWasmGradients, WASM_MISSING_GRADIENT_KERNELS } from '../../src/tl/wasm-grads';
import { mobileNetV2Like } from '../../src/tl/builders';
import { fromTensors } from '../../src/tl/data';
import { fit } from '../../src/tl/train';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { RecordingSink } from './tl-helpers';

const outside = getOutputSink();
before(async () => {
  setOutputSink(new RecordingSink());
  // Importing the wasm package makes it the preferred backend; the tests pick backends themselves.
  await tf.setBackend('cpu');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
});
after(async () => {
  setOutputSink(outside);
  await tf.setBackend('cpu');
});

/**
 * conv (stride 2) → BN → ReLU6 → depthwise → BN → 1×1 conv → separable conv → pool → softmax.
 * No biases before BN (as in MobileNet): BN cancels them, so their true gradient is 0 and the
 * computed one is rounding noise (~1e-9) that no relative error can be asked of.
 */
function convNet(): tf.LayersModel {
  let seed = 11;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const inp = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init() }).apply(inp) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 1, kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'valid', depthwiseInitializer: init(), pointwiseInitializer: init() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

const X_VALUES = tf.tidy(() => tf.randomNormal([4, 12, 12, 3], 0, 1, 'float32', 5).dataSync().slice());
const Y_VALUES = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0];

/**
 * Made from plain arrays on the current backend. (Not moved across backends: in tfjs 4.22 a float32
 * tensor cast from int32 on the cpu backend keeps an Int32Array, and moving it to wasm reinterprets
 * those integer bits as floats — 1 becomes 1.4e-45.)
 */
function inputs() {
  const x = tf.tensor4d(X_VALUES, [4, 12, 12, 3]);
  const y = tf.tensor2d(Y_VALUES, [4, 3]);
  return { x, y };
}

/** Gradients of the training-mode loss with respect to every trainable weight, as plain arrays. */
async function gradients(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<Float32Array[]> {
  const tensors = tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor).mean() as tf.Scalar, vars);
    return vars.map((v) => grads[v.name]);
  });
  // Read asynchronously: webgpu has no synchronous read in Node (it needs OffscreenCanvas).
  const out = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(tensors);
  return out;
}

/** Largest per-weight relative error: max |a − b| over max |b|. */
function maxRelError(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((g, i) => {
    let diff = 0;
    let scale = 0;
    g.forEach((v, j) => {
      diff = Math.max(diff, Math.abs(v - b[i][j]));
      scale = Math.max(scale, Math.abs(b[i][j]));
    });
    worst = Math.max(worst, diff / Math.max(scale, 1e-6));
  });
  return worst;
}

async function compareWith(backend: string, frozenBatchNorm = false): Promise<number> {
  await tf.setBackend('cpu');
  const model = convNet();
  // Frozen BN layers train in their folded form (x · s + t, see tl/batchnorm.ts).
  if (frozenBatchNorm) model.layers.forEach((l) => l.getClassName() === 'BatchNormalization' && (l.trainable = false));
  const a = inputs();
  const cpu = await gradients(model, a.x, a.y);
  tf.dispose([a.x, a.y]);
  assert.ok(await tf.setBackend(backend), `${backend} starts`);
  // The weights (made on cpu) move to the new backend on first use.
  const b = inputs();
  const other = await gradients(model, b.x, b.y);
  tf.dispose([b.x, b.y]);
  assert.equal(other.length, cpu.length);
  return maxRelError(other, cpu);
}

test('wasm: the missing gradient kernels are registered once, and are needed', async () => {
  registerWasmGradients();
  assert.deepEqual(registerWasmGradients(), [], 'second call adds nothing');
  for (const k of WASM_MISSING_GRADIENT_KERNELS) assert.ok(tf.getKernel(k, 'wasm'), `${k} registered`);
  // Without one of them, the backward pass of a conv net fails on wasm.
  tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
  await tf.setBackend('wasm');
  const model = convNet();
  const { x, y } = inputs();
  await assert.rejects(gradients(model, x, y), /Conv2DBackpropFilter.*not registered for backend 'wasm'/);
  assert.deepEqual(registerWasmGradients(), ['Conv2DBackpropFilter']);
  assert.equal((await gradients(model, x, y)).length, model.trainableWeights.length);
  tf.dispose([x, y]);
  await tf.setBackend('cpu');
});

test('wasm: conv + depthwise + separable + BN gradients equal the cpu backend to 1e-4', async () => {
  registerWasmGradients();
  const err = await compareWith('wasm');
  console.log(`wasm vs cpu: max relative gradient error ${err.toExponential(2)}`);
  assert.ok(err < 1e-4, `max relative error ${err}`);
  const frozen = await compareWith('wasm', true);
  console.log(`wasm vs cpu, BN frozen: max relative gradient error ${frozen.toExponential(2)}`);
  assert.ok(frozen < 1e-4, `BN frozen: max relative error ${frozen}`);
  await tf.setBackend('cpu');
});

test('wasm: fit trains a conv net, and an Embedding layer (Gather gradient)', async () => {
  registerWasmGradients();
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const xs = tf.randomNormal([16, 12, 12, 3], 0, 1, 'float32', 3);
  const ys = tf.tensor1d([...Array(16).keys()].map((i) => i % 3), 'int32');
  const model = convNet();
  const r = await fit(model, fromTensors(xs, ys, { classes: ['a', 'b', 'c'], batchSize: 4 }), { epochs: 3, learningRate: 0.01, verbose: false });
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(r.history.length, 3);
  assert.ok(r.history.every((p) => Number.isFinite(p.loss)));
  assert.ok(r.history[2].loss! < r.history[0].loss!, 'loss goes down');

  const emb = tf.sequential({ layers: [tf.layers.embedding({ inputDim: 10, outputDim: 4, inputLength: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] });
  const ex = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
    [1, 5, 9],
  ]);
  const ey = tf.tensor1d([0, 1, 0, 1], 'int32');
  const r2 = await fit(emb, fromTensors(ex, ey, { classes: ['x', 'y'] }), { epochs: 2, verbose: false });
  assert.ok(r2.history.every((p) => Number.isFinite(p.loss)));
  tf.dispose([xs, ys, ex, ey]);
  model.dispose();
  emb.dispose();
  assert.equal(tf.memory().numTensors, before, 'the delegating kernels leave no tensors behind');
  await tf.setBackend('cpu');
});

/** Dense(16, relu) → Dropout (seeded: the same mask on every backend) → Dense(3, softmax) on 24-d embeddings. */
function denseHead(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [24], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }),
      tf.layers.dropout({ rate: 0.25, seed: 3 }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }),
    ],
  });
}

test("wasm: a Dense head trains on embeddings with the cpu backend's losses, and neither tensors nor wasm buffers grow across epochs and fits", async () => {
  registerWasmGradients();
  const train = async () => {
    const xs = tf.randomNormal([40, 24], 0, 1, 'float32', 5);
    const ys = tf.tensor1d([...Array(40).keys()].map((i) => i % 3), 'int32');
    const data = fromTensors(xs, ys, { classes: ['a', 'b', 'c'], batchSize: 8 });
    const model = denseHead();
    const opts = { epochs: 3, learningRate: 0.01, verbose: false, seed: 4, classWeight: { 0: 1, 1: 2, 2: 0.5 } } as const;
    const first = await fit(model, data, opts);
    const counts = { tensors: tf.memory().numTensors, buffers: tf.backend().numDataIds() };
    const second = await fit(model, data, opts);
    assert.equal(tf.memory().numTensors, counts.tensors, 'a second fit leaves no tensors behind');
    assert.equal(tf.backend().numDataIds(), counts.buffers, 'nor wasm buffers');
    tf.dispose([xs, ys]);
    model.dispose();
    return [...first.history, ...second.history].map((p) => p.loss!);
  };
  await tf.setBackend('cpu');
  const cpu = await train();
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const wasm = await train();
  assert.equal(tf.memory().numTensors, before);
  console.log(`Dense head on wasm vs cpu: losses ${wasm.map((l) => l.toFixed(5)).join(' ')} vs ${cpu.map((l) => l.toFixed(5)).join(' ')}`);
  wasm.forEach((l, i) => assert.ok(Math.abs(l - cpu[i]) <= 1e-4 * Math.abs(cpu[i]), `epoch ${i + 1}: wasm loss ${l}, cpu ${cpu[i]}`));
  await tf.setBackend('cpu');
});

/** One conv or depthwise layer's backprop case: input shape, filter shape, strides, padding. */
interface ConvCase {
  op: 'conv2d' | 'depthwise';
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
}

const CONV_CASES: ConvCase[] = [
  { op: 'conv2d', x: [2, 9, 9, 5], f: [3, 3, 5, 7], strides: 2, pad: 'same' },
  { op: 'conv2d', x: [2, 10, 10, 4], f: [3, 3, 4, 6], strides: 2, pad: 'same' },
  { op: 'conv2d', x: [3, 10, 7, 4], f: [3, 3, 4, 6], strides: 1, pad: 'valid' },
  { op: 'conv2d', x: [1, 11, 8, 3], f: [5, 3, 3, 4], strides: [2, 3], pad: 'valid' },
  { op: 'conv2d', x: [2, 7, 7, 3], f: [1, 1, 3, 4], strides: 1, pad: 'same' },
  { op: 'conv2d', x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 2, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { op: 'conv2d', x: [2, 9, 9, 6], f: [1, 1, 6, 5], strides: 2, pad: 'same' },
  { op: 'conv2d', x: [4, 7, 7, 24], f: [1, 1, 24, 40], strides: 1, pad: 'valid' },
  { op: 'conv2d', x: [2, 10, 9, 4], f: [3, 5, 4, 3], strides: [1, 2], pad: 'same' },
  { op: 'depthwise', x: [2, 9, 9, 4], f: [3, 3, 4, 1], strides: 2, pad: 'same' },
  { op: 'depthwise', x: [2, 10, 10, 4], f: [3, 3, 4, 1], strides: 2, pad: 'same' },
  { op: 'depthwise', x: [3, 7, 9, 5], f: [3, 3, 5, 1], strides: 1, pad: 'same' },
  { op: 'depthwise', x: [2, 11, 10, 3], f: [3, 3, 3, 1], strides: 2, pad: 'valid' },
  { op: 'depthwise', x: [1, 9, 8, 3], f: [3, 3, 3, 2], strides: 2, pad: 'same' },
  { op: 'depthwise', x: [2, 9, 8, 3], f: [5, 3, 3, 2], strides: 1, pad: 'valid' },
  { op: 'depthwise', x: [4, 7, 7, 24], f: [3, 3, 24, 1], strides: 1, pad: 'same' },
  { op: 'depthwise', x: [2, 12, 11, 5], f: [3, 3, 5, 3], strides: [2, 1], pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
];

/** d/dx and d/dfilter of Σ(layer(x) · r) for fixed random x, filter, r, on the current backend. */
function layerGrads(c: ConvCase): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal(c.f, 0, 1, 'float32', 2) as tf.Tensor4D;
    const layer = (a: tf.Tensor4D, b: tf.Tensor4D) => (c.op === 'conv2d' ? tf.conv2d(a, b, c.strides, c.pad) : tf.depthwiseConv2d(a, b, c.strides, c.pad));
    const r = tf.randomNormal(layer(x, w).shape, 0, 1, 'float32', 3);
    const g = tf.grads((a, b) => layer(a as tf.Tensor4D, b as tf.Tensor4D).mul(r).sum())([x, w]);
    return g.map((t) => t.dataSync() as Float32Array);
  });
}

test('wasm: conv and depthwise backprops equal the cpu kernels (strides, same/valid/explicit padding, odd sizes, batches)', async () => {
  registerWasmGradients();
  await tf.setBackend('cpu');
  const expected = CONV_CASES.map(layerGrads);
  await tf.setBackend('wasm');
  // With the cpu kernels gone, a fall-back to them would throw: these cases must take the fast path.
  // (Conv2DBackpropInput's fall-back is wasm's own native kernel, which gives the same values.)
  const fastOnly = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'];
  const saved = fastOnly.map((n) => tf.getKernel(n, 'cpu')!);
  fastOnly.forEach((n) => tf.unregisterKernel(n, 'cpu'));
  try {
    const before = tf.memory().numTensors;
    // The kernels' scratch lives only in the backend (not as tensors): count its buffers too.
    const buffersBefore = tf.backend().numDataIds();
    let worst = 0;
    CONV_CASES.forEach((c, i) => {
      const err = maxRelError(layerGrads(c), expected[i]);
      worst = Math.max(worst, err);
      assert.ok(err < 1e-4, `${c.op} x ${c.x} filter ${c.f} strides ${c.strides} pad ${JSON.stringify(c.pad)}: relative error ${err}`);
    });
    assert.equal(tf.memory().numTensors, before, 'the fast kernels leave no tensors behind');
    assert.equal(tf.backend().numDataIds(), buffersBefore, 'nor any wasm buffers');
    console.log(`wasm fast conv/depthwise backprops vs cpu over ${CONV_CASES.length} layer cases: max relative error ${worst.toExponential(2)}`);
  } finally {
    saved.forEach((k) => tf.registerKernel(k));
    await tf.setBackend('cpu');
  }
});

test('wasm: ReLU6 (clipByValue) gradient is one kernel and equals the cpu backend exactly', async () => {
  registerWasmGradients();
  const run = () =>
    tf.tidy(() => {
      const x = tf.mul(tf.randomNormal([2, 5, 5, 7], 0, 1, 'float32', 4), 5);
      const r = tf.randomNormal([2, 5, 5, 7], 0, 1, 'float32', 5);
      return tf.grad((a: tf.Tensor) => tf.clipByValue(a, 0, 6).mul(r).sum())(x);
    });
  await tf.setBackend('cpu');
  const cpu = run();
  const expected = cpu.dataSync().slice();
  cpu.dispose();
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const info = await tf.profile(() => run());
  const names = info.kernels.map((k) => k.name);
  assert.ok(names.includes('TransferLabClipByValueGrad'), names.join(', '));
  assert.ok(!names.includes('Select') && !names.includes('LogicalAnd'), names.join(', '));
  const got = run();
  assert.deepEqual(Array.from(got.dataSync()), Array.from(expected));
  got.dispose();
  tf.dispose(info.result as tf.Tensor);
  assert.equal(tf.memory().numTensors, before);
  await tf.setBackend('cpu');
});

/** [a shape, b shape, transposeA, transposeB]: both forms of the rewrite (see wasm-kernels/matMul.ts), rank 3 with batch 1, and a batch of 2 (left to the native kernel). */
const MATMUL_CASES: [number[], number[], boolean, boolean][] = [
  [[32, 40], [32, 16], true, false],
  [[40, 5], [3, 5], false, true],
  [[4, 50], [60, 50], false, true],
  [[2, 10], [3, 2], true, true],
  [[5, 7], [3, 5], true, true],
  [[1, 6, 4], [1, 6, 5], true, false],
  [[2, 6, 4], [2, 5, 4], false, true],
];

test("wasm: matMul with transposeA/transposeB (a Dense layer's backward pass) equals the cpu backend and leaves no buffers", async () => {
  registerWasmGradients();
  const kernel = tf.getKernel('BatchMatMul', 'wasm');
  assert.ok(kernel && (kernel.kernelFunc as unknown as Record<symbol, boolean>)[Symbol.for('transfer-lab.wasm-kernel')], 'the native BatchMatMul is replaced');
  const run = () =>
    MATMUL_CASES.map(([as, bs, ta, tb], i) =>
      tf.tidy(() => tf.matMul(tf.randomNormal(as, 0, 1, 'float32', 2 * i + 1), tf.randomNormal(bs, 0, 1, 'float32', 2 * i + 2), ta, tb).dataSync() as Float32Array),
    );
  await tf.setBackend('cpu');
  const expected = run();
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const buffers = tf.backend().numDataIds();
  const got = run();
  MATMUL_CASES.forEach((c, i) => assert.ok(maxRelError([got[i]], [expected[i]]) < 1e-5, `matMul ${JSON.stringify(c)}: relative error ${maxRelError([got[i]], [expected[i]])}`));
  assert.equal(tf.memory().numTensors, before);
  assert.equal(tf.backend().numDataIds(), buffers, 'the rewrite frees its transposes');
  await tf.setBackend('cpu');
});

test('wasm: a clone (Identity, what the gradient tape saves) shares its data: either can be disposed first, and nothing leaks', async () => {
  registerWasmGradients();
  await tf.setBackend('wasm');
  const buffers = tf.backend().numDataIds();
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const b = tf.clone(a);
  const ints = tf.tensor1d([5, 6], 'int32');
  const c = tf.clone(ints);
  assert.equal(tf.backend().numDataIds(), buffers + 2, 'the clones add no buffer');
  ints.dispose();
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3, 4]);
  const v = tf.variable(b);
  b.dispose();
  const next = tf.add(v, 1) as tf.Tensor2D;
  v.assign(next);
  next.dispose();
  assert.deepEqual(Array.from(v.dataSync()), [2, 3, 4, 5]);
  assert.deepEqual(Array.from(c.dataSync()), [5, 6]);
  tf.dispose([v, c]);
  assert.equal(tf.backend().numDataIds(), buffers);
  await tf.setBackend('cpu');
});

test('wasm: a shape the fast path does not take (dilation 2) still gets the cpu kernel', async () => {
  registerWasmGradients();
  const run = () =>
    tf.tidy(() => {
      const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1);
      const dy = tf.randomNormal([2, 5, 5, 3], 0, 1, 'float32', 2);
      // tfjs's own gradient never asks for dilation > 1, so call the kernel directly.
      return tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dilations: 2, filterShape: [3, 3, 3, 1] }) as tf.Tensor;
    });
  await tf.setBackend('cpu');
  const cpu = run();
  const expected = cpu.dataSync() as Float32Array;
  cpu.dispose();
  await tf.setBackend('wasm');
  const got = run();
  assert.ok(maxRelError([got.dataSync() as Float32Array], [expected]) < 1e-5);
  got.dispose();
  await tf.setBackend('cpu');
});

test('wasm: one fine-tune step of a MobileNetV2-style model, fast kernels vs cpu-delegating (timing, printed)', async () => {
  registerWasmGradients();
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const base = mobileNetV2Like({ inputSize: 96, alpha: 0.35, seed: 1 });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(base.outputs[0]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: base.inputs, outputs: out });
  // The last 3 blocks (14–16), the final 1×1 conv and the head train; the rest is frozen.
  const first = model.layers.findIndex((l) => l.name === 'block_14_expand');
  assert.ok(first > 0);
  model.layers.forEach((l, i) => (l.trainable = i >= first));
  const optimizer = tf.train.sgd(1e-3);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([16, 96, 96, 3], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d([...Array(16).keys()].map((i) => i % 3), 'int32'), 3));
  const step = async () => {
    const t = performance.now();
    const loss = (await model.trainOnBatch(x, y)) as number;
    assert.ok(Number.isFinite(loss));
    return performance.now() - t;
  };
  const fastKernels = WASM_MISSING_GRADIENT_KERNELS.map((n) => tf.getKernel(n, 'wasm')!);
  const swap = (configs: tf.KernelConfig[]) =>
    configs.forEach((k) => {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    });
  try {
    await step(); // first step: XNNPACK operator set-up, optimizer slots
    const fast = await step();
    swap(WASM_MISSING_GRADIENT_KERNELS.map((n) => cpuDelegatingKernel(n)));
    const slow = await step();
    console.log(`MobileNetV2-style (alpha 0.35, 96 px, last 3 blocks trainable), batch 16, wasm: one step ${fast.toFixed(0)} ms with the fast kernels, ${slow.toFixed(0)} ms delegating to the cpu kernels (${(slow / fast).toFixed(1)}×)`);
  } finally {
    swap(fastKernels);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  await tf.setBackend('cpu');
});

// --- WebGPU through Dawn (the `webgpu` package): software Mesa here, Vulkan on a real GPU.

interface DawnModule {
  create(flags: string[]): { requestAdapter(o?: object): Promise<DawnAdapter | null> };
  globals: Record<string, unknown>;
}
interface DawnAdapter {
  info?: { description?: string };
  limits?: Record<string, number>;
  requestDevice(o?: object): Promise<unknown>;
}

async function webgpuAdapter(): Promise<{ adapter: DawnAdapter; gpu: unknown } | string> {
  let dawn: DawnModule;
  try {
    process.env.EGL_PLATFORM ??= 'surfaceless';
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    return `the webgpu package did not load: ${(e as Error).message}`;
  }
  Object.assign(globalThis, dawn.globals);
  // Vulkan first (real GPUs); then OpenGL ES in compatibility mode (Mesa llvmpipe on a GPU-less machine).
  for (const [flags, opts] of [
    [[], {}],
    [['backend=opengles'], { featureLevel: 'compatibility' }],
  ] as const) {
    const gpu = dawn.create([...flags]);
    const adapter = await gpu.requestAdapter(opts).catch(() => null);
    if (adapter) return { adapter, gpu };
  }
  return 'no WebGPU adapter found (neither Vulkan nor OpenGL ES through Dawn)';
}

test('webgpu: gradients equal the cpu backend to 1e-4', async (t) => {
  const found = await webgpuAdapter();
  if (typeof found === 'string') {
    t.skip(found);
    return;
  }
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  // The same limits tfjs's browser factory asks for: the defaults are too small for its shaders.
  const limits = found.adapter.limits ?? {};
  const requiredLimits: Record<string, number> = {};
  for (const k of ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup']) {
    if (typeof limits[k] === 'number') requiredLimits[k] = limits[k];
  }
  const device = await found.adapter.requestDevice({ requiredLimits });
  // tfjs-backend-webgpu checks navigator.gpu, which Node 20 lacks.
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  if (!g.navigator?.gpu) Object.defineProperty(g.navigator, 'gpu', { value: found.gpu, configurable: true });
  if (!tf.findBackendFactory('webgpu')) {
    tf.registerBackend('webgpu', () => new WebGPUBackend(device as never, found.adapter.info as never));
  }
  const err = await compareWith('webgpu');
  console.log(`webgpu (${found.adapter.info?.description ?? 'adapter'}) vs cpu: max relative gradient error ${err.toExponential(2)}`);
  assert.ok(err < 1e-4, `max relative error ${err}`);
  await tf.setBackend('cpu');
  tf.removeBackend('webgpu');
});
