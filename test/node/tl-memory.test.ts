/** tf.memory().numTensors must not grow across fits, interrupted fits, failed fits or cached fits. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MIME } from '../../src/common/mime';
import { fromTensors, imageFolder } from '../../src/tl/data';
import { fit } from '../../src/tl/train';
import { evaluate } from '../../src/tl/evaluate';
import { topLosses } from '../../src/tl/interpret';
import { clearEmbeddingCache } from '../../src/tl/embeddings';
import { withHead } from '../../src/tl/heads';
import { freeze } from '../../src/tl/freeze';
import { getOutputSink, setOutputSink, requestInterrupt, clearInterrupt, InterruptedError } from '../../src/tl/output';
import { makeImageFolder, poisonedLoss, RecordingSink, tinyConvBase, tmpDir, truncatePngs } from './tl-helpers';

process.env.TRANSFER_LAB_CACHE = tmpDir('tl-memory-cache-');
const outside = getOutputSink();
let sink: RecordingSink;
before(() => {
  sink = new RecordingSink();
  setOutputSink(sink);
});
after(() => setOutputSink(outside));

function tinyModel(): tf.Sequential {
  return tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 6, activation: 'relu' }), tf.layers.dense({ units: 2, activation: 'softmax' })],
  });
}

test('20 consecutive fits and an interrupted fit leave numTensors where it was', async () => {
  const xs = tf.randomNormal([40, 4], 0, 1, 'float32', 1);
  const ys = tf.tensor1d([...Array(40).keys()].map((i) => i % 2), 'int32');
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], validationSplit: 0.25, batchSize: 8 });
  const model = tinyModel();
  // The first fit compiles the model and the optimizer creates its slots (Adam's moments): state that
  // lives as long as the model, not a leak. Count from after it.
  await fit(model, data, { epochs: 1, verbose: false });
  const start = tf.memory().numTensors;
  const variants = [
    {},
    { earlyStopping: { patience: 1 } },
    { schedule: { type: 'cosine' as const } },
    { classWeight: 'balanced' as const },
    { shuffle: false },
  ];
  for (let i = 0; i < 20; i++) {
    await fit(model, data, { epochs: 2, verbose: false, ...variants[i % variants.length] });
  }
  assert.equal(tf.memory().numTensors, start, 'after 20 fits');

  let batches = 0;
  sink.onPost = (m) => {
    if ((m as { type: string }).type === 'batch' && ++batches === 3) requestInterrupt();
  };
  await assert.rejects(fit(model, data, { epochs: 20, batchMessageIntervalMs: 0, verbose: false }), InterruptedError);
  sink.onPost = undefined;
  clearInterrupt();
  assert.equal(tf.memory().numTensors, start, 'after an interrupted fit');

  await evaluate(model, data, { display: false });
  assert.equal(tf.memory().numTensors, start, 'after evaluate');
  tf.dispose([xs, ys]);
});

test('fits on cached embeddings and streamed image batches leave numTensors where it was', async () => {
  await clearEmbeddingCache();
  const dir = makeImageFolder({ classes: { red: 6, blue: 6 }, corrupt: true });
  const data = await imageFolder(dir, { size: [16, 16], validationSplit: 0.25, batchSize: 4 });
  const base = tinyConvBase([16, 16, 3]);
  freeze(base);
  const model = withHead(base, { classes: [...data.classes] });
  await fit(model, data, { epochs: 1, verbose: false });
  const start = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) await fit(model, data, { epochs: 2, verbose: false });
  for (let i = 0; i < 2; i++) await fit(model, data, { epochs: 1, cacheEmbeddings: false, verbose: false });
  assert.equal(tf.memory().numTensors, start);

  // An interrupt while the base computes embeddings stops the pass between batches.
  await clearEmbeddingCache();
  const conv = model.getLayer('base_conv') as unknown as { call: (i: unknown, k: unknown) => unknown };
  const call = conv.call.bind(conv);
  conv.call = (i, k) => {
    requestInterrupt();
    return call(i, k);
  };
  await assert.rejects(fit(model, data, { epochs: 3, cacheDir: false, verbose: false, baseEngine: 'tfjs' }), InterruptedError);
  clearInterrupt();
  conv.call = call;
  const last = sink.bundles(MIME.training).at(-1) as { status: string; history: unknown[] };
  assert.equal(last.status, 'interrupted');
  assert.equal(last.history.length, 0);
  assert.equal(tf.memory().numTensors, start, 'after an interrupt during the embedding pass');
});

/** 40 samples in five batches, and a model whose loss can be poisoned, after one clean epoch (optimizer state made). */
async function warmPoisonableFit() {
  const xs = tf.randomNormal([40, 4], 0, 1, 'float32', 1);
  const ys = tf.tensor1d([...Array(40).keys()].map((i) => i % 2), 'int32');
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  const p = poisonedLoss();
  const model = tinyModel();
  model.compile({ optimizer: 'adam', loss: p.loss });
  await fit(model, data, { epochs: 1, verbose: false });
  return { xs, ys, data, p, model };
}

