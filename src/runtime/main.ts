/**
 * The kernel process. Started by the extension host (or the CLI) with an IPC channel; runs cells
 * one at a time, keeps their state in its globals, and owns TF.js. Nothing here imports vscode.
 */
import * as tf from '@tensorflow/tfjs';
import type { DisplayHandle, MimeBundle, OutputSink } from '../common/display';
import type { HostMessage, KernelMessage, KernelOptions, StreamName } from '../common/protocol';
import { DISPLAY_SYMBOL } from '../common/display';
import * as tl from '../tl';
import { setDeviceReport } from '../tl/device';
import { clearInterrupt, InterruptedError, requestInterrupt, setOutputSink } from '../tl/output';
import { formatDeviceReport, selectBackend } from './backends';
import { CellRequire, type CellPositions, installCellGlobals, markRunInterrupted, runCell, toBundle, toCellError } from './evaluator';
import { activeFits, installFitPatch, whenNoFit } from './fitPatch';
import { makeNodeLoaderHost } from './nodeHost';

function send(msg: KernelMessage): void {
  process.send?.(msg);
}

// --- output capture: everything written to stdout/stderr goes to the running cell

let currentId: string | undefined;
const pending: { name: StreamName; text: string }[] = [];
let flushTimer: NodeJS.Timeout | undefined;

function flush(): void {
  flushTimer = undefined;
  if (!currentId) {
    pending.length = 0;
    return;
  }
  // Merge consecutive writes to the same stream: one IPC message per burst, in order.
  let last: { name: StreamName; text: string } | undefined;
  for (const p of pending.splice(0)) {
    if (last && last.name === p.name) last.text += p.text;
    else {
      if (last) send({ type: 'stream', id: currentId, ...last });
      last = { ...p };
    }
  }
  if (last) send({ type: 'stream', id: currentId, ...last });
}

function capture(name: StreamName, stream: NodeJS.WriteStream): void {
  stream.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    pending.push({ name, text });
    flushTimer ??= setTimeout(flush, 25);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as typeof stream.write;
}

// --- rich output from the tl core

let displayCounter = 0;
const sink: OutputSink = {
  display(bundle: MimeBundle): DisplayHandle {
    const id = currentId;
    const displayId = `d${process.pid}-${++displayCounter}`;
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

async function execute(msg: Extract<HostMessage, { type: 'execute' }>): Promise<void> {
  currentId = msg.id;
  clearInterrupt();
  let positions: CellPositions | undefined;
  try {
    currentRun = ++runCounter;
    const started = runCell(msg.code, msg.language, msg.cellName, currentRun);
    positions = started.positions;
    const interrupted = new Promise<never>((_, reject) => (interruptCell = reject));
    const value = await Promise.race([started.promise, interrupted]);
    flush();
    const bundle = toBundle(value);
    if (bundle) send({ type: 'result', id: msg.id, bundle });
    send({ type: 'done', id: msg.id, status: 'ok' });
  } catch (e) {
    flush();
    const status = e instanceof InterruptedError || (e as Error)?.name === 'KeyboardInterrupt' ? 'interrupted' : 'error';
    send({ type: 'done', id: msg.id, status, error: toCellError(e, msg.cellName, positions) });
  } finally {
    interruptCell = undefined;
    // Output written after the cell ended (timers) still goes to it until the next cell starts.
  }
}

function interrupt(): void {
  // Answering at once tells the host the event loop is free, so it need not kill the process.
  send({ type: 'interrupting', activeFits: activeFits() });
  requestInterrupt();
  if (interruptCell) markRunInterrupted(currentRun);
  const reject = interruptCell;
  if (!reject) return;
  // A running fit stops at its next batch and throws itself; other awaits are abandoned now.
  if (activeFits() > 0) {
    void whenNoFit().then(() => setTimeout(() => interruptCell === reject && reject(new InterruptedError()), 100));
  } else {
    reject(new InterruptedError());
  }
}

async function init(options: KernelOptions): Promise<void> {
  process.chdir(options.notebookDir);
  // Downloaded models and embedding caches go where the host keeps its storage.
  if (options.cacheDir && !process.env.TRANSFER_LAB_CACHE) process.env.TRANSFER_LAB_CACHE = options.cacheDir;
  installFitPatch();
  const selection = await selectBackend(tf, makeNodeLoaderHost(tl.registerWasmGradients), {
    requested: options.backend,
    requestedBy: options.backendRequestedBy,
    gpuSearchPaths: options.tfjsNodeGpuPaths,
    searchPaths: [...options.workspaceFolders, options.notebookDir, __dirname],
  });
  const report = selection.report;
  Object.defineProperty(report, DISPLAY_SYMBOL, { value: () => ({ 'text/plain': formatDeviceReport(report), 'application/json': { ...report } }), enumerable: false });
  setDeviceReport(report);
  setOutputSink(sink);
  const cellRequire = new CellRequire(options.notebookDir, options.workspaceFolders);
  installCellGlobals(cellRequire, { tf, tl, display, __dirname: options.notebookDir, __filename: undefined });
  send({ type: 'ready', pid: process.pid, device: report });
}

function main(): void {
  if (!process.send) {
    console.error('The Transfer Lab kernel runs as a child process with an IPC channel (it is started by the extension or `transfer-lab run`).');
    process.exit(2);
  }
  capture('stdout', process.stdout);
  capture('stderr', process.stderr);
  process.on('unhandledRejection', (reason) => {
    const text = reason instanceof Error ? reason.stack ?? reason.message : String(reason);
    process.stderr.write(`Unhandled promise rejection: ${text}\n`);
  });
  process.on('uncaughtException', (err) => {
    process.stderr.write(`Uncaught exception: ${err.stack ?? err.message}\n`);
  });
  // The host went away: nothing left to serve.
  process.on('disconnect', () => process.exit(0));

  let queue = Promise.resolve();
  process.on('message', (raw) => {
    const msg = raw as HostMessage;
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
        process.exit(0);
    }
  });
}

main();
