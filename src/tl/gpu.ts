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
