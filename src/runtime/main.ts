/**
 * The kernel process. Started by the extension host (or the CLI) with an IPC channel; runs cells
 * one at a time, keeps their state in its globals, and owns TF.js. Nothing here imports vscode.
 */
import Module from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { DisplayHandle, MimeBundle, OutputSink } from '../common/display';
import type { CellError, HostMessage, KernelMessage, KernelOptions, StreamName } from '../common/protocol';
import { DISPLAY_SYMBOL } from '../common/display';
import * as tl from '../tl';
import { engineStatus, setDeviceReport } from '../tl/device';
import { configureEngines, engineDirs } from '../tl/engines';
import { clearInterrupt, currentCellRun, inCellRun, InterruptedError, requestInterrupt, setOutputSink } from '../tl/output';
import { formatDeviceReport, selectBackend } from './backends';
import { CellRequire, type CellPositions, installCellGlobals, runCell, toBundle, toBundleAsync, toCellError } from './evaluator';
import { activeFits, installFitPatch, onFitState, whenNoFit } from './fitPatch';
import { makeNodeLoaderHost } from './nodeHost';
import { endWithParent } from './orphanWatch';
import { type StrayError, StrayErrorGuard, strayCellError } from './strayErrors';

// Cells share this process's globals and may redeclare `process`; the kernel keeps its own handles.
const proc = process;
const ipcSend = process.send?.bind(process);

function send(msg: KernelMessage): void {
  ipcSend?.(msg);
}

// --- output capture: what a cell writes to stdout/stderr goes to that cell

let currentId: string | undefined;
/** Output belongs to the cell whose code wrote it (its run context), else to the latest cell. */
const ownerOfOutput = () => currentCellRun()?.cell ?? currentId;
const pending: { id: string; name: StreamName; text: string }[] = [];
let flushTimer: NodeJS.Timeout | undefined;

function flush(): void {
  flushTimer = undefined;
  // Merge consecutive writes of one cell to one stream: one IPC message per burst, in order.
  let last: { id: string; name: StreamName; text: string } | undefined;
  for (const p of pending.splice(0)) {
    if (last && last.name === p.name && last.id === p.id) last.text += p.text;
    else {
      if (last) send({ type: 'stream', ...last });
      last = { ...p };
    }
  }
  if (last) send({ type: 'stream', ...last });
}

const kernelStderr: (s: string) => boolean = process.stderr.write.bind(process.stderr);

function capture(name: StreamName, stream: NodeJS.WriteStream): void {
  stream.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    const id = ownerOfOutput();
    if (id) {
      pending.push({ id, name, text });
      // The first write of a burst goes out at once (a cell that prints and then hangs in synchronous
      // code keeps that line when it is killed); the rest of the burst is merged.
      if (!flushTimer) {
        flush();
        flushTimer = setTimeout(flush, 25);
      }
    }
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') proc.nextTick(done as () => void);
    return true;
  }) as typeof stream.write;
}

// --- rich output from the tl core

let displayCounter = 0;
const sink: OutputSink = {
  display(bundle: MimeBundle): DisplayHandle {
    const id = ownerOfOutput();
    const displayId = `d${proc.pid}-${++displayCounter}`;
    flush();
    if (id) send({ type: 'display', id, displayId, bundle });
    return {
      update(b) {
        if (id) send({ type: 'update', id, displayId, bundle: b });
      },
      post(message) {
        if (id) send({ type: 'post', id, displayId, message });
      },
    };
  },
};

/** `display(value)` in cells: shows a value or a MIME bundle without ending the cell. */
function display(value: unknown): DisplayHandle {
  const bundle = isMimeBundle(value) ? value : toBundle(value) ?? { 'text/plain': 'undefined' };
  return sink.display(bundle);
}

function isMimeBundle(v: unknown): v is MimeBundle {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => /^[a-z]+\/[\w.+-]+$/.test(k));
}

// --- execution

let interruptCell: ((e: Error) => void) | undefined;
let runCounter = 0;
let currentRun = 0;
/** Names and line maps of recent cells, to show a late error with the right cell's line numbers. */
const cellInfo = new Map<string, { cellName: string; positions?: CellPositions }>();

