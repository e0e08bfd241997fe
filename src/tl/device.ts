import type { DeviceReport, EngineStatus } from '../common/shapes';
import { decoderInfo, sharpInfo } from './data/decode';
import * as tf from '@tensorflow/tfjs';
import { gpuAdapters, maxBatchUnder } from './gpu';
import { ortFolder, ortLoadError, ortVersion, providerPlan, tryLoadOrt } from './onnx/ort';
import { engineDirs } from './engines';

let report: DeviceReport | undefined;

/** Set by the kernel process once the backend is chosen. */
export function setDeviceReport(r: DeviceReport): void {
  report = r;
}

/** The backend that runs the cells, the device, and every backend that was skipped with the reason. */
export function device(): DeviceReport {
  if (!report) throw new Error('tl.device(): no backend has been chosen yet (the kernel sets it at start-up).');
  return report;
}

/** ONNX Runtime, the image decoder and the WebGPU adapters, for the device report. Never throws. */
export async function engineStatus(): Promise<EngineStatus[]> {
  return [await onnxRuntimeStatus(), decoderStatus(), await webgpuStatus()];
}

async function onnxRuntimeStatus(): Promise<EngineStatus> {
  const ort = tryLoadOrt();
  if (!ort) return { engine: 'onnxruntime', ok: false, summary: 'ONNX Runtime: not available', details: [], reason: ortLoadError(), lookedIn: engineDirs() };
  const details: string[] = [];
  try {
    let first = true;
    for (const p of await providerPlan()) {
      if (p.skip) details.push(`${p.provider}: skipped — ${p.skip}`);
      else {
        details.push(`${p.provider}: ${first ? 'used' : 'fallback if the one above fails to start'}`);
        first = false;
      }
    }
  } catch (e) {
    details.push(`providers could not be listed: ${(e as Error).message}`);
  }
  return { engine: 'onnxruntime', ok: true, summary: `ONNX Runtime: onnxruntime-node ${ortVersion(ort)}`, details, from: ortFolder() };
}

function decoderStatus(): EngineStatus {
  const d = decoderInfo();
  const s = sharpInfo();
  if (d.decoder === 'sharp') {
    return { engine: 'decoder', ok: true, summary: `Image decoder: sharp ${s.version ?? '?'} (libvips ${s.libvips ?? '?'})`, details: [], from: s.from };
  }
  const lookedIn = s.reason && /not installed/.test(s.reason) ? engineDirs() : undefined;
  return { engine: 'decoder', ok: false, summary: 'Image decoder: js (pngjs + jpeg-js, several times slower than sharp)', details: [], reason: d.reason, lookedIn };
}

async function webgpuStatus(): Promise<EngineStatus> {
  const probe = await gpuAdapters();
  const details = probe.adapters.map((a) => `${a.description}${a.software ? ' (software)' : ''}${a.backend === 'opengles' ? ' [OpenGL ES, compatibility mode]' : ''}`);
  if (!probe.adapters.length) return { engine: 'webgpu', ok: false, summary: 'WebGPU: no adapter', details, reason: probe.error, lookedIn: probe.error && /not installed/.test(probe.error) ? probe.lookedIn : undefined };
  const hardware = probe.adapters.some((a) => !a.software);
  return { engine: 'webgpu', ok: true, summary: `WebGPU (Dawn): ${hardware ? 'hardware adapter' : 'software adapter only'}`, details };
}

/** The engines as short text lines (the CLI's and the kernel's `tl.device()` summary). */
export function formatEngines(engines: EngineStatus[]): string[] {
  const lines: string[] = [];
  for (const e of engines) {
    lines.push(`${e.summary}${e.from ? ` — from ${e.from}` : ''}`);
    for (const d of e.details) lines.push(`  ${d}`);
    if (e.reason) lines.push(`  why: ${e.reason}`);
    if (e.lookedIn && !(e.reason ?? '').includes('looked in')) lines.push(`  looked in: ${e.lookedIn.join(', ')}`);
  }
  return lines;
}

/**
 * How many samples of `model` fit in one batch on the WebGPU backend: each tensor is one storage
 * buffer, and the adapter limits a binding's size (see tl/gpu.ts). Pass it as `batchSize`.
 * Unlimited (Number.MAX_SAFE_INTEGER) on other backends.
 */
export function webgpuMaxBatch(model: tf.LayersModel, limitBytes?: number): number {
  const device = tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as { device?: GPUDevice }).device : undefined;
  const limit = limitBytes ?? device?.limits.maxStorageBufferBindingSize;
  return limit ? maxBatchUnder(model, limit) : Number.MAX_SAFE_INTEGER;
}
