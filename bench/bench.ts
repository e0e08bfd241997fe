/**
 * `npm run bench`: feature extraction, fine-tuning, head training with and without the embedding
 * cache, kernel round trips, and the PyTorch CPU peer, in one run on one machine.
 *
 * It reports; it never fails on speed. It exits non-zero only when the harness itself breaks.
 * Bundled by bench/run.mjs with esbuild (so it needs no tsc output) and run as a child process.
 */
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { mobileNetV2Like } from '../src/tl/builders';
import { installBatchNormFix } from '../src/tl/freeze';
import { PREPROCESS_MOBILENET } from '../src/tl/models/meta';
import { fromArrays, imageFolder } from '../src/tl/data';
import { fit, makeOptimizer } from '../src/tl/train';
import { registerWasmGradients } from '../src/tl/wasm-grads';
import { onnxBase, splitFrozen, loadOnnx, DecodePool, onnxRuntimeInfo, type FeatureExtractor, type ImageBatch, type ProviderName } from '../src/tl/onnx';
import { selectBackend, type ConcreteBackend } from '../src/runtime/backends';
import { makeNodeLoaderHost } from '../src/runtime/nodeHost';
import { KernelClient } from '../src/client/kernelClient';
import { engineDirs, importEngine, requireEngine } from '../src/tl/engines';
import { webgpuMaxBatch } from '../src/tl/device';
import type { DawnModule } from '../src/tl/gpu';

// --- options

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string, dflt: string) => {
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : dflt;
};
const ROOT = path.resolve(value('root', process.cwd()));
const QUICK = flag('quick');
const GPU = flag('gpu');
const THREADS = Number(value('threads', String(os.availableParallelism())));
const BATCH = 32;
const SIZE = QUICK ? 96 : 224;
const FILES = Number(value('images', QUICK ? '64' : '256'));
const HEAD_SAMPLES = QUICK ? 256 : 2000;
const OUT = path.resolve(ROOT, value('out', 'bench/results/latest.json'));
const ONLY = value('only', 'extract,finetune,head,kernel,torch').split(',');
const PYTHON = value('python', '/usr/bin/python3');
const FT_CAP = Number(value('finetune-cap', QUICK ? '45' : '90'));
const FT_CHILD = value('ft-child', '');

// --- results

interface Row {
  section: string;
  name: string;
  engine: string;
  device?: string;
  /** images (or steps, or messages) per second */
  rate?: number;
  unit?: string;
  count?: number;
  seconds?: number;
  skipped?: string;
  note?: string;
}

const rows: Row[] = [];
const notes: string[] = [];
const started = Date.now();

function log(s: string): void {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);
}

function add(r: Row): Row {
  rows.push(r);
  // Written after every row, so a run stopped from outside (a time limit) keeps what it measured.
  if (!FT_CHILD) {
    try {
      fs.mkdirSync(path.dirname(OUT), { recursive: true });
      fs.writeFileSync(OUT.replace(/\.json$/, '.partial.json'), JSON.stringify({ rows, notes }, null, 2) + '\n');
    } catch {
      // a read-only results folder only loses the partial copy
    }
  }
  log(`${r.section} | ${r.name} | ${r.skipped ? `skipped: ${r.skipped}` : `${fmt(r.rate)} ${r.unit}${r.note ? ` (${r.note})` : ''}`}`);
  return r;
}

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

const find = (section: string, name: string) => rows.find((r) => r.section === section && r.name === name && r.rate !== undefined);

// --- helpers

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return a;
}

interface Timing {
  count: number;
  seconds: number;
  /** Median seconds per step: other processes on a shared machine slow some steps, rarely the median. */
  median: number;
}

/**
 * Runs `step` (after `warmup` untimed runs) until it has run `min` times and `minSeconds` passed, or
 * until `max` runs or `maxSeconds`. Returns runs and seconds.
 */
async function timed(step: () => Promise<void>, o: { warmup?: number; min?: number; max?: number; minSeconds?: number; maxSeconds?: number }): Promise<Timing> {
  for (let i = 0; i < (o.warmup ?? 1); i++) await step();
  const t0 = performance.now();
  const each: number[] = [];
  for (;;) {
    const a = performance.now();
    await step();
    each.push((performance.now() - a) / 1000);
    const s = (performance.now() - t0) / 1000;
    const count = each.length;
    if ((count >= (o.min ?? 1) && s >= (o.minSeconds ?? 0)) || count >= (o.max ?? Infinity) || s >= (o.maxSeconds ?? Infinity)) {
      const sorted = [...each].sort((x, y) => x - y);
      const mid = sorted.length >> 1;
      const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
      return { count, seconds: s, median };
    }
  }
}

function featureModel(seed: number): tf.LayersModel {
  const m = mobileNetV2Like({ inputSize: SIZE, seed });
  const pooled = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(m.outputs[0]) as tf.SymbolicTensor;
  return tf.model({ inputs: m.inputs, outputs: pooled, name: 'mobilenetv2_features' });
}

const host = makeNodeLoaderHost(registerWasmGradients);
const ENGINE: Record<string, string> = { wasm: 'tfjs wasm', webgpu: 'tfjs webgpu', cpu: 'tfjs cpu', tensorflow: 'tfjs-node', 'tensorflow-gpu': 'tfjs-node-gpu' };

/**
 * WebGPU through Dawn, set up here rather than by the kernel's loader, because two details matter for
 * a real MobileNetV2 (reported to the loader's owner): tfjs-backend-webgpu 4.22's constructor refuses
 * to run unless navigator.gpu exists (Node 20 has no navigator), and its depthwise kernels use 256
 * invocations per workgroup, above WebGPU's default limit of 128, so the device must ask the
 * adapter's own compute limits.
 */
let webgpuState: { ok: true; device: string; software: boolean } | { ok: false; reason: string } | undefined;
async function setupWebGpu(): Promise<typeof webgpuState & object> {
  if (webgpuState) return webgpuState;
  try {
    const loaded = await importEngine<DawnModule>('webgpu');
    if (!loaded.module) return (webgpuState = { ok: false, reason: loaded.error ?? 'the webgpu package did not load' });
    const dawn = loaded.module;
    Object.assign(globalThis, dawn.globals);
    process.env.EGL_PLATFORM ??= 'surfaceless';
    // Imported before navigator.gpu exists, so the package registers no default factory of its own.
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    let gpu = dawn.create([]);
    let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      gpu = dawn.create(['backend=opengles']);
      adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    }
    if (!adapter) return (webgpuState = { ok: false, reason: 'Dawn found no adapter (no Vulkan device, no OpenGL ES)' });
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
    g.navigator!.gpu = gpu;
    const info = (adapter as unknown as { info: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).info;
    const L = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxBufferSize: L.maxBufferSize,
        maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: L.maxComputeWorkgroupSizeY,
        maxComputeWorkgroupSizeZ: L.maxComputeWorkgroupSizeZ,
        maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
      },
    });
    const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
    const software = Boolean(info.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|softpipe|software/i.test(description);
    if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new WebGPUBackend(device, info));
    return (webgpuState = { ok: true, device: `WebGPU: ${description}${software ? ' (software)' : ''}`, software });
  } catch (e) {
    return (webgpuState = { ok: false, reason: (e as Error).message.split('\n')[0] });
  }
}

