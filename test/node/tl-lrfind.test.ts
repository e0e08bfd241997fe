/** tl.lrFind: the sweep, the suggestion, the chart, and weights and optimizer state exactly as before. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_PLAIN } from '../../src/common/mime';
import type { LrFindData } from '../../src/common/shapes';
import { DISPLAY_SYMBOL, type Displayable } from '../../src/common/display';
import { fromTensors } from '../../src/tl/data';
import { fit, lrFind } from '../../src/tl/train';
import { formatLrFind, suggestLr } from '../../src/tl/train/lrCurve';
import { clearEmbeddingCache } from '../../src/tl/embeddings';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { withHead } from '../../src/tl/heads';
import { freeze } from '../../src/tl/freeze';
import { RecordingSink, tinyConvBase, tmpDir, weightValues } from './tl-helpers';
import { useCpu } from './tl-fixtures';

process.env.TRANSFER_LAB_CACHE = tmpDir('tl-lrfind-cache-');
const outside = getOutputSink();
let sink: RecordingSink;
before(async () => {
  await useCpu();
  sink = new RecordingSink();
  setOutputSink(sink);
});
after(() => setOutputSink(outside));

function denseModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 12, activation: 'relu', kernelInitializer: init(seed) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(seed + 1) }),
    ],
  });
}

function blobs(n = 48) {
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  const xs = tf.tidy(() => tf.randomNormal([n, 6], 0, 0.5, 'float32', 3).add(tf.oneHot(tf.tensor1d(labels, 'int32'), 3).tile([1, 2]).mul(2)));
  const ys = tf.tensor1d(labels, 'int32');
  return { xs, ys, data: fromTensors(xs, ys, { classes: ['a', 'b', 'c'], batchSize: 8 }) };
}

/** The optimizer's state as plain arrays (Adam: iterations, first and second moments). */
async function optimizerState(opt: tf.Optimizer): Promise<{ name: string; values: Float32Array }[]> {
  const ws = await opt.getWeights();
  const out = ws.map(({ name, tensor }) => ({ name, values: tensor.dataSync().slice() as Float32Array }));
  for (const { tensor } of ws) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  return out;
}

test('lrFind leaves the weights and the optimizer (object, rate, state) exactly as before, and training goes on as if it never ran', async () => {
  const { xs, ys, data } = blobs();
  const a = denseModel(1);
  const b = denseModel(1);
  for (const m of [a, b]) await fit(m, data, { epochs: 1, seed: 4, learningRate: 0.01, verbose: false });
  const optimizer = a.optimizer;
  const weights = weightValues(a);
  const state = await optimizerState(optimizer);
  assert.ok(state.length > 1, 'adam has moments after one epoch');

  const before = tf.memory().numTensors;
  const r = await lrFind(a, data, { minLr: 1e-5, maxLr: 1, steps: 30, verbose: false });
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  assert.equal(a.optimizer, optimizer, 'the same optimizer object');
  assert.equal((optimizer as unknown as { learningRate: number }).learningRate, 0.01, 'its rate');
  assert.deepEqual(weightValues(a), weights, 'weights bit for bit');
  assert.deepEqual(await optimizerState(optimizer), state, 'optimizer state bit for bit');
  assert.ok(r.lrs.length > 5);

  await fit(a, data, { epochs: 1, seed: 5, verbose: false });
  await fit(b, data, { epochs: 1, seed: 5, verbose: false });
  assert.equal(a.optimizer, optimizer, 'a Sequential keeps its optimizer (and its state) from fit to fit');
  assert.deepEqual(weightValues(a), weightValues(b), 'the next epoch is the same as without lrFind');
  await lrFind(a, data, { minLr: 1e-5, maxLr: 1, steps: 30, verbose: false, display: false });
  assert.equal(tf.memory().numTensors, before, 'a second sweep leaves nothing either');
  tf.dispose([xs, ys]);
  a.dispose();
  b.dispose();
});

