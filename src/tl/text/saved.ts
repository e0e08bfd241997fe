/**
 * A text model's tokenizer in a saved model folder: the metadata's `text` entry (checked field by
 * field: it comes from a file) and the vocabulary file beside model.json (read like a weight file:
 * inside the folder, sized before it is read).
 */
import * as path from 'node:path';
import { readModelFile, weightPathProblem } from '../models/safety/weightFiles';
import type { TextInfo } from './types';
import { setVocabulary, Vocabulary, vocabularyOf } from './vocab';
import { ENCODER_FILE, sentenceEncoderOf, setSentenceEncoder } from './encoderBase';
import { ENCODER_POOLINGS } from './sentencePooling';
import { TOKENIZER_FILE } from './encoderFiles';

export const VOCAB_FILE = 'vocab.txt';
/** A word is at most this many bytes on average in a vocabulary file (GloVe's run to 8). */
const MAX_BYTES_PER_WORD = 256;

function fail(where: string, what: string): never {
  throw new Error(`${where}: "text" ${what}.`);
}

/** A file name a saved model's metadata gives: inside the model folder, no folders. */
function fileName(r: Record<string, unknown>, k: string, where: string): string {
  const v = r[k];
  if (typeof v !== 'string' || !v) fail(where, `${k} must be a non-empty string`);
  if (weightPathProblem(v) || /[\\/]/.test(v)) fail(where, `${k} must be a file name inside the model folder`);
  return v;
}

function wholeIn(r: Record<string, unknown>, where: string) {
  return (k: string, max: number): number => {
    const v = r[k];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max)) fail(where, `${k} must be a whole number from 1 to ${max}`);
    return v;
  };
}

/** The `text` entry of a saved sentence-encoder model, checked. */
function parseEncoderInfo(r: Record<string, unknown>, where: string): TextInfo {
  const whole = wholeIn(r, where);
  if (!(ENCODER_POOLINGS as readonly unknown[]).includes(r.pooling)) fail(where, `pooling must be one of ${ENCODER_POOLINGS.join(', ')}`);
  if (typeof r.lowercase !== 'boolean') fail(where, 'lowercase must be true or false');
  const text = (k: string) => (typeof r[k] === 'string' && (r[k] as string).length <= 200 ? (r[k] as string) : fail(where, `${k} must be a string of at most 200 characters`));
  return {
    kind: 'sentence-encoder',
    source: text('source'),
    lowercase: r.lowercase,
    maxLength: whole('maxLength', 8192),
    pooling: r.pooling as TextInfo['pooling'],
    vocabularySize: whole('vocabularySize', 50_000_000),
    dim: whole('dim', 65536),
    fineTuneRate: 1,
    onnxFile: fileName(r, 'onnxFile', where),
    tokenizerFile: fileName(r, 'tokenizerFile', where),
    tokenizerModel: text('tokenizerModel'),
    encoderOutput: text('encoderOutput'),
  };
}

/** The `text` entry of saved metadata, checked. */
export function parseTextInfo(raw: unknown, where: string): TextInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'must be a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.kind === 'sentence-encoder') return parseEncoderInfo(r, where);
  if (r.kind !== 'word-vectors') fail(where, `kind must be 'word-vectors' or 'sentence-encoder', got ${JSON.stringify(r.kind)?.slice(0, 40)}`);
  const whole = wholeIn(r, where);
  if (!['mean', 'max', 'mean+max'].includes(r.pooling as string)) fail(where, "pooling must be 'mean', 'max' or 'mean+max'");
  if (typeof r.lowercase !== 'boolean') fail(where, 'lowercase must be true or false');
  const rate = r.fineTuneRate;
  if (!(typeof rate === 'number' && rate > 0 && rate <= 1)) fail(where, 'fineTuneRate must be in (0, 1]');
  const names = ['embeddingLayer', 'source'].map((k) => {
    const v = r[k];
    if (typeof v !== 'string' || !v) fail(where, `${k} must be a non-empty string`);
    return v;
  });
  const vocabFile = fileName(r, 'vocabFile', where);
  return {
    kind: 'word-vectors',
    source: names[1],
    lowercase: r.lowercase,
    maxLength: whole('maxLength', 8192),
    pooling: r.pooling as TextInfo['pooling'],
    vocabularySize: whole('vocabularySize', 50_000_000),
    dim: whole('dim', 4096),
    fineTuneRate: rate,
    embeddingLayer: names[0],
    vocabFile,
  };
}

/** Reads the vocabulary of a saved text model and attaches it to `info`. */
export async function readSavedVocabulary(modelJsonPath: string, info: TextInfo, model: object): Promise<void> {
  // Ids index the table: a vocabulary longer than the table would read past it.
  const layers = (model as { layers?: { name: string; getConfig(): Record<string, unknown> }[] }).layers ?? [];
  const table = layers.find((l) => l.name === info.embeddingLayer);
  const rows = table?.getConfig().inputDim;
  if (rows !== info.vocabularySize + 1) throw new Error(`${modelJsonPath}: the metadata's vocabulary of ${info.vocabularySize} words does not fit the embedding table '${info.embeddingLayer}' (${rows === undefined ? 'no such layer' : `${rows} rows`}).`);
  const file = path.join(path.dirname(modelJsonPath), info.vocabFile ?? VOCAB_FILE);
  const text = await readModelFile(file, info.vocabularySize * MAX_BYTES_PER_WORD, undefined);
  if (text === undefined) throw new Error(`${file} is missing: the model's metadata says its vocabulary is there.`);
  const vocab = Vocabulary.fromText(text);
  if (vocab.size !== info.vocabularySize) throw new Error(`${file} holds ${vocab.size} words; the model's metadata says ${info.vocabularySize}.`);
  setVocabulary(info, vocab);
}

/** A file save() writes: its text, or the path of a file to copy (an encoder's). */
export type SavedTextFile = string | { copyFrom: string };

/** What save() writes for a text model: its metadata entry and its files (vocabulary, or the encoder's two). */
export function textToSave(info: TextInfo | undefined): { info: TextInfo; files: Record<string, SavedTextFile> } | undefined {
  if (!info) return undefined;
  if (info.kind === 'sentence-encoder') return encoderToSave(info);
  const vocab = vocabularyOf(info);
  if (!vocab) throw new Error('save(): the text model has lost its vocabulary; load it again with tl.load().');
  if (vocab.words.some((w) => /[\n\r]/.test(w))) throw new Error('save(): a vocabulary word holds a line break; it cannot be saved one word a line.');
  const saved: TextInfo = { ...info, vocabFile: VOCAB_FILE };
  setVocabulary(saved, vocab);
  return { info: saved, files: { [VOCAB_FILE]: vocab.toText() } };
}

function encoderToSave(info: TextInfo): { info: TextInfo; files: Record<string, SavedTextFile> } {
  const enc = sentenceEncoderOf(info);
  if (!enc) throw new Error('save(): the text model has lost its sentence encoder; load it again with tl.load().');
  const saved: TextInfo = { ...info, onnxFile: ENCODER_FILE, tokenizerFile: TOKENIZER_FILE };
  setSentenceEncoder(saved, enc);
  return { info: saved, files: { [ENCODER_FILE]: { copyFrom: enc.files.onnx }, [TOKENIZER_FILE]: { copyFrom: enc.files.tokenizer } } };
}
