/** Content hashes of sample files, the keys of the embedding cache. */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';

/** Content hashes survive between fits; a file is re-read only when its size or mtime changes. */
const fileHashes = new Map<string, { size: number; mtimeMs: number; hash: string }>();

export async function fileHash(file: string): Promise<string> {
  const st = await fsp.stat(file);
  const memo = fileHashes.get(file);
  if (memo && memo.size === st.size && memo.mtimeMs === st.mtimeMs) return memo.hash;
  const hash = crypto.createHash('sha256').update(await fsp.readFile(file)).digest('hex').slice(0, 32);
  fileHashes.set(file, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}

