/**
 * An ONNX sentence encoder (a BERT-style model such as MiniLM, exported by the user) with its
 * tokenizer.json, as a text encoding: texts → tokenizer (tokenizerFile.ts) → padded id batches →
 * ONNX Runtime → pooling over the attention mask → one vector a text. It runs frozen, outside the
 * TF.js model, whose input is that vector (encoderBase.ts). The encoding's key hashes both files, so
 * the embedding cache keeps a text's vector for exactly this encoder.
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { loadOrt, type OrtReport, type OrtSession, type SessionOptions } from '../onnx/ort';
import { openSession } from '../onnx/load';
import { errMsg } from '../util/text';
import type { TextEncoding } from './encoding';
import { embeddingRows, encoderIo, type EncoderIo } from './encoderGraph';
import { pooledDim, poolTokens } from './sentencePooling';
import { TextTokenizer, type TokenBatch } from './tokenizerFile';
import type { EncoderPooling } from './types';

export const DEFAULT_ENCODER_TOKENS = 256;
export const MAX_ENCODER_TOKENS = 8192;

export interface EncoderOptions extends SessionOptions {
  pooling: EncoderPooling;
  /** Tokens a text, special tokens included; default: tokenizer.json's truncation length, else DEFAULT_ENCODER_TOKENS. */
  maxLength?: number;
  /** Texts per ONNX Runtime call (default 32). */
  batchSize?: number;
  /** The graph output to pool (default last_hidden_state, else the first). */
  output?: string;
  /** Byte budget for the .onnx file's tensors. */
  maxBytes: number;
}

function sha(bytes: Uint8Array | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

/** ONNX Runtime tensors for the inputs the graph takes, in the integer type it takes. */
function feedsFor(io: EncoderIo, b: TokenBatch): Record<string, InstanceType<ReturnType<typeof loadOrt>['Tensor']>> {
  const ort = loadOrt();
  const arrays: Record<string, BigInt64Array> = { input_ids: b.ids, attention_mask: b.mask, token_type_ids: b.types };
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [name, type] of io.inputs) {
    const a = arrays[name];
    feeds[name] = type === 'int64' ? new ort.Tensor('int64', a, [b.batch, b.length]) : new ort.Tensor('int32', Int32Array.from(a, Number), [b.batch, b.length]);
  }
  return feeds;
}

export class SentenceEncoder implements TextEncoding {
  readonly key: string;
  readonly elementShape: number[];
  private released = false;

  constructor(
    readonly tokenizer: TextTokenizer,
    private readonly session: OrtSession,
    readonly io: EncoderIo,
    readonly opts: Required<Pick<EncoderOptions, 'pooling' | 'maxLength' | 'batchSize'>>,
    readonly files: { onnx: string; tokenizer: string },
    readonly hidden: number,
    readonly ort: OrtReport,
    hashes: { onnx: string; tokenizer: string },
  ) {
    this.key = `onnx-encoder:${hashes.onnx}:${hashes.tokenizer}:${io.output}:${opts.pooling}:${opts.maxLength}`;
    this.elementShape = [io.rank === 2 ? hidden : pooledDim(opts.pooling, hidden)];
  }

  get dim(): number {
    return this.elementShape[0];
  }

  /** One vector a text, row after row; batches of `batchSize` texts, each padded to its longest. */
  async encode(texts: readonly string[]): Promise<Float32Array> {
    const out = new Float32Array(texts.length * this.dim);
    const size = this.opts.batchSize;
    for (let i = 0; i < texts.length; i += size) {
      const chunk = texts.slice(i, i + size);
      out.set(await this.run(this.tokenizer.batch(chunk, this.opts.maxLength)), i * this.dim);
    }
    return out;
  }

