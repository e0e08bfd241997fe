// One named build per target. `node esbuild.mjs [names...] [--watch] [--minify]`.
// Type checking is `tsc -b`; this file only bundles.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const watch = args.includes('--watch');
const minify = args.includes('--minify');
const only = args.filter((a) => !a.startsWith('--'));

/** Native or optional modules: resolved at run time from the user's machine, never bundled. */
const nativeExternals = [
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'webgpu',
  'sharp',
  'onnxruntime-node',
];

const common = { bundle: true, sourcemap: true, minify, logLevel: 'warning', legalComments: 'none' };

/** @type {Record<string, import('esbuild').BuildOptions>} */
const targets = {
  // Extension host: Node, CommonJS, `vscode` provided by the host.
  extension: {
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  // The kernel process: TF.js, the tl core and the cell evaluator. Never loaded by the host.
  kernel: {
    ...common,
    entryPoints: ['src/runtime/main.ts'],
    outfile: 'dist/kernel.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nativeExternals,
  },
  // Headless runner and predict: `transfer-lab run nb.ipynb`.
  cli: {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nativeExternals,
    banner: { js: '#!/usr/bin/env node' },
  },
  // Decoding worker of the ONNX feature-extraction pipeline (one per core), beside the kernel.
  'decode-worker': {
    ...common,
    entryPoints: ['src/tl/onnx/decodeWorker.ts'],
    outfile: 'dist/decode-worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nativeExternals,
  },
  // Notebook renderers: browser ES modules that export `activate`.
  renderers: {
    ...common,
    entryPoints: ['renderers/main.ts'],
    outfile: 'dist/renderers/main.js',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    metafile: true,
  },
};

function copyWasm() {
  mkdirSync('dist', { recursive: true });
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  // The threaded build is left out: its workers cannot start in Node (ERR_WORKER_PATH).
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
    copyFileSync(path.join(dir, 'dist', f), path.join('dist', f));
  }
}

const names = only.length ? only : Object.keys(targets);
for (const n of names) if (!targets[n]) throw new Error(`unknown build "${n}"; known: ${Object.keys(targets).join(', ')}`);

if (names.includes('kernel') || names.includes('cli')) copyWasm();

if (watch) {
  for (const n of names) {
    const ctx = await esbuild.context(targets[n]);
    await ctx.watch();
    console.log(`[watch] ${n}`);
  }
} else {
  await Promise.all(
    names.map(async (n) => {
      const t = Date.now();
      const result = await esbuild.build(targets[n]);
      const size = statSync(targets[n].outfile).size;
      console.log(`built ${n.padEnd(10)} ${targets[n].outfile} ${(size / 1024).toFixed(0)} KiB in ${Date.now() - t} ms`);
      if (n === 'renderers' && result.metafile) {
        console.log(`renderer bundle: ${(size / 1024).toFixed(1)} KiB`);
      }
    }),
  );
}
