#!/usr/bin/env node
/**
 * How faithfully a fine-tuned model exports to ONNX: loads a pretrained TF.js layers model, puts a
 * new head on it (cut at --cut), trains the head briefly on an image folder, saves it with
 * tl.save(..., { format: 'onnx' }), and runs the file in ONNX Runtime (onnxruntime-node, directly)
 * on the folder's images and on random images, against TF.js on the same inputs.
 *
 *   npx tsc -b && node scripts/onnx-export-check.mjs <model dir> [--data samples/data/digits-5-9] [--cut flatten_1] [--epochs 3]
 *
 * A real model: `node scripts/extract-nsfwjs.mjs /tmp/nsfwjs-mnv2` writes nsfwjs's Keras MobileNetV2.
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const tl = require(path.join(root, 'out', 'src', 'tl'));
const tf = require('@tensorflow/tfjs');
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const modelDir = args[0];
if (!modelDir || modelDir.startsWith('--')) {
  console.error('usage: node scripts/onnx-export-check.mjs <model dir> [--data DIR] [--cut LAYER] [--epochs N] [--backend wasm|cpu]');
  process.exit(2);
}

async function main() {
  await tf.setBackend(opt('backend', 'cpu'));
  const base = await tl.load(modelDir);
  const data = await tl.imageFolder(opt('data', path.join(root, 'samples', 'data', 'digits-5-9')), { model: base, validationSplit: 0.2, seed: 1, batchSize: 16 });
  const cut = opt('cut', undefined);
  tl.freeze(base);
  const model = tl.withHead(base, { classes: [...data.classes], ...(cut ? { cutAt: cut } : {}), seed: 1 });
  const fit = await tl.fit(model, data, { epochs: Number(opt('epochs', '3')), learningRate: 1e-3, verbose: false, cacheDir: false });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-export-check-'));
  await tl.save(model, out, { format: 'onnx' });
  const file = path.join(out, 'model.onnx');
  const session = await ort.InferenceSession.create(file);

  const inputs = [];
  for await (const b of data.validation.batches({ augment: false })) {
    inputs.push({ what: 'validation images', x: b.xs });
    b.ys.dispose();
  }
  const shape = [8, ...model.inputs[0].shape.slice(1)];
  const p = tl.meta(model).preprocessing;
  inputs.push({ what: 'random images', x: tf.tidy(() => tf.randomUniform(shape, 0, 255, 'float32', 7).mul(p.scale).add(p.offset)) });
  let maxDiff = 0;
  let maxProb = 0;
  let n = 0;
  let agree = 0;
  for (const { x } of inputs) {
    const want = tf.tidy(() => model.predict(x));
    const res = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', await x.data(), x.shape) });
    const got = res[session.outputNames[0]].data;
    const w = await want.data();
    const k = want.shape[1];
    for (let i = 0; i < w.length; i++) maxDiff = Math.max(maxDiff, Math.abs(w[i] - got[i]));
    for (let r = 0; r < want.shape[0]; r++) {
      const arg = (a) => a.slice(r * k, (r + 1) * k).reduce((best, v, j, row) => (v > row[best] ? j : best), 0);
      if (arg(Array.from(w)) === arg(Array.from(got))) agree++;
      maxProb = Math.max(maxProb, ...w.slice(r * k, (r + 1) * k));
      n++;
    }
    tf.dispose([x, want]);
  }
  await session.release();
  const bytes = fs.statSync(file).size;
  console.log(JSON.stringify({
    model: tl.meta(base).name,
    layers: model.layers.length,
    cut: cut ?? '(default)',
    head: { classes: data.classes, epochs: fit.history.length, valAcc: fit.history.at(-1)?.val_acc },
    onnx: { file, megabytes: +(bytes / 2 ** 20).toFixed(2) },
    samples: n,
    maxAbsDiff: maxDiff,
    sameTopClass: `${agree}/${n}`,
    largestProbability: maxProb,
    onnxruntime: ort.env.versions?.node ?? ort.env.versions?.common,
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
  }, null, 2));
  fs.rmSync(out, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
