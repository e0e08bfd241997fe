/**
 * Image tensors ↔ 8-bit pixels ↔ PNG/JPEG bytes, for showing tensors as images and for
 * `tf.node.encodePng`/`encodeJpeg` where @tensorflow/tfjs-node is missing.
 */
import * as tf from '@tensorflow/tfjs';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export interface Pixels {
  /** Row-major height × width × channels, 0..255. */
  data: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3 | 4;
}

/**
 * An image tensor's pixels: [h, w] or [h, w, c] with c = 1, 3 or 4. Floats whose values all lie in
 * [0, 1] are taken as unit-scaled (×255); anything else is clipped to 0..255.
 */
export function tensorPixels(image: tf.Tensor, what = 'image'): Pixels {
  if (image.isDisposed) throw new Error(`${what}: the tensor was disposed`);
  const shape = image.rank === 2 ? [...image.shape, 1] : image.shape;
  if (shape.length !== 3 || ![1, 3, 4].includes(shape[2])) {
    throw new Error(`${what}: expected an image tensor of shape [height, width] or [height, width, 1|3|4], got [${image.shape.join(', ')}]`);
  }
  const [height, width, channels] = shape as [number, number, 1 | 3 | 4];
  if (height === 0 || width === 0) throw new Error(`${what}: the image is empty ([${image.shape.join(', ')}])`);
  const values = image.dataSync();
  let unit = image.dtype !== 'int32' && image.dtype !== 'bool';
  if (unit) for (let i = 0; i < values.length && unit; i++) if (values[i] > 1 || values[i] < 0) unit = false;
  const scale = unit ? 255 : 1;
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(Number(values[i]) * scale);
    data[i] = v <= 0 || Number.isNaN(v) ? 0 : v >= 255 ? 255 : v;
  }
  return { data, height, width, channels };
}

/** RGBA with opaque alpha where the source has none; grey is spread over R, G and B. */
export function toRgba(p: Pixels): Buffer {
  const n = p.height * p.width;
  const out = Buffer.alloc(n * 4);
  for (let i = 0, s = 0; i < n; i++, s += p.channels) {
    const o = i * 4;
    if (p.channels === 1) out[o] = out[o + 1] = out[o + 2] = p.data[s];
    else {
      out[o] = p.data[s];
      out[o + 1] = p.data[s + 1];
      out[o + 2] = p.data[s + 2];
    }
    out[o + 3] = p.channels === 4 ? p.data[s + 3] : 255;
  }
  return out;
}

/** A PNG with as many channels as the pixels: grey, RGB or RGBA. */
export function encodePng(p: Pixels): Buffer {
  const png = new PNG({ width: p.width, height: p.height });
  png.data = toRgba(p);
  const colorType = p.channels === 1 ? 0 : p.channels === 3 ? 2 : 6;
  return PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true });
}

/** Quality 1..100, as tfjs-node's encodeJpeg takes it. */
export function encodeJpeg(p: Pixels, quality = 95): Buffer {
  if (!Number.isFinite(quality) || quality < 1 || quality > 100) throw new Error(`JPEG quality must be between 1 and 100, got ${quality}`);
  return Buffer.from(jpeg.encode({ data: toRgba(p), width: p.width, height: p.height }, Math.round(quality)).data);
}

/** Nearest-neighbour enlargement by a whole factor, so tiny images (28×28) are visible. */
export function upscale(p: Pixels, factor: number): Pixels {
  if (factor <= 1) return p;
  const { height, width, channels } = p;
  const out = new Uint8Array(height * factor * width * factor * channels);
  const rowOut = width * factor * channels;
  for (let y = 0; y < height * factor; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < width * factor; x++) {
      const s = (sy * width + Math.floor(x / factor)) * channels;
      out.set(p.data.subarray(s, s + channels), y * rowOut + x * channels);
    }
  }
  return { data: out, height: height * factor, width: width * factor, channels };
}

/** Images of one size side by side in rows of `columns`, with a `gap` of background between them. */
export function tile(images: Pixels[], columns: number, gap = 2, background = 255): Pixels {
  const { height, width, channels } = images[0];
  const cols = Math.min(columns, images.length);
  const rows = Math.ceil(images.length / cols);
  const W = cols * width + (cols - 1) * gap;
  const H = rows * height + (rows - 1) * gap;
  const out = new Uint8Array(W * H * channels).fill(background);
  images.forEach((img, k) => {
    if (img.height !== height || img.width !== width || img.channels !== channels) throw new Error('tile(): images differ in size or channels');
    const x0 = (k % cols) * (width + gap);
    const y0 = Math.floor(k / cols) * (height + gap);
    for (let y = 0; y < height; y++) {
      out.set(img.data.subarray(y * width * channels, (y + 1) * width * channels), ((y0 + y) * W + x0) * channels);
    }
  });
  return { data: out, height: H, width: W, channels };
}
