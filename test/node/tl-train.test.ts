import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_PLAIN } from '../../src/common/mime';
import type { TrainingRun } from '../../src/common/shapes';
import { DISPLAY_SYMBOL, type Displayable } from '../../src/common/display';
import { fromTensors, imageFolder } from '../../src/tl/data';
import { fit, fineTune, scheduledLr, setLearningRate, getLearningRate } from '../../src/tl/train';
import { clearEmbeddingCache, splitAtFrozenBase } from '../../src/tl/embeddings';
import { getOutputSink, setOutputSink, requestInterrupt, clearInterrupt, InterruptedError } from '../../src/tl/output';
import { withHead } from '../../src/tl/heads';
import { freeze, unfreeze } from '../../src/tl/freeze';
import { mobileNetV2Like } from '../../src/tl/builders';
import { makeImageFolder, maxAbsDiff, nanGradientLoss, poisonedLoss, RecordingSink, tinyConvBase, tmpDir, weightValues } from './tl-helpers';

// Keep the default embedding cache out of the home folder.
process.env.TRANSFER_LAB_CACHE = tmpDir('tl-train-cache-');

let sink: RecordingSink;
const outside = getOutputSink();
beforeEach(() => {
  sink = new RecordingSink();
  setOutputSink(sink);
  clearInterrupt();
});
afterEach(() => {
  setOutputSink(outside);
  clearInterrupt();
});

/** Two Gaussian blobs in 4-D, linearly separable; fixed seeds. */
function blobs(n = 48, seed = 1) {
  const xs = tf.tidy(() => tf.randomNormal([n, 4], 0, 1, 'float32', seed).add(tf.tensor1d([1, 1, 0, 0]).mul(tf.tensor1d([...Array(n).keys()].map((i) => (i % 2 ? 1.5 : -1.5))).reshape([n, 1]))));
  const ys = tf.tensor1d([...Array(n).keys()].map((i) => i % 2), 'int32');
  return { xs, ys };
}

function denseModel(seed = 3, units = 2): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units, activation: units === 1 ? 'sigmoid' : 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

test('fit: history with Keras metric names, live TrainingRun messages, text table', async () => {
  const { xs, ys } = blobs();
  const data = fromTensors(xs, ys, { classes: ['left', 'right'], validationSplit: 0.25, batchSize: 8 });
  const model = denseModel();
  const r = await fit(model, data, { epochs: 4, learningRate: 0.05, seed: 1, batchMessageIntervalMs: 0, title: 'blobs' });
  assert.equal(r.status, 'done');
  assert.equal(r.history.length, 4);
  for (const p of r.history) {
    for (const k of ['loss', 'acc', 'val_loss', 'val_acc', 'lr', 'seconds'] as const) assert.equal(typeof p[k], 'number', `${k} in epoch ${p.epoch}`);
  }
  assert.ok(r.history[3].loss! < r.history[0].loss!, 'loss goes down');
  assert.ok(r.history[3].acc! > 0.8);
  assert.match((r as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN] as string, /^fit done after 4 epoch\(s\) in [\d.]+ s: loss [\d.]+, acc [\d.]+, val_loss/);

  // First a display with status running, then per-batch and per-epoch messages, an update per epoch, and a final status.
  const first = sink.events[0];
  assert.equal(first.kind, 'display');
  const run0 = (first.data as Record<string, TrainingRun>)[MIME.training];
  assert.equal(run0.status, 'running');
  assert.equal(run0.runId, r.runId);
  assert.equal(run0.epochs, 4);
  assert.equal(run0.batchesPerEpoch, 5);
  const posts = sink.posts();
  assert.equal(posts.filter((p) => p.type === 'epoch').length, 4);
  assert.ok(posts.filter((p) => p.type === 'batch').length >= 20, 'every batch posted with no throttle');
  assert.ok(posts.every((p) => p.runId === r.runId));
  const batch = posts.find((p) => p.type === 'batch') as unknown as { point: { epoch: number; batch: number; step: number; loss: number }; throughput: number };
  assert.deepEqual([batch.point.epoch, batch.point.batch, batch.point.step], [1, 0, 1]);
  assert.equal(typeof batch.point.loss, 'number');
  assert.ok(batch.throughput > 0);
  assert.deepEqual(posts[posts.length - 1], { type: 'status', runId: r.runId, status: 'done', message: undefined });
  const etas = posts.filter((p) => p.type === 'epoch').map((p) => p.etaSeconds as number);
  assert.ok(etas[0] > 0 && etas[3] === 0, `ETA counts down to 0: ${etas.join(', ')}`);
  const updates = sink.events.filter((e) => e.kind === 'update');
  assert.equal(updates.length, 5);
  const last = (updates[4].data as Record<string, TrainingRun>)[MIME.training];
  assert.equal(last.status, 'done');
  assert.equal(last.history.length, 4, 'the persisted output holds the whole history');
  assert.ok(last.batches.length >= 20);
  assert.equal(last.etaSeconds, 0);
  // Each update is a copy: the first epoch's update still shows one epoch.
  assert.equal((updates[0].data as Record<string, TrainingRun>)[MIME.training].history.length, 1);
  const text = (updates[4].data as Record<string, string>)[TEXT_PLAIN];
  assert.match(text, /^blobs: done, 4\/4 epochs/);
  assert.match(text, /epoch\s+loss\s+acc\s+val_loss\s+val_acc\s+lr\s+time/);
  assert.equal(text.split('\n').filter((l) => /^\d+\s/.test(l)).length, 4);
  tf.dispose([xs, ys]);
});

