/**
 * The whole transfer path on a MobileNetV2-style functional model built in code (inverted residual
 * blocks with BatchNormalization, ReLU6 and Add): load → freeze → head → fit → evaluate → save → load.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as tl from '../../src/tl';
import { tmpDir, useCpu } from './tl-fixtures';
import { makeImageFolder, RecordingSink } from './tl-helpers';

/**
 * Random weights with BatchNormalization's initial statistics (mean 0, variance 1) saturate ReLU6 in
 * inference mode, which no pretrained model does. One pass with momentum 0 sets the moving statistics
 * to the data's batch statistics; the learning rate is 0, so no weight changes.
 */
async function calibrateBatchNorm(model: tf.LayersModel, data: tl.LabeledData): Promise<void> {
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as { momentum: number }[];
  const momenta = bns.map((l) => l.momentum);
  bns.forEach((l) => (l.momentum = 0));
  const sgd = tf.train.sgd(0);
  model.compile({ optimizer: sgd, loss: 'meanSquaredError' });
  for await (const batch of data.train.batches({ batchSize: data.train.size })) {
    const target = tf.tidy(() => tf.zerosLike(model.predict(batch.xs) as tf.Tensor));
    await model.fit(batch.xs, target, { epochs: 1, batchSize: data.train.size, verbose: 0 });
    tf.dispose([target, batch.xs, batch.ys]);
  }
  bns.forEach((l, i) => (l.momentum = momenta[i]));
  sgd.dispose();
}

test('MobileNetV2-style: load → freeze → head → fit → evaluate → save → load', async () => {
  await useCpu();
  const sink = new RecordingSink();
  tl.setOutputSink(sink);

  const dataDir = makeImageFolder({ classes: { red: 12, green: 12, blue: 12 }, size: [36, 36], vary: true, jpeg: true });
  const preprocessing = { scale: 1 / 127.5, offset: -1, channels: 3 as const };

  // "Pretrained" base: built in code, its BatchNormalization statistics set from data as pretraining
  // would leave them, saved, and loaded back the way a user loads a model.json.
  const built = tl.mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 4, seed: 3 });
  await calibrateBatchNorm(built, await tl.imageFolder(dataDir, { size: [32, 32], preprocessing }));
  assert.ok(built.layers.some((l) => l.getClassName() === 'Add'), 'has residual Add layers');
  assert.ok(built.layers.some((l) => l.getClassName() === 'ReLU'), 'has ReLU6 layers');
  const baseDir = tmpDir('e2e-base');
  await tl.save(built, baseDir, { name: 'mnv2-tiny', inputSize: [32, 32], preprocessing });
  built.dispose();
  const before = tf.memory().numTensors;
  const base = (await tl.load(path.join(baseDir, 'model.json'))) as tf.LayersModel;
  assert.equal(tl.meta(base)?.inputSize?.join('x'), '32x32');

  // Freeze everything but the last block, then put a head on it.
  tl.freeze(base, 'all');
  const thawed = tl.unfreeze(base, { lastBlocks: 1 });
  assert.ok(thawed.length > 0 && thawed.every((n) => n.startsWith('block_4_') || /^Conv_1|out_relu/.test(n)), thawed.join());
  const frozenBn = base.getLayer('block_1_expand_BN');
  const movingMeanBefore = frozenBn.getWeights()[2].dataSync().slice();

  const data = await tl.imageFolder(dataDir, { model: base, validationSplit: 0.25, seed: 5 });
  assert.deepEqual([...data.classes], ['blue', 'green', 'red']);
  const model = tl.withHead(base, { classes: [...data.classes], dropout: 0.1 });
  const result = await tl.fit(model, data, { epochs: 8, batchSize: 9, learningRate: 0.01, seed: 1, verbose: false });
  assert.equal(result.history.length, 8);
  assert.ok(result.history[7].loss! < result.history[0].loss!, `loss fell: ${result.history.map((h) => h.loss).join(', ')}`);
  // The frozen BatchNormalization kept its statistics through fit.
  assert.deepEqual([...frozenBn.getWeights()[2].dataSync()], [...movingMeanBefore]);

  const ev = await tl.evaluate(model, data.validation!);
  assert.ok(ev.accuracy >= 0.75, `accuracy ${ev.accuracy}`);
  assert.equal(ev.confusion.matrix.length, 3);

  // Export, then load with tl.load and with plain tfjs: same predictions, classes kept.
  const outDir = tmpDir('e2e-out');
  await tl.save(model, outDir);
  const reloaded = (await tl.load(outDir)) as tf.LayersModel;
  assert.deepEqual(tl.meta(reloaded)?.classes, ['blue', 'green', 'red']);
  const json = JSON.parse(readFileSync(path.join(outDir, 'model.json'), 'utf8'));
  const weights = readFileSync(path.join(outDir, json.weightsManifest[0].paths[0]));
  const plain = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) }),
  );
  const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 9);
  const [a, b, c] = [model, reloaded, plain].map((m) => m.predict(x) as tf.Tensor);
  const maxDiff = (p: tf.Tensor, q: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]);
  assert.ok(maxDiff(a, b) < 1e-5);
  assert.ok(maxDiff(a, c) < 1e-5);
  tf.dispose([x, a, b, c]);
  const top = await tl.predict(reloaded, path.join(dataDir, 'red', 'img000.png'), { topK: 1 });
  assert.equal(top[0].label, 'red');

  // Disposing the head model disposes the base layers it shares; the embedding cache is let go.
  [model, reloaded, plain].forEach((m) => m.dispose());
  tl.clearEmbeddingCache();
  // Training outputs went to the renderer sink: a run with its full history.
  const runs = sink.bundles('application/vnd.transfer-lab.training+json') as { history: unknown[]; status: string }[];
  assert.equal(runs.at(-1)?.history.length, 8);
  assert.equal(runs.at(-1)?.status, 'done');
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
});
