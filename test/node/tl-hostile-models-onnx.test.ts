/**
 * .onnx files with external data: ONNX Runtime opens whatever path a tensor names, so tl.load checks
 * every tensor first (initializers, Constant attributes, subgraphs): external data must be a regular
 * file inside the model's folder, with its offset and length inside that file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { onnx } from 'onnx-proto';
import { IrGraph, encodeModel } from '../../src/tl/onnx/ir';
import { load } from '../../src/tl/models';
import { tmpDir } from './tl-fixtures';
import { leaksOutside, SENTINEL } from './tl-hostile-fixtures';

const isWindows = process.platform === 'win32';
const root = tmpDir('hostile-onnx');
const secret = path.join(root, 'secret.bin');
fs.writeFileSync(secret, SENTINEL);
const W = new Float32Array([2, 3, 4]);

/** y = x · w on NHWC images, with w (3 floats) stored as external data described by `external`. */
function modelWithExternal(dir: string, external: Record<string, string> | undefined, where: 'initializer' | 'constant' | 'subgraph' = 'initializer'): string {
  fs.mkdirSync(dir, { recursive: true });
  const g = new IrGraph('ext');
  const x = g.addInput('images', ['N', 4, 4, 3]);
  g.addOutput(g.one('Mul', [x, g.floats('w', [3], W)], 'scaled'), 'y', ['N', 4, 4, 3]);
  const model = onnx.ModelProto.decode(encodeModel(g));
  const graph = model.graph as onnx.GraphProto;
  const w = graph.initializer.find((t) => (t.name ?? '').startsWith('w')) as onnx.TensorProto;
  const target = where === 'subgraph' ? onnx.TensorProto.create({ ...w, name: 'hidden' }) : w;
  if (external) {
    target.rawData = new Uint8Array(0);
    target.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    target.externalData = Object.entries(external).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  }
  if (where === 'constant') {
    graph.initializer = graph.initializer.filter((t) => t !== w);
    graph.node.unshift(onnx.NodeProto.create({ opType: 'Constant', name: 'const_w', output: [w.name], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: w }] }));
  }
  if (where === 'subgraph') {
    // The tensor hides in the then-branch of an If node that nothing uses.
    const branch = onnx.GraphProto.create({ name: 'then', initializer: [target], output: [] });
    graph.node.push(onnx.NodeProto.create({ opType: 'If', name: 'if', input: [], output: ['unused'], attribute: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch }] }));
  }
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

const outcomes: { name: string; clear: boolean }[] = [];

async function refused(name: string, file: string, expect: RegExp): Promise<void> {
  const message = await load(file, { onnx: { threads: 1 } }).then(
    async (m) => {
      await (m as { dispose(): Promise<void> | void }).dispose();
      return 'loaded';
    },
    (e: Error) => e.message,
  );
  outcomes.push({ name, clear: expect.test(message) && !leaksOutside(message) });
  assert.match(message, expect, name);
  assert.ok(!leaksOutside(message), `${name}: ${message}`);
}

test('external data inside the folder loads and is used', async () => {
  const dir = path.join(root, 'good');
  const file = modelWithExternal(dir, { location: 'w.data' });
  fs.writeFileSync(path.join(dir, 'w.data'), Buffer.from(W.buffer));
  const fx = (await load(file, { onnx: { threads: 1 } })) as unknown as { run(x: Float32Array, s: number[]): Promise<{ data: Float32Array }>; dispose(): Promise<void> };
  const out = await fx.run(new Float32Array(48).fill(1), [1, 4, 4, 3]);
  assert.deepEqual(Array.from(out.data.subarray(0, 3)), [2, 3, 4]);
  await fx.dispose();
});

const cases: { name: string; make(dir: string): string; expect: RegExp; skip?: boolean }[] = [
  { name: '../ to a file outside', make: (d) => modelWithExternal(d, { location: '../secret.bin', length: '12' }), expect: /model\.onnx: initializer "w": external data "\.\.\/secret\.bin" goes up a folder/ },
  { name: 'absolute path outside', make: (d) => modelWithExternal(d, { location: secret }), expect: /external data ".*secret\.bin" is an absolute path/ },
  { name: '/etc/passwd', make: (d) => modelWithExternal(d, { location: '/etc/passwd' }), expect: /is an absolute path/ },
  { name: 'no location', make: (d) => modelWithExternal(d, { offset: '0' }), expect: /initializer "w" says its data is external but names no "location"/ },
  { name: 'link to a file outside', make: (d) => {
    const f = modelWithExternal(d, { location: 'w.data' });
    fs.symlinkSync(secret, path.join(d, 'w.data'));
    return f;
  }, expect: /external data "w\.data" is a link that leads outside the model folder/, skip: isWindows },
  { name: 'named pipe', make: (d) => {
    const f = modelWithExternal(d, { location: 'w.data' });
    execFileSync('mkfifo', [path.join(d, 'w.data')]);
    return f;
  }, expect: /external data "w\.data" is a named pipe/, skip: isWindows },
  { name: 'offset past the end', make: (d) => {
    const f = modelWithExternal(d, { location: 'w.data', offset: '4096', length: '12' });
    fs.writeFileSync(path.join(d, 'w.data'), Buffer.from(W.buffer));
    return f;
  }, expect: /external data "w\.data": offset 4096 and length 12 do not lie inside the file's 12 bytes/ },
  { name: 'negative length', make: (d) => {
    const f = modelWithExternal(d, { location: 'w.data', length: '-5' });
    fs.writeFileSync(path.join(d, 'w.data'), Buffer.from(W.buffer));
    return f;
  }, expect: /do not lie inside the file/ },
  { name: 'in a Constant node', make: (d) => modelWithExternal(d, { location: '../secret.bin' }, 'constant'), expect: /node "const_w" attribute "value": external data "\.\.\/secret\.bin" goes up a folder/ },
  { name: 'in a subgraph', make: (d) => modelWithExternal(d, { location: '../secret.bin' }, 'subgraph'), expect: /attribute "then_branch" → initializer "hidden": external data "\.\.\/secret\.bin" goes up a folder/ },
];

for (const [i, c] of cases.entries()) test(`refused: ${c.name}`, { skip: c.skip }, () => refused(c.name, c.make(path.join(root, `m${i}`)), c.expect));

test('an ONNX tensor over the budget is refused', async () => {
  const dir = path.join(root, 'budget');
  const file = modelWithExternal(dir, undefined);
  const msg = await load(file, { maxBytes: 8, onnx: { threads: 1 } }).then(() => 'loaded', (e: Error) => e.message);
  outcomes.push({ name: 'over the budget', clear: /model\.onnx holds .*; the loading budget is 8 bytes/.test(msg) });
  assert.match(msg, /model\.onnx holds .*; the loading budget is 8 bytes/);
});

test('figures: hostile ONNX files and clear errors', () => {
  const clear = outcomes.filter((o) => o.clear).length;
  console.log(`hostile ONNX cases: ${outcomes.length}, clear errors: ${clear}`);
  assert.equal(clear, outcomes.length);
});
