/** Discriminative learning rates: learningRate: [low, high] in fit, fineTuneLearningRate: [low, high] in fineTune. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { fromTensors } from '../../src/tl/data';
import { fit, fineTune, lrFind } from '../../src/tl/train';
import { GroupedOptimizer, rateGroups } from '../../src/tl/train/discriminative';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { withHead } from '../../src/tl/heads';
import { freeze, unfreeze } from '../../src/tl/freeze';
import { RecordingSink, tmpDir } from './tl-helpers';
import { useCpu } from './tl-fixtures';

process.env.TRANSFER_LAB_CACHE = tmpDir('tl-discriminative-cache-');
const outside = getOutputSink();
before(async () => {
  await useCpu();
  setOutputSink(new RecordingSink());
});
after(() => setOutputSink(outside));

/** Three blocks with weights before the head: block1, block2, block3 (named as Keras' VGG names them). */
function threeBlockModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const x = tf.input({ shape: [8, 8, 3], name: 'img' });
  let y = x as tf.SymbolicTensor;
  for (const b of [1, 2, 3]) {
    y = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: `block${b}_conv`, kernelInitializer: init(b) }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.reLU({ name: `block${b}_relu` }).apply(y) as tf.SymbolicTensor;
  }
  y = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(y) as tf.SymbolicTensor;
  return withHead(tf.model({ inputs: x, outputs: y, name: 'three' }), { classes: ['a', 'b', 'c'], seed, verbose: false });
}

function data(n = 12) {
  const xs = tf.randomUniform([n, 8, 8, 3], 0, 1, 'float32', 9);
  const ys = tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32');
  return { xs, ys, d: fromTensors(xs, ys, { classes: ['a', 'b', 'c'], batchSize: n }) };
}

const values = (m: tf.LayersModel) => new Map(m.trainableWeights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));

/** The largest |change| of each trainable weight over one step. */
function steps(before: Map<string, Float32Array>, m: tf.LayersModel): Map<string, number> {
  const after = values(m);
  return new Map([...before].map(([k, v]) => [k, Math.max(...v.map((x, i) => Math.abs(after.get(k)![i] - x)))]));
}

test('rate groups: one per trainable block, geometric from low (earliest) to high (head)', () => {
  const m = threeBlockModel(1);
  const g = rateGroups(m, 1e-5, 1e-2);
  assert.deepEqual(g.map((x) => x.block), ['block1', 'block2', 'block3', 'head']);
  assert.deepEqual(g.map((x) => Number((x.scale * 1e-2).toPrecision(6))), [1e-5, 1e-4, 1e-3, 1e-2]);
  freeze(m, { upTo: 'block2_relu' });
  assert.deepEqual(rateGroups(m, 1e-4, 1e-2).map((x) => [x.block, Number(x.scale.toPrecision(6))]), [['block3', 0.01], ['head', 1]], 'frozen blocks get no group');
  m.dispose();
});

test('each group actually trains at its rate: Adam steps of ±lr per block, SGD steps in proportion to a one-rate twin', async () => {
  const { xs, ys, d } = data();
  const m = threeBlockModel(2);
  const w0 = values(m);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  try {
    await fit(m, d, { optimizer: 'adam', learningRate: [1e-4, 1e-2], epochs: 1, shuffle: false, seed: 1 });
  } finally {
    console.log = log;
  }
  assert.ok(m.optimizer instanceof GroupedOptimizer);
  assert.ok(lines.some((l) => /^discriminative rates: block1 1e-4, block2 4\.6e-4, block3 2\.2e-3, head 1e-2\.$/.test(l)), lines.join('\n'));
  // Adam's first step moves each weight by lr · g / (|g| + ε): the block's rate, for every weight with a real gradient.
  const rate = { block1: 1e-4, block2: 1e-4 * Math.pow(100, 1 / 3), block3: 1e-4 * Math.pow(100, 2 / 3), head: 1e-2 };
  for (const [name, step] of steps(w0, m)) {
    const block = (name.match(/^(block\d|head)/) ?? [])[1] as keyof typeof rate;
    assert.ok(Math.abs(step / rate[block] - 1) < 1e-3, `${name}: moved ${step}, its block's rate is ${rate[block]}`);
  }

  // SGD: the same first gradient, so each block's step is its share of a one-rate twin's step.
  const a = threeBlockModel(3);
  const b = threeBlockModel(3);
  const [a0, b0] = [values(a), values(b)];
  await fit(a, d, { optimizer: 'sgd', learningRate: [1e-3, 1e-1], epochs: 1, shuffle: false, seed: 1, verbose: false });
  await fit(b, d, { optimizer: 'sgd', learningRate: 1e-1, epochs: 1, shuffle: false, seed: 1, verbose: false });
  const [sa, sb] = [steps(a0, a), steps(b0, b)];
  const share = { block1: 1e-2, block2: Math.pow(1e-2, 2 / 3), block3: Math.pow(1e-2, 1 / 3), head: 1 };
  for (const [name, s] of sa) {
    const block = (name.match(/^(block\d|head)/) ?? [])[1] as keyof typeof share;
    assert.ok(Math.abs(s / sb.get(name)! / share[block] - 1) < 1e-3, `${name}: ${s} vs ${sb.get(name)} (share ${share[block]})`);
  }
  assert.ok(!(b.optimizer instanceof GroupedOptimizer), 'a single number keeps one rate for all');
  tf.dispose([xs, ys]);
  for (const model of [m, a, b]) model.dispose();
});

