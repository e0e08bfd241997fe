#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --gpu] [-- --only=extract,finetune,head,kernel,torch] [-- --threads=N]`
// Builds what the benchmark needs (the kernel bundle, and the harness itself with esbuild, so no
// tsc output is required), then runs it in a child process with a larger heap.
// `node bench/run.mjs --pack` instead writes bench/.out/gpu-pack.tar.gz: the bundles plus the
// linux-x64 native modules they load, for a machine with neither network nor node_modules
// (bench/gpu.sh unpacks and runs it).
import { spawnSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'bench', '.out');
mkdirSync(out, { recursive: true });

const kernel = spawnSync(process.execPath, ['esbuild.mjs', 'kernel'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (kernel.status !== 0) console.error('bench: building the kernel failed; the kernel section will be skipped.');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'sharp', 'onnxruntime-node'],
};
await esbuild.build({ ...common, entryPoints: [path.join(root, 'bench', 'bench.ts')], outfile: path.join(out, 'bench.cjs') });
// The decode pool looks for its worker next to the code that starts it.
await esbuild.build({ ...common, entryPoints: [path.join(root, 'src', 'tl', 'onnx', 'decodeWorker.ts')], outfile: path.join(out, 'decode-worker.js') });

if (process.argv.includes('--pack')) {
  const pack = path.join(out, 'pack');
  rmSync(pack, { recursive: true, force: true });
  const copy = (from, to = from) => {
    const src = path.join(root, from);
    if (!existsSync(src)) throw new Error(`--pack: ${from} is missing`);
    cpSync(src, path.join(pack, to), { recursive: true, dereference: true });
  };
  for (const f of ['bench.cjs', 'decode-worker.js']) copy(path.join('bench', '.out', f));
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
    copy(path.join('dist', f));
    copy(path.join('dist', f), path.join('bench', '.out', f));
  }
  copy(path.join('dist', 'kernel.js'));
  copy(path.join('bench', 'torch_bench.py'));
  // The bundles find their engines (pack/node_modules) from the package root, the folder whose
  // package.json names transfer-lab; without it none loads ("onnxruntime-node is not installed").
  copy('package.json');
  const nm = (p) => copy(path.join('node_modules', p));
  for (const p of ['onnxruntime-node/package.json', 'onnxruntime-node/dist', 'onnxruntime-node/bin/napi-v6/linux/x64', 'onnxruntime-common']) nm(p);
  for (const p of ['webgpu/package.json', 'webgpu/index.js', 'webgpu/dist/linux-x64']) nm(p);
  for (const p of ['sharp', '@img/colour', '@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64', 'detect-libc', 'semver']) nm(p);
  nm('@tensorflow/tfjs-backend-wasm/package.json');
  const tarball = path.join(out, 'gpu-pack.tar.gz');
  const tar = spawnSync('tar', ['czf', tarball, '-C', out, 'pack'], { stdio: 'inherit' });
  if (tar.status !== 0) process.exit(1);
  console.log(`wrote ${path.relative(root, tarball)} (${(statSync(tarball).size / 2 ** 20).toFixed(1)} MiB)`);
  process.exit(0);
}

const child = spawn(process.execPath, ['--max-old-space-size=8192', path.join(out, 'bench.cjs'), `--root=${root}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, npm_config_onnxruntime_node_install: 'skip' },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
