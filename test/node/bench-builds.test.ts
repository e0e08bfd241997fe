/** The benchmark (bench/) is bundled by esbuild at run time, outside tsc: a moved module must fail here, not in CI's packaging. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';

const root = path.resolve(__dirname, '..', '..', '..');

test('bench/bench.ts bundles: every module it imports exists', async () => {
  const result = await esbuild.build({
    entryPoints: [path.join(root, 'bench', 'bench.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'sharp', 'onnxruntime-node'],
  });
  assert.deepEqual(result.errors, []);
  assert.ok(result.outputFiles[0].contents.length > 100_000);
});
