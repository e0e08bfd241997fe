/**
 * Turns a cell's source into a script that keeps its top-level bindings between cells.
 *
 * The rewrite keeps every statement on its original line, so stack traces point at the cell's own
 * line numbers without a source map:
 * - `const/let/var` declarations become assignments to globals, so a re-run of `const x = 1` works
 *   (as in other JavaScript notebook kernels) and later cells see `x`;
 * - function declarations stay (they hoist) and are copied to globals at the top of the wrapper;
 * - classes become `C = class C {...}`;
 * - `import` becomes `await __tl_import(...)`, which resolves from the notebook's folder;
 * - a cell that mentions `Deno` gets a local `Deno` holding `Deno.jupyter` (Deno notebooks);
 * - the last expression statement becomes the cell's value;
 * - the whole body runs inside an async function, so top-level `await` works.
 * TypeScript is first transpiled by sucrase, which also keeps lines.
 */
import * as acorn from 'acorn';
import { transform as sucrase } from 'sucrase';
import { lineAndColumn, lineStarts } from '../common/lines';

type Node = acorn.Node & Record<string, any>;

interface Edit {
  start: number;
  end: number;
  text: string;
}

export interface TransformResult {
  /** Lines of the cell itself; stack frames past it belong to the wrapper. */
  lineCount: number;
  /** Script to run with vm.runInThisContext; evaluates to a Promise of the cell's value. */
  code: string;
  /** Characters added before the cell's first line (to map columns on line 1). */
  firstLineOffset: number;
  /** Column shifts made by the rewrite, to map stack positions back to the cell. */
  shifts: ColumnShift[];
  /** Names the cell declares at top level (they become globals). */
  declared: string[];
}

/** On `line`, at original column `col`, the rewrite added `delta` characters (negative: removed). */
export interface ColumnShift {
  line: number;
  col: number;
  delta: number;
}

/** Maps a column in the rewritten line back to the cell's own column (both 1-based). */
export function originalColumn(shifts: ColumnShift[], line: number, generatedCol: number): number {
  let cum = 0;
  for (const s of shifts) {
    if (s.line !== line) continue;
    // The edit's position in generated text; positions after it moved by its delta.
    if (generatedCol - 1 >= s.col + cum + Math.max(0, s.delta)) cum += s.delta;
    else if (generatedCol - 1 >= s.col + cum) return s.col + 1;
  }
  return Math.max(1, generatedCol - cum);
}

export const IMPORT_FN = '__tl_import';
export const LAST_VALUE_MARKER = '__tl_last';
/** Wraps the cell's top-level awaits: after an interrupt, the cell stops at its next await. */
export const AWAIT_FN = '__tl_await';
/** `Deno.jupyter` for Deno notebooks: bound as a local `Deno` in cells that use the name. */
export const DENO_FN = '__tl_deno';

export function transpileTypeScript(source: string): string {
  return sucrase(source, {
    transforms: ['typescript'],
    disableESTransforms: true,
    keepUnusedImports: true,
    preserveDynamicImport: true,
  }).code;
}

export class CellSyntaxError extends SyntaxError {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'SyntaxError';
  }
}

/**
 * With `interruptible`, each top-level `await x` becomes `await __tl_await(x)`, which throws once
 * this cell's run was interrupted, so an interrupted loop cannot carry on unseen. Awaits inside
 * functions are left alone: those functions may be called later by other cells.
 */
export function transformCell(source: string, language: 'javascript' | 'typescript', interruptible = false): TransformResult {
  // A shebang line becomes a comment of the same length: the wrapper goes before it.
  const src = source.startsWith('#!') ? '//' + source.slice(2) : source;
  const js = language === 'typescript' ? transpileTypeScript(src) : src;
  const program = parseCell(js);
  const rw: Rewrite = { edits: [], hoisted: [], declared: [] };
  rewriteReturns(program, rw.edits);
  // Inner edits first: at a shared end position, the await's `)` must close before the statement's.
  if (interruptible) rewriteAwaits(program, rw.edits);
  const body: Node[] = program.body;
  body.forEach((stmt, i) => rewriteStatement(js, stmt, i === body.length - 1, rw));
  return wrapCell(js, rw);
}

/** What the rewrite of a cell collects: the edits, the function names to hoist, the names declared. */
interface Rewrite {
  edits: Edit[];
  hoisted: string[];
  declared: string[];
}

