/**
 * Hostile data: every case either trains on clean data while saying what it left out, or stops with an
 * error that names the file, row, line, column or class. HOSTILE_CASES counts them for the report.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { csv, fromArrays, fromTensors, imageFolder } from '../../src/tl/data';
import { fineTune, fit } from '../../src/tl/train';
import { evaluate } from '../../src/tl/evaluate';
import { clearEmbeddingCache } from '../../src/tl/embeddings';
import { withHead } from '../../src/tl/heads';
import { freeze } from '../../src/tl/freeze';
import { clearInterrupt, getOutputSink, InterruptedError, requestInterrupt, setOutputSink } from '../../src/tl/output';
import { DISPLAY_SYMBOL, type Displayable } from '../../src/common/display';
import { MIME, TEXT_PLAIN } from '../../src/common/mime';
import type { TrainingRun } from '../../src/common/shapes';
import { classImage, makeImageFolder, poisonedLoss, RecordingSink, tinyConvBase, tmpDir, truncatePngs, writePng } from './tl-helpers';

process.env.TRANSFER_LAB_CACHE = tmpDir('tl-bad-data-cache-');
const outside = getOutputSink();
let sink: RecordingSink;
before(() => {
  sink = new RecordingSink();
  setOutputSink(sink);
});
after(() => setOutputSink(outside));

/**
 * Each hostile case and how it ends: 'error' (thrown, naming the thing), 'stop' (training stops with
 * the reason in the result and output) or 'note' (the bad part is left out, listed with the reason).
 */
type Outcome = 'error' | 'stop' | 'note';
const cases: { name: string; outcome: Outcome }[] = [];
function hostile(name: string, outcome: Outcome): void {
  cases.push({ name, outcome });
}
after(() => {
  const n = (o: Outcome) => cases.filter((c) => c.outcome === o).length;
  console.log(`HOSTILE_CASES ${cases.length}: ${n('error')} clear errors, ${n('stop')} training stops with the reason, ${n('note')} left out with a note`);
});

/** Captures console.warn while `fn` runs. */
async function warnings<T>(fn: () => Promise<T>): Promise<{ value: T; warned: string }> {
  const warn = console.warn;
  const lines: string[] = [];
  console.warn = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    return { value: await fn(), warned: lines.join('\n') };
  } finally {
    console.warn = warn;
  }
}

function imageModel(classes: readonly string[]): tf.LayersModel {
  const base = tinyConvBase([16, 16, 3]);
  freeze(base);
  return withHead(base, { classes: [...classes] });
}

