import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { csv, fromTensors, imageFolder, stratifiedSplit, type Batch, type Dataset } from '../../src/tl/data';
import { decodeImage, probeImage, resizeLinear } from '../../src/tl/data/decode';
import { setMeta, PREPROCESS_MOBILENET } from '../../src/tl/models/meta';
import { DISPLAY_SYMBOL, type Displayable } from '../../src/common/display';
import { makeImageFolder, tmpDir } from './tl-helpers';

async function collect(ds: Dataset, opts: Parameters<Dataset['batches']>[0] = {}): Promise<{ xs: number[][][][][]; labels: number[]; indices: number[] }> {
  const xs: number[][][][][] = [];
  const labels: number[] = [];
  const indices: number[] = [];
  for await (const b of ds.batches(opts)) {
    xs.push(b.xs.arraySync() as number[][][][]);
    const am = b.ys.argMax(1);
    labels.push(...(am.arraySync() as number[]));
    am.dispose();
    indices.push(...b.indices);
    tf.dispose([b.xs, b.ys]);
  }
  return { xs, labels, indices };
}

test('imageFolder: classes, counts, stratified seeded split, skipped files with reasons', async () => {
  const dir = makeImageFolder({ classes: { red: 8, green: 6, blue: 4 }, vary: true, jpeg: true, corrupt: true });
  const data = await imageFolder(dir, { size: [12, 10], validationSplit: 0.25, seed: 3, batchSize: 5 });
  assert.deepEqual(data.classes, ['blue', 'green', 'red']);
  assert.deepEqual(data.counts, { blue: 4, green: 6, red: 9 }, 'the truncated PNG has a valid header, so it counts until decoded');
  assert.equal(data.imageSize[0], 12);
  assert.ok(data.validation);
  // Stratified: every class is in both splits, in proportion.
  assert.deepEqual(data.validation.counts, { blue: 1, green: 2, red: 2 });
  assert.deepEqual(data.train.counts, { blue: 3, green: 4, red: 7 });
  assert.equal(data.files.train.length + data.files.validation.length, 19);
  assert.equal(new Set([...data.files.train, ...data.files.validation]).size, 19);
  // Same seed, same split; another seed, another split.
  const again = await imageFolder(dir, { size: [12, 10], validationSplit: 0.25, seed: 3 });
  assert.deepEqual(again.files.validation, data.files.validation);
  const other = await imageFolder(dir, { size: [12, 10], validationSplit: 0.25, seed: 4 });
  assert.notDeepEqual(other.files.validation, data.files.validation);

  const reasons = Object.fromEntries(data.skipped.map((s) => [path.basename(s.file), s.reason]));
  assert.match(reasons['garbage.png'], /not a PNG or JPEG/);
  assert.match(reasons['notes.txt'], /not a \.png/);
  assert.equal(reasons['truncated.png'], undefined, 'only found when decoded');
  const shown = (data as unknown as Displayable)[DISPLAY_SYMBOL]()['text/plain'] as string;
  assert.match(shown, /3 classes, 14 training \+ 5 validation samples/);
  assert.match(shown, /^  red\s+9 \(7 train \/ 2 validation\)$/m);
  assert.match(shown, /skipped 2 file\(s\):\n[^]*garbage\.png: not a PNG or JPEG/);

  // Decoding everything finds the truncated file: it is dropped from its batch and listed.
  const all = await collect(data.train);
  const seen = all.indices.length;
  const inTrain = data.files.train.some((f) => f.endsWith('truncated.png'));
  assert.equal(seen, data.train.size - (inTrain ? 1 : 0));
  if (inTrain) {
    assert.match(data.skipped.find((s) => s.file.endsWith('truncated.png'))?.reason ?? '', /decode failed/);
    // A second pass skips it without trying again.
    const n = data.skipped.length;
    await collect(data.train);
    assert.equal(data.skipped.length, n);
  }
});

