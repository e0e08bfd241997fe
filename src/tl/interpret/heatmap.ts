/** A Grad-CAM heatmap drawn over its image: enlarged smoothly to the image's size, coloured, blended. */
import * as tf from '@tensorflow/tfjs';
import type { Pixels } from '../pixels';

/** Colour stops from cold to hot (dark blue, blue, cyan, yellow, red), as jet-like maps go. */
const STOPS: [number, number, number][] = [
  [0, 0, 96],
  [0, 64, 255],
  [0, 224, 255],
  [255, 224, 0],
  [224, 0, 0],
];

export function heatColour(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(t));
  const f = t - i;
  return [0, 1, 2].map((c) => Math.round(STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f)) as [number, number, number];
}

/** RGB pixels: `image` with `heatmap` ([h, w] in [0, 1]) over it, hotter places more opaque. */
export function overlayHeatmap(image: Pixels, heatmap: number[][]): Pixels {
  const { height, width, channels } = image;
  const rows = heatmap.length;
  const cols = heatmap[0]?.length ?? 0;
  if (!rows || !cols) throw new Error('overlayHeatmap: the heatmap is empty.');
  const up = tf.tidy(() => {
    const hm = tf.tensor(heatmap.flat(), [rows, cols, 1]) as tf.Tensor3D;
    // Half-pixel centres: each feature-map cell sits over the middle of the patch it covers.
    return tf.image.resizeBilinear(hm, [height, width], false, true).dataSync();
  });
  const out = new Uint8Array(height * width * 3);
  for (let p = 0; p < height * width; p++) {
    const v = Math.min(1, Math.max(0, up[p]));
    const colour = heatColour(v);
    const alpha = 0.25 + 0.45 * v;
    for (let c = 0; c < 3; c++) {
      const base = image.data[p * channels + (channels === 1 ? 0 : c)];
      out[p * 3 + c] = Math.round((1 - alpha) * base + alpha * colour[c]);
    }
  }
  return { data: out, height, width, channels: 3 };
}
