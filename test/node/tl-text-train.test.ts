import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { load } from '../../src/tl/models';
import { withHead } from '../../src/tl/heads';
import { fit } from '../../src/tl/train';
import { evaluate, predict } from '../../src/tl/evaluate';
import { unfreeze } from '../../src/tl/freeze';
import { getMeta } from '../../src/tl/models/meta';
import { textFolder } from '../../src/tl/data/textFolder';
import { fromTensors } from '../../src/tl/data/arrays';
import { wordVectorBase } from '../../src/tl/text/base';
import { readVectorFile } from '../../src/tl/text/vectorFile';
import { splitAtFrozenBase } from '../../src/tl/embeddings/frozenBase';
import { whatTrains } from '../../src/tl/train/whatTrains';
import { useCpu } from './tl-fixtures';
import { gloveText, topicFolder, vectorFile } from './tl-text-fixtures';

const quiet = { verbose: false, cacheDir: false as const, seed: 1 };

test('a head on word vectors: fit on cached text embeddings, evaluate, predict on strings, no tensors left behind', async () => {
  await useCpu();
  const base = (await load(vectorFile('t.txt', gloveText()), { text: { maxLength: 16 } })) as tf.LayersModel;
  const data = await textFolder(topicFolder(), { validationSplit: 0.25, seed: 2, batchSize: 4 });
  const model = withHead(base, { classes: [...data.classes], seed: 3 });
  assert.equal(getMeta(model)?.text, getMeta(base)?.text, 'the head keeps the text base metadata');
  const r1 = await fit(model, data, { ...quiet, epochs: 40, learningRate: 0.05 });
  assert.equal(r1.embeddingCache?.computed, 16, 'every text ran through the base once');
  const before = tf.memory().numTensors;
  const r2 = await fit(model, data, { ...quiet, epochs: 2, learningRate: 0.05 });
  assert.equal(r2.embeddingCache?.computed, 0, 'the second fit reuses every text embedding (keyed by the text)');
  assert.equal(r2.embeddingCache?.fromMemory, 16);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak across fits');
  const e = await evaluate(model, data, { display: false });
  assert.equal(e.samples, 4);
  assert.deepEqual(e.confusion.classes, ['code', 'pets'], 'the confusion matrix names the classes');
  assert.ok(e.accuracy >= 0.75, `accuracy ${e.accuracy}`);
  const [top] = await predict(model, 'The compiler found a bug in my program');
  assert.equal(top.label, 'code');
  const many = await predict(model, ['a puppy and a kitten', '']);
  assert.equal(many[0][0].label, 'pets');
  assert.equal(many[1].length, 2, 'an empty text still gets an answer');
  assert.equal(tf.memory().numTensors, before, 'nor across evaluate and predict');
  model.dispose();
});

test('text data needs a text model, and a text model says so', async () => {
  await useCpu();
  const data = await textFolder(topicFolder());
  const numeric = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' })] });
  await assert.rejects(fit(numeric, data, quiet), /the data holds texts but .* takes no text/);
  numeric.dispose();
});

test('an unfrozen table learns at fineTuneRate of the rate (the update is scaled for any optimizer)', async () => {
  await useCpu();
  const v = await readVectorFile(vectorFile('u.txt', gloveText()), 1 << 20);
  const data = await textFolder(topicFolder(), { batchSize: 64 });
  const deltas: Float32Array[] = [];
  for (const fineTuneRate of [1, 0.1]) {
    const base = wordVectorBase(v, { maxLength: 8, fineTuneRate });
    const model = withHead(base, { classes: [...data.classes], seed: 5 });
    unfreeze(model, ['embedding']);
    const t0 = (model.getLayer('embedding').getWeights()[0].dataSync() as Float32Array).slice();
    const r = await fit(model, data, { ...quiet, epochs: 1, optimizer: 'adam', learningRate: 0.01, shuffle: false });
    assert.equal(r.embeddingCache, undefined, 'a trainable table cannot be cached');
    const t1 = model.getLayer('embedding').getWeights()[0].dataSync() as Float32Array;
    deltas.push(t1.map((x, i) => x - t0[i]));
    model.dispose();
  }
  const [full, low] = deltas as [Float32Array, Float32Array];
  const big = full.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  assert.ok(big > 1e-4, 'the table moved');
  full.forEach((d, i) => assert.ok(Math.abs(low[i] - 0.1 * d) < 1e-6, `row value ${i}: ${low[i]} vs 0.1 × ${d}`));
  assert.ok(full.slice(0, 4).every((x) => x === 0), 'padding (row 0) never moves');
});

test('what fit says about a text model: the cache runs once per text, and an unfrozen table is named as why it cannot', async () => {
  await useCpu();
  const v = await readVectorFile(vectorFile('w.txt', gloveText()), 1 << 20);
  const model = withHead(wordVectorBase(v, { maxLength: 8 }), { classes: ['a', 'b'], seed: 5 });
  const split = splitAtFrozenBase(model);
  assert.ok(!('reason' in split));
  assert.match(whatTrains(model, split.cutAfter), /runs once per text \(embedding cache\)/);
  unfreeze(model, ['embedding']);
  const off = splitAtFrozenBase(model);
  assert.ok('reason' in off);
  assert.equal(off.reason, "layer 'embedding' is trainable", 'the reason is the layer nearest the input, not the head');
  model.dispose();
});

test('from scratch: random vectors over the same vocabulary, trainable at the full rate, and it learns', async () => {
  await useCpu();
  const v = await readVectorFile(vectorFile('s.txt', gloveText()), 1 << 20);
  const base = wordVectorBase(v, { maxLength: 8, weights: 'random', seed: 4 });
  assert.equal(base.getLayer('embedding').trainable, true);
  assert.equal(getMeta(base)?.text?.fineTuneRate, 1);
  const data = await textFolder(topicFolder(), { batchSize: 8 });
  const model = withHead(base, { classes: [...data.classes], seed: 5 });
  const r = await fit(model, data, { ...quiet, epochs: 30, learningRate: 0.05 });
  assert.ok((r.history.at(-1)?.loss ?? Infinity) < (r.history[0]?.loss ?? 0), 'loss falls');
  const before = tf.memory().numTensors;
  await fit(model, data, { ...quiet, epochs: 2, learningRate: 0.05 });
  assert.equal(tf.memory().numTensors, before, 'the optimizer made its slots in the first fit; nothing grows after');
  model.dispose();
  // Tensors of ids work too (a text model is still a model).
  const ids = fromTensors(tf.tensor2d([[1, 2, 0]]), tf.tensor1d([0]), { classes: ['a', 'b'] });
  assert.equal(ids.train.kind, 'tensors');
});