test('imageFolder: batches are resized, preprocessed, one-hot, and labelled by folder', async () => {
  const dir = makeImageFolder({ classes: { red: 3, blue: 3 }, size: [24, 18] });
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 6, 3] }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
  setMeta(model, { name: 't', source: 'code', format: 'layers', inputSize: [8, 6], preprocessing: PREPROCESS_MOBILENET, classes: ['blue', 'red'] });
  const data = await imageFolder(dir, { model, batchSize: 4 });
  assert.deepEqual(data.imageSize, [8, 6]);
  const batches: Batch[] = [];
  for await (const b of data.train.batches()) batches.push(b);
  assert.deepEqual(batches.map((b) => b.xs.shape), [
    [4, 8, 6, 3],
    [2, 8, 6, 3],
  ]);
  assert.deepEqual(batches[0].ys.shape, [4, 2]);
  const x = batches[0].xs.dataSync();
  assert.ok(Math.min(...x) >= -1 && Math.max(...x) <= 1, 'MobileNet preprocessing maps pixels to [-1, 1]');
  assert.ok(Math.min(...x) < -0.5, 'dark pixels are near -1');
  // Red images have a larger red channel than blue; labels follow the folder names.
  const ys = batches.flatMap((b) => tf.tidy(() => b.ys.argMax(1).arraySync() as number[]));
  const means = batches.flatMap((b) => tf.tidy(() => b.xs.mean([1, 2]).arraySync() as number[][]));
  ys.forEach((y, i) => assert.equal(means[i][0] > means[i][2] ? 1 : 0, y));
  tf.dispose(batches.flatMap((b) => [b.xs, b.ys]));
});

test('imageFolder: clear errors for empty class folders, one class, no images, unknown labels', async () => {
  const empty = makeImageFolder({ classes: { red: 2, blue: 2 } });
  fs.mkdirSync(path.join(empty, 'green'));
  await assert.rejects(imageFolder(empty), (e: Error) => e.message.includes(path.join(empty, 'green')) && /empty/.test(e.message));

  const one = makeImageFolder({ classes: { red: 2 } });
  await assert.rejects(imageFolder(one), /only one class folder \('red'\)/);

  const none = tmpDir();
  await assert.rejects(imageFolder(none), /no class subfolders/);
  await assert.rejects(imageFolder(path.join(none, 'missing')), /folder not found/);

  const unreadable = makeImageFolder({ classes: { red: 2, blue: 2 } });
  fs.mkdirSync(path.join(unreadable, 'green'));
  fs.writeFileSync(path.join(unreadable, 'green', 'x.png'), 'nope');
  await assert.rejects(imageFolder(unreadable), (e: Error) => e.message.includes(path.join(unreadable, 'green')) && /no readable/.test(e.message));

  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: 'softmax' })] });
  setMeta(model, { name: 't', source: 'code', format: 'layers', classes: ['cat', 'dog', 'red'] });
  const two = makeImageFolder({ classes: { red: 2, blue: 2 } });
  await assert.rejects(imageFolder(two, { model }), (e: Error) => /'blue'/.test(e.message) && /not among the model's classes/.test(e.message));
  // Folders that share no name with the model's classes are a new task (transfer): folder names.
  const fresh = await imageFolder(makeImageFolder({ classes: { blue: 2, green: 2 } }), { model, size: [4, 4] });
  assert.deepEqual(fresh.classes, ['blue', 'green']);
  // Folders among the model's classes take the model's order (evaluating the model itself).
  const own = await imageFolder(makeImageFolder({ classes: { dog: 2, cat: 2 } }), { model, size: [4, 4] });
  assert.deepEqual(own.classes, ['cat', 'dog', 'red']);
  // Folders that are a subset of the given classes are fine, in the given order.
  const sub = await imageFolder(two, { classes: ['red', 'green', 'blue'], size: [4, 4] });
  assert.deepEqual(sub.classes, ['red', 'green', 'blue']);
  assert.deepEqual(sub.counts, { red: 2, green: 0, blue: 2 });
});