test('fit: compiles an uncompiled model; keeps a user loss (sparse) and a sigmoid output', async () => {
  const { xs, ys } = blobs();
  const data = fromTensors(xs, ys, { classes: ['a', 'b'] });
  const sparse = denseModel();
  sparse.compile({ optimizer: tf.train.adam(0.05), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const r1 = await fit(sparse, data, { epochs: 3, seed: 1 });
  assert.ok(r1.history[2].acc! > 0.7);
  assert.equal(sparse.loss, 'sparseCategoricalCrossentropy');
  const binary = denseModel(3, 1);
  const r2 = await fit(binary, data, { epochs: 3, seed: 1, learningRate: 0.05 });
  assert.equal(binary.loss, 'binaryCrossentropy');
  assert.ok(r2.history[2].acc! > 0.7);
  // An explicit validation set instead of a split.
  const held = blobs(16, 7);
  const r3 = await fit(denseModel(), data, { epochs: 1, validationData: fromTensors(held.xs, held.ys, { classes: ['a', 'b'] }) });
  assert.equal(typeof r3.history[0].val_acc, 'number');
  tf.dispose([held.xs, held.ys]);
  const three = denseModel(3, 3);
  await assert.rejects(fit(three, data, { epochs: 1 }), /3 output units but the data has 2 classes \(a, b\)/);
  tf.dispose([xs, ys]);
});

test('learning-rate schedules: step, cosine, one-cycle values and run-time changes to Adam and SGD', async () => {
  assert.equal(scheduledLr({ type: 'step', every: 2, gamma: 0.5 }, 0.1, 3, 0, 10, 6), 0.05);
  assert.equal(scheduledLr({ type: 'step', every: 2, gamma: 0.5 }, 0.1, 4, 0, 10, 6), 0.025);
  const cos = [...Array(21).keys()].map((s) => scheduledLr({ type: 'cosine', minLr: 0.01 }, 0.1, Math.floor(s / 7), s, 7, 3));
  assert.equal(cos[0], 0.1);
  assert.ok(Math.abs(cos[10] - 0.055) < 1e-12, 'half way down');
  assert.ok(Math.abs(cos[20] - 0.01) < 1e-12, 'the last step reaches the floor');
  assert.ok(cos.every((v, i) => i === 0 || v < cos[i - 1]));
  const warm = [0, 1, 2].map((s) => scheduledLr({ type: 'cosine', warmupEpochs: 1 }, 0.1, 0, s, 2, 3));
  assert.deepEqual(warm, [0.05, 0.1, 0.1]);
  const oc = [...Array(100).keys()].map((s) => scheduledLr({ type: 'one-cycle', maxLr: 1 }, 0.1, 0, s, 100, 1));
  assert.ok(Math.abs(oc[0] - 1 / 25) < 1e-12);
  assert.equal(Math.max(...oc), oc[30]);
  assert.ok(Math.abs(oc[99] - 1 / 25 / 1e4) < 1e-12, 'ends at maxLr / divFactor / finalDivFactor');

  const { xs, ys } = blobs();
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  for (const name of ['adam', 'sgd'] as const) {
    // A zero rate from the first step on leaves the weights exactly as they were.
    const m = denseModel();
    const w0 = weightValues(m);
    const r = await fit(m, data, { epochs: 2, optimizer: name, learningRate: 0.1, schedule: () => 0, seed: 1 });
    assert.equal(maxAbsDiff(weightValues(m), w0), 0, `${name}: schedule 0 means no change`);
    assert.equal(r.history[1].lr, 0);
  }
  const m = denseModel();
  const r = await fit(m, data, { epochs: 3, optimizer: 'sgd', learningRate: 0.1, schedule: { type: 'step', every: 1, gamma: 0.5 }, seed: 1 });
  assert.deepEqual(
    r.history.map((p) => p.lr),
    [0.1, 0.05, 0.025],
  );
  const sgd = tf.train.sgd(0.3);
  setLearningRate(sgd, 0.01);
  assert.equal(getLearningRate(sgd), 0.01);
  tf.dispose([xs, ys]);
});

test('early stopping restores the best weights; checkpoint saves the best model', async () => {
  const { xs, ys } = blobs();
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  // minDelta larger than any change: epoch 1 stays best, training stops after patience more epochs.
  const ref = denseModel();
  await fit(ref, data, { epochs: 1, learningRate: 0.05, seed: 9 });
  const model = denseModel();
  const dir = path.join(tmpDir(), 'best');
  const r = await fit(model, data, { epochs: 10, learningRate: 0.05, seed: 9, earlyStopping: { monitor: 'loss', patience: 2, minDelta: 100 }, checkpoint: dir });
  assert.equal(r.status, 'early-stopped');
  assert.equal(r.stoppedEarly, true);
  assert.equal(r.history.length, 3);
  assert.equal(r.best?.epoch, 1);
  assert.ok(maxAbsDiff(weightValues(model), weightValues(ref)) < 1e-6, 'weights are epoch 1 weights again');
  const final = sink.bundles(MIME.training).at(-1) as TrainingRun;
  assert.equal(final.status, 'early-stopped');
  assert.deepEqual(final.best, { epoch: 1, monitor: 'loss', value: r.best?.value });
  assert.ok(fs.existsSync(path.join(dir, 'model.json')));
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'transfer-lab.json'), 'utf8'));
  assert.equal(saved.checkpoint?.epoch ?? saved.extra?.checkpoint?.epoch, 1);
  tf.dispose([xs, ys]);
});

