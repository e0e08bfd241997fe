/**
 * Runs transformed cells in the kernel process's own realm (not a vm context: TF.js checks
 * `instanceof Float32Array`, which fails across realms), so globals are the cells' shared state.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import util from 'node:util';
import vm from 'node:vm';
import type { CellError } from '../common/protocol';
import { DISPLAY_SYMBOL, type MimeBundle } from '../common/display';
import { AWAIT_FN, CellSyntaxError, type ColumnShift, DENO_FN, IMPORT_FN, originalColumn, transformCell } from './transform';
import { InterruptedError, throwIfInterrupted } from '../tl/output';
import { ownVersion } from '../tl/engines';
import type { KernelLanguage } from '../common/mime';
import { imageFolderBundle, isImageFolderData, isTensorLike, tensorBundle } from '../tl/show';
import { CompatModules, npmSpecifier, TFJS_NODE_PACKAGES } from './compat';
import { JUPYTER_DISPLAY } from './compat/deno';

export class CellRequire {
  private readonly requires: NodeJS.Require[];
  /** Built-in stand-ins for tslab and tfjs-node (see compat/). */
  readonly compat = new CompatModules(toBundleAsync, { tslab: `transfer-lab ${ownVersion()}`, typescript: 'none: sucrase removes the types of TypeScript cells, without checking them' });

  /** Resolution order: the notebook's folder, then each workspace folder, then the kernel's own modules. */
  constructor(notebookDir: string, workspaceFolders: string[]) {
    const dirs = [notebookDir, ...workspaceFolders.filter((w) => w !== notebookDir)];
    this.requires = [...dirs.map((d) => createRequire(path.join(d, '__notebook__.js'))), createRequire(__filename)];
  }

  resolve = (spec: string): string => this.resolveIn(this.requires, spec);

  private resolveIn(requires: NodeJS.Require[], spec: string): string {
    let first: unknown;
    for (const r of requires) {
      try {
        return r.resolve(spec);
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  }

  require = (raw: string): unknown => {
    if (raw.startsWith('node:')) return this.requires[0](raw);
    const spec = npmSpecifier(raw);
    if (spec === 'tslab') return this.userTslab() ?? this.compat.tslab();
    if (TFJS_NODE_PACKAGES.includes(spec)) return this.compat.tfjsNode(spec, () => this.requires[0](this.resolve(spec)));
    const resolved = this.resolve(spec);
    return this.requires[0](resolved);
  };

  /** A notebook's own installed tslab wins over the built-in one. */
  private userTslab(): unknown {
    let resolved: string;
    try {
      resolved = this.resolveIn(this.requires.slice(0, -1), 'tslab');
    } catch {
      return undefined;
    }
    return this.requires[0](resolved);
  }

  /** `import` in cells: CommonJS through require, ES modules through dynamic import. */
  import = async (raw: string): Promise<unknown> => {
    const spec = raw.startsWith('node:') ? raw : npmSpecifier(raw);
    try {
      const m = this.require(spec) as Record<string, unknown>;
      // ES-module interop: `import x from 'cjs'` gives module.exports, as Node does.
      return m && typeof m === 'object' && '__esModule' in m ? m : { ...m, default: m };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && code !== 'MODULE_NOT_FOUND') throw e;
      let target: string;
      try {
        target = pathToFileURL(this.resolve(spec)).href;
      } catch {
        if (code === 'MODULE_NOT_FOUND') throw e;
        target = spec;
      }
      return dynamicImport(target);
    }
  };
}

// A real dynamic import that bundlers leave alone.
const dynamicImport = new Function('s', 'return import(s)') as (s: string) => Promise<unknown>;

export interface CellOutcome {
  ok: boolean;
  value?: unknown;
  error?: unknown;
}

// --- interrupting a cell's own flow at its awaits

/** Called by the rewritten cell around each top-level await. */
async function resumeAfterAwait<T>(value: T): Promise<Awaited<T>> {
  const v = await value;
  throwIfInterrupted();
  return v;
}

export function installCellGlobals(cellRequire: CellRequire, extra: Record<string, unknown>): void {
  const g = globalThis as Record<string, unknown>;
  g.require = cellRequire.require;
  g[IMPORT_FN] = cellRequire.import;
  g[AWAIT_FN] = resumeAfterAwait;
  g[DENO_FN] = cellRequire.compat.deno();
  for (const [k, v] of Object.entries(extra)) g[k] = v;
}

/** Compiles and starts a cell; the returned promise settles with the cell's last value. */
/**
 * Declarations become assignments to globals. Some globals cannot take one (Node's `crypto` is a
 * getter without a setter): the assignment would be dropped silently. Those are turned into plain
 * writable properties first, so `const crypto = require('node:crypto')` means what it says.
 */
function makeAssignable(names: string[]): void {
  const g = globalThis as Record<string, unknown>;
  for (const name of names) {
    const d = Object.getOwnPropertyDescriptor(g, name);
    if (!d || !d.configurable) continue;
    if ((d.get && !d.set) || d.writable === false) Object.defineProperty(g, name, { value: undefined, writable: true, configurable: true, enumerable: true });
  }
}