test('augmentation: training split only, reproducible per seed, flips mirror the image', async () => {
  const dir = makeImageFolder({ classes: { red: 4, blue: 4 }, size: [16, 12] });
  const plain = await imageFolder(dir, { size: [12, 16], validationSplit: 0.25, seed: 1 });
  const aug = await imageFolder(dir, { size: [12, 16], validationSplit: 0.25, seed: 1, augment: true });
  assert.ok(aug.train.augmentation);
  assert.equal(aug.validation?.augmentation, undefined);
  const p = await collect(plain.train, { seed: 5 });
  const a1 = await collect(aug.train, { seed: 5 });
  const a2 = await collect(aug.train, { seed: 5 });
  const a3 = await collect(aug.train, { seed: 6 });
  assert.deepEqual(a1.xs, a2.xs, 'same seed, same augmentation');
  assert.notDeepEqual(a1.xs, p.xs);
  assert.notDeepEqual(a1.xs, a3.xs);
  assert.deepEqual(await collect(aug.validation as Dataset, { seed: 5 }), await collect(plain.validation as Dataset, { seed: 5 }));
  const off = await collect(aug.train, { seed: 5, augment: false });
  assert.deepEqual(off.xs, p.xs);

  const flipOnly = await imageFolder(dir, { size: [12, 16], seed: 1, augment: { flip: true } });
  const base = await imageFolder(dir, { size: [12, 16], seed: 1 });
  const f = await collect(flipOnly.train, { seed: 9 });
  const b = await collect(base.train, { seed: 9 });
  let flipped = 0;
  f.xs.flat().forEach((img, i) => {
    const orig = b.xs.flat()[i];
    const mirror = orig.map((row) => [...row].reverse());
    const isSame = JSON.stringify(img) === JSON.stringify(orig);
    const isMirror = JSON.stringify(img) === JSON.stringify(mirror);
    assert.ok(isSame || isMirror, `image ${i} is the original or its mirror`);
    if (isMirror && !isSame) flipped++;
  });
  assert.ok(flipped > 0 && flipped < 8, `some but not all images flipped (${flipped})`);
});

test('decoders: sharp and the JS fallback agree within rounding; probe reads headers', async () => {
  const dir = makeImageFolder({ classes: { red: 2, blue: 2 }, size: [40, 30], jpeg: true });
  for (const cls of ['red', 'blue']) {
    for (const f of fs.readdirSync(path.join(dir, cls))) {
      const file = path.join(dir, cls, f);
      for (const channels of [3, 1] as const) {
        const a = await decodeImage(file, { size: [15, 20], channels, decoder: 'sharp' });
        const b = await decodeImage(file, { size: [15, 20], channels, decoder: 'js' });
        assert.equal(a.data.length, 15 * 20 * channels);
        assert.equal(b.data.length, a.data.length);
        let max = 0;
        a.data.forEach((v, i) => (max = Math.max(max, Math.abs(v - b.data[i]))));
        assert.ok(max <= 6, `${f} ${channels}ch: max difference ${max}`);
      }
      const head = fs.readFileSync(file);
      assert.deepEqual(probeImage(head).width, 40);
    }
  }
  assert.throws(() => probeImage(Buffer.from('GIF89a....')), /not a PNG or JPEG/);
  assert.throws(() => probeImage(Buffer.alloc(0)), /empty/);
  // Downscaling averages: a 2×2 checkerboard of 0/255 shrinks to mid-grey, not to one of its pixels.
  const checker = new Uint8Array([0, 255, 255, 0]);
  assert.deepEqual([...resizeLinear(checker, 2, 2, 1, 1, 1)], [128]);
});

