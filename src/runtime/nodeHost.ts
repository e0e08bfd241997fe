/** The real LoaderHost: Node module resolution, WASM set-up and WebGPU through Dawn. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
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

export function makeNodeLoaderHost(registerWasmGradients?: () => void): LoaderHost {
  return {
    resolve(pkg, paths) {
      for (const p of paths) {
        if (!p) continue;
        // The path may be the package folder itself.
        const pj = path.join(p, 'package.json');
        if (existsSync(pj)) {
          try {
            if (JSON.parse(readFileSync(pj, 'utf8')).name === pkg) return ownRequire.resolve(p);
          } catch {
            // unreadable package.json: keep looking
          }
        }
        try {
          return ownRequire.resolve(pkg, { paths: [p] });
        } catch {
          // not here
        }
      }
      return undefined;
    },
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
      const dawn = (await dawnModule) as { create(flags: string[]): GPU; globals: Record<string, unknown> };
      Object.assign(globalThis, dawn.globals);
      process.env.EGL_PLATFORM ??= 'surfaceless';
      let gpu = dawn.create([]);
      let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) {
        // Machines without Vulkan: Dawn's OpenGL ES backend in compatibility mode (Mesa llvmpipe here).
        gpu = dawn.create(['backend=opengles']);
        adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
      }
      if (!adapter) throw new Error('Dawn found no WebGPU adapter (no Vulkan, Metal, D3D12 or OpenGL ES device)');
      const info = (adapter as unknown as { info: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).info;
      const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
      const software = Boolean(info.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|softpipe|software/i.test(description);
      if (software && !allowSoftware) return { description, software };
      // The depthwise shaders use 256 invocations per workgroup: ask for the adapter's real limits.
      const want = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ'] as const;
      const requiredLimits: Record<string, number> = {};
      for (const k of want) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
      const device = await adapter.requestDevice({ requiredLimits });
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
