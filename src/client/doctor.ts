/**
 * "Show Device and Backends": what the GPU path needs and what this machine has — the NVIDIA
 * driver, the CUDA and cuDNN libraries tfjs-node-gpu 4.x loads — plus the kernel's backend report.
 * Commands are injected so tests can play any machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DeviceReport, EngineStatus } from '../common/shapes';

export interface DoctorHost {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** stdout of a command, or undefined when it is missing or fails. */
  run(cmd: string, args: string[]): string | undefined;
  exists(file: string): boolean;
}

export const nodeDoctorHost: DoctorHost = {
  platform: process.platform,
  env: process.env,
  run(cmd, args) {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return undefined;
    }
  },
  exists: existsSync,
};

export interface LibraryCheck {
  lib: string;
  what: string;
  found?: string;
  install: string;
}

export interface DoctorResult {
  gpus: string[];
  driver?: string;
  driverProblem?: string;
  libraries: LibraryCheck[];
}

// tfjs-node-gpu 4.x loads libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1.
const LINUX_LIBS: Omit<LibraryCheck, 'found'>[] = [
  { lib: 'libcuda.so.1', what: 'NVIDIA driver', install: 'Install the NVIDIA driver (e.g. `apt install nvidia-driver`), then reboot.' },
  { lib: 'libcudart.so.11.0', what: 'CUDA 11 runtime', install: 'Install the CUDA 11.2 toolkit (cuda-cudart-11-2) and add its lib64 folder to LD_LIBRARY_PATH.' },
  { lib: 'libcublas.so.11', what: 'cuBLAS 11', install: 'Install libcublas-11-2 from the CUDA 11.2 repository.' },
  { lib: 'libcufft.so.10', what: 'cuFFT 10', install: 'Install libcufft-11-2 from the CUDA 11.2 repository.' },
  { lib: 'libcudnn.so.8', what: 'cuDNN 8', install: 'Install cuDNN 8.1 for CUDA 11.2 (libcudnn8) and add it to LD_LIBRARY_PATH.' },
];
const WINDOWS_LIBS: Omit<LibraryCheck, 'found'>[] = [
  { lib: 'nvcuda.dll', what: 'NVIDIA driver', install: 'Install the NVIDIA driver.' },
  { lib: 'cudart64_110.dll', what: 'CUDA 11 runtime', install: 'Install the CUDA 11.2 toolkit and add its bin folder to PATH.' },
  { lib: 'cudnn64_8.dll', what: 'cuDNN 8', install: 'Install cuDNN 8.1 for CUDA 11.2 and add its bin folder to PATH.' },
];