test('fits stopped by a NaN loss, cached or not, and fits with undecodable images leave numTensors where it was', async () => {
  const { xs, ys, data, p, model } = await warmPoisonableFit();
  const start = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    p.arm(5 + 2); // five batches an epoch
    const r = await fit(model, data, { epochs: 3, verbose: false });
    assert.match(r.stoppedReason ?? '', /epoch 2, batch 2; .*optimizer starts afresh/);
    // The NaN optimizer is replaced by a fresh one, whose moments appear at its first step.
    assert.ok(tf.memory().numTensors <= start, 'after a fit stopped by NaN');
    await fit(model, data, { epochs: 1, verbose: false });
    assert.equal(tf.memory().numTensors, start, 'after a fit stopped by NaN and one more fit');
  }
  tf.dispose([xs, ys]);

  await clearEmbeddingCache();
  const dir = makeImageFolder({ classes: { red: 6, blue: 6, green: 3 }, corrupt: true });
  const images = await imageFolder(dir, { size: [16, 16], validationSplit: 0.25, batchSize: 4 });
  const base = tinyConvBase([16, 16, 3]);
  freeze(base);
  const head = withHead(base, { classes: [...images.classes] });
  const q = poisonedLoss();
  head.compile({ optimizer: 'adam', loss: q.loss });
  await fit(head, images, { epochs: 1, verbose: false });
  await fit(head, images, { epochs: 1, cacheEmbeddings: false, verbose: false });
  const start2 = tf.memory().numTensors;
  for (const cacheEmbeddings of [true, false]) {
    q.arm(2);
    const r = await fit(head, images, { epochs: 2, cacheEmbeddings, verbose: false });
    assert.match(r.stoppedReason ?? '', /epoch 1, batch 2/);
    assert.equal(r.unreadable?.length, 1, 'the truncated PNG is named');
    await fit(head, images, { epochs: 1, cacheEmbeddings, verbose: false });
    assert.equal(tf.memory().numTensors, start2, `cacheEmbeddings ${cacheEmbeddings}`);
  }
  // A class whose images all fail to decode stops fit before it trains, and leaks nothing either.
  truncatePngs(path.join(dir, 'green'));
  const broken = await imageFolder(dir, { size: [16, 16], batchSize: 4 });
  for (const cacheEmbeddings of [true, false]) {
    await assert.rejects(fit(head, broken, { epochs: 1, cacheEmbeddings, cacheDir: false, verbose: false }), /class 'green' has no training image left/);
    assert.equal(tf.memory().numTensors, start2, `refused, cacheEmbeddings ${cacheEmbeddings}`);
  }
});

test('a fit stopped by NaN whose early stopping puts the best weights back leaves numTensors where it was', async () => {
  const { xs, ys, data, p, model } = await warmPoisonableFit();
  const start = tf.memory().numTensors;
  const early = { monitor: 'loss', patience: 100, minDelta: 100 };
  for (let i = 0; i < 3; i++) {
    p.arm(5 * 2 + 2); // five batches an epoch: epoch 3, batch 2
    const r = await fit(model, data, { epochs: 4, verbose: false, earlyStopping: early });
    assert.match(r.stoppedReason ?? '', /epoch 3, batch 2; .*the weights of the best epoch \(1\) are put back/);
    assert.ok(tf.memory().numTensors <= start, 'after a fit stopped by NaN with the best weights put back');
    await fit(model, data, { epochs: 2, verbose: false, earlyStopping: early });
    assert.equal(tf.memory().numTensors, start, 'after a fit stopped by NaN and one more fit');
  }
  tf.dispose([xs, ys]);
});

test('evaluate and topLosses stop at an interrupt between batches, leaving no tensors behind', async () => {
  const xs = tf.randomNormal([400, 4], 0, 1, 'float32', 2);
  const ys = tf.tensor1d([...Array(400).keys()].map((i) => i % 2), 'int32');
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 2 });
  const model = tinyModel();
  const start = tf.memory().numTensors;
  for (const pass of [() => evaluate(model, data, { display: false }), () => topLosses(model, data, { display: false })]) {
    // The interrupt arrives as a message would: on a later turn of the event loop, while the pass runs.
    const timer = setTimeout(() => requestInterrupt(), 0);
    try {
      await assert.rejects(pass(), InterruptedError);
    } finally {
      clearTimeout(timer);
      clearInterrupt();
    }
    assert.equal(tf.memory().numTensors, start);
  }
  tf.dispose([xs, ys]);
  model.dispose();
});
