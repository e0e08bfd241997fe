/** Freezing says what it did: unfreezing layers the model does not use warns, and fit says what trains. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { fromTensors } from '../../src/tl/data';
import { fit } from '../../src/tl/train';
import { whatTrains } from '../../src/tl/train/whatTrains';
import { clearEmbeddingCache } from '../../src/tl/embeddings';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { withHead } from '../../src/tl/heads';
import { freeze, unfreeze } from '../../src/tl/freeze';
import { mobileNetV2Like } from '../../src/tl/builders';
import { RecordingSink, tmpDir } from './tl-helpers';
import { useCpu } from './tl-fixtures';

process.env.TRANSFER_LAB_CACHE = tmpDir('tl-what-trains-cache-');
const outside = getOutputSink();
before(async () => {
  await useCpu();
  setOutputSink(new RecordingSink());
});
after(() => setOutputSink(outside));

/** Runs f, returning what it printed with console.log and console.warn. */
async function printed<T>(f: () => T | Promise<T>): Promise<{ value: T; log: string[]; warn: string[] }> {
  const log: string[] = [];
  const warn: string[] = [];
  const [l, w] = [console.log, console.warn];
  console.log = (...a: unknown[]) => void log.push(a.map(String).join(' '));
  console.warn = (...a: unknown[]) => void warn.push(a.map(String).join(' '));
  try {
    return { value: await f(), log, warn };
  } finally {
    [console.log, console.warn] = [l, w];
  }
}

/** A conv base that ends in an MLP classifier: Conv → pooling → Flatten → Dense 16 → Dropout → Dense 3 softmax. */
function mlpTopBase(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const m = tf.sequential({ name: 'mlp_top' });
  m.add(tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, name: 'conv', kernelInitializer: init(1) }));
  m.add(tf.layers.averagePooling2d({ poolSize: 6, name: 'pool' }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ units: 16, activation: 'relu', name: 'dense_1', kernelInitializer: init(2) }));
  m.add(tf.layers.dropout({ rate: 0.5, name: 'dropout_1' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'dense_2', kernelInitializer: init(3) }));
  return m;
}

function data(shape: [number, number, number], n = 12) {
  const xs = tf.randomUniform([n, ...shape], 0, 1, 'float32', 5);
  const ys = tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32');
  return { xs, ys, d: fromTensors(xs, ys, { classes: ['a', 'b', 'c'], batchSize: 4 }) };
}

test('unfreezing a base layer that withHead cut off warns and names it; layers the model uses do not', async () => {
  const base = mlpTopBase();
  const model = withHead(base, { classes: 3, verbose: false });
  freeze(base);
  const { value: names, warn } = await printed(() => unfreeze(base, { lastBlocks: 2 }));
  assert.deepEqual(names, ['dense_1', 'dropout_1', 'dense_2']);
  assert.equal(warn.length, 1);
  assert.match(warn[0], /^unfreeze\(\): 'dense_1', 'dense_2' are not part of 'mlp_top \+ head', which withHead cut from this base at 'flatten'; they will not train\./);
  assert.deepEqual((await printed(() => unfreeze(base, 'conv'))).warn, [], 'conv is part of the model with the head');
  assert.deepEqual((await printed(() => unfreeze(model, 'all'))).warn, []);
  base.dispose();
});

test("fit's status says what trains: the head only, the cached prefix named", async () => {
  await clearEmbeddingCache();
  const base = mlpTopBase();
  const model = withHead(base, { classes: ['a', 'b', 'c'], verbose: false });
  freeze(base);
  unfreeze(base, { lastBlocks: 2 }); // the cut-off MLP: trains nothing
  const { xs, ys, d } = data([8, 8, 3]);
  const { value: r, log } = await printed(() => fit(model, d, { epochs: 1, cacheDir: false, seed: 1 }));
  assert.ok(r.embeddingCache, 'the unfrozen MLP is not part of the model, so the base stays cached');
  assert.ok(log.includes("trains: the head only ('head_output'), 15 parameter(s); the frozen base up to 'flatten' runs once per image (embedding cache)."), log.join('\n'));
  assert.ok(!log.some((l) => /Only the head trains/.test(l)));
  tf.dispose([xs, ys]);
  base.dispose();
});

test("fit's status names the base layers that train beside the head, and the cached prefix", async () => {
  await clearEmbeddingCache();
  const base = mobileNetV2Like({ inputSize: 16, alpha: 0.35, blocks: 2, lastFilters: 8, seed: 2 });
  const model = withHead(base, { classes: ['a', 'b', 'c'], verbose: false });
  freeze(model);
  unfreeze(model, { lastBlocks: 2 }, { batchNorm: false }); // the head and Conv_1
  const line = whatTrains(model, 'block_2_project_BN');
  assert.equal(
    line,
    "trains: the head and 1 base layer(s) in 1 block(s) 'Conv_1' ('Conv_1'), " +
      `${(model.getLayer('Conv_1').countParams() + model.getLayer('head_output').countParams()).toLocaleString('en-US')} parameter(s); ` +
      "the frozen base up to 'block_2_project_BN' runs once per image (embedding cache).",
  );
  const { xs, ys, d } = data([16, 16, 3]);
  const { value: r, log } = await printed(() => fit(model, d, { epochs: 1, cacheDir: false, seed: 1 }));
  assert.ok(r.embeddingCache);
  assert.ok(log.some((l) => /^trains: the head and 1 base layer\(s\) in 1 block\(s\) 'Conv_1' \('Conv_1'\), [\d,]+ parameter\(s\); the frozen base up to '[^']+' runs once per image/.test(l)), log.join('\n'));
  freeze(model);
  assert.equal(whatTrains(model), 'trains: nothing: every layer is frozen, 0 parameter(s).');
  tf.dispose([xs, ys]);
  base.dispose();
});
