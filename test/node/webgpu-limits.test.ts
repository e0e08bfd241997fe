/** WebGPU binding limits: how many samples fit, and the message a too-big tensor gives. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { mobileNetV2Like } from '../../src/tl/builders';
import { explainWebGpuError, largestActivation, maxBatchUnder } from '../../src/tl/gpu';

test("MobileNetV2 at 224 px: block_1's padded expansion decides, 27 samples fit under llvmpipe's 128 MiB", async () => {
  await tf.setBackend('cpu');
  const m = mobileNetV2Like({ inputSize: 224, seed: 1 });
  const big = largestActivation(m);
  assert.deepEqual(big, { bytes: 113 * 113 * 96 * 4, layer: 'block_1_pad' });
  // The batch of 32 that failed in the benchmark: block_1_expand's output alone was 154,140,672
  // bytes (Dawn's own number), over the limit of 134,217,728.
  assert.ok(112 * 112 * 96 * 4 * 32 > 134217728);
  assert.equal(maxBatchUnder(m, 134217728), 27);
  assert.equal(maxBatchUnder(m, 2 ** 32), 875);
  m.dispose();
});

test('a nested base counts, and a model without shapes is not limited', async () => {
  await tf.setBackend('cpu');
  const inner = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 1000, name: 'wide' }), tf.layers.dense({ units: 3 })] });
  const outer = tf.sequential({ layers: [inner, tf.layers.dense({ units: 2 })] });
  assert.equal(largestActivation(outer).bytes, 4000);
  assert.equal(maxBatchUnder({ name: 'x', layers: [] }, 100), Number.MAX_SAFE_INTEGER);
  outer.dispose();
});

test("Dawn's binding-size error reads as what happened and what to do", () => {
  const dawn =
    'Binding size (154140672) of [Buffer (unlabeled)] is larger than the maximum storage buffer binding size (134217728).\n - While validating entries[0]';
  const text = explainWebGpuError(dawn);
  assert.match(text, /a tensor of 147 MiB is larger than this adapter's storage-buffer binding limit \(128 MiB\)/);
  assert.match(text, /wrong values \(zeros\)/);
  assert.match(text, /tl\.webgpuMaxBatch\(model\)/);
  assert.equal(explainWebGpuError('\n[Invalid CommandBuffer] is invalid due to a previous error.\n - While calling'), 'WebGPU validation error: [Invalid CommandBuffer] is invalid due to a previous error. — the results of the operation that caused it are wrong.');
});
