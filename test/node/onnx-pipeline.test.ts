/**
 * DecodePool: worker threads give the same pixels as the main thread's decoder, keep file order,
 * report files that fail, and prefetch batches in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { decodeImage } from '../../src/tl/data/decode';
import { DecodePool, findWorkerScript } from '../../src/tl/onnx/pipeline';
import { PREPROCESS_MOBILENET } from '../../src/tl/models/meta';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-onnx-pipe-'));

function pixels(w: number, h: number, seed: number, channels: 3 | 4): Buffer {
  const b = Buffer.alloc(w * h * channels);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed * 97 + ((i * seed) >> 3)) & 255;
  if (channels === 4) for (let i = 3; i < b.length; i += 4) b[i] = 255;
  return b;
}

function writeImages(n: number): string[] {
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = 20 + i * 3;
    const h = 15 + i * 2;
    const file = path.join(dir, `img_${i}.${i % 2 ? 'jpg' : 'png'}`);
    if (i % 2) {
      fs.writeFileSync(file, jpeg.encode({ data: pixels(w, h, i, 4), width: w, height: h }, 90).data);
    } else {
      const png = new PNG({ width: w, height: h });
      pixels(w, h, i, 4).copy(png.data);
      fs.writeFileSync(file, PNG.sync.write(png));
    }
    files.push(file);
  }
  return files;
}

test('workers decode the same pixels as the main thread, in file order, and name files that fail', async () => {
  assert.ok(findWorkerScript(), 'the compiled worker script sits next to pipeline.js');
  const files = writeImages(7);
  const bad = path.join(dir, 'broken.png');
  fs.writeFileSync(bad, Buffer.from('\x89PNG\r\n\x1a\nnot really'));
  const all = [...files.slice(0, 3), bad, ...files.slice(3)];
  const pool = new DecodePool({ workers: 2 });
  assert.equal(pool.size, 2);
  assert.equal(pool.note, undefined);
  try {
    const b = await pool.decode(all, [12, 10], PREPROCESS_MOBILENET);
    assert.deepEqual(b.shape, [8, 12, 10, 3]);
    assert.deepEqual(b.failed.map((f) => f.file), [bad]);
    assert.ok(b.failed[0].error.length > 0);
    const row = 12 * 10 * 3;
    for (let i = 0; i < all.length; i++) {
      const got = b.data.subarray(i * row, (i + 1) * row);
      if (all[i] === bad) {
        assert.ok(got.every((v) => v === 0));
        continue;
      }
      const ref = await decodeImage(all[i], { size: [12, 10], channels: 3 });
      const want = Float32Array.from(ref.data, (v) => v * PREPROCESS_MOBILENET.scale + PREPROCESS_MOBILENET.offset);
      assert.deepEqual(Array.from(got), Array.from(want), `file ${i}`);
    }

    const seen: string[] = [];
    for await (const batch of pool.batches(files, 3, [8, 8], { scale: 1, offset: 0, channels: 1 }, 2)) {
      assert.equal(batch.shape[3], 1);
      assert.equal(batch.data.length, batch.files.length * 64);
      seen.push(...batch.files);
    }
    assert.deepEqual(seen, files);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.decode(files, [8, 8], PREPROCESS_MOBILENET), /closed/);
});

test('the default pool has one worker per core, with either decoder', async () => {
  const auto = new DecodePool();
  const js = new DecodePool({ decoder: 'js' });
  try {
    assert.equal(auto.size, os.availableParallelism());
    assert.equal(js.size, os.availableParallelism());
    const files = writeImages(2);
    const a = await js.decode(files, [7, 7], PREPROCESS_MOBILENET);
    assert.equal(a.failed.length, 0);
    assert.equal(a.data.length, 2 * 7 * 7 * 3);
  } finally {
    await auto.close();
    await js.close();
  }
});

test('with no workers, the pool decodes on the main thread with the same result', async () => {
  const files = writeImages(3);
  const inline = new DecodePool({ workers: 0 });
  const threaded = new DecodePool({ workers: 2 });
  try {
    assert.equal(inline.size, 0);
    const a = await inline.decode(files, [9, 9], PREPROCESS_MOBILENET);
    const b = await threaded.decode(files, [9, 9], PREPROCESS_MOBILENET);
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
  } finally {
    await inline.close();
    await threaded.close();
  }
});
