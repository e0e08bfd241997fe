/**
 * tl.load() of an ONNX sentence encoder: a folder holding model.onnx and tokenizer.json, or the
 * model.onnx with tokenizer.json beside it. The result is a TF.js text base (the pooled vector in,
 * through the OnnxSentenceEncoder layer) with the encoder registered as its text encoding, so that
 * withHead, fit (with the embedding cache), evaluate, predict on strings and save work as for word
 * vectors. Saved models keep both files (encoder.onnx, tokenizer.json) and open them again here.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setMeta } from '../models/meta';
import { statInside } from '../models/safety/weightFiles';
import { setTextEncoding } from './encoding';
import { isEncoderLayer, OnnxSentenceEncoder } from './encoderLayer';
import { MAX_ENCODER_TOKENS, openSentenceEncoder, type EncoderOptions, type SentenceEncoder } from './sentenceEncoder';
import { ENCODER_POOLINGS } from './sentencePooling';
import { TOKENIZER_FILE } from './encoderFiles';
import type { EncoderPooling, TextInfo } from './types';
import type { SessionOptions } from '../onnx/ort';

export const ENCODER_FILE = 'encoder.onnx';

export interface SentenceEncoderOptions extends SessionOptions {
  /** 'mean' (default, over the attention mask), 'max', 'cls', 'mean+max'; 'model' when the graph gives [batch, hidden] itself (then the default). */
  pooling?: EncoderPooling;
  /** Tokens kept a text, special tokens included (default: tokenizer.json's truncation length, else 256); longer texts are cut. */
  maxLength?: number;
  /** Texts per ONNX Runtime call (default 32). */
  batchSize?: number;
  /** The graph output to use (default last_hidden_state, else the first). */
  output?: string;
  name?: string;
}

const encoders = new WeakMap<TextInfo, SentenceEncoder>();

/** The loaded encoder of a text model's metadata, if it has one. */
export function sentenceEncoderOf(info: TextInfo): SentenceEncoder | undefined {
  return encoders.get(info);
}

/** Registers `enc` for `info` (and the text encoding for fit, evaluate and predict). */
export function setSentenceEncoder(info: TextInfo, enc: SentenceEncoder): void {
  encoders.set(info, enc);
  setTextEncoding(info, enc);
}

function checkOptions(opts: SentenceEncoderOptions, rank2: boolean): { pooling: EncoderPooling; maxLength?: number } {
  const pooling = opts.pooling ?? (rank2 ? 'model' : 'mean');
  if (!ENCODER_POOLINGS.includes(pooling)) throw new Error(`sentence encoder: pooling must be one of ${ENCODER_POOLINGS.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(pooling)}.`);
  const maxLength = opts.maxLength;
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 1 && maxLength <= MAX_ENCODER_TOKENS)) throw new Error(`sentence encoder: maxLength must be a whole number from 1 to ${MAX_ENCODER_TOKENS}, got ${maxLength}.`);
  if (opts.batchSize !== undefined && !(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) throw new Error(`sentence encoder: batchSize must be a positive whole number, got ${opts.batchSize}.`);
  return { pooling, maxLength };
}

/** Opens the encoder, trying 'model' pooling when the graph turns out to pool itself and none was asked for. */
async function open(files: { onnx: string; tokenizer: string }, opts: SentenceEncoderOptions, maxBytes: number, inside: boolean): Promise<SentenceEncoder> {
  const base: Omit<EncoderOptions, 'pooling' | 'maxLength'> = { maxBytes, batchSize: opts.batchSize, output: opts.output, providers: opts.providers, threads: opts.threads };
  try {
    return await openSentenceEncoder(files.onnx, files.tokenizer, { ...base, ...checkOptions(opts, false) }, inside);
  } catch (e) {
    if (opts.pooling !== undefined || !/pooling must be 'model'/.test((e as Error).message)) throw e;
    return openSentenceEncoder(files.onnx, files.tokenizer, { ...base, ...checkOptions(opts, true) }, inside);
  }
}

