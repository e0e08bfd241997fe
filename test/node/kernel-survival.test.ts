/**
 * The kernel survives its cells: errors nothing awaits (floating promises, throws from timers) are
 * reported on the cell that raised them and never end the process, on the WASM backend (whose
 * Emscripten glue installs process listeners that rethrow) as on cpu.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CellError } from '../../src/common/protocol';
import { type CellResult, KernelClient } from '../../src/client/kernelClient';

const root = path.resolve(__dirname, '..', '..', '..');
const kernelScript = path.join(root, 'dist', 'kernel.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-survival-'));

function client(backend: 'wasm' | 'cpu'): KernelClient {
  return new KernelClient({ kernelScript, notebookDir: dir, workspaceFolders: [dir], backend, backendRequestedBy: 'test', tfjsNodeGpuPaths: [] });
}

interface Ran {
  res: CellResult;
  text: string;
  stdout: string;
  late: CellError[];
}

async function exec(k: KernelClient, code: string, cellName = 'Cell 1'): Promise<Ran> {
  const ran: Ran = { res: { status: 'ok' }, text: '', stdout: '', late: [] };
  ran.res = await k.execute(code, 'javascript', cellName, {
    onResult: (b) => (ran.text += String(b['text/plain'])),
    onStream: (name, t) => name === 'stdout' && (ran.stdout += t),
    onLateError: (e) => ran.late.push(e),
  });
  return ran;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errorOf(r: Ran): CellError {
  assert.equal(r.res.status, 'error', JSON.stringify(r.res));
  return (r.res as { error: CellError }).error;
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`on the ${backend} backend`, { timeout: 120_000 }, () => {
    let k: KernelClient;
    before(async () => {
      k = client(backend);
      const device = await k.start();
      assert.equal(device.backend, backend);
    });
    after(() => k.kill('tests done'));

    test('only the kernel listens for stray errors (the backend\'s rethrowing listeners are gone)', async () => {
      assert.equal((await exec(k, "process.listenerCount('unhandledRejection') + '/' + process.listenerCount('uncaughtException')")).text, "'1/1'");
    });

    test('a floating rejection fails its running cell with a clear error; the variables stay', async () => {
      await exec(k, 'const keep = 41;');
      const r = await exec(k, "Promise.reject(new Error('floating'));\nawait new Promise((r) => setTimeout(r, 200));\nconsole.log('not reached');", 'Cell 2');
      const e = errorOf(r);
      assert.equal(e.evalue, 'floating');
      assert.match(e.traceback[0], /^Unhandled promise rejection in Cell 2: .*nothing awaited/);
      assert.ok(e.traceback.includes('    at Cell 2:1:16'), e.traceback.join('\n'));
      assert.equal(r.stdout, '');
      assert.ok(k.alive);
      assert.equal((await exec(k, 'keep + 1')).text, '42');
    });

    test('tl.load without await (a typo in the name) is reported on its cell, not fatal', async () => {
      const r = await exec(k, "const model = tl.load('no-such-model-anywhere');\nawait new Promise((r) => setTimeout(r, 500));", 'Cell 3');
      const e = errorOf(r);
      assert.match(e.traceback[0], /Unhandled promise rejection in Cell 3/);
      assert.match(e.evalue, /no-such-model-anywhere/);
      assert.equal((await exec(k, 'keep')).text, '41');
    });

    test('a throw from a timer after its cell finished is a late error on that cell; the next cell is untouched', async () => {
      const first = await exec(k, "setTimeout(() => { throw new TypeError('from timer'); }, 100);\n'scheduled'", 'Cell 4');
      assert.equal(first.res.status, 'ok');
      const next = await exec(k, "await new Promise((r) => setTimeout(r, 400));\n'next ran'", 'Cell 5');
      assert.equal(next.res.status, 'ok');
      assert.equal(next.text, "'next ran'");
      assert.equal(next.late.length, 0);
      assert.equal(first.late.length, 1);
      const e = first.late[0];
      assert.equal(e.ename, 'TypeError');
      assert.match(e.traceback[0], /^Uncaught exception in Cell 4, after the cell had finished, thrown from a callback/);
      assert.ok(e.traceback.some((l) => l.includes('(Cell 4:1:26)')), e.traceback.join('\n'));
      assert.equal((await exec(k, 'keep')).text, '41');
    });

    test('a throw from a timer while its cell still runs fails that cell', async () => {
      const r = await exec(k, "setTimeout(() => { throw new Error('tick'); }, 20);\nawait new Promise((r) => setTimeout(r, 5000));", 'Cell 6');
      const e = errorOf(r);
      assert.match(e.traceback[0], /^Uncaught exception in Cell 6, thrown from a callback/);
      assert.equal((await exec(k, 'keep')).text, '41');
    });

    test('a cell looping over fits shorter than the guard\'s yield interval still lets the event loop run (so an interrupt gets in)', async () => {
      // Each fit is a few ms; tfjs itself yields only every 125 ms within one fit, so without one
      // clock across fits no timer (and no IPC message) would run until the loop ends.
      const r = await exec(k, "const small = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });\nsmall.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });\nconst [a, b] = [tf.ones([4, 2]), tf.ones([4, 1])];\nlet turns = 0;\nconst ticker = setInterval(() => turns++, 0);\nconst started = Date.now();\nlet fits = 0;\nwhile (Date.now() - started < 600) { await small.fit(a, b, { epochs: 1, batchSize: 4 }); fits++; }\nclearInterval(ticker);\ntf.dispose([a, b, small]);\n`${fits > 1} ${turns > 0}`");
      assert.equal(r.text, "'true true'", JSON.stringify(r.res));
    });

    test('an interrupt that stops floating training code stays an interrupt, not an error', async () => {
      await exec(k, "const net = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [4] })] });\nnet.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });\nconst xs = tf.randomNormal([256, 4]), ys = tf.randomNormal([256, 1]);");
      const p = exec(k, '(async () => { for (;;) await net.fit(xs, ys, { epochs: 1, batchSize: 8 }); })();\nawait new Promise(() => {});', 'Cell 8');
      await sleep(300);
      // The kernel answers within milliseconds (the test below checks why it can); a loaded machine
      // (2 cores, other test files training at once) may still take seconds to schedule it.
      assert.equal(await k.interrupt(30_000), 'interrupted');
      const r = await p;
      assert.equal(r.res.status, 'interrupted', JSON.stringify(r.res));
      await sleep(200);
      assert.deepEqual(r.late, []);
      assert.equal((await exec(k, 'keep')).text, '41');
    });

    test('hostile: a non-Error rejection, a listener that rethrows, all listeners removed, an async function left running', async () => {
      const plain = errorOf(await exec(k, 'Promise.reject(42);\nawait new Promise((r) => setTimeout(r, 100));'));
      assert.equal(plain.evalue, 'Uncaught 42');
      // Code that does what Emscripten does: the kernel's own report comes first and only once.
      const rethrow = errorOf(await exec(k, "process.on('unhandledRejection', (r) => { throw r; });\nPromise.reject(new RangeError('again'));\nawait new Promise((r) => setTimeout(r, 100));"));
      assert.equal(rethrow.ename, 'RangeError');
      // Removing every listener (the kernel's too) in the cell that then fails: still reported, still alive.
      const removed = errorOf(await exec(k, "process.removeAllListeners();\nsetTimeout(() => { throw new Error('after removal'); }, 10);\nawait new Promise((r) => setTimeout(r, 200));"));
      assert.equal(removed.evalue, 'after removal');
      // A cell's own listener still runs (and may swallow); the domain module still loads.
      const own = await exec(k, "globalThis.seen = [];\nprocess.on('uncaughtException', (e) => seen.push(e.message));\nconst domain = require('node:domain');\nsetTimeout(() => { throw new Error('seen by both'); }, 10);\nawait new Promise((r) => setTimeout(r, 200));");
      assert.equal(errorOf(own).evalue, 'seen by both');
      assert.equal((await exec(k, "seen.join() + ' ' + typeof domain.create")).text, "'seen by both function'");
      await exec(k, "void process.removeAllListeners('uncaughtException');");
      // A listener on the kernel's own IPC messages throws outside any cell's context: it is shown on
      // the last cell that ran, and says so.
      const armed = await exec(k, "process.once('message', () => { throw new Error('from a message listener'); });\n'armed'", 'Cell 9');
      assert.equal((await exec(k, '1 + 1', 'Cell 10')).text, '2');
      await sleep(200);
      assert.deepEqual(armed.late.map((e) => e.evalue), ['from a message listener']);
      assert.match(armed.late[0].traceback[0], /^Uncaught exception outside any cell's code \(shown on Cell 9, the last cell run\)/);
      const late = await exec(k, "(async () => { await new Promise((r) => setTimeout(r, 50)); throw new Error('async later'); })();\n1");
      await sleep(300);
      assert.equal(late.late.length, 1);
      assert.equal(late.late[0].evalue, 'async later');
      assert.ok(k.alive);
      assert.equal((await exec(k, 'keep')).text, '41');
    });
  });
}

test('process.exit in a cell ends the kernel; the cell keeps its last output and says why', { timeout: 60_000 }, async () => {
  const k = client('wasm');
  await k.start();
  const r = await exec(k, "console.log('last words');\nprocess.stdout.write('no newline');\nprocess.exit(3);", 'Cell 7');
  assert.equal(r.res.status, 'died');
  assert.equal(r.stdout, 'last words\nno newline');
  if (r.res.status === 'died') assert.match(r.res.error.evalue, /^process\.exit\(3\) was called in Cell 7: the kernel process ended\. All variables were lost/);
  assert.equal(k.alive, false);
});

test('a WASM backend a cell switches to later cannot end the kernel either (its listeners are guarded)', { timeout: 60_000 }, async () => {
  const k = client('cpu');
  await k.start();
  try {
    assert.equal((await exec(k, "await tf.setBackend('wasm');\ntf.getBackend()")).text, "'wasm'");
    const r = await exec(k, "const z = 5;\nPromise.reject(new Error('after wasm init'));\nawait new Promise((r) => setTimeout(r, 100));");
    assert.equal(errorOf(r).evalue, 'after wasm init');
    const timer = await exec(k, "setTimeout(() => { throw new Error('timer after wasm init'); }, 10);\n1");
    await sleep(300);
    assert.deepEqual(timer.late.map((e) => e.evalue), ['timer after wasm init']);
    assert.equal((await exec(k, 'z')).text, '5');
  } finally {
    k.kill('test done');
  }
});
