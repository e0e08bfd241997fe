/**
 * A full MobileNetV2 forward pass and one fine-tune step on TF.js WebGPU (Dawn), against the cpu
 * backend: same weights, same input, same step. Not part of `npm test` (it needs minutes on a
 * software adapter); run it on a GPU machine, or here on llvmpipe with a small size:
 *
 *   node out/test/gpu/webgpu-mobilenet.js [size=224] [batch=8] [--bn-train]
 *
 * The step is the one `tl.fineTune` takes: the last 3 blocks and the head trainable, every
 * BatchNormalization frozen in inference mode (Keras's advice, and ours). `--bn-train` also makes
 * the unfrozen blocks' BatchNormalization train (batch statistics). With random weights that step
 * is ill-conditioned at 224 px: channels with almost no variance amplify float rounding, and two
 * correct CPU backends (cpu and WASM) already differ by up to 10 % of the largest gradient. So in
 * that mode the WASM backend runs too, and WebGPU passes when it is no further from cpu than
 * twice WASM's distance.
 *
 * Prints the largest differences and exits 1 when they exceed the tolerances, or when Dawn reports
 * any validation error.
 */
import * as tf from '@tensorflow/tfjs';
import { makeNodeLoaderHost } from '../../src/runtime/nodeHost';
import { mobileNetV2Like } from '../../src/tl/builders';
import '../../src/tl/batchnorm';
import { registerWasmGradients } from '../../src/tl/wasm-grads';
import { webgpuMaxBatch } from '../../src/tl/device';
import { engineDirs, findEngine } from '../../src/tl/engines';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const size = Number(args[0] ?? 224);
const batch = Number(args[1] ?? 8);
const bnTrain = process.argv.includes('--bn-train');

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
    l.trainable = trainable && (bnTrain || l.getClassName() !== 'BatchNormalization');
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

type Step = Awaited<ReturnType<typeof run>>;

/** The worst gradient difference of a step against the reference, relative to the reference's largest gradient. */
function worstGradient(step: Step, ref: Step): { abs: number; rel: number; name: string } {
  // Relative to the largest gradient of the step: some gradients are exactly zero in theory (a BN
  // beta whose shift the next training-mode BN removes), and there only float noise is left.
  const scale = Math.max(...ref.grads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  let worst = { rel: 0, abs: 0, name: '' };
  step.grads.forEach((g, i) => {
    const d = maxDiff(g, ref.grads[i]);
    if (d.abs / scale > worst.rel) worst = { abs: d.abs, rel: d.abs / scale, name: step.names[i] };
  });
  return worst;
}

async function onBackend(name: string): Promise<Step> {
  await tf.setBackend(name);
  await tf.ready();
  const t0 = Date.now();
  const step = await run();
  console.log(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return step;
}

async function startWebGpu(errors: string[]): Promise<void> {
  const host = makeNodeLoaderHost(registerWasmGradients);
  const resolved = findEngine('webgpu', engineDirs())?.entry;
  if (!resolved) throw new Error(`the webgpu package is not installed (looked in ${engineDirs().join(', ')})`);
  const info = await host.prepareWebGpu(host.load(resolved), true);
  if (bnTrain) await host.prepareWasm();
  await tf.setBackend('webgpu');
  await tf.ready();
  (tf.backend() as unknown as { device: GPUDevice }).device.addEventListener('uncapturederror', (ev) => errors.push((ev as GPUUncapturedErrorEvent).error.message));
  const mode = bnTrain ? 'BatchNormalization training in the unfrozen blocks' : 'BatchNormalization frozen, as tl.fineTune does';
  console.log(`adapter: ${info.description}${info.software ? ' (software)' : ''}; MobileNetV2 ${size} px, batch ${batch}; ${mode}`);
}

async function main(): Promise<void> {
  const errors: string[] = [];
  await startWebGpu(errors);
  const gpu = await onBackend('webgpu');
  console.log(`(at most ${gpu.maxBatch} samples per WebGPU pass on this adapter)`);
  const cpu = await onBackend('cpu');
  const fwd = maxDiff(gpu.out, cpu.out);
  const worst = worstGradient(gpu, cpu);
  console.log(`forward: max abs diff ${fwd.abs.toExponential(2)}, relative to the largest output ${fwd.rel.toExponential(2)}`);
  console.log(`fine-tune step: ${gpu.grads.length} gradients, worst ${worst.name}: max abs diff ${worst.abs.toExponential(2)}, relative to the largest gradient ${worst.rel.toExponential(2)}`);
  let gradLimit = 1e-3;
  if (bnTrain) {
    const floor = worstGradient(await onBackend('wasm'), cpu);
    console.log(`WASM against cpu, the same step: worst ${floor.name}: relative ${floor.rel.toExponential(2)} (the spread of two correct CPU backends)`);
    gradLimit = Math.max(gradLimit, 2 * floor.rel);
  }
  console.log(`Dawn validation errors: ${errors.length}${errors.length ? `; first: ${errors[0].split('\n')[0]}` : ''}`);
  const ok = fwd.rel < 1e-3 && worst.rel < gradLimit && errors.length === 0;
  console.log(ok ? 'PASS' : 'FAIL');
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
