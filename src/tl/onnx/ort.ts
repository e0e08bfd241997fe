/**
 * onnxruntime-node, loaded lazily (it is an optional native module and an esbuild external), and
 * sessions created on the best execution provider that works here.
 *
 * Provider order: CUDA → DirectML → CoreML → WebGPU → CPU. CUDA runs only where its provider
 * library was installed and CUDA 12 + cuDNN 9 are present; DirectML ships for Windows and CoreML for
 * macOS; WebGPU ships on Linux and Windows and is tried only when Dawn sees a hardware adapter (on a
 * software adapter it is slower than the CPU provider). Every provider that is skipped is reported
 * with the reason, so the device report can say why a GPU did not run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { requireEngine } from '../engines';
import { firstLine } from '../util/text';
import { gpuAdapters } from '../gpu';

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;

export type ProviderName = 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu';
export const DEFAULT_PROVIDERS: readonly ProviderName[] = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

export interface SkippedProvider {
  provider: string;
  reason: string;
}

export interface OrtReport {
  /** The provider the session runs on. */
  provider: ProviderName;
  /** Providers tried before it (or not offered here), with the reason each was skipped. */
  skipped: SkippedProvider[];
  /** Intra-op threads of the CPU provider. */
  threads: number;
  /** onnxruntime-node's version. */
  version: string;
}

export interface SessionOptions {
  /** Providers to try, in order. Default: TRANSFER_LAB_ORT_PROVIDERS (comma-separated), else CUDA, DirectML, CoreML, WebGPU, CPU. */
  providers?: ProviderName[];
  /** CPU threads for one operator. Default: TRANSFER_LAB_ORT_THREADS, else every core (os.availableParallelism()). */
  threads?: number;
}

let ortModule: OrtModule | undefined;
let ortError: string | undefined;
let ortDir: string | undefined;

/** onnxruntime-node, or undefined with the reason (see `ortLoadError`). */
export function tryLoadOrt(): OrtModule | undefined {
  if (ortModule || ortError) return ortModule;
  const r = requireEngine<OrtModule>('onnxruntime-node');
  ortModule = r.module;
  ortDir = r.found?.dir;
  ortError = r.module ? undefined : r.error;
  return ortModule;
}

/** The folder onnxruntime-node was loaded from. */
export function ortFolder(): string | undefined {
  tryLoadOrt();
  return ortDir;
}

export function ortLoadError(): string | undefined {
  tryLoadOrt();
  return ortError;
}

export function loadOrt(): OrtModule {
  const ort = tryLoadOrt();
  if (!ort) throw new Error(ortError);
  return ort;
}

export function ortVersion(ort: OrtModule): string {
  const v = (ort.env.versions as Record<string, string | undefined>) ?? {};
  return v.node ?? v.common ?? 'unknown';
}

function envProviders(): ProviderName[] | undefined {
  const raw = process.env.TRANSFER_LAB_ORT_PROVIDERS;
  if (!raw || !raw.trim()) return undefined;
  const list = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const known = new Set<string>(['cuda', 'dml', 'coreml', 'webgpu', 'cpu']);
  const bad = list.filter((p) => !known.has(p));
  if (bad.length) throw new Error(`TRANSFER_LAB_ORT_PROVIDERS: unknown provider ${bad.map((b) => `'${b}'`).join(', ')} (known: ${[...known].join(', ')}).`);
  return list as ProviderName[];
}

export function defaultThreads(): number {
  const env = Number(process.env.TRANSFER_LAB_ORT_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Folder of onnxruntime-node's native binaries for this platform. */
function binDir(): string | undefined {
  tryLoadOrt();
  return ortDir && path.join(ortDir, 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Why `provider` cannot run here before even trying, or undefined when it is worth a try.
 * `supported` is onnxruntime-node's own list for this build.
 */
async function precheck(provider: ProviderName, supported: Map<string, boolean>): Promise<string | undefined> {
  if (provider === 'cpu') return undefined;
  if (!supported.has(provider)) {
    const where: Record<string, string> = { dml: 'Windows', coreml: 'macOS', cuda: 'Linux x64 and Windows x64', webgpu: 'Linux and Windows' };
    return `not in onnxruntime-node's build for ${process.platform}-${process.arch}${where[provider] ? ` (it ships for ${where[provider]})` : ''}`;
  }
  if (provider === 'cuda') {
    const dir = binDir();
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (dir && !fs.existsSync(path.join(dir, lib))) {
      return `${lib} is not installed: onnxruntime-node downloads the CUDA provider at install time only when asked (reinstall with npm_config_onnxruntime_node_install=cuda12 and network access; needs CUDA 12 and cuDNN 9)`;
    }
  }
  if (provider === 'webgpu') return webgpuPrecheck();
  return undefined;
}

/** WebGPU is worth a try only on a hardware adapter, as Dawn (the `webgpu` package) sees it. */
async function webgpuPrecheck(): Promise<string | undefined> {
  const probe = await gpuAdapters();
  if (probe.adapters.some((a) => !a.software)) return undefined;
  if (probe.adapters.length) return `only a software adapter (${probe.adapters.map((a) => a.description).join('; ')}): the CPU provider is faster`;
  return `no WebGPU adapter to check for a GPU: ${probe.error ?? 'Dawn found none'}`;
}

export interface ProviderPlan {
  provider: string;
  /** undefined: it would be tried; else why it is skipped. */
  skip?: string;
}

/**
 * What `createSession` would try here, in order, without creating a session: the device report's
 * list.
 */
export async function providerPlan(order: readonly ProviderName[] = envProviders() ?? DEFAULT_PROVIDERS): Promise<ProviderPlan[]> {
  const ort = loadOrt();
  const supported = new Map<string, boolean>(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const plan: ProviderPlan[] = [];
  for (const provider of order) plan.push({ provider, skip: await precheck(provider, supported) });
  return plan;
}

/**
 * Creates a session on the first provider that works. The model is an ONNX ModelProto (bytes) or a
 * file path. Graph optimisations are all on (that is where ORT fuses Conv + BN + Clip and picks its
 * blocked NCHWc layouts on x64).
 */
export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<{ session: OrtSession; report: OrtReport }> {
  const ort = loadOrt();
  const order = opts.providers ?? envProviders() ?? [...DEFAULT_PROVIDERS];
  if (!order.length) throw new Error('createSession: no execution providers to try.');
  const threads = opts.threads ?? defaultThreads();
  const supported = new Map<string, boolean>(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const skipped: SkippedProvider[] = [];
  const base: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  let lastError: unknown;
  for (const provider of order) {
    const why = await precheck(provider, supported);
    if (why) {
      skipped.push({ provider, reason: why });
      continue;
    }
    try {
      const options = { ...base, executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'] };
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      return { session, report: { provider, skipped, threads, version: ortVersion(ort) } };
    } catch (e) {
      lastError = e;
      skipped.push({ provider, reason: `failed to start: ${firstLine(e)}` });
    }
  }
  const detail = skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ');
  throw new Error(`onnxruntime-node could not create a session on any provider (${detail})${lastError ? '' : ''}.`);
}

export function formatOrtReport(r: OrtReport): string {
  const lines = [`onnxruntime-node ${r.version}: ${r.provider} execution provider${r.provider === 'cpu' ? `, ${r.threads} threads` : ''}`];
  for (const s of r.skipped) lines.push(`  skipped ${s.provider}: ${s.reason}`);
  return lines.join('\n');
}
