/**
 * The embedding cache: while a model's base is frozen, the base's output for a sample never changes,
 * so it is computed once and the head trains on it directly.
 *
 * Correctness rests on three facts, each checked rather than assumed:
 *  - the cut: everything upstream of the cut tensor is frozen and behaves the same in training and
 *    inference (no dropout/noise layers; BatchNormalization only when frozen, which freeze.ts runs
 *    in inference mode), and every path from the input to the output passes through it;
 *  - the key: base weights hash (values, not names) + the dataset's inputKey (decoder, size,
 *    preprocessing) + each sample's content hash, so any change to weights, pixels or
 *    preprocessing misses the cache;
 *  - no augmentation: an augmented sample is a new input every epoch, so its embedding cannot be
 *    reused; fit() turns the cache off (and says so) when the training split augments.
 * Entries live in memory (bounded, least recently used out first) and on disk (one file per set of
 * samples, written to a temp file and renamed, so a reader never sees half a file).
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { defaultCacheDir, writeFileAtomic } from './models';
import { isFrozen } from './inspect';
import { installBatchNormFix } from './freeze';
import { RANDOM_LAYERS } from './layerKinds';
import { fromArrays, type Dataset } from './data';
import { throwIfInterrupted } from './output';
import { onnxBase, type FeatureExtractor } from './onnx/extractor';
import { assertFiniteRows } from './finite';
import { printable } from './text';

type Layer = tf.layers.Layer;

export interface EmbeddingCacheOptions {
  /** Folder for the disk cache; false: memory only. Default: $TRANSFER_LAB_CACHE/embeddings or ~/.cache/transfer-lab/embeddings. */
  cacheDir?: string | false;
  /** Batch size for the base's forward pass. */
  batchSize?: number;
  /**
   * What runs the frozen base: 'auto' (default) converts it to ONNX and runs it in ONNX Runtime
   * when onnxruntime-node loads (much faster on the CPU), else TF.js; 'onnx' insists; 'tfjs' never converts.
   */
  engine?: 'auto' | 'onnx' | 'tfjs';
}

export interface EmbeddingStats {
  samples: number;
  fromMemory: number;
  fromDisk: number;
  computed: number;
  /** Forward passes of the base (batches). 0 means the base was not run at all. */
  baseBatches: number;
  seconds: number;
  /** What ran the base, when it ran: 'onnxruntime (cpu)' or 'tfjs (wasm)', with the reason for TF.js. */
  engine?: string;
}

export interface Embeddings {
  /** Row-major [rows, dim]. */
  values: Float32Array;
  /** Shape of one embedding. */
  shape: number[];
  /** Class index per row. */
  labels: number[];
  /** Position in the dataset per row (samples that failed to decode have no row). */
  positions: number[];
  stats: EmbeddingStats;
}

export function embeddingCacheDir(opts: EmbeddingCacheOptions = {}): string | undefined {
  if (opts.cacheDir === false) return undefined;
  return opts.cacheDir ? path.resolve(opts.cacheDir) : path.join(defaultCacheDir(), 'embeddings');
}

// --- memory cache (least recently used out first)

const MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024;
const memory = new Map<string, Float32Array>();
let memoryBytes = 0;

function memGet(key: string): Float32Array | undefined {
  const v = memory.get(key);
  if (v) {
    memory.delete(key);
    memory.set(key, v);
  }
  return v;
}

function memSet(key: string, v: Float32Array): void {
  const old = memory.get(key);
  if (old) memoryBytes -= old.byteLength;
  memory.delete(key);
  memory.set(key, v);
  memoryBytes += v.byteLength;
  for (const [k, e] of memory) {
    if (memoryBytes <= MEMORY_LIMIT_BYTES) break;
    memory.delete(k);
    memoryBytes -= e.byteLength;
  }
}

/** Empties the in-memory cache, and the disk cache folder too when `disk` is set. */
export async function clearEmbeddingCache(opts: { disk?: boolean } & EmbeddingCacheOptions = {}): Promise<void> {
  memory.clear();
  memoryBytes = 0;
  const dir = embeddingCacheDir(opts);
  if (opts.disk && dir) await fsp.rm(dir, { recursive: true, force: true });
}

export function embeddingMemoryStats(): { entries: number; bytes: number } {
  return { entries: memory.size, bytes: memoryBytes };
}