function parseCell(js: string): Node {
  try {
    return acorn.parse(js, {
      ecmaVersion: 'latest',
      sourceType: 'module',
      allowAwaitOutsideFunction: true,
      allowReturnOutsideFunction: true,
      allowHashBang: true,
      locations: true,
    }) as Node;
  } catch (e) {
    const err = e as Error & { loc?: { line: number; column: number } };
    const loc = err.loc ?? { line: 1, column: 0 };
    throw new CellSyntaxError(err.message.replace(/\s*\(\d+:\d+\)$/, ''), loc.line, loc.column);
  }
}

/** A top-level `return x` ends the cell with x as its value. */
function rewriteReturns(program: Node, edits: Edit[]): void {
  for (const r of topLevel(program, 'ReturnStatement')) {
    if (r.argument) {
      edits.push({ start: r.argument.start, end: r.argument.start, text: `(${LAST_VALUE_MARKER}.value = (` });
      edits.push({ start: r.argument.end, end: r.argument.end, text: `), ${LAST_VALUE_MARKER})` });
    } else {
      edits.push({ start: r.start, end: r.end, text: `return ${LAST_VALUE_MARKER};` });
    }
  }
}

function rewriteAwaits(program: Node, edits: Edit[]): void {
  for (const a of topLevel(program, 'AwaitExpression')) {
    edits.push({ start: a.argument.start, end: a.argument.start, text: `${AWAIT_FN}((` });
    edits.push({ start: a.argument.end, end: a.argument.end, text: '))' });
  }
}

/** Rewrites one top-level statement (see the file comment); `isLast`: its expression is the cell's value. */
function rewriteStatement(js: string, stmt: Node, isLast: boolean, rw: Rewrite): void {
  const { edits, hoisted, declared } = rw;
  switch (stmt.type) {
    case 'VariableDeclaration':
      rewriteDeclaration(js, stmt, edits);
      for (const d of stmt.declarations) boundNames(d.id, declared);
      break;
    case 'FunctionDeclaration':
      hoisted.push(stmt.id.name);
      declared.push(stmt.id.name);
      break;
    case 'ClassDeclaration':
      declared.push(stmt.id.name);
      edits.push({ start: stmt.start, end: stmt.start, text: `${stmt.id.name} = ` });
      edits.push({ start: stmt.end, end: stmt.end, text: ';' });
      break;
    case 'ImportDeclaration':
      for (const sp of stmt.specifiers) declared.push(sp.local.name);
      // Keep the statement's line breaks so the lines after it keep their numbers.
      edits.push({ start: stmt.start, end: stmt.end, text: rewriteImport(stmt) + '\n'.repeat(stmt.loc!.end.line - stmt.loc!.start.line) });
      break;
    case 'ExportNamedDeclaration':
    case 'ExportDefaultDeclaration':
    case 'ExportAllDeclaration':
      // `export {}` only marks a TypeScript file as a module; it exports nothing.
      if (stmt.type === 'ExportNamedDeclaration' && !stmt.declaration && stmt.specifiers.length === 0 && !stmt.source) {
        edits.push({ start: stmt.start, end: stmt.end, text: '' });
        break;
      }
      throw new CellSyntaxError('export is not supported in a notebook cell', stmt.loc!.start.line, stmt.loc!.start.column);
    case 'ExpressionStatement':
      if (isLast && !stmt.directive) {
        edits.push({ start: stmt.start, end: stmt.start, text: `${LAST_VALUE_MARKER}.value = (` });
        const exprEnd = stmt.expression.end;
        edits.push({ start: exprEnd, end: exprEnd, text: ')' });
      }
      break;
    default:
      break;
  }
}

/** Applies the edits and wraps the cell in the async function that runs it, with the column shifts made. */
function wrapCell(js: string, { edits, hoisted, declared }: Rewrite): TransformResult {
  const rewritten = applyEdits(js, edits);
  const starts = lineStarts(js);
  // `void 0;` first: a 'use strict' in the cell is then not a directive (strict mode would turn the
  // assignments that keep declarations between cells into ReferenceErrors).
  // A local, not a global `Deno`: libraries take a global one to mean they run on Deno.
  const deno = /\bDeno\b/.test(js) && !declared.includes('Deno') ? `const Deno = globalThis.Deno ?? ${DENO_FN};` : '';
  const prefix =
    `(async (${LAST_VALUE_MARKER}) => {void 0;${deno}` +
    hoisted.map((n) => `globalThis[${JSON.stringify(n)}] = ${n};`).join('') +
    ' ';
  // The suffix starts on a new line so that a trailing line comment in the cell cannot swallow it.
  const code = `${prefix}${rewritten}\n;return ${LAST_VALUE_MARKER};})({ value: undefined })`;
  const shifts: ColumnShift[] = [{ line: 1, col: 0, delta: prefix.length }];
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    const { line, col } = lineAndColumn(starts, e.start);
    shifts.push({ line, col, delta: e.text.length - (e.end - e.start) });
  }
  return { code, firstLineOffset: prefix.length, lineCount: starts.length, shifts, declared };
}