/** The text base for an encoder: its pooled vector in, through the OnnxSentenceEncoder layer. */
/** Text options that only word vectors have: given for an encoder, they would be ignored, so they are refused. */
const WORD_VECTOR_ONLY = ['lowercase', 'limit', 'weights', 'fineTuneRate', 'seed'];

function refuseWordVectorOptions(opts: object, onnxFile: string): void {
  const given = WORD_VECTOR_ONLY.filter((k) => (opts as Record<string, unknown>)[k] !== undefined);
  if (given.length === 0) return;
  throw new Error(
    `tl.load(): ${given.map((k) => `text.${k}`).join(', ')} ${given.length === 1 ? 'applies' : 'apply'} to word vectors, not to the ONNX sentence encoder ${path.basename(path.dirname(onnxFile))}/${path.basename(onnxFile)}: ` +
      'its tokenizer.json decides lower-casing and the vocabulary, and the encoder stays frozen with its own weights.',
  );
}

export async function sentenceEncoderBase(files: { onnx: string; tokenizer: string }, maxBytes: number, opts: SentenceEncoderOptions = {}): Promise<tf.LayersModel> {
  refuseWordVectorOptions(opts, files.onnx);
  const enc = await open(files, opts, maxBytes, false);
  const source = path.basename(path.dirname(files.onnx)) + '/' + path.basename(files.onnx);
  const input = tf.input({ shape: [enc.dim], name: 'sentence_vector' });
  const layer = new OnnxSentenceEncoder({ dim: enc.dim, source, name: 'onnx_encoder' });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor, name: opts.name ?? 'sentence_encoder' });
  layer.attach(enc);
  const info: TextInfo = {
    kind: 'sentence-encoder',
    source,
    lowercase: enc.tokenizer.lowercase,
    maxLength: enc.opts.maxLength,
    pooling: enc.opts.pooling,
    vocabularySize: enc.tokenizer.vocabularySize,
    dim: enc.dim,
    fineTuneRate: 1,
    tokenizerModel: enc.tokenizer.modelType,
    encoderOutput: enc.io.output,
  };
  setSentenceEncoder(info, enc);
  setMeta(model, { name: opts.name ?? source, source: 'file', format: 'layers', text: info, featureLayer: 'onnx_encoder' });
  return model;
}

/** Opens the encoder files a saved model names (inside its folder) and attaches them to the loaded model. */
export async function readSavedEncoder(modelJsonPath: string, info: TextInfo, model: object, maxBytes: number): Promise<void> {
  const layers = (model as { layers?: tf.layers.Layer[] }).layers ?? [];
  const layer = layers.find(isEncoderLayer) as OnnxSentenceEncoder | undefined;
  if (!layer) throw new Error(`${modelJsonPath}: the metadata describes an ONNX sentence encoder but the model has no OnnxSentenceEncoder layer.`);
  const dir = path.dirname(modelJsonPath);
  const files = { onnx: path.join(dir, info.onnxFile ?? ENCODER_FILE), tokenizer: path.join(dir, info.tokenizerFile ?? TOKENIZER_FILE) };
  for (const f of Object.values(files)) if (!fs.existsSync(f)) throw new Error(`${f} is missing: the model's metadata says its sentence encoder is there.`);
  // A link leading out of the folder is refused before ONNX Runtime opens anything.
  await statInside(await fsp.realpath(dir), path.basename(files.onnx), files.onnx);
  const enc = await open(files, { pooling: info.pooling, maxLength: info.maxLength, output: info.encoderOutput }, maxBytes, true);
  if (enc.dim !== layer.dim || enc.dim !== info.dim) {
    await enc.release();
    throw new Error(`${files.onnx} gives ${enc.dim} numbers a text; the saved model takes ${layer.dim} (metadata: ${info.dim}).`);
  }
  layer.attach(enc);
  setSentenceEncoder(info, enc);
}
