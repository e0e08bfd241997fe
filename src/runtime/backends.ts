/**
 * Chooses the TensorFlow.js backend for the kernel process, in order:
 * tfjs-node-gpu (CUDA) → tfjs-node → WebGPU (Dawn) → WASM → cpu,
 * and records, for every backend it skips, a specific reason plus the loader's own error.
 *
 * Module resolution and loading are injected so tests can reproduce the real failures of
 * tfjs-node-gpu (missing libcudart, missing libtensorflow, wrong ABI) without those packages.
 */
import type { BackendName } from '../common/protocol';
import type { DeviceReport, SkippedBackend } from '../common/shapes';
import { formatEngines } from '../tl/device';

export type ConcreteBackend = Exclude<BackendName, 'auto'>;
export const BACKEND_ORDER: readonly ConcreteBackend[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export const PACKAGE_OF: Partial<Record<ConcreteBackend, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  webgpu: 'webgpu',
};

/** The slice of TF.js the loader needs. */
export interface TfLike {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  findBackend(name: string): unknown;
  registerBackend(name: string, factory: () => unknown, priority?: number): boolean;
  version?: Record<string, string>;
}

export interface LoaderHost {
  /** Resolve a package from the given folders (like require.resolve with `paths`); undefined when absent. */
  resolve(pkg: string, paths: string[]): string | undefined;
  /** require() a resolved module path. */
  load(resolved: string): unknown;
  /** Set up the WASM backend (paths to .wasm files, missing gradient kernels). */
  prepareWasm(): Promise<void>;
  /** Create a WebGPU device through Dawn and register the tfjs webgpu backend; returns the adapter description. */
  prepareWebGpu(dawn: unknown, allowSoftware: boolean): Promise<{ description: string; software: boolean }>;
  /** Name of the GPU when CUDA runs it (nvidia-smi), or undefined. */
  gpuName(): string | undefined;
}

export interface SelectOptions {
  requested: BackendName;
  requestedBy: string;
  /** Folders searched for tfjs-node-gpu, in order: settings path, workspace node_modules, global storage. */
  gpuSearchPaths: string[];
  /** node_modules folders searched for tfjs-node and webgpu, in order (see tl/engines: the extension's own first unless the workspace's should win). */
  searchPaths: string[];
}

export interface Selection {
  backend: ConcreteBackend;
  report: DeviceReport;
}

const CUDA_HINT = 'tfjs-node-gpu 4.x needs CUDA 11.2 and cuDNN 8.1 (libtensorflow 2.9.1)';

/** Turns a loader error into the specific reason users read. Exported for tests. */
export function explainLoadError(backend: ConcreteBackend, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const lib = /(lib[\w+-]+\.so(?:\.[\d.]+)?)[^:]*: cannot open shared object file/.exec(msg)?.[1] ?? /Library not loaded: .*?(lib[\w.+-]+)/.exec(msg)?.[1];
  if (lib) {
    if (/^lib(cudart|cublas|cublasLt|cufft|curand|cusolver|cusparse)/.test(lib)) return `${lib} not found — ${CUDA_HINT}`;
    if (/^libcudnn/.test(lib)) return `${lib} not found — ${CUDA_HINT}`;
    if (/^libcuda\.so/.test(lib)) return `${lib} not found — the NVIDIA driver is not installed or not on the library path`;
    if (/^libtensorflow/.test(lib)) return `${lib} not found — libtensorflow 2.9.1 was not downloaded when the package was installed (run \`npm rebuild ${PACKAGE_OF[backend]}\` with network access)`;
    return `${lib} not found — a native library that ${PACKAGE_OF[backend]} needs is missing`;
  }
  if (/tfjs_binding\.node\) can not be found/.test(msg) || /Cannot find module .*tfjs_binding\.node/.test(msg)) {
    return `its native addon (tfjs_binding.node) is missing — the install step that downloads libtensorflow 2.9.1 failed or was skipped; run \`npm rebuild ${PACKAGE_OF[backend]}\` with network access (TFJS_NODE_CDN_STORAGE can point it at a mirror)`;
  }
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(msg)) {
    return `its native addon was built for another Node.js version — rebuild it, or set transferLab.nodePath to the Node.js it was built for`;
  }
  if (/GLIBC_[\d.]+' not found/.test(msg)) return `the system C library is too old for its native addon`;
  return `failed to load`;
}

function skip(list: SkippedBackend[], backend: ConcreteBackend, reason: string, err?: unknown): void {
  const error = err === undefined ? undefined : err instanceof Error ? err.message : String(err);
  list.push(error ? { backend, reason, error } : { backend, reason });
}

/** What a backend's starter needs. A starter returns the device it runs on, or undefined after recording why it skipped. */
interface StartContext {
  tf: TfLike;
  host: LoaderHost;
  opts: SelectOptions;
  forced: ConcreteBackend | undefined;
  skipped: SkippedBackend[];
}

