/**
 * onnxruntime-node, loaded lazily (it is an optional native module and an esbuild external), and
 * sessions created on the best execution provider that works here.
 *
 * Provider order: CUDA → DirectML → CoreML → CPU. WebGPU is bundled in onnxruntime-node 1.30 on
 * Linux and Windows, but only tried when asked for (`providers: ['webgpu']`): without a GPU it finds
 * no adapter, and on a software adapter it is slower than the CPU provider. Every provider that is
 * skipped is reported with the reason, so the device report can say why CUDA did not run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;

export type ProviderName = 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu';
export const DEFAULT_PROVIDERS: readonly ProviderName[] = ['cuda', 'dml', 'coreml', 'cpu'];

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
  /** Providers to try, in order. Default: TRANSFER_LAB_ORT_PROVIDERS (comma-separated), else CUDA, DirectML, CoreML, CPU. */
  providers?: ProviderName[];
  /** CPU threads for one operator. Default: TRANSFER_LAB_ORT_THREADS, else every core (os.availableParallelism()). */
  threads?: number;
}

let ortModule: OrtModule | undefined;
let ortError: string | undefined;

/** onnxruntime-node, or undefined with the reason (see `ortLoadError`). */
export function tryLoadOrt(): OrtModule | undefined {
  if (ortModule || ortError) return ortModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as OrtModule;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    ortError = /Cannot find module 'onnxruntime-node'/.test(msg)
      ? `onnxruntime-node is not installed (install it with: npm_config_onnxruntime_node_install=skip npm install onnxruntime-node@1.30.0)`
      : `onnxruntime-node did not load: ${msg}`;
  }
  return ortModule;
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

function ortVersion(ort: OrtModule): string {
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
  try {
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/**
 * Why `provider` cannot run here before even trying, or undefined when it is worth a try.
 * `supported` is onnxruntime-node's own list for this build.
 */
function precheck(provider: ProviderName, supported: Map<string, boolean>): string | undefined {
  if (provider === 'cpu') return undefined;
  if (!supported.has(provider)) {
    const where: Record<string, string> = { dml: 'Windows', coreml: 'macOS', cuda: 'Linux x64 and Windows x64' };
    return `not in onnxruntime-node's build for ${process.platform}-${process.arch}${where[provider] ? ` (it ships for ${where[provider]})` : ''}`;
  }
  if (provider === 'cuda') {
    const dir = binDir();
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (dir && !fs.existsSync(path.join(dir, lib))) {
      return `${lib} is not installed: onnxruntime-node downloads the CUDA provider at install time only when asked (reinstall with npm_config_onnxruntime_node_install=cuda12 and network access; needs CUDA 12 and cuDNN 9)`;
    }
  }
  return undefined;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n').find((l) => l.trim())?.trim() ?? msg;
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
    const why = precheck(provider, supported);
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
