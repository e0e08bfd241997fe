/**
 * Data preparation for fit(): with a frozen base and nothing that augments, the base runs once per
 * image (cached in memory and on disk), and what trains after the cut trains on the base's outputs.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data';
import { computeEmbeddings, embeddingDataset, layersHash, splitAtFrozenBase, type EmbeddingStats, type FrozenSplit } from '../embeddings';
import { compileWith } from './compile';
import { getMeta } from '../models/meta';
import { cloneOptimizer } from './optimizers';
import type { FitOptions, FitResult } from './options';

/** Cached base outputs beyond this stay uncached (a cut at an early, wide layer would not fit in memory). */
const MAX_CACHED_BYTES = 1024 * 1024 * 1024;

/** What trains, on what. */
export interface TrainingData {
  trainModel: tf.LayersModel;
  trainData: Dataset;
  valData?: Dataset;
  /** An optimizer made for the head-only model (its slots cannot be shared); the caller disposes it. */
  ownOptimizer?: tf.Optimizer;
  embeddingCache?: FitResult['embeddingCache'];
  cacheSkippedReason?: string;
  /** The layer whose output is cached, when the cache is used. */
  cachedUpTo?: string;
}

type CacheOptions = Pick<FitOptions, 'cacheEmbeddings' | 'cacheDir' | 'baseEngine'> & { batchSize: number };

/** Why the cache cannot be used here, or the split to use it with. */
function cacheSplit(model: tf.LayersModel, train: Dataset, validation: Dataset | undefined): FrozenSplit | { reason: string } {
  const split = splitAtFrozenBase(model);
  if ('reason' in split) return { reason: `the base is not frozen (${split.reason})` };
  if (train.augmentation) return { reason: 'augmentation changes the images every epoch, so base outputs cannot be reused' };
  const dim = (split.base.outputs[0].shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  const bytes = (train.size + (validation?.size ?? 0)) * dim * 4;
  if (bytes > MAX_CACHED_BYTES) return { reason: `the base outputs at '${split.cutAfter}' would take ${(bytes / 2 ** 30).toFixed(1)} GiB` };
  return split;
}

function totals(te: EmbeddingStats, ve: EmbeddingStats | undefined): NonNullable<FitResult['embeddingCache']> {
  const sum = (k: Exclude<keyof EmbeddingStats, 'engine'>) => te[k] + (ve?.[k] ?? 0);
  return {
    samples: sum('samples'),
    fromMemory: sum('fromMemory'),
    fromDisk: sum('fromDisk'),
    computed: sum('computed'),
    baseBatches: sum('baseBatches'),
    seconds: sum('seconds'),
    engine: te.engine ?? ve?.engine,
    train: te,
    validation: ve,
  };
}

/**
 * The head model trains the same variables. When its trainable list is the full model's, in the
 * same order, the optimizer (and its slots, kept by position) carries over between fits.
 */
function compileHead(model: tf.LayersModel, head: tf.LayersModel): tf.Optimizer | undefined {
  const same = head.trainableWeights.length === model.trainableWeights.length && head.trainableWeights.every((w, i) => w === model.trainableWeights[i]);
  const optimizer = same ? model.optimizer : cloneOptimizer(model.optimizer);
  compileWith(head, optimizer, false, model.loss, ['accuracy']);
  return same ? undefined : optimizer;
}

function cacheLine(ec: NonNullable<FitResult['embeddingCache']>, cutAfter: string): string {
  return ec.computed > 0
    ? `embedding cache: base (up to '${cutAfter}') ran on ${ec.computed} sample(s) in ${ec.seconds.toFixed(1)} s with ${ec.engine ?? 'tfjs'}; ${ec.fromMemory + ec.fromDisk} reused.`
    : `embedding cache: all ${ec.samples} base outputs reused (${ec.fromMemory} from memory, ${ec.fromDisk} from disk).`;
}

async function trainOnEmbeddings(model: tf.LayersModel, split: FrozenSplit, train: Dataset, validation: Dataset | undefined, opts: CacheOptions, report: (line: string) => void): Promise<TrainingData> {
  const { batchSize } = opts;
  const baseHash = layersHash(split.baseLayers);
  // A word-vector base is a table lookup: TF.js runs it at once, and ONNX has no text pooling layer to convert
  // (a sentence encoder's TF.js part is a pass-through).
  const text = getMeta(model)?.text;
  const engine = opts.baseEngine ?? (text ? 'tfjs' : undefined);
  const cacheOpts = { cacheDir: opts.cacheDir, batchSize: Math.max(batchSize, 32), engine };
  const te = await computeEmbeddings(split.base, baseHash, train, cacheOpts);
  const ve = validation ? await computeEmbeddings(split.base, baseHash, validation, cacheOpts) : undefined;
  const embeddingCache = totals(te.stats, ve?.stats);
  // A sentence encoder runs in ONNX Runtime as the texts are read; its TF.js layer only passes the vectors on.
  if (text?.kind === 'sentence-encoder') embeddingCache.engine = 'onnxruntime (sentence encoder)';
  const trainData = embeddingDataset(te, train.classes, batchSize, `${train.name} embeddings`);
  const valData = ve ? embeddingDataset(ve, train.classes, batchSize, `${validation?.name} embeddings`) : undefined;
  const ownOptimizer = compileHead(model, split.head);
  report(cacheLine(embeddingCache, split.cutAfter));
  return { trainModel: split.head, trainData, valData, ownOptimizer, embeddingCache, cachedUpTo: split.cutAfter };
}

/** What trains on what: the head on cached base outputs when that is possible and wanted, else the model on the data. */
export async function prepareTrainingData(model: tf.LayersModel, train: Dataset, validation: Dataset | undefined, opts: CacheOptions, report: (line: string) => void): Promise<TrainingData> {
  const plain: TrainingData = { trainModel: model, trainData: train, valData: validation };
  const want = opts.cacheEmbeddings ?? 'auto';
  if (want === false) return plain;
  const split = cacheSplit(model, train, validation);
  if (!('reason' in split)) return trainOnEmbeddings(model, split, train, validation, opts, report);
  // 'auto' says nothing about the usual case (a base being fine-tuned); asking for it, or augmenting, does.
  if (want === true || train.augmentation) report(`embedding cache off: ${split.reason}.`);
  return { ...plain, cacheSkippedReason: split.reason };
}
