/**
 * Labelled data for fit / evaluate / embeddings: image folders, CSV files and in-memory tensors.
 *
 * Every constructor returns the same shape (LabeledData): classes, counts, a training Dataset and
 * an optional validation Dataset. A Dataset streams batches ({xs, ys, indices}) from an async
 * iterator and decodes on demand with a small prefetch, so a folder of 10k images never sits in
 * memory at once. Batch tensors belong to whoever takes them from the iterator (fit hands them to
 * TF.js, which disposes them).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import Papa from 'papaparse';
import { getMeta, PREPROCESS_UNIT, type Preprocessing } from './meta';
import { decodeImage, probeImage, resolveDecoder, type DecoderChoice, type DecoderName } from './decode';
import { DISPLAY_SYMBOL, type MimeBundle } from '../common/display';
import { isInterruptRequested, InterruptedError } from './output';
import { assertFiniteRows, assertFiniteTensor, spellsNonFinite } from './finite';
import { listClassFolders, listClassImages, type ClassListing } from './folder-scan';
import { printable } from './text';
import { TEXT_PLAIN } from '../common/mime';

// --- public shapes

export interface Batch {
  /** float32 [n, ...elementShape], preprocessed. */
  xs: tf.Tensor;
  /** float32 one-hot [n, classes.length]. */
  ys: tf.Tensor;
  /** Sample indices (into the data's sample list) of the rows, in row order. */
  indices: number[];
}

export interface AugmentOptions {
  /** Random horizontal flip (p = 0.5). */
  flip?: boolean;
  /** Random crop-and-resize; a number is the smallest crop side as a fraction (default 0.8). */
  crop?: boolean | number;
  /** Random brightness shift; a number is the largest shift as a fraction of the pixel range (default 0.2). */
  brightness?: boolean | number;
}

/** Augmentation with defaults filled in; crop 1 and brightness 0 mean off. */
export interface ResolvedAugment {
  flip: boolean;
  cropMinScale: number;
  brightness: number;
}

