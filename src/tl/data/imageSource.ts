/** Image files as a Source: decoded on demand, augmented in the training split, hashed for caches. */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from '../models/meta';
import { decodeImage, type DecoderName } from './decode';
import { throwIfInterrupted } from '../output';
import { mapLimit } from '../util/concurrency';
import { fileHash } from './hash';
import type { Fetched, Source } from './dataset';
import type { ResolvedAugment, SkippedFile } from './types';

interface ImagePayload {
  pixels: Uint8Array[];
}

export class ImageSource implements Source {
  readonly kind = 'images' as const;
  readonly elementShape: readonly number[];
  readonly inputKey: string;
  /** Why a sample failed to decode, by index; and the samples that decoded at least once. */
  private readonly bad = new Map<number, string>();
  private readonly ok = new Set<number>();

  constructor(
    readonly name: string,
    readonly classes: readonly string[],
    readonly files: readonly string[],
    readonly labels: readonly number[],
    readonly size: [number, number],
    readonly channels: 1 | 3,
    readonly preprocessing: Preprocessing,
    readonly decoder: DecoderName,
    readonly skipped: SkippedFile[],
  ) {
    this.elementShape = [size[0], size[1], channels];
    this.inputKey = `images:${decoder}:${size[0]}x${size[1]}x${channels}:${preprocessing.scale}:${preprocessing.offset}`;
  }

  async fetch(indices: number[]): Promise<Fetched> {
    const results = await Promise.all(
      indices.map(async (i) => {
        if (this.bad.has(i)) return undefined;
        try {
          const img = await decodeImage(this.files[i], { size: this.size, channels: this.channels, decoder: this.decoder });
          this.ok.add(i);
          return img.data;
        } catch (e) {
          const reason = `decode failed: ${(e as Error).message}`;
          this.bad.set(i, reason);
          this.skipped.push({ file: this.files[i], reason });
          return undefined;
        }
      }),
    );
    const kept: number[] = [];
    const pixels: Uint8Array[] = [];
    results.forEach((r, k) => {
      if (r) {
        kept.push(indices[k]);
        pixels.push(r);
      }
    });
    const payload: ImagePayload = { pixels };
    return { kept, payload };
  }

  sampleName(i: number): string {
    return path.relative(this.name, this.files[i]);
  }

  failure(i: number): string | undefined {
    return this.bad.get(i);
  }

  async check(indices: number[]): Promise<void> {
    const unknown = indices.filter((i) => !this.ok.has(i) && !this.bad.has(i));
    // In batches, so that no more than one batch of pixels is held at a time.
    for (let k = 0; k < unknown.length; k += 32) {
      throwIfInterrupted();
      await this.fetch(unknown.slice(k, k + 32));
    }
  }

  toTensor(f: Fetched, augment: ResolvedAugment | undefined, rand: () => number): tf.Tensor {
    const { pixels } = f.payload as ImagePayload;
    const [h, w] = this.size;
    const c = this.channels;
    const n = pixels.length;
    const per = h * w * c;
    const { scale, offset } = this.preprocessing;
    if (!augment) {
      // Rounded to float32 at each step as tf.mul/tf.add do, so that an un-augmented pixel is
      // bit-for-bit the same whichever path made it.
      const s32 = Math.fround(scale);
      const o32 = Math.fround(offset);
      const out = new Float32Array(n * per);
      for (let k = 0; k < n; k++) {
        const p = pixels[k];
        const o = k * per;
        for (let i = 0; i < per; i++) out[o + i] = Math.fround(p[i] * s32) + o32;
      }
      return tf.tensor4d(out, [n, h, w, c]);
    }
    const raw = new Float32Array(n * per);
    pixels.forEach((p, k) => raw.set(p, k * per));
    // Draw all random numbers in JS from the seeded generator so that a seed reproduces a run.
    const boxes: number[] = [];
    const flips: number[] = [];
    const shifts: number[] = [];
    for (let k = 0; k < n; k++) {
      const s = augment.cropMinScale + (1 - augment.cropMinScale) * rand();
      const y1 = (1 - s) * rand();
      const x1 = (1 - s) * rand();
      boxes.push(y1, x1, y1 + s, x1 + s);
      flips.push(augment.flip && rand() < 0.5 ? 1 : 0);
      shifts.push(augment.brightness ? (rand() * 2 - 1) * augment.brightness * 255 : 0);
    }
    return tf.tidy(() => {
      let x: tf.Tensor4D = tf.tensor4d(raw, [n, h, w, c]);
      if (augment.cropMinScale < 1) {
        x = tf.image.cropAndResize(x, tf.tensor2d(boxes, [n, 4]), tf.tensor1d([...Array(n).keys()], 'int32'), [h, w], 'bilinear');
      }
      if (augment.flip) {
        const mask = tf.tensor4d(flips, [n, 1, 1, 1]);
        x = tf.add(tf.mul(tf.image.flipLeftRight(x), mask), tf.mul(x, tf.sub(1, mask))) as tf.Tensor4D;
      }
      if (augment.brightness) x = tf.clipByValue(tf.add(x, tf.tensor4d(shifts, [n, 1, 1, 1])), 0, 255) as tf.Tensor4D;
      return tf.add(tf.mul(x, scale), offset);
    });
  }

  contentKey(indices: number[]): Promise<string[]> {
    return mapLimit(indices, 16, (i) => fileHash(this.files[i]));
  }
}
