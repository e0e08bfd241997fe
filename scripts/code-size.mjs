#!/usr/bin/env node
/**
 * Code size report: every function-like span (function declarations, methods, arrow functions,
 * function expressions, constructors, get/set accessors) in src/ and renderers/ longer than the
 * function limit, and every file longer than the file limit. Spans are counted with the TypeScript
 * parser, from the line of the function's first token to the line of its last (JSDoc excluded).
 *
 *   node scripts/code-size.mjs [--json] [--check] [--max-function N] [--max-file N] [dir...]
 *
 * --json prints the report as JSON; --check exits 1 when anything is over a limit.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { json: false, check: false, maxFunction: 80, maxFile: 500, dirs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') opts.json = true;
    else if (a === '--check') opts.check = true;
    else if (a === '--max-function' || a === '--max-file') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${a} needs a positive whole number, got '${argv[i]}'`);
      opts[a === '--max-function' ? 'maxFunction' : 'maxFile'] = n;
    } else if (a.startsWith('--')) throw new Error(`unknown option '${a}'`);
    else opts.dirs.push(a);
  }
  if (!opts.dirs.length) opts.dirs = ['src', 'renderers'];
  return opts;
}

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|tsx|mts|cts)$/.test(name) && !/\.d\.[mc]?ts$/.test(name)) out.push(p);
  }
  return out;
}

function isFunctionLike(node) {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** A readable name for a function-like node: its own name, or what it is assigned to. */
function nameOf(node, sf) {
  if (ts.isConstructorDeclaration(node)) return `${className(node.parent)}.constructor`;
  if (node.name) {
    const own = node.name.getText(sf);
    return ts.isClassLike(node.parent) ? `${className(node.parent)}.${own}` : own;
  }
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name) return p.name.getText(sf);
  if (p && ts.isBinaryExpression(p) && p.right === node) return p.left.getText(sf);
  return '(anonymous)';
}

function className(node) {
  return node?.name?.text ?? '(class)';
}

function measure(file, maxFunction) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const lineOf = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const functions = [];
  const visit = (node) => {
    if (isFunctionLike(node) && node.body) {
      const start = lineOf(node.getStart(sf));
      const end = lineOf(node.getEnd());
      const lines = end - start + 1;
      if (lines > maxFunction) functions.push({ name: nameOf(node, sf), line: start, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  return { lines, functions };
}

function report(opts) {
  const result = { limits: { function: opts.maxFunction, file: opts.maxFile }, files: [], functions: [] };
  let scanned = 0;
  for (const dir of opts.dirs) {
    const abs = path.resolve(root, dir);
    for (const f of sourceFiles(abs)) {
      scanned++;
      const rel = path.relative(root, f).split(path.sep).join('/');
      const m = measure(f, opts.maxFunction);
      if (m.lines > opts.maxFile) result.files.push({ file: rel, lines: m.lines });
      for (const fn of m.functions) result.functions.push({ file: rel, ...fn });
    }
  }
  result.scanned = scanned;
  result.files.sort((a, b) => b.lines - a.lines);
  result.functions.sort((a, b) => b.lines - a.lines);
  return result;
}

function printText(r) {
  console.log(`${r.scanned} files scanned; limits: ${r.limits.function} lines a function, ${r.limits.file} a file.`);
  console.log(`Functions over ${r.limits.function} lines: ${r.functions.length}`);
  for (const f of r.functions) console.log(`  ${String(f.lines).padStart(4)}  ${f.file}:${f.line}  ${f.name}`);
  console.log(`Files over ${r.limits.file} lines: ${r.files.length}`);
  for (const f of r.files) console.log(`  ${String(f.lines).padStart(4)}  ${f.file}`);
}

try {
  const opts = parseArgs(process.argv.slice(2));
  const r = report(opts);
  if (opts.json) console.log(JSON.stringify(r, null, 2));
  else printText(r);
  if (opts.check && (r.functions.length || r.files.length)) process.exitCode = 1;
} catch (e) {
  console.error(`code-size: ${e.message}`);
  process.exitCode = 2;
}