test('an interrupted fit with early stopping puts the best weights back before it throws', async () => {
  const { xs, ys } = blobs();
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 4 });
  // minDelta larger than any change: epoch 1 stays best.
  const ref = denseModel();
  await fit(ref, data, { epochs: 1, learningRate: 0.05, seed: 9 });
  const model = denseModel();
  sink.onPost = (msg) => {
    if ((msg as { type: string; point?: { epoch: number } }).type === 'epoch' && (msg as { point: { epoch: number } }).point.epoch === 3) requestInterrupt();
  };
  await assert.rejects(fit(model, data, { epochs: 50, learningRate: 0.05, seed: 9, earlyStopping: { monitor: 'loss', patience: 100, minDelta: 100 }, batchMessageIntervalMs: 0 }), InterruptedError);
  sink.onPost = undefined;
  const final = sink.bundles(MIME.training).at(-1) as TrainingRun;
  assert.equal(final.status, 'interrupted');
  assert.equal(final.best?.epoch, 1);
  assert.match(final.message ?? '', /the model has the weights of its best epoch \(1\)/);
  assert.ok(maxAbsDiff(weightValues(model), weightValues(ref)) < 1e-6, 'weights are epoch 1 weights again');
  tf.dispose([xs, ys]);
});

test('class weights: zero weights freeze training; balanced weights follow the counts', async () => {
  const { xs, ys } = blobs();
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  const m = denseModel();
  const w0 = weightValues(m);
  await fit(m, data, { epochs: 1, optimizer: 'sgd', learningRate: 0.5, classWeight: { a: 0, b: 0 }, seed: 1 });
  assert.equal(maxAbsDiff(weightValues(m), w0), 0);
  const m2 = denseModel();
  await fit(m2, data, { epochs: 1, optimizer: 'sgd', learningRate: 0.5, classWeight: { a: 0, b: 1 }, seed: 1 });
  assert.ok(maxAbsDiff(weightValues(m2), w0) > 0);
  await assert.rejects(fit(denseModel(), data, { epochs: 1, classWeight: { c: 1 } }), /'c' is not a class/);
  const r = await fit(denseModel(), data, { epochs: 1, classWeight: 'balanced' });
  assert.equal(r.status, 'done');
  tf.dispose([xs, ys]);
});

/**
 * A dense model after one clean epoch of `data` (the reference), and a fresh twin whose loss turns
 * NaN at the `poisonAt`-th batch of its run (4 batches an epoch here).
 */
async function nanAfterOneCleanEpoch(data: Parameters<typeof fit>[1], poisonAt: number): Promise<{ ref: tf.LayersModel; m: tf.LayersModel }> {
  const ref = denseModel();
  ref.compile({ optimizer: 'adam', loss: poisonedLoss().loss });
  await fit(ref, data, { epochs: 1, shuffle: false, seed: 1, optimizer: 'adam', verbose: false });
  const p = poisonedLoss();
  const m = denseModel();
  m.compile({ optimizer: 'adam', loss: p.loss });
  p.arm(poisonAt);
  return { ref, m };
}