// --- hashing

function configWithoutNames(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(configWithoutNames);
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (k !== 'name') out[k] = configWithoutNames(v);
    return out;
  }
  return x;
}

/**
 * Hash of what the layers compute: class, config (names left out: they differ between two loads of
 * the same model) and every weight's shape and values.
 */
export function layersHash(layers: readonly Layer[]): string {
  const h = crypto.createHash('sha256');
  for (const layer of layers) {
    h.update(layer.getClassName());
    h.update(JSON.stringify(configWithoutNames(layer.getConfig())));
    for (const w of layer.weights) {
      const v = w.read();
      h.update(`${w.dtype}[${v.shape.join(',')}]`);
      const data = v.dataSync() as tf.TypedArray;
      h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  return h.digest('hex').slice(0, 32);
}

// --- finding the frozen base

interface NodeLike {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}
interface LayerInternals {
  inboundNodes: NodeLike[];
}

function nestedLayers(layer: Layer): Layer[] | undefined {
  const inner = (layer as unknown as { layers?: Layer[] }).layers;
  return Array.isArray(inner) ? inner : undefined;
}

/** Why this layer cannot be part of a cached base, or undefined when it can. */
function notCacheable(layer: Layer): string | undefined {
  const inner = nestedLayers(layer);
  if (inner) {
    for (const l of inner) {
      const r = notCacheable(l);
      if (r) return r;
    }
    return undefined;
  }
  const cls = layer.getClassName();
  if (cls === 'InputLayer') return undefined;
  if (layer.trainableWeights.length > 0 && !isFrozen(layer)) return `layer '${layer.name}' is trainable`;
  if (RANDOM_LAYERS.has(cls)) return `layer '${layer.name}' (${cls}) is random in training`;
  return undefined;
}

export interface FrozenSplit {
  /** Model from the inputs to the cut. */
  base: tf.LayersModel;
  /** Model from the cut to the output; built from the original head layers, so it shares their weights. */
  head: tf.LayersModel;
  /** Layers upstream of the cut, for hashing. */
  baseLayers: Layer[];
  headLayers: Layer[];
  /** Name of the layer whose output is the cut. */
  cutAfter: string;
}

const splits = new WeakMap<tf.LayersModel, { signature: string; split: FrozenSplit }>();

function releaseSplitWithModel(model: tf.LayersModel): void {
  const dispose = model.dispose.bind(model);
  model.dispose = () => {
    const result = dispose();
    splits.get(model)?.split.head.dispose();
    splits.delete(model);
    return result;
  };
}

function trainableSignature(model: tf.LayersModel): string {
  const parts: string[] = [];
  const walk = (layers: Layer[]) => {
    for (const l of layers) {
      parts.push(`${l.name}:${l.trainable ? 1 : 0}:${isFrozen(l) ? 1 : 0}`);
      const inner = nestedLayers(l);
      if (inner) walk(inner);
    }
  };
  walk(model.layers);
  return parts.join('|');
}

function producer(t: tf.SymbolicTensor): NodeLike | undefined {
  return (t.sourceLayer as unknown as LayerInternals).inboundNodes[t.nodeIndex];
}

function isInput(t: tf.SymbolicTensor): boolean {
  return (t.sourceLayer as Layer).getClassName() === 'InputLayer';
}

/**
 * Splits a model at the deepest tensor that (a) has a frozen, deterministic graph upstream and
 * (b) lies on every path from the input to the output, so the rest of the model can run from it
 * alone. That covers a head on a frozen base (the cut lands after pooling) and a base whose top
 * blocks are unfrozen, residual connections included (the cut lands at the last frozen block's
 * output). Returns the reason when there is no such tensor.
 */
export function splitAtFrozenBase(model: tf.LayersModel): FrozenSplit | { reason: string } {
  installBatchNormFix();
  const signature = trainableSignature(model);
  const known = splits.get(model);
  if (known && known.signature === signature) return known.split;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return { reason: 'the model has several inputs or outputs' };
  const output = model.outputs[0];

  const problems = new Map<tf.SymbolicTensor, string | null>();
  const upstreamProblem = (t: tf.SymbolicTensor): string | undefined => {
    const memo = problems.get(t);
    if (memo !== undefined) return memo ?? undefined;
    let r = notCacheable(t.sourceLayer as Layer);
    // An input layer's node lists its own output as its input: the walk ends there.
    if (!r && !isInput(t)) {
      for (const inp of producer(t)?.inputTensors ?? []) {
        r = upstreamProblem(inp);
        if (r) break;
      }
    }
    problems.set(t, r ?? null);
    return r;
  };

  // Every tensor the output depends on, inputs before their consumers.
  const order: tf.SymbolicTensor[] = [];
  const seen = new Set<tf.SymbolicTensor>();
  const visit = (t: tf.SymbolicTensor) => {
    if (seen.has(t)) return;
    seen.add(t);
    if (!isInput(t)) for (const inp of producer(t)?.inputTensors ?? []) visit(inp);
    order.push(t);
  };
  visit(output);

  /** True when every path from the input to the output passes through `cut`. */
  const dominates = (cut: tf.SymbolicTensor): boolean => {
    const done = new Set<tf.SymbolicTensor>();
    const reachesInput = (t: tf.SymbolicTensor): boolean => {
      if (t === cut || done.has(t)) return false;
      done.add(t);
      if (isInput(t)) return true;
      return (producer(t)?.inputTensors ?? []).some(reachesInput);
    };
    return !reachesInput(output);
  };

  // Reverse post-order visits a later dominator before an earlier one, so the first hit is the deepest.
  let cut: tf.SymbolicTensor | undefined;
  let firstProblem: string | undefined;
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    if (isInput(t)) continue;
    const problem = upstreamProblem(t);
    if (problem) {
      firstProblem ??= problem;
      continue;
    }
    if (t === output) return { reason: 'every layer is frozen: nothing to train' };
    if (dominates(t)) {
      cut = t;
      break;
    }
  }
  if (!cut) return { reason: firstProblem ?? 'no frozen layers before the trainable ones' };
  const cutTensor = cut;

  const baseLayers: Layer[] = [];
  const inBase = new Set<Layer>();
  const collect = (x: tf.SymbolicTensor) => {
    const l = x.sourceLayer as Layer;
    if (inBase.has(l)) return;
    inBase.add(l);
    if (!isInput(x)) for (const inp of producer(x)?.inputTensors ?? []) collect(inp);
    baseLayers.push(l);
  };
  collect(cutTensor);

  // The head re-applies the original layer objects (shared weights) from a new input at the cut.
  const headInput = tf.input({ shape: cutTensor.shape.slice(1) as number[], name: `${model.name}_embedding` });
  const rebuilt = new Map<tf.SymbolicTensor, tf.SymbolicTensor>([[cutTensor, headInput]]);
  const headLayers: Layer[] = [];
  const rebuild = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const done = rebuilt.get(t);
    if (done) return done;
    const node = producer(t) as NodeLike & { outputTensors: tf.SymbolicTensor[]; callArgs?: Record<string, unknown> };
    const layer = t.sourceLayer as Layer;
    const ins = node.inputTensors.map(rebuild);
    const out = layer.apply(ins.length === 1 ? ins[0] : ins, node.callArgs ?? {}) as tf.SymbolicTensor | tf.SymbolicTensor[];
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((o, k) => rebuilt.set(o, outs[k]));
    if (!headLayers.includes(layer)) headLayers.push(layer);
    return rebuilt.get(t) as tf.SymbolicTensor;
  };
  const y = rebuild(output);

  const base = tf.model({ inputs: model.inputs, outputs: cutTensor, name: `${model.name}_cached_base` });
  const head = tf.model({ inputs: headInput, outputs: y, name: `${model.name}_head_only` });
  const split: FrozenSplit = { base, head, baseLayers, headLayers, cutAfter: (cutTensor.sourceLayer as Layer).name };
  // The head-only model re-applies the model's layers, which counts as another owner of their weights:
  // it is released when it is replaced, and when the model itself is disposed.
  if (known) known.split.head.dispose();
  else releaseSplitWithModel(model);
  splits.set(model, { signature, split });
  return split;
}

