/**
 * Interpretation: tl.explain's Grad-CAM against models whose answer is known (they can only see one
 * quadrant of the image), tl.topLosses against losses computed one image at a time, the gallery
 * output they show, the refusals, and no tensor left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as tl from '../../src/tl';
import { MIME, TEXT_MARKDOWN, TEXT_PLAIN } from '../../src/common/mime';
import type { GalleryData } from '../../src/common/shapes';
import { DISPLAY_SYMBOL, type Displayable } from '../../src/common/display';
import { setOutputSink } from '../../src/tl/output';
import { setMeta, PREPROCESS_UNIT } from '../../src/tl/models/meta';
import { useCpu, tmpDir } from './tl-fixtures';
import { RecordingSink, classImage, makeImageFolder, writePng } from './tl-helpers';

type Quadrant = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';

/**
 * A 16×16 RGB classifier that sees only one quadrant: the image is cropped to it and padded back in
 * place (so the rest is zero), then a bias-free ReLU conv (8×8 map, the last spatial layer), global
 * pooling and a softmax Dense whose class-0 weights are all positive.
 */
function quadrantModel(q: Quadrant): tf.LayersModel {
  const top = q.startsWith('top');
  const left = q.endsWith('left');
  const inp = tf.input({ shape: [16, 16, 3], name: 'img' });
  let x = tf.layers.cropping2D({ cropping: [top ? [0, 8] : [8, 0], left ? [0, 8] : [8, 0]], name: 'crop' }).apply(inp) as tf.SymbolicTensor;
  x = tf.layers.zeroPadding2d({ padding: [top ? [0, 8] : [8, 0], left ? [0, 8] : [8, 0]], name: 'pad' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: false, activation: 'relu', kernelInitializer: tf.initializers.randomUniform({ minval: 0, maxval: 0.5, seed: 3 }), name: 'feat' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 2, activation: 'softmax', name: 'out' });
  const model = tf.model({ inputs: inp, outputs: dense.apply(x) as tf.SymbolicTensor, name: `sees_${q}` });
  const kernel = tf.tidy(() => tf.stack([tf.fill([6], 0.5), tf.fill([6], -0.5)], 1));
  const bias = tf.zeros([2]);
  dense.setWeights([kernel, bias]);
  tf.dispose([kernel, bias]);
  setMeta(model, { name: `sees_${q}`, source: 'code', format: 'layers', classes: ['there', 'not-there'], inputSize: [16, 16], preprocessing: PREPROCESS_UNIT });
  return model;
}

/** Share of the heatmap's mass in each quadrant of the map, and where its peak is. */
function masses(h: number[][]): { share: Record<Quadrant, number>; peak: [number, number] } {
  const n = h.length;
  const m = h[0].length;
  const share: Record<Quadrant, number> = { 'top-left': 0, 'top-right': 0, 'bottom-left': 0, 'bottom-right': 0 };
  let total = 0;
  let peak: [number, number] = [0, 0];
  h.forEach((row, i) =>
    row.forEach((v, j) => {
      share[`${i < n / 2 ? 'top' : 'bottom'}-${j < m / 2 ? 'left' : 'right'}` as Quadrant] += v;
      total += v;
      if (v > h[peak[0]][peak[1]]) peak = [i, j];
    }),
  );
  for (const q of Object.keys(share) as Quadrant[]) share[q] /= total;
  return { share, peak };
}

/** Noise over the whole image: every quadrant has as much to show as any other. */
function noiseImage(seed: number): tf.Tensor3D {
  return tf.randomUniform([16, 16, 3], 0, 255, 'float32', seed) as tf.Tensor3D;
}