test('NaN loss stops training with the epoch and batch named and the weights from the start of that epoch back', async () => {
  const { xs, ys } = blobs(32);
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  // The reference after one clean epoch is where the run below must end up.
  const { ref, m } = await nanAfterOneCleanEpoch(data, 4 + 2); // epoch 2, batch 2
  const r = await fit(m, data, { epochs: 3, shuffle: false, seed: 1, optimizer: 'adam' });
  assert.equal(r.status, 'error');
  assert.match(r.stoppedReason ?? '', /^loss became NaN at epoch 2, batch 2; the weights from the start of epoch 2 are restored and the optimizer starts afresh$/);
  assert.equal(r.history.length, 1, 'the bad epoch leaves no point');
  assert.ok(maxAbsDiff(weightValues(m), weightValues(ref)) < 1e-6, 'weights are those of the start of epoch 2');
  const final = sink.bundles(MIME.training).at(-1) as TrainingRun;
  assert.equal(final.status, 'error');
  assert.match(final.message ?? '', /Training stopped: loss became NaN at epoch 2, batch 2/);
  assert.match((r as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN] as string, /^fit error after 1 epoch\(s\)[^]*\nstopped: loss became NaN at epoch 2, batch 2/);

  // The optimizer's NaN moments went with it: the next fit trains on finite numbers.
  const again = await fit(m, data, { epochs: 2, shuffle: false, seed: 1, verbose: false });
  assert.equal(again.status, 'done');
  assert.ok(weightValues(m).every((w) => w.every(Number.isFinite)));
  tf.dispose([xs, ys]);
});

test('NaN after a better earlier epoch: early stopping puts the best weights back, and the warning says so on one line', async () => {
  const { xs, ys } = blobs(32);
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  // The reference's one clean epoch is the best one below (minDelta larger than any change).
  const { ref, m } = await nanAfterOneCleanEpoch(data, 4 * 2 + 2); // epoch 3, batch 2
  const warned: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void warned.push(a.join(' '));
  let r;
  try {
    r = await fit(m, data, { epochs: 5, shuffle: false, seed: 1, optimizer: 'adam', verbose: false, earlyStopping: { monitor: 'loss', patience: 100, minDelta: 100 } });
  } finally {
    console.warn = warn;
  }
  assert.equal(r.status, 'error');
  assert.equal(r.history.length, 2);
  assert.equal(r.best?.epoch, 1);
  assert.ok(maxAbsDiff(weightValues(m), weightValues(ref)) < 1e-6, 'weights are those of the best epoch (1)');
  assert.match(r.stoppedReason ?? '', /^loss became NaN at epoch 3, batch 2; the weights from the start of epoch 3 are restored and the optimizer starts afresh; then the weights of the best epoch \(1\) are put back$/);
  // What a headless run's cell output shows: one warning line that says training stopped, why, and where the weights are.
  assert.equal(warned.length, 1);
  assert.match(warned[0], /^Training stopped: loss became NaN at epoch 3, batch 2; .* the weights of the best epoch \(1\) are put back\. fit\(\) ends with status 'error' after 2 of 5 epoch\(s\)\. Lower the learning rate/);
  assert.doesNotMatch(warned[0], /\n/);
  const final = sink.bundles(MIME.training).at(-1) as TrainingRun;
  assert.equal(final.status, 'error');
  assert.match(final.message ?? '', /restored the weights of epoch 1 \(best loss [^)]+\)\.[^]*Training stopped: /);

  // Without restoreBest the weights stay those from the start of the bad epoch.
  const p2 = poisonedLoss();
  const m2 = denseModel();
  m2.compile({ optimizer: 'adam', loss: p2.loss });
  p2.arm(4 * 2 + 2);
  const r2 = await fit(m2, data, { epochs: 5, shuffle: false, seed: 1, optimizer: 'adam', verbose: false, earlyStopping: { monitor: 'loss', patience: 100, minDelta: 100, restoreBest: false } });
  assert.doesNotMatch(r2.stoppedReason ?? '', /best epoch/);
  assert.ok(maxAbsDiff(weightValues(m2), weightValues(ref)) > 1e-4, 'weights are those of the start of epoch 3');
  tf.dispose([xs, ys]);
});

