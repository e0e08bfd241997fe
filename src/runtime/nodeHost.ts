/** The real LoaderHost: Node module resolution, WASM set-up and WebGPU through Dawn. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { findEngine } from '../tl/engines';
import { describeAdapter, explainWebGpuError, requestBestAdapter, type DawnModule } from '../tl/gpu';
import type { LoaderHost } from './backends';

const ownRequire = createRequire(__filename);
const dynamicImport = new Function('s', 'return import(s)') as (s: string) => Promise<unknown>;

/** Folder holding the tfjs-backend-wasm .wasm files: beside the bundle when built, else in node_modules. */
export function wasmDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, 'tfjs-backend-wasm.wasm'))) return dir;
    dir = path.dirname(dir);
  }
  return path.join(path.dirname(ownRequire.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
}

let wasmPrepared = false;
/** Single-threaded WASM: threaded WASM cannot start its workers in Node (ERR_WORKER_PATH). */
export async function prepareWasmBackend(registerGradients?: () => void): Promise<void> {
  if (!wasmPrepared) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths(wasmDir() + path.sep);
    wasmPrepared = true;
  }
  registerGradients?.();
}

/**
 * Dawn reports validation errors only as events; TF.js does not listen, so a failed op would give
 * zeros silently. Each distinct error is written to stderr once: the running cell's output shows it.
 */
function reportWebGpuErrors(device: GPUDevice): void {
  const seen = new Set<string>();
  device.onuncapturederror = (ev) => {
    const text = explainWebGpuError(ev.error.message);
    if (seen.has(text)) return;
    seen.add(text);
    process.stderr.write(`${text}\n`);
  };
}

export function makeNodeLoaderHost(registerWasmGradients?: () => void): LoaderHost {
  return {
    resolve: (pkg, paths) => findEngine(pkg, paths)?.entry,
    load(resolved) {
      try {
        return ownRequire(resolved);
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_REQUIRE_ESM') return dynamicImport(pathToFileURL(resolved).href);
        throw e;
      }
    },
    prepareWasm: () => prepareWasmBackend(registerWasmGradients),
    async prepareWebGpu(dawnModule, allowSoftware) {
      const dawn = (await dawnModule) as DawnModule;
      Object.assign(globalThis, dawn.globals);
      const best = await requestBestAdapter(dawn);
      if (!best) throw new Error('Dawn found no WebGPU adapter (no Vulkan, Metal, D3D12 or OpenGL ES device)');
      const { gpu, adapter } = best;
      const { description, software, info } = describeAdapter(adapter);
      if (software && !allowSoftware) return { description, software };
      // The depthwise shaders use 256 invocations per workgroup: ask for the adapter's real limits.
      const want = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ'] as const;
      const requiredLimits: Record<string, number> = {};
      for (const k of want) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
      const device = await adapter.requestDevice({ requiredLimits });
      reportWebGpuErrors(device);
      const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
      // tfjs-backend-webgpu looks for navigator.gpu, which Node 20 does not have.
      const nav = ((globalThis as { navigator?: Record<string, unknown> }).navigator ??= {});
      if (!nav.gpu) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
      if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
      tf.registerBackend('webgpu', () => new WebGPUBackend(device, info));
      return { description, software };
    },
    gpuName() {
      try {
        const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], { timeout: 5000, encoding: 'utf8' });
        return out.trim().split('\n')[0] || undefined;
      } catch {
        return undefined;
      }
    },
  };
}
