/**
 * On the WASM backend (the default where no native TensorFlow loads) clipByValue turns NaN into its
 * lower bound, so a softmax head's cross-entropy stays finite (−log 1e-7 ≈ 16.1) while every weight is
 * NaN: the loss alone cannot tell. The NaN guard's weight check does.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { fromTensors } from '../../src/tl/data';
import { fit } from '../../src/tl/train';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { nanGradientLoss, RecordingSink, weightValues } from './tl-helpers';

const outside = getOutputSink();
before(async () => {
  setOutputSink(new RecordingSink());
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  assert.ok(await tf.setBackend('wasm'));
});
after(async () => {
  setOutputSink(outside);
  await tf.setBackend('cpu');
});

test('WASM: NaN weights behind a finite softmax cross-entropy stop training and come back', async () => {
  const clipped = tf.tidy(() => tf.metrics.categoricalCrossentropy(tf.tensor2d([[1, 0]]), tf.softmax(tf.tensor2d([[NaN, 1]]))).dataSync()[0]);
  assert.ok(Number.isFinite(clipped), 'the loss of a NaN prediction is finite here');

  const n = 32;
  const xs = tf.tidy(() => tf.randomNormal([n, 4], 0, 1, 'float32', 5));
  const ys = tf.tensor1d([...Array(n).keys()].map((i) => i % 2), 'int32');
  const data = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 8 });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const g = nanGradientLoss();
  model.compile({ optimizer: 'sgd', loss: g.loss });
  await fit(model, data, { epochs: 1, shuffle: false, verbose: false });
  const atStart = weightValues(model);
  g.arm(1); // the first step of the next fit makes every weight NaN; the three after it see a finite loss
  const r = await fit(model, data, { epochs: 2, shuffle: false, verbose: false, batchMessageIntervalMs: 0 });
  assert.equal(r.status, 'error');
  assert.match(r.stoppedReason ?? '', /weight '.+' became NaN or Infinity in epoch 1 while the loss stayed finite; the weights from the start of epoch 1 are restored/);
  assert.deepEqual(weightValues(model), atStart);
  tf.dispose([xs, ys]);
});
