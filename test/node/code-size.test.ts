/** The core stays in small pieces: no function over 80 lines, no file over 500, in src/ and renderers/. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..', '..', '..');

interface Report {
  limits: { function: number; file: number };
  files: { file: string; lines: number }[];
  functions: { file: string; line: number; name: string; lines: number }[];
  scanned: number;
}

function measure(...args: string[]): Report {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'code-size.mjs'), '--json', ...args], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

test('no function in src/ or renderers/ is over 80 lines, and no file over 500', () => {
  const report = measure();
  assert.ok(report.scanned > 100, `only ${report.scanned} files scanned`);
  assert.deepEqual(report.functions, [], 'functions over 80 lines');
  assert.deepEqual(report.files, [], 'files over 500 lines');
});

test('the measure sees long functions and files when the limits are tighter', () => {
  const report = measure('--max-function', '20', '--max-file', '200');
  assert.ok(report.functions.length > 0 && report.files.length > 0);
});