test('csv: header, quoted fields, label classes, bad rows with line numbers', async () => {
  const file = path.join(tmpDir(), 'iris.csv');
  fs.writeFileSync(
    file,
    ['sepal,petal,"species"', '1.5,0.2,setosa', '"2,5",1,setosa', '', '6.1,"4.7",versicolor', '5.0,x,versicolor', '7,2', '6.3,5.0,"virginica"', '"5.9","5.1",virginica', ',1,setosa'].join('\n') + '\n',
  );
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (m: string) => warnings.push(m);
  try {
    const data = await csv(file, { label: 'species', validationSplit: 0 });
    assert.deepEqual(data.classes, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(data.features, ['sepal', 'petal']);
    assert.deepEqual(
      data.badRows.map((b) => b.line),
      [3, 6, 7, 10],
    );
    assert.match(data.badRows[0].reason, /column 'sepal' is "2,5", not a number/);
    assert.match(data.badRows[2].reason, /2 fields, the header has 3/);
    assert.match(warnings.join('\n'), /skipped 4 bad row/);
    assert.deepEqual(data.counts, { setosa: 1, versicolor: 1, virginica: 2 });
    const { xs, labels } = await collect(data.train, { batchSize: 10 });
    const f32 = (rows: number[][]) => rows.map((r) => r.map(Math.fround));
    assert.deepEqual(xs[0], f32([
      [1.5, 0.2],
      [6.1, 4.7],
      [6.3, 5.0],
      [5.9, 5.1],
    ]));
    assert.deepEqual(labels, [0, 1, 2, 2]);
    const fixed = await csv(file, { label: 'species', classes: ['virginica', 'setosa'], features: ['petal'] });
    assert.deepEqual(fixed.classes, ['virginica', 'setosa']);
    assert.ok(fixed.badRows.some((b) => /not one of the classes/.test(b.reason)));
  } finally {
    console.warn = warn;
  }
  await assert.rejects(csv(file, { label: 'kind' }), /no column 'kind'; its columns are: sepal, petal, species/);
});

test('csv: a file with one feature column and the label (the delimiter cannot be guessed)', async () => {
  const file = path.join(tmpDir(), 'two.csv');
  fs.writeFileSync(file, 'a,label\n1,x\n2,y\n3,x\n4,y\n');
  const data = await csv(file, { label: 'label', validationSplit: 0 });
  assert.deepEqual(data.features, ['a']);
  assert.deepEqual([...data.classes], ['x', 'y']);
  assert.equal(data.train.size, 4);
  assert.deepEqual(data.badRows, []);
});

test('fromTensors: index or one-hot labels, stratified split, batches gather the right rows', async () => {
  const before = tf.memory().numTensors;
  const xs = tf.tensor2d([...Array(12).keys()].map((i) => [i, -i]));
  const idx = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32');
  const data = fromTensors(xs, idx, { classes: ['a', 'b', 'c'], validationSplit: 0.25, seed: 2, batchSize: 4 });
  assert.deepEqual(data.counts, { a: 4, b: 4, c: 4 });
  assert.deepEqual(data.validation?.counts, { a: 1, b: 1, c: 1 });
  const { xs: got, labels } = await collect(data.train, { shuffle: true, seed: 1 });
  const rows = got.flat() as unknown as number[][];
  rows.forEach((r, i) => assert.equal(r[0] % 3, labels[i], 'row and label stay together after shuffling'));
  assert.equal(rows.length, 9);
  const oneHot = tf.oneHot(idx, 3);
  const d2 = fromTensors(xs, oneHot);
  assert.deepEqual(d2.classes, ['0', '1', '2']);
  assert.deepEqual((await collect(d2.train)).labels, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
  const short = tf.tensor1d([0, 1]);
  assert.throws(() => fromTensors(xs, short), /12 samples but ys has 2/);
  tf.dispose([xs, idx, oneHot, short]);
  assert.equal(tf.memory().numTensors, before);
});

test('stratifiedSplit keeps every class in training and holds out at least one of each', () => {
  const labels = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2];
  const s = stratifiedSplit(labels, 3, 0.2, 1);
  const count = (idx: number[], c: number) => idx.filter((i) => labels[i] === c).length;
  assert.deepEqual([count(s.validation, 0), count(s.validation, 1), count(s.validation, 2)], [2, 1, 0]);
  assert.deepEqual([count(s.train, 0), count(s.train, 1), count(s.train, 2)], [8, 1, 1]);
  assert.throws(() => stratifiedSplit(labels, 3, 1, 1), /validationSplit/);
});