function rememberCell(id: string, cellName: string, positions?: CellPositions): void {
  cellInfo.delete(id);
  cellInfo.set(id, { cellName, positions });
  if (cellInfo.size > 500) cellInfo.delete(cellInfo.keys().next().value as string);
}

/** Ends the running cell with an error that its own code did not throw to it (a stray error). */
class CellFailure extends Error {
  constructor(readonly cellError: CellError) {
    super(cellError.evalue);
  }
}

async function execute(msg: Extract<HostMessage, { type: 'execute' }>): Promise<void> {
  currentId = msg.id;
  strayGuard?.ensureListening();
  clearInterrupt();
  let positions: CellPositions | undefined;
  try {
    currentRun = ++runCounter;
    // The cell's code and all its async continuations run as this run (interrupts, output).
    const started = inCellRun(currentRun, msg.id, () => runCell(msg.code, msg.language, msg.cellName));
    positions = started.positions;
    rememberCell(msg.id, msg.cellName, positions);
    const interrupted = new Promise<never>((_, reject) => (interruptCell = reject));
    const value = await Promise.race([started.promise, interrupted]);
    flush();
    // A display method (or an image folder's thumbnails) may never settle: the interrupt ends it too.
    const bundle = await Promise.race([toBundleAsync(value), interrupted]);
    if (bundle) send({ type: 'result', id: msg.id, bundle });
    send({ type: 'done', id: msg.id, status: 'ok' });
  } catch (e) {
    flush();
    if (e instanceof CellFailure) return send({ type: 'done', id: msg.id, status: 'error', error: e.cellError });
    const status = isInterruption(e) ? 'interrupted' : 'error';
    send({ type: 'done', id: msg.id, status, error: toCellError(e, msg.cellName, positions) });
  } finally {
    interruptCell = undefined;
    strayGuard?.ensureListening();
    // Output written after the cell ended (timers) still goes to it until the next cell starts.
  }
}

function isInterruption(e: unknown): boolean {
  return e instanceof InterruptedError;
}

function interrupt(): void {
  // Answering at once tells the host the event loop is free, so it need not kill the process.
  send({ type: 'interrupting', activeFits: activeFits() });
  stopRunningCell(() => new InterruptedError());
}

/** Stops the running cell's run (its fits and awaits) and ends the cell with `reason`. */
function stopRunningCell(reason: () => Error): void {
  requestInterrupt(interruptCell ? currentRun : undefined);
  const reject = interruptCell;
  if (!reject) return;
  // A running fit stops at its next batch and throws itself; other awaits are abandoned now.
  if (activeFits() > 0) {
    void whenNoFit().then(() => setTimeout(() => interruptCell === reject && reject(reason()), 100));
  } else {
    reject(reason());
  }
}

/**
 * A floating rejection or a throw from a callback: shown on the cell whose code raised it. While
 * that cell runs it ends with the error (as an uncaught error ends a Node program); when it has
 * finished, the error is sent for it as a late error. Code of no cell is blamed on the latest one.
 */
function onStrayError(s: StrayError): void {
  // Floating code of an interrupted cell stopping at its next await or batch: the interrupt, not an error.
  if (isInterruption(s.error)) return;
  const running = interruptCell ? currentId : undefined;
  const owner = s.cell ?? running ?? currentId;
  const info = owner ? cellInfo.get(owner) : undefined;
  if (!owner || !info) {
    // Before any cell ran (during start-up): the host logs the kernel's own stderr.
    const text = s.error instanceof Error ? s.error.stack ?? s.error.message : String(s.error);
    kernelStderr(`Transfer Lab kernel: ${s.kind === 'rejection' ? 'unhandled promise rejection' : 'uncaught exception'} outside any cell: ${text}\n`);
    return;
  }
  flush();
  const error = strayCellError(s, { ...info, afterCell: owner !== running, unowned: !s.cell });
  if (owner === running) stopRunningCell(() => new CellFailure(error));
  else send({ type: 'late-error', id: owner, error });
}

