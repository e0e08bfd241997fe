import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { explainInstallFailure, installGpuBackend } from '../../src/client/installGpu';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tl-gpu-install-'));

function fakeNpm(script: string): string {
  const file = path.join(tmp, `npm-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('npm missing: a clear message', async () => {
  const r = await installGpuBackend({ prefix: path.join(tmp, 'a'), npm: path.join(tmp, 'no-such-npm') });
  assert.equal(r.ok, false);
  assert.match(r.message, /npm was not found/);
});

test('no network: names the host npm could not reach', async () => {
  const npm = fakeNpm('echo "npm error code ENOTFOUND" >&2; echo "npm error network request to https://registry.npmjs.org/@tensorflow%2ftfjs-node-gpu failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org" >&2; exit 1');
  const lines: string[] = [];
  const r = await installGpuBackend({ prefix: path.join(tmp, 'b'), npm, onOutput: (l) => lines.push(l) });
  assert.equal(r.ok, false);
  assert.match(r.message, /^No network: npm could not reach registry\.npmjs\.org/);
  assert.ok(lines.some((l) => l.includes('ENOTFOUND')), 'output is streamed for the progress view');
});

test('the package installs but libtensorflow cannot be downloaded', () => {
  const out = '* Downloading libtensorflow\nError: getaddrinfo ENOTFOUND storage.googleapis.com\nnpm error command failed\n';
  assert.match(explainInstallFailure(1, out), /could not download libtensorflow 2\.9\.1 \(storage\.googleapis\.com unreachable\).*TFJS_NODE_CDN_STORAGE/);
});

test('success passes the arguments npm needs', async () => {
  const npm = fakeNpm('echo "$@" > "$(dirname "$0")/args.txt"; exit 0');
  const r = await installGpuBackend({ prefix: path.join(tmp, 'c'), npm });
  assert.equal(r.ok, true);
  const args = require('node:fs').readFileSync(path.join(tmp, 'args.txt'), 'utf8');
  assert.match(args, /install --prefix .*\/c .*@tensorflow\/tfjs-node-gpu@4\.22\.0/);
});
