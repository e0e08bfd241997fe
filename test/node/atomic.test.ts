/** Files written whole: the reader sees the old file or the new one, and a failed write leaves no temporary file. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/tl/util/atomic';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tl-atomic-'));
}

for (const [name, write] of [
  ['writeFileAtomicSync', async (dest: string, data: string) => writeFileAtomicSync(dest, data)],
  ['writeFileAtomic', writeFileAtomic],
] as const) {
  test(`${name} replaces the file whole`, async () => {
    const dir = tmp();
    const dest = path.join(dir, 'out.ipynb');
    fs.writeFileSync(dest, 'old');
    await write(dest, 'new');
    assert.equal(fs.readFileSync(dest, 'utf8'), 'new');
    assert.deepEqual(fs.readdirSync(dir), ['out.ipynb']);
  });

  test(`${name} that fails at the rename leaves no temporary file behind`, async () => {
    const dir = tmp();
    // The destination is a folder that is not empty: writing the temporary file works, renaming over it does not.
    const dest = path.join(dir, 'taken');
    fs.mkdirSync(dest);
    fs.writeFileSync(path.join(dest, 'x'), 'x');
    await assert.rejects(write(dest, 'data'));
    assert.deepEqual(fs.readdirSync(dir), ['taken']);
  });
}
