// Checks a built platform package the way a user gets it: its contents (scripts/vsix-contents.mjs),
// then the CLI inside the unpacked package, run from a folder with no node_modules, on a notebook
// that needs ONNX Runtime and sharp from the package (a MobileNetV2-style extraction from image files).
//
//   node scripts/check-package.mjs <file.vsix> [--target linux-x64] [--compare]
//
// --compare also runs the same notebook with the source checkout's dist/cli.js, alternating, and
// reports the package's extraction speed against the checkout's. Results: test-results/package-check.json.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkVsix, extractZip } from './vsix-contents.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--target');
const target = args.includes('--target') ? args[args.indexOf('--target') + 1] : `${process.platform}-${process.arch}`;
const compare = args.includes('--compare');

function fail(msg) {
  console.error(`check-package: ${msg}`);
  process.exit(1);
}

/** Runs the smoke notebook with `cli` in a fresh folder that has the sample data and no node_modules. */
function runSmoke(cli, label) {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'tl-pkg-ws-'));
  try {
    cpSync(path.join(root, 'samples', 'data'), path.join(ws, 'data'), { recursive: true });
    cpSync(path.join(root, 'test', 'package', 'smoke.ipynb'), path.join(ws, 'smoke.ipynb'));
    const env = { ...process.env };
    delete env.NODE_PATH;
    delete env.TRANSFER_LAB_ENGINES;
    const r = spawnSync(process.execPath, [cli, 'run', 'smoke.ipynb', '--out', 'smoke.out.ipynb'], { cwd: ws, env, encoding: 'utf8', timeout: 180_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) fail(`${label}: the smoke notebook failed (exit ${r.status}):\n${out.slice(-3000)}`);
    const smoke = Object.assign({}, ...out.split('\n').filter((l) => l.startsWith('SMOKE ')).map((l) => JSON.parse(l.slice(6))));
    return smoke;
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

function main() {
  if (!file) fail('usage: node scripts/check-package.mjs <file.vsix> [--target <t>] [--compare]');
  const problems = checkVsix(path.resolve(file), target);
  if (problems.length) fail(`${path.basename(file)} is not as it should be for ${target}:\n  ${problems.join('\n  ')}`);
  console.log(`contents: as expected for ${target}`);
  const unpacked = mkdtempSync(path.join(os.tmpdir(), 'tl-pkg-'));
  try {
    extractZip(path.resolve(file), unpacked);
    const ext = path.join(unpacked, 'extension');
    const cli = path.join(ext, 'dist', 'cli.js');
    const first = runSmoke(cli, 'package');
    for (const k of ['ort', 'decoder']) {
      if (!first[k] || !first[k].startsWith(path.join(ext, 'dist', 'node_modules'))) fail(`${k} was not loaded from the package (${first[k]})`);
    }
    console.log(`package CLI, folder without node_modules: backend ${first.backend}; ONNX Runtime from ${first.ort}; sharp from ${first.decoder}; ${first.webgpu}`);
    console.log(`  MobileNetV2-style extraction at ${first.size} px from files: ${first.extract.toFixed(1)} img/s (ORT ${first.provider}, decoder ${first.decoderName})`);
    const result = { target, file: path.basename(file), package: [first] };
    if (compare) {
      // Alternating runs, so that load from other processes weighs on both sides alike.
      result.source = [];
      for (let i = 0; i < 2; i++) {
        result.source.push(runSmoke(path.join(root, 'dist', 'cli.js'), 'source checkout'));
        result.package.push(runSmoke(cli, 'package'));
      }
      const best = (runs) => Math.max(...runs.map((r) => r.extract));
      result.ratio = best(result.package) / best(result.source);
      console.log(`  extraction, best of ${result.package.length} package runs vs ${result.source.length} source-checkout runs: ${best(result.package).toFixed(1)} vs ${best(result.source).toFixed(1)} img/s (package ÷ checkout ${result.ratio.toFixed(2)})`);
    }
    mkdirSync(path.join(root, 'test-results'), { recursive: true });
    writeFileSync(path.join(root, 'test-results', 'package-check.json'), JSON.stringify(result, null, 2) + '\n');
    if (compare && result.ratio < 0.85) fail(`the package's extraction is ${((1 - result.ratio) * 100).toFixed(0)} % slower than the source checkout's (limit 15 %)`);
  } finally {
    rmSync(unpacked, { recursive: true, force: true });
  }
}

main();
