/**
 * How a text model turns texts into its input: word ids for a word-vector base, sentence vectors
 * for an ONNX encoder. Text data is bound to a model's encoding when fit, evaluate or predict get
 * both, so that tl.textFolder() needs no model and the same data trains any text model.
 */
import * as crypto from 'node:crypto';
import { getMeta } from '../models/meta';
import { wordTokens } from './tokenize';
import type { TextInfo } from './types';
import { vocabularyOf, type Vocabulary } from './vocab';

export interface TextEncoding {
  /** What the numbers mean (tokenizer, vocabulary, length, encoder): part of the embedding cache's key. */
  readonly key: string;
  /** One text's numbers: [maxLength] ids, or [dim] for a sentence vector. */
  readonly elementShape: number[];
  /** Numbers for each text, row after row. */
  encode(texts: readonly string[]): Promise<Float32Array>;
}

const encoders = new WeakMap<TextInfo, TextEncoding>();

/** Sentence encoders register their encoding here when they are loaded. */
export function setTextEncoding(info: TextInfo, enc: TextEncoding): void {
  encoders.set(info, enc);
}

const vocabKeys = new WeakMap<Vocabulary, string>();

function vocabKey(v: Vocabulary): string {
  let k = vocabKeys.get(v);
  if (!k) {
    const h = crypto.createHash('sha256');
    for (const w of v.words) h.update(w).update('\n');
    k = h.digest('hex').slice(0, 32);
    vocabKeys.set(v, k);
  }
  return k;
}

/** Token ids (vocabulary rows) of each text: known words only, up to maxLength, zero-padded. */
export function wordIds(texts: readonly string[], vocab: Vocabulary, info: Pick<TextInfo, 'lowercase' | 'maxLength'>): Float32Array {
  const L = info.maxLength;
  const out = new Float32Array(texts.length * L);
  texts.forEach((t, r) => {
    let k = 0;
    for (const tok of wordTokens(t, info.lowercase)) {
      const row = vocab.row(tok);
      if (row === 0) continue;
      out[r * L + k++] = row;
      if (k === L) break;
    }
  });
  return out;
}

/** Known and total tokens over some texts: how much of the data the vocabulary covers. */
export function coverage(texts: readonly string[], vocab: Vocabulary, lowercase: boolean): { tokens: number; known: number; unknown: Map<string, number> } {
  let tokens = 0;
  let known = 0;
  const unknown = new Map<string, number>();
  for (const t of texts) {
    for (const tok of wordTokens(t, lowercase)) {
      tokens++;
      if (vocab.row(tok)) known++;
      else unknown.set(tok, (unknown.get(tok) ?? 0) + 1);
    }
  }
  return { tokens, known, unknown };
}

/** The model's text encoding, or undefined when it is not a text model. */
export function textEncodingFor(model: object): TextEncoding | undefined {
  const info = getMeta(model)?.text;
  if (!info) return undefined;
  const registered = encoders.get(info);
  if (registered) return registered;
  if (info.kind !== 'word-vectors') throw new Error(`${getMeta(model)?.name ?? 'this model'}: its sentence encoder is not loaded; load the model with tl.load().`);
  const vocab = vocabularyOf(info);
  if (!vocab) throw new Error(`${getMeta(model)?.name ?? 'this model'}: its vocabulary is missing; load the model with tl.load().`);
  const enc: TextEncoding = {
    key: `words:${vocabKey(vocab)}:${info.lowercase ? 'lower' : 'cased'}:${info.maxLength}`,
    elementShape: [info.maxLength],
    encode: async (texts) => wordIds(texts, vocab, info),
  };
  encoders.set(info, enc);
  return enc;
}
