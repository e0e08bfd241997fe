/** The kernel process through its real IPC protocol (dist/kernel.js, as shipped). */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { KernelClient, type CellHandlers } from '../../src/client/kernelClient';
import { MIME } from '../../src/common/mime';
import type { TrainingRun } from '../../src/common/shapes';

const root = path.resolve(__dirname, '..', '..', '..');
const kernelScript = path.join(root, 'dist', 'kernel.js');
let dir: string;

function client(): KernelClient {
  return new KernelClient({ kernelScript, notebookDir: dir, workspaceFolders: [dir], backend: 'cpu', backendRequestedBy: 'test', tfjsNodeGpuPaths: [] });
}

interface Collected {
  stdout: string;
  stderr: string;
  results: Record<string, unknown>[];
  events: { kind: string; t: number; data?: unknown }[];
}

async function exec(k: KernelClient, code: string, language: 'javascript' | 'typescript' = 'javascript', extra: CellHandlers = {}) {
  const c: Collected = { stdout: '', stderr: '', results: [], events: [] };
  const res = await k.execute(code, language, 'Cell 1', {
    onStream: (n, t) => {
      c[n] += t;
      c.events.push({ kind: n, t: Date.now(), data: t });
      extra.onStream?.(n, t);
    },
    onResult: (b) => c.results.push(b),
    onDisplay: (id, b) => c.events.push({ kind: 'display', t: Date.now(), data: { id, b } }),
    onUpdate: (id, b) => {
      c.events.push({ kind: 'update', t: Date.now(), data: { id, b } });
      extra.onUpdate?.(id, b);
    },
    onPost: (id, m) => {
      c.events.push({ kind: 'post', t: Date.now(), data: { id, m } });
      extra.onPost?.(id, m);
    },
  });
  return { res, ...c, text: c.results.map((r) => r['text/plain']).join('') };
}

let k: KernelClient;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tl-kernel-'));
  mkdirSync(path.join(dir, 'node_modules', 'local-dep'), { recursive: true });
  writeFileSync(path.join(dir, 'node_modules', 'local-dep', 'index.js'), 'module.exports = { answer: 42 };');
  writeFileSync(path.join(dir, 'node_modules', 'local-dep', 'package.json'), '{"name":"local-dep","main":"index.js"}');
  k = client();
  const device = await k.start();
  assert.equal(device.backend, 'cpu');
});
after(() => k.kill('tests done'));

test('state persists across cells; const can be redeclared; top-level await works', async () => {
  assert.equal((await exec(k, 'const a = 20;\nfunction twice(n) { return 2 * n; }')).res.status, 'ok');
  const r = await exec(k, 'const b = await new Promise((r) => setTimeout(() => r(1), 10));\ntwice(a) + b');
  assert.equal(r.text, '41');
  assert.equal((await exec(k, 'const a = 1;\na')).text, '1');
});

test('TypeScript cells run', async () => {
  const r = await exec(k, 'type N = number;\nconst n: N = 5;\nconst sq = (x: N): N => x * x;\nsq(n)', 'typescript');
  assert.equal(r.res.status, 'ok');
  assert.equal(r.text, '25');
});

test('require and import resolve from the notebook folder', async () => {
  assert.equal((await exec(k, "require('local-dep').answer")).text, '42');
  assert.equal((await exec(k, "import dep from 'local-dep';\ndep.answer + 1")).text, '43');
});

test('errors carry the message and the cell line numbers', async () => {
  const r = await exec(k, 'const ok = 1;\n\nfunction inner() {\n  throw new RangeError("too far");\n}\ninner();');
  assert.equal(r.res.status, 'error');
  if (r.res.status !== 'error') return;
  assert.equal(r.res.error.ename, 'RangeError');
  assert.equal(r.res.error.evalue, 'too far');
  assert.ok(r.res.error.traceback.some((l) => l.includes('at inner (Cell 1:4:9)')), r.res.error.traceback.join('\n'));
  assert.ok(r.res.error.traceback.some((l) => /at Cell 1:6:1$/.test(l)), r.res.error.traceback.join('\n'));
  const syntax = await exec(k, 'let x = 1;\nlet y = ;');
  assert.equal(syntax.res.status, 'error');
  if (syntax.res.status === 'error') assert.ok(syntax.res.error.traceback.some((l) => l.includes('Cell 1:2:')));
});

test('console output streams while the cell runs', async () => {
  const start = Date.now();
  const r = await exec(k, "console.log('first');\nawait new Promise((r) => setTimeout(r, 400));\nconsole.error('second');\n'end'");
  assert.equal(r.stdout, 'first\n');
  assert.equal(r.stderr, 'second\n');
  const first = r.events.find((e) => e.kind === 'stdout')!;
  // The first line arrived long before the cell ended.
  assert.ok(first.t - start < 300, `first output after ${first.t - start} ms`);
  assert.equal(r.text, "'end'");
});