test('NaN guard: any loss, a diverging MSE or cross-entropy, and NaN weights behind a finite loss', async () => {
  const { xs, ys } = blobs(32);
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  for (const loss of ['meanSquaredError', 'categoricalCrossentropy']) {
    const m = denseModel();
    const r = await fit(m, data, { epochs: 3, loss, optimizer: 'sgd', learningRate: 1e30, seed: 1, verbose: false });
    assert.equal(r.status, 'error', loss);
    assert.match(r.stoppedReason ?? '', /became (NaN|-?Infinity) at epoch 1/, loss);
    assert.ok(weightValues(m).every((w) => w.every(Number.isFinite)), `${loss}: weights are finite again`);
  }
  // The last step of the only epoch makes the weights NaN after its loss was computed: the loss never shows it.
  const g = nanGradientLoss();
  const m = denseModel();
  m.compile({ optimizer: 'sgd', loss: g.loss });
  const w0 = weightValues(m);
  g.arm(4);
  const r = await fit(m, data, { epochs: 1, shuffle: false, seed: 1, verbose: false });
  assert.equal(r.status, 'error');
  assert.match(r.stoppedReason ?? '', /weight '.+' became NaN or Infinity in epoch 1 while the loss stayed finite; the weights from the start of epoch 1 are restored/);
  assert.equal(maxAbsDiff(weightValues(m), w0), 0);
  tf.dispose([xs, ys]);
});

test('NaN guard on the embedding-cache path: only the head trains, and its weights come back', async () => {
  await clearEmbeddingCache();
  const dir = makeImageFolder({ classes: { red: 6, blue: 6 } });
  const data = await imageFolder(dir, { size: [16, 16], batchSize: 4 });
  const base = tinyConvBase([16, 16, 3]);
  freeze(base);
  const model = withHead(base, { classes: [...data.classes] });
  const p = poisonedLoss();
  model.compile({ optimizer: tf.train.adam(1e-2), loss: p.loss });
  await fit(model, data, { epochs: 1, cacheDir: false, seed: 1, verbose: false });
  const w0 = weightValues(model);
  p.arm(3 + 2); // epoch 2 of 2, batch 2
  const r = await fit(model, data, { epochs: 2, cacheDir: false, seed: 1, shuffle: false, verbose: false });
  assert.ok(r.embeddingCache, 'the head trained on cached embeddings');
  assert.equal(r.status, 'error');
  assert.match(r.stoppedReason ?? '', /loss became NaN at epoch 2, batch 2; the weights from the start of epoch 2 are restored/);
  assert.ok(weightValues(model).every((w) => w.every(Number.isFinite)));
  assert.ok(maxAbsDiff(weightValues(model), w0) > 0, 'epoch 1 of this fit is kept');
});

test('interrupt stops cleanly: status interrupted, InterruptedError, trained weights kept', async () => {
  const { xs, ys } = blobs(64);
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 4 });
  const m = denseModel();
  const w0 = weightValues(m);
  let batches = 0;
  sink.onPost = (msg) => {
    if ((msg as { type: string }).type === 'batch' && ++batches === 5) requestInterrupt();
  };
  await assert.rejects(fit(m, data, { epochs: 50, learningRate: 0.05, batchMessageIntervalMs: 0 }), (e: Error) => e instanceof InterruptedError);
  const final = sink.bundles(MIME.training).at(-1) as TrainingRun;
  assert.equal(final.status, 'interrupted');
  assert.ok(final.batches.length < 16 * 2, 'stopped within the first epochs');
  assert.ok(maxAbsDiff(weightValues(m), w0) > 0, 'keeps what it learned');
  assert.equal(m.stopTraining, false, 'the model can train again');
  clearInterrupt();
  sink.onPost = undefined;
  const again = await fit(m, data, { epochs: 1 });
  assert.equal(again.status, 'done');
  tf.dispose([xs, ys]);
});

async function cachedSetup() {
  const dir = makeImageFolder({ classes: { red: 10, green: 10, blue: 10 }, size: [18, 14], jpeg: true });
  const data = await imageFolder(dir, { size: [16, 16], validationSplit: 0.2, seed: 1, batchSize: 8 });
  const build = () => {
    const base = tinyConvBase([16, 16, 3]);
    freeze(base);
    return withHead(base, { classes: [...data.classes] });
  };
  return { dir, data, build };
}

