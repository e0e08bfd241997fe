/**
 * Where `transfer-lab run` writes the executed notebook, checked before anything runs: a run of an
 * hour must not end in "EISDIR", and the input is only written over when asked for.
 */
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { terminalName } from '../common/terminal';

export interface OutputChoice {
  input: string;
  output?: string;
  inPlace?: boolean;
}

/** The absolute path to write, or an error that says what to change. */
export function resolveOutputTarget(choice: OutputChoice): string {
  const input = path.resolve(choice.input);
  if (choice.inPlace && choice.output) throw new Error('--out and --in-place exclude each other: give one of them');
  if (choice.inPlace) return probeWritable(input, 'the notebook');
  if (!choice.output) throw new Error(`say where the executed notebook goes: --out <file.ipynb>, or --in-place to write the outputs into ${terminalName(choice.input)}`);
  const output = path.resolve(choice.output);
  if (sameFile(input, output)) throw new Error(`--out ${terminalName(choice.output)} is the input notebook; writing over it needs --in-place (without --out)`);
  if (isDirectory(output)) {
    const suggestion = path.join(choice.output, path.basename(input).replace(/\.ipynb$/i, '') + '.out.ipynb');
    throw new Error(`--out ${terminalName(choice.output)} is a folder; give a file name, for example --out ${terminalName(suggestion)}`);
  }
  return probeWritable(output, '--out');
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function sameFile(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    // b does not exist yet: it cannot be a (hard or symbolic) link to the input
    return false;
  }
}

/** mkdir -p, one level at a time: Node's recursive mkdir never returns for some paths (under /proc). */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && d !== path.dirname(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
}

/** Creates the folder and a scratch file beside the target, as the final atomic write will. */
function probeWritable(target: string, what: string): string {
  const probe = `${target}.tmp-${process.pid}`;
  try {
    makeFolders(path.dirname(target));
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
  } catch (e) {
    throw new Error(`cannot write ${what} ${terminalName(target)}: ${terminalName((e as Error).message)}`);
  }
  return target;
}
