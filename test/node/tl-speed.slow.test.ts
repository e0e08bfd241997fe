/**
 * Measurements behind the part-B report: decoder speed (sharp vs pngjs/jpeg-js) and the embedding
 * cache's speed-up per epoch. Slow (tens of seconds); the asserted margins are far below what was
 * measured, so that a loaded machine does not fail them, yet a cache that re-ran the base or a
 * decoder path that fell back to JS would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { decodeImage, type DecoderName } from '../../src/tl/data/decode';
import { imageFolder } from '../../src/tl/data';
import { fit } from '../../src/tl/train';
import { withHead } from '../../src/tl/heads';
import { freeze } from '../../src/tl/freeze';
import { mobileNetV2Like } from '../../src/tl/builders';
import { registerWasmGradients } from '../../src/tl/wasm-grads';
import { clearEmbeddingCache } from '../../src/tl/embeddings';
import { getOutputSink, setOutputSink } from '../../src/tl/output';
import { makeImageFolder, RecordingSink } from './tl-helpers';

function filesOf(dir: string): string[] {
  return fs.readdirSync(dir).flatMap((c) => fs.readdirSync(path.join(dir, c)).map((f) => path.join(dir, c, f)));
}

async function rate(files: string[], size: [number, number], decoder: DecoderName): Promise<number> {
  const t0 = process.hrtime.bigint();
  // A batch at a time, as the dataset's prefetch does.
  for (let i = 0; i < files.length; i += 32) await Promise.all(files.slice(i, i + 32).map((f) => decodeImage(f, { size, decoder })));
  return files.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

test('decoders: images per second, sharp vs pngjs/jpeg-js', async () => {
  const lines: string[] = [];
  let bigRatio = 0;
  for (const [src, perClass] of [
    [[160, 120], 60],
    [[640, 480], 20],
  ] as const) {
    const files = filesOf(makeImageFolder({ classes: { red: perClass, green: perClass, blue: perClass }, size: [src[0], src[1]], jpeg: true, seed: 3 }));
    for (const size of [
      [96, 96],
      [224, 224],
    ] as [number, number][]) {
      // Interleaved, best of two: other processes share the CPU.
      const best: Record<DecoderName, number> = { sharp: 0, js: 0 };
      for (let round = 0; round < 2; round++) for (const d of ['sharp', 'js'] as const) best[d] = Math.max(best[d], await rate(files, size, d));
      const ratio = best.sharp / best.js;
      if (src[0] === 640 && size[0] === 224) bigRatio = ratio;
      lines.push(`${src.join('×')} → ${size.join('×')} (${files.length} files, 1/3 JPEG): sharp ${best.sharp.toFixed(0)}/s, JS ${best.js.toFixed(0)}/s (${ratio.toFixed(1)}×)`);
    }
  }
  console.log(lines.join('\n'));
  assert.ok(bigRatio > 1.5, `sharp should beat the JS decoders on photo-sized images (${bigRatio.toFixed(2)}×)`);
});

test('embedding cache: epoch time with and without it (MobileNetV2-style base on wasm)', async () => {
  const outside = getOutputSink();
  setOutputSink(new RecordingSink());
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
    registerWasmGradients();
    await tf.setBackend('wasm');
    await clearEmbeddingCache();
    const dir = makeImageFolder({ classes: { red: 50, green: 50, blue: 50 }, size: [160, 120], jpeg: true });
    const base = mobileNetV2Like({ inputSize: 96, seed: 1 });
    freeze(base);
    const data = await imageFolder(dir, { model: base, validationSplit: 0.2, batchSize: 16 });
    const model = withHead(base, { classes: [...data.classes] });
    const plain = await fit(model, data, { epochs: 1, cacheEmbeddings: false, verbose: false });
    const cached = await fit(model, data, { epochs: 3, cacheDir: false, verbose: false });
    const uncachedEpoch = plain.history[0].seconds as number;
    const cachedEpoch = Math.max(...cached.history.map((h) => h.seconds as number));
    console.log(
      `150 images at 96×96, MobileNetV2 (alpha 1, ${model.countParams()} params), wasm: uncached epoch ${uncachedEpoch.toFixed(2)} s; ` +
        `embedding pass ${cached.embeddingCache?.seconds.toFixed(2)} s once; cached epochs ${cached.history.map((h) => (h.seconds as number).toFixed(3)).join(', ')} s; ` +
        `speed-up ${(uncachedEpoch / cachedEpoch).toFixed(0)}× per epoch`,
    );
    // The base ran once per sample: 120 training + 30 validation images in batches of 32.
    assert.equal(cached.embeddingCache?.baseBatches, Math.ceil(120 / 32) + Math.ceil(30 / 32));
    assert.ok(uncachedEpoch / cachedEpoch > 10, 'cached epochs are much faster');
  } finally {
    setOutputSink(outside);
    await tf.setBackend('cpu');
  }
});
