// Draws media/icon.png (128×128): a stack of layers, the lower ones frozen (blue-grey, with a lock
// bar), the top one trainable (orange). Regenerate with `node scripts/make-icon.mjs`.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

const S = 128;
const png = new PNG({ width: S, height: S });
const put = (x, y, [r, g, b, a = 255]) => {
  const i = (y * S + x) * 4;
  png.data[i] = r;
  png.data[i + 1] = g;
  png.data[i + 2] = b;
  png.data[i + 3] = a;
};
const rect = (x0, y0, w, h, c, radius = 0) => {
  for (let y = y0; y < y0 + h; y++)
    for (let x = x0; x < x0 + w; x++) {
      const dx = Math.max(x0 + radius - x, 0, x - (x0 + w - 1 - radius));
      const dy = Math.max(y0 + radius - y, 0, y - (y0 + h - 1 - radius));
      if (dx * dx + dy * dy <= radius * radius) put(x, y, c);
    }
};
rect(0, 0, S, S, [30, 34, 44], 20);
const frozen = [84, 110, 140];
const trainable = [247, 148, 29];
const layers = [
  [20, 88, frozen],
  [26, 66, frozen],
  [32, 44, frozen],
  [38, 18, trainable],
];
for (const [x, y, c] of layers) rect(x, y, S - 2 * x, 18, c, 6);
// Lock bars on the frozen layers: frozen is told apart by shape, not colour alone.
for (const [x, y, c] of layers.slice(0, 3)) rect(x + 10, y + 7, 14, 4, [230, 235, 240]);
// An arrow from the frozen stack into the new head.
rect(62, 36, 4, 8, [230, 235, 240]);
writeFileSync('media/icon.png', PNG.sync.write(png));
console.log('wrote media/icon.png');
