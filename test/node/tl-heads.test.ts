import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { withHead, defaultCut } from '../../src/tl/heads';
import { mobileNetV2Like, digitsCnn } from '../../src/tl/builders';
import { getMeta } from '../../src/tl/models/meta';
import { freeze } from '../../src/tl/freeze';
import { formatLayerTable, layers, summary } from '../../src/tl/inspect';
import { chooseCut, cutOf } from '../../src/tl/cut';
import { load } from '../../src/tl/models';
import { ramp, sameArrays, tmpDir, useCpu, weightValues, writeGraphModel } from './tl-fixtures';

test('withHead on a Sequential base replaces its classifier and shares its layers', async () => {
  await useCpu();
  const base = digitsCnn({ seed: 3 });
  assert.equal(base.layers[defaultCut(base)].name, 'flatten', 'default cut: the end of the feature extractor, before the Dense stack');

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

/** A conv base with an MLP classifier on top, as the Keras MobileNetV2 of nsfwjs has (AveragePooling → Flatten → Dense 256 → Dropout → Dense 128 → Dropout → Dense 5). */
function mlpTopBase(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const m = tf.sequential({ name: 'mlp_top' });
  m.add(tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, name: 'conv', kernelInitializer: init(1) }));
  m.add(tf.layers.batchNormalization({ name: 'conv_bn' }));
  m.add(tf.layers.reLU({ name: 'out_relu' }));
  m.add(tf.layers.averagePooling2d({ poolSize: 14, name: 'average_pooling2d_1' }));
  m.add(tf.layers.flatten({ name: 'flatten_1' }));
  m.add(tf.layers.dense({ units: 256, activation: 'relu', name: 'dense_1', kernelInitializer: init(2) }));
  m.add(tf.layers.dropout({ rate: 0.5, name: 'dropout_2' }));
  m.add(tf.layers.dense({ units: 128, activation: 'relu', name: 'dense_2', kernelInitializer: init(3) }));
  m.add(tf.layers.dropout({ rate: 0.25, name: 'dropout_3' }));
  m.add(tf.layers.dense({ units: 5, activation: 'softmax', name: 'dense_3', kernelInitializer: init(4) }));
  return m;
}

function captureLog<T>(f: () => T): { value: T; lines: string[] } {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  try {
    return { value: f(), lines };
  } finally {
    console.log = orig;
  }
}

test('default cut on a base with an MLP top: the end of the feature extractor, said and marked', async () => {
  await useCpu();
  const base = mlpTopBase();
  const choice = chooseCut(base);
  assert.equal(base.layers[choice.index].name, 'flatten_1', 'cut at the flatten before the Dense stack, not at the old task\'s Dense 128');
  assert.match(choice.reason, /classifier stack after its last spatial layer 'average_pooling2d_1'.*'dense_1'.*'dense_3'/);

  const { value: m, lines } = captureLog(() => withHead(base, { classes: ['a', 'b', 'c'], seed: 1 }));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^withHead: cut at 'flatten_1' \(layer 4 of 10, output \[null,8\]\): the base ends in a classifier stack/);
  assert.match(lines[0], /Left out: 5 layer\(s\) after it \('dense_1', 'dropout_2', 'dense_2', 'dropout_3', 'dense_3'\)/);
  assert.deepEqual(m.layers.slice(-3).map((l) => l.name), ['average_pooling2d_1', 'flatten_1', 'head_output']);
  assert.ok(!m.layers.some((l) => /^dense_|^dropout_/.test(l.name)), 'the old MLP is gone');
  assert.deepEqual(m.getLayer('head_output').getWeights()[0].shape, [8, 3], 'the head reads the 8 pooled features');

  // The freeze maps mark the cut: on the model with the head, and on the base (its MLP unused).
  const headMap = summary(m);
  assert.equal(headMap.cut?.layer, 'flatten_1');
  assert.equal(headMap.layers.find((l) => l.index === headMap.cut?.index)?.name, 'flatten_1');
  assert.ok(!headMap.layers.some((l) => l.unused));
  assert.match(formatLayerTable(headMap), /flatten_1.*\n==== cut: the head takes this output \(the base ends in a classifier stack/);
  const baseMap = summary(base);
  assert.equal(baseMap.cut?.layer, 'flatten_1');
  assert.deepEqual(baseMap.layers.filter((l) => l.unused).map((l) => l.name), ['dense_1', 'dropout_2', 'dense_2', 'dropout_3', 'dense_3']);
  const table = formatLayerTable(baseMap);
  assert.match(table, /==== cut: 'mlp_top \+ head' takes this output; the layers below are not part of it/);
  assert.match(table, /dense_1 .*unused \(after the cut\)/);
  assert.equal(cutOf(m)?.model, 'mlp_top + head');

  // An explicit cutAt says so; the old cut (the Dense 128) is still there for whoever wants it.
  const { value: old, lines: l2 } = captureLog(() => withHead(base, { cutAt: 'dropout_3', classes: 3 }));
  assert.match(l2[0], /cut at 'dropout_3' .*: as cutAt asked\. Left out: 1 layer\(s\) after it \('dense_3'\)/);
  assert.deepEqual(old.getLayer('head_output').getWeights()[0].shape, [128, 3]);
  const quiet = captureLog(() => withHead(base, { classes: 3, verbose: false }));
  assert.deepEqual(quiet.lines, []);
  base.dispose();
});

test('default cut: a Keras MobileNet-style 1×1 conv top, an MLP without spatial layers, a base without classifier', async () => {
  await useCpu();
  const x = tf.input({ shape: [8, 8, 3] });
  let y = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv_pw_13' }).apply(x) as tf.SymbolicTensor;
  y = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d_1' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.reshape({ targetShape: [1, 1, 4], name: 'reshape_1' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dropout({ rate: 0.001, name: 'dropout' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.conv2d({ filters: 10, kernelSize: 1, name: 'conv_preds' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.reshape({ targetShape: [10], name: 'reshape_2' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.activation({ activation: 'softmax', name: 'act_softmax' }).apply(y) as tf.SymbolicTensor;
  const v1 = tf.model({ inputs: x, outputs: y });
  const c1 = chooseCut(v1);
  assert.equal(v1.layers[c1.index].name, 'global_average_pooling2d_1');
  assert.match(c1.reason, /after its last global pool/);

  // No spatial layer: the older rule drops only the softmax classifier.
  const mlp = tf.sequential();
  mlp.add(tf.layers.dense({ inputShape: [6], units: 8, activation: 'relu', name: 'd1' }));
  mlp.add(tf.layers.dropout({ rate: 0.2, name: 'drop' }));
  mlp.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  const c2 = chooseCut(mlp);
  assert.equal(mlp.layers[c2.index].name, 'd1');
  assert.match(c2.reason, /ends in the classifier 'out' \(softmax\)/);

  const noTop = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 1, lastFilters: 16, seed: 5 });
  assert.match(chooseCut(noTop).reason, /no classifier on top/);
  for (const model of [v1, mlp, noTop]) model.dispose();
});