test('a single number after discriminative rates gives one rate again; schedules scale every group; no tensor left behind', async () => {
  const { xs, ys, d } = data();
  const m = threeBlockModel(4);
  await fit(m, d, { learningRate: [1e-4, 1e-2], epochs: 1, verbose: false });
  const before = tf.memory().numTensors;
  const r = await fit(m, d, { epochs: 3, schedule: { type: 'step', every: 1, gamma: 0.5 }, verbose: false });
  assert.ok(m.optimizer instanceof GroupedOptimizer, 'no rate given: the groups stay');
  assert.deepEqual(r.history.map((p) => p.lr), [1e-2, 5e-3, 2.5e-3], 'the head rate follows the schedule');
  assert.equal((m.optimizer as GroupedOptimizer).learningRate, 1e-2, 'and comes back after the fit');
  assert.equal(tf.memory().numTensors, before, 'same optimizer, same slots');
  const grouped = m.optimizer as GroupedOptimizer;
  const sweep = await lrFind(m, d, { steps: 8, display: false, verbose: false });
  assert.ok(sweep.lrs.length > 1);
  assert.equal(m.optimizer, grouped, 'lrFind sweeps a copy of the grouped optimizer and gives this one back');
  assert.deepEqual(grouped.rates().map((x) => Number(x.lr.toPrecision(6))), [1e-4, 1e-4 * Math.pow(100, 1 / 3), 1e-4 * Math.pow(100, 2 / 3), 1e-2].map((x) => Number(x.toPrecision(6))));
  assert.equal(tf.memory().numTensors, before);
  await fit(m, d, { learningRate: 1e-3, epochs: 1, verbose: false });
  assert.ok(!(m.optimizer instanceof GroupedOptimizer));
  assert.equal((m.optimizer as unknown as { learningRate: number }).learningRate, 1e-3);
  await assert.rejects(fit(m, d, { learningRate: [1e-2, 1e-4] as [number, number], verbose: false }), /learningRate must be a number, or \[low, high\] with 0 < low ≤ high; got \[0\.01,0\.0001\]/);
  tf.dispose([xs, ys]);
  m.dispose();
});

test('fineTune with fineTuneLearningRate: [low, high]: the unfrozen blocks train from low to the head at high', async () => {
  const { xs, ys, d } = data();
  const m = threeBlockModel(5);
  const r = await fineTune(m, d, { headEpochs: 1, fineTuneEpochs: 1, unfreezeBlocks: 2, learningRate: 1e-2, fineTuneLearningRate: [1e-5, 1e-3], verbose: false });
  assert.deepEqual(r.unfrozen.filter((n) => /conv|head_output/.test(n)), ['block2_conv', 'block3_conv', 'head_output']);
  const opt = m.optimizer as GroupedOptimizer;
  assert.ok(opt instanceof GroupedOptimizer);
  assert.deepEqual(opt.rates().map((x) => [x.block, Number(x.lr.toPrecision(6))]), [['block2', 1e-5], ['block3', 1e-4], ['head', 1e-3]]);
  await assert.rejects(fineTune(m, d, { fineTuneLearningRate: [1, 0] as [number, number] }), /fineTuneLearningRate must be/);
  unfreeze(m);
  tf.dispose([xs, ys]);
  m.dispose();
});
