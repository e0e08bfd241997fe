/**
 * A Dataset over a Source of samples: batches in a seeded order with prefetch, the train/validation
 * views of one source, and the checks that fit / evaluate apply to what they are given.
 */
import * as tf from '@tensorflow/tfjs';
import { DISPLAY_SYMBOL, type MimeBundle } from '../../common/display';
import { TEXT_PLAIN } from '../../common/mime';
import { describeValue } from '../util/text';
import type { TextEncoding } from '../text/encoding';
import { countByClass, seededRandom, shuffleInPlace, stratifiedSplit } from './split';
import {
  DEFAULT_BATCH_SIZE,
  type AugmentOptions,
  type Batch,
  type BatchOptions,
  type DataKind,
  type DataSplit,
  type Dataset,
  type LabeledData,
  type ResolvedAugment,
  type SkippedFile,
  type SplitOptions,
  type UnreadableSample,
} from './types';

export function resolveAugment(a: AugmentOptions | boolean | undefined): ResolvedAugment | undefined {
  if (!a) return undefined;
  const o: AugmentOptions = a === true ? { flip: true, crop: true, brightness: true } : a;
  const crop = o.crop === true ? 0.8 : typeof o.crop === 'number' ? o.crop : 1;
  const brightness = o.brightness === true ? 0.2 : typeof o.brightness === 'number' ? o.brightness : 0;
  if (!(crop > 0 && crop <= 1)) throw new Error(`augment.crop must be a fraction in (0, 1], got ${o.crop}`);
  if (!(brightness >= 0 && brightness <= 1)) throw new Error(`augment.brightness must be within [0, 1], got ${o.brightness}`);
  const r: ResolvedAugment = { flip: !!o.flip, cropMinScale: crop, brightness };
  return r.flip || r.cropMinScale < 1 || r.brightness > 0 ? r : undefined;
}

export interface Fetched {
  /** Sample indices that loaded, in order. */
  kept: number[];
  /** Opaque per-source payload for toTensor. */
  payload: unknown;
}

export interface Source {
  readonly kind: DataKind;
  readonly name: string;
  readonly classes: readonly string[];
  readonly labels: readonly number[];
  readonly elementShape: readonly number[];
  readonly inputKey: string;
  readonly skipped: SkippedFile[];
  /** May run ahead of the consumer (I/O and decoding). */
  fetch(indices: number[]): Promise<Fetched>;
  /** Runs when the batch is taken; returns preprocessed float32 [n, ...elementShape]. */
  toTensor(f: Fetched, augment: ResolvedAugment | undefined, rand: () => number): tf.Tensor;
  contentKey(indices: number[]): Promise<string[]>;
  sampleName(i: number): string;
  /** Why sample i failed to load, when it did. */
  failure(i: number): string | undefined;
  /** Loads the samples not loaded before, to learn which fail. */
  check(indices: number[]): Promise<void>;
  /** Texts only: the same samples turned into numbers by a text model's encoding. */
  withEncoding?(encoding: TextEncoding): Source;
}

class View implements Dataset {
  readonly counts: Readonly<Record<string, number>>;
  readonly labels: readonly number[];
  private epoch = 0;

  constructor(
    private readonly src: Source,
    /** Sample indices into the source. Batches report positions in this list. */
    private readonly indices: readonly number[],
    readonly batchSize: number,
    readonly augmentation: ResolvedAugment | undefined,
    private readonly split: string,
    private readonly seed: number,
  ) {
    this.labels = indices.map((i) => src.labels[i]);
    this.counts = countByClass(src.labels, src.classes, indices);
  }

  get kind() {
    return this.src.kind;
  }
  get name() {
    return `${this.src.name} (${this.split})`;
  }
  get classes() {
    return this.src.classes;
  }
  get size() {
    return this.indices.length;
  }
  get elementShape() {
    return this.src.elementShape;
  }
  get inputKey() {
    return this.src.inputKey;
  }
  get skipped() {
    return this.src.skipped;
  }

  contentKeys(): Promise<string[]> {
    return this.src.contentKey([...this.indices]);
  }

  sampleName(position: number): string {
    return this.src.sampleName(this.indices[position]);
  }

  unreadable(): UnreadableSample[] {
    return this.indices.flatMap((i, position) => {
      const reason = this.src.failure(i);
      return reason === undefined ? [] : [{ position, name: this.src.sampleName(i), reason }];
    });
  }

  checkReadable(): Promise<void> {
    return this.src.check([...this.indices]);
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.batches({ shuffle: true });
  }

  /** The same split, its texts turned into numbers by `encoding` (data that is not text stays as it is). */
  withEncoding(encoding: TextEncoding): View {
    if (!this.src.withEncoding) return this;
    const v = new View(this.src.withEncoding(encoding), this.indices, this.batchSize, this.augmentation, this.split, this.seed);
    v.epoch = this.epoch;
    return v;
  }

