/**
 * The model-loader fuzzer: seeded random mutations of a valid model.json plus its shard (paths,
 * shapes, dtypes, quantization, topology, metadata, truncation, broken JSON). Each mutated model must
 * load or fail with a clear error within a few seconds, and the loader must open no file outside the
 * mutated model's folder: every open/readFile is recorded while it runs, and the sentinel's bytes
 * must not appear in any loaded weight.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../src/tl/data/split';
import { load } from '../../src/tl/models';
import { holdsSentinel, leaksOutside, playground, type Playground } from './tl-hostile-fixtures';
import { writeGraphModel } from './tl-fixtures';


type Json = Record<string, any>;

interface Mutant {
  json: Json | string;
  shard: Buffer;
  /** Extra files and links to make in the folder. */
  make: ((dir: string) => void)[];
  /** Whether a mutation points outside the folder (the error must then tell nothing about it). */
  outside: boolean;
  ops: string[];
}

interface Ctx {
  r: () => number;
  pg: Playground;
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

function weirdNumber(r: () => number): unknown {
  return pick(r, [0, -1, 1.5, 2 ** 31, 2 ** 53, 1e9, 100000, NaN, null, '3', [], {}, -0, 7, 3, 4, Infinity]);
}

function randomText(r: () => number, n = 1 + Math.floor(r() * 12)): string {
  const alphabet = 'ab./\\:%?#\u0000\u202e…-_ 9';
  return Array.from({ length: n }, () => pick(r, [...alphabet])).join('');
}

function groups(j: Json): Json[] {
  return Array.isArray(j.weightsManifest) ? j.weightsManifest.filter((g: unknown) => g && typeof g === 'object') : [];
}

function someWeight(c: Ctx, j: Json): Json | undefined {
  const ws = groups(j).flatMap((g) => (Array.isArray(g.weights) ? g.weights : [])).filter((w: unknown) => w && typeof w === 'object');
  return ws.length ? pick(c.r, ws) : undefined;
}

function firstGroup(j: Json): Json | undefined {
  return groups(j)[0];
}

/** The mutation operators, by family. Each edits `m` in place and returns its name. */
const OPS: ((c: Ctx, m: Mutant & { json: Json }) => string)[] = [
  // paths
  (c, m) => {
    const g = firstGroup(m.json);
    if (!g) return 'path:none';
    const p = pick(c.r, ['abs', 'dotdot', 'etc', 'devzero', 'winabs', 'url', 'text', 'empty', 'nonstring', 'subdotdot', 'extra', 'drop']);
    const outside = { abs: c.pg.secret, dotdot: '../../secret.bin', etc: '../../../../../../../etc/passwd', devzero: '/dev/zero', winabs: 'C:\\secret.bin', subdotdot: 'a/../../../secret.bin' } as Record<string, string>;
    // Only the latest path counts: a later mutation may point the path back inside.
    m.outside = p in outside;
    if (p in outside) g.paths = [outside[p]];
    else if (p === 'url') g.paths = [pick(c.r, ['file:///etc/passwd', 'http://127.0.0.1:9/w.bin', '//evil/w.bin'])];
    else if (p === 'text') g.paths = [randomText(c.r)];
    else if (p === 'empty') g.paths = [''];
    else if (p === 'nonstring') g.paths = [weirdNumber(c.r)];
    else if (p === 'extra') g.paths = [...(g.paths ?? []), 'group1-shard1of1.bin'];
    else g.paths = [];
    return `path:${p}`;
  },
  // files in the folder: links, pipes, folders
  (c, m) => {
    const g = firstGroup(m.json);
    if (!g || process.platform === 'win32') return 'file:none';
    const kind = pick(c.r, ['link-out', 'link-rel-out', 'link-in', 'fifo', 'dir', 'link-dir-out', 'link-loop']);
    const name = `x${m.make.length}.bin`;
    g.paths = kind === 'link-dir-out' ? [`d${name}/secret.bin`] : [name];
    const secret = c.pg.secret;
    m.make.push((dir) => {
      const x = path.join(dir, name);
      if (kind === 'link-out') fs.symlinkSync(secret, x);
      if (kind === 'link-rel-out') fs.symlinkSync('../../secret.bin', x);
      if (kind === 'link-in') fs.symlinkSync('group1-shard1of1.bin', x);
      if (kind === 'fifo') execFileSync('mkfifo', [x]);
      if (kind === 'dir') fs.mkdirSync(x);
      if (kind === 'link-loop') fs.symlinkSync(name, x);
      if (kind === 'link-dir-out') fs.symlinkSync(path.dirname(secret), path.join(dir, `d${name}`));
    });
    m.outside = kind.includes('out');
    return `file:${kind}`;
  },
  // shapes
  (c, m) => {
    const w = someWeight(c, m.json);
    if (!w) return 'shape:none';
    const kind = pick(c.r, ['dim', 'add', 'drop', 'empty', 'notarray', 'huge']);
    if (!Array.isArray(w.shape)) w.shape = [];
    if (kind === 'dim' && w.shape.length) w.shape[Math.floor(c.r() * w.shape.length)] = weirdNumber(c.r);
    if (kind === 'add') w.shape.push(weirdNumber(c.r));
    if (kind === 'drop') w.shape.pop();
    if (kind === 'empty') w.shape = [];
    if (kind === 'notarray') w.shape = weirdNumber(c.r);
    if (kind === 'huge') w.shape = [2 ** Math.floor(10 + c.r() * 40), 1 + Math.floor(c.r() * 4)];
    return `shape:${kind}`;
  },
  // dtypes
  (c, m) => {
    const w = someWeight(c, m.json);
    if (!w) return 'dtype:none';
    w.dtype = pick(c.r, ['float32', 'int32', 'bool', 'complex64', 'string', 'float16', 'uint8', 'float64', null, 7]);
    return `dtype:${String(w.dtype)}`;
  },
  // quantization
  (c, m) => {
    const w = someWeight(c, m.json);
    if (!w) return 'quant:none';
    const kind = pick(c.r, ['uint8', 'uint16', 'float16', 'null', 'bogus', 'noscale']);
    if (kind === 'null') w.quantization = null;
    else if (kind === 'bogus') w.quantization = { dtype: 'int4', scale: 1, min: 0 };
    else if (kind === 'noscale') w.quantization = { dtype: 'uint8' };
    else w.quantization = { dtype: kind, scale: pick(c.r, [0.01, 1, NaN, -2]), min: pick(c.r, [0, -1, 1e30]) };
    return `quant:${kind}`;
  },
  // weight list
  (c, m) => {
    const g = firstGroup(m.json);
    if (!g || !Array.isArray(g.weights)) return 'weights:none';
    const kind = pick(c.r, ['drop', 'dup', 'rename', 'reverse', 'notobject', 'clear']);
    if (kind === 'drop') g.weights.pop();
    if (kind === 'dup' && g.weights.length) g.weights.push(structuredClone(g.weights[0]) ?? null);
    if (kind === 'rename' && g.weights[0] && typeof g.weights[0] === 'object') g.weights[0].name = randomText(c.r);
    if (kind === 'reverse') g.weights.reverse();
    if (kind === 'notobject') g.weights = [weirdNumber(c.r)];
    if (kind === 'clear') m.json.weightsManifest = pick(c.r, [[], null, {}, 'x', [null]]);
    return `weights:${kind}`;
  },
  // topology
  (c, m) => {
    const t = m.json.modelTopology;
    const layer = t?.config?.layers?.[0]?.config;
    const node = Array.isArray(t?.node) ? pick(c.r, t.node as Json[]) : undefined;
    const kind = pick(c.r, ['units', 'input', 'class', 'delete', 'format', 'name', 'node-op', 'node-dims', 'deep']);
    if (kind === 'units' && layer) layer.units = pick(c.r, [100000, 30000, -3, 0, 2.5, '5', null, 1e12]);
    if (kind === 'input' && layer) layer.batch_input_shape = [null, weirdNumber(c.r)];
    if (kind === 'class' && t?.config?.layers?.[0]) t.config.layers[0].class_name = pick(c.r, ['Conv2D', 'Lambda', 'NoSuchLayer', '__proto__', 'Dense']);
    if (kind === 'delete') delete m.json.modelTopology;
    if (kind === 'format') m.json.format = pick(c.r, ['graph-model', 'layers-model', 'keras', null]);
    if (kind === 'name' && layer) layer.name = randomText(c.r);
    if (kind === 'node-op' && node) node.op = pick(c.r, ['Const', 'NoSuchOp', 'Fill', 'Placeholder']);
    if (kind === 'node-dims' && node?.attr?.value?.tensor?.tensorShape) node.attr.value.tensor.tensorShape.dim = [{ size: String(weirdNumber(c.r)) }];
    if (kind === 'deep') m.json.modelTopology = JSON.parse('['.repeat(2000) + ']'.repeat(2000));
    return `topology:${kind}`;
  },
  // metadata
  (c, m) => {
    const kind = pick(c.r, ['inputSize', 'classes', 'featureLayer', 'notobject', 'preprocessing']);
    if (typeof m.json.userDefinedMetadata !== 'object' || m.json.userDefinedMetadata === null) m.json.userDefinedMetadata = {};
    const udm = m.json.userDefinedMetadata;
    if (typeof udm.transferLab !== 'object' || udm.transferLab === null || Array.isArray(udm.transferLab)) udm.transferLab = {};
    const meta = udm.transferLab;
    if (kind === 'inputSize') meta.inputSize = pick(c.r, [[100000, 100000], [0, 5], [8193, 8], 'big', [1, 2, 3], [224, 224]]);
    if (kind === 'classes') meta.classes = pick(c.r, [[1, 2], 'abc', Array.from({ length: 3 }, () => randomText(c.r))]);
    if (kind === 'featureLayer') meta.featureLayer = pick(c.r, ['nope', 5, 'd']);
    if (kind === 'notobject') m.json.userDefinedMetadata.transferLab = pick(c.r, [5, 'x', []]);
    if (kind === 'preprocessing') meta.preprocessing = pick(c.r, [{ scale: NaN, offset: 0, channels: 3 }, { scale: 1, offset: 0, channels: 2 }, null]);
    return `meta:${kind}`;
  },
  // shard bytes
  (c, m) => {
    const kind = pick(c.r, ['truncate', 'extend', 'empty', 'random', 'huge']);
    if (kind === 'truncate') m.shard = m.shard.subarray(0, Math.floor(c.r() * m.shard.length));
    if (kind === 'extend') m.shard = Buffer.concat([m.shard, Buffer.alloc(1 + Math.floor(c.r() * 64), 7)]);
    if (kind === 'empty') m.shard = Buffer.alloc(0);
    if (kind === 'random') m.shard = Buffer.from(Array.from({ length: m.shard.length }, () => Math.floor(c.r() * 256)));
    if (kind === 'huge') m.shard = Buffer.alloc(1 << 20, 1);
    return `shard:${kind}`;
  },
];

/** Whole-file damage to model.json's text: cut short or a byte flipped. */
function damageText(c: Ctx, text: string): [string, string] {
  if (c.r() < 0.5) return [text.slice(0, Math.floor(c.r() * text.length)), 'json:truncate'];
  const i = Math.floor(c.r() * text.length);
  return [text.slice(0, i) + pick(c.r, ['"', '{', ']', '\\', 'x', '9']) + text.slice(i + 1), 'json:flip'];
}

function mutate(c: Ctx, base: { json: Json; shard: Buffer }): Mutant {
  const m: Mutant & { json: Json } = { json: structuredClone(base.json), shard: Buffer.from(base.shard), make: [], outside: false, ops: [] };
  const n = 1 + Math.floor(c.r() * 3);
  for (let i = 0; i < n; i++) m.ops.push(pick(c.r, OPS)(c, m));
  if (c.r() < 0.08) {
    const [text, op] = damageText(c, JSON.stringify(m.json));
    m.ops.push(op);
    return { ...m, json: text };
  }
  return m;
}

export interface FuzzReport {
  mutations: number;
  loaded: number;
  clearErrors: number;
  unclear: { ops: string[]; message: string }[];
  hangs: { ops: string[] }[];
  outsideReads: { ops: string[]; file: string }[];
  /** Uncaught exceptions, unhandled rejections and non-Error throws while the loader ran. */
  crashes: { ops: string[]; message: string }[];
  sentinelLoaded: number;
  longestMs: number;
  longestOps: string[];
  /** Error classes: the message with paths, numbers and quoted text taken out, and how often each came. */
  classes: Map<string, number>;
}

/** A clear error names the model file, comes from our checks or is wrapped by them, and is not a raw JS error. */
function isClear(message: string, modelJson: string): boolean {
  const raw = /Cannot read prop|is not a function|is not iterable|Invalid typed array|Maximum call stack|out of memory|undefined \(reading/i;
  return message.length > 0 && message.includes(path.dirname(modelJson)) && !raw.test(message);
}

function errorClass(message: string, dir: string): string {
  return message
    .split(dir)
    .join('<dir>')
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/\[[^\]]*\]/g, '[…]')
    .replace(/\d+(\.\d+)?(e[+-]?\d+)?/g, 'N')
    .slice(0, 110);
}