export function diagnose(host: DoctorHost = nodeDoctorHost): DoctorResult {
  const result: DoctorResult = { gpus: [], libraries: [] };
  const smi = host.run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
  if (smi) {
    for (const line of smi.trim().split('\n').filter(Boolean)) {
      const [name, driver, mem] = line.split(',').map((s) => s.trim());
      result.gpus.push(`${name} (${mem})`);
      result.driver = driver;
    }
  } else {
    result.driverProblem = host.platform === 'darwin' ? 'macOS has no CUDA: use the WebGPU backend (Metal through Dawn).' : 'nvidia-smi was not found or failed: no NVIDIA driver is installed, or no NVIDIA GPU is present.';
  }
  if (host.platform === 'linux') {
    const ldconfig = host.run('ldconfig', ['-p']) ?? host.run('/sbin/ldconfig', ['-p']) ?? '';
    const dirs = (host.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
    for (const l of LINUX_LIBS) {
      const inCache = new RegExp(`^\\s*${l.lib.replace(/\./g, '\\.')} .*=> (\\S+)`, 'm').exec(ldconfig)?.[1];
      const inPath = dirs.map((d) => path.join(d, l.lib)).find((f) => host.exists(f));
      result.libraries.push({ ...l, found: inCache ?? inPath });
    }
  } else if (host.platform === 'win32') {
    const dirs = (host.env.PATH ?? host.env.Path ?? '').split(';').filter(Boolean);
    for (const l of WINDOWS_LIBS) result.libraries.push({ ...l, found: dirs.map((d) => path.join(d, l.lib)).find((f) => host.exists(f)) });
  }
  return result;
}

export function formatDoctor(d: DoctorResult, device?: DeviceReport): string {
  const lines: string[] = ['# Transfer Lab: device and backends', ''];
  if (device) {
    lines.push(`**Running on:** ${device.backend} — ${device.device} (requested: ${device.requested}, by ${device.requestedBy}; TF.js ${device.tfjsVersion ?? '?'}, Node ${device.node}, ${device.platform})`, '');
    if (device.skipped.length) {
      lines.push('| backend | skipped because | loader error |', '|---|---|---|');
      for (const s of device.skipped) lines.push(`| ${s.backend} | ${cell(s.reason)} | ${s.error ? '`' + s.error.split('\n')[0].replace(/[|`]/g, ' ') + '`' : ''} |`);
      lines.push('');
    }
    if (device.engines?.length) lines.push(...formatEngineTable(device.engines));
  }
  lines.push('## NVIDIA GPU', '');
  if (d.gpus.length) lines.push(`Driver ${d.driver}: ${d.gpus.join('; ')}`, '');
  else lines.push(d.driverProblem ?? 'No NVIDIA GPU found.', '');
  if (d.libraries.length) {
    lines.push('## Libraries tfjs-node-gpu 4.x loads (CUDA 11.2, cuDNN 8.1)', '', '| library | for | status |', '|---|---|---|');
    for (const l of d.libraries) lines.push(`| \`${l.lib}\` | ${l.what} | ${l.found ? `found: \`${l.found}\`` : `**missing** — ${l.install}`} |`);
    lines.push('');
  }
  const missing = d.libraries.filter((l) => !l.found);
  lines.push(
    missing.length || !d.gpus.length
      ? 'The CUDA backend (tfjs-node-gpu) cannot run here until the items above are fixed. Without it, the kernel falls back to tfjs-node, WebGPU, WASM or cpu, in that order.'
      : 'Everything tfjs-node-gpu needs is present. Install it with **Transfer Lab: Install GPU Backend** if the kernel reports it as not installed.',
    '',
    ...GPU_ALTERNATIVES,
  );
  return lines.join('\n');
}

/** What a GPU can do here without CUDA 11.2 (the issue every tfjs-node-gpu user meets on a current driver stack). */
const GPU_ALTERNATIVES = [
  '## GPU without CUDA 11.2',
  '',
  '- **Frozen bases** (feature extraction, the embedding cache, the frozen part of a fine-tune) run on ONNX Runtime, which picks a GPU provider by itself: CUDA when its provider library and CUDA 12 + cuDNN 9 are installed, DirectML on Windows, CoreML on macOS, WebGPU on Linux and Windows when Dawn sees a hardware adapter (Vulkan or D3D12); otherwise its CPU provider. The ONNX Runtime row above says which one runs and why each other one was skipped.',
  '- **Training** runs on TF.js WebGPU through Dawn (Vulkan, Metal, D3D12): `auto` picks it on a hardware adapter before WASM, or set `transferLab.backend` to `webgpu`.',
  '- **tfjs-node-gpu** stays the choice for machines that have CUDA 11.2 and cuDNN 8.1.',
];

/** A markdown table cell: pipes and line breaks would end the cell or the table. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** ONNX Runtime, the image decoder and WebGPU: what runs and from where, or why not and where it was looked for. */
export function formatEngineTable(engines: EngineStatus[]): string[] {
  const lines = ['## Engines', '', '| engine | status | details |', '|---|---|---|'];
  for (const e of engines) {
    const status = e.ok ? cell(e.summary) : `**missing** — ${cell(e.summary)}`;
    const details = [...e.details.map(cell), ...(e.reason ? [`why: ${cell(e.reason)}`] : []), ...(e.from ? [`from \`${e.from}\``] : [])];
    if (e.lookedIn?.length && !(e.reason ?? '').includes('looked in')) details.push(`looked in: ${e.lookedIn.map((d) => `\`${d}\``).join(', ')}`);
    lines.push(`| ${e.engine} | ${status} | ${details.join('<br>')} |`);
  }
  lines.push('');
  return lines;
}
