/** In-memory numeric samples (tensors, arrays, CSV rows) as a Source. */
import * as crypto from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { assertFiniteRows, assertFiniteTensor } from './finite';
import { makeData, type Fetched, type Source } from './dataset';
import type { DataKind, LabeledData, ResolvedAugment, SkippedFile, SplitOptions, TensorDataOptions } from './types';

export class ArraySource implements Source {
  readonly skipped: SkippedFile[] = [];
  private keys?: string[];
  private readonly rowSize: number;

  constructor(
    readonly kind: DataKind,
    readonly name: string,
    readonly classes: readonly string[],
    readonly labels: readonly number[],
    readonly elementShape: readonly number[],
    /** Either a tensor the caller owns (read, never disposed) or rows we own. */
    private readonly data: tf.Tensor | Float32Array,
    readonly inputKey: string,
    private readonly rowName: (i: number) => string = (i) => `row ${i}`,
  ) {
    this.rowSize = elementShape.reduce((a, b) => a * b, 1);
  }

  async fetch(indices: number[]): Promise<Fetched> {
    return { kept: indices, payload: indices };
  }

  sampleName(i: number): string {
    return this.rowName(i);
  }

  failure(): undefined {
    return undefined;
  }

  async check(): Promise<void> {}

  toTensor(f: Fetched, augment: ResolvedAugment | undefined): tf.Tensor {
    if (augment) throw new Error('Augmentation applies to image folders only.');
    const idx = f.payload as number[];
    if (this.data instanceof tf.Tensor) {
      const t = this.data;
      if (t.isDisposed) throw new Error(`The tensors given to fromTensors() were disposed while the dataset still uses them.`);
      return tf.tidy(() => tf.gather(t, tf.tensor1d(idx, 'int32')).toFloat());
    }
    const rows = this.data;
    const out = new Float32Array(idx.length * this.rowSize);
    idx.forEach((s, r) => out.set(rows.subarray(s * this.rowSize, (s + 1) * this.rowSize), r * this.rowSize));
    return tf.tensor(out, [idx.length, ...this.elementShape], 'float32');
  }

  async contentKey(indices: number[]): Promise<string[]> {
    if (!this.keys) {
      const values = this.data instanceof tf.Tensor ? ((await this.data.data()) as tf.TypedArray) : this.data;
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      const per = this.rowSize * values.BYTES_PER_ELEMENT;
      const tag = values.constructor.name;
      this.keys = this.labels.map((_, i) =>
        crypto.createHash('sha256').update(tag).update(bytes.subarray(i * per, (i + 1) * per)).digest('hex').slice(0, 32),
      );
    }
    const keys = this.keys;
    return indices.map((i) => keys[i]);
  }
}

function labelsFromTensor(ys: tf.Tensor): { labels: number[]; numClasses: number } {
  if (ys.rank === 1 || (ys.rank === 2 && ys.shape[1] === 1)) {
    const values = Array.from(ys.dataSync());
    values.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0) throw new Error(`fromTensors: label ${i} is ${v}; labels must be class indices (0, 1, …) or one-hot rows.`);
    });
    return { labels: values, numClasses: values.reduce((m, v) => Math.max(m, v + 1), 0) };
  }
  if (ys.rank === 2) {
    const am = tf.argMax(ys, 1);
    const labels = Array.from(am.dataSync());
    am.dispose();
    return { labels, numClasses: ys.shape[1] as number };
  }
  throw new Error(`fromTensors: ys must be class indices [n] or one-hot [n, classes], got shape [${ys.shape.join(', ')}]`);
}

/**
 * In-memory samples as rows of a Float32Array (no tensor is held between batches).
 * Used for cached embeddings; `inputKey` tells caches what the numbers mean.
 */
export function fromArrays(
  values: Float32Array,
  elementShape: readonly number[],
  labels: readonly number[],
  opts: SplitOptions & { classes: string[]; name?: string; inputKey?: string },
): LabeledData {
  const rowSize = elementShape.reduce((a, b) => a * b, 1);
  if (values.length !== labels.length * rowSize) {
    throw new Error(`fromArrays: ${values.length} values do not make ${labels.length} rows of shape [${elementShape.join(', ')}].`);
  }
  for (const l of labels) if (!(Number.isInteger(l) && l >= 0 && l < opts.classes.length)) throw new Error(`fromArrays: label ${l} is not a class index (0–${opts.classes.length - 1}).`);
  assertFiniteRows(values, elementShape, `fromArrays${opts.name ? ` (${opts.name})` : ''}`, (r) => `row ${r}`);
  const src = new ArraySource('tensors', opts.name ?? 'arrays', opts.classes, labels, elementShape, values, opts.inputKey ?? `arrays:${elementShape.join('x')}`);
  return makeData<'tensors'>(src, opts, undefined, () => ({}));
}

/** In-memory samples: `xs` [n, ...] and labels `ys` as indices [n] or one-hot [n, k]. The tensors stay the caller's. */
export function fromTensors(xs: tf.Tensor, ys: tf.Tensor, opts: TensorDataOptions = {}): LabeledData {
  if (xs.rank < 2) throw new Error(`fromTensors: xs must have a batch dimension, got shape [${xs.shape.join(', ')}]`);
  if (xs.shape[0] !== ys.shape[0]) throw new Error(`fromTensors: xs has ${xs.shape[0]} samples but ys has ${ys.shape[0]}.`);
  if (xs.shape[0] === 0) throw new Error('fromTensors: no samples.');
  assertFiniteTensor(xs, 'fromTensors', (r) => `xs row ${r}`);
  const { labels, numClasses } = labelsFromTensor(ys);
  const classes = opts.classes ?? Array.from({ length: numClasses }, (_, i) => String(i));
  if (classes.length < numClasses) {
    throw new Error(`fromTensors: labels go up to class ${numClasses - 1} but only ${classes.length} classes were named (${classes.join(', ')}).`);
  }
  const elementShape = xs.shape.slice(1);
  const src = new ArraySource('tensors', 'tensors', classes, labels, elementShape, xs, `tensors:${elementShape.join('x')}:${xs.dtype}`);
  return makeData<'tensors'>(src, opts, undefined, () => ({}));
}