test('explain: Grad-CAM peaks in the one quadrant a model can see, for each quadrant', async () => {
  await useCpu();
  const sink = new RecordingSink();
  setOutputSink(sink);
  for (const q of ['top-left', 'top-right', 'bottom-left', 'bottom-right'] as Quadrant[]) {
    const model = quadrantModel(q);
    const image = noiseImage(7);
    const before = tf.memory().numTensors;
    const e = await tl.explain(model, image, { class: 'there', display: q === 'top-right' });
    assert.equal(tf.memory().numTensors, before, 'explain leaves no tensors behind');
    assert.equal(e.layer, 'feat');
    assert.equal(e.class, 0);
    assert.equal(e.label, 'there');
    assert.equal(e.heatmap.length, 8);
    assert.equal(e.heatmap[0].length, 8);
    const { share, peak } = masses(e.heatmap);
    assert.ok(share[q] > 0.85, `${q}: ${JSON.stringify(share)}`);
    const [pi, pj] = peak;
    assert.equal(pi < 4 ? 'top' : 'bottom', q.split('-')[0], `peak ${peak}`);
    assert.equal(pj < 4 ? 'left' : 'right', q.split('-')[1], `peak ${peak}`);
    assert.equal(Math.max(...e.heatmap.flat()), 1);
    // Nothing in the image speaks for the class whose weights are all negative: an empty map, not noise.
    const other = await tl.explain(model, image, { class: 1, display: false });
    assert.equal(Math.max(...other.heatmap.flat()), 0);
    image.dispose();
    model.dispose();
  }
  const shown = sink.bundles(MIME.gallery) as GalleryData[];
  assert.equal(shown.length, 1);
  assert.equal(shown[0].items.length, 2);
  for (const it of shown[0].items) assert.match(it.image!, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
  assert.match(shown[0].items[1].lines.join(' '), /there \(\d+\.\d %\).*feat/);
  const md = sink.bundles(TEXT_MARKDOWN)[0] as string;
  assert.match(md, /!\[Grad-CAM heatmap\]\(data:image\/png;base64,/);
});

test('explain: a MobileNetV2-style model with a head, from an image file; the last spatial layer is out_relu', async () => {
  await useCpu();
  setOutputSink(new RecordingSink());
  const base = tl.mobileNetV2Like({ inputSize: 64, alpha: 0.35, blocks: 4, seed: 1 });
  setMeta(base, { name: 'mnv2', source: 'code', format: 'layers', inputSize: [64, 64], preprocessing: PREPROCESS_UNIT });
  const model = tl.withHead(base, { classes: ['a', 'b'], seed: 1 });
  const file = path.join(tmpDir('explain'), 'x.png');
  writePng(file, 50, 40, classImage(50, 40, [30, 200, 90], 3));
  const before = tf.memory().numTensors;
  const e = await tl.explain(model, file);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(e.layer, 'out_relu');
  assert.equal(e.heatmap.length, 8);
  const p = await tl.predict(model, file, { topK: 1 });
  assert.equal(e.label, p[0].label, 'the default class is the predicted one');
  assert.ok(Math.abs(e.probability - p[0].probability) < 1e-5);
  assert.match(String((e as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN]), /Grad-CAM for [ab] .* at out_relu: 8×8/);
  await assert.rejects(tl.explain(model, file, { class: 'zebra' }), /'zebra' is not one of the model's classes \(a, b\)/);
  await assert.rejects(tl.explain(model, file, { layer: 'global_average_pooling2d_x' }), /has no layer 'global_average_pooling2d_x'/);
  model.dispose();
});

test('explain says clearly why it cannot: an ONNX model, a graph model, a head on features', async () => {
  await useCpu();
  const m = quadrantModel('top-left');
  const dir = tmpDir('explain-onnx');
  await tl.save(m, dir, { format: 'onnx' });
  const onnxModel = await tl.load(dir);
  const img = noiseImage(1);
  await assert.rejects(tl.explain(onnxModel as unknown as tf.LayersModel, img), /runs in ONNX Runtime, which gives no gradients/);
  await (onnxModel as tl.FeatureExtractor).dispose();
  const graph = Object.create(tf.GraphModel.prototype) as tf.GraphModel;
  await assert.rejects(tl.explain(graph as unknown as tf.LayersModel, img), /graph model/);
  const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1280], units: 3, activation: 'softmax' })] });
  await assert.rejects(tl.explain(head, img), /has no spatial layer .* its input is \[batch,1280\].*ONNX or graph base/s);
  tf.dispose([img]);
  m.dispose();
  head.dispose();
});

/** Red, green and blue folders with one misfiled image each, and a hostile class name. */
function folderWithMistakes(): string {
  const dir = makeImageFolder({ classes: { red: 5, green: 5, '<i>blue|x': 5 }, size: [12, 12] });
  // A red image filed as green, and a green one filed as red: the model cannot get these right.
  fs.copyFileSync(path.join(dir, 'red', 'img000.png'), path.join(dir, 'green', 'misfiled-red.png'));
  fs.copyFileSync(path.join(dir, 'green', 'img000.png'), path.join(dir, 'red', 'misfiled-green.png'));
  return dir;
}

