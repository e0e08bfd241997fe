import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENCODER_DIR } from './tl-text-encoder-fixtures';
import { tmpDir } from './tl-fixtures';

const PYTHON = '/usr/bin/python3';
const script = path.resolve(__dirname, '..', '..', '..', 'scripts', 'make-tiny-encoder.py');
const hasTorch = fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

test('scripts/make-tiny-encoder.py makes the committed fixture again', { skip: !hasTorch && `${PYTHON} has no torch (Debian: apt-get install python3-torch)` }, () => {
  const out = tmpDir('encoder-regen');
  const r = spawnSync(PYTHON, [script, out], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  assert.equal(read(out, 'tokenizer.json'), read(ENCODER_DIR, 'tokenizer.json'));
  const [made, kept] = [out, ENCODER_DIR].map((d) => JSON.parse(read(d, 'reference.json')) as { texts: unknown; pooled: Record<string, number[][]> });
  assert.deepEqual(made.texts, kept.texts);
  // Another PyTorch may round differently; the same seed must still give the same encoder.
  for (const k of Object.keys(kept.pooled)) made.pooled[k].flat().forEach((v, i) => assert.ok(Math.abs(v - kept.pooled[k].flat()[i]) < 1e-5, `${k}[${i}]`));
});
