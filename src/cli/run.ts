/**
 * `transfer-lab run nb.ipynb [--out out.ipynb]`: runs every code cell with the same kernel the
 * extension uses and writes the outputs into the notebook in the format VS Code and Jupyter read.
 * Stops at the first failing cell and exits non-zero, like papermill.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KernelClient } from '../client/kernelClient';
import type { BackendName } from '../common/protocol';
import { KERNEL_LANGUAGES, type KernelLanguage } from '../common/mime';
import { cellLanguage, errorOutput, joinSource, parseNotebook, toNbData, type NbOutput } from './notebook';

export interface RunOptions {
  input: string;
  output?: string;
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
  failedCell?: number;
  seconds: number;
  outputPath: string;
}

export async function runNotebook(opts: RunOptions): Promise<RunSummary> {
  const write = opts.write ?? ((s) => process.stdout.write(s));
  const writeErr = opts.writeErr ?? ((s) => process.stderr.write(s));
  const input = path.resolve(opts.input);
  const nb = parseNotebook(readFileSync(input, 'utf8'), opts.input);
  const outputPath = path.resolve(opts.output ?? opts.input);
  const metaBackend = nb.metadata?.transferLab?.backend as BackendName | undefined;
  const backend = opts.backend ?? metaBackend ?? 'auto';
  const client = new KernelClient({
    kernelScript: opts.kernelScript,
    notebookDir: path.dirname(input),
    workspaceFolders: [process.cwd()],
    backend,
    backendRequestedBy: opts.backend ? 'command line' : metaBackend ? 'notebook metadata' : 'auto',
    tfjsNodeGpuPaths: [path.dirname(input), process.cwd()],
  });
  // Native libraries' own output (Dawn probing adapters, CUDA) is noise unless asked for; the last
  // lines are still reported if the kernel dies.
  if (opts.verbose) client.on('log', (s: string) => writeErr(s));
  const started = Date.now();
  let executed = 0;
  let failedCell: number | undefined;
  const onSigint = () => {
    writeErr('\nInterrupting the running cell…\n');
    void client.interrupt(3000);
  };
  process.on('SIGINT', onSigint);
  try {
    const device = await client.start().catch((e: Error) => {
      throw new Error(`the kernel did not start: ${e.message}`);
    });
    if (opts.echo) write(`Kernel: ${device.backend} — ${device.device}\n`);
    let count = 0;
    for (let i = 0; i < nb.cells.length; i++) {
      const cell = nb.cells[i];
      if (cell.cell_type !== 'code') continue;
      const source = joinSource(cell.source);
      cell.outputs = [];
      cell.execution_count = null;
      if (failedCell !== undefined || !source.trim()) continue;
      const language = cellLanguage(nb, cell);
      const outputs: NbOutput[] = [];
      cell.outputs = outputs;
      cell.execution_count = ++count;
      if (!(KERNEL_LANGUAGES as readonly string[]).includes(language)) {
        outputs.push(errorOutput({ ename: 'UnsupportedLanguage', evalue: `Cell ${i + 1} is ${language}; the Transfer Lab kernel runs JavaScript and TypeScript`, traceback: [] }));
        failedCell = i;
        continue;
      }
      if (opts.echo) write(`\n── Cell ${i + 1} [${count}] ──\n`);
      const displays = new Map<string, Extract<NbOutput, { output_type: 'display_data' }>>();
      const result = await client.execute(source, language as KernelLanguage, `Cell ${i + 1}`, {
        onStream(name, text) {
          const last = outputs[outputs.length - 1];
          if (last?.output_type === 'stream' && last.name === name) last.text = (last.text as string) + text;
          else outputs.push({ output_type: 'stream', name, text });
          if (opts.echo) (name === 'stdout' ? write : writeErr)(text);
        },
        onDisplay(displayId, bundle) {
          const out = { output_type: 'display_data' as const, data: toNbData(bundle), metadata: {} };
          displays.set(displayId, out);
          outputs.push(out);
        },
        onUpdate(displayId, bundle) {
          const out = displays.get(displayId);
          if (out) out.data = toNbData(bundle);
        },
        onResult(bundle) {
          outputs.push({ output_type: 'execute_result', execution_count: count, data: toNbData(bundle), metadata: {} });
        },
      });
      if (opts.echo) {
        for (const o of outputs) {
          if (o.output_type === 'display_data' || o.output_type === 'execute_result') {
            const text = o.data['text/plain'];
            if (text) write(`${Array.isArray(text) ? text.join('') : text}\n`);
          }
        }
      }
      executed++;
      if (result.status !== 'ok') {
        outputs.push(errorOutput(result.error));
        failedCell = i;
        writeErr(`\nCell ${i + 1} failed (${result.status}):\n${result.error.traceback.length ? result.error.traceback.join('\n') : `${result.error.ename}: ${result.error.evalue}`}\n`);
      }
      // Join stream chunks as nbformat lines.
      for (const o of outputs) if (o.output_type === 'stream' && typeof o.text === 'string') o.text = o.text.split(/(?<=\n)/);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await client.shutdown();
    mkdirSync(path.dirname(outputPath), { recursive: true });
    const tmp = `${outputPath}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(nb, null, 1) + '\n');
    renameSync(tmp, outputPath);
  }
  return { ok: failedCell === undefined, executed, failedCell, seconds: (Date.now() - started) / 1000, outputPath };
}