test('imageFolder: symbolic link loops, links out of the folder, links between classes and hard links: each real file once', async () => {
  const root = makeImageFolder({ classes: { cat: 4, dog: 4 } });
  const away = tmpDir('tl-outside-');
  writePng(path.join(away, 'stray.png'), 20, 16, classImage(20, 16, [1, 2, 3], 9));
  fs.symlinkSync('.', path.join(root, 'cat', 'loop')); // cat/loop/loop/loop/… without a check
  fs.symlinkSync('..', path.join(root, 'cat', 'up')); // the whole data folder, inside a class
  fs.symlinkSync(path.join(root, 'cat'), path.join(root, 'dog', 'alias')); // another class's images
  fs.symlinkSync(away, path.join(root, 'dog', 'away')); // a folder outside
  fs.symlinkSync(path.join(away, 'stray.png'), path.join(root, 'dog', 'stray.png')); // a file outside
  fs.symlinkSync(path.join(root, 'dog', 'nothing.png'), path.join(root, 'dog', 'broken.png'));
  fs.symlinkSync('self.png', path.join(root, 'dog', 'self.png')); // a link to itself
  fs.linkSync(path.join(root, 'dog', 'img000.png'), path.join(root, 'dog', 'img100.png')); // a hard link
  fs.symlinkSync(root, path.join(root, 'everything')); // a "class" that is the data folder itself
  fs.symlinkSync(away, path.join(root, 'elsewhere')); // a class folder outside the data folder
  // Links that fan out level after level: 2^24 paths to one image when each link is walked.
  const level = (k: number) => path.join(root, 'cat', 'fan', `f${k}`);
  for (let k = 0; k <= 24; k++) fs.mkdirSync(level(k), { recursive: true });
  for (let k = 0; k < 24; k++) for (const l of ['a', 'b']) fs.symlinkSync(level(k + 1), path.join(level(k), l));
  writePng(path.join(level(24), 'deep.png'), 20, 16, classImage(20, 16, [220, 40, 40], 11));

  const data = await imageFolder(root, { size: [16, 16], validationSplit: 0.5, seed: 1 });
  assert.deepEqual(data.classes, ['cat', 'dog']);
  assert.deepEqual(data.counts, { cat: 5, dog: 4 }, 'no class multiplied');
  const real = (f: string) => fs.realpathSync(f);
  const train = data.files.train.map(real);
  const validation = data.files.validation.map(real);
  assert.equal(new Set([...train, ...validation]).size, 9, 'each real file once');
  assert.equal(train.length + validation.length, 9);
  assert.deepEqual(train.filter((f) => validation.includes(f)), [], 'no validation file in training');
  for (const f of [...train, ...validation]) assert.ok(!f.startsWith(fs.realpathSync(away)), `${f} is inside the data folder`);
  const reason = (rel: string) => data.skipped.find((s) => s.file === path.join(root, rel))?.reason ?? '(not listed)';
  assert.match(reason('cat/loop'), /symbolic link loop: it points back to cat/);
  assert.match(reason('cat/up'), /symbolic link loop: it points back to the data folder/);
  assert.match(reason('dog/alias/img000.png'), /same file as cat\/img000\.png/);
  assert.match(reason('dog/away'), /outside the data folder/);
  assert.match(reason('dog/stray.png'), /outside the data folder/);
  assert.match(reason('dog/broken.png'), /broken symbolic link/);
  assert.match(reason('dog/self.png'), /symbolic link loop/);
  assert.match(reason('dog/img100.png'), /same file as dog\/img000\.png/);
  assert.match(reason('everything'), /points back to the data folder/);
  assert.match(reason('elsewhere'), /outside the data folder/);
  assert.match(reason('cat/fan/f0/b'), /same folder as cat\/fan\/f0\/a, listed once/);
  const shown = (data as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN] as string;
  assert.match(shown, /skipped \d+ file\(s\)/);
  // The same folder reached through a link: links inside it still count as inside.
  const viaLink = path.join(tmpDir('tl-via-'), 'data');
  fs.symlinkSync(root, viaLink);
  const again = await imageFolder(viaLink, { size: [16, 16], validationSplit: 0.5, seed: 1 });
  assert.deepEqual(again.counts, data.counts);
  assert.deepEqual(again.files.validation.map(real), validation);
  for (const c of ['loop to the class folder', 'loop to the data folder', 'link to another class', 'folder link out', 'file link out', 'broken link', 'link to itself', 'hard link', 'class linking the data folder', 'class folder outside', 'links fanning out 24 levels deep']) {
    hostile(`imageFolder: ${c}`, 'note');
  }
});

