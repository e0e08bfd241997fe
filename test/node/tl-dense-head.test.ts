/**
 * The fused loop for Dense heads on wasm (src/tl/train/denseHead/) trains as tfjs's fitDataset
 * does: the same weights, batch and epoch logs, validation metrics and callback calls, for one-hot
 * and sparse labels, with and without class weights and seeded Dropout; it stops where a callback
 * stops training, checks the batch shapes, trains the head tl.fit builds on cached embeddings,
 * leaks no tensors, and leaves every other model to tfjs. The reference runs fitDataset on the
 * cpu backend with tfjs's own Adam, so it shares no kernel with the fused path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradients } from '../../src/tl/wasm-grads';
import { fromArrays } from '../../src/tl/data';
import { fit, lrFind } from '../../src/tl/train';
import { TrainingState, type BatchEnd, type EpochEnd, type TrainingCallback } from '../../src/tl/train/callbacks/callback';
import { Progress } from '../../src/tl/train/callbacks/progress';
import { toTfDataset } from '../../src/tl/train/dataset';
import { fitLoop } from '../../src/tl/train/fitLoop';
import { makeOptimizer } from '../../src/tl/train/optimizers';
import { denseChain, type DenseChain } from '../../src/tl/train/denseHead/chain';
import { DenseChainStep } from '../../src/tl/train/denseHead/step';
import { softmaxCrossEntropy } from '../../src/tl/train/denseHead/loss';
import { withHead } from '../../src/tl/heads';
import type { LabelMode } from '../../src/tl/train/compile';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { RecordingSink } from './tl-helpers';

const outside = getOutputSink();
before(async () => {
  setOutputSink(new RecordingSink());
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  registerWasmGradients();
  assert.ok(await tf.setBackend('wasm'));
});
after(async () => {
  setOutputSink(outside);
  await tf.setBackend('cpu');
});

const N = 45;
const D = 24;
const CLASSES = ['a', 'b', 'c'];

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  });
}
const X = values(N * D, 3);
const LABELS = Array.from({ length: N }, (_, i) => (X[i * D] > 0.3 ? 2 : X[i * D + 1] > 0 ? 1 : 0));

function head(dropout = 0, loss = 'categoricalCrossentropy', dropoutSeed?: number): tf.Sequential {
  let seed = 5;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const layers: tf.layers.Layer[] = [tf.layers.dense({ inputShape: [D], units: 16, activation: 'relu', kernelInitializer: init() })];
  if (dropout) layers.push(tf.layers.dropout({ rate: dropout, seed: dropoutSeed }));
  layers.push(tf.layers.dense({ units: 8, kernelInitializer: init() }), tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init() }));
  const m = tf.sequential({ layers });
  m.compile({ optimizer: makeOptimizer('adam', 0.02), loss, metrics: ['accuracy'] });
  return m;
}

type Event = [string, ...number[]];

class Recorder implements TrainingCallback {
  events: Event[] = [];
  constructor(private readonly stopAt?: [number, number], private readonly state?: TrainingState) {}
  onEpochBegin(epoch: number): void {
    this.events.push(['epochBegin', epoch]);
  }
  onBatchBegin(epoch: number, batch: number): void {
    this.events.push(['batchBegin', epoch, batch]);
  }
  onBatchEnd(e: BatchEnd): void {
    this.events.push(['batchEnd', e.epoch, e.batch, e.size, e.logs.loss, e.logs.acc]);
    if (this.stopAt && e.epoch === this.stopAt[0] && e.batch === this.stopAt[1]) this.state?.stop();
  }
  onEpochEnd(e: EpochEnd): void {
    const l = e.logs;
    this.events.push(['epochEnd', e.epoch, l.loss, l.acc, ...(l.val_loss !== undefined ? [l.val_loss, l.val_acc] : [])]);
  }
}

interface RunOptions {
  mode?: LabelMode;
  stopAt?: [number, number];
  validation?: boolean;
  classWeight?: Record<number, number>;
  dropoutSeed?: number;
  width?: number;
}

/**
 * Trains a fresh head through fitLoop: fused (on wasm, with a label mode) or as the reference
 * (fitDataset on the cpu backend, tfjs's own Adam).
 */
async function trainThrough(fused: boolean, opts: RunOptions = {}) {
  if (!fused) await tf.setBackend('cpu');
  try {
    return await trainOnce(fused, opts);
  } finally {
    await tf.setBackend('wasm');
  }
}