/** Switches TF.js to `backend` the way the kernel does; returns the device, or the reason it is unavailable. */
async function useBackend(backend: ConcreteBackend): Promise<{ ok: true; device: string } | { ok: false; reason: string }> {
  if (backend === 'webgpu') {
    const w = await setupWebGpu();
    if (!w.ok) return w;
    if (!(await tf.setBackend('webgpu'))) return { ok: false, reason: "tf.setBackend('webgpu') failed" };
    await tf.ready();
    return { ok: true, device: w.device };
  }
  if (backend === 'tensorflow' || backend === 'tensorflow-gpu') {
    // The kernel's loader moves on to the next backend when one is missing; here a miss is the answer.
    const pkg = backend === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
    if (!host.resolve(pkg, [ROOT, ...engineDirs()])) return { ok: false, reason: `${pkg} is not installed (its install downloads libtensorflow 2.9.1, which needs network access)` };
  }
  const sel = await selectBackend(tf, host, {
    requested: backend,
    requestedBy: 'bench',
    gpuSearchPaths: [ROOT, ...engineDirs()],
    searchPaths: engineDirs(),
  });
  if (sel.backend === backend) return { ok: true, device: sel.report.device };
  const s = sel.report.skipped.find((k) => k.backend === backend);
  return { ok: false, reason: s ? `${s.reason}${s.error && s.error !== s.reason ? ` (${s.error.split('\n')[0].slice(0, 160)})` : ''}` : 'not available' };
}

async function tfPredict(model: tf.LayersModel, x: tf.Tensor): Promise<void> {
  // On WebGPU a batch whose activations exceed the adapter's storage-binding limit gives zeros.
  const batchSize = Math.min(x.shape[0], webgpuMaxBatch(model));
  const y = tf.tidy(() => model.predict(x, { batchSize }) as tf.Tensor);
  await y.data();
  y.dispose();
}

// --- test images

async function makeImages(dir: string, n: number, first = 0): Promise<string[]> {
  const loaded = requireEngine<typeof import('sharp').default>('sharp');
  if (!loaded.module) throw new Error(`the benchmark writes its test images with sharp: ${loaded.error}`);
  const sharp = loaded.module;
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = first; i < first + n; i++) {
    // Photo-like sizes and content (gradients plus noise), so decode and resize do real work.
    const w = 320 + ((i * 37) % 321);
    const h = 240 + ((i * 53) % 241);
    const px = Buffer.alloc(w * h * 3);
    const noise = rand(w * h, i + 1, 0, 40);
    for (let y = 0, p = 0; y < h; y++) {
      for (let x = 0; x < w; x++, p++) {
        px[p * 3] = ((x * 255) / w + noise[p]) & 255;
        px[p * 3 + 1] = ((y * 255) / h + noise[p]) & 255;
        px[p * 3 + 2] = (((x + y) * 128) / (w + h) + 2 * noise[p]) & 255;
      }
    }
    const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
    const file = path.join(dir, `img_${String(i).padStart(4, '0')}.${i % 4 === 3 ? 'png' : 'jpg'}`);
    await (i % 4 === 3 ? img.png() : img.jpeg({ quality: 85 })).toFile(file);
    files.push(file);
  }
  return files;
}

// --- 1. feature extraction

/** Two passes over `files` (decode pool created inside the timing, as a user's run would); the faster one. */
async function bestPass(files: string[], workers: number | undefined, run: (b: ImageBatch) => Promise<void>): Promise<{ n: number; s: number; how: string }> {
  let best: { n: number; s: number; how: string } | undefined;
  for (let pass = 0; pass < 2; pass++) {
    const t0 = performance.now();
    const pool = new DecodePool({ workers });
    const how = pool.size ? `${pool.size} decode worker threads` : "decode from the main thread (sharp on libuv's pool)";
    let n = 0;
    for await (const b of pool.batches(files, BATCH, [SIZE, SIZE], PREPROCESS_MOBILENET, 1)) {
      await run(b);
      n += b.files.length;
    }
    const s = (performance.now() - t0) / 1000;
    await pool.close();
    if (!best || n / s > best.n / best.s) best = { n, s, how };
  }
  return best!;
}

