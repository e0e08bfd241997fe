import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import { originalColumn, transformCell, transpileTypeScript } from '../../src/runtime/transform';

async function run(src: string, lang: 'javascript' | 'typescript' = 'javascript'): Promise<unknown> {
  const { code } = transformCell(src, lang);
  return (await (vm.runInThisContext(code) as Promise<{ value: unknown }>)).value;
}

test('top-level declarations become globals and can be redeclared', async () => {
  assert.equal(await run('const tA = 1; let tB = 2; var tC = 3;\ntA + tB + tC'), 6);
  assert.equal(await run('const tA = 10;\ntA'), 10);
  assert.equal((globalThis as any).tA, 10);
});

test('destructuring, classes, functions (hoisted) and uninitialised lets', async () => {
  const v = await run('const r = hoisted();\nfunction hoisted() { return 4; }\nconst {tD, ...tRest} = {tD: 1, e: 2}, [tF] = [3];\nclass TK { v = 5 }\nlet tU;\n[r, tD, tRest.e, tF, new TK().v, tU]');
  assert.deepEqual(v, [4, 1, 2, 3, 5, undefined]);
  assert.equal(typeof (globalThis as any).hoisted, 'function');
  assert.equal(typeof (globalThis as any).TK, 'function');
});

test('a declaration after a line without a semicolon is not joined to it (ASI)', async () => {
  assert.equal(await run('let tG = 1\nconst tH = [2]\ntG + tH[0]'), 3);
});

test('top-level await and the last expression value', async () => {
  assert.equal(await run('const tW = await Promise.resolve(7);\ntW * 2'), 14);
  assert.equal(await run('const tX = 1;'), undefined);
  assert.equal(await run('1 + 1 // trailing comment'), 2);
});

test('imports resolve through the cell import function', async () => {
  (globalThis as any).__tl_import = async (s: string) => ({ ...require(s), default: require(s) });
  const v = await run("import path, { join as j } from 'node:path';\nimport * as os from 'node:os';\n[typeof path.join, j('a', 'b'), typeof os.cpus]");
  assert.deepEqual(v, ['function', 'a/b', 'function']);
});

test('TypeScript is transpiled with lines kept', async () => {
  const ts = 'interface P { a: number }\nconst tp: P = { a: 2 };\nfunction tf2(n: number): number { return n * tp.a; }\ntf2(21)';
  assert.equal(await run(ts, 'typescript'), 42);
  assert.equal(transpileTypeScript(ts).split('\n').length, ts.split('\n').length);
});

test('syntax errors report the cell line', () => {
  assert.throws(() => transformCell('const a = 1;\nconst = 2;', 'javascript'), (e: any) => e.name === 'SyntaxError' && e.line === 2);
});

test('column mapping undoes the rewrite', () => {
  const { code, shifts } = transformCell('const a = 1;\nfoo(a)', 'javascript');
  const line2 = code.split('\n')[1];
  const genCol = line2.indexOf('foo') + 1;
  assert.equal(originalColumn(shifts, 2, genCol), 1);
});

test('top-level awaits are wrapped for interrupts, nested ones are not', async () => {
  const seen: unknown[] = [];
  (globalThis as any).__tl_await = async (v: unknown) => {
    seen.push(await v);
    return v;
  };
  const { code } = transformCell('async function inner() { return await 1; }\nconst w = await inner();\nw + (await 2)', 'javascript', true);
  const v = await (vm.runInThisContext(code) as Promise<{ value: unknown }>);
  assert.equal(v.value, 3);
  assert.deepEqual(seen, [1, 2]);
});

test('shebang, use strict, top-level return and TypeScript export {}', async () => {
  assert.equal(await run('#!/usr/bin/env node\nconst sb = 2;\nsb'), 2);
  assert.equal(await run("'use strict';\nconst us = 3;\nus"), 3);
  assert.equal(await run('const rv = 4;\nif (rv > 1) return rv * 10;\n1'), 40);
  assert.equal(await run('return;'), undefined);
  assert.equal(await run('export {};\nconst ex: number = 5;\nex', 'typescript'), 5);
  assert.throws(() => transformCell('export const nope = 1;', 'javascript'), /export is not supported/);
});