async function trainOnce(fused: boolean, opts: RunOptions) {
  const mode = opts.mode ?? 'onehot';
  const model = head(opts.dropoutSeed === undefined ? 0 : 0.3, mode === 'sparse' ? 'sparseCategoricalCrossentropy' : 'categoricalCrossentropy', opts.dropoutSeed);
  if (!fused) model.compile({ optimizer: tf.train.adam(0.02), loss: model.loss, metrics: ['accuracy'] });
  const width = opts.width ?? D;
  const xs = width === D ? X : values(N * width, 3);
  const data = fromArrays(xs, [width], LABELS, { classes: CLASSES, batchSize: 10, validationSplit: opts.validation ? 0.2 : 0, seed: 4 });
  const state = new TrainingState(model, 3, 10);
  state.trainOn(model, data.train.size);
  const progress = new Progress(state);
  const rec = new Recorder(opts.stopAt, state);
  const train = toTfDataset(data.train, 10, mode, false, () => 0, false);
  const validation = data.validation ? toTfDataset(data.validation, 10, mode, false, () => 0, false) : undefined;
  await fitLoop(state, { train, validation, classWeight: opts.classWeight, mode: fused ? mode : undefined }, progress, [progress, rec]);
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
  model.optimizer.dispose();
  model.dispose();
  return { weights, events: rec.events };
}

/** Records the names of the models tfjs's fitDataset trains until the test ends. */
function spyOnFitDataset(t: { after(fn: () => void): void }): string[] {
  const proto = tf.LayersModel.prototype as unknown as { fitDataset: (...a: unknown[]) => unknown };
  const original = proto.fitDataset;
  const trained: string[] = [];
  proto.fitDataset = function (this: tf.LayersModel, ...a: unknown[]) {
    trained.push(this.name);
    return original.apply(this, a);
  };
  t.after(() => {
    proto.fitDataset = original;
  });
  return trained;
}

function assertClose(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  const scale = Math.max(1e-3, ...b.map(Math.abs));
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol * scale, `${what}[${i}]: ${x} vs ${b[i]}`));
}

function assertSameRun(fused: { weights: number[][]; events: Event[] }, tfjs: { weights: number[][]; events: Event[] }): void {
  assert.deepEqual(fused.events.map((e) => e.slice(0, e[0] === 'batchEnd' ? 4 : 3).filter((x) => typeof x === 'string' || Number.isInteger(x))), tfjs.events.map((e) => e.slice(0, e[0] === 'batchEnd' ? 4 : 3).filter((x) => typeof x === 'string' || Number.isInteger(x))));
  fused.events.forEach((e, i) => assertClose(e.slice(1) as number[], tfjs.events[i].slice(1) as number[], 2e-5, `event ${i} (${e[0]})`));
  fused.weights.forEach((w, i) => assertClose(w, tfjs.weights[i], 2e-5, `weight ${i}`));
}

