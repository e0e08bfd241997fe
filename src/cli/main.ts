/** `transfer-lab` command line: `run` executes a notebook headless; `predict` classifies images. */
import path from 'node:path';
import { BACKEND_NAMES, type BackendName } from '../common/protocol';
import { formatPredictions, predictImages } from './predict';
import { runNotebook } from './run';

const USAGE = `Usage:
  transfer-lab run <notebook.ipynb> [--out <out.ipynb>] [--backend auto|tensorflow-gpu|tensorflow|webgpu|wasm|cpu] [--quiet] [--verbose]
      Runs every code cell with the Transfer Lab kernel and writes the outputs into the notebook
      (or into --out). Exits 1 when a cell fails, after writing the outputs so far.
      --verbose also prints what native libraries (CUDA, Dawn) write to the kernel's console.
  transfer-lab predict <exported model dir> <image> [<image>...] [--top 3] [--json] [--backend ...]
      Prints the most probable classes of each image, using the class names, input size and
      preprocessing saved with the model by tl.save().
`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const cmd = args.shift();
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === 'run') {
    const out = option(args, '--out');
    const backend = option(args, '--backend') ?? process.env.TRANSFER_LAB_BACKEND;
    const quiet = args.includes('--quiet');
    const verbose = args.includes('--verbose');
    const files = args.filter((a) => !a.startsWith('--'));
    if (files.length !== 1) throw new Error(`run takes one notebook\n${USAGE}`);
    if (backend && !(BACKEND_NAMES as readonly string[]).includes(backend)) throw new Error(`unknown backend "${backend}"; use one of ${BACKEND_NAMES.join(', ')}`);
    const summary = await runNotebook({
      input: files[0],
      output: out,
      backend: backend as BackendName | undefined,
      kernelScript: path.join(__dirname, 'kernel.js'),
      echo: !quiet,
      verbose,
    });
    process.stdout.write(`\n${summary.ok ? 'OK' : 'FAILED'}: ${summary.executed} cells in ${summary.seconds.toFixed(1)} s${summary.failedCell !== undefined ? `, cell ${summary.failedCell + 1} failed` : ''}; outputs written to ${path.relative(process.cwd(), summary.outputPath) || summary.outputPath}\n`);
    return summary.ok ? 0 : 1;
  }
  if (cmd === 'predict') {
    const top = Number(option(args, '--top') ?? 3);
    const backend = option(args, '--backend') ?? process.env.TRANSFER_LAB_BACKEND;
    const json = args.includes('--json');
    const [modelDir, ...images] = args.filter((a) => !a.startsWith('--'));
    if (!modelDir || images.length === 0) throw new Error(`predict needs a model folder and at least one image\n${USAGE}`);
    if (!(top >= 1)) throw new Error('--top needs a number of classes, 1 or more');
    if (backend && !(BACKEND_NAMES as readonly string[]).includes(backend)) throw new Error(`unknown backend "${backend}"; use one of ${BACKEND_NAMES.join(', ')}`);
    const preds = await predictImages({ modelDir, images, topK: top, backend: backend as BackendName | undefined, kernelScript: path.join(__dirname, 'kernel.js') });
    process.stdout.write(json ? JSON.stringify(preds, null, 2) + '\n' : formatPredictions(preds) + '\n');
    return 0;
  }
  throw new Error(`unknown command "${cmd}"\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`transfer-lab: ${e.message}\n`);
    process.exit(2);
  },
);
