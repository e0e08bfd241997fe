import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { freeze, unfreeze, selectLayers, installBatchNormFix } from '../../src/tl/freeze';
import { layers, summary, blocksOf } from '../../src/tl/inspect';
import { mobileNetV2Like, digitsCnn } from '../../src/tl/builders';
import { load } from '../../src/tl/models';
import { convBnModel, convBnData, sameArrays, useCpu, weightValues, tmpDir, writeGraphModel } from './tl-fixtures';

const names = (m: tf.LayersModel, idx: number[]) => idx.map((i) => m.layers[i].name);

test('block grouping follows Keras names and structure', async () => {
  await useCpu();
  const m = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 16, lastFilters: 16, classes: 3, seed: 1 });
  const info = layers(m);
  const block = (n: string) => info.find((l) => l.name === n)?.block;
  assert.equal(block('block_13_expand'), 'block_13');
  assert.equal(block('block_13_pad'), 'block_13');
  assert.equal(block('block_15_add'), 'block_15');
  assert.equal(block('expanded_conv_project_BN'), 'expanded_conv');
  assert.equal(block('bn_Conv1'), 'Conv1'); // structural: BN right after Conv1
  assert.equal(block('out_relu'), 'Conv_1');
  assert.equal(block('input_1'), 'input');
  assert.equal(block('predictions'), 'predictions');
  m.dispose();

  const d = digitsCnn({ seed: 1 });
  assert.deepEqual(blocksOf(d.layers), [
    'conv1', 'conv1', 'conv1', 'conv1',
    'conv2', 'conv2', 'conv2', 'conv2',
    'conv3', 'flatten', 'fc1', 'predictions',
  ]);
  d.dispose();
});

test('layer specs: all, names, RegExp, ranges, upTo, lastBlocks', async () => {
  await useCpu();
  const m = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 4, lastFilters: 16, classes: 3, seed: 2 });
  const n = m.layers.length;
  assert.equal(selectLayers(m, 'all').length, n);
  assert.deepEqual(names(m, selectLayers(m, 'block_2_add')), ['block_2_add']);
  assert.deepEqual(names(m, selectLayers(m, ['Conv_1', 'Conv1'])), ['Conv1', 'Conv_1']);
  assert.deepEqual(names(m, selectLayers(m, /^block_4_/)), m.layers.filter((l) => l.name.startsWith('block_4_')).map((l) => l.name));
  assert.deepEqual(names(m, selectLayers(m, /_BN$/g)), names(m, selectLayers(m, /_BN$/g)), 'a /g RegExp gives the same answer twice');
  assert.deepEqual(names(m, selectLayers(m, { from: 'Conv_1', to: -1 })), ['Conv_1', 'Conv_1_bn', 'out_relu', 'global_average_pooling2d', 'predictions']);
  assert.deepEqual(names(m, selectLayers(m, { from: 1, to: 3 })), ['Conv1', 'bn_Conv1', 'Conv1_relu']);
  assert.deepEqual(names(m, selectLayers(m, { to: 'bn_Conv1' })), ['input_1', 'Conv1', 'bn_Conv1']);
  assert.deepEqual(names(m, selectLayers(m, { upTo: 'bn_Conv1' })), ['input_1', 'Conv1', 'bn_Conv1']);
  assert.deepEqual(names(m, selectLayers(m, { upTo: 2 })), ['input_1', 'Conv1', 'bn_Conv1']);

  // Last 3 blocks with weights: predictions, Conv_1, block_4 (the pooling layer has none but lies between).
  const last3 = names(m, selectLayers(m, { lastBlocks: 3 }));
  assert.equal(last3[0], 'block_4_expand');
  assert.equal(last3[last3.length - 1], 'predictions');
  assert.ok(last3.includes('global_average_pooling2d'));
  assert.ok(!last3.some((x) => x.startsWith('block_3_')));
  assert.deepEqual(selectLayers(m, { lastBlocks: 0 }), []);

  assert.throws(() => selectLayers(m, 'block_2_ad'), /No layer named "block_2_ad".*"block_2_add"/);
  assert.throws(() => selectLayers(m, ['Conv1', 'Conv2']), /No layer named "Conv2"/);
  assert.throws(() => selectLayers(m, /^nothing/), /No layer name matches/);
  assert.throws(() => selectLayers(m, { from: 'Conv_1', to: 'Conv1' }), /Empty range/);
  assert.throws(() => selectLayers(m, { upTo: 999 }), /out of range/);
  assert.throws(() => selectLayers(m, { lastBlocks: 99 }), /more blocks than the model has/);
  assert.throws(() => selectLayers(m, { first: 3 } as never), /Cannot read the layer selection/);
  m.dispose();
});

test('freeze/unfreeze return names, update the map, and reach fit() of a compiled model', async () => {
  await useCpu();
  const m = convBnModel(3);
  m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const { xs, ys } = convBnData();
  const conv = m.getLayer('conv');
  const out = m.getLayer('out');

  assert.deepEqual(freeze(m, ['conv', 'bn']), ['conv', 'bn']);
  const map = summary(m);
  assert.equal(map.layers.find((l) => l.name === 'conv')!.trainable, false);
  assert.equal(map.layers.find((l) => l.name === 'bn')!.bnInference, true);
  assert.equal(map.totals.trainable, out.countParams());

  let convBefore = weightValues(conv);
  let outBefore = weightValues(out);
  await m.fit(xs, ys, { epochs: 2, batchSize: 8, verbose: 0 });
  assert.ok(sameArrays(convBefore, weightValues(conv)), 'frozen conv kept its weights');
  assert.ok(!sameArrays(outBefore, weightValues(out)), 'trainable dense changed');

  // tfjs collects the trainable weights at compile(): a layer frozen when the model was compiled is not
  // trained after unfreezing until the model is compiled again. unfreeze() does that.
  m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  assert.deepEqual(unfreeze(m, 'conv'), ['conv']);
  convBefore = weightValues(conv);
  outBefore = weightValues(out);
  await m.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
  assert.ok(!sameArrays(convBefore, weightValues(conv)), 'unfrozen conv now trains');
  assert.deepEqual(m.metricsNames, ['loss', 'acc'], 'recompile kept loss and metrics');

  tf.dispose([xs, ys]);
  m.dispose();
});