/** Records every file the process opens or reads while `fn` runs. */
async function recordingOpens<T>(fn: () => Promise<T>, seen: string[]): Promise<T> {
  // The module object itself (an `import * as` namespace here is a copy with getters): the loader's
  // own imports read through to it, so what is patched here is what the loader calls.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const real = require('node:fs') as typeof fs;
  const fsp = real.promises as unknown as Record<string, (...a: unknown[]) => unknown>;
  const sync = real as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = { open: fsp.open, readFile: fsp.readFile, openSync: sync.openSync, readFileSync: sync.readFileSync };
  const wrap = (f: (...a: unknown[]) => unknown) =>
    function (this: unknown, p: unknown, ...rest: unknown[]) {
      if (typeof p === 'string') seen.push(p);
      return f.call(this, p, ...rest);
    };
  fsp.open = wrap(saved.open);
  fsp.readFile = wrap(saved.readFile);
  sync.openSync = wrap(saved.openSync);
  sync.readFileSync = wrap(saved.readFileSync);
  try {
    return await fn();
  } finally {
    Object.assign(fsp, { open: saved.open, readFile: saved.readFile });
    Object.assign(sync, { openSync: saved.openSync, readFileSync: saved.readFileSync });
  }
}

const TIME_LIMIT_MS = 5000;