test('imageFolder: a class folder whose images are all links to another class is an error naming it', async () => {
  const root = makeImageFolder({ classes: { cat: 3, dog: 3 } });
  fs.mkdirSync(path.join(root, 'copycat'));
  for (const f of fs.readdirSync(path.join(root, 'cat'))) fs.symlinkSync(path.join(root, 'cat', f), path.join(root, 'copycat', f));
  await assert.rejects(imageFolder(root, { size: [16, 16] }), /class folder .*copycat has no readable PNG or JPEG images \(img000\.png: same file as cat\/img000\.png/);
  hostile('imageFolder: a class of links to another class', 'error');
});

test('fit: images that fail to decode are counted and named; a class or a data set left with none is an error before training', async () => {
  await clearEmbeddingCache();
  const root = makeImageFolder({ classes: { red: 5, blue: 5, green: 4 }, corrupt: true });
  for (const cacheEmbeddings of [true, false]) {
    const data = await imageFolder(root, { size: [16, 16], validationSplit: 0.25, seed: 2, batchSize: 4 });
    const model = imageModel(data.classes);
    const { value: r, warned } = await warnings(() => fit(model, data, { epochs: 1, cacheEmbeddings, verbose: false }));
    assert.equal(r.status, 'done');
    assert.equal(r.unreadable?.length, 1, `cacheEmbeddings ${cacheEmbeddings}`);
    assert.equal(r.unreadable?.[0].file, path.join('red', 'truncated.png'), 'named relative to the data folder');
    assert.match(r.unreadable?.[0].reason ?? '', /decode failed/);
    assert.match(warned, /1 image\(s\) could not be decoded and were left out: red\/truncated\.png \((train|validation): decode failed/);
    const summary = (r as unknown as Displayable)[DISPLAY_SYMBOL]()[TEXT_PLAIN] as string;
    assert.match(summary, /^fit done[^]*\n1 image\(s\) could not be decoded and were left out: red\/truncated\.png/);
    const run = sink.bundles(MIME.training).at(-1) as TrainingRun;
    assert.match(run.message ?? '', /could not be decoded[^]*red\/truncated\.png/);
    const ev = await warnings(() => evaluate(model, data, { display: false }));
    if (r.unreadable?.[0].split === 'validation') {
      assert.equal(ev.value.unreadable?.length, 1);
      assert.match(ev.warned, /evaluate\(\): 1 image\(s\) could not be decoded/);
    }
  }
  hostile('fit: an image that fails to decode (cached path)', 'note');
  hostile('fit: an image that fails to decode (uncached path)', 'note');

  truncatePngs(path.join(root, 'green'));
  for (const cacheEmbeddings of [true, false]) {
    const data = await imageFolder(root, { size: [16, 16], batchSize: 4 });
    const model = imageModel(data.classes);
    const batches = () => sink.posts().filter((p) => p.type === 'batch').length;
    const before = batches();
    await assert.rejects(
      fit(model, data, { epochs: 1, cacheEmbeddings, cacheDir: false, verbose: false, batchMessageIntervalMs: 0 }),
      /fit\(\): class 'green' has no training image left: every one failed to decode \(green\/img000\.png, green\/img001\.png, green\/img002\.png, … \(4 in all\): decode failed/,
    );
    assert.equal(batches(), before, 'refused before the first batch');
  }
  hostile('fit: a class whose images all fail to decode (cached path)', 'error');
  hostile('fit: a class whose images all fail to decode (uncached path)', 'error');

  for (const c of ['red', 'blue']) truncatePngs(path.join(root, c));
  for (const cacheEmbeddings of [true, false]) {
    const data = await imageFolder(root, { size: [16, 16], batchSize: 4 });
    await assert.rejects(fit(imageModel(data.classes), data, { epochs: 1, cacheEmbeddings, cacheDir: false, verbose: false }), /fit\(\): none of the 1[0-9] training images could be decoded/);
  }
  hostile('fit: no image decodes (cached path)', 'error');
  hostile('fit: no image decodes (uncached path)', 'error');
});

test('NaN and Infinity in tensors, arrays and CSV are errors naming the row', async () => {
  const ys = tf.tensor1d([0, 1, 0, 1], 'int32');
  for (const [bad, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
    const xs = tf.tensor2d([[1, 2], [3, 4], [5, bad], [7, 8]]);
    assert.throws(() => fromTensors(xs, ys, { classes: ['a', 'b'] }), new RegExp(`^Error: fromTensors: xs row 2 holds ${shown} at column 1\\.`));
    xs.dispose();
    hostile(`fromTensors: ${shown}`, 'error');
  }
  const images = tf.zeros([4, 2, 2, 3]).bufferSync();
  images.set(NaN, 3, 1, 0, 2);
  images.set(NaN, 1, 0, 0, 0);
  const x4 = images.toTensor();
  assert.throws(() => fromTensors(x4, ys), /fromTensors: xs row 1 holds NaN at element \[0, 0, 0\] \(2 samples in all hold NaN or Infinity\)/);
  tf.dispose([x4, ys]);
  hostile('fromTensors: NaN in an image tensor', 'error');

  assert.throws(() => fromArrays(new Float32Array([1, 2, 3, NaN]), [2], [0, 1], { classes: ['a', 'b'] }), /fromArrays: row 1 holds NaN at column 1/);
  hostile('fromArrays: NaN', 'error');

  const dir = tmpDir('tl-bad-csv-');
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  for (const [cell, line] of [['NaN', 3], ['nan', 3], ['Infinity', 3], ['-inf', 3], ['1e999', 3], ['1e39', 3]] as const) {
    const f = write('values.csv', `x,y,label\n1,2,a\n3,${cell},b\n5,6,a\n`);
    await assert.rejects(csv(f, { label: 'label' }), new RegExp(`csv\\(\\): .*values\\.csv line ${line}, column 'y' is ${cell.replace('+', '\\+')}\\. NaN and Infinity are not allowed`));
    hostile(`csv: ${cell}`, 'error');
  }
  // Not a number at all (a typo, an empty cell) stays what it was: a listed bad row.
  const typo = await warnings(() => csv(write('typo.csv', 'x,y,label\n1,2,a\n3,abc,b\n5,6,b\n7,8,a\n'), { label: 'label' }));
  assert.deepEqual(typo.value.badRows, [{ line: 3, reason: `column 'y' is "abc", not a number` }]);
  assert.match(typo.warned, /skipped 1 bad row\(s\)[^]*line 3/);
});

test('a duplicate CSV header is an error naming the column', async () => {
  const dir = tmpDir('tl-dup-csv-');
  const f = path.join(dir, 'dup.csv');
  fs.writeFileSync(f, 'height,width,height,label\n1,2,3,a\n4,5,6,b\n');
  await assert.rejects(csv(f, { label: 'label' }), /csv\(\): .*dup\.csv has two columns named 'height' \(columns 1 and 3\)/);
  fs.writeFileSync(f, 'x,label,label\n1,a,b\n');
  await assert.rejects(csv(f, { label: 'label' }), /two columns named 'label' \(columns 2 and 3\)/);
  hostile('csv: a duplicate feature column', 'error');
  hostile('csv: a duplicate label column', 'error');
});

test('a model holding NaN is refused before training; a base whose outputs overflow is an error naming the image', async () => {
  await clearEmbeddingCache();
  const root = makeImageFolder({ classes: { red: 3, blue: 3 } });
  const data = await imageFolder(root, { size: [16, 16] });
  const model = imageModel(data.classes);
  const conv = model.getLayer('base_conv');
  const [kernel, ...rest] = conv.getWeights();
  const setKernel = (v: number) => {
    const k = tf.tidy(() => tf.fill(kernel.shape, v));
    conv.setWeights([k, ...rest]);
    k.dispose();
  };
  setKernel(NaN);
  for (const cacheEmbeddings of [true, false]) {
    await assert.rejects(fit(model, data, { epochs: 1, cacheEmbeddings, cacheDir: false, verbose: false }), /fit\(\): the model's weight 'base_conv\/kernel(_\d+)?' holds NaN or Infinity before training/);
    hostile(`a model with a NaN weight (cacheEmbeddings ${cacheEmbeddings})`, 'error');
  }
  // Finite weights, but 27 products of 1e38 each overflow float32: the base outputs Infinity and NaN.
  setKernel(1e38);
  await assert.rejects(
    fit(model, data, { epochs: 1, cacheDir: false, baseEngine: 'tfjs', verbose: false }),
    /embedding cache: the frozen base: the output for blue\/img000\.png holds (NaN|-?Infinity) .*\(6 samples in all hold NaN or Infinity\)\. Check the base for NaN or Infinity weights\./,
  );
  hostile('a frozen base whose outputs overflow (cached path)', 'error');
  const r = await fit(model, data, { epochs: 2, cacheEmbeddings: false, verbose: false });
  assert.equal(r.status, 'error');
  assert.match(r.stoppedReason ?? '', /became NaN .*epoch 1.*; the weights from the start of epoch 1 are restored/);
  hostile('a frozen base whose outputs overflow (uncached path)', 'stop');
});

test('fineTune does not start its second phase after the first one stopped on NaN', async () => {
  const root = makeImageFolder({ classes: { red: 4, blue: 4 } });
  const data = await imageFolder(root, { size: [16, 16], batchSize: 4 });
  const model = imageModel(data.classes);
  const p = poisonedLoss();
  model.compile({ optimizer: 'adam', loss: p.loss });
  p.arm(2);
  const before = sink.bundles(MIME.training).length;
  await assert.rejects(
    fineTune(model, data, { headEpochs: 2, fineTuneEpochs: 2, cacheDir: false, verbose: false }),
    /fineTune\(\): the head phase stopped \(loss became NaN at epoch 1, batch 2; the weights from the start of epoch 1 are restored and the optimizer starts afresh\), so the fine-tune phase did not run\./,
  );
  const runs = (sink.bundles(MIME.training).slice(before) as TrainingRun[]).map((r) => r.phase);
  assert.ok(!runs.includes('fine-tune'), 'no fine-tune run was shown');
  hostile('fineTune: NaN loss in the head phase', 'stop');
});

test('fineTune says so when its fine-tune phase stops on NaN, and keeps what the head phase did', async () => {
  const root = makeImageFolder({ classes: { red: 4, blue: 4 } });
  const data = await imageFolder(root, { size: [16, 16], batchSize: 4 });
  const model = imageModel(data.classes);
  const p = poisonedLoss();
  model.compile({ optimizer: 'adam', loss: p.loss });
  p.arm(2 + 2); // the head phase's one epoch has 2 batches; NaN at the fine-tune phase's epoch 1, batch 2
  const { value: r, warned } = await warnings(() => fineTune(model, data, { headEpochs: 1, fineTuneEpochs: 2, cacheDir: false, verbose: false }));
  assert.equal(r.head.status, 'done');
  assert.equal(r.fineTune.status, 'error');
  assert.match(warned, /^Training stopped: loss became NaN at epoch 1, batch 2; .*fit\(\) ends with status 'error' after 0 of 2 epoch\(s\)/m);
  assert.match(warned, /^fineTune\(\): the fine-tune phase stopped \(loss became NaN at epoch 1, batch 2; [^)]*\); the head phase finished, and result\.fineTune\.status is 'error'\.$/m);
  hostile('fineTune: NaN loss in the fine-tune phase', 'stop');
});

test('file and class names with control characters are shown escaped, never raw', async () => {
  const evil = 'evil\n\u001b[2J';
  const root = makeImageFolder({ classes: { red: 3, [evil]: 3 } });
  fs.renameSync(path.join(root, 'red', 'img000.png'), path.join(root, 'red', 'x\u001b]0;owned\u0007.png'));
  truncatePngs(path.join(root, evil));
  const odd = path.join(root, 'red', 'x\u001b]0;owned\u0007.png');
  const b = fs.readFileSync(odd);
  fs.writeFileSync(odd, b.subarray(0, Math.floor(b.length / 2)));
  const data = await imageFolder(root, { size: [16, 16] });
  const err = await fit(imageModel(data.classes), data, { epochs: 1, cacheEmbeddings: false, verbose: false }).then(
    () => '',
    (e: Error) => e.message,
  );
  assert.match(err, /class '"evil\\n\\u001b\[2J"' has no training image left/);
  assert.doesNotMatch(err, /\u001b/);
  fs.rmSync(path.join(root, evil), { recursive: true });
  fs.mkdirSync(path.join(root, 'blue'));
  for (const f of ['img000.png', 'img001.png']) fs.copyFileSync(path.join(root, 'red', 'img002.png'), path.join(root, 'blue', f));
  const clean = await imageFolder(root, { size: [16, 16] });
  const { value: r, warned } = await warnings(() => fit(imageModel(clean.classes), clean, { epochs: 1, cacheEmbeddings: false, verbose: false }));
  assert.equal(r.unreadable?.length, 1);
  assert.ok(warned.includes('left out: "red/x\\u001b]0;owned\\u0007.png"'), warned);
  assert.doesNotMatch(warned, /[\u0000-\u0008\u000b-\u001f]/);
  hostile('a class name with a newline and a terminal escape', 'error');
  hostile('an undecodable file whose name holds terminal escapes', 'note');
});

test('fit: an epoch is the images that decode, so an interrupt on its last batch keeps it and the ETA counts what trains', async () => {
  await clearEmbeddingCache();
  // 7 images that decode and 1 that does not: two batches of 4 positions, one of them with 3 images.
  const root = makeImageFolder({ classes: { red: 4, blue: 3 }, corrupt: true });
  for (const cacheEmbeddings of [false, true]) {
    const data = await imageFolder(root, { size: [16, 16], batchSize: 4 });
    assert.equal(data.train.size, 8);
    const model = imageModel(data.classes);
    // Samples left after the last batch of epoch 1, as its ETA counts them (seconds × samples per second).
    const left: number[] = [];
    sink.onPost = (m) => {
      const msg = m as { type: string; point?: { epoch: number; batch: number }; etaSeconds?: number; throughput?: number };
      if (msg.type !== 'batch' || msg.point?.epoch !== 1 || msg.point.batch !== 1) return;
      if (msg.etaSeconds !== undefined && msg.throughput) left.push(msg.etaSeconds * msg.throughput);
      requestInterrupt();
    };
    try {
      await assert.rejects(warnings(() => fit(model, data, { epochs: 3, cacheEmbeddings, cacheDir: false, verbose: false, batchMessageIntervalMs: 0 })), InterruptedError);
    } finally {
      sink.onPost = undefined;
      clearInterrupt();
    }
    const run = sink.bundles(MIME.training).at(-1) as TrainingRun;
    assert.equal(run.status, 'interrupted');
    assert.equal(run.history.length, 1, `the complete first epoch stays (cacheEmbeddings ${cacheEmbeddings})`);
    assert.match(run.message ?? '', /Interrupted after 1 complete epoch\(s\)/);
    // After the last batch of epoch 1, two epochs of the 7 images that decode are left.
    assert.ok(left.length > 0);
    for (const k of left) assert.ok(Math.abs(k - 2 * 7) < 1e-6, `ETA counts ${k} samples left, not 14`);
  }
});

test('class names, CSV headers and values with terminal escapes or bidi overrides are escaped in error messages', async () => {
  const evil = 'x\u001b[2Jy\u202ez';
  const RAW = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  const escaped = (re: RegExp) => (e: unknown) => {
    const m = (e as Error).message;
    assert.doesNotMatch(m, RAW, m);
    assert.match(m, re);
    return true;
  };
  const n = 8;
  const xs = tf.randomNormal([n, 4], 0, 1, 'float32', 1);
  const ys = tf.tensor1d([...Array(n).keys()].map((i) => i % 2), 'int32');
  const data = fromTensors(xs, ys, { classes: ['a', evil], batchSize: 4 });
  const dense = (units: number) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units, activation: 'softmax' })] });
  await assert.rejects(fit(dense(3), data, { epochs: 1, verbose: false }), escaped(/3 output units but the data has 2 classes \(a, "x\\u001b\[2Jy\\u202ez"\)/));
  const other = fromTensors(xs, ys, { classes: ['a', 'b'], batchSize: 4 });
  await assert.rejects(fit(dense(2), data, { epochs: 1, verbose: false, validationData: other }), escaped(/validation classes \(a, b\) differ from training classes \(a, "x\\u001b/));
  await assert.rejects(fit(dense(2), data, { epochs: 1, verbose: false, classWeight: [1, 1, 1] }), escaped(/3 weights for 2 classes \(a, "x\\u001b/));
  await assert.rejects(fit(dense(2), data, { epochs: 1, verbose: false, classWeight: { [`${evil}!`]: 1 } }), escaped(/classWeight: '"x\\u001b\[2Jy\\u202ez!"' is not a class/));
  await assert.rejects(fit(dense(2), data, { epochs: 1, verbose: false, classWeight: { [evil]: -1 } }), escaped(/classWeight for '"x\\u001b.*' must be a number ≥ 0, got -1/));
  // A model whose metadata names its classes in another order.
  const imgs = tf.zeros([4, 16, 16, 3]);
  const labels = tf.tensor1d([0, 1, 0, 1], 'int32');
  const imgData = fromTensors(imgs, labels, { classes: ['a', evil], batchSize: 2 });
  await assert.rejects(fit(imageModel([evil, 'a']), imgData, { epochs: 1, verbose: false }), escaped(/the data's classes \(a, "x\\u001b.*\) differ from the model's \("x\\u001b/));
  tf.dispose([xs, ys, imgs, labels]);

  const dir = tmpDir('tl-bad-csv-names-');
  const f = path.join(dir, 'evil.csv');
  fs.writeFileSync(f, `x,${evil},label\n1,2,a\n3,4\u202e,b\n5,6,${evil}\n7,8,a\n`);
  await assert.rejects(csv(f, { label: 'nope' }), escaped(/has no column 'nope'; its columns are: x, "x\\u001b\[2Jy\\u202ez", label/));
  await assert.rejects(csv(f, { label: evil }), escaped(/no feature column|column/));
  await assert.rejects(csv(f, { label: 'label', features: ['x', 'y'] }), escaped(/has no feature column 'y'; its columns are: x, "x\\u001b/));
  await assert.rejects(csv(f, { label: evil, features: [evil] }), escaped(/'"x\\u001b.*' is the label column and cannot also be a feature/));
  const bad = await warnings(() => csv(f, { label: 'label', classes: ['a', 'b'] }));
  const reasons = bad.value.badRows.map((b) => b.reason).join(' | ');
  assert.doesNotMatch(reasons, RAW);
  assert.doesNotMatch(bad.warned, /[\u001b\u202e]/);
  assert.match(reasons, /column '"x\\u001b\[2Jy\\u202ez"' is "4\\u202e", not a number/);
  assert.match(reasons, /label '"x\\u001b\[2Jy\\u202ez"' is not one of the classes \(a, b\)/);
  const nan = path.join(dir, 'nan.csv');
  fs.writeFileSync(nan, `x,${evil},label\n1,NaN,a\n`);
  await assert.rejects(csv(nan, { label: 'label' }), escaped(/line 2, column '"x\\u001b.*' is NaN\. NaN and Infinity are not allowed/));
  hostile('class names and CSV headers with terminal escapes in error messages', 'error');
});