test('embedding cache: same weights and losses as without it; later epochs and fits skip the base', async () => {
  await clearEmbeddingCache();
  const { dir, data, build } = await cachedSetup();
  const cached = build();
  const plain = build();
  plain.setWeights(cached.getWeights());
  let baseCalls = 0;
  const conv = cached.getLayer('base_conv') as unknown as { call: (i: unknown, k: unknown) => unknown };
  const call = conv.call.bind(conv);
  conv.call = (i, k) => {
    baseCalls++;
    return call(i, k);
  };
  const split = splitAtFrozenBase(cached);
  assert.ok(!('reason' in split));
  assert.equal(split.cutAfter, 'head_pool');
  const cacheDir = tmpDir();
  // The TF.js base is counted here; the ONNX Runtime path has its own test below.
  const r1 = await fit(cached, data, { epochs: 3, seed: 4, learningRate: 0.02, cacheDir, verbose: false, baseEngine: 'tfjs' });
  const r2 = await fit(plain, data, { epochs: 3, seed: 4, learningRate: 0.02, cacheEmbeddings: false, verbose: false });
  assert.ok(r1.embeddingCache, 'the cache was used');
  assert.equal(r1.embeddingCache.computed, 30);
  assert.equal(r1.embeddingCache.baseBatches, 2, 'one pass over train, one over validation');
  assert.equal(baseCalls, 2, 'the base ran only for those two batches, not per epoch');
  assert.equal(r2.embeddingCache, undefined);
  r1.history.forEach((p, i) => {
    assert.ok(Math.abs(p.loss! - r2.history[i].loss!) < 1e-5, `epoch ${i + 1} loss`);
    assert.ok(Math.abs(p.val_loss! - r2.history[i].val_loss!) < 1e-5, `epoch ${i + 1} val_loss`);
  });
  assert.ok(maxAbsDiff(weightValues(cached), weightValues(plain)) < 1e-5, 'same final weights');

  // A second fit reuses everything from memory; after clearing memory, from disk.
  baseCalls = 0;
  const r3 = await fit(cached, data, { epochs: 1, cacheDir, verbose: false });
  assert.deepEqual([r3.embeddingCache?.fromMemory, r3.embeddingCache?.baseBatches, baseCalls], [30, 0, 0]);
  await clearEmbeddingCache();
  const r4 = await fit(cached, data, { epochs: 1, cacheDir, verbose: false });
  assert.deepEqual([r4.embeddingCache?.fromDisk, r4.embeddingCache?.baseBatches, baseCalls], [30, 0, 0]);
  assert.ok(fs.readdirSync(cacheDir).length > 0);

  // Changing a base weight changes the key: the base runs again.
  const bn = cached.getLayer('base_bn');
  bn.setWeights(bn.getWeights().map((w, i) => (i === 0 ? w.mul(2) : w.clone())));
  const r5 = await fit(cached, data, { epochs: 1, cacheDir, verbose: false, baseEngine: 'tfjs' });
  assert.equal(r5.embeddingCache?.computed, 30);
  assert.ok(baseCalls > 0);

  // Another split of the same images finds every sample in the files written for the first split.
  await clearEmbeddingCache();
  baseCalls = 0;
  const resplit = await imageFolder(dir, { size: [16, 16], validationSplit: 0.4, seed: 8, batchSize: 8 });
  const r6 = await fit(cached, resplit, { epochs: 1, cacheDir, verbose: false });
  assert.deepEqual([r6.embeddingCache?.fromDisk, r6.embeddingCache?.computed, baseCalls], [30, 0, 0]);
});

test('embedding cache below unfrozen residual blocks: cut at the last frozen block, same training', async () => {
  await clearEmbeddingCache();
  const dir = makeImageFolder({ classes: { red: 8, green: 8, blue: 8 }, size: [24, 24] });
  const build = () => {
    const base = mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 4, lastFilters: 32, seed: 3 });
    const m = withHead(base, { classes: ['blue', 'green', 'red'] });
    freeze(m);
    // head + Conv_1 + block_4 (a residual block: block_4_add adds block_3's output), BN kept frozen.
    unfreeze(m, { lastBlocks: 3 }, { batchNorm: false });
    return m;
  };
  const cached = build();
  const plain = build();
  plain.setWeights(cached.getWeights());
  const split = splitAtFrozenBase(cached);
  assert.ok(!('reason' in split), 'reason' in split ? split.reason : '');
  assert.equal(split.cutAfter, 'block_3_project_BN');
  assert.ok(split.headLayers.some((l) => l.name === 'block_4_add'));
  const data = await imageFolder(dir, { model: cached, batchSize: 8 });
  const r1 = await fit(cached, data, { epochs: 2, seed: 2, learningRate: 0.01, cacheDir: false, verbose: false });
  const r2 = await fit(plain, data, { epochs: 2, seed: 2, learningRate: 0.01, cacheEmbeddings: false, verbose: false });
  assert.equal(r1.embeddingCache?.computed, 24);
  r1.history.forEach((p, i) => assert.ok(Math.abs(p.loss! - r2.history[i].loss!) < 1e-4, `epoch ${i + 1}: ${p.loss} vs ${r2.history[i].loss}`));
  assert.ok(maxAbsDiff(weightValues(cached), weightValues(plain)) < 1e-4);
});