async function runOne(c: Ctx, mutant: Mutant, dir: string, report: FuzzReport): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const modelJson = path.join(dir, 'model.json');
  fs.writeFileSync(modelJson, typeof mutant.json === 'string' ? mutant.json : JSON.stringify(mutant.json));
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), mutant.shard);
  for (const make of mutant.make) make(dir);
  const seen: string[] = [];
  const tensors = tf.memory().numTensors;
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await recordingOpens(
    () =>
      Promise.race([
        load(dir, { maxBytes: 16 * 1024 * 1024 }).then(
          (m) => ({ model: m }),
          (e: unknown) => {
            if (!(e instanceof Error)) report.crashes.push({ ops: mutant.ops, message: `non-Error thrown: ${String(e)}` });
            return { error: e instanceof Error ? e.message : String(e) };
          },
        ),
        new Promise<{ hang: true }>((resolve) => (timer = setTimeout(() => resolve({ hang: true }), TIME_LIMIT_MS))),
      ]),
    seen,
  );
  clearTimeout(timer);
  const ms = performance.now() - t0;
  if (ms > report.longestMs) {
    report.longestMs = ms;
    report.longestOps = mutant.ops;
  }
  const realDir = fs.realpathSync(dir);
  for (const f of seen) {
    const abs = path.resolve(f);
    if (!abs.startsWith(dir + path.sep) && !abs.startsWith(realDir + path.sep)) report.outsideReads.push({ ops: mutant.ops, file: abs });
  }
  if ('hang' in outcome) {
    report.hangs.push({ ops: mutant.ops });
    return;
  }
  if ('model' in outcome) {
    report.loaded++;
    if (holdsSentinel(outcome.model as tf.LayersModel)) report.sentinelLoaded++;
    (outcome.model as { dispose(): void }).dispose();
    return;
  }
  if (tf.memory().numTensors !== tensors) report.unclear.push({ ops: mutant.ops, message: `${tf.memory().numTensors - tensors} tensors left behind by: ${outcome.error}` });
  const message = outcome.error;
  const cls = errorClass(message, dir);
  report.classes.set(cls, (report.classes.get(cls) ?? 0) + 1);
  if (isClear(message, modelJson) && !(mutant.outside && (leaksOutside(message) || message.includes('SENTINEL')))) report.clearErrors++;
  else report.unclear.push({ ops: mutant.ops, message: message.slice(0, 300) });
}

