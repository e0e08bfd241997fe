/**
 * The fused Adam step on wasm (src/tl/wasm-kernels/adam.ts, adam.wat) gives tfjs's AdamOptimizer's
 * results bit for bit, keeps its slots and weights, and does not leak; the committed module is the
 * one its .wat compiles to.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradients } from '../../src/tl/wasm-grads';
import { FusedAdamOptimizer, fusedAdam } from '../../src/tl/train/fusedAdam';
import { cloneOptimizer, makeOptimizer, setLearningRate } from '../../src/tl/train/optimizers';
import { ADAM_KERNEL } from '../../src/tl/wasm-kernels/adam';

before(async () => {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  registerWasmGradients();
  assert.ok(await tf.setBackend('wasm'));
});
after(async () => {
  await tf.setBackend('cpu');
});

// Sizes with and without a tail of fewer than 4 elements after the SIMD lanes, and a scalar.
const SHAPES: number[][] = [[37, 13], [8, 4], [7], [1], []];

function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return ((s / 2147483647) * 2 - 1) * scale;
  });
}

/** Trains fresh variables from the same start with `opt` for `steps` steps; returns their values, the slots' values and the optimizer's iterations. */
async function run(opt: tf.Optimizer, steps: number, skip = -1, changeRate?: (o: tf.Optimizer, step: number) => void) {
  const vars = SHAPES.map((shape, k) => tf.variable(tf.tensor(values(tf.util.sizeFromShape(shape), 7 + k), shape)));
  for (let s = 0; s < steps; s++) {
    changeRate?.(opt, s);
    const grads = vars.map((v, k) => ({ name: v.name, tensor: tf.tensor(values(v.size, 100 * s + k + 1, s % 2 ? 1e-3 : 3), v.shape) }));
    opt.applyGradients(grads.map((g, k) => (k === skip ? { name: g.name, tensor: undefined as unknown as tf.Tensor } : g)));
    tf.dispose(grads.map((g) => g.tensor));
  }
  const weights = await opt.getWeights();
  const out = { vars: vars.map((v) => Array.from(v.dataSync())), slots: weights.map((w) => Array.from(w.tensor.dataSync())) };
  weights.slice(0, 1).forEach((w) => w.tensor.dispose());
  tf.dispose(vars);
  opt.dispose();
  return out;
}

test('the fused step on wasm equals tf.train.adam on wasm bit for bit (tails, scalars, a missing gradient, a changed rate)', async () => {
  assert.ok(tf.getKernel(ADAM_KERNEL, 'wasm'), 'registerWasmGradients registers the kernel');
  const calls: string[] = [];
  const eng = tf.engine();
  const original = eng.runKernel.bind(eng);
  eng.runKernel = ((name: string, ...rest: unknown[]) => {
    calls.push(name);
    return (original as (...a: unknown[]) => unknown)(name, ...rest);
  }) as typeof eng.runKernel;
  let fused;
  try {
    fused = await run(new FusedAdamOptimizer(0.01, 0.8, 0.99, 1e-6), 6, 2, (o, s) => s === 3 && setLearningRate(o, 0.003));
  } finally {
    eng.runKernel = original;
  }
  assert.ok(calls.filter((c) => c === ADAM_KERNEL).length >= 6 * (SHAPES.length - 1), 'the fused kernel ran');
  assert.ok(!calls.includes('Sqrt'), "tfjs's own step did not run");
  const stock = await run(tf.train.adam(0.01, 0.8, 0.99, 1e-6), 6, 2, (o, s) => s === 3 && setLearningRate(o, 0.003));
  assert.deepEqual(fused.vars, stock.vars);
  assert.deepEqual(fused.slots, stock.slots);
  assert.ok(fused.vars.every((v, k) => v.some((x, i) => x !== values(v.length, 7 + k)[i]) || k === 2), 'the variables moved');
});

test('the fused optimizer is a tfjs Adam: class name, config, clone, default epsilon, slot names', async () => {
  const opt = makeOptimizer('adam', 0.002);
  assert.ok(opt instanceof FusedAdamOptimizer);
  assert.ok(opt instanceof tf.AdamOptimizer);
  assert.equal(opt.getClassName(), 'Adam');
  assert.deepEqual(opt.getConfig(), tf.train.adam(0.002).getConfig());
  const copy = cloneOptimizer(opt, { learningRate: 0.5 });
  assert.ok(copy instanceof FusedAdamOptimizer);
  assert.equal(copy.getConfig().learningRate, 0.5);
  const w = tf.variable(tf.ones([3]), true, 'fused_adam_w');
  opt.applyGradients([{ name: w.name, tensor: tf.ones([3]) }]);
  const names = (await opt.getWeights()).map((x) => x.name);
  assert.deepEqual(names, ['iter', 'fused_adam_w/m', 'fused_adam_w/v']);
  tf.dispose([w]);
  opt.dispose();
  copy.dispose();
});

test('weights saved from the fused optimizer continue the same run in tf.train.adam, and back', async () => {
  const grads = (v: tf.Variable, s: number) => [{ name: v.name, tensor: tf.tensor(values(v.size, 50 + s), v.shape) }];
  const trail = async (first: tf.Optimizer, second: () => tf.Optimizer) => {
    const v = tf.variable(tf.tensor(values(41, 3), [41]));
    for (let s = 0; s < 3; s++) first.applyGradients(grads(v, s));
    const next = second();
    await next.setWeights(await first.getWeights());
    for (let s = 3; s < 6; s++) next.applyGradients(grads(v, s));
    const out = Array.from(v.dataSync());
    first.dispose();
    next.dispose();
    v.dispose();
    return out;
  };
  const a = await trail(fusedAdam(0.05), () => tf.train.adam(0.05));
  const b = await trail(tf.train.adam(0.05), () => fusedAdam(0.05));
  const c = await trail(tf.train.adam(0.05), () => tf.train.adam(0.05));
  assert.deepEqual(a, c);
  assert.deepEqual(b, c);
});

test('the fused step leaves no tensors behind, and other backends step as tfjs does', async () => {
  const v = tf.variable(tf.tensor(values(130, 9), [13, 10]));
  const opt = fusedAdam(0.01);
  const step = () => tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.onesLike(v) }]));
  step();
  const before = tf.memory().numTensors;
  for (let s = 0; s < 5; s++) step();
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  v.dispose();

  await tf.setBackend('cpu');
  try {
    const onCpu = await run(fusedAdam(0.02), 3);
    const stock = await run(tf.train.adam(0.02), 3);
    assert.deepEqual(onCpu.vars, stock.vars);
  } finally {
    assert.ok(await tf.setBackend('wasm'));
  }
});

test('the committed Adam module is what adam.wat compiles to', () => {
  const root = path.resolve(__dirname, '..', '..', '..');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-wasm-kernels.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
