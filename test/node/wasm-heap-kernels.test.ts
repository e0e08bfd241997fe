/**
 * The hand-written WebAssembly kernels (src/tl/wasm-kernels/*.wat): the fused Adam step gives
 * tfjs's AdamOptimizer's results bit for bit, keeps its slots and weights, and does not leak; the
 * matrix product used under a gradient tape sums each output in order in float32, tails included,
 * and trains as the cpu backend does; the committed modules are what their .wat files compile to.
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
import { tapedMatMul } from '../../src/tl/wasm-kernels/gemm';

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

/** a·b for row-major float32 a [m, k] and b [k, n], each output summed over k in order in float32. */
function sequentialProduct(a: Float32Array, b: Float32Array, m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc = Math.fround(acc + Math.fround(a[i * k + p] * b[p * n + j]));
      out.push(acc);
    }
  }
  return out;
}

/** tapedMatMul's product of `a` and `b` read back, or null when it left the product to the native kernel. */
function taped(a: tf.Tensor, b: tf.Tensor): number[] | null {
  const info = tapedMatMul(tf.backend(), a, b);
  if (!info) return null;
  const t = tf.engine().makeTensorFromTensorInfo(info);
  const out = Array.from(t.dataSync());
  t.dispose();
  return out;
}

test('under a gradient tape a matrix product sums each output in order in float32 (whole blocks and tails)', () => {
  for (const [m, k, n] of [[32, 1280, 128], [4, 3, 8], [5, 7, 9], [33, 17, 13], [11, 1, 30]]) {
    const av = values(m * k, m + k);
    const bv = values(k * n, k + n, 0.5);
    const [a, b] = [tf.tensor2d(av, [m, k]), tf.tensor2d(bv, [k, n])];
    const v = tf.variable(tf.scalar(1));
    let got: number[] | null = null;
    let viaOp: number[] = [];
    const { value, grads } = tf.variableGrads(() => {
      got = taped(a, b);
      const y = tf.matMul(a, b);
      viaOp = Array.from(y.dataSync());
      return tf.sum(tf.mul(y, v));
    }, [v]);
    const want = sequentialProduct(av, bv, m, k, n);
    assert.deepEqual(got, want, `[${m}, ${k}]·[${k}, ${n}] in gemm.wat`);
    assert.deepEqual(viaOp, want, `[${m}, ${k}]·[${k}, ${n}] through tf.matMul`);
    assert.equal(taped(a, b), null, 'outside a tape the native kernel (and its cached packing) stays');
    tf.dispose([a, b, v, value, grads[v.name]]);
  }
  const small = [tf.ones([3, 5]), tf.ones([5, 16])];
  const tall = [tf.ones([129, 8]), tf.ones([8, 8])];
  const v = tf.variable(tf.scalar(1));
  const r = tf.variableGrads(() => {
    assert.equal(taped(small[0], small[1]), null, 'fewer than 4 rows: native');
    assert.equal(taped(tall[0], tall[1]), null, 'more than 128 rows: XNNPACK, whose packing pays off there');
    assert.equal(taped(small[0], tall[1]), null, 'shapes that do not match: native (which says so)');
    return tf.mul(tf.sum(small[0]), v);
  }, [v]);
  tf.dispose([...small, ...tall, v, r.value, r.grads[v.name]]);
});

test('a Dense layer trains on wasm as on the cpu backend (the taped product forward, XNNPACK outside the tape)', async () => {
  const lossAndGrads = () => {
    const x = tf.tensor2d(values(8 * 40, 3), [8, 40]);
    const w1 = tf.variable(tf.tensor2d(values(40 * 16, 4, 0.3), [40, 16]));
    const w2 = tf.variable(tf.tensor2d(values(16 * 3, 5, 0.3), [16, 3]));
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(tf.square(tf.matMul(tf.relu(tf.matMul(x, w1)), w2)))), [w1, w2]);
    const out = { loss: value.dataSync()[0], g: [grads[w1.name], grads[w2.name]].map((g) => Array.from(g.dataSync())), predict: Array.from(tf.tidy(() => tf.matMul(x, w1)).dataSync()) };
    tf.dispose([x, w1, w2, value, grads[w1.name], grads[w2.name]]);
    return out;
  };
  const onWasm = lossAndGrads();
  await tf.setBackend('cpu');
  let onCpu;
  try {
    onCpu = lossAndGrads();
  } finally {
    assert.ok(await tf.setBackend('wasm'));
  }
  const close = (a: number[], b: number[], what: string) => {
    const scale = Math.max(...b.map(Math.abs));
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-5 * scale, `${what}[${i}]: ${x} vs ${b[i]}`));
  };
  close([onWasm.loss], [onCpu.loss], 'loss');
  onWasm.g.forEach((g, i) => close(g, onCpu.g[i], `gradient ${i}`));
  close(onWasm.predict, onCpu.predict, 'product outside the tape');
});

test('the committed modules are what their .wat files compile to', () => {
  const root = path.resolve(__dirname, '..', '..', '..');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-wasm-kernels.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