type Starter = (ctx: StartContext, backend: ConcreteBackend) => Promise<string | undefined>;

async function activate(tf: TfLike, name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

const startTensorflow: Starter = async ({ tf, host, opts, skipped }, backend) => {
  const pkg = PACKAGE_OF[backend]!;
  const paths = backend === 'tensorflow-gpu' ? opts.gpuSearchPaths : opts.searchPaths;
  const resolved = host.resolve(pkg, paths);
  if (!resolved) {
    skip(skipped, backend, `not installed (looked in ${paths.length ? [...new Set(paths)].join(', ') : 'no folders'})`);
    return undefined;
  }
  await host.load(resolved);
  if (!tf.findBackend('tensorflow')) {
    skip(skipped, backend, `${pkg} loaded but registered no 'tensorflow' backend — its @tensorflow/tfjs-core is not version ${tf.version?.['tfjs-core'] ?? '4.22'}`);
    return undefined;
  }
  await activate(tf, 'tensorflow');
  if (backend !== 'tensorflow-gpu') return 'CPU (libtensorflow)';
  const gpu = host.gpuName();
  return gpu ? `CUDA GPU: ${gpu}` : 'CUDA (libtensorflow with GPU support; no GPU reported by nvidia-smi — TensorFlow may run on the CPU)';
};

const startWebGpu: Starter = async ({ tf, host, opts, forced, skipped }, backend) => {
  const resolved = host.resolve('webgpu', opts.searchPaths);
  if (!resolved) {
    skip(skipped, backend, `not installed: the \`webgpu\` package (Dawn) was not found (looked in ${[...new Set(opts.searchPaths)].join(', ')})`);
    return undefined;
  }
  const info = await host.prepareWebGpu(host.load(resolved), forced === 'webgpu');
  if (info.software && forced !== 'webgpu') {
    skip(skipped, backend, `only a software adapter (${info.description}) — slower than WASM on this CPU; set transferLab.backend to "webgpu" to use it anyway`);
    return undefined;
  }
  await activate(tf, 'webgpu');
  return `WebGPU: ${info.description}`;
};

const STARTERS: Record<ConcreteBackend, Starter> = {
  'tensorflow-gpu': startTensorflow,
  tensorflow: startTensorflow,
  webgpu: startWebGpu,
  wasm: async ({ tf, host }) => {
    await host.prepareWasm();
    await activate(tf, 'wasm');
    return 'CPU (WebAssembly, SIMD, 1 thread)';
  },
  cpu: async ({ tf }) => {
    await activate(tf, 'cpu');
    return 'CPU (plain JavaScript)';
  },
};

/** Tries backends in order and activates the first that works. Never throws: cpu always works. */
export async function selectBackend(tf: TfLike, host: LoaderHost, opts: SelectOptions): Promise<Selection> {
  const skipped: SkippedBackend[] = [];
  const forced = opts.requested !== 'auto' ? opts.requested : undefined;
  // A forced backend is tried first; if it fails, the backends after it in the order follow.
  const order: ConcreteBackend[] = forced ? BACKEND_ORDER.slice(BACKEND_ORDER.indexOf(forced)) : [...BACKEND_ORDER];
  if (forced) for (const b of BACKEND_ORDER.slice(0, BACKEND_ORDER.indexOf(forced))) skip(skipped, b, `not tried: ${opts.requestedBy} asks for ${forced}`);
  const ctx: StartContext = { tf, host, opts, forced, skipped };
  for (const backend of order) {
    try {
      const device = await STARTERS[backend](ctx, backend);
      if (device !== undefined) return { backend, report: deviceReport(tf, opts, device, skipped) };
    } catch (e) {
      skip(skipped, backend, explainLoadError(backend, e), e);
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised, not even cpu');
}

function deviceReport(tf: TfLike, opts: SelectOptions, device: string, skipped: SkippedBackend[]): DeviceReport {
  return {
    kind: 'device',
    version: 1,
    backend: tf.getBackend(),
    device,
    requestedBy: opts.requestedBy,
    requested: opts.requested,
    skipped,
    tfjsVersion: tf.version?.['tfjs-core'],
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** One-line summary plus the skipped list, for the kernel's first output and `tl.device()`. */
export function formatDeviceReport(r: DeviceReport): string {
  const lines = [`Backend: ${r.backend} — ${r.device} (requested: ${r.requested}, by ${r.requestedBy})`];
  for (const s of r.skipped) {
    lines.push(`  skipped ${s.backend}: ${s.reason}${s.error && s.error !== s.reason ? `\n      error: ${s.error.split('\n')[0]}` : ''}`);
  }
  if (r.engines?.length) lines.push(...formatEngines(r.engines));
  return lines.join('\n');
}