  /** Runs one batch and pools it (a [batch, hidden] output is the sentence vector itself). */
  async run(b: TokenBatch): Promise<Float32Array> {
    if (this.released) throw new Error(`${path.basename(this.files.onnx)}: this sentence encoder was disposed (its model was disposed); load it again with tl.load().`);
    let res;
    try {
      res = await this.session.run(feedsFor(this.io, b), [this.io.output]);
    } catch (e) {
      throw new Error(`${path.basename(this.files.onnx)} failed on a batch of ${b.batch} text(s) of ${b.length} tokens: ${errMsg(e)} (is ${path.basename(this.files.tokenizer)} the model's own tokenizer, and maxLength ${this.opts.maxLength} within its positions?)`);
    }
    const t = res[this.io.output];
    const dims = [...t.dims];
    const want = this.io.rank === 3 ? [b.batch, b.length, this.hidden] : [b.batch, this.hidden];
    if (dims.join(',') !== want.join(',')) throw new Error(`${path.basename(this.files.onnx)}: output '${this.io.output}' came back as [${dims.join(', ')}]; expected [${want.join(', ')}].`);
    const data = t.data as Float32Array;
    const pooled = this.io.rank === 2 ? Float32Array.from(data) : poolTokens(data, b.mask, b.batch, b.length, this.hidden, this.opts.pooling as Exclude<EncoderPooling, 'model'>);
    t.dispose?.();
    return pooled;
  }

  /** Releases the ONNX Runtime session (when the model using it is disposed). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

/**
 * Opens `onnxFile` (size, external data and graph checked) with `tokenizerFile`; the tokenizer's
 * ids must fit the graph's embedding table. `inside`: the files of a saved model, read only from
 * inside its folder.
 */
export async function openSentenceEncoder(onnxFile: string, tokenizerFile: string, opts: EncoderOptions, inside: boolean): Promise<SentenceEncoder> {
  const tokenizer = await TextTokenizer.read(tokenizerFile, inside);
  const { session, report, bytes } = await openSession(onnxFile, opts);
  try {
    const io = encoderIo(session, onnxFile, opts.output);
    checkIds(tokenizer, bytes, onnxFile);
    if (io.rank === 2 && opts.pooling !== 'model') throw new Error(`${path.basename(onnxFile)}: output '${io.output}' is one vector a text already ([batch, hidden]); pooling must be 'model', not ${JSON.stringify(opts.pooling)}.`);
    if (io.rank === 3 && opts.pooling === 'model') throw new Error(`${path.basename(onnxFile)}: output '${io.output}' gives token vectors; pooling 'model' needs a [batch, hidden] output. Use 'mean', 'max', 'cls' or 'mean+max'.`);
    const hashes = { onnx: sha(bytes), tokenizer: sha(await fsp.readFile(tokenizer.file)) };
    const maxLength = opts.maxLength ?? Math.min(tokenizer.truncation ?? DEFAULT_ENCODER_TOKENS, MAX_ENCODER_TOKENS);
    const settings = { pooling: opts.pooling, maxLength, batchSize: opts.batchSize ?? 32 };
    const hidden = io.dim ?? (await probeHidden(session, io, tokenizer, onnxFile));
    return new SentenceEncoder(tokenizer, session, io, settings, { onnx: path.resolve(onnxFile), tokenizer: tokenizer.file }, hidden, report, hashes);
  } catch (e) {
    await session.release();
    throw e;
  }
}

function checkIds(tokenizer: TextTokenizer, bytes: Uint8Array, onnxFile: string): void {
  const rows = embeddingRows(bytes);
  const top = Math.max(tokenizer.maxId, tokenizer.padId);
  if (rows !== undefined && top >= rows) {
    throw new Error(`${path.basename(tokenizer.file)} gives token ids up to ${top}, but the embedding table of ${path.basename(onnxFile)} has ${rows} rows: the tokenizer does not belong to this model.`);
  }
}

/** The hidden size of a graph that leaves it symbolic: one short text through it. */
async function probeHidden(session: OrtSession, io: EncoderIo, tokenizer: TextTokenizer, onnxFile: string): Promise<number> {
  const res = await session.run(feedsFor(io, tokenizer.batch(['hello'], 8)), [io.output]);
  const dims = res[io.output].dims;
  const hidden = dims[dims.length - 1];
  if (!(hidden > 0) || dims.length !== io.rank) throw new Error(`${path.basename(onnxFile)}: output '${io.output}' came back as [${dims.join(', ')}] for one text.`);
  return hidden;
}