/** Runs `count` mutations from `seed` over a layers and a graph model; returns the figures. */
export async function fuzz(count: number, seed: number, tag: string): Promise<FuzzReport> {
  const pg = await playground(tag);
  const graphDir = path.join(pg.root, 'models', 'graph');
  writeGraphModel(graphDir);
  const bases = [
    { json: pg.json as Json, shard: pg.bin },
    { json: JSON.parse(fs.readFileSync(path.join(graphDir, 'model.json'), 'utf8')) as Json, shard: fs.readFileSync(path.join(graphDir, 'w.bin')) },
  ];
  bases[1].json.weightsManifest[0].paths = ['group1-shard1of1.bin'];
  const c: Ctx = { r: seededRandom(seed), pg };
  const report: FuzzReport = { mutations: 0, loaded: 0, clearErrors: 0, unclear: [], hangs: [], outsideReads: [], crashes: [], sentinelLoaded: 0, longestMs: 0, longestOps: [], classes: new Map() };
  // What would end a kernel process is caught and counted here instead.
  let ops: string[] = [];
  const crashed = (e: unknown) => report.crashes.push({ ops, message: e instanceof Error ? e.message : String(e) });
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
  try {
    for (let i = 0; i < count; i++) {
      const mutant = mutate(c, pick(c.r, bases));
      ops = mutant.ops;
      await runOne(c, mutant, path.join(pg.root, 'models', `f${i}`), report);
      report.mutations++;
      fs.rmSync(path.join(pg.root, 'models', `f${i}`), { recursive: true, force: true });
    }
    // A rejection is reported as unhandled one turn later.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('uncaughtException', crashed);
    process.off('unhandledRejection', crashed);
  }
  return report;
}

