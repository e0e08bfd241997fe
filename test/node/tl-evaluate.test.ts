import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_PLAIN } from '../../src/common/mime';
import type { ConfusionData } from '../../src/common/shapes';
import { DISPLAY_SYMBOL, type Displayable } from '../../src/common/display';
import { fromTensors, imageFolder } from '../../src/tl/data';
import { evaluate, predict, type Prediction } from '../../src/tl/evaluate';
import { setMeta, PREPROCESS_UNIT } from '../../src/tl/models/meta';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { makeImageFolder, RecordingSink } from './tl-helpers';

let sink: RecordingSink;
const outside = getOutputSink();
beforeEach(() => {
  sink = new RecordingSink();
  setOutputSink(sink);
});
afterEach(() => setOutputSink(outside));

/** softmax(10·x): predicts the index of the largest input. */
function argmaxModel(): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 3, activation: 'softmax' })] });
  m.layers[0].setWeights([tf.eye(3).mul(10), tf.zeros([3])]);
  return m;
}

test('evaluate: confusion matrix, per-class metrics, loss, and the confusion output', async () => {
  const model = argmaxModel();
  setMeta(model, { name: 'argmax', source: 'code', format: 'layers', classes: ['cat', 'dog', 'fox'] });
  // True labels by model index, and inputs that make the predictions below.
  const truth = [0, 0, 0, 1, 1, 2, 2, 2];
  const predicted = [0, 0, 1, 1, 1, 2, 0, 2];
  const xs = tf.tidy(() => tf.oneHot(tf.tensor1d(predicted, 'int32'), 3).toFloat());
  // The data names its classes in another order: evaluate matches them by name.
  const dataClasses = ['fox', 'cat', 'dog'];
  const ys = tf.tensor1d(truth.map((t) => dataClasses.indexOf(['cat', 'dog', 'fox'][t])), 'int32');
  const data = fromTensors(xs, ys, { classes: dataClasses, batchSize: 3 });
  const before = tf.memory().numTensors;
  const r = await evaluate(model, data);
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.deepEqual(r.confusion.classes, ['cat', 'dog', 'fox']);
  assert.deepEqual(r.confusion.matrix, [
    [2, 1, 0],
    [0, 2, 0],
    [1, 0, 2],
  ]);
  assert.equal(r.accuracy, 6 / 8);
  assert.equal(r.samples, 8);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);
  const [cat, dog, fox] = r.perClass;
  close(cat.precision, 2 / 3);
  close(cat.recall, 2 / 3);
  close(dog.precision, 2 / 3);
  close(dog.recall, 1);
  close(dog.f1, 0.8);
  close(fox.precision, 1);
  close(fox.recall, 2 / 3);
  assert.deepEqual(r.perClass.map((c) => c.support), [3, 2, 3]);
  // Loss: mean −log p(true), with p = softmax(10·onehot): e^10/(e^10+2) when right, 1/(e^10+2) when wrong.
  const right = Math.exp(10) / (Math.exp(10) + 2);
  const wrong = 1 / (Math.exp(10) + 2);
  const expected = -(6 * Math.log(right) + 2 * Math.log(wrong)) / 8;
  assert.ok(Math.abs(r.loss - expected) / expected < 1e-6, `loss ${r.loss} ≈ ${expected} (float32 probabilities)`);
  // Agrees with tfjs's own loss on the same predictions.
  const tfLoss = tf.tidy(() => tf.metrics.categoricalCrossentropy(tf.oneHot(tf.tensor1d(truth, 'int32'), 3).toFloat(), model.predict(xs) as tf.Tensor).mean().dataSync()[0]);
  assert.ok(Math.abs(r.loss - tfLoss) < 1e-4);

  const shown = sink.events.find((e) => e.kind === 'display')?.data as Record<string, unknown>;
  const c = shown[MIME.confusion] as ConfusionData;
  assert.equal(c.kind, 'confusion');
  assert.deepEqual(c.matrix, r.confusion.matrix);
  const text = shown[TEXT_PLAIN] as string;
  assert.match(text, /accuracy 0\.7500, loss/);
  assert.match(text, /rows: true, columns: predicted/);
  assert.match(text, /^dog\s+0\.6667\s+1\.0000\s+0\.8000\s+2$/m);
  assert.equal((r as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN], 'accuracy 0.7500, loss 2.5001 on 8 samples');
  tf.dispose([xs, ys]);
});

test('evaluate: names a data label the model does not know; uses the validation split', async () => {
  const model = argmaxModel();
  setMeta(model, { name: 'argmax', source: 'code', format: 'layers', classes: ['cat', 'dog', 'fox'] });
  const xs = tf.eye(3);
  const ys = tf.tensor1d([0, 1, 2], 'int32');
  await assert.rejects(evaluate(model, fromTensors(xs, ys, { classes: ['cat', 'dog', 'wolf'] })), /label 'wolf' is not one of the model's classes/);
  const xs2 = tf.tidy(() => tf.tile(tf.eye(3), [4, 1]));
  const ys2 = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32');
  const split = fromTensors(xs2, ys2, { classes: ['cat', 'dog', 'fox'], validationSplit: 0.25 });
  const r = await evaluate(model, split, { display: false });
  assert.equal(r.samples, 3);
  assert.equal(r.accuracy, 1);
  assert.equal(sink.events.length, 0);
  tf.dispose([xs, ys, xs2, ys2]);
});

test('predict: top-k labels for image files and pixel tensors, with the model preprocessing', async () => {
  const dir = makeImageFolder({ classes: { red: 2, green: 2, blue: 2 }, size: [24, 20], jpeg: true });
  // Mean colour per channel → softmax(20·mean): the dominant colour wins.
  const inp = tf.input({ shape: [8, 8, 3] });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(inp) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 3, activation: 'softmax' });
  const model = tf.model({ inputs: inp, outputs: dense.apply(pooled) as tf.SymbolicTensor });
  dense.setWeights([tf.eye(3).mul(20), tf.zeros([3])]);
  setMeta(model, { name: 'colour', source: 'code', format: 'layers', classes: ['red', 'green', 'blue'], inputSize: [8, 8], preprocessing: PREPROCESS_UNIT });
  const files = ['red', 'green', 'blue'].map((c) => path.join(dir, c, fs.readdirSync(path.join(dir, c))[0]));
  const before = tf.memory().numTensors;
  const out = await predict(model, files, { topK: 2 });
  assert.deepEqual(out.map((p) => p[0].label), ['red', 'green', 'blue']);
  for (const p of out) {
    assert.equal(p.length, 2);
    assert.ok(p[0].probability >= p[1].probability);
    assert.ok(p[0].probability + p[1].probability <= 1 + 1e-6);
  }
  const one = await predict(model, files[2]);
  assert.equal(one.length, 3);
  assert.equal(one[0].label, 'blue');
  assert.equal(one[0].index, 2);
  // A raw pixel tensor of another size is resized and scaled like the files.
  const green = tf.tidy(() => tf.stack([tf.fill([30, 40], 30), tf.fill([30, 40], 200), tf.fill([30, 40], 50)], 2));
  const fromTensor = (await predict(model, green, { topK: 1 })) as Prediction[];
  assert.deepEqual(fromTensor.map((p) => p.label), ['green']);
  green.dispose();
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(predict(model, path.join(dir, 'nope.png')), /cannot read .*nope\.png/);

  // Files the folder loader decodes give the same answers as predict.
  const data = await imageFolder(dir, { model });
  const r = await evaluate(model, data, { display: false });
  assert.equal(r.accuracy, 1);
});