test('display, update and renderer messages reach the host', async () => {
  const r = await exec(k, "const h = display({ 'text/plain': 'v1' });\nh.post({ n: 1 });\nh.update({ 'text/plain': 'v2' });");
  assert.deepEqual(r.events.map((e) => e.kind), ['display', 'post', 'update']);
  assert.deepEqual((r.events[2].data as any).b, { 'text/plain': 'v2' });
});

test('interrupt stops model.fit at the next batch and keeps state', async () => {
  await exec(k, `
const m = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [8] }), tf.layers.dense({ units: 1 })] });
m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
const xs = tf.randomNormal([4096, 8]); const ys = tf.randomNormal([4096, 1]);
let batches = 0;`);
  let sent = false;
  const p = exec(k, "await m.fit(xs, ys, { epochs: 50, batchSize: 8, callbacks: { onBatchEnd: async () => { batches++; if (batches === 5) console.log('running'); } } });\n'finished'", 'javascript', {
    onStream: () => {
      if (!sent) {
        sent = true;
        void k.interrupt(5000);
      }
    },
  });
  const r = await p;
  assert.equal(r.res.status, 'interrupted');
  const after = await exec(k, 'batches');
  const n = Number(after.text);
  assert.ok(n >= 5 && n < 50 * 512, `batches ${n}`);
  // The model kept its weights and the kernel its variables.
  assert.equal((await exec(k, 'm.predict(tf.zeros([1, 8])).shape.join("x")')).text, "'1x1'");
});

test('an interrupted tl.fit with early stopping puts its best weights back in the kernel, as it does outside', async () => {
  // minDelta larger than any change: epoch 1 stays the best; `ref` trains that one epoch alone.
  await exec(k, `
const dense = () => tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2], activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) })] });
const bm = dense(); const ref = dense();
const bx = tf.randomNormal([512, 2], 0, 1, 'float32', 3);
const blobs = tl.fromTensors(bx, bx.slice([0, 0], [-1, 1]).greater(0).toInt().reshape([-1]), { classes: ['neg', 'pos'], batchSize: 8 });
const how = { learningRate: 0.05, seed: 9, verbose: false };
await tl.fit(ref, blobs, { ...how, epochs: 1 });`);
  const bundles: TrainingRun[] = [];
  let sent = false;
  const r = await exec(k, "await tl.fit(bm, blobs, { ...how, epochs: 500, earlyStopping: { monitor: 'loss', patience: 1000, minDelta: 100 }, batchMessageIntervalMs: 0 });\n'finished'", 'javascript', {
    onUpdate: (_id, b) => bundles.push(b[MIME.training] as TrainingRun),
    onPost: (_id, m) => {
      const msg = m as { type: string; point?: { epoch: number } };
      if (!sent && msg.type === 'epoch' && (msg.point?.epoch ?? 0) >= 3) {
        sent = true;
        void k.interrupt(5000);
      }
    },
  });
  assert.equal(r.res.status, 'interrupted');
  assert.equal(r.res.status === 'interrupted' && r.res.error.ename, 'KeyboardInterrupt', 'an interrupt reads as in Jupyter');
  const run = bundles.at(-1);
  assert.ok(run && run.status === 'interrupted', 'the run ends interrupted');
  assert.ok(run.history.length >= 3 && run.best?.epoch === 1, `epochs ${run.history.length}, best ${run.best?.epoch}`);
  assert.match(run.message ?? '', /the model has the weights of its best epoch \(1\)/);
  const diff = Number((await exec(k, 'Math.max(...bm.getWeights().map((w, i) => tf.sub(w, ref.getWeights()[i]).abs().max().dataSync()[0]))')).text);
  assert.ok(diff < 1e-6, `the model's weights differ from epoch 1's by ${diff}`);
});

test('interrupt ends a cell waiting on a timer without killing the kernel', async () => {
  const p = exec(k, 'for (let i = 0; ; i++) { globalThis.tick = i; await new Promise((r) => setTimeout(r, 10)); }');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await k.interrupt(3000), 'interrupted');
  assert.equal((await p).res.status, 'interrupted');
  assert.equal((await exec(k, 'tick > 0 && a === 1')).text, 'true');
});

test('a cell stuck in synchronous code is stopped by killing the process; the user is told state was lost', async () => {
  const k2 = client();
  await k2.start();
  const p = exec(k2, 'while (true) {}');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await k2.interrupt(500), 'killed');
  const r = await p;
  assert.equal(r.res.status, 'died');
  if (r.res.status === 'died') assert.match(r.res.error.evalue, /stuck in synchronous code.*variables were lost/s);
  assert.equal(k2.alive, false);
});

test('a kernel that dies ends the running cell with a clear error', async () => {
  const k3 = client();
  await k3.start();
  const r = await exec(k3, "console.log('before');\nprocess.kill(process.pid, 'SIGKILL');\nawait new Promise(() => {});");
  assert.equal(r.res.status, 'died');
  if (r.res.status === 'died') assert.match(r.res.error.evalue, /killed by SIGKILL.*next run starts a fresh kernel/s);
});

test('overhead of an empty cell (median of 50)', async () => {
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = process.hrtime.bigint();
    await exec(k, '');
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[25];
  console.log(`empty-cell round trip: median ${median.toFixed(2)} ms, p90 ${times[45].toFixed(2)} ms`);
  assert.ok(Number.isFinite(median));
});

