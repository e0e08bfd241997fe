/**
 * A word-vector text base: token ids [maxLength] → Embedding (the table, frozen) → TextPooling →
 * one vector per text. The tokenizer and vocabulary are not layers: they live in the model's
 * metadata (ModelMeta.text and its Vocabulary) and turn texts into ids before the model runs.
 */
import * as tf from '@tensorflow/tfjs';
import { setMeta } from '../models/meta';
import { TextPooling } from './pooling';
import { TextEmbedding } from './embedding';
import { describeTextInfo, type TextInfo, type TextPooling as PoolingMode } from './types';
import { setVocabulary, Vocabulary } from './vocab';
import type { WordVectors } from './table';

export interface WordBaseOptions {
  /** Default 'mean'. */
  pooling?: PoolingMode;
  /** Tokens kept per text (default 256). */
  maxLength?: number;
  /** Lower-case texts before lookup; default: when the vocabulary has no upper-case word. */
  lowercase?: boolean;
  /** Learning-rate multiplier for the table once unfrozen (default 0.1). */
  fineTuneRate?: number;
  name?: string;
  /**
   * 'random': the same vocabulary and shapes, the vectors drawn as Keras's Embedding draws them
   * (uniform in ±0.05, seeded) and trainable at the full rate: the from-scratch baseline.
   */
  weights?: 'pretrained' | 'random';
  seed?: number;
}

export const DEFAULT_MAX_TOKENS = 256;
const MAX_TOKENS_LIMIT = 8192;

function checkBaseOptions(opts: WordBaseOptions): Required<Pick<WordBaseOptions, 'pooling' | 'maxLength' | 'fineTuneRate'>> {
  const pooling = opts.pooling ?? 'mean';
  if (!['mean', 'max', 'mean+max'].includes(pooling)) throw new Error(`text base: pooling must be 'mean', 'max' or 'mean+max', got ${JSON.stringify(pooling)}.`);
  const maxLength = opts.maxLength ?? DEFAULT_MAX_TOKENS;
  if (!(Number.isInteger(maxLength) && maxLength >= 1 && maxLength <= MAX_TOKENS_LIMIT)) throw new Error(`text base: maxLength must be a whole number from 1 to ${MAX_TOKENS_LIMIT}, got ${maxLength}.`);
  const fineTuneRate = opts.fineTuneRate ?? 0.1;
  if (!(fineTuneRate > 0 && fineTuneRate <= 1)) throw new Error(`text base: fineTuneRate must be in (0, 1], got ${fineTuneRate}.`);
  return { pooling, maxLength, fineTuneRate };
}

/** Builds the base from vectors; the table tensor is the model's (disposed with it). */
export function wordVectorBase(v: WordVectors, opts: WordBaseOptions = {}): tf.LayersModel {
  const { pooling, maxLength, fineTuneRate } = checkBaseOptions(opts);
  const rows = v.words.length + 1;
  const tokens = tf.input({ shape: [maxLength], name: 'tokens' });
  const embedding = new TextEmbedding({ inputDim: rows, outputDim: v.dim, name: 'embedding', trainable: false });
  const embedded = embedding.apply(tokens) as tf.SymbolicTensor;
  const pooled = new TextPooling({ mode: pooling, name: 'text_pooling' }).apply([tokens, embedded]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: tokens, outputs: pooled, name: opts.name ?? 'word_vectors' });
  const random = opts.weights === 'random';
  const table = random ? randomTable(rows, v.dim, opts.seed ?? 42) : tf.tensor2d(v.table, [rows, v.dim]);
  embedding.setWeights([table]);
  table.dispose();
  if (random) embedding.trainable = true;
  const info: TextInfo = {
    kind: 'word-vectors',
    source: random ? `random vectors over the vocabulary of ${v.source}` : v.source,
    lowercase: opts.lowercase ?? v.lowercase,
    maxLength,
    pooling,
    vocabularySize: v.words.length,
    dim: v.dim,
    fineTuneRate: random ? 1 : fineTuneRate,
    embeddingLayer: 'embedding',
  };
  setVocabulary(info, new Vocabulary(v.words));
  setMeta(model, { name: opts.name ?? v.source, source: 'file', format: 'layers', text: info, featureLayer: 'text_pooling' });
  if (v.duplicates) console.warn(`word vectors: ${v.source} lists ${v.duplicates} word(s) more than once; the first vector of each is used.`);
  return model;
}

/** Row 0 (padding) zeros, the rest uniform in ±0.05. */
function randomTable(rows: number, dim: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => tf.concat([tf.zeros([1, dim]), tf.randomUniform([rows - 1, dim], -0.05, 0.05, 'float32', seed)], 0) as tf.Tensor2D);
}

export { describeTextInfo };
