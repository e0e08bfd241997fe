import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { withHead, defaultCut } from '../../src/tl/heads';
import { mobileNetV2Like, digitsCnn } from '../../src/tl/builders';
import { getMeta } from '../../src/tl/models/meta';
import { freeze } from '../../src/tl/freeze';
import { layers } from '../../src/tl/inspect';
import { load } from '../../src/tl/models';
import { ramp, sameArrays, tmpDir, useCpu, weightValues, writeGraphModel } from './tl-fixtures';

test('withHead on a Sequential base replaces its classifier and shares its layers', async () => {
  await useCpu();
  const base = digitsCnn({ seed: 3 });
  assert.equal(base.layers[defaultCut(base)].name, 'fc1', 'default cut: the base without its softmax Dense');

  const before = tf.memory().numTensors;
  const m = withHead(base, { classes: ['five', 'six', 'seven'] });
  assert.equal(tf.memory().numTensors - before, 2, 'only the new Dense kernel and bias are created: no copies');
  assert.deepEqual(m.outputs[0].shape, [null, 3]);
  assert.equal(m.getLayer('conv1'), base.getLayer('conv1'), 'same layer object');
  assert.deepEqual(getMeta(m)?.classes, ['five', 'six', 'seven']);
  assert.deepEqual(getMeta(m)?.inputSize, [28, 28]);
  assert.ok(!m.layers.some((l) => l.name === 'predictions'), 'old classifier cut off');
  assert.equal(layers(m).find((l) => l.name === 'head_output')?.block, 'head');

  // Changing a base weight changes the new model's output: the weights are shared, not copied.
  const x = tf.tensor4d(ramp(2 * 28 * 28, 0.5, 0.5), [2, 28, 28, 1]);
  const y1 = (m.predict(x) as tf.Tensor).dataSync().slice();
  const conv = base.getLayer('conv1');
  const [k] = conv.getWeights();
  const k2 = k.mul(-1.5);
  conv.setWeights([k2]);
  const y2 = (m.predict(x) as tf.Tensor).dataSync();
  assert.ok(y1.some((v, i) => Math.abs(v - y2[i]) > 1e-6), 'output follows the base weight');
  tf.dispose([x, k2]);
  m.dispose();
});

test('withHead on a residual MobileNetV2-style base: cut, pooling, hidden layers, training', async () => {
  await useCpu();
  const base = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 3, lastFilters: 16, classes: 5, seed: 4 });
  assert.equal(base.layers[defaultCut(base)].name, 'global_average_pooling2d');

  // Cut inside the residual part: block_2 ends in an Add of two branches.
  const m = withHead(base, { cutAt: 'block_2_add', classes: 4, hidden: [8, 6], dropout: 0.25, pooling: 'max' });
  assert.deepEqual(m.outputs[0].shape, [null, 4]);
  const tail = m.layers.slice(-6).map((l) => `${l.name}:${l.getClassName()}`);
  assert.deepEqual(tail, [
    'head_pool:GlobalMaxPooling2D',
    'head_dense_1:Dense',
    'head_dropout_1:Dropout',
    'head_dense_2:Dense',
    'head_dropout_2:Dropout',
    'head_output:Dense',
  ]);
  assert.ok(m.layers.some((l) => l.name === 'block_2_add'));
  assert.ok(!m.layers.some((l) => l.name.startsWith('block_3_')), 'layers after the cut are left out');

  const flat = withHead(base, { cutAt: 'block_1_project_BN', classes: 2, pooling: 'flatten' });
  assert.equal(flat.getLayer('head_pool').getClassName(), 'Flatten');
  assert.deepEqual(flat.getLayer('head_pool').outputShape, [null, 8 * 8 * 8]);
  const byIndex = withHead(base, { cutAt: -4, classes: 2 }); // ... Conv_1_bn, out_relu, pooling, predictions
  assert.deepEqual(byIndex.layers.slice(-3).map((l) => l.name), ['Conv_1_bn', 'head_pool', 'head_output']);

  // The head trains with the base frozen; the residual graph runs forward and backward.
  freeze(m, { upTo: 'block_2_add' });
  m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
  const xs = tf.tensor4d(ramp(8 * 32 * 32 * 3), [8, 32, 32, 3]);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4).toFloat();
  const baseBefore = weightValues(base.getLayer('block_2_project'));
  const headBefore = weightValues(m.getLayer('head_output'));
  const h = await m.fit(xs, ys, { epochs: 2, batchSize: 4, verbose: 0 });
  assert.ok(Number.isFinite(h.history.loss[1] as number));
  assert.ok(sameArrays(baseBefore, weightValues(base.getLayer('block_2_project'))));
  assert.ok(!sameArrays(headBefore, weightValues(m.getLayer('head_output'))));
  tf.dispose([xs, ys]);
  base.dispose();
});

test('withHead keeps Keras-like feature maps when the base has no classifier', async () => {
  await useCpu();
  const base = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 1, lastFilters: 16, seed: 5 });
  assert.equal(base.layers[defaultCut(base)].name, 'out_relu');
  const m = withHead(base, { classes: 3 });
  assert.equal(m.getLayer('head_pool').getClassName(), 'GlobalAveragePooling2D');
  assert.deepEqual(m.outputs[0].shape, [null, 3]);
  base.dispose();
});

test('withHead rejects bad options and graph models with clear errors', async () => {
  await useCpu();
  const base = digitsCnn({ seed: 6 });
  assert.throws(() => withHead(base, { classes: 1 }), /at least 2/);
  assert.throws(() => withHead(base, { classes: ['a', 'a'] }), /"a" appears twice/);
  assert.throws(() => withHead(base, { classes: 2, cutAt: 'fc2' }), /No layer named "fc2".*"fc1"/);
  assert.throws(() => withHead(base, { classes: 2, dropout: 1 }), /dropout/);
  assert.throws(() => withHead(base, { classes: 2, hidden: 0 }), /hidden/);
  base.dispose();

  const dir = tmpDir('graph-head');
  writeGraphModel(dir);
  const g = await load(path.join(dir, 'model.json'));
  assert.throws(() => withHead(g as unknown as tf.LayersModel, { classes: 2 }), /withHead\(\) needs a layers model.*graph model/);
  g.dispose();
});