async function featureExtraction(files: string[], torchOnnx?: string): Promise<void> {
  const S = 'extract';
  const model = featureModel(1);
  const shape = [BATCH, SIZE, SIZE, 3];
  const input = rand(BATCH * SIZE * SIZE * 3, 7);

  // ONNX Runtime on the converted model.
  const providers: ProviderName[] | undefined = GPU ? ['cuda', 'webgpu', 'cpu'] : undefined;
  let fx: FeatureExtractor | undefined;
  try {
    fx = await onnxBase(model, { threads: THREADS, providers, engine: 'onnx' });
    const provider = fx.ort?.provider ?? '?';
    const t = await timed(async () => void (await fx!.run(input, shape)), { warmup: 1, min: 3, minSeconds: QUICK ? 1 : 4, maxSeconds: 20 });
    add({ section: S, name: 'tensors', engine: 'onnxruntime-node', device: `${provider}${provider === 'cpu' ? `, ${THREADS} threads` : ''}`, rate: BATCH / t.median, unit: 'img/s', count: t.count * BATCH, seconds: t.seconds, note: `median of ${t.count} batches` });
    for (const s of fx.ort?.skipped ?? []) notes.push(`ORT provider ${s.provider} skipped: ${s.reason}`);
    if (provider !== 'cpu') {
      const cpuFx = await onnxBase(model, { threads: THREADS, providers: ['cpu'], engine: 'onnx' });
      const tc = await timed(async () => void (await cpuFx.run(input, shape)), { warmup: 1, min: 3, minSeconds: 3, maxSeconds: 20 });
      add({ section: S, name: 'tensors', engine: 'onnxruntime-node', device: `cpu, ${THREADS} threads`, rate: BATCH / tc.median, unit: 'img/s', count: tc.count * BATCH, seconds: tc.seconds, note: `median of ${tc.count} batches` });
      await cpuFx.dispose();
    }
    // Numerical check against TF.js on the same batch (wasm is set up below; cpu for a few images).
    const few = input.subarray(0, 2 * SIZE * SIZE * 3);
    await useBackend('cpu');
    const ref = tf.tidy(() => model.predict(tf.tensor(few, [2, SIZE, SIZE, 3])) as tf.Tensor);
    const want = (await ref.data()) as Float32Array;
    ref.dispose();
    const got = (await fx.run(few, [2, SIZE, SIZE, 3])).data;
    let d = 0;
    let m = 0;
    for (let i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(got[i] - want[i]));
      m = Math.max(m, Math.abs(want[i]));
    }
    notes.push(`Converted MobileNetV2 (${SIZE} px): ONNX Runtime vs TF.js max relative error ${(d / m).toExponential(1)} (target < 1e-4).`);
  } catch (e) {
    add({ section: S, name: 'tensors', engine: 'onnxruntime-node', skipped: (e as Error).message.split('\n')[0] });
  }

  // A PyTorch model file through tl's ONNX loader (torchvision's MobileNetV2, exported by torch_bench.py).
  if (torchOnnx && fs.existsSync(torchOnnx)) {
    try {
      const tfx = await loadOnnx(torchOnnx, { threads: THREADS, providers });
      const pixels = rand(BATCH * SIZE * SIZE * 3, 8, 0, 1);
      const t = await timed(async () => void (await tfx.run(pixels, shape)), { warmup: 1, min: 3, minSeconds: QUICK ? 1 : 3, maxSeconds: 15 });
      add({ section: S, name: 'tensors (torchvision .onnx via tl.load)', engine: 'onnxruntime-node', device: tfx.ort.provider, rate: BATCH / t.median, unit: 'img/s', count: t.count * BATCH, seconds: t.seconds, note: `median of ${t.count} batches` });
      const refIn = path.join(path.dirname(torchOnnx), 'check_input.f32');
      const refOut = path.join(path.dirname(torchOnnx), 'check_output.f32');
      if (fs.existsSync(refIn) && fs.existsSync(refOut)) {
        const xin = new Float32Array(new Uint8Array(fs.readFileSync(refIn)).buffer);
        const want = new Float32Array(new Uint8Array(fs.readFileSync(refOut)).buffer);
        const n = xin.length / (SIZE * SIZE * 3);
        const got = (await tfx.run(xin, [n, SIZE, SIZE, 3])).data;
        let d = 0;
        let m = 0;
        for (let i = 0; i < want.length; i++) {
          d = Math.max(d, Math.abs(got[i] - want[i]));
          m = Math.max(m, Math.abs(want[i]));
        }
        notes.push(`torchvision MobileNetV2 .onnx loaded by tl (NHWC input, ImageNet normalisation adapter) vs PyTorch itself: max relative error ${(d / m).toExponential(1)}.`);
      }
      await tfx.dispose();
    } catch (e) {
      add({ section: S, name: 'tensors (torchvision .onnx via tl.load)', engine: 'onnxruntime-node', skipped: (e as Error).message.split('\n')[0] });
    }
  }

  // End to end from files with ONNX Runtime, decoding overlapped with inference: the pool's default
  // (one worker thread per core) and decoding from this thread (sharp on libuv's pool).
  if (fx) {
    for (const workers of [undefined, 0]) {
      const p = await bestPass(files, workers, (b) => fx!.run(b.data, b.shape).then(() => undefined));
      add({ section: S, name: workers === undefined ? 'files (decode + resize + run)' : 'files, decode from the main thread', engine: 'onnxruntime-node', device: `${fx.ort?.provider}; ${p.how}`, rate: p.n / p.s, unit: 'img/s', count: p.n, seconds: p.s, note: 'faster of 2 passes' });
    }
  }

  // Decoding alone: what the pipeline can feed, with sharp and with the pure-JavaScript decoder.
  for (const decoder of ['sharp', 'js'] as const) {
    for (const workers of [THREADS, 0]) {
      const list = decoder === 'js' ? files.slice(0, Math.min(files.length, 64)) : files;
      const pool = new DecodePool({ workers, decoder });
      const t0 = performance.now();
      let n = 0;
      for await (const b of pool.batches(list, BATCH, [SIZE, SIZE], PREPROCESS_MOBILENET, 1)) n += b.files.length;
      const s = (performance.now() - t0) / 1000;
      await pool.close();
      add({ section: S, name: `decode + resize only, ${workers ? `${workers} worker threads` : 'from the main thread'}`, engine: decoder === 'sharp' ? 'sharp (libvips)' : 'pngjs + jpeg-js', rate: n / s, unit: 'img/s', count: n, seconds: s });
    }
  }

  // TF.js backends. The cpu backend gets one batch: it runs at about 1 img/s. WebGPU comes last:
  // tfjs-backend-webgpu cannot read tensors back synchronously in Node (it needs OffscreenCanvas), so
  // the model's weights cannot move to another backend once they live on the GPU.
  const tfBackends: ConcreteBackend[] = ['wasm', 'tensorflow', 'tensorflow-gpu', 'cpu', 'webgpu'];
  for (const b of tfBackends) {
    const use = await useBackend(b);
    if (!use.ok) {
      add({ section: S, name: 'tensors', engine: ENGINE[b], skipped: use.reason });
      continue;
    }
    const x = tf.tensor(input, shape);
    try {
      const software = b === 'webgpu' && /llvmpipe|lavapipe|swiftshader|software/i.test(use.device);
      const slow = b === 'cpu' || software;
      const t = await timed(() => tfPredict(model, x), slow ? { warmup: b === 'cpu' ? 0 : 1, min: 1, max: 1 } : { warmup: 1, min: 2, minSeconds: QUICK ? 1 : 5, maxSeconds: 25 });
      add({ section: S, name: 'tensors', engine: ENGINE[b], device: use.device, rate: BATCH / t.median, unit: 'img/s', count: t.count * BATCH, seconds: t.seconds, note: slow ? 'one batch' : `median of ${t.count} batches` });
      if (b === 'wasm' || (b !== 'cpu' && !software)) {
        // End to end from files on this backend (fewer files: it is slow).
        const sub = files.slice(0, b === 'wasm' ? Math.min(files.length, 2 * BATCH) : files.length);
        const p = await bestPass(sub, undefined, async (batch) => {
          const xb = tf.tensor(batch.data, batch.shape);
          await tfPredict(model, xb);
          xb.dispose();
        });
        add({ section: S, name: 'files (decode + resize + run)', engine: ENGINE[b], device: use.device, rate: p.n / p.s, unit: 'img/s', count: p.n, seconds: p.s, note: 'faster of 2 passes' });
      }
    } catch (e) {
      add({ section: S, name: 'tensors', engine: ENGINE[b], skipped: `failed: ${(e as Error).message.split('\n')[0]}` });
    } finally {
      x.dispose();
    }
  }
  await fx?.dispose();
  await useBackend('wasm');
  model.dispose();
}

