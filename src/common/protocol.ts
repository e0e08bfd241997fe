/**
 * Messages between the extension host (or the headless CLI) and the kernel process.
 * They travel over Node's IPC channel as JSON.
 */
import type { MimeBundle } from './display';
import type { DeviceReport } from './shapes';
import type { KernelLanguage } from './mime';

export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface KernelOptions {
  /** Folder of the notebook: the cells' working directory and the first place `require` looks. */
  notebookDir: string;
  /** Workspace folders; their node_modules come after the notebook's folder. */
  workspaceFolders: string[];
  backend: BackendName;
  /** Who asked for the backend, for the device report. */
  backendRequestedBy: string;
  /** Extra places to look for @tensorflow/tfjs-node-gpu, in order (settings path, global storage). */
  tfjsNodeGpuPaths: string[];
  /** Folder for downloaded models and caches. */
  cacheDir?: string;
}

// --- host → kernel
export type HostMessage =
  | { type: 'init'; options: KernelOptions }
  | { type: 'execute'; id: string; code: string; language: KernelLanguage; cellName: string }
  | { type: 'interrupt' }
  | { type: 'shutdown' };

// --- kernel → host
export type StreamName = 'stdout' | 'stderr';

export interface CellError {
  ename: string;
  evalue: string;
  /** Stack lines, with positions mapped to the cell's own line numbers. */
  traceback: string[];
}

export type KernelMessage =
  | { type: 'ready'; pid: number; device: DeviceReport }
  | { type: 'interrupting'; activeFits: number }
  /** A fit started or ended, or a batch took longer than any before: interrupts wait that long. */
  | { type: 'fit-state'; activeFits: number; slowestBatchMs: number }
  | { type: 'stream'; id: string; name: StreamName; text: string }
  | { type: 'display'; id: string; displayId: string; bundle: MimeBundle }
  | { type: 'update'; id: string; displayId: string; bundle: MimeBundle }
  | { type: 'post'; id: string; displayId: string; message: unknown }
  | { type: 'result'; id: string; bundle: MimeBundle }
  | { type: 'done'; id: string; status: 'ok' }
  | { type: 'done'; id: string; status: 'error' | 'interrupted'; error: CellError }
  /** An error nothing awaited, raised by code of a cell that has already finished (or by no cell's code). */
  | { type: 'late-error'; id: string; error: CellError }
  /** `process.exit(code)` was called (by the cell `id` when one ran); its output so far was sent. */
  | { type: 'exiting'; id?: string; code: number }
  | { type: 'fatal'; error: string };

export type DoneMessage = Extract<KernelMessage, { type: 'done' }>;

export function isKernelMessage(x: unknown): x is KernelMessage {
  return typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';
}