test('embedding cache is off with augmentation or an unfrozen base, and says why', async () => {
  const { dir, build } = await cachedSetup();
  const aug = await imageFolder(dir, { size: [16, 16], augment: { flip: true }, batchSize: 8 });
  const logs: string[] = [];
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  try {
    const r = await fit(build(), aug, { epochs: 1 });
    assert.equal(r.embeddingCache, undefined);
    assert.match(r.cacheSkippedReason ?? '', /augmentation/);
    assert.ok(logs.some((l) => /embedding cache off: augmentation/.test(l)));
    const final = sink.bundles(MIME.training).at(-1) as TrainingRun;
    assert.match(final.message ?? '', /embedding cache off/);
  } finally {
    console.log = log;
  }
  const unfrozen = withHead(tinyConvBase([16, 16, 3]), { classes: 3 });
  const split = splitAtFrozenBase(unfrozen);
  assert.ok('reason' in split && /trainable/.test(split.reason));
  const withDropout = withHead((() => {
    const b = tinyConvBase([16, 16, 3]);
    freeze(b);
    return b;
  })(), { classes: 3, dropout: 0.5 });
  const s2 = splitAtFrozenBase(withDropout);
  assert.ok(!('reason' in s2));
  assert.deepEqual(s2.headLayers.map((l) => l.getClassName()), ['Dropout', 'Dense'], 'dropout stays in the trained head');
});

test('fineTune: head phase, then top blocks unfrozen at a lower rate with BatchNorm kept frozen', async () => {
  await clearEmbeddingCache();
  const { data, build } = await cachedSetup();
  const model = build();
  const r = await fineTune(model, data, { headEpochs: 2, fineTuneEpochs: 2, unfreezeBlocks: 1, learningRate: 0.01, seed: 1, verbose: false, cacheDir: false });
  assert.equal(r.head.history.length, 2);
  assert.equal(r.fineTune.history.length, 2);
  assert.ok(r.head.embeddingCache, 'the head phase trains on cached embeddings');
  // Phase 2 caches below the unfrozen block: the frozen conv + BN (inference mode) still never change.
  assert.equal(r.fineTune.embeddingCache?.computed, 30);
  assert.equal(splitAtFrozenBase(model) && (splitAtFrozenBase(model) as { cutAfter: string }).cutAfter, 'base_relu');
  assert.ok(Math.abs(r.fineTune.history[0].lr! - 0.001) < 1e-12);
  assert.ok(r.unfrozen.includes('base_dw'));
  assert.equal(model.getLayer('base_dw').trainable, true);
  assert.equal(model.getLayer('base_bn').trainable, false);
  assert.equal(model.getLayer('base_conv').trainable, false);
  const runs = sink.bundles(MIME.training) as TrainingRun[];
  const phases = [...new Set(runs.map((x) => `${x.runId}:${x.phase}`))].map((s) => s.split(':')[1]);
  assert.deepEqual(phases, ['head', 'fine-tune']);
});

test('fit refuses graph models and bad options with clear errors', async () => {
  const graphLike = Object.create(tf.GraphModel.prototype) as tf.GraphModel;
  await assert.rejects(fit(graphLike as unknown as tf.LayersModel, {}), /graph/i);
  const { xs, ys } = blobs(8);
  const data = fromTensors(xs, ys, { classes: ['a', 'b'] });
  await assert.rejects(fit(denseModel(), data, { epochs: 0 }), /epochs must be a positive whole number/);
  await assert.rejects(fit(denseModel(), xs), /wrap tensors with tl.fromTensors/);
  await assert.rejects(fit(denseModel(), data, { earlyStopping: { monitor: 'val_loss' } }), /without validation data/);
  tf.dispose([xs, ys]);
});