// --- 2. fine-tuning with the last 3 blocks trainable

function fineTuneModel(seed: number): tf.LayersModel {
  const m = featureModel(seed);
  const out = tf.layers.dense({ units: 10, activation: 'softmax', name: 'predictions', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(m.outputs[0]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: m.inputs, outputs: out, name: 'mobilenetv2_finetune' });
  installBatchNormFix();
  const first = model.layers.findIndex((l) => l.name === 'block_14_expand');
  // BatchNormalization stays frozen (inference mode), as Keras advises for fine-tuning and as
  // tl.fineTune does; the PyTorch peer does the same (eval mode, no affine updates).
  model.layers.forEach((l, i) => (l.trainable = i >= first && l.getClassName() !== 'BatchNormalization'));
  return model;
}

type FtConfig = 'tfjs-wasm' | 'tfjs-webgpu' | 'tfjs-node-gpu' | 'ort+wasm' | 'ort+webgpu' | 'e2e';
const FT_BACKEND: Record<FtConfig, ConcreteBackend> = { 'tfjs-wasm': 'wasm', 'tfjs-webgpu': 'webgpu', 'tfjs-node-gpu': 'tensorflow-gpu', 'ort+wasm': 'wasm', 'ort+webgpu': 'webgpu', e2e: 'wasm' };

/**
 * One fine-tune configuration, in a child process (see fineTune). Prints a `ROW {json}` line after
 * every step, so the parent keeps the latest figure if it has to stop the child.
 */
async function fineTuneChild(config: FtConfig): Promise<void> {
  const S = 'finetune';
  const backend = FT_BACKEND[config];
  const split = config.startsWith('ort+');
  const { name, engine } = ftRow(config);
  const use = await useBackend(backend);
  const emit = (r: Row) => process.stdout.write(`ROW ${JSON.stringify(r)}\n`);
  if (!use.ok) {
    emit({ section: S, name, engine, skipped: use.reason });
    return;
  }
  const model = fineTuneModel(2);
  const x = rand(BATCH * SIZE * SIZE * 3, 3);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), 'int32'), 10));
  let step: () => Promise<void>;
  let device = use.device;
  if (split) {
    const parts = await splitFrozen(model, { threads: THREADS });
    parts.trainable.compile({ optimizer: makeOptimizer('adam', 1e-4), loss: 'categoricalCrossentropy' });
    device = `ORT ${parts.frozen.ort?.provider} (${parts.conversion.onnxLayers.length} layers) + ${use.device} (${parts.conversion.tailLayers.length} layers)`;
    step = async () => {
      const f = await parts.frozen.run(x, [BATCH, SIZE, SIZE, 3]);
      const fx = tf.tensor(f.data, f.shape);
      await parts.trainable.trainOnBatch(fx, labels);
      fx.dispose();
    };
  } else {
    model.compile({ optimizer: makeOptimizer('adam', 1e-4), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor(x, [BATCH, SIZE, SIZE, 3]);
    step = async () => void (await model.trainOnBatch(xs, labels));
  }
  // The first step includes kernel set-up (and shader compilation on WebGPU); it is reported only
  // when no second step finishes in time.
  let t = performance.now();
  await step();
  const first = (performance.now() - t) / 1000;
  emit({ section: S, name, engine, device, rate: 1 / first, unit: 'steps/s', count: 1, seconds: first, note: 'first step only, includes set-up' });
  t = performance.now();
  let n = 0;
  for (;;) {
    await step();
    n++;
    const sec = (performance.now() - t) / 1000;
    emit({ section: S, name, engine, device, rate: n / sec, unit: 'steps/s', count: n, seconds: sec, note: `${(sec / n).toFixed(1)} s per step` });
    if ((n >= 3 && sec >= (QUICK ? 1 : 5)) || sec >= 30) break;
  }
}

/** The row's name and engine for a configuration. */
function ftRow(c: FtConfig): { name: string; engine: string } {
  if (c === 'e2e') return { name: E2E_NAME, engine: 'tl.fit (tfjs wasm)' };
  const engine = ENGINE[FT_BACKEND[c]];
  return c.startsWith('ort+') ? { name: 'frozen part in ORT, trainable part in TF.js', engine: `onnxruntime-node + ${engine}` } : { name: 'all layers in TF.js', engine };
}

/** Runs one configuration in a child process stopped after `cap` seconds; the last ROW it printed. */
function fineTuneInChild(config: FtConfig, cap: number, extra: string[] = []): Promise<Row | undefined> {
  return new Promise<Row | undefined>((resolve) => {
    const child = spawn(process.execPath, ['--max-old-space-size=8192', __filename, ...argv.filter((a) => !a.startsWith('--only=')), `--ft-child=${config}`, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let latest: Row | undefined;
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('ROW ')) latest = JSON.parse(l.slice(4)) as Row;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), cap * 1000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(latest);
    });
  });
}

/**
 * Fine-tune steps per second with the last 3 blocks trainable. Each configuration runs in its own
 * process with a time cap: on the CPU, one step can take minutes, and a benchmark that cannot
 * finish reports nothing.
 */
