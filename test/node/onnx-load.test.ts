/**
 * .onnx files as frozen feature extractors: NCHW models (as PyTorch exports them) get NHWC input and
 * ImageNet normalisation from an adapter, a NCHW feature map comes back NHWC, fixed batch sizes are
 * chunked, and files that cannot serve are refused with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IrGraph, encodeModel, type Dim } from '../../src/tl/onnx/ir';
import { loadOnnx, IMAGENET } from '../../src/tl/onnx/load';
import { getMeta } from '../../src/tl/models/meta';
import { rand } from './onnx-fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-onnx-load-'));

/** A PyTorch-style NCHW model: conv 3×3 (pad 1) → ReLU, optionally → global average pool → flatten. */
function nchwModel(file: string, opts: { batch: Dim; pool: boolean; kernel: Float32Array; cout: number }): void {
  const g = new IrGraph('torch_like');
  const x = g.addInput('pixel_values', [opts.batch, 3, 8, 8]);
  let y = g.one('Conv', [x, g.floats('w', [opts.cout, 3, 3, 3], opts.kernel)], 'conv', { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } });
  y = g.one('Relu', [y], 'relu');
  if (opts.pool) y = g.one('Flatten', [g.one('GlobalAveragePool', [y], 'gap')], 'flat', { axis: { i: 1 } });
  g.addOutput(y, 'features', opts.pool ? [opts.batch, opts.cout] : [opts.batch, opts.cout, 8, 8]);
  fs.writeFileSync(file, encodeModel(g));
}

/** The same computation in TF.js on NHWC pixels in [0, 1], with ImageNet normalisation. */
function reference(pixels: Float32Array, n: number, kernel: Float32Array, cout: number, pool: boolean): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.tensor4d(pixels, [n, 8, 8, 3]).sub(tf.tensor1d(IMAGENET.mean)).div(tf.tensor1d(IMAGENET.std));
    // ONNX [out, in, kh, kw] → TF [kh, kw, in, out].
    const w = tf.tensor4d(kernel, [cout, 3, 3, 3]).transpose([2, 3, 1, 0]) as tf.Tensor4D;
    const y = tf.relu(tf.conv2d(x as tf.Tensor4D, w, 1, 'same'));
    return pool ? y.mean([1, 2]) : y;
  });
}

function relError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  assert.ok(s > 0);
  return d / s;
}

test('NCHW model with a dynamic batch: NHWC in, ImageNet normalisation, pooled features out', async () => {
  await tf.setBackend('cpu');
  const kernel = rand(5 * 27, 3);
  const file = path.join(tmp, 'pooled.onnx');
  nchwModel(file, { batch: 'batch', pool: true, kernel, cout: 5 });
  const fx = await loadOnnx(file, { threads: 1 });
  assert.equal(fx.info.layout, 'nchw');
  assert.deepEqual(fx.info.normalize, IMAGENET);
  assert.equal(fx.info.fixedBatch, undefined);
  assert.deepEqual(fx.inputShape, [8, 8, 3]);
  assert.deepEqual(fx.outputShape, [5]);
  assert.equal(getMeta(fx)?.format, 'graph');
  assert.deepEqual(getMeta(fx)?.inputSize, [8, 8]);
  assert.equal(getMeta(fx)?.preprocessing?.scale, 1 / 255);
  const pixels = rand(4 * 8 * 8 * 3, 7, 0, 1);
  const got = await fx.run(pixels, [4, 8, 8, 3]);
  assert.deepEqual(got.shape, [4, 5]);
  const want = reference(pixels, 4, kernel, 5, true);
  assert.ok(relError(got.data, (await want.data()) as Float32Array) < 1e-5);
  want.dispose();
  assert.match(fx.description, /input 'pixel_values' \[batch, 3, 8, 8\] \(NCHW\)/);
  await fx.dispose();
});