// --- computing and caching

const MAGIC = 'TLEMB001';

interface DiskFile {
  keys: string[];
  shape: number[];
  values: Float32Array;
}

async function readDisk(file: string): Promise<DiskFile | undefined> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch {
    return undefined;
  }
  try {
    if (buf.subarray(0, 8).toString('latin1') !== MAGIC) return undefined;
    const headerLen = buf.readUInt32LE(8);
    const header = JSON.parse(buf.subarray(12, 12 + headerLen).toString('utf8')) as { keys: string[]; shape: number[] };
    const start = 12 + headerLen + ((4 - ((12 + headerLen) % 4)) % 4);
    const dim = header.shape.reduce((a, b) => a * b, 1);
    const count = header.keys.length * dim;
    if (buf.length < start + count * 4) return undefined;
    const values = new Float32Array(count);
    new Uint8Array(values.buffer).set(buf.subarray(start, start + count * 4));
    return { keys: header.keys, shape: header.shape, values };
  } catch {
    // A file from another version or a damaged one is a miss, not an error.
    return undefined;
  }
}

async function writeDisk(file: string, keys: string[], shape: number[], rows: Float32Array[]): Promise<void> {
  const header = Buffer.from(JSON.stringify({ keys, shape }), 'utf8');
  const pad = (4 - ((12 + header.length) % 4)) % 4;
  const head = Buffer.alloc(12 + header.length + pad);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(header.length, 8);
  header.copy(head, 12);
  const body = Buffer.concat(rows.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength)));
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, Buffer.concat([head, body]));
}