test('the chain loop is chosen for a Dense head on wasm, and says why not for anything else', () => {
  const ok = denseChain(head(0.25), 'onehot');
  assert.ok(typeof ok !== 'string', String(ok));
  assert.deepEqual(ok.links.map((l) => [l.activation, l.dropout]), [['relu', 0.25], ['linear', 0], ['softmax', 0]]);
  assert.match(denseChain(head(), 'sparse') as string, /loss is categoricalCrossentropy/);
  const conv = tf.sequential({ layers: [tf.layers.dense({ inputShape: [D], units: 4 }), tf.layers.batchNormalization({}), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  conv.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  assert.match(denseChain(conv, 'onehot') as string, /BatchNormalization/);
  const reg = tf.sequential({ layers: [tf.layers.dense({ inputShape: [D], units: 3, activation: 'softmax', kernelRegularizer: tf.regularizers.l2() })] });
  reg.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  assert.match(denseChain(reg, 'onehot') as string, /kernelRegularizer/);
  const frozen = head();
  frozen.layers[0].trainable = false;
  frozen.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  assert.match(denseChain(frozen, 'onehot') as string, /frozen/);
  const sigmoid = tf.sequential({ layers: [tf.layers.dense({ inputShape: [D], units: 3, activation: 'sigmoid' })] });
  sigmoid.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  assert.match(denseChain(sigmoid, 'onehot') as string, /activation is sigmoid/);
  [conv, reg, frozen, sigmoid].forEach((m) => m.dispose());
});

test('one-hot labels with validation: the same weights, logs and callback calls as fitDataset', async () => {
  const fused = await trainThrough(true, { validation: true });
  const tfjs = await trainThrough(false, { validation: true });
  assert.equal(fused.events.filter((e) => e[0] === 'epochEnd').length, 3);
  assert.equal(fused.events.find((e) => e[0] === 'epochEnd')?.length, 6, 'val_loss and val_acc are logged');
  assertSameRun(fused, tfjs);
});

test('sparse labels: the same weights and logs as fitDataset', async () => {
  assertSameRun(await trainThrough(true, { mode: 'sparse' }), await trainThrough(false, { mode: 'sparse' }));
});

test('seeded Dropout draws the same masks as tfjs, so the run matches fitDataset', async () => {
  assertSameRun(await trainThrough(true, { dropoutSeed: 7, validation: true }), await trainThrough(false, { dropoutSeed: 7, validation: true }));
});

test('a batch whose width or labels do not fit the head is refused, naming the shapes', async () => {
  await assert.rejects(trainThrough(true, { width: D + 4 }), /expected the head's input to have shape \[null,24\].*shape \[10,28\]/);
  const model = head();
  const chain = denseChain(model, 'onehot') as DenseChain;
  const step = new DenseChainStep(chain, model.trainableWeights.map((w) => (w.read() as tf.Variable).name));
  const xs = tf.zeros([4, D]);
  const ys = tf.zeros([4, 4]);
  assert.throws(() => step.train(xs, ys, model.optimizer), /expected shape \[4,3\] but got \[4,4\]/);
  tf.dispose([xs, ys]);
  model.dispose();
});

test('sparse labels that are not whole numbers: the loss floors them, accuracy and class weights take them as given (as tfjs)', () => {
  const logits = new Float32Array([0, 5, 0, 0, 5, 0]);
  const r = softmaxCrossEntropy(logits, new Float32Array([1.5, 1]), 2, 3, true);
  assert.equal(r.acc, 0.5, 'label 1.5 matches no class; label 1 matches');
  const whole = softmaxCrossEntropy(logits, new Float32Array([1, 1]), 2, 3, true);
  assert.ok(Math.abs(r.loss - whole.loss) < 1e-12, 'the loss floors 1.5 to 1');
  assert.throws(() => softmaxCrossEntropy(logits, new Float32Array([1.5, 1]), 2, 3, true, { 0: 1, 1: 1, 2: 1 }), /class 1.5 exists in the data but not in classWeight/);
});

test('class weights scale each row as in fitDataset (one-hot and sparse), and a class without a weight is refused', async () => {
  const classWeight = { 0: 0.5, 1: 3, 2: 1.25 };
  assertSameRun(await trainThrough(true, { classWeight, validation: true }), await trainThrough(false, { classWeight, validation: true }));
  assertSameRun(await trainThrough(true, { classWeight, mode: 'sparse' }), await trainThrough(false, { classWeight, mode: 'sparse' }));
  await assert.rejects(trainThrough(true, { classWeight: { 0: 1, 1: 1 } }), /classWeight must contain all classes.*class 2 exists in the data/);
});

test('a callback that stops training ends the fit after that batch, unvalidated, as in fitDataset', async () => {
  const fused = await trainThrough(true, { stopAt: [1, 1], validation: true });
  const tfjs = await trainThrough(false, { stopAt: [1, 1], validation: true });
  assertSameRun(fused, tfjs);
  assert.deepEqual(fused.events.at(-2)?.slice(0, 3), ['batchEnd', 1, 1]);
  assert.equal(fused.events.at(-1)?.[0], 'epochEnd');
  assert.equal(fused.events.at(-1)?.length, 4, 'the stopped epoch has no val_loss or val_acc');
});

test('tl.fit trains the head of a withHead model with a frozen base on its cached embeddings through the chain loop', async (t) => {
  const base = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] });
  const model = withHead(base, { classes: 3, hidden: 16, cutAt: 'conv' });
  model.layers.forEach((l) => {
    if (l.name === 'conv') l.trainable = false;
  });
  const trained = spyOnFitDataset(t);
  const data = fromArrays(values(30 * 8 * 8 * 3, 9), [8, 8, 3], Array.from({ length: 30 }, (_, i) => i % 3), { classes: CLASSES, batchSize: 8 });
  const r = await fit(model, data, { epochs: 2, verbose: false });
  assert.equal(r.status, 'done');
  assert.ok(r.embeddingCache, 'the embedding cache was used');
  assert.deepEqual(trained, [], 'fitDataset did not train the head');
  model.dispose();
});

test('tl.fit trains a Dense head with Dropout through the chain loop: it learns, leaks nothing, and a regularized head goes to tfjs', async (t) => {
  const model = head(0.2);
  const data = fromArrays(X, [D], LABELS, { classes: CLASSES, batchSize: 8 });
  const tfjsFits = spyOnFitDataset(t);
  await fit(model, data, { epochs: 1, verbose: false });
  const before = tf.memory().numTensors;
  const r = await fit(model, data, { epochs: 40, verbose: false, learningRate: 0.02 });
  assert.equal(tf.memory().numTensors, before, 'no tensor is left behind by 40 epochs');
  const last = r.history.at(-1);
  assert.ok(last && last.acc !== undefined && last.acc > 0.85, `it learns: accuracy ${last?.acc}`);
  assert.ok((last?.loss ?? 9) < r.history[0].loss!, 'the loss falls');
  assert.equal(tfjsFits.length, 0, 'tfjs fitDataset did not run');
  const weighted = await fit(model, data, { epochs: 1, verbose: false, classWeight: { 0: 1, 1: 2, 2: 1 } });
  assert.equal(weighted.status, 'done');
  assert.equal(tfjsFits.length, 0, 'class weights train through the chain loop too');
  model.optimizer.dispose();
  model.dispose();
  const reg = tf.sequential({ layers: [tf.layers.dense({ inputShape: [D], units: 3, activation: 'softmax', kernelRegularizer: tf.regularizers.l2() })] });
  const r2 = await fit(reg, data, { epochs: 2, verbose: false });
  assert.equal(r2.status, 'done');
  assert.equal(tfjsFits.length, 1, 'a head with a regularizer trains through fitDataset');
  reg.optimizer.dispose();
  reg.dispose();
});

test("Dropout: the step drops and scales as tfjs's Dropout does, and its gradients are tfjs's for the same mask", () => {
  const model = head(0.5);
  const chain = denseChain(model, 'onehot') as DenseChain;
  const rows = 10;
  const us = Array.from(values(rows * 16, 77), (v) => (v + 1) / 2);
  let k = 0;
  const draws = (shape: [number, number]) => {
    k += shape[0] * shape[1];
    return Float32Array.from(us.slice(0, shape[0] * shape[1]));
  };
  const step = new DenseChainStep(chain, model.trainableWeights.map((w) => (w.read() as tf.Variable).name), draws);
  const xs = tf.tensor2d(X.slice(0, rows * D), [rows, D]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(LABELS.slice(0, rows), 'int32'), 3).toFloat());
  const start = model.getWeights().map((w) => w.clone());
  const sgd = tf.train.sgd(1);
  const r = step.train(xs, ys, sgd);
  assert.equal(k, rows * 16, 'one draw per unit of the Dense layer before the Dropout');
  const applied = model.getWeights().map((w, i) => Array.from(tf.tidy(() => tf.sub(start[i], w)).dataSync()));
  model.setWeights(start);
  // tfjs's Dropout: floor(u + keep) / keep, keep = 1 − rate.
  const mask = tf.tidy(() => tf.div(tf.floor(tf.add(tf.tensor2d(us, [rows, 16]), 0.5)), 0.5));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const [w1, b1, w2, b2, w3, b3] = vars;
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const h1 = tf.mul(tf.relu(tf.add(tf.matMul(xs, w1), b1)), mask);
      const h2 = tf.add(tf.matMul(h1, w2), b2);
      const p = tf.softmax(tf.add(tf.matMul(h2, w3), b3));
      return tf.mean(tf.metrics.categoricalCrossentropy(ys, p));
    }),
  vars);
  assertClose([r.loss], [value.dataSync()[0]], 1e-5, 'loss');
  vars.forEach((v, i) => assertClose(applied[i], Array.from(grads[v.name].dataSync()), 1e-4, `gradient of ${v.name}`));
  tf.dispose([xs, ys, mask, value, ...Object.values(grads), ...start]);
  sgd.dispose();
  model.dispose();
});

test('lrFind sweeps a Dense head through the chain loop and puts its weights back', async (t) => {
  const model = head();
  const data = fromArrays(X, [D], LABELS, { classes: CLASSES, batchSize: 8 });
  const tfjsFits = spyOnFitDataset(t);
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const r = await lrFind(model, data, { steps: 30, verbose: false });
  assert.equal(tfjsFits.length, 0, 'fitDataset did not run');
  assert.ok(r.lrs.length >= 5, `the sweep made ${r.lrs.length} steps`);
  assert.equal(r.losses.length, r.lrs.length, 'one loss per rate');
  assert.deepEqual(model.getWeights().map((w) => Array.from(w.dataSync())), before);
  model.dispose();
});
