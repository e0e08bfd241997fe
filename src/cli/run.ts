/**
 * `transfer-lab run nb.ipynb --out out.ipynb`: runs every code cell with the same kernel the
 * extension uses and writes the outputs into the notebook in the format VS Code and Jupyter read.
 * Stops at the first failing cell and exits non-zero, like papermill. The target is checked before
 * anything runs; a time limit or a signal still writes what ran and ends the kernel.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type CellResult, KernelClient } from '../client/kernelClient';
import type { BackendName, CellError } from '../common/protocol';
import type { DeviceReport } from '../common/shapes';
import { KERNEL_LANGUAGES, type KernelLanguage } from '../common/mime';
import { terminalName, terminalText } from '../common/terminal';
import { cellLanguage, errorOutput, joinSource, type NbCell, type NbOutput, type Notebook, parseNotebook, toNbData } from './notebook';
import { resolveOutputTarget } from './outputTarget';
import { RunLimits, stoppedError, timeoutError } from './runLimits';
import { writeFileAtomicSync } from '../tl/util/atomic';

export interface RunOptions {
  input: string;
  output?: string;
  /** Write the outputs into the input notebook itself (instead of --out). */
  inPlace?: boolean;
  /** Longest time a cell may run, in seconds. */
  timeoutSeconds?: number;
  backend?: BackendName;
  kernelScript: string;
  /** Echo cell output to the terminal while it runs. */
  echo?: boolean;
  /** Also print what native libraries write to the kernel's stdout/stderr. */
  verbose?: boolean;
  write?: (s: string) => void;
  writeErr?: (s: string) => void;
}

export interface RunSummary {
  ok: boolean;
  executed: number;
  /** Index of the first cell that failed (its own error, a late error, a time limit, a signal). */
  failedCell?: number;
  /** Code cells that did not run because an earlier one failed; they keep what they had. */
  notRun: number;
  seconds: number;
  outputPath: string;
  /** The backend that ran the cells. */
  backend?: string;
  /** 0, 1 when a cell failed, 128 + the signal's number when a signal stopped the run. */
  exitCode: number;
}

interface RunState {
  executed: number;
  count: number;
  failedCell?: number;
  notRun: number;
}

export async function runNotebook(opts: RunOptions): Promise<RunSummary> {
  const writeErr = opts.writeErr ?? ((s) => process.stderr.write(s));
  const input = path.resolve(opts.input);
  const nb = parseNotebook(readFileSync(input, 'utf8'), terminalName(opts.input));
  const outputPath = resolveOutputTarget(opts);
  const client = makeClient(opts, nb, input);
  // Native libraries' own output (Dawn probing adapters, CUDA) is noise unless asked for; the last
  // lines are still reported if the kernel dies.
  if (opts.verbose) client.on('log', (s: string) => writeErr(terminalText(s, { keepColors: true })));
  const limits = new RunLimits(client, writeErr);
  const runner = new CellRunner(nb, client, limits, opts);
  const state = runner.state;
  const started = Date.now();
  let device: DeviceReport | undefined;
  limits.watchSignals();
  try {
    device = await startKernel(client, opts, limits);
    if (device) await runner.runAll();
  } finally {
    // A signal stops the run; the kernel must not outlive us (or keep training in the background).
    if (limits.signal) client.kill(`the run was stopped by ${limits.signal}`);
    else await client.shutdown();
    writeNotebook(nb, outputPath);
    limits.unwatchSignals();
  }
  const ok = state.failedCell === undefined && !limits.signal;
  const exitCode = limits.exitCode() ?? (ok ? 0 : 1);
  return { ok, executed: state.executed, failedCell: state.failedCell, notRun: state.notRun, seconds: (Date.now() - started) / 1000, outputPath, backend: device?.backend, exitCode };
}

function makeClient(opts: RunOptions, nb: Notebook, input: string): KernelClient {
  const metaBackend = nb.metadata?.transferLab?.backend as BackendName | undefined;
  return new KernelClient({
    kernelScript: opts.kernelScript,
    notebookDir: path.dirname(input),
    workspaceFolders: [process.cwd()],
    backend: opts.backend ?? metaBackend ?? 'auto',
    backendRequestedBy: opts.backend ? 'command line' : metaBackend ? 'notebook metadata' : 'auto',
    tfjsNodeGpuPaths: [path.dirname(input), process.cwd()],
  });
}

/** The device the kernel runs on; undefined when a signal stopped the start. */
async function startKernel(client: KernelClient, opts: RunOptions, limits: RunLimits): Promise<DeviceReport | undefined> {
  const write = opts.write ?? ((s) => process.stdout.write(s));
  const writeErr = opts.writeErr ?? ((s) => process.stderr.write(s));
  let device: DeviceReport;
  try {
    device = await client.start();
  } catch (e) {
    if (limits.signal) return undefined;
    throw new Error(`the kernel did not start: ${(e as Error).message}`);
  }
  const notice = backendNotice(device);
  if (notice) writeErr(`transfer-lab: ${notice}\n`);
  if (opts.echo) write(`Kernel: ${terminalName(device.backend)} — ${terminalName(device.device)}\n`);
  return device;
}

/** When a named backend was asked for and another one runs: which, and why. */
export function backendNotice(device: DeviceReport, what = 'the notebook'): string | undefined {
  const requested = device.requested;
  if (!requested || requested === 'auto' || requested === device.backend) return undefined;
  const why = device.skipped.find((s) => s.backend === requested)?.reason;
  return `backend "${terminalName(requested)}" (${terminalName(device.requestedBy)}) is not available${why ? `: ${terminalName(why)}` : ''}; ${what} ran on ${terminalName(device.backend)} (${terminalName(device.device)}) instead.`;
}

