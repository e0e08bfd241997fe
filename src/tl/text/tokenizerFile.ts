/**
 * A Hugging Face tokenizer.json, read as untrusted input and run by the kept tokenizer library
 * (@huggingface/tokenizers: normalizer, pre-tokenizer, WordPiece/BPE/Unigram model, post-processor),
 * never a tokenizer of our own. Texts become padded batches of ids for an ONNX sentence encoder:
 * truncated to maxLength tokens with the special tokens of the post-processor ([CLS] … [SEP]) kept.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { formatBytes } from '../models/safety/budget';
import { readModelFile } from '../models/safety/weightFiles';
import { errMsg, printable } from '../util/text';

/** Tokenizer files of real models run from 0.5 MB (BERT) to ~17 MB (XLM-R's 250k pieces). */
export const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;
const MODEL_TYPES = ['WordPiece', 'BPE', 'Unigram'];

/** One padded batch: row-major [batch, length] int64 ids, attention mask and token types. */
export interface TokenBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  types: BigInt64Array;
  batch: number;
  length: number;
}

interface Specials {
  prefix: number[];
  suffix: number[];
  prefixTypes: number[];
  suffixTypes: number[];
  contentType: number;
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Whether the normalizer lower-cases (BertNormalizer's flag, or a Lowercase step in a Sequence). */
function lowercases(n: unknown): boolean {
  if (!isObject(n)) return false;
  if (n.type === 'BertNormalizer') return n.lowercase !== false;
  if (n.type === 'Lowercase') return true;
  if (n.type === 'Sequence' && Array.isArray(n.normalizers)) return n.normalizers.some(lowercases);
  return false;
}

/** Checks what the library would otherwise fail on obscurely: a model of a known type with a vocabulary. */
function checkJson(json: unknown, file: string): Json {
  const name = path.basename(file);
  if (!isObject(json)) throw new Error(`${name}: a tokenizer.json is a JSON object; this file holds ${Array.isArray(json) ? 'an array' : typeof json}.`);
  const model = json.model;
  if (!isObject(model)) throw new Error(`${name}: has no "model" object (a Hugging Face tokenizer.json names its model: WordPiece, BPE or Unigram).`);
  const type = model.type;
  if (typeof type !== 'string' || !MODEL_TYPES.includes(type)) {
    throw new Error(`${name}: tokenizer model type ${printable(JSON.stringify(type)?.slice(0, 40) ?? 'undefined')} is not supported; supported: ${MODEL_TYPES.join(', ')}.`);
  }
  const vocab = model.vocab;
  const size = Array.isArray(vocab) ? vocab.length : isObject(vocab) ? Object.keys(vocab).length : 0;
  if (size === 0) throw new Error(`${name}: the ${type} model has no vocabulary ("model.vocab" is missing or empty).`);
  if (type !== 'Unigram' && isObject(vocab)) {
    const bad = Object.entries(vocab).find(([, id]) => !(Number.isInteger(id) && (id as number) >= 0));
    if (bad) throw new Error(`${name}: vocabulary entry ${printable(JSON.stringify(bad[0]).slice(0, 40))} has id ${printable(String(bad[1]).slice(0, 20))}, not a whole number ≥ 0.`);
  }
  return json;
}

/** A tokenizer.json, ready to turn texts into id batches. */
export class TextTokenizer {
  private readonly specials: Specials;
  readonly vocabularySize: number;
  /** The largest id the tokenizer can give: it must index the encoder's embedding table. */
  readonly maxId: number;
  readonly padId: number;

  private constructor(
    private readonly tok: Tokenizer,
    readonly file: string,
    readonly modelType: string,
    readonly lowercase: boolean,
    padToken: unknown,
    /** The file's truncation length ("truncation": { "max_length" }), which sentence-transformers sets to the encoder's positions. */
    readonly truncation: number | undefined,
  ) {
    const vocab = tok.get_vocab(true);
    this.vocabularySize = vocab.size;
    let max = 0;
    for (const id of vocab.values()) if (id > max) max = id;
    this.maxId = max;
    const pad = [typeof padToken === 'string' ? padToken : undefined, '[PAD]', '<pad>'].map((t) => (t === undefined ? undefined : tok.token_to_id(t))).find((id) => id !== undefined);
    this.padId = pad ?? 0;
    this.specials = specialsOf(tok);
  }

  /**
   * Reads and checks `file` (at most `maxBytes`, sized before it is read). `inside`: a file a saved
   * model names, which must be a regular file inside its folder (a link leading out is refused).
   */
  static async read(file: string, inside: boolean, maxBytes = MAX_TOKENIZER_BYTES): Promise<TextTokenizer> {
    const name = path.basename(file);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) throw new Error(`${name} is missing: an ONNX sentence encoder needs its tokenizer.json beside model.onnx (${file}).`);
    if (st.size > maxBytes) throw new Error(`${file} holds ${formatBytes(st.size)}, more than the ${formatBytes(maxBytes)} a tokenizer.json may have.`);
    const text = inside ? await readModelFile(file, maxBytes, undefined) : await readModelFile(file, maxBytes, `${name} is missing:`);
    if (text === undefined) throw new Error(`${name} is missing: ${file}.`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`${name} is not valid JSON (${errMsg(e)}).`);
    }
    const checked = checkJson(json, file);
    const model = checked.model as Json;
    let tok: Tokenizer;
    try {
      tok = new Tokenizer({ added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...checked }, {});
    } catch (e) {
      throw new Error(`${name}: the tokenizer library cannot read it: ${printable(errMsg(e).slice(0, 300))}`);
    }
    const padding = isObject(checked.padding) ? checked.padding.pad_token : undefined;
    const cut = isObject(checked.truncation) ? checked.truncation.max_length : undefined;
    const truncation = Number.isInteger(cut) && (cut as number) >= 1 ? (cut as number) : undefined;
    return new TextTokenizer(tok, path.resolve(file), String(model.type), lowercases(checked.normalizer), padding, truncation);
  }