/** Mean colour → class, by hand: a classifier that knows red, green and blue. */
function colourModel(classes: string[]): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.globalAveragePooling2d({ inputShape: [12, 12, 3] }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  const w = tf.tidy(() => tf.mul(tf.eye(3), 8));
  const b = tf.fill([3], -4);
  m.layers[1].setWeights([w, b]);
  tf.dispose([w, b]);
  setMeta(m, { name: 'colours', source: 'code', format: 'layers', classes, inputSize: [12, 12], preprocessing: PREPROCESS_UNIT });
  return m;
}

test('topLosses: the worst samples first, as losses computed one image at a time say, shown as a gallery', async () => {
  await useCpu();
  const dir = folderWithMistakes();
  const data = await tl.imageFolder(dir, { size: [12, 12], preprocessing: PREPROCESS_UNIT, classes: ['red', 'green', '<i>blue|x'] });
  const model = colourModel([...data.classes]);
  const sink = new RecordingSink();
  setOutputSink(sink);
  const before = tf.memory().numTensors;
  const top = await tl.topLosses(model, data, { k: 4 });
  assert.equal(tf.memory().numTensors, before, 'topLosses leaves no tensors behind');

  // Every file's loss by itself, through tl.predict.
  const files = data.files.train;
  const preds = await tl.predict(model, files, { topK: 3 });
  const losses = files.map((f, i) => {
    const label = path.basename(path.dirname(f));
    return { file: f, loss: -Math.log(preds[i].find((p) => p.label === label)!.probability) };
  });
  losses.sort((a, b) => b.loss - a.loss);
  assert.deepEqual(top.map((t) => t.file), losses.slice(0, 4).map((l) => l.file));
  top.forEach((t, i) => assert.ok(Math.abs(t.loss - losses[i].loss) < 1e-4));
  assert.deepEqual(top.slice(0, 2).map((t) => path.basename(t.file)).sort(), ['misfiled-green.png', 'misfiled-red.png']);
  assert.equal(top[0].label === 'red' ? top[0].predicted : top[0].label, 'green');
  assert.ok(top[0].probability > 0.5 && top[0].trueProbability < 0.5);

  const g = sink.bundles(MIME.gallery)[0] as GalleryData;
  assert.equal(g.items.length, 4);
  assert.ok(g.items.every((it) => /^data:image\/png;base64,/.test(it.image!)));
  assert.ok(g.items[0].flag);
  assert.match(g.items[0].lines.join('\n'), /^(red|green)\/misfiled-(red|green)\.png\ntrue: (red|green)\npredicted: (green|red) \(\d+\.\d %\)\nloss \d\.\d{3}$/);
  const md = sink.bundles(TEXT_MARKDOWN)[0] as string;
  assert.ok(!md.includes('<i>'), 'a class name is not markup in the Markdown fallback');
  assert.match(sink.bundles(TEXT_PLAIN)[0] as string, /Top 4 losses/);
  assert.match(String((top as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN]), /2 of 4 misclassified|[1-4] of 4 misclassified/);
  model.dispose();
});

test('topLosses on an exported model.onnx gives the same as on the TF.js model; bad k is refused', async () => {
  await useCpu();
  const dir = folderWithMistakes();
  const data = await tl.imageFolder(dir, { size: [12, 12], preprocessing: PREPROCESS_UNIT, classes: ['red', 'green', '<i>blue|x'] });
  const model = colourModel([...data.classes]);
  setOutputSink(new RecordingSink());
  const out = tmpDir('toplosses-onnx');
  await tl.save(model, out, { format: 'onnx' });
  const onnxModel = await tl.load(out);
  const a = await tl.topLosses(model, data, { k: 3, display: false });
  const b = await tl.topLosses(onnxModel, data, { k: 3, display: false });
  assert.deepEqual(b.map((t) => t.file), a.map((t) => t.file));
  b.forEach((t, i) => assert.ok(Math.abs(t.loss - a[i].loss) < 1e-4));
  await assert.rejects(tl.topLosses(model, data, { k: 0 }), /k must be a positive whole number/);
  // One split of the data: the same samples, named relative to the folder.
  const c = await tl.topLosses(model, data.train, { k: 3, display: false });
  assert.deepEqual(c.map((t) => path.join(dir, t.file)), a.map((t) => t.file));
  await (onnxModel as tl.FeatureExtractor).dispose();
  model.dispose();
});