  async *batches(opts: BatchOptions = {}): AsyncGenerator<Batch, void, undefined> {
    const batchSize = opts.batchSize ?? this.batchSize;
    if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`batchSize must be a positive whole number, got ${batchSize}`);
    // Each call without an explicit seed is a new epoch: a new order and new augmentations,
    // still reproducible from the dataset's seed.
    const seed = opts.seed ?? this.seed * 7919 + this.epoch++;
    const rand = seededRandom(seed);
    const order = opts.positions ? [...opts.positions] : [...this.indices.keys()];
    for (const p of order) {
      if (!(Number.isInteger(p) && p >= 0 && p < this.indices.length)) throw new Error(`batches(): position ${p} is outside this dataset (0–${this.indices.length - 1}).`);
    }
    if (opts.shuffle) shuffleInPlace(order, rand);
    const augment = opts.augment === false ? undefined : this.augmentation;
    const chunks: number[][] = [];
    for (let i = 0; i < order.length; i += batchSize) chunks.push(order.slice(i, i + batchSize));
    const prefetch = Math.max(0, opts.prefetch ?? 1);
    const pending: Promise<Fetched>[] = [];
    const start = (k: number) => {
      if (k >= chunks.length) return;
      const p = this.src.fetch(chunks[k].map((pos) => this.indices[pos]));
      // A batch fetched ahead may never be awaited if the consumer stops early.
      p.catch(() => undefined);
      pending[k] = p;
    };
    for (let k = 0; k <= prefetch; k++) start(k);
    const posOf = new Map<number, number>();
    for (let k = 0; k < chunks.length; k++) {
      const fetched = await pending[k];
      delete pending[k];
      start(k + prefetch + 1);
      if (fetched.kept.length === 0) continue;
      for (const pos of chunks[k]) posOf.set(this.indices[pos], pos);
      const xs = this.src.toTensor(fetched, augment, rand);
      const labels = fetched.kept.map((i) => this.src.labels[i]);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), this.src.classes.length).toFloat());
      const indices = fetched.kept.map((i) => posOf.get(i) as number);
      posOf.clear();
      yield { xs, ys, indices };
    }
  }
}

export function makeData<K extends DataKind>(
  src: Source,
  opts: SplitOptions,
  augmentation: ResolvedAugment | undefined,
  extra: (split: { train: number[]; validation: number[] }) => object,
): LabeledData {
  const seed = opts.seed ?? 42;
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const split = stratifiedSplit(src.labels, src.classes.length, opts.validationSplit ?? 0, seed);
  const train = new View(src, split.train, batchSize, augmentation, opts.validationSplit ? 'train' : 'all', seed);
  const validation = split.validation.length ? new View(src, split.validation, batchSize, undefined, 'validation', seed + 1) : undefined;
  const data: LabeledData = {
    kind: src.kind as K,
    classes: src.classes,
    counts: countByClass(src.labels, src.classes),
    skipped: src.skipped,
    train,
    validation,
    [Symbol.asyncIterator]: () => train.batches({ shuffle: true }),
    ...extra(split),
  };
  // As a cell's last value, the data shows a summary rather than its internals.
  Object.defineProperty(data, DISPLAY_SYMBOL, { value: (): MimeBundle => ({ [TEXT_PLAIN]: describeData(src.name, data) }), enumerable: false });
  return data;
}

/** One paragraph: classes with counts, the split, and what was skipped (first few, with reasons). */
export function describeData(name: string, data: LabeledData): string {
  const lines = [`${name}: ${data.classes.length} classes, ${data.train.size} training${data.validation ? ` + ${data.validation.size} validation` : ''} samples`];
  const w = Math.max(...data.classes.map((c) => c.length));
  for (const c of data.classes) {
    const v = data.validation ? ` (${data.train.counts[c]} train / ${data.validation.counts[c]} validation)` : '';
    lines.push(`  ${c.padEnd(w)}  ${data.counts[c]}${v}`);
  }
  if (data.train.augmentation) {
    const a = data.train.augmentation;
    const parts = [a.flip && 'flip', a.cropMinScale < 1 && `crop ≥ ${a.cropMinScale}`, a.brightness > 0 && `brightness ±${a.brightness}`].filter(Boolean);
    lines.push(`augmentation (training split only): ${parts.join(', ')}`);
  }
  if (data.skipped.length) {
    lines.push(`skipped ${data.skipped.length} file(s):`);
    for (const s of data.skipped.slice(0, 5)) lines.push(`  ${s.file}: ${s.reason}`);
    if (data.skipped.length > 5) lines.push('  …');
  }
  return lines.join('\n');
}

// --- helpers for fit / evaluate

/** Text data turned into numbers by a text model's encoding; other data as it is. */
export function bindText(ds: Dataset, encoding: TextEncoding): Dataset {
  return ds instanceof View ? ds.withEncoding(encoding) : ds;
}

export function isDataset(x: unknown): x is Dataset {
  return typeof x === 'object' && x !== null && typeof (x as Dataset).batches === 'function' && typeof (x as Dataset).contentKeys === 'function';
}

/** Accepts LabeledData, a {train, validation} pair, or a single Dataset. */
export function asSplit(data: unknown, what: string): DataSplit {
  if (isDataset(data)) return { train: data };
  if (typeof data === 'object' && data !== null && isDataset((data as DataSplit).train)) {
    const d = data as DataSplit;
    if (d.validation !== undefined && !isDataset(d.validation)) throw new Error(`${what}: data.validation is not a dataset.`);
    return { train: d.train, validation: d.validation };
  }
  throw new Error(`${what}: expected data from tl.imageFolder(), tl.textFolder(), tl.csv() or tl.fromTensors(), got ${data instanceof tf.Tensor ? 'a tensor (wrap tensors with tl.fromTensors(xs, ys))' : describeValue(data)}.`);
}
