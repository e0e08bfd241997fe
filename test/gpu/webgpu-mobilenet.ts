/**
 * A full MobileNetV2 forward pass and one fine-tune step on TF.js WebGPU (Dawn), against the cpu
 * backend: same weights, same input, same step. Not part of `npm test` (it needs minutes on a
 * software adapter); run it on a GPU machine, or here on llvmpipe with a small size:
 *
 *   node out/test/gpu/webgpu-mobilenet.js [size=224] [batch=8]
 *
 * Prints the largest differences and exits 1 when they exceed the tolerances, or when Dawn reports
 * any validation error.
 */
import * as tf from '@tensorflow/tfjs';
import { makeNodeLoaderHost } from '../../src/runtime/nodeHost';
import { mobileNetV2Like } from '../../src/tl/builders';
import { webgpuMaxBatch } from '../../src/tl/device';
import { engineDirs, findEngine } from '../../src/tl/engines';

const size = Number(process.argv[2] ?? 224);
const batch = Number(process.argv[3] ?? 8);

function maxDiff(a: Float32Array, b: Float32Array): { abs: number; rel: number } {
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { abs, rel: abs / (scale || 1) };
}

/** Forward output and the gradients of one fine-tune step (last 3 blocks + head trainable) on the current backend. */
async function run(): Promise<{ out: Float32Array; grads: Float32Array[]; names: string[]; maxBatch: number }> {
  const base = mobileNetV2Like({ inputSize: size, seed: 7, classes: 10 });
  let trainable = false;
  for (const l of base.layers) {
    if (l.name.startsWith('block_14')) trainable = true;
    l.trainable = trainable;
  }
  const x = tf.randomUniform([batch, size, size, 3], -1, 1, 'float32', 3);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10);
  const maxBatch = webgpuMaxBatch(base);
  const y = base.predict(x, { batchSize: Math.min(batch, maxBatch) }) as tf.Tensor;
  const out = (await y.data()) as Float32Array;
  const vars = base.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, base.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
  const names = Object.keys(grads);
  const g = await Promise.all(names.map(async (n) => (await grads[n].data()) as Float32Array));
  tf.dispose([x, labels, y, ...Object.values(grads)]);
  return { out, grads: g, names, maxBatch };
}

async function main(): Promise<void> {
  const host = makeNodeLoaderHost();
  const resolved = findEngine('webgpu', engineDirs())?.entry;
  if (!resolved) throw new Error(`the webgpu package is not installed (looked in ${engineDirs().join(', ')})`);
  const errors: string[] = [];
  const info = await host.prepareWebGpu(host.load(resolved), true);
  await tf.setBackend('webgpu');
  await tf.ready();
  (tf.backend() as unknown as { device: GPUDevice }).device.addEventListener('uncapturederror', (ev) => errors.push((ev as GPUUncapturedErrorEvent).error.message));
  console.log(`adapter: ${info.description}${info.software ? ' (software)' : ''}; MobileNetV2 ${size} px, batch ${batch}`);
  let t0 = Date.now();
  const gpu = await run();
  console.log(`webgpu: ${((Date.now() - t0) / 1000).toFixed(1)} s (at most ${gpu.maxBatch} samples per pass on this adapter)`);
  await tf.setBackend('cpu');
  t0 = Date.now();
  const cpu = await run();
  console.log(`cpu: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const fwd = maxDiff(gpu.out, cpu.out);
  // Relative to the largest gradient of the step: some gradients are exactly zero in theory (a BN
  // beta whose shift the next training-mode BN removes), and there only float noise is left.
  const scale = Math.max(...cpu.grads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  let worst = { rel: 0, abs: 0, name: '' };
  gpu.grads.forEach((g, i) => {
    const d = maxDiff(g, cpu.grads[i]);
    if (d.abs / scale > worst.rel) worst = { abs: d.abs, rel: d.abs / scale, name: gpu.names[i] };
  });
  console.log(`forward: max abs diff ${fwd.abs.toExponential(2)}, relative to the largest output ${fwd.rel.toExponential(2)}`);
  console.log(`fine-tune step: ${gpu.grads.length} gradients, worst ${worst.name}: max abs diff ${worst.abs.toExponential(2)}, relative to the largest gradient ${worst.rel.toExponential(2)}`);
  console.log(`Dawn validation errors: ${errors.length}${errors.length ? `; first: ${errors[0].split('\n')[0]}` : ''}`);
  const ok = fwd.rel < 1e-3 && worst.rel < 1e-3 && errors.length === 0;
  console.log(ok ? 'PASS' : 'FAIL');
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
