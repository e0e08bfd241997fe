/**
 * Conv nets train on the WASM backend once the missing gradient kernels are registered, with the
 * cpu backend's gradients; and (where Dawn finds an adapter) on WebGPU too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradients, WASM_MISSING_GRADIENT_KERNELS } from '../../src/tl/wasm-grads';
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

async function compareWith(backend: string): Promise<number> {
  await tf.setBackend('cpu');
  const model = convNet();
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