  /** Special tokens the post-processor adds around one text. */
  get specialCount(): number {
    return this.specials.prefix.length + this.specials.suffix.length;
  }

  /** One text's ids: specials kept, the text's own tokens cut to fit `maxLength` in all. */
  ids(text: string, maxLength: number): { ids: number[]; types: number[] } {
    const s = this.specials;
    const room = Math.max(0, maxLength - s.prefix.length - s.suffix.length);
    const own = this.tok.encode(String(text), { add_special_tokens: false }).ids.slice(0, room);
    return { ids: [...s.prefix, ...own, ...s.suffix].slice(0, maxLength), types: [...s.prefixTypes, ...own.map(() => s.contentType), ...s.suffixTypes].slice(0, maxLength) };
  }

  /** A batch padded to its longest text. */
  batch(texts: readonly string[], maxLength: number): TokenBatch {
    const rows = texts.map((t) => this.ids(t, maxLength));
    const length = Math.max(1, ...rows.map((r) => r.ids.length));
    const n = rows.length;
    const ids = new BigInt64Array(n * length).fill(BigInt(this.padId));
    const mask = new BigInt64Array(n * length);
    const types = new BigInt64Array(n * length);
    rows.forEach((r, i) => {
      r.ids.forEach((id, k) => {
        ids[i * length + k] = BigInt(id);
        mask[i * length + k] = 1n;
        types[i * length + k] = BigInt(r.types[k]);
      });
    });
    return { ids, mask, types, batch: n, length };
  }
}

/** What the post-processor puts before and after a text, found by processing one marker token. */
function specialsOf(tok: Tokenizer): Specials {
  const marker = '\u0000transfer-lab-text\u0000';
  const none: Specials = { prefix: [], suffix: [], prefixTypes: [], suffixTypes: [], contentType: 0 };
  const post = tok.post_processor as unknown as ((a: string[], b: string[] | null, add: boolean) => { tokens: string[]; token_type_ids?: number[] }) | null;
  if (!post) return none;
  const out = post([marker], null, true);
  const at = out.tokens.indexOf(marker);
  if (at < 0) return none;
  const idOf = (t: string) => {
    const id = tok.token_to_id(t);
    if (id === undefined) throw new Error(`tokenizer.json: the post-processor adds the token ${printable(JSON.stringify(t).slice(0, 40))}, which is not in the vocabulary.`);
    return id;
  };
  const types = out.token_type_ids ?? out.tokens.map(() => 0);
  return {
    prefix: out.tokens.slice(0, at).map(idOf),
    suffix: out.tokens.slice(at + 1).map(idOf),
    prefixTypes: types.slice(0, at),
    suffixTypes: types.slice(at + 1),
    contentType: types[at] ?? 0,
  };
}