test('a frozen BatchNormalization runs in inference mode; an unfrozen one still updates', async () => {
  await useCpu();
  installBatchNormFix(); // idempotent: also installed on import
  const m = convBnModel(4);
  m.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy' });
  const { xs, ys } = convBnData();
  const bn = m.getLayer('bn');
  const conv = m.getLayer('conv');
  const stats = () => bn.getWeights().slice(2).map((t) => t.dataSync() as Float32Array); // moving_mean, moving_variance

  // The test data must be able to tell the modes apart: with BN trainable, training and inference differ.
  const feats = conv.apply(xs) as tf.Tensor;
  const gap = (training: boolean) =>
    tf.tidy(() => (bn.apply(feats, { training }) as tf.Tensor).sub(bn.apply(feats, { training: false }) as tf.Tensor).abs().max().dataSync()[0]);
  const before0 = stats();
  assert.ok(gap(true) > 0.1, 'a trainable BN normalises with batch statistics in training mode');
  assert.ok(!sameArrays(before0, stats()), 'and that call moved the moving statistics');

  // (1) + (2): frozen → training-mode output equals inference output (to rounding: training folds
  // the normalisation into one multiply-add, whose gradient is cheaper), statistics stay exactly the same.
  freeze(m, 'bn');
  const frozenStats = stats();
  const gammaBeta = weightValues(bn).slice(0, 2);
  assert.ok(gap(true) < 1e-5, `training-mode output of a frozen BN differs from inference by ${gap(true)}`);
  assert.ok(sameArrays(frozenStats, stats()), 'a training-mode call leaves them alone');
  await m.fit(xs, ys, { epochs: 3, batchSize: 8, verbose: 0 });
  assert.ok(sameArrays(frozenStats, stats()), 'moving mean/variance unchanged by fit');
  assert.ok(sameArrays(gammaBeta, weightValues(bn).slice(0, 2)), 'gamma/beta unchanged by fit');

  // A BN frozen from outside (the whole model's trainable flag) counts as frozen too.
  unfreeze(m, 'all');
  m.trainable = false;
  assert.ok(gap(true) < 1e-5);
  m.trainable = true;

  // (3): unfrozen → fit moves the statistics again.
  unfreeze(m, 'bn');
  const s0 = stats();
  await m.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
  assert.ok(!sameArrays(s0, stats()), 'an unfrozen BN updates its moving statistics');

  // unfreeze(..., { batchNorm: false }) leaves BN layers frozen.
  freeze(m, 'all');
  assert.deepEqual(unfreeze(m, 'all', { batchNorm: false }).includes('bn'), false);
  assert.equal(layers(m).find((l) => l.name === 'bn')!.bnInference, true);

  tf.dispose([xs, ys, feats]);
  m.dispose();
});

test('freeze/unfreeze cycles do not leak tensors', async () => {
  await useCpu();
  const m = convBnModel(5);
  m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
  const { xs, ys } = convBnData();
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    freeze(m, { upTo: 'bn' });
    await m.fit(xs, ys, { epochs: 1, batchSize: 12, verbose: 0 });
    unfreeze(m, 'all');
    await m.fit(xs, ys, { epochs: 1, batchSize: 12, verbose: 0 });
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[2], counts[1], `tensor counts per cycle: ${counts.join(', ')}`);
  tf.dispose([xs, ys]);
  m.dispose();
});

test('graph models cannot be frozen or unfrozen', async () => {
  await useCpu();
  const dir = tmpDir('graph');
  writeGraphModel(dir);
  const g = await load(path.join(dir, 'model.json'));
  assert.throws(() => freeze(g as unknown as tf.LayersModel, 'all'), /graph model: it can only be used as a frozen feature extractor/);
  assert.throws(() => unfreeze(g as unknown as tf.LayersModel), /graph model/);
  const info = layers(g as tf.GraphModel);
  assert.equal(info.length, 1);
  assert.equal(info[0].trainable, false);
  assert.equal(info[0].nonTrainableParams, 6);
  g.dispose();
});

test('freezing a nested model freezes its layers, BatchNormalization included', async () => {
  await useCpu();
  const inner = convBnModel(7);
  const outer = tf.sequential({ layers: [inner, tf.layers.dense({ units: 2, activation: 'softmax', name: 'top' })] });
  outer.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
  assert.deepEqual(freeze(outer, inner.name), [inner.name]);
  assert.equal(layers(outer)[0].trainable, false);
  assert.ok(inner.layers.every((l) => !l.trainable));
  const { xs } = convBnData();
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 24 }, (_, i) => i % 2), 'int32'), 2).toFloat();
  const innerBefore = inner.layers.map(weightValues);
  const topBefore = weightValues(outer.getLayer('top'));
  await outer.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
  inner.layers.forEach((l, i) => assert.ok(sameArrays(innerBefore[i], weightValues(l)), `${l.name} unchanged (moving statistics too)`));
  assert.ok(!sameArrays(topBefore, weightValues(outer.getLayer('top'))));
  tf.dispose([xs, ys]);
  outer.dispose();
});
