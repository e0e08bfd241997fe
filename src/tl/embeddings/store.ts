/** Where embeddings are kept: in memory (bounded, least recently used out first) and in files on disk. */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { defaultCacheDir } from '../models/cache';
import { writeFileAtomic } from '../util/atomic';
import type { EmbeddingCacheOptions } from './types';

export function embeddingCacheDir(opts: EmbeddingCacheOptions = {}): string | undefined {
  if (opts.cacheDir === false) return undefined;
  return opts.cacheDir ? path.resolve(opts.cacheDir) : path.join(defaultCacheDir(), 'embeddings');
}

// --- memory cache (least recently used out first)

const MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024;
const memory = new Map<string, Float32Array>();
let memoryBytes = 0;

export function memGet(key: string): Float32Array | undefined {
  const v = memory.get(key);
  if (v) {
    memory.delete(key);
    memory.set(key, v);
  }
  return v;
}

export function memSet(key: string, v: Float32Array): void {
  const old = memory.get(key);
  if (old) memoryBytes -= old.byteLength;
  memory.delete(key);
  memory.set(key, v);
  memoryBytes += v.byteLength;
  for (const [k, e] of memory) {
    if (memoryBytes <= MEMORY_LIMIT_BYTES) break;
    memory.delete(k);
    memoryBytes -= e.byteLength;
  }
}

/** Empties the in-memory cache, and the disk cache folder too when `disk` is set. */
export async function clearEmbeddingCache(opts: { disk?: boolean } & EmbeddingCacheOptions = {}): Promise<void> {
  memory.clear();
  memoryBytes = 0;
  const dir = embeddingCacheDir(opts);
  if (opts.disk && dir) await fsp.rm(dir, { recursive: true, force: true });
}

export function embeddingMemoryStats(): { entries: number; bytes: number } {
  return { entries: memory.size, bytes: memoryBytes };
}

// --- files on disk

const MAGIC = 'TLEMB001';

interface DiskFile {
  keys: string[];
  shape: number[];
  values: Float32Array;
}

export async function readDisk(file: string): Promise<DiskFile | undefined> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch {
    return undefined;
  }
  try {
    if (buf.subarray(0, 8).toString('latin1') !== MAGIC) return undefined;
    const headerLen = buf.readUInt32LE(8);
    const header = JSON.parse(buf.subarray(12, 12 + headerLen).toString('utf8')) as { keys: string[]; shape: number[] };
    const start = 12 + headerLen + ((4 - ((12 + headerLen) % 4)) % 4);
    const dim = header.shape.reduce((a, b) => a * b, 1);
    const count = header.keys.length * dim;
    if (buf.length < start + count * 4) return undefined;
    const values = new Float32Array(count);
    new Uint8Array(values.buffer).set(buf.subarray(start, start + count * 4));
    return { keys: header.keys, shape: header.shape, values };
  } catch {
    // A file from another version or a damaged one is a miss, not an error.
    return undefined;
  }
}

export async function writeDisk(file: string, keys: string[], shape: number[], rows: Float32Array[]): Promise<void> {
  const header = Buffer.from(JSON.stringify({ keys, shape }), 'utf8');
  const pad = (4 - ((12 + header.length) % 4)) % 4;
  const head = Buffer.alloc(12 + header.length + pad);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(header.length, 8);
  header.copy(head, 12);
  const body = Buffer.concat(rows.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength)));
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, Buffer.concat([head, body]));
}
