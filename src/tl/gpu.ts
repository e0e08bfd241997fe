/**
 * WebGPU adapters as Dawn (the `webgpu` package) sees them: Vulkan, Metal or D3D12 first, then
 * Dawn's OpenGL ES backend in compatibility mode (Mesa's llvmpipe on a machine without a GPU).
 * The TF.js WebGPU backend, ONNX Runtime's provider choice and the device report all ask here.
 */
import { importEngine } from './engines';

export interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

export interface AdapterInfo {
  description: string;
  /** A CPU implementation (llvmpipe, lavapipe, SwiftShader, WARP). */
  software: boolean;
  /** `default` (Vulkan, Metal, D3D12) or `opengles`. */
  backend: 'default' | 'opengles';
}

export interface AdapterProbe {
  adapters: AdapterInfo[];
  /** Why there are none: the `webgpu` package is missing or did not load, or Dawn found no device. */
  error?: string;
  /** Where the `webgpu` package was looked for. */
  lookedIn: string[];
}

export function describeAdapter(adapter: GPUAdapter): AdapterInfo & { info: GPUAdapterInfo } {
  const info = (adapter as unknown as { info: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).info;
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  const software = Boolean(info.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|softpipe|software|microsoft basic render/i.test(description);
  return { description, software, backend: 'default', info };
}

/** The best adapter Dawn offers here, and the GPU object it came from; undefined when there is none. */
export async function requestBestAdapter(dawn: DawnModule): Promise<{ gpu: GPU; adapter: GPUAdapter; backend: AdapterInfo['backend'] } | undefined> {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter) return { gpu, adapter, backend: 'default' };
  const gles = dawn.create(['backend=opengles']);
  const compat = await gles.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  return compat ? { gpu: gles, adapter: compat, backend: 'opengles' } : undefined;
}

let probe: Promise<AdapterProbe> | undefined;

/** The adapters here (probed once per process). Never rejects. */
export function gpuAdapters(): Promise<AdapterProbe> {
  probe ??= probeAdapters();
  return probe;
}

async function probeAdapters(): Promise<AdapterProbe> {
  const dawn = await importEngine<DawnModule>('webgpu');
  if (!dawn.module) return { adapters: [], error: dawn.error, lookedIn: dawn.lookedIn };
  try {
    const adapters: AdapterInfo[] = [];
    const best = await requestBestAdapter(dawn.module);
    if (best) adapters.push({ ...describeAdapter(best.adapter), backend: best.backend });
    if (best?.backend === 'default') {
      // A second, low-power adapter (an integrated GPU beside a discrete one) is worth naming too.
      const low = await best.gpu.requestAdapter({ powerPreference: 'low-power' });
      const d = low && describeAdapter(low);
      if (d && !adapters.some((a) => a.description === d.description)) adapters.push({ description: d.description, software: d.software, backend: 'default' });
    }
    return { adapters: adapters.map(({ description, software, backend }) => ({ description, software, backend })), lookedIn: dawn.lookedIn, error: adapters.length ? undefined : 'Dawn found no WebGPU adapter (no Vulkan, Metal, D3D12 or OpenGL ES device)' };
  } catch (e) {
    return { adapters: [], lookedIn: dawn.lookedIn, error: `Dawn failed while looking for adapters: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * WebGPU binds each tensor as one storage buffer, and an adapter limits how big one binding may be
 * (128 MiB on Mesa's llvmpipe and on many integrated GPUs). A bigger tensor makes Dawn refuse the
 * bind group, and the command buffer that used it is dropped: the op's result is silently zeros
 * ("Invalid CommandBuffer … due to a previous error"). MobileNetV2 at 224 px reaches it at batch 28:
 * block_1's expanded activation is 112 × 112 × 96 floats, 4.8 MB a sample.
 */
export interface ActivationSize {
  /** Bytes of the largest layer output for one sample. */
  bytes: number;
  layer: string;
}

interface LayerLike {
  name: string;
  outputShape?: unknown;
  layers?: LayerLike[];
}

/** The largest output one sample produces in any layer of `model` (nested models included). */
export function largestActivation(model: LayerLike): ActivationSize {
  let best: ActivationSize = { bytes: 0, layer: '' };
  const visit = (layer: LayerLike): void => {
    const shapes = (Array.isArray(layer.outputShape) && Array.isArray(layer.outputShape[0]) ? layer.outputShape : [layer.outputShape]) as (number | null)[][];
    for (const s of shapes) {
      if (!Array.isArray(s)) continue;
      const bytes = 4 * s.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1);
      if (bytes > best.bytes) best = { bytes, layer: layer.name };
    }
    for (const inner of layer.layers ?? []) visit(inner);
  };
  for (const l of model.layers ?? []) visit(l);
  return best;
}

/** How many samples of `model` fit in one WebGPU pass under a storage-binding limit of `limitBytes`. */
export function maxBatchUnder(model: LayerLike, limitBytes: number): number {
  const { bytes } = largestActivation(model);
  return bytes > 0 ? Math.max(1, Math.floor(limitBytes / bytes)) : Number.MAX_SAFE_INTEGER;
}

/** A Dawn validation error as users should read it: what failed, and for a too-big binding what to do. */
export function explainWebGpuError(message: string): string {
  const first = message.split('\n').find((l) => l.trim())?.trim() ?? message;
  const size = /Binding size \((\d+)\).*maximum storage buffer binding size \((\d+)\)/.exec(message);
  if (size) {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    return `WebGPU: a tensor of ${mib(Number(size[1]))} is larger than this adapter's storage-buffer binding limit (${mib(Number(size[2]))}); the operation that used it returned wrong values (zeros). Use a smaller batch: tl.webgpuMaxBatch(model) says how many samples fit.`;
  }
  return `WebGPU validation error: ${first} — the results of the operation that caused it are wrong.`;
}
