/**
 * Word vectors in the GloVe text format ("word v1 … vd" a line) or the word2vec text format (the
 * same after a "count dim" header line), as .txt or .vec, optionally gzipped. Untrusted input: the
 * bytes read (after decompression) and the table allocated are bounded before they are spent, and
 * every error names the file and the line.
 */
import * as fsp from 'node:fs/promises';
import * as readline from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { formatBytes, budgetHint } from '../models/safety/budget';
import { printable } from '../util/text';
import { MAX_WORD_DIM, TableBuilder, type WordVectors } from './table';

/** Text is longer than the floats it spells: a file may be this many times the table budget. */
export const TEXT_BYTES_PER_TABLE_BYTE = 4;
const MAX_LINE_CHARS = 1 << 20;


/** Opens a regular file the user named (links followed) and checks its size; gzip by magic bytes. */
export async function openVectorStream(file: string, maxTextBytes: number, what: string): Promise<Readable> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    throw new Error(`${what}: cannot read ${file}: ${(e as Error).message}`);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new Error(`${what}: ${file} is not a regular file.`);
  }
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  const gz = magic[0] === 0x1f && magic[1] === 0x8b;
  if (!gz && st.size > maxTextBytes) {
    await fh.close();
    throw new Error(`${what}: ${file} holds ${formatBytes(st.size)}, more than the ${formatBytes(maxTextBytes)} a word-vector file may have; ${budgetHint(maxTextBytes / TEXT_BYTES_PER_TABLE_BYTE)}.`);
  }
  const raw = fh.createReadStream({ start: 0, autoClose: true });
  if (!gz) return raw;
  let seen = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxTextBytes) done(new Error(`${what}: ${file} unpacks to more than ${formatBytes(maxTextBytes)}, more than a word-vector file may have; ${budgetHint(maxTextBytes / TEXT_BYTES_PER_TABLE_BYTE)}.`));
      else done(null, chunk);
    },
  });
  const gunzip = zlib.createGunzip();
  raw.on('error', (e) => limit.destroy(e));
  gunzip.on('error', (e) => limit.destroy(new Error(`${what}: ${file} is not valid gzip: ${e.message}`)));
  return raw.pipe(gunzip).pipe(limit);
}

/** A word2vec header: "count dim". */
function header(line: string): { count: number; dim: number } | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
  return m ? { count: Number(m[1]), dim: Number(m[2]) } : undefined;
}

/** Reads a GloVe or word2vec text file into a table of at most `maxBytes` bytes. */
export async function readVectorFile(file: string, maxBytes: number): Promise<WordVectors> {
  const what = 'word vectors';
  const stream = await openVectorStream(file, maxBytes * TEXT_BYTES_PER_TABLE_BYTE, what);
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let builder: TableBuilder | undefined;
  let format: WordVectors['format'] = 'glove';
  let declared: number | undefined;
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.length > MAX_LINE_CHARS) throw new Error(`${what}: ${file} line ${n} is longer than ${MAX_LINE_CHARS} characters.`);
      if (n === 1) {
        const h = header(line);
        if (h) {
          format = 'word2vec';
          declared = h.count;
          builder = new TableBuilder(file, h.dim, maxBytes, h.count);
          continue;
        }
      }
      if (line.trim() === '') continue;
      builder ??= new TableBuilder(file, guessDim(file, line, n), maxBytes);
      builder.addLine(line, n);
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  if (!builder || builder.count === 0) throw new Error(`${what}: ${file} holds no word vectors.`);
  if (declared !== undefined && builder.count !== declared) {
    throw new Error(`${what}: ${file} says it holds ${declared} vectors (line 1) but holds ${builder.count}.`);
  }
  return builder.finish(format);
}

/** GloVe files have no header: the first line's number of fields says the dimension. */
function guessDim(file: string, line: string, n: number): number {
  const fields = line.trim().split(/ +/);
  const dim = fields.length - 1;
  if (dim < 1 || dim > MAX_WORD_DIM) throw new Error(`word vectors: ${file} line ${n} does not start a word-vector file ("word v1 … vd" a line, or a "count dim" header): it has ${fields.length} field(s), ${printable(fields[0].slice(0, 40))} first.`);
  return dim;
}
