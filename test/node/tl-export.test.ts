import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { save } from '../../src/tl/export';
import { load, loadLayersFromDir, META_FILE } from '../../src/tl/models';
import { getMeta } from '../../src/tl/models/meta';
import { digitsCnn } from '../../src/tl/builders';
import { withHead } from '../../src/tl/heads';
import { ramp, tmpDir, useCpu, writeGraphModel } from './tl-fixtures';

/** A minimal fs load handler, written independently of tl's loader, as any TF.js user could. */
function plainFsHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      const group = json.weightsManifest[0];
      const data = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
      return {
        modelTopology: json.modelTopology,
        weightSpecs: group.weights,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

test('save writes a TF.js layers folder that plain tf.loadLayersModel reads, with metadata', async () => {
  await useCpu();
  const base = digitsCnn({ seed: 11 });
  const model = withHead(base, { classes: ['cat', 'dog', 'cow'], hidden: 4 });
  const dir = path.join(tmpDir('save'), 'nested', 'out');
  const before = tf.memory().numTensors;
  const res = await save(model, dir, { preprocessing: { scale: 1 / 255, offset: 0, channels: 1 } });
  assert.equal(tf.memory().numTensors, before, 'save leaves no tensors behind');
  assert.deepEqual(res.files.sort(), ['group1-shard1of1.bin', 'model.json', META_FILE].sort());
  assert.equal(res.weightBytes, model.countParams() * 4);
  assert.deepEqual(fs.readdirSync(dir).sort(), res.files.sort(), 'no temporary files left');

  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.userDefinedMetadata.transferLab.classes, ['cat', 'dog', 'cow']);
  assert.deepEqual(json.userDefinedMetadata.transferLab.inputSize, [28, 28]);
  const side = JSON.parse(fs.readFileSync(path.join(dir, META_FILE), 'utf8'));
  assert.deepEqual(side.classes, ['cat', 'dog', 'cow']);
  assert.deepEqual(side.preprocessing, { scale: 1 / 255, offset: 0, channels: 1 });

  const x = tf.tensor4d(ramp(3 * 28 * 28, 0.5, 0.5), [3, 28, 28, 1]);
  const want = (model.predict(x) as tf.Tensor).dataSync();

  const plain = await tf.loadLayersModel(plainFsHandler(dir));
  const gotPlain = (plain.predict(x) as tf.Tensor).dataSync();
  assert.deepEqual(Array.from(gotPlain), Array.from(want));

  const inMemory = await plainFsHandler(dir).load!();
  const viaMemory = await tf.loadLayersModel(tf.io.fromMemory(inMemory));
  assert.deepEqual(Array.from((viaMemory.predict(x) as tf.Tensor).dataSync()), Array.from(want));

  for (const where of [dir, path.join(dir, 'model.json')]) {
    const again = await load(where);
    const meta = getMeta(again)!;
    assert.deepEqual(meta.classes, ['cat', 'dog', 'cow']);
    assert.deepEqual(meta.inputSize, [28, 28]);
    assert.deepEqual(meta.preprocessing, { scale: 1 / 255, offset: 0, channels: 1 });
    assert.equal(meta.format, 'layers');
    assert.equal(meta.source, 'file');
    assert.deepEqual(Array.from(((again as tf.LayersModel).predict(x) as tf.Tensor).dataSync()), Array.from(want));
    again.dispose();
  }
  const viaHelper = await loadLayersFromDir(dir);
  assert.deepEqual(getMeta(viaHelper)?.classes, ['cat', 'dog', 'cow']);

  // Without transfer-lab.json the metadata comes from model.json's userDefinedMetadata.
  fs.rmSync(path.join(dir, META_FILE));
  const fromUdm = await load(dir);
  assert.deepEqual(getMeta(fromUdm)?.classes, ['cat', 'dog', 'cow']);

  tf.dispose([x]);
  [plain, viaMemory, viaHelper, fromUdm, model].forEach((m) => m.dispose());
});

test('save shards big weights, replaces stale shards, and checks class counts', async () => {
  await useCpu();
  const big = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1100], units: 1000, name: 'wide' })] });
  const dir = tmpDir('shards');
  const r1 = await save(big, dir);
  assert.deepEqual(r1.files.filter((f) => f.endsWith('.bin')), ['group1-shard1of2.bin', 'group1-shard2of2.bin']);
  const small = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, name: 'narrow' })] });
  // Saving over it writes shards the old model.json does not name (a crash part-way leaves the old
  // model whole), then removes the old ones.
  await save(small, dir, { classes: ['a', 'b'] });
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.bin')), ['group2-shard1of1.bin']);
  await save(small, dir, { classes: ['a', 'b'] });
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.bin')), ['group1-shard1of1.bin']);
  const back = (await load(dir)) as tf.LayersModel;
  assert.equal(back.layers[0].name, 'narrow');
  await assert.rejects(save(small, dir, { classes: ['a', 'b', 'c'] }), /3 class names given for a model with 2 outputs/);
  [big, small, back].forEach((m) => m.dispose());
});

test('save round-trips a graph model', async () => {
  await useCpu();
  const src = tmpDir('graph-src');
  writeGraphModel(src);
  const g = (await load(src)) as tf.GraphModel;
  const out = tmpDir('graph-out');
  await save(g, out, { name: 'matmul' });
  const back = await load(out);
  assert.ok(back instanceof tf.GraphModel);
  assert.equal(getMeta(back)?.format, 'graph');
  assert.equal(getMeta(back)?.name, 'matmul');
  const x = tf.tensor2d([[1, 0, 2]]);
  assert.deepEqual(Array.from((back.predict(x) as tf.Tensor).dataSync()), [11, 14]);
  x.dispose();
  g.dispose();
  back.dispose();
});