async function fineTune(work: string): Promise<void> {
  const trainable = (() => {
    const m = fineTuneModel(2);
    const n = m.layers.filter((l) => l.trainableWeights.length > 0).length;
    m.dispose();
    return n;
  })();
  notes.push(`Fine-tune: MobileNetV2 ${SIZE} px + Dense(10); block_14 … block_16, Conv_1 and the head trainable (${trainable} layers with weights; BatchNormalization frozen, in inference mode), batch ${BATCH}, Adam as tl.fit makes it (makeOptimizer('adam'): one fused step per variable on wasm). Each configuration runs in its own process, stopped after ${FT_CAP} s. PyTorch: torchvision's MobileNetV2 with the same blocks trainable, BatchNorm in eval mode, Adam.`);
  const configs: FtConfig[] = GPU ? ['tfjs-node-gpu', 'tfjs-webgpu', 'ort+webgpu', 'ort+wasm', 'tfjs-wasm'] : ['ort+wasm', 'ort+webgpu', 'tfjs-wasm'];
  for (const c of configs) {
    const ortWasm = rows.find((r) => r.section === 'finetune' && r.engine === 'onnxruntime-node + tfjs wasm');
    if (c === 'tfjs-wasm' && ortWasm && ortWasm.rate === undefined) {
      // Same trainable part and its backward pass, plus the frozen forward on WASM: strictly slower.
      add({ section: 'finetune', name: 'all layers in TF.js', engine: ENGINE.wasm, skipped: `not run: the ORT + WASM configuration, which does less work, finished no step within ${FT_CAP} s` });
      continue;
    }
    const last = await fineTuneInChild(c, FT_CAP);
    add(last ?? { section: 'finetune', ...ftRow(c), skipped: `no step finished within ${FT_CAP} s` });
  }
  await fineTuneEndToEndRows(work);
}

// --- 2b. fine-tuning end to end, and the PyTorch peer's step

const FT_IMAGES = Number(value('ft-images', QUICK ? '64' : '512'));
const FT_EPOCHS = 3;
const FT_CLASSES = 10;
const E2E_NAME = `end to end: ${FT_EPOCHS} epochs on ${FT_IMAGES} images (files → trained model)`;

/**
 * In a child: what a user runs, tl.fit on an image folder with the last 3 blocks trainable. With no
 * augmentation tl.fit's embedding cache runs the frozen part once per image (in ONNX Runtime) and
 * trains the rest on its stored output.
 */
async function fineTuneEndToEnd(dir: string): Promise<void> {
  const t0 = performance.now();
  const model = fineTuneModel(2);
  const data = await imageFolder(dir, { size: [SIZE, SIZE], preprocessing: PREPROCESS_MOBILENET });
  const r = await fit(model, data, { epochs: FT_EPOCHS, batchSize: BATCH, optimizer: 'adam', learningRate: 1e-4, cacheDir: false, verbose: false, seed: 1 });
  const s = (performance.now() - t0) / 1000;
  const ec = r.embeddingCache;
  const how = ec ? `frozen part once per image in ${ec.engine ?? 'tfjs'} (${ec.seconds.toFixed(1)} s with decoding), the rest trained on its output; epochs ${r.history.map((p) => (p.seconds ?? 0).toFixed(1)).join(', ')} s` : `no cache (${r.cacheSkippedReason}); all layers in TF.js`;
  process.stdout.write(`ROW ${JSON.stringify({ section: 'finetune', name: E2E_NAME, engine: 'tl.fit (tfjs wasm)', rate: s, unit: 's', count: FT_IMAGES, seconds: s, note: how })}\n`);
}

/** 512 images in 10 class folders; PyTorch's step and end-to-end run; then ours end to end. */
async function fineTuneEndToEndRows(work: string): Promise<void> {
  const S = 'finetune';
  const dir = path.join(work, 'finetune-images');
  for (let k = 0, done = 0; k < FT_CLASSES; k++) {
    const n = Math.floor((FT_IMAGES * (k + 1)) / FT_CLASSES) - done;
    await makeImages(path.join(dir, `class_${k}`), n, 1000 + done);
    done += n;
  }
  const cap = Math.max(60, FT_CAP * 2);
  const { res, why } = await runTorch([`--mode=finetune`, `--images=${dir}`, `--ft-dir=${dir}`, `--ft-epochs=${FT_EPOCHS}`, `--ft-classes=${FT_CLASSES}`, `--ft-cap=${cap}`, `--batch=${BATCH}`, `--size=${SIZE}`, `--threads=${THREADS}`, `--workers=${THREADS}`, `--seconds=${QUICK ? 1 : 4}`]);
  if (!res) {
    add({ section: S, name: 'step', engine: 'PyTorch CPU', skipped: why });
  } else {
    const dev = `torch ${res.torch}, ${res.threads} threads`;
    const step = res.step_s as number;
    add({ section: S, name: 'step', engine: 'PyTorch CPU', device: dev, rate: 1 / step, unit: 'steps/s', note: `${step.toFixed(2)} s per step, median of ${res.steps}` });
    const steps = res.e2e_steps as number;
    const total = res.e2e_total_steps as number;
    const e2eNote = `DataLoader ${THREADS} workers, PIL; decodes and runs the whole network every epoch${steps < total ? `; extrapolated from ${steps} of ${total} steps (stopped after ${cap} s)` : ''}`;
    add({ section: S, name: E2E_NAME, engine: 'PyTorch CPU', device: dev, rate: res.e2e_s as number, unit: 's', note: e2eNote });
  }
  const e2eCap = Math.max(180, FT_CAP * 3);
  const ours = await fineTuneInChild('e2e', e2eCap, [`--ft-dir=${dir}`]);
  add(ours ?? { section: S, ...ftRow('e2e'), skipped: `did not finish within ${e2eCap} s` });
}

// --- 3. head training: an epoch over HEAD_SAMPLES images, with and without the embedding cache