function sha(...parts: string[]): string {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 32);
}

/**
 * The base's output for every sample of `data` (un-augmented, in sample order), from the cache where
 * possible. `baseHash` identifies the base's computation (see layersHash).
 */
export async function computeEmbeddings(base: tf.LayersModel, baseHash: string, data: Dataset, opts: EmbeddingCacheOptions = {}): Promise<Embeddings> {
  const t0 = Date.now();
  const keys = await data.contentKeys();
  const prefix = sha(baseHash, data.inputKey);
  const fullKeys = keys.map((k) => `${prefix}:${k}`);
  const shape = (base.outputs[0].shape.slice(1) as number[]).map((d) => d);
  const dim = shape.reduce((a, b) => a * b, 1);
  const rows: (Float32Array | undefined)[] = fullKeys.map((k) => memGet(k));
  const stats: EmbeddingStats = { samples: keys.length, fromMemory: 0, fromDisk: 0, computed: 0, baseBatches: 0, seconds: 0 };
  stats.fromMemory = rows.filter(Boolean).length;

  const dir = embeddingCacheDir(opts);
  const setHash = sha(prefix, ...keys);
  const file = dir ? path.join(dir, prefix, `${setHash}.emb`) : undefined;
  let haveOwnFile = false;
  if (dir && file && rows.some((r) => !r)) {
    // This set's own file first; then the other sets cached for the same base and preprocessing
    // (another split or a folder with a few new images still shares most samples), newest first.
    const folder = path.dirname(file);
    const others = await fsp.readdir(folder).catch(() => [] as string[]);
    const stats_ = await Promise.all(
      others.filter((f) => f.endsWith('.emb') && path.join(folder, f) !== file).map(async (f) => ({ f: path.join(folder, f), t: (await fsp.stat(path.join(folder, f)).catch(() => undefined))?.mtimeMs ?? 0 })),
    );
    const candidates = [file, ...stats_.sort((a, b) => b.t - a.t).map((x) => x.f)];
    for (const candidate of candidates) {
      if (!rows.some((r) => !r)) break;
      const disk = await readDisk(candidate);
      if (!disk || disk.shape.join(',') !== shape.join(',')) continue;
      if (candidate === file) haveOwnFile = true;
      const byKey = new Map(disk.keys.map((k, i) => [k, i]));
      rows.forEach((r, i) => {
        if (r) return;
        const j = byKey.get(fullKeys[i]);
        if (j === undefined) return;
        const v = disk.values.slice(j * dim, (j + 1) * dim);
        rows[i] = v;
        memSet(fullKeys[i], v);
        stats.fromDisk++;
      });
    }
  }

  const missing = rows.flatMap((r, i) => (r ? [] : [i]));
  if (missing.length || (file && stats.fromDisk > 0 && !haveOwnFile)) {
    const run = missing.length ? await baseRunner(base, baseHash, opts.engine ?? 'auto') : undefined;
    if (run) stats.engine = run.engine;
    for await (const batch of onlyPositions(data, missing, opts.batchSize)) {
      throwIfInterrupted(() => tf.dispose([batch.xs, batch.ys]));
      const out = await run!.predict(batch.xs);
      stats.baseBatches++;
      const values = (await out.data()) as Float32Array;
      tf.dispose([out, batch.xs, batch.ys]);
      batch.indices.forEach((pos, r) => {
        const v = values.slice(r * dim, (r + 1) * dim);
        rows[pos] = v;
        memSet(fullKeys[pos], v);
        stats.computed++;
      });
      // Give queued messages (interrupts, output) a turn between batches of a long pass.
      await new Promise((r) => setImmediate(r));
    }
    // Written when something new was computed, or when rows came from other sets' files (so that the
    // next fit of this set finds them in one file).
    if (file && (stats.computed > 0 || (stats.fromDisk > 0 && !haveOwnFile))) {
      const present = rows.flatMap((r, i) => (r ? [i] : []));
      try {
        await writeDisk(
          file,
          present.map((i) => fullKeys[i]),
          shape,
          present.map((i) => rows[i] as Float32Array),
        );
      } catch (e) {
        // The disk cache is an optimisation: a read-only or full disk must not fail training.
        console.warn(`embedding cache: could not write ${file}: ${(e as Error).message}`);
      }
    }
  }

  const positions = rows.flatMap((r, i) => (r ? [i] : []));
  const values = new Float32Array(positions.length * dim);
  positions.forEach((p, r) => values.set(rows[p] as Float32Array, r * dim));
  // A base that turns an input into NaN would make the head's loss NaN from its first step.
  assertFiniteRows(values, shape, 'embedding cache: the frozen base', (r) => `the output for ${printable(data.sampleName(positions[r]))}`, 'Check the base for NaN or Infinity weights.');
  stats.seconds = (Date.now() - t0) / 1000;
  return { values, shape, labels: positions.map((p) => data.labels[p]), positions, stats };
}