test('a NCHW feature map comes back NHWC; a fixed batch of 1 is run in chunks', async () => {
  await tf.setBackend('cpu');
  const kernel = rand(4 * 27, 5);
  const file = path.join(tmp, 'map_b1.onnx');
  nchwModel(file, { batch: 1, pool: false, kernel, cout: 4 });
  const fx = await loadOnnx(file, { threads: 1 });
  assert.equal(fx.info.fixedBatch, 1);
  assert.deepEqual(fx.outputShape, [8, 8, 4]);
  const pixels = rand(3 * 8 * 8 * 3, 9, 0, 1);
  const t = await fx.predict(tf.tensor4d(pixels, [3, 8, 8, 3]));
  assert.deepEqual(t.shape, [3, 8, 8, 4]);
  const want = reference(pixels, 3, kernel, 4, false);
  assert.ok(relError((await t.data()) as Float32Array, (await want.data()) as Float32Array) < 1e-5);
  tf.dispose([t, want]);
  assert.match(fx.description, /fixes the batch size at 1/);
  await fx.dispose();
});

test('normalize: false and an NHWC model pass pixels through as they are', async () => {
  const g = new IrGraph('nhwc');
  const x = g.addInput('images', ['N', 4, 4, 3]);
  g.addOutput(g.one('Mul', [x, g.scalar('two', 2)], 'double'), 'y', ['N', 4, 4, 3]);
  const file = path.join(tmp, 'nhwc.onnx');
  fs.writeFileSync(file, encodeModel(g));
  const fx = await loadOnnx(file, { threads: 1 });
  assert.equal(fx.info.layout, 'nhwc');
  assert.equal(fx.info.normalize, undefined);
  const input = rand(2 * 48, 1);
  const out = await fx.run(input, [2, 4, 4, 3]);
  assert.deepEqual(Array.from(out.data), Array.from(input, (v) => Math.fround(v * 2)));
  await fx.dispose();
});

test('files that cannot serve as image feature extractors are refused with the reason', async () => {
  await assert.rejects(loadOnnx(path.join(tmp, 'missing.onnx')), /ONNX model not found: .*missing\.onnx/);
  const junk = path.join(tmp, 'junk.onnx');
  fs.writeFileSync(junk, 'not a model');
  await assert.rejects(loadOnnx(junk), /Could not load junk\.onnx as an ONNX model/);

  const two = new IrGraph('two');
  const a = two.addInput('a', ['N', 3, 8, 8]);
  const b = two.addInput('b', ['N', 3, 8, 8]);
  two.addOutput(two.one('Add', [a, b], 'sum'), 'y', ['N', 3, 8, 8]);
  fs.writeFileSync(path.join(tmp, 'two.onnx'), encodeModel(two));
  await assert.rejects(loadOnnx(path.join(tmp, 'two.onnx')), /one image input; this model has 2 \(a, b\)/);

  const open = new IrGraph('open');
  const o = open.addInput('x', ['N', 3, 'H', 'W']);
  open.addOutput(open.one('Relu', [o], 'r'), 'y', ['N', 3, 'H', 'W']);
  fs.writeFileSync(path.join(tmp, 'open.onnx'), encodeModel(open));
  await assert.rejects(loadOnnx(path.join(tmp, 'open.onnx')), /image size .* is open; pass \{ inputSize/);
  const fx = await loadOnnx(path.join(tmp, 'open.onnx'), { inputSize: [6, 5] });
  assert.deepEqual(fx.inputShape, [6, 5, 3]);
  await fx.dispose();

  const amb = new IrGraph('amb');
  const m = amb.addInput('x', ['N', 3, 8, 3]);
  amb.addOutput(amb.one('Relu', [m], 'r'), 'y', ['N', 3, 8, 3]);
  fs.writeFileSync(path.join(tmp, 'amb.onnx'), encodeModel(amb));
  await assert.rejects(loadOnnx(path.join(tmp, 'amb.onnx')), /NCHW or NHWC; pass \{ layout/);
  await assert.rejects(loadOnnx(path.join(tmp, 'pooled.onnx'), { output: 'nope' }), /no output named 'nope'; outputs: features/);
});