export interface CellPositions {
  lineCount: number;
  shifts: ColumnShift[];
}

export function runCell(code: string, language: KernelLanguage, cellName: string): { promise: Promise<unknown>; positions: CellPositions } {
  const { code: script, lineCount, shifts, declared } = transformCell(code, language, true);
  makeAssignable(declared);
  const compiled = new vm.Script(script, { filename: cellName });
  const promise = compiled.runInThisContext({ displayErrors: false }) as Promise<{ value: unknown }>;
  return { promise: promise.then((r) => r.value), positions: { lineCount, shifts } };
}

// --- values → MIME bundles

/** A display method: ours, or Deno's `[Symbol.for('Jupyter.display')]()`. */
function displayMethod(value: unknown): (() => unknown) | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const v = value as Record<symbol, unknown>;
  for (const sym of [DISPLAY_SYMBOL, JUPYTER_DISPLAY]) {
    const m = v[sym];
    if (typeof m === 'function') return () => (m as () => unknown).call(value);
  }
  return undefined;
}

function checkedBundle(b: unknown, value: unknown): MimeBundle {
  if (b && typeof b === 'object' && !Array.isArray(b)) return b as MimeBundle;
  return { 'text/plain': `(its display method returned ${b === null ? 'null' : typeof b}, not a MIME bundle)\n${inspect(value)}` };
}

function failedBundle(e: unknown, value: unknown): MimeBundle {
  return { 'text/plain': `(could not display value: ${(e as Error)?.message ?? String(e)})\n${inspect(value)}` };
}

/** Synchronous: for `display(value)`. A display method that returns a promise shows as text. */
export function toBundle(value: unknown): MimeBundle | undefined {
  if (value === undefined) return undefined;
  const show = displayMethod(value);
  if (show) {
    try {
      const b = show();
      if (b && typeof (b as Promise<unknown>).then === 'function') return { 'text/plain': inspect(value) };
      return checkedBundle(b, value);
    } catch (e) {
      return failedBundle(e, value);
    }
  }
  if (isTensorLike(value)) return tensorBundle(value);
  return { 'text/plain': inspect(value) };
}

/** For a cell's value: display methods may be async (Deno's may), and image folders show thumbnails. */
export async function toBundleAsync(value: unknown): Promise<MimeBundle | undefined> {
  if (isImageFolderData(value)) {
    try {
      return await imageFolderBundle(value);
    } catch {
      return toBundle(value);
    }
  }
  const show = displayMethod(value);
  if (!show) return toBundle(value);
  try {
    return checkedBundle(await show(), value);
  } catch (e) {
    return failedBundle(e, value);
  }
}

function inspect(value: unknown): string {
  return util.inspect(value, { depth: 3, colors: false, maxArrayLength: 100, breakLength: 100 });
}

// --- errors → cell errors with the cell's own line numbers

/** An interrupt reads as it does in Jupyter; other errors by their own name. */
function shownName(err: Error): string {
  return err instanceof InterruptedError ? 'KeyboardInterrupt' : err.name || 'Error';
}

export function toCellError(err: unknown, cellName: string, positions: CellPositions = { lineCount: Infinity, shifts: [] }): CellError {
  const { lineCount, shifts } = positions;
  if (err instanceof CellSyntaxError) {
    return {
      ename: 'SyntaxError',
      evalue: err.message,
      traceback: [`SyntaxError: ${err.message}`, `    at ${cellName}:${err.line}:${err.column + 1}`],
    };
  }
  if (!(err instanceof Error)) {
    const text = util.inspect(err);
    return { ename: 'Error', evalue: `Uncaught ${text}`, traceback: [`Uncaught ${text}`] };
  }
  const ename = shownName(err);
  const evalue = err.message;
  let stack = err.stack ?? `${ename}: ${evalue}`;
  if (ename !== err.name && stack.startsWith(`${err.name}:`)) stack = ename + stack.slice(err.name.length);
  const lines = stack.split('\n');
  const traceback: string[] = [];
  const escaped = cellName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pos = new RegExp(`${escaped}:(\\d+):(\\d+)`);
  let inFrames = false;
  for (const line of lines) {
    const isFrame = /^\s+at /.test(line);
    if (!isFrame) {
      if (!inFrames) traceback.push(line);
      continue;
    }
    inFrames = true;
    const m = pos.exec(line);
    if (m) {
      const ln = Number(m[1]);
      if (ln > lineCount) continue;
      const col = originalColumn(shifts, ln, Number(m[2]));
      traceback.push(line.replace(pos, `${cellName}:${ln}:${col}`));
    } else if (!/node:internal|node:async_hooks|kernel\.js|evaluator\.(js|ts)|\(node:vm/.test(line)) {
      traceback.push(line);
    }
  }
  return { ename, evalue, traceback };
}