async function headEpochs(): Promise<void> {
  const S = 'head';
  await useBackend('wasm');
  const base = featureModel(3);
  base.layers.forEach((l) => (l.trainable = false));
  const makeHead = () =>
    tf.sequential({
      name: 'head',
      layers: [
        tf.layers.dense({ inputShape: [1280], units: 128, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dropout({ rate: 0.2 }),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
  const N = HEAD_SAMPLES;
  const pool = 32;
  const images = rand(pool * SIZE * SIZE * 3, 11);
  const labelOf = (i: number) => (i * 7) % 10;
  const per = SIZE * SIZE * 3;
  const batchOf = (start: number, n: number) => {
    const data = new Float32Array(n * per);
    for (let k = 0; k < n; k++) data.set(images.subarray(((start + k) % pool) * per, ((start + k) % pool + 1) * per), k * per);
    return data;
  };
  const yOf = (start: number, n: number) => tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, k) => labelOf(start + k)), 'int32'), 10));
  notes.push(`Head: Dense(128, relu) → Dropout → Dense(10) on 1280-d pooled MobileNetV2 features, ${N} images, batch ${BATCH}, Adam as tl.fit makes it, TF.js wasm; "uncached" runs the frozen base forward (inference) for every batch and trains the head on its output, "cached" is tl.fit on stored embeddings (what tl.fit runs once its embedding cache holds the base's outputs); the model.fit row is tfjs-layers alone on the same tensors.`);

  // Uncached, base in ONNX Runtime: one full epoch. Its features are what the cache would store.
  const embeddings = new Float32Array(N * 1280);
  let ortEpoch: number | undefined;
  try {
    const fx = await onnxBase(base, { threads: THREADS, engine: 'onnx' });
    await fx.run(batchOf(0, BATCH), [BATCH, SIZE, SIZE, 3]);
    const head = makeHead();
    head.compile({ optimizer: makeOptimizer('adam', 1e-3), loss: 'categoricalCrossentropy' });
    const t0 = performance.now();
    for (let s = 0; s < N; s += BATCH) {
      const n = Math.min(BATCH, N - s);
      const f = await fx.run(batchOf(s, n), [n, SIZE, SIZE, 3]);
      embeddings.set(f.data, s * 1280);
      const xs = tf.tensor(f.data, f.shape);
      const ys = yOf(s, n);
      await head.trainOnBatch(xs, ys);
      tf.dispose([xs, ys]);
    }
    ortEpoch = (performance.now() - t0) / 1000;
    add({ section: S, name: 'epoch, uncached, base in ORT', engine: 'onnxruntime-node + tfjs wasm', rate: ortEpoch, unit: 's/epoch', count: N, seconds: ortEpoch });
    head.dispose();
    await fx.dispose();
  } catch (e) {
    add({ section: S, name: 'epoch, uncached, base in ORT', engine: 'onnxruntime-node + tfjs wasm', skipped: (e as Error).message.split('\n')[0] });
  }

  // Uncached, base in TF.js WASM: a few batches, scaled to the epoch. The base runs as inference
  // (predict) and only the head trains, as in the ORT row: fitting base + head as one model at
  // 224 px and batch 32 keeps every frozen activation for the backward pass and overflows the
  // WASM heap (RuntimeError inside tfjs-backend-wasm, seen here).
  try {
    const head = makeHead();
    head.compile({ optimizer: makeOptimizer('adam', 1e-3), loss: 'categoricalCrossentropy' });
    const k = QUICK ? 2 : 3;
    const xs = tf.tensor(batchOf(0, BATCH), [BATCH, SIZE, SIZE, 3]);
    const ys = yOf(0, BATCH);
    const t = await timed(
      async () => {
        const f = tf.tidy(() => base.predict(xs) as tf.Tensor);
        await head.trainOnBatch(f, ys);
        f.dispose();
      },
      { warmup: 1, min: k, max: k },
    );
    tf.dispose([xs, ys]);
    const epoch = (t.seconds / (t.count * BATCH)) * N;
    add({ section: S, name: 'epoch, uncached, base in TF.js', engine: 'tfjs wasm', rate: epoch, unit: 's/epoch', count: t.count * BATCH, seconds: t.seconds, note: `extrapolated from ${t.count} batches` });
    head.dispose();
  } catch (e) {
    add({ section: S, name: 'epoch, uncached, base in TF.js', engine: 'tfjs wasm', skipped: `failed: ${(e as Error).message.split('\n')[0]}` });
  }

  // Cached: the head alone on stored embeddings (the ORT pass above filled them; zeros if it failed).
  {
    if (ortEpoch === undefined) {
      const fxTf = tf.tidy(() => base.predict(tf.tensor(batchOf(0, BATCH), [BATCH, SIZE, SIZE, 3])) as tf.Tensor);
      const row = (await fxTf.data()) as Float32Array;
      fxTf.dispose();
      for (let i = 0; i < N; i++) embeddings.set(row.subarray((i % BATCH) * 1280, (i % BATCH + 1) * 1280), i * 1280);
    }
    // What users run: tl.fit on the cached embeddings (the loop tl.fit runs for a frozen base once
    // its cache holds the outputs: progress, NaN guard, live chart and the rest, every batch).
    const epochs = 5;
    const labels = Array.from({ length: N }, (_, i) => labelOf(i));
    const classes = Array.from({ length: 10 }, (_, k) => `class_${k}`);
    const head = makeHead();
    const before = tf.memory().numTensors;
    const r = await fit(head, fromArrays(embeddings, [1280], labels, { classes, batchSize: BATCH }), { epochs: epochs + 1, batchSize: BATCH, optimizer: 'adam', learningRate: 1e-3, verbose: false, seed: 1, cacheEmbeddings: false });
    const secs = r.history.slice(1).map((p) => p.seconds ?? NaN).sort((a, b) => a - b);
    const s = secs[secs.length >> 1];
    add({ section: S, name: 'epoch, cached embeddings', engine: 'tl.fit (tfjs wasm)', rate: s, unit: 's/epoch', count: N, seconds: s * epochs, note: `median of ${epochs} epochs after the first; ${tf.memory().numTensors - before} tensors more after the fit: the optimizer's slots, kept with the model` });
    // For reference: tfjs-layers' model.fit on the same tensors, without tl.fit's callbacks.
    head.compile({ optimizer: makeOptimizer('adam', 1e-3), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor2d(embeddings, [N, 1280]);
    const ys = yOf(0, N);
    await head.fit(xs, ys, { batchSize: BATCH, epochs: 1, shuffle: true, verbose: 0 });
    const t = await timed(async () => void (await head.fit(xs, ys, { batchSize: BATCH, epochs: 1, shuffle: true, verbose: 0 })), { warmup: 0, min: epochs, max: epochs });
    tf.dispose([xs, ys]);
    head.dispose();
    add({ section: S, name: 'epoch, cached embeddings, model.fit directly', engine: 'tfjs wasm', rate: t.median, unit: 's/epoch', count: N, seconds: t.seconds, note: `median of ${epochs} epochs` });
  }
  base.dispose();
}

// --- 4. kernel round trips and metric streaming

async function kernel(): Promise<void> {
  const S = 'kernel';
  const script = path.join(ROOT, 'dist', 'kernel.js');
  if (!fs.existsSync(script)) {
    add({ section: S, name: 'empty cell round trip', engine: 'kernel IPC', skipped: `${script} not built (node esbuild.mjs kernel)` });
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-bench-kernel-'));
  const client = new KernelClient({ kernelScript: script, notebookDir: dir, workspaceFolders: [], backend: 'cpu', backendRequestedBy: 'bench', tfjsNodeGpuPaths: [] });
  try {
    const t0 = performance.now();
    await client.start();
    const startMs = performance.now() - t0;
    add({ section: S, name: 'kernel start (spawn → ready)', engine: 'kernel IPC', rate: startMs, unit: 'ms' });
    for (let i = 0; i < 5; i++) await client.execute('', 'javascript', `warm${i}`);
    const n = QUICK ? 30 : 200;
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = performance.now();
      const r = await client.execute('', 'javascript', `cell${i}`);
      times.push(performance.now() - a);
      if (r.status !== 'ok') throw new Error(`empty cell failed: ${JSON.stringify(r)}`);
    }
    times.sort((p, q) => p - q);
    const mean = times.reduce((p, q) => p + q, 0) / n;
    add({ section: S, name: 'empty cell round trip', engine: 'kernel IPC', rate: mean, unit: 'ms', count: n, note: `median ${times[n >> 1].toFixed(2)} ms, p95 ${times[Math.floor(n * 0.95)].toFixed(2)} ms` });
    // A cell with a value: transform, compile, run, and a result message back.
    const vt: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = performance.now();
      await client.execute('1 + 1', 'javascript', `value${i}`, { onResult: () => undefined });
      vt.push(performance.now() - a);
    }
    vt.sort((p, q) => p - q);
    add({ section: S, name: "cell '1 + 1' round trip (with result)", engine: 'kernel IPC', rate: vt.reduce((p, q) => p + q, 0) / n, unit: 'ms', count: n, note: `median ${vt[n >> 1].toFixed(2)} ms, p95 ${vt[Math.floor(n * 0.95)].toFixed(2)} ms` });

    const m = QUICK ? 5000 : 50000;
    let received = 0;
    let lastAt = 0;
    const code = `const h = display({ 'text/plain': 'metrics' });\nfor (let i = 0; i < ${m}; i++) h.post({ type: 'batch', runId: 'bench', point: { epoch: 1, batch: i, step: i + 1, loss: 1 / (i + 1), acc: i / ${m} } });\n'sent'`;
    const a = performance.now();
    const r = await client.execute(code, 'javascript', 'stream', {
      onPost: () => {
        received++;
        lastAt = performance.now();
      },
    });
    if (r.status !== 'ok') throw new Error(`streaming cell failed: ${JSON.stringify(r)}`);
    const s = ((lastAt || performance.now()) - a) / 1000;
    add({ section: S, name: 'metric streaming (display + handle.post)', engine: 'kernel IPC', rate: received / s, unit: 'msg/s', count: received, seconds: s, note: received === m ? undefined : `${m - received} of ${m} lost` });
  } catch (e) {
    add({ section: S, name: 'empty cell round trip', engine: 'kernel IPC', skipped: `failed: ${(e as Error).message.split('\n')[0]}` });
  } finally {
    await client.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// --- 5. the PyTorch peer

interface TorchResult {
  torch: string;
  torchvision: string;
  threads: number;
  tensors_img_s: number;
  tensors_batches?: number;
  files_img_s?: number;
  files_workers?: number;
  onnx?: string;
  error?: string;
}

/** Runs torch_bench.py with `args`; its JSON line, or why there is none. */
async function runTorch(args: string[]): Promise<{ res?: TorchResult & Record<string, unknown>; why?: string }> {
  const script = path.join(ROOT, 'bench', 'torch_bench.py');
  if (!fs.existsSync(PYTHON)) return { why: `${PYTHON} not found (apt-get install python3-torch python3-torchvision)` };
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(PYTHON, [script, ...args], { env: { ...process.env, OMP_NUM_THREADS: String(THREADS) } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    p.on('error', (e) => resolve({ code: 1, stdout, stderr: e.message }));
  });
  const last = out.stdout.trim().split('\n').pop() ?? '';
  try {
    const res = JSON.parse(last) as TorchResult & Record<string, unknown>;
    return res.error ? { why: res.error } : { res };
  } catch {
    return { why: (out.stderr.trim().split('\n').slice(-1)[0] || `exit code ${out.code}`).slice(0, 200) };
  }
}

async function torchPeer(imagesDir: string, workDir: string): Promise<TorchResult | undefined> {
  const S = 'torch';
  const { res, why } = await runTorch([`--images=${imagesDir}`, `--batch=${BATCH}`, `--size=${SIZE}`, `--threads=${THREADS}`, `--workers=${THREADS}`, `--export=${path.join(workDir, 'torchvision_mobilenet_v2.onnx')}`, `--seconds=${QUICK ? 1 : 4}`]);
  if (!res) {
    add({ section: S, name: 'tensors', engine: 'PyTorch CPU', skipped: why });
    return undefined;
  }
  const dev = `torch ${res.torch}, ${res.threads} threads`;
  add({ section: S, name: 'tensors', engine: 'PyTorch CPU', device: dev, rate: res.tensors_img_s, unit: 'img/s', note: `median of ${res.tensors_batches} batches` });
  if (res.files_img_s !== undefined) add({ section: S, name: 'files (decode + resize + run)', engine: 'PyTorch CPU', device: `${dev}; DataLoader ${res.files_workers} workers, PIL`, rate: res.files_img_s, unit: 'img/s', note: 'faster of 2 passes' });
  return res;
}

// --- machine

function machine(): Record<string, unknown> {
  let gpu: string | undefined;
  try {
    gpu = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { timeout: 5000, encoding: 'utf8' }).trim();
  } catch {
    gpu = undefined;
  }
  const ort = onnxRuntimeInfo();
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    tfjs: tf.version.tfjs,
    onnxruntime: ort.available ? `${ort.version} (providers in this build: ${ort.providers?.map((p) => `${p.name}${p.bundled ? '' : ' (download)'}`).join(', ')})` : ort.reason,
    gpu: gpu ?? 'none (nvidia-smi not found)',
    threads: THREADS,
  };
}

// --- report

function table(): string {
  const lines: string[] = [];
  lines.push('| section | measurement | engine | device | result |');
  lines.push('|---|---|---|---|---|');
  for (const r of rows) {
    const res = r.skipped ? `skipped: ${r.skipped}` : `${fmt(r.rate)} ${r.unit}${r.note ? ` (${r.note})` : ''}`;
    lines.push(`| ${r.section} | ${r.name} | ${r.engine} | ${r.device ?? ''} | ${res.replace(/\|/g, '/')} |`);
  }
  return lines.join('\n');
}

function ratios(): { name: string; value?: number; target?: number; met?: boolean; detail: string }[] {
  const out: { name: string; value?: number; target?: number; met?: boolean; detail: string }[] = [];
  const ortT = rows.find((r) => r.section === 'extract' && r.name === 'tensors' && r.engine === 'onnxruntime-node' && r.rate);
  const ortF = rows.find((r) => r.section === 'extract' && r.name === 'files (decode + resize + run)' && r.engine === 'onnxruntime-node' && r.rate);
  const wasmT = rows.find((r) => r.section === 'extract' && r.name === 'tensors' && r.engine === 'tfjs wasm' && r.rate);
  const wasmF = rows.find((r) => r.section === 'extract' && r.name.startsWith('files') && r.engine === 'tfjs wasm' && r.rate);
  const torchT = find('torch', 'tensors');
  const torchF = find('torch', 'files (decode + resize + run)');
  const r = (name: string, a: Row | undefined, b: Row | undefined, target?: number, invert = false) => {
    if (!a?.rate || !b?.rate) return out.push({ name, target, detail: 'not measured' });
    const v = invert ? b.rate / a.rate : a.rate / b.rate;
    out.push({ name, value: v, target, met: target === undefined ? undefined : v >= target, detail: `${fmt(a.rate)} vs ${fmt(b.rate)} ${a.unit}` });
  };
  r('feature extraction from tensors: ORT ÷ PyTorch', ortT, torchT, 3);
  r('feature extraction from files: ORT ÷ PyTorch', ortF, torchF, 1.5);
  r('feature extraction from tensors: tfjs wasm ÷ PyTorch', wasmT, torchT);
  r('feature extraction from files: tfjs wasm ÷ PyTorch', wasmF, torchF);
  r('feature extraction from tensors: ORT ÷ tfjs wasm', ortT, wasmT);
  const cached = find('head', 'epoch, cached embeddings');
  r('head epoch: uncached (base in ORT) ÷ cached', find('head', 'epoch, uncached, base in ORT'), cached, 50);
  r('head epoch: uncached (base in TF.js wasm) ÷ cached', find('head', 'epoch, uncached, base in TF.js'), cached, 50);
  const ours = rows.find((x) => x.section === 'finetune' && x.name === 'frozen part in ORT, trainable part in TF.js' && x.engine === 'onnxruntime-node + tfjs wasm' && x.rate);
  r('fine-tune step: ours ÷ PyTorch', ours, find('finetune', 'step'), 1);
  const e2e = (engine: string) => rows.find((x) => x.section === 'finetune' && x.name === E2E_NAME && x.engine.startsWith(engine) && x.rate);
  r(`fine-tune ${E2E_NAME}: PyTorch time ÷ ours`, e2e('tl.fit'), e2e('PyTorch'), 1, true);
  const ftSplit = rows.find((x) => x.section === 'finetune' && x.name === 'frozen part in ORT, trainable part in TF.js' && x.rate && x.engine === rows.find((y) => y.section === 'finetune' && y.name === 'all layers in TF.js' && y.rate)?.engine.replace(/^/, 'onnxruntime-node + '));
  const ftAll = rows.find((x) => x.section === 'finetune' && x.name === 'all layers in TF.js' && x.rate);
  if (ftSplit && ftAll) r('fine-tune: frozen part in ORT ÷ all layers in TF.js (same TF.js backend)', ftSplit, ftAll);
  return out;
}

async function main(): Promise<void> {
  if (FT_CHILD) {
    await useBackend('wasm');
    try {
      if (FT_CHILD === 'e2e') await fineTuneEndToEnd(value('ft-dir', ''));
      else await fineTuneChild(FT_CHILD as FtConfig);
    } catch (e) {
      // The parent keeps the last row: a crash (a WASM heap overflow, say) must say so, not look like slowness.
      const { name, engine } = ftRow(FT_CHILD as FtConfig);
      process.stdout.write(`ROW ${JSON.stringify({ section: 'finetune', name, engine, skipped: `failed: ${(e as Error).message.split('\n')[0]}` })}\n`);
    }
    return;
  }
  // First backend set-up goes through the loader: importing tfjs-backend-wasm registered 'wasm' as the
  // default, and tf.ready() before setWasmPaths() would initialise it from the wrong place.
  await useBackend('wasm');
  const m = machine();
  log(`machine: ${JSON.stringify(m)}`);
  if (os.loadavg()[0] > THREADS * 0.75) notes.push(`The machine was busy when the run started (load average ${os.loadavg()[0].toFixed(1)} on ${THREADS} cores): absolute numbers are low; the ratios compare runs made under the same load.`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-bench-'));
  try {
    let torch: TorchResult | undefined;
    let files: string[] = [];
    if (ONLY.includes('extract') || ONLY.includes('torch')) {
      const t0 = performance.now();
      files = await makeImages(path.join(work, 'images'), FILES);
      log(`wrote ${files.length} test images (3 JPEG : 1 PNG, 320–640 × 240–480 px) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const section = async (name: string, run: () => Promise<void>) => {
      if (!ONLY.includes(name)) return;
      try {
        await run();
      } catch (e) {
        // One broken section must not lose the others' figures.
        add({ section: name, name: 'section failed', engine: '', skipped: (e as Error).message.split('\n')[0] });
        log((e as Error).stack ?? String(e));
      }
    };
    await section('torch', async () => void (torch = await torchPeer(path.join(work, 'images'), work)));
    await section('extract', () => featureExtraction(files, torch?.onnx));
    await section('finetune', () => fineTune(work));
    await section('head', headEpochs);
    await section('kernel', kernel);
  } finally {
    if (!flag('keep')) fs.rmSync(work, { recursive: true, force: true });
  }
  const rs = ratios();
  const seconds = (Date.now() - started) / 1000;
  const result = { version: 1, date: new Date().toISOString(), seconds, options: { quick: QUICK, gpu: GPU, batch: BATCH, size: SIZE, files: FILES, headSamples: HEAD_SAMPLES, threads: THREADS }, machine: m, rows, ratios: rs, notes };
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  fs.rmSync(OUT.replace(/\.json$/, '.partial.json'), { force: true });
  const md = [
    `Transfer Lab benchmark, ${result.date.slice(0, 10)}: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, GPU: ${m.gpu}. MobileNetV2 at ${SIZE} px (random weights), batch ${BATCH}, ${THREADS} threads.`,
    '',
    table(),
    '',
    '| ratio (same run) | value | target | met |',
    '|---|---|---|---|',
    ...rs.map((x) => `| ${x.name} | ${x.value === undefined ? '—' : `${fmt(x.value)}×`} (${x.detail}) | ${x.target ? `≥ ${x.target}×` : ''} | ${x.met === undefined ? '' : x.met ? 'yes' : 'no'} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    `Whole run: ${seconds.toFixed(0)} s.`,
  ].join('\n');
  fs.writeFileSync(OUT.replace(/\.json$/, '.md'), md + '\n');
  process.stdout.write(md + '\n');
  process.stdout.write(`\nwrote ${path.relative(ROOT, OUT)} and ${path.relative(ROOT, OUT.replace(/\.json$/, '.md'))}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