// --- what runs the frozen base

interface BaseRunner {
  engine: string;
  predict(x: tf.Tensor): Promise<tf.Tensor>;
}

/**
 * One converted ONNX session per frozen base, rebuilt when its weights change (the hash is the
 * cache key's): converting costs more than one batch, and a stale session would compute old features.
 */
const onnxRunners = new WeakMap<tf.LayersModel, { hash: string; fx: Promise<FeatureExtractor> }>();

/**
 * The frozen base in ONNX Runtime when it can run there (the fast path for feature extraction),
 * else in TF.js. The features are the same to ~1e-6 relative error (checked in the ONNX tests).
 */
async function baseRunner(base: tf.LayersModel, baseHash: string, engine: 'auto' | 'onnx' | 'tfjs'): Promise<BaseRunner> {
  const tfjs: BaseRunner = { engine: `tfjs (${tf.getBackend()})`, predict: async (x) => tf.tidy(() => base.predict(x) as tf.Tensor) };
  if (engine === 'tfjs') return tfjs;
  let entry = onnxRunners.get(base);
  if (!entry || entry.hash !== baseHash) {
    entry = { hash: baseHash, fx: onnxBase(base, { engine }) };
    onnxRunners.set(base, entry);
  }
  try {
    const extractor = await entry.fx;
    if (extractor.engine !== 'onnxruntime') return { ...tfjs, engine: `${tfjs.engine}: ${extractor.description.split('\n')[0]}` };
    const provider = extractor.ort?.provider ?? 'cpu';
    return { engine: `onnxruntime (${provider})${extractor.conversion?.tail ? ' + tfjs tail' : ''}`, predict: (x) => extractor.predict(x) };
  } catch (e) {
    onnxRunners.delete(base);
    if (engine === 'onnx') throw e;
    return { ...tfjs, engine: `${tfjs.engine}: ONNX Runtime could not run the base (${(e as Error).message.split('\n')[0]})` };
  }
}

/** Batches of only the given positions, in order, un-augmented. */
function onlyPositions(data: Dataset, positions: number[], batchSize?: number) {
  return data.batches({ positions, batchSize: batchSize ?? data.batchSize, augment: false, shuffle: false });
}

/** A dataset over precomputed embeddings, for training or evaluating the head alone. */
export function embeddingDataset(e: Embeddings, classes: readonly string[], batchSize: number, name: string): Dataset {
  return fromArrays(e.values, e.shape, e.labels, { classes: [...classes], batchSize, name, inputKey: 'embeddings' }).train;
}