test('embedding cache with the base in ONNX Runtime (the default): same training as with TF.js, and it says so', async () => {
  await clearEmbeddingCache();
  const { data, build } = await cachedSetup();
  const viaOrt = build();
  const viaTf = build();
  viaTf.setWeights(viaOrt.getWeights());
  const a = await fit(viaOrt, data, { epochs: 3, seed: 4, learningRate: 0.02, cacheDir: false, verbose: false });
  await clearEmbeddingCache();
  const b = await fit(viaTf, data, { epochs: 3, seed: 4, learningRate: 0.02, cacheDir: false, verbose: false, baseEngine: 'tfjs' });
  assert.match(a.embeddingCache?.engine ?? '', /^onnxruntime \(cpu\)/);
  assert.match(b.embeddingCache?.engine ?? '', /^tfjs/);
  a.history.forEach((p, i) => assert.ok(Math.abs(p.loss! - b.history[i].loss!) < 1e-4, `epoch ${i + 1}: ${p.loss} vs ${b.history[i].loss}`));
  assert.ok(maxAbsDiff(weightValues(viaOrt), weightValues(viaTf)) < 1e-4, 'same final weights');

  // Changed base weights: the ONNX session is rebuilt, so the features are the new ones.
  const bn = viaOrt.getLayer('base_bn');
  bn.setWeights(bn.getWeights().map((w, i) => (i === 0 ? w.mul(3) : w.clone())));
  viaTf.getLayer('base_bn').setWeights(bn.getWeights());
  await clearEmbeddingCache();
  const c = await fit(viaOrt, data, { epochs: 1, seed: 5, learningRate: 0.02, cacheDir: false, verbose: false });
  await clearEmbeddingCache();
  const d = await fit(viaTf, data, { epochs: 1, seed: 5, learningRate: 0.02, cacheDir: false, verbose: false, baseEngine: 'tfjs' });
  assert.ok(Math.abs(c.history[0].loss! - d.history[0].loss!) < 1e-4, `after the change: ${c.history[0].loss} vs ${d.history[0].loss}`);
});

test('review fixes: schedules hand the rate back, optimizers are not leaked, Keras monitor names, class weights by index', async () => {
  const { xs, ys } = blobs(32, 2);
  const data = fromTensors(xs, ys, { classes: ['left', 'right'], validationSplit: 0.25, batchSize: 8 });
  const model = denseModel(5);
  await fit(model, data, { epochs: 2, learningRate: 0.05, seed: 1, verbose: false, schedule: { type: 'cosine' } });
  assert.equal(getLearningRate(model.optimizer), 0.05, 'the base rate is back after a cosine schedule');
  const again = await fit(model, data, { epochs: 1, seed: 1, verbose: false });
  assert.equal(again.history[0].lr, 0.05);

  // A new optimizer per fit replaces the one before it, which is disposed.
  await fit(model, data, { epochs: 1, optimizer: 'adam', seed: 1, verbose: false });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await fit(model, data, { epochs: 1, optimizer: 'adam', seed: 1, verbose: false });
  assert.equal(tf.memory().numTensors, before);

  const r = await fit(model, data, { epochs: 3, seed: 1, verbose: false, earlyStopping: { monitor: 'val_accuracy', patience: 5 } });
  assert.equal(r.best?.monitor, 'val_acc');
  await assert.rejects(fit(model, data, { epochs: 1, verbose: false, earlyStopping: { monitor: 'val_f1' } }), /cannot monitor 'val_f1'/);
  await assert.rejects(fit(model, data, { epochs: 1, verbose: false, classWeight: [1, 2, 3] }), /3 weights for 2 classes/);
  model.dispose();

  // Classes named by digits in an order that is not their index: a list still goes by index.
  const d2 = fromTensors(xs, ys, { classes: ['1', '0'], batchSize: 8 });
  const favour0 = denseModel(7);
  await fit(favour0, d2, { epochs: 6, learningRate: 0.05, seed: 1, verbose: false, classWeight: [1, 0] });
  const p = tf.tidy(() => (favour0.predict(xs) as tf.Tensor).mean(0).arraySync() as number[]);
  assert.ok(p[0] > p[1], `index 0 is favoured: ${p}`);
  favour0.dispose();
  tf.dispose([xs, ys]);
});

test("an interrupt of one cell's run does not stop another run's fit", async () => {
  const { inCellRun, requestInterrupt: interruptRun } = await import('../../src/tl/output');
  const { xs, ys } = blobs(64, 3);
  const data = fromTensors(xs, ys, { classes: ['left', 'right'], batchSize: 4 });
  const a = denseModel(11);
  const b = denseModel(12);
  let batchesA = 0;
  const fitA = inCellRun(1, 'cell-a', () => fit(a, data, { epochs: 3, seed: 1, verbose: false, batchMessageIntervalMs: 0 }));
  const fitB = inCellRun(2, 'cell-b', () => fit(b, data, { epochs: 3, seed: 1, verbose: false }));
  sink.onPost = (m) => {
    if ((m as { type: string; runId: string }).type === 'batch' && ++batchesA === 3) interruptRun(2);
  };
  const [ra, rb] = await Promise.allSettled([fitA, fitB]);
  assert.equal(ra.status, 'fulfilled', 'fit A was not interrupted');
  assert.equal(rb.status, 'rejected');
  assert.ok(rb.status === 'rejected' && rb.reason instanceof InterruptedError);
  [a, b].forEach((m) => m.dispose());
  tf.dispose([xs, ys]);
});