export interface BatchOptions {
  batchSize?: number;
  /** Shuffle the sample order (seeded). Default false. */
  shuffle?: boolean;
  seed?: number;
  /** Apply the dataset's augmentation, if it has one. Default true. */
  augment?: boolean;
  /** Batches decoded ahead of the consumer. Default 1. */
  prefetch?: number;
  /** Only these positions (indices into this dataset), in this order; shuffle still applies. */
  positions?: number[];
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface UnreadableSample {
  /** Position in its dataset. */
  position: number;
  /** As sampleName() gives it. */
  name: string;
  reason: string;
}

export type DataKind = 'images' | 'csv' | 'tensors';

/** One split of labelled samples: what fit, evaluate and the embedding cache consume. */
export interface Dataset {
  readonly kind: DataKind;
  /** For messages: the folder, file or "tensors", plus the split. */
  readonly name: string;
  readonly classes: readonly string[];
  /** Number of samples (files that fail to decode later are dropped from batches and listed in skipped). */
  readonly size: number;
  /** Shape of one sample, e.g. [224, 224, 3]. */
  readonly elementShape: readonly number[];
  /** Class index per sample. */
  readonly labels: readonly number[];
  readonly counts: Readonly<Record<string, number>>;
  readonly batchSize: number;
  /** Set when this split augments its samples (the training split of an augmented image folder). */
  readonly augmentation?: ResolvedAugment;
  /** Everything besides the sample's own bytes that decides its tensor (decoder, size, preprocessing). */
  readonly inputKey: string;
  /** Files that could not be read (shared by all splits of the same data). */
  readonly skipped: readonly SkippedFile[];
  batches(opts?: BatchOptions): AsyncGenerator<Batch, void, undefined>;
  /** A content hash per sample, in sample order: file bytes for images, row values for tensors. */
  contentKeys(): Promise<string[]>;
  /** The sample at a position, for messages: a file relative to the data folder, a CSV line, a tensor row. */
  sampleName(position: number): string;
  /** Samples that failed to load so far (images that did not decode), in position order. */
  unreadable(): UnreadableSample[];
  /** Loads every sample not yet loaded once, so that unreadable() lists them all. Keeps nothing. */
  checkReadable(): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterator<Batch>;
}

export interface DataSplit {
  train: Dataset;
  validation?: Dataset;
}

export interface LabeledData extends DataSplit {
  readonly kind: DataKind;
  readonly classes: readonly string[];
  /** Samples per class over both splits. */
  readonly counts: Readonly<Record<string, number>>;
  readonly skipped: readonly SkippedFile[];
  /** Iterates the training split's batches. */
  [Symbol.asyncIterator](): AsyncIterator<Batch>;
}

export interface ImageFolderData extends LabeledData {
  readonly kind: 'images';
  readonly dir: string;
  readonly imageSize: [number, number];
  readonly channels: 1 | 3;
  readonly preprocessing: Preprocessing;
  readonly decoder: DecoderName;
  readonly files: { train: string[]; validation: string[] };
}

export interface CsvBadRow {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  reason: string;
}

export interface CsvData extends LabeledData {
  readonly kind: 'csv';
  readonly file: string;
  readonly features: string[];
  readonly badRows: CsvBadRow[];
}

export interface SplitOptions {
  /** Fraction of each class held out for validation (stratified, seeded). */
  validationSplit?: number;
  seed?: number;
  batchSize?: number;
}

export interface ImageFolderOptions extends SplitOptions {
  /** [height, width]; default: the model's input size, else 224×224. */
  size?: [number, number];
  augment?: AugmentOptions | boolean;
  /** Pixel preprocessing; default: the model's, else [0, 1]. */
  preprocessing?: Preprocessing;
  channels?: 1 | 3;
  /** Takes size, preprocessing and class order from this model's metadata. */
  model?: object;
  /** Class order; folders must be among these. Default: the model's classes when the folders are among them; sorted folder names when none are (a new task) or without a model. */
  classes?: string[];
  decoder?: DecoderChoice;
}

export interface CsvOptions extends SplitOptions {
  /** Column that holds the class label. */
  label: string;
  /** Numeric feature columns; default: every column but the label. */
  features?: string[];
  /** Class order; default: sorted distinct labels. */
  classes?: string[];
}

export interface TensorDataOptions extends SplitOptions {
  classes?: string[];
}

export const DEFAULT_BATCH_SIZE = 32;
export const DEFAULT_IMAGE_SIZE: [number, number] = [224, 224];
const PROBE_BYTES = 64 * 1024;

// --- seeded randomness

/** mulberry32: small, fast, and good enough for shuffling and augmentation. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffleInPlace<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Holds out `fraction` of each class (at least one sample of every class with two or more, never all
 * of one), so that validation sees every class in proportion. Indices stay in sample order.
 */
export function stratifiedSplit(labels: readonly number[], numClasses: number, fraction: number, seed: number): { train: number[]; validation: number[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validationSplit must be at least 0 and below 1, got ${fraction}`);
  const rand = seededRandom(seed);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((l, i) => byClass[l].push(i));
  const val = new Set<number>();
  for (const idx of byClass) {
    if (fraction === 0 || idx.length === 0) continue;
    const n = idx.length;
    const nVal = Math.min(n - 1, Math.max(n >= 2 ? 1 : 0, Math.round(n * fraction)));
    for (const i of shuffleInPlace([...idx], rand).slice(0, nVal)) val.add(i);
  }
  const train: number[] = [];
  const validation: number[] = [];
  labels.forEach((_, i) => (val.has(i) ? validation : train).push(i));
  return { train, validation };
}

export function countByClass(labels: readonly number[], classes: readonly string[], indices?: readonly number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of classes) counts[c] = 0;
  for (const i of indices ?? labels.keys()) counts[classes[labels[i]]]++;
  return counts;
}

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

// --- sources: where samples come from

interface Fetched {
  /** Sample indices that loaded, in order. */
  kept: number[];
  /** Opaque per-source payload for toTensor. */
  payload: unknown;
}

interface Source {
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

function makeData<K extends DataKind>(
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

// --- in-memory numeric samples (tensors, CSV)

class ArraySource implements Source {
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

// --- CSV

/** Reads a CSV with a header row: numeric feature columns and a label column. Bad rows are listed, not fatal. */
export async function csv(file: string, opts: CsvOptions): Promise<CsvData> {
  if (!opts || !opts.label) throw new Error('csv(): give the label column, e.g. csv("iris.csv", { label: "species" })');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`csv(): cannot read ${file}: ${(e as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lineStarts: number[] = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const lineAt = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  let header: string[] | undefined;
  const rows: { line: number; values: string[] }[] = [];
  const badRows: CsvBadRow[] = [];
  let rowStart = 0;
  Papa.parse<string[]>(text, {
    header: false,
    skipEmptyLines: false,
    step: (result) => {
      const line = lineAt(rowStart);
      rowStart = result.meta.cursor;
      // Skip the line break that ends this row so the next row's start is its first character.
      while (rowStart < text.length && (text[rowStart] === '\n' || text[rowStart] === '\r')) {
        rowStart++;
        if (text[rowStart - 1] === '\n') break;
      }
      const values = result.data;
      if (values.length === 1 && values[0].trim() === '') return;
      // Papa cannot guess the delimiter of a file with one column plus the label; it then uses a
      // comma, which is right, and says so on the first row: not a bad row.
      const errors = result.errors.filter((e) => e.type !== 'Delimiter');
      if (errors.length) {
        badRows.push({ line, reason: errors.map((e) => e.message).join('; ') });
        return;
      }
      if (!header) header = values.map((v) => v.trim());
      else rows.push({ line, values });
    },
  });
  if (!header) throw new Error(`csv(): ${file} is empty (no header row).`);
  const head = header;
  const dup = head.findIndex((h, i) => head.indexOf(h) !== i);
  if (dup >= 0) {
    throw new Error(`csv(): ${file} has two columns named '${printable(head[dup])}' (columns ${head.indexOf(head[dup]) + 1} and ${dup + 1}); rename one so that each column has its own name.`);
  }
  const labelCol = head.indexOf(opts.label);
  if (labelCol < 0) throw new Error(`csv(): ${file} has no column '${opts.label}'; its columns are: ${head.join(', ')}`);
  const features = opts.features ?? head.filter((_, i) => i !== labelCol);
  if (features.length === 0) throw new Error(`csv(): ${file} has no feature columns besides the label '${opts.label}'.`);
  const featureCols = features.map((f) => {
    const i = head.indexOf(f);
    if (i < 0) throw new Error(`csv(): ${file} has no feature column '${f}'; its columns are: ${head.join(', ')}`);
    if (i === labelCol) throw new Error(`csv(): '${f}' is the label column and cannot also be a feature.`);
    return i;
  });

  const good: { line: number; label: string; x: number[] }[] = [];
  for (const { line, values } of rows) {
    if (values.length !== head.length) {
      badRows.push({ line, reason: `${values.length} fields, the header has ${head.length}` });
      continue;
    }
    const label = values[labelCol].trim();
    if (label === '') {
      badRows.push({ line, reason: `empty label in column '${opts.label}'` });
      continue;
    }
    if (opts.classes && !opts.classes.includes(label)) {
      badRows.push({ line, reason: `label '${label}' is not one of the classes (${opts.classes.join(', ')})` });
      continue;
    }
    const x: number[] = [];
    let bad: string | undefined;
    for (let k = 0; k < featureCols.length; k++) {
      const raw = values[featureCols[k]].trim();
      if (spellsNonFinite(raw)) throw new Error(`csv(): ${file} line ${line}, column '${printable(features[k])}' is ${raw}. NaN and Infinity are not allowed in the input; remove the row or fill the value.`);
      const v = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) {
        bad = `column '${features[k]}' is ${JSON.stringify(raw)}, not a number`;
        break;
      }
      x.push(v);
    }
    if (bad) badRows.push({ line, reason: bad });
    else good.push({ line, label, x });
  }
  badRows.sort((a, b) => a.line - b.line);
  if (good.length === 0) {
    const first = badRows.slice(0, 3).map((b) => `line ${b.line}: ${b.reason}`).join('; ');
    throw new Error(`csv(): ${file} has no usable rows${first ? ` (${first})` : ''}.`);
  }
  if (badRows.length) {
    const first = badRows.slice(0, 5).map((b) => `line ${b.line}: ${b.reason}`).join('\n  ');
    console.warn(`csv(): skipped ${badRows.length} bad row(s) in ${file}:\n  ${first}${badRows.length > 5 ? '\n  …' : ''}`);
  }
  const classes = opts.classes ?? [...new Set(good.map((g) => g.label))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const labels = good.map((g) => index.get(g.label) as number);
  const values = new Float32Array(good.length * features.length);
  good.forEach((g, r) => values.set(g.x, r * features.length));
  const src = new ArraySource('csv', file, classes, labels, [features.length], values, `csv:${features.join(',')}`, (i) => `line ${good[i].line}`);
  const data = makeData<'csv'>(src, opts, undefined, () => ({ file, features, badRows }));
  return data as CsvData;
}

// --- image folders

interface ImagePayload {
  pixels: Uint8Array[];
}

/** Content hashes survive between fits; a file is re-read only when its size or mtime changes. */
const fileHashes = new Map<string, { size: number; mtimeMs: number; hash: string }>();

async function fileHash(file: string): Promise<string> {
  const st = await fsp.stat(file);
  const memo = fileHashes.get(file);
  if (memo && memo.size === st.size && memo.mtimeMs === st.mtimeMs) return memo.hash;
  const hash = crypto.createHash('sha256').update(await fsp.readFile(file)).digest('hex').slice(0, 32);
  fileHashes.set(file, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}

class ImageSource implements Source {
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
      if (isInterruptRequested()) throw new InterruptedError();
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

  async contentKey(indices: number[]): Promise<string[]> {
    const out: string[] = new Array(indices.length);
    // Bounded concurrency: enough to keep the disk busy without opening thousands of files at once.
    let next = 0;
    const worker = async () => {
      while (next < indices.length) {
        const k = next++;
        out[k] = await fileHash(this.files[indices[k]]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, indices.length) }, worker));
    return out;
  }
}

async function probeFile(file: string): Promise<string | undefined> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const buf = Buffer.alloc(PROBE_BYTES);
    const { bytesRead } = await fh.read(buf, 0, PROBE_BYTES, 0);
    probeImage(buf.subarray(0, bytesRead));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await fh?.close();
  }
}

/** Input size and channels from a layers model's first input, when they are fixed numbers. */
function modelInputShape(model: object): { size?: [number, number]; channels?: 1 | 3 } {
  const inputs = (model as { inputs?: { shape: (number | null)[] }[] }).inputs;
  const shape = inputs?.[0]?.shape;
  if (!shape || shape.length !== 4) return {};
  const [, h, w, c] = shape;
  return {
    size: typeof h === 'number' && typeof w === 'number' ? [h, w] : undefined,
    channels: c === 1 || c === 3 ? c : undefined,
  };
}

/**
 * Reads `dir/<class>/<image>` (PNG or JPEG, any depth below the class folder). Class = subfolder
 * name, sorted. Images are resized to the model's input and preprocessed as the model expects.
 */
export async function imageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<ImageFolderData> {
  const root = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = await fsp.stat(root);
  } catch {
    throw new Error(`imageFolder(): folder not found: ${root}`);
  }
  if (!st.isDirectory()) throw new Error(`imageFolder(): ${root} is a file, not a folder of class subfolders.`);

  const meta = opts.model ? getMeta(opts.model) : undefined;
  const fromModel = opts.model ? modelInputShape(opts.model) : {};
  const size = opts.size ?? meta?.inputSize ?? fromModel.size ?? DEFAULT_IMAGE_SIZE;
  const preprocessing = opts.preprocessing ?? meta?.preprocessing ?? PREPROCESS_UNIT;
  const channels = opts.channels ?? meta?.preprocessing?.channels ?? fromModel.channels ?? preprocessing.channels ?? 3;
  const decoder = resolveDecoder(opts.decoder);
  const augmentation = resolveAugment(opts.augment);

  const skipped: SkippedFile[] = [];
  const folders = await listClassFolders(root, skipped);
  if (folders.length === 0) {
    throw new Error(`imageFolder(): ${root} has no class subfolders. Put each class's images in a subfolder named after it, e.g. ${path.join(root, 'cat', '001.jpg')}.`);
  }

  // A model's own classes set the order when the folders are (some of) those classes: evaluating or
  // predicting. Folders that share no name with them are a new task for a new head (transfer
  // learning), so the folder names become the classes. A mix of both is a mislabelled folder.
  const modelClasses = meta?.classes && modelOutputUnits(opts.model) === meta.classes.length ? meta.classes : undefined;
  const newTask = !opts.classes && modelClasses && folders.every((f) => !modelClasses.includes(f));
  const wanted = opts.classes ?? (newTask ? undefined : modelClasses);
  let classes: string[];
  if (wanted) {
    const unknown = folders.filter((f) => !wanted.includes(f));
    if (unknown.length) {
      const whose = opts.classes ? 'the classes given' : `the model's classes`;
      const shown = wanted.length > 12 ? `${wanted.slice(0, 12).join(', ')}, … (${wanted.length} in all)` : wanted.join(', ');
      throw new Error(`imageFolder(): folder label${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')} in ${root} ${unknown.length > 1 ? 'are' : 'is'} not among ${whose}: ${shown}.`);
    }
    classes = [...wanted];
  } else {
    classes = folders;
    if (classes.length < 2) {
      throw new Error(`imageFolder(): ${root} has only one class folder ('${classes[0]}'); classification needs at least two.`);
    }
  }

  const files: string[] = [];
  const labels: number[] = [];
  const listings = await listClassImages(root, folders);
  for (const folder of folders) {
    const classDir = path.join(root, folder);
    const { files: found, skipped: left } = listings.get(folder) as ClassListing;
    skipped.push(...left);
    if (found.length === 0 && left.length === 0) throw new Error(`imageFolder(): class folder ${classDir} is empty.`);
    const reasons = await mapLimit(found, 32, probeFile);
    const why: SkippedFile[] = [...left];
    let readable = 0;
    found.forEach((f, i) => {
      if (reasons[i]) why.push({ file: f, reason: reasons[i] as string });
      else {
        files.push(f);
        labels.push(classes.indexOf(folder));
        readable++;
      }
    });
    skipped.push(...why.slice(left.length));
    if (readable === 0) {
      const first = why.slice(0, 3).map((s) => `${path.relative(classDir, s.file)}: ${s.reason}`).join('; ');
      throw new Error(`imageFolder(): class folder ${classDir} has no readable PNG or JPEG images (${first}).`);
    }
  }
  if (files.length === 0) throw new Error(`imageFolder(): no images found in ${root}.`);

  const src = new ImageSource(root, classes, files, labels, size, channels, preprocessing, decoder, skipped);
  return makeData<'images'>(src, opts, augmentation, (split) => ({
    dir: root,
    imageSize: size,
    channels,
    preprocessing,
    decoder,
    files: { train: split.train.map((i) => files[i]), validation: split.validation.map((i) => files[i]) },
  })) as ImageFolderData;
}

function modelOutputUnits(model: object | undefined): number | undefined {
  const outputs = (model as { outputs?: { shape: (number | null)[] }[] } | undefined)?.outputs;
  const shape = outputs?.[0]?.shape;
  const last = shape?.[shape.length - 1];
  return typeof last === 'number' ? last : undefined;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// --- helpers for fit / evaluate

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
  throw new Error(`${what}: expected data from tl.imageFolder(), tl.csv() or tl.fromTensors(), got ${describe(data)}.`);
}

function describe(x: unknown): string {
  if (x instanceof tf.Tensor) return `a tensor (wrap tensors with tl.fromTensors(xs, ys))`;
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : typeof x;
}