test('an interrupted loop does not carry on in the background', async () => {
  const p = exec(k, 'for (let i = 0; ; i++) { globalThis.spin = i; await new Promise((r) => setTimeout(r, 10)); }');
  await new Promise((r) => setTimeout(r, 150));
  await k.interrupt(3000);
  assert.equal((await p).res.status, 'interrupted');
  const first = Number((await exec(k, 'spin')).text);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(Number((await exec(k, 'spin')).text), first);
  // Functions defined by the interrupted cell still work later.
  await exec(k, 'async function later() { await null; return 5; }');
  assert.equal((await exec(k, 'await later()')).text, '5');
});

test('code of an interrupted cell that still runs cannot print into the next cell or keep training', async () => {
  await exec(k, `
async function ticker() { for (let i = 0; i < 20; i++) { console.log('tick', i); await new Promise((r) => setTimeout(r, 40)); } }
async function trainer() {
  for (let i = 0; i < 20; i++) { await m.fit(xs.slice(0, 64), ys.slice(0, 64), { epochs: 1, batchSize: 32 }); globalThis.fits = i + 1; await new Promise((r) => setTimeout(r, 20)); }
}`);
  const p = exec(k, 'ticker(); trainer();\nawait new Promise(() => {});');
  await new Promise((r) => setTimeout(r, 250));
  await k.interrupt(5000);
  assert.equal((await p).res.status, 'interrupted');
  const fitsAtInterrupt = Number((await exec(k, 'globalThis.fits ?? 0')).text);
  const next = await exec(k, "await new Promise((r) => setTimeout(r, 600));\n'next'");
  assert.equal(next.text, "'next'");
  assert.ok(!next.stdout.includes('tick'), `the next cell got the old cell's output: ${JSON.stringify(next.stdout)}`);
  assert.ok(Number((await exec(k, 'globalThis.fits ?? 0')).text) <= fitsAtInterrupt + 1, 'the old cell stopped training');
});

test('Ctrl+C sent to the kernel process is ignored (interrupts come over IPC)', async () => {
  const k4 = client();
  await k4.start();
  process.kill(k4.pid!, 'SIGINT');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(k4.alive, true);
  assert.equal((await exec(k4, '1 + 1')).text, '2');
  k4.kill('test done');
});

test('a kernel that cannot be started reports why, and is not reused', async () => {
  const bad = new KernelClient({ kernelScript, nodePath: '/nonexistent/node', notebookDir: dir, workspaceFolders: [], backend: 'cpu', backendRequestedBy: 'test', tfjsNodeGpuPaths: [] });
  const r = await exec(bad, '1');
  assert.equal(r.res.status, 'died');
  if (r.res.status === 'died') assert.match(r.res.error.evalue, /Could not start the kernel process \(\/nonexistent\/node/);
  assert.equal(bad.alive, false);
  await bad.shutdown();
});

test("a cell may declare names Node already defines as getters (crypto) or that the kernel uses (process)", async () => {
  assert.equal((await exec(k, "const crypto = require('node:crypto');\ntypeof crypto.createHash")).text, "'function'");
  const r = await exec(k, "const process = { mine: true };\nconsole.log('still streams');\nprocess.mine");
  assert.equal(r.text, 'true');
  assert.equal(r.stdout, 'still streams\n');
  // Put the real one back for the cells after this test.
  assert.equal((await exec(k, "globalThis.process = require('node:process');\ntypeof process.env")).text, "'object'");
});

test('backend "webgpu" (setting or notebook metadata) runs depthwise convolutions on Dawn, or says why not', async (t) => {
  const kw = new KernelClient({ kernelScript, notebookDir: dir, workspaceFolders: [dir], backend: 'webgpu', backendRequestedBy: 'notebook metadata', tfjsNodeGpuPaths: [] });
  const device = await kw.start();
  try {
    const skipped = device.skipped.find((s) => s.backend === 'webgpu');
    if (skipped) {
      // No adapter on this machine: the reason is reported, and the next backend runs.
      assert.ok(skipped.reason.length > 10, skipped.reason);
      t.skip(`no WebGPU here: ${skipped.reason}`);
      return;
    }
    assert.equal(device.backend, 'webgpu');
    assert.equal(device.requestedBy, 'notebook metadata');
    const r = await exec(kw, 'const m = tl.mobileNetV2Like({ inputSize: 32, alpha: 0.35, blocks: 2 });\n(await m.predict(tf.zeros([2, 32, 32, 3])).data()).length');
    assert.equal(r.res.status, 'ok', JSON.stringify(r.res));
    assert.equal(r.text, '163840');
  } finally {
    kw.kill('test done');
  }
});

test("packages the core loads lazily (sharp, onnxruntime-node) are also looked up in the workspace's node_modules", async () => {
  const r = await exec(k, `require('node:module').globalPaths.includes(${JSON.stringify(path.join(dir, 'node_modules'))})`);
  assert.equal(r.text, 'true');
});
