/** Files written whole: readers see the old file or the new one, never a part. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';

/** A temporary name beside `dest`, unique to this process and call. */
export function tmpName(dest: string): string {
  return `${dest}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
}

/** Writes a file so that readers see either the old file or the whole new one, never a part. */
export async function writeFileAtomic(dest: string, data: string | Uint8Array): Promise<void> {
  const tmp = tmpName(dest);
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** writeFileAtomic for callers that cannot await (the CLI writing its notebook, toOnnx). */
export function writeFileAtomicSync(dest: string, data: string | Uint8Array): void {
  const tmp = tmpName(dest);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