export function formatReport(r: FuzzReport, seed: number): string {
  const classes = [...r.classes.entries()].sort((a, b) => b[1] - a[1]);
  return [
    `fuzz (seed ${seed}): ${r.mutations} mutations, ${r.loaded} loaded, ${r.clearErrors} clear errors, ${r.unclear.length} unclear, ` +
      `${r.hangs.length} hangs, ${r.crashes.length} crashes, ${r.outsideReads.length} reads outside the folder, ${r.sentinelLoaded} models with the sentinel; ` +
      `longest ${r.longestMs.toFixed(0)} ms (${r.longestOps.join(' + ')})`,
    `error classes (${classes.length}):`,
    ...classes.slice(0, 25).map(([k, n]) => `  ${String(n).padStart(4)}  ${k}`),
    ...r.unclear.slice(0, 10).map((u) => `  UNCLEAR [${u.ops.join(' + ')}]: ${u.message}`),
    ...r.outsideReads.slice(0, 10).map((u) => `  OUTSIDE [${u.ops.join(' + ')}]: ${u.file}`),
    ...r.crashes.slice(0, 10).map((u) => `  CRASH [${u.ops.join(' + ')}]: ${u.message}`),
  ].join('\n');
}

/** Each mutation loaded or failed with a clear error, fast, with nothing read from outside and no crash. */
export function assertEveryMutationEndedWell(r: FuzzReport): void {
  assert.deepEqual(r.hangs, []);
  assert.deepEqual(r.crashes, []);
  assert.deepEqual(r.outsideReads, []);
  assert.equal(r.sentinelLoaded, 0);
  assert.deepEqual(r.unclear, []);
  assert.equal(r.loaded + r.clearErrors, r.mutations);
  assert.ok(r.longestMs < 5000);
}
