/**
 * Labelled data for fit / evaluate / embeddings: image folders, CSV files and in-memory tensors.
 *
 * Every constructor returns the same shape (LabeledData): classes, counts, a training Dataset and
 * an optional validation Dataset. A Dataset streams batches ({xs, ys, indices}) from an async
 * iterator and decodes on demand with a small prefetch, so a folder of 10k images never sits in
 * memory at once. Batch tensors belong to whoever takes them from the iterator (fit hands them to
 * TF.js, which disposes them).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from '../models/meta';
import type { DecoderChoice, DecoderName } from './decode';

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

export type DataKind = 'images' | 'csv' | 'tensors' | 'text';

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
  /** Column that holds a text: the data is then texts (for a text model), not numbers. */
  text?: string;
  /** Numeric feature columns; default: every column but the label. */
  features?: string[];
  /** Class order; default: sorted distinct labels. */
  classes?: string[];
}

/** Labelled texts: a text folder, or a CSV file's text column. */
export interface TextData extends LabeledData {
  readonly kind: 'text';
  /** The folder or the CSV file. */
  readonly source: string;
  /** The texts, in sample order (both splits). */
  readonly texts: readonly string[];
}

export interface TextFolderOptions extends SplitOptions {
  /** Class order; folders must be among these. Default: sorted folder names. */
  classes?: string[];
  /** Files larger than this are skipped (default 1 MiB). */
  maxFileBytes?: number;
}

export interface TensorDataOptions extends SplitOptions {
  classes?: string[];
}

export const DEFAULT_BATCH_SIZE = 32;
export const DEFAULT_IMAGE_SIZE: [number, number] = [224, 224];