test('lrFind sweeps exponentially, smooths, stops on divergence, suggests a rate and draws the curve', async () => {
  const { xs, ys, data } = blobs();
  const m = denseModel(2);
  m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  sink.events.length = 0;
  const r = await lrFind(m, data, { minLr: 1e-4, maxLr: 1e4, steps: 60, verbose: false });
  assert.ok(r.lrs.length < 60, `diverged before the end (${r.lrs.length} steps)`);
  assert.match(r.stoppedReason ?? '', /the loss (diverged at learning rate|became)/);
  const ratio = Math.pow(1e8, 1 / 59);
  r.lrs.forEach((lr, i) => assert.ok(Math.abs(lr / (1e-4 * Math.pow(ratio, i)) - 1) < 1e-9, `step ${i}: ${lr}`));
  assert.equal(r.losses.length, r.lrs.length);
  assert.ok(Math.abs(r.losses[0] - r.rawLosses[0]) < 1e-6, 'bias-corrected average starts at the first loss');
  assert.ok(r.suggestion >= 1e-4 && r.suggestion < r.lrs[r.lrs.length - 1]);

  const shown = sink.events.find((e) => e.kind === 'display' && MIME.lrFind in (e.data as object));
  assert.ok(shown, 'the chart was displayed');
  const bundle = shown.data as Record<string, unknown>;
  const d = bundle[MIME.lrFind] as LrFindData;
  assert.equal(d.kind, 'lrfind');
  assert.deepEqual(d.lrs, r.lrs);
  assert.equal(d.suggestion, r.suggestion);
  assert.match(bundle[TEXT_PLAIN] as string, /learning-rate sweep, \d+ of 60 steps from 1e-4 to 1e4 \(log scale\); stopped: /);
  assert.match((r as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN] as string, /^lrFind: suggestion \S+ \(minimum\/10: \S+\) after \d+ steps$/);
  await assert.rejects(lrFind(m, data, { steps: 2 }), /steps must be a whole number of at least 5/);
  await assert.rejects(lrFind(m, data, { minLr: 1, maxLr: 0.1 }), /maxLr must be a number above minLr/);
  tf.dispose([xs, ys]);
  m.dispose();
});

test('lrFind on a frozen base trains the head on cached embeddings and puts everything back', async () => {
  await clearEmbeddingCache();
  const n = 24;
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  const xs = tf.randomUniform([n, 16, 16, 3], 0, 1, 'float32', 8);
  const ys = tf.tensor1d(labels, 'int32');
  const data = fromTensors(xs, ys, { classes: ['a', 'b', 'c'], batchSize: 8 });
  const base = tinyConvBase([16, 16, 3]);
  freeze(base);
  const model = withHead(base, { classes: ['a', 'b', 'c'], verbose: false, seed: 3 });
  const weights = weightValues(model);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  try {
    await lrFind(model, data, { steps: 12, cacheDir: false, display: false });
  } finally {
    console.log = log;
  }
  assert.ok(lines.some((l) => /^lrFind: embedding cache: base \(up to '[^']+'\) ran on 24 sample/.test(l)), lines.join('\n'));
  assert.deepEqual(weightValues(model), weights);
  tf.dispose([xs, ys]);
  base.dispose();
});

test('the suggestion: steepest descent of the smoothed loss before its minimum; the text lists the curve', () => {
  const lrs = Array.from({ length: 50 }, (_, i) => 1e-6 * Math.pow(10, (7 * i) / 49));
  // Flat, then falling fastest around 1e-3, a minimum near 3e-2, then up.
  const losses = lrs.map((lr) => {
    const x = Math.log10(lr);
    return 1 - 0.8 / (1 + Math.exp(-4 * (x + 3))) + (x > -1.5 ? (x + 1.5) ** 2 : 0);
  });
  const s = suggestLr(lrs, losses);
  assert.ok(s.suggestion > 5e-4 && s.suggestion < 2e-3, `suggestion ${s.suggestion}`);
  const iMin = losses.indexOf(Math.min(...losses));
  assert.equal(s.minimum, lrs[iMin] / 10);
  // Batch-to-batch noise on the flat start (a small data set) is not a descent: a sharp wiggle at
  // 1e-6 must not win over the real fall around 1e-3.
  const noisy = losses.map((l, i) => l + (i === 7 ? 0.3 : i === 8 ? -0.3 : 0) + 0.01 * Math.sin(i * 2.3));
  const n = suggestLr(lrs, noisy);
  assert.ok(n.suggestion > 2e-4 && n.suggestion < 5e-3, `noisy suggestion ${n.suggestion}`);
  // A loss that only rises has no descent: the suggestion is minimum/10.
  const rising = suggestLr([1e-3, 1e-2, 1e-1], [1, 2, 3]);
  assert.equal(rising.suggestion, 1e-4);
  const text = formatLrFind({ kind: 'lrfind', version: 1, lrs, losses, suggestion: s.suggestion, minimum: s.minimum, minLr: 1e-6, maxLr: 10, steps: 50 }, 5);
  assert.match(text, /^learning-rate sweep, 50 of 50 steps from 1e-6 to 10 \(log scale\)\nsuggestion: 1(\.\d)?e-3 \(steepest descent of the smoothed loss\); minimum\/10: \S+\n  learning rate   smoothed loss\n  1e-6 /);
  assert.equal(text.split('\n').length, 3 + 5 + 1, 'five evenly spaced rows and the last step');
});
