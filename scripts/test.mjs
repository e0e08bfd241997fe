// Runs every test suite in order and prints one closing summary line.
//   node scripts/test.mjs          all suites (what CI runs)
//   node scripts/test.mjs --fast   build, type check and the fast unit tests (the inner loop)
//   node scripts/test.mjs --only unit,renderer
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const fast = args.includes('--fast');
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? args[onlyArg + 1].split(',') : undefined;

const testFiles = (dir, slow) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.test.js') && (slow || !f.endsWith('.slow.test.js')))
        .map((f) => path.join(dir, f))
    : [];

/**
 * tsc never deletes what it once wrote: after a module moves (`tl/data.ts` → `tl/data/index.ts`),
 * Node would still load the old `out/src/tl/data.js`. Outputs whose source is gone are removed.
 */
function pruneStaleOutputs(dir = 'out') {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      pruneStaleOutputs(file);
      continue;
    }
    const m = /^(.*)\.(js|d\.ts|js\.map|d\.ts\.map)$/.exec(path.relative('out', file));
    if (m && !['.ts', '.tsx', '.mts'].some((ext) => existsSync(m[1] + ext))) rmSync(file);
  }
}

/** Each suite: a command, and how to read its pass/fail counts. */
const suites = [
  { name: 'build', cmd: ['node', 'esbuild.mjs'], counts: 'exit' },
  { name: 'typecheck', cmd: ['npx', 'tsc', '-b'], counts: 'exit' },
  { name: 'unit', cmd: () => ['node', '--test', ...testFiles('out/test/node', !fast)], counts: 'node-test' },
  { name: 'renderer', cmd: () => ['node', '--test', '--test-concurrency=1', ...testFiles('out/test/chromium', true)], counts: 'node-test', slow: true },
  { name: 'extension', cmd: ['node', 'scripts/run-extension-tests.mjs'], counts: 'summary', slow: true },
  { name: 'ui', cmd: ['node', 'scripts/run-ui-tests.mjs'], counts: 'summary', slow: true },
  // The linux-x64 platform package: built, its contents checked (this platform's engines only, under
  // 45 MiB), and its CLI run from a folder with no node_modules on a MobileNetV2-style extraction.
  { name: 'package', cmd: ['bash', '-c', 'npm run package -- --target linux-x64 && node scripts/check-package.mjs "transfer-lab-linux-x64-$(node -p "require(\'./package.json\').version").vsix" --target linux-x64'], counts: 'exit', slow: true },
];

function run(cmd) {
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const tee = (stream) => (d) => {
      out += d;
      stream.write(d);
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function counts(kind, code, out) {
  if (kind === 'node-test') {
    const n = (k) => Number(new RegExp(`^# ${k} (\\d+)`, 'm').exec(out)?.[1] ?? 0);
    return { passed: n('pass'), failed: n('fail') + n('cancelled') + (code !== 0 && n('fail') === 0 ? 1 : 0), skipped: n('skipped') };
  }
  if (kind === 'summary') {
    const m = [...out.matchAll(/(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/g)].at(-1);
    if (m) return { passed: Number(m[1]), failed: Number(m[2]) + (code !== 0 && Number(m[2]) === 0 ? 1 : 0), skipped: Number(m[3] ?? 0) };
  }
  return code === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 };
}

pruneStaleOutputs();
const results = [];
for (const s of suites) {
  if (only ? !only.includes(s.name) : fast && s.slow) continue;
  const cmd = typeof s.cmd === 'function' ? s.cmd() : s.cmd;
  console.log(`\n=== ${s.name}: ${cmd.join(' ')}`);
  const t = Date.now();
  const { code, out } = await run(cmd);
  const c = counts(s.counts, code, out);
  results.push({ name: s.name, seconds: (Date.now() - t) / 1000, code, ...c });
  // Nothing can be tested once the build or the type check fails.
  if ((s.name === 'build' || s.name === 'typecheck') && code !== 0) break;
}

console.log('\n=== summary');
for (const r of results) console.log(`${r.name.padEnd(10)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${String(r.skipped).padStart(3)} skipped  ${r.seconds.toFixed(1).padStart(7)} s${r.code ? `  (exit ${r.code})` : ''}`);
const total = results.reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 || results.some((r) => r.code !== 0) ? 1 : 0);