/** Runs the cells of one notebook in order, recording outputs into it. */
class CellRunner {
  private readonly write: (s: string) => void;
  private readonly writeErr: (s: string) => void;
  readonly state: RunState = { executed: 0, count: 0, notRun: 0 };

  constructor(
    private readonly nb: Notebook,
    private readonly client: KernelClient,
    private readonly limits: RunLimits,
    private readonly opts: RunOptions,
  ) {
    this.write = opts.write ?? ((s) => process.stdout.write(s));
    this.writeErr = opts.writeErr ?? ((s) => process.stderr.write(s));
  }

  async runAll(): Promise<void> {
    for (let i = 0; i < this.nb.cells.length; i++) {
      const cell = this.nb.cells[i];
      if (cell.cell_type !== 'code') continue;
      const source = joinSource(cell.source);
      // After a failure the rest keep what they had (as VS Code leaves cells a failed Run All did not reach).
      if (this.state.failedCell !== undefined || this.limits.signal) {
        if (source.trim()) this.state.notRun++;
        continue;
      }
      cell.outputs = [];
      cell.execution_count = null;
      if (source.trim()) await this.runOne(cell, i, source);
    }
  }

  private async runOne(cell: NbCell, i: number, source: string): Promise<void> {
    const outputs: NbOutput[] = [];
    const count = ++this.state.count;
    const cellName = `Cell ${i + 1}`;
    cell.outputs = outputs;
    cell.execution_count = count;
    const fail = (error: CellError, status: string) => this.fail(outputs, i, error, status);
    const language = cellLanguage(this.nb, cell);
    if (!(KERNEL_LANGUAGES as readonly string[]).includes(language)) {
      return fail({ ename: 'UnsupportedLanguage', evalue: `${cellName} is ${terminalName(language)}; the Transfer Lab kernel runs JavaScript and TypeScript`, traceback: [] }, 'error');
    }
    if (this.opts.echo) this.write(`\n── ${cellName} [${count}] ──\n`);
    const run = this.client.execute(source, language as KernelLanguage, cellName, collectOutputs(outputs, count, this.opts, fail));
    const { result, timedOut, endWaitMs } = await this.limits.withTimeout(this.opts.timeoutSeconds, run);
    if (this.opts.echo) echoResults(outputs, this.write);
    this.state.executed++;
    const error = cellError(result, cellName, this.limits, timedOut ? { seconds: this.opts.timeoutSeconds!, endWaitMs } : undefined);
    if (error) fail(error, this.limits.signal ? 'stopped' : timedOut ? 'timed out' : result.status);
    // Join stream chunks as nbformat lines.
    for (const o of outputs) if (o.output_type === 'stream' && typeof o.text === 'string') o.text = o.text.split(/(?<=\n)/);
  }

  private fail(outputs: NbOutput[], i: number, error: CellError, status: string): void {
    outputs.push(errorOutput(error));
    this.state.failedCell ??= i;
    const text = error.traceback.length ? error.traceback.join('\n') : `${error.ename}: ${error.evalue}`;
    this.writeErr(`\nCell ${i + 1} failed (${status}):\n${terminalText(text)}\n`);
  }
}

/** What the notebook records for a cell that did not end well: a signal or a time limit say so first. */
function cellError(result: CellResult, cellName: string, limits: RunLimits, timeout: { seconds: number; endWaitMs?: number } | undefined): CellError | undefined {
  if (limits.signal && result.status !== 'ok') return stoppedError(cellName, limits.signal);
  if (timeout && result.status !== 'ok') return timeoutError(cellName, timeout.seconds, result.status, timeout.endWaitMs);
  return result.status === 'ok' ? undefined : result.error;
}

function collectOutputs(outputs: NbOutput[], count: number, opts: RunOptions, fail: (e: CellError, status: string) => void) {
  const write = opts.write ?? ((s) => process.stdout.write(s));
  const writeErr = opts.writeErr ?? ((s) => process.stderr.write(s));
  const displays = new Map<string, Extract<NbOutput, { output_type: 'display_data' }>>();
  return {
    onStream(name: 'stdout' | 'stderr', text: string) {
      const last = outputs[outputs.length - 1];
      if (last?.output_type === 'stream' && last.name === name && typeof last.text === 'string') last.text += text;
      else outputs.push({ output_type: 'stream', name, text });
      if (opts.echo) (name === 'stdout' ? write : writeErr)(terminalText(text, { keepColors: true }));
    },
    onDisplay(displayId: string, bundle: Record<string, unknown>) {
      const out = { output_type: 'display_data' as const, data: toNbData(bundle), metadata: {} };
      displays.set(displayId, out);
      outputs.push(out);
    },
    onUpdate(displayId: string, bundle: Record<string, unknown>) {
      const out = displays.get(displayId);
      if (out) out.data = toNbData(bundle);
    },
    onResult(bundle: Record<string, unknown>) {
      outputs.push({ output_type: 'execute_result', execution_count: count, data: toNbData(bundle), metadata: {} });
    },
    // Raised by the cell's code after it ended (a timer, a floating promise): the run fails here.
    onLateError: (error: CellError) => fail(error, 'error after it finished'),
  };
}

function echoResults(outputs: NbOutput[], write: (s: string) => void): void {
  for (const o of outputs) {
    if (o.output_type !== 'display_data' && o.output_type !== 'execute_result') continue;
    const text = o.data['text/plain'];
    if (text) write(`${terminalText(Array.isArray(text) ? text.join('') : String(text))}\n`);
  }
}

/** Atomic: a run stopped while writing leaves the previous file whole. */
function writeNotebook(nb: Notebook, outputPath: string): void {
  writeFileAtomicSync(outputPath, JSON.stringify(nb, null, 1) + '\n');
}