function rewriteDeclaration(src: string, decl: Node, edits: Edit[]): void {
  // `const a = 1, {b} = o;` → `(a = 1), ({b} = o);` — parentheses make destructuring an expression.
  // The leading `;` stops ASI from joining the line to a previous statement without a semicolon.
  const kindEnd = decl.start + decl.kind.length;
  edits.push({ start: decl.start, end: kindEnd, text: ';' });
  decl.declarations.forEach((d: Node) => {
    if (d.init) {
      edits.push({ start: d.start, end: d.start, text: '(' });
      edits.push({ start: d.end, end: d.end, text: ')' });
    } else {
      // `let x;` → `(x = undefined)`; only plain identifiers can lack an initialiser.
      edits.push({ start: d.start, end: d.start, text: '(' });
      edits.push({ start: d.end, end: d.end, text: ' = undefined)' });
    }
  });
  // A declaration without a trailing semicolon would otherwise merge with the next line's `(`.
  if (src[decl.end - 1] !== ';') edits.push({ start: decl.end, end: decl.end, text: ';' });
}

function rewriteImport(stmt: Node): string {
  const spec = JSON.stringify(stmt.source.value);
  const specifiers: Node[] = stmt.specifiers;
  if (specifiers.length === 0) return `await ${IMPORT_FN}(${spec});`;
  const parts: string[] = [];
  const named: string[] = [];
  for (const s of specifiers) {
    if (s.type === 'ImportDefaultSpecifier') parts.push(`${s.local.name} = __m.default;`);
    else if (s.type === 'ImportNamespaceSpecifier') parts.push(`${s.local.name} = __m;`);
    else {
      const imported = s.imported.type === 'Literal' ? JSON.stringify(s.imported.value) : s.imported.name;
      named.push(imported === s.local.name ? imported : `${imported}: ${s.local.name}`);
    }
  }
  if (named.length) parts.push(`({ ${named.join(', ')} } = __m);`);
  return `await (async () => { const __m = await ${IMPORT_FN}(${spec}); ${parts.join(' ')} })();`;
}

function applyEdits(src: string, edits: Edit[]): string {
  // Stable order: by position, inserts at the same position in the order they were added.
  const sorted = edits.map((e, i) => ({ ...e, i })).sort((a, b) => a.start - b.start || a.i - b.i);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    out += src.slice(pos, e.start) + e.text;
    pos = Math.max(pos, e.end);
  }
  return out + src.slice(pos);
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ClassDeclaration', 'ClassExpression']);

/** Nodes of `type` in the cell's own flow: not inside any function or class. */
function topLevel(program: Node, type: string): Node[] {
  const found: Node[] = [];
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    const n = node as Node;
    if (typeof n.type !== 'string') return;
    if (FUNCTION_TYPES.has(n.type)) return;
    if (n.type === type) found.push(n);
    for (const key of Object.keys(n)) {
      if (key === 'loc' || key === 'start' || key === 'end' || key === 'type') continue;
      visit((n as Record<string, unknown>)[key]);
    }
  };
  visit(program.body);
  return found;
}

/** Identifiers a declaration pattern binds: `a`, `{ b, c: d, ...e }`, `[f = 1, ...g]`. */
function boundNames(pattern: Node | null, out: string[]): void {
  if (!pattern) return;
  switch (pattern.type) {
    case 'Identifier':
      out.push(pattern.name);
      break;
    case 'ObjectPattern':
      for (const p of pattern.properties) boundNames(p.type === 'RestElement' ? p.argument : p.value, out);
      break;
    case 'ArrayPattern':
      for (const e of pattern.elements) boundNames(e, out);
      break;
    case 'RestElement':
      boundNames(pattern.argument, out);
      break;
    case 'AssignmentPattern':
      boundNames(pattern.left, out);
      break;
  }
}
