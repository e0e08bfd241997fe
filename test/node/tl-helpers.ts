/** Fixtures for the tl part-B tests: generated image folders, recording output sinks, tiny models. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import type { DisplayHandle, MimeBundle, OutputSink } from '../../src/common/display';
import { seededRandom } from '../../src/tl/data/split';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary folder, removed when the test process exits. */
export function tmpDir(prefix = 'tl-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}


/** RGBA pixels: a class-coloured image with a left-to-right gradient (so flips are visible) and noise. */
export function classImage(w: number, h: number, colour: [number, number, number], seed: number): Uint8Array {
  const r = seededRandom(seed);
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const g = x / Math.max(1, w - 1);
      for (let c = 0; c < 3; c++) data[i + c] = Math.max(0, Math.min(255, Math.round(colour[c] * (0.5 + 0.5 * g) + (r() - 0.5) * 40)));
      data[i + 3] = 255;
    }
  }
  return data;
}

export function writePng(file: string, w: number, h: number, rgba: Uint8Array): void {
  const png = new PNG({ width: w, height: h });
  Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength).copy(png.data);
  fs.writeFileSync(file, PNG.sync.write(png));
}

export function writeJpeg(file: string, w: number, h: number, rgba: Uint8Array): void {
  fs.writeFileSync(file, jpeg.encode({ data: Buffer.from(rgba), width: w, height: h }, 92).data);
}

export const COLOURS: Record<string, [number, number, number]> = {
  red: [220, 40, 40],
  green: [40, 200, 60],
  blue: [40, 60, 220],
};

export interface FolderSpec {
  /** Images per class (class name → count). */
  classes: Record<string, number>;
  /** Source image size [w, h] (varies per image by a few pixels when `vary` is set). */
  size?: [number, number];
  vary?: boolean;
  /** Every third image is a JPEG. */
  jpeg?: boolean;
  /** Adds a garbage .png, a truncated .png (valid header, cut data) and a .txt file to the first class. */
  corrupt?: boolean;
  seed?: number;
}

export function makeImageFolder(spec: FolderSpec, dir = tmpDir()): string {
  const [bw, bh] = spec.size ?? [20, 16];
  let seed = spec.seed ?? 1;
  const names = Object.keys(spec.classes);
  names.forEach((cls, ci) => {
    const d = path.join(dir, cls);
    fs.mkdirSync(d, { recursive: true });
    const colour = COLOURS[cls] ?? [(ci * 97) % 256, (ci * 57 + 80) % 256, (ci * 31 + 160) % 256];
    for (let k = 0; k < spec.classes[cls]; k++) {
      const w = spec.vary ? bw + (k % 3) * 3 : bw;
      const h = spec.vary ? bh + (k % 2) * 4 : bh;
      const px = classImage(w, h, colour, seed++);
      if (spec.jpeg && k % 3 === 2) writeJpeg(path.join(d, `img${String(k).padStart(3, '0')}.jpg`), w, h, px);
      else writePng(path.join(d, `img${String(k).padStart(3, '0')}.png`), w, h, px);
    }
  });
  if (spec.corrupt) {
    const d = path.join(dir, names[0]);
    fs.writeFileSync(path.join(d, 'garbage.png'), Buffer.from('this is not an image at all, just text'));
    const good = fs.readFileSync(path.join(d, 'img000.png'));
    fs.writeFileSync(path.join(d, 'truncated.png'), good.subarray(0, Math.floor(good.length / 2)));
    fs.writeFileSync(path.join(d, 'notes.txt'), 'hello');
  }
  return dir;
}

export interface Recorded {
  kind: 'display' | 'update' | 'post';
  displayId: number;
  data: unknown;
}

/** An OutputSink that records every call, for asserting what the renderer would receive. */
export class RecordingSink implements OutputSink {
  readonly events: Recorded[] = [];
  private next = 0;
  onPost?: (m: unknown) => void;

  display(bundle: MimeBundle): DisplayHandle {
    const id = this.next++;
    this.events.push({ kind: 'display', displayId: id, data: bundle });
    return {
      update: (b) => this.events.push({ kind: 'update', displayId: id, data: b }),
      post: (m) => {
        this.events.push({ kind: 'post', displayId: id, data: m });
        this.onPost?.(m);
      },
    };
  }

  bundles(mime: string): unknown[] {
    return this.events.filter((e) => e.kind !== 'post').map((e) => (e.data as MimeBundle)[mime]).filter((x) => x !== undefined);
  }

  posts(): { type: string; [k: string]: unknown }[] {
    return this.events.filter((e) => e.kind === 'post').map((e) => e.data as { type: string });
  }
}

/** A small conv + BN base and a dense head, seeded so that two builds have equal weights. */
export function tinyConvBase(inputShape: [number, number, number], seed = 7): tf.LayersModel {
  const inp = tf.input({ shape: inputShape, name: 'img' });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed }), name: 'base_conv' }).apply(inp) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'base_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'base_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }), name: 'base_dw' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: x, name: 'tinybase' });
}

/** Weights as plain arrays, for comparing two models or two moments. */
export function weightValues(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

export function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

/**
 * A cross-entropy loss that turns NaN on a chosen call (one call per training step), for testing the
 * NaN guard with data that holds no NaN. `arm(k)`: the k-th call from now is NaN; `arm(0)`: never.
 */
export function poisonedLoss(): { loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor; arm: (k: number) => void; calls: () => number } {
  let calls = 0;
  let at = 0;
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor) => {
    calls++;
    const l = tf.metrics.categoricalCrossentropy(yTrue, yPred);
    return calls === at ? tf.mul(l, NaN) : l;
  };
  return { loss, arm: (k) => (at = k === 0 ? 0 : calls + k), calls: () => calls };
}

/** The same loss with a finite value but NaN gradients on the armed call: only the weights go bad. */
export function nanGradientLoss(): { loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor; arm: (k: number) => void } {
  let calls = 0;
  let at = 0;
  // The value passes through; the gradient is NaN.
  const nanGrad = tf.customGrad(((x: tf.Tensor) => ({ value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.mul(dy, NaN) })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor) => {
    calls++;
    const l = tf.metrics.categoricalCrossentropy(yTrue, yPred);
    return calls === at ? nanGrad(l) : l;
  };
  return { loss, arm: (k) => (at = k === 0 ? 0 : calls + k) };
}

/** PNGs whose header is valid but whose data is cut short: they pass the folder scan and fail to decode. */
export function truncatePngs(dir: string): void {
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.png'))) {
    const p = path.join(dir, f);
    const b = fs.readFileSync(p);
    fs.writeFileSync(p, b.subarray(0, Math.floor(b.length / 2)));
  }
}
