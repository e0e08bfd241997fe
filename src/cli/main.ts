/** `transfer-lab` command line: `run` executes a notebook headless; `predict` classifies images. */
import path from 'node:path';
import { BACKEND_NAMES, type BackendName } from '../common/protocol';
import { terminalJson, terminalName, terminalText } from '../common/terminal';
import { formatPredictions, predictImages } from './predict';
import { runNotebook, type RunSummary } from './run';
import { MAX_TIMEOUT_SECONDS } from './runLimits';

const USAGE = `Usage:
  transfer-lab run <notebook.ipynb> (--out <out.ipynb> | --in-place) [--timeout <seconds>]
                   [--backend auto|tensorflow-gpu|tensorflow|webgpu|wasm|cpu] [--quiet] [--verbose]
      Runs every code cell with the Transfer Lab kernel and writes the outputs into --out (checked
      before the run), or into the notebook itself with --in-place. Stops at the first failing cell
      and exits 1, after writing the outputs so far; cells after it keep what they had.
      --timeout interrupts a cell that runs longer (at most 2147483 s), then kills the kernel if the
      cell does not answer or does not end.
      SIGINT, SIGTERM and SIGHUP write the notebook with what ran, end the kernel and exit 128+n.
      --verbose also prints what native libraries (CUDA, Dawn) write to the kernel's console.
  transfer-lab predict <exported model dir or model.onnx> <image> [<image>...] [--top 3] [--json] [--backend ...]
  transfer-lab predict <exported text model dir> "some text" ["another text"...]
      Prints the most probable classes of each image, using the class names, input size and
      preprocessing saved with the model by tl.save() (TF.js folder, or { format: 'onnx' }).
`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

function backendOption(args: string[]): BackendName | undefined {
  const backend = option(args, '--backend') ?? process.env.TRANSFER_LAB_BACKEND;
  if (backend && !(BACKEND_NAMES as readonly string[]).includes(backend)) throw new Error(`unknown backend "${terminalName(backend)}"; use one of ${BACKEND_NAMES.join(', ')}`);
  return backend as BackendName | undefined;
}

function timeoutOption(args: string[]): number | undefined {
  const raw = option(args, '--timeout');
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new Error(`--timeout needs a number of seconds above 0, not "${terminalName(raw)}"`);
  // Node's timers hold at most 2^31-1 ms; a longer delay fires at once and would interrupt every cell.
  if (seconds > MAX_TIMEOUT_SECONDS) throw new Error(`--timeout ${terminalName(raw)} is too long: at most ${MAX_TIMEOUT_SECONDS} seconds (about 24 days); leave --timeout out for no limit`);
  return seconds;
}

async function runCommand(args: string[]): Promise<number> {
  const output = option(args, '--out');
  const backend = backendOption(args);
  const timeoutSeconds = timeoutOption(args);
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  for (const f of flags) if (!['--quiet', '--verbose', '--in-place'].includes(f)) throw new Error(`unknown option ${terminalName(f)}\n${USAGE}`);
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length !== 1) throw new Error(`run takes one notebook\n${USAGE}`);
  const summary = await runNotebook({
    input: files[0],
    output,
    inPlace: flags.has('--in-place'),
    timeoutSeconds,
    backend,
    kernelScript: path.join(__dirname, 'kernel.js'),
    echo: !flags.has('--quiet'),
    verbose: flags.has('--verbose'),
  });
  process.stdout.write(`\n${summaryLine(summary)}\n`);
  return summary.exitCode;
}

function summaryLine(s: RunSummary): string {
  const status = s.ok ? 'OK' : s.exitCode > 128 ? 'STOPPED' : 'FAILED';
  const failed = s.failedCell !== undefined ? `, cell ${s.failedCell + 1} failed` : '';
  const notRun = s.notRun ? `, ${s.notRun} cell${s.notRun === 1 ? '' : 's'} after it did not run (they keep their earlier outputs)` : '';
  const where = path.relative(process.cwd(), s.outputPath) || s.outputPath;
  return `${status}: ${s.executed} cells${s.backend ? ` on ${terminalName(s.backend)}` : ''} in ${s.seconds.toFixed(1)} s${failed}${notRun}; outputs written to ${terminalName(where)}`;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const cmd = args.shift();
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === 'run') return runCommand(args);
  if (cmd === 'predict') {
    const top = Number(option(args, '--top') ?? 3);
    const backend = backendOption(args);
    const json = args.includes('--json');
    const [modelDir, ...images] = args.filter((a) => !a.startsWith('--'));
    if (!modelDir || images.length === 0) throw new Error(`predict needs a model folder and at least one image\n${USAGE}`);
    if (!(top >= 1)) throw new Error('--top needs a number of classes, 1 or more');
    const preds = await predictImages({ modelDir, images, topK: top, backend, kernelScript: path.join(__dirname, 'kernel.js') });
    process.stdout.write(json ? terminalJson(preds) + '\n' : formatPredictions(preds) + '\n');
    return 0;
  }
  throw new Error(`unknown command "${terminalName(cmd)}"\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`transfer-lab: ${terminalText(e?.message ?? String(e))}\n`);
    process.exit(2);
  },
);