/**
 * Optional native packages the core loads lazily (sharp for decoding, onnxruntime-node for the fast
 * path) do not ship in the .vsix: the notebook's folder and the workspace's node_modules are
 * searched after the kernel's own, so `npm i sharp onnxruntime-node` in the workspace enables them.
 */
function useWorkspaceModules(options: KernelOptions): void {
  const dirs = [options.notebookDir, ...options.workspaceFolders].map((d) => path.join(d, 'node_modules'));
  const current = (proc.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean);
  proc.env.NODE_PATH = [...new Set([...current, ...dirs])].join(path.delimiter);
  (Module as unknown as { _initPaths(): void })._initPaths();
}

async function init(options: KernelOptions): Promise<void> {
  proc.chdir(options.notebookDir);
  useWorkspaceModules(options);
  // Downloaded models and embedding caches go where the host keeps its storage.
  if (options.cacheDir && !proc.env.TRANSFER_LAB_CACHE) proc.env.TRANSFER_LAB_CACHE = options.cacheDir;
  installFitPatch();
  onFitState((active, slowestBatchMs) => send({ type: 'fit-state', activeFits: active, slowestBatchMs }));
  configureEngines({ workspaceDirs: [options.notebookDir, ...options.workspaceFolders] });
  const selection = await selectBackend(tf, makeNodeLoaderHost(tl.registerWasmGradients), {
    requested: options.backend,
    requestedBy: options.backendRequestedBy,
    gpuSearchPaths: options.tfjsNodeGpuPaths,
    searchPaths: engineDirs(),
  });
  const report = { ...selection.report, engines: await engineStatus() };
  // Text only: VS Code would show a JSON bundle as a raw blob. The object itself is the data.
  Object.defineProperty(report, DISPLAY_SYMBOL, { value: () => ({ 'text/plain': formatDeviceReport(report) }), enumerable: false });
  setDeviceReport(report);
  // The WASM backend's Emscripten glue registers listeners that rethrow stray errors: not needed.
  strayGuard?.removeForeignListeners();
  setOutputSink(sink);
  const cellRequire = new CellRequire(options.notebookDir, options.workspaceFolders);
  installCellGlobals(cellRequire, { tf, tl, display, __dirname: options.notebookDir, __filename: undefined });
  send({ type: 'ready', pid: proc.pid, device: report });
}

let strayGuard: StrayErrorGuard | undefined;
/** Set when the kernel ends itself (shutdown, host gone); any other exit is `process.exit` in a cell. */
let exitingOnPurpose = false;

/** `process.exit()` in a cell ends the kernel, as in Node; what the cell printed before is kept. */
function reportExit(code: number): void {
  if (exitingOnPurpose) return;
  flush();
  send({ type: 'exiting', id: ownerOfOutput(), code });
}

function exitOnPurpose(code: number): never {
  exitingOnPurpose = true;
  return proc.exit(code);
}

function main(): void {
  if (!ipcSend) {
    console.error('The Transfer Lab kernel runs as a child process with an IPC channel (it is started by the extension or `transfer-lab run`).');
    proc.exit(2);
  }
  capture('stdout', proc.stdout);
  capture('stderr', proc.stderr);
  const guard = new StrayErrorGuard(proc, onStrayError);
  strayGuard = guard;
  guard.install();
  guard.keep('exit', (code) => reportExit(code as number));
  // Ctrl+C in a terminal reaches the whole process group; interrupts come over IPC instead.
  guard.keep('SIGINT', () => undefined);
  // The host went away: nothing left to serve.
  guard.keep('disconnect', () => exitOnPurpose(0));
  guard.keep('message', (raw) => onHostMessage(raw as HostMessage));
  endWithParent();
}

let queue = Promise.resolve();

function onHostMessage(msg: HostMessage): void {
  switch (msg.type) {
    case 'init':
      queue = queue.then(() => init(msg.options)).catch((e) => send({ type: 'fatal', error: (e as Error).stack ?? String(e) }));
      break;
    case 'execute':
      queue = queue.then(() => execute(msg));
      break;
    case 'interrupt':
      interrupt();
      break;
    case 'shutdown':
      exitOnPurpose(0);
  }
}

main();
