// Builds the renderer bundle and the tests, then runs the renderer's Node unit tests and its
// headless-Chromium tests. `node scripts/run-renderer-tests.mjs [--unit | --browser]`
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const run = (cmd, argv, { allowFail = false } = {}) => {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0 && !allowFail) process.exit(r.status ?? 1);
  return r.status;
};

run(process.execPath, ['esbuild.mjs', 'renderers']);
// Other projects' type errors must not hide ours, but the test output has to exist.
const tsc = run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'test'], { allowFail: true });
if (tsc !== 0) console.warn('tsc -b test reported errors (see above); running the tests it emitted.');

const files = [];
if (!args.includes('--browser')) {
  for (const f of readdirSync(path.join(root, 'out/test/node'))) if (/^renderer-.*\.test\.js$/.test(f)) files.push(`out/test/node/${f}`);
}
if (!args.includes('--unit')) {
  for (const f of readdirSync(path.join(root, 'out/test/chromium'))) if (/\.test\.js$/.test(f)) files.push(`out/test/chromium/${f}`);
}
process.exit(run(process.execPath, ['--test', '--test-concurrency=1', ...files], { allowFail: true }));
