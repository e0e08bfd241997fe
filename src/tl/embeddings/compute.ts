/** Computing embeddings: from the caches where possible, else by running the frozen base. */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fromArrays, type Dataset } from '../data';
import { betweenBatches, throwIfInterrupted } from '../output';
import { onnxBase, type FeatureExtractor } from '../onnx/extractor';
import { assertFiniteRows } from '../data/finite';
import { printable } from '../util/text';
import { embeddingCacheDir, memGet, memSet, readDisk, writeDisk } from './store';
import type { EmbeddingCacheOptions, EmbeddingStats, Embeddings } from './types';

function sha(...parts: string[]): string {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 32);
}

/** The rows of one set of samples as they fill in, with what it takes to key, size and count them. */
interface RowSet {
  rows: (Float32Array | undefined)[];
  fullKeys: string[];
  shape: number[];
  dim: number;
  stats: EmbeddingStats;
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
  const set: RowSet = { rows, fullKeys, shape, dim, stats };

  const dir = embeddingCacheDir(opts);
  const setHash = sha(prefix, ...keys);
  const file = dir ? path.join(dir, prefix, `${setHash}.emb`) : undefined;
  const haveOwnFile = dir && file && rows.some((r) => !r) ? await readDiskRows(file, set) : false;

  const missing = rows.flatMap((r, i) => (r ? [] : [i]));
  if (missing.length || (file && stats.fromDisk > 0 && !haveOwnFile)) {
    const run = missing.length ? await baseRunner(base, baseHash, opts.engine ?? 'auto') : undefined;
    if (run) stats.engine = run.engine;
    await runBase(run, data, missing, opts.batchSize, set);
    // Written when something new was computed, or when rows came from other sets' files (so that the
    // next fit of this set finds them in one file).
    if (file && (stats.computed > 0 || (stats.fromDisk > 0 && !haveOwnFile))) await writeSet(file, set);
  }

  const positions = rows.flatMap((r, i) => (r ? [i] : []));
  const values = new Float32Array(positions.length * dim);
  positions.forEach((p, r) => values.set(rows[p] as Float32Array, r * dim));
  // A base that turns an input into NaN would make the head's loss NaN from its first step.
  assertFiniteRows(values, shape, 'embedding cache: the frozen base', (r) => `the output for ${printable(data.sampleName(positions[r]))}`, 'Check the base for NaN or Infinity weights.');
  stats.seconds = (Date.now() - t0) / 1000;
  return { values, shape, labels: positions.map((p) => data.labels[p]), positions, stats };
}

/**
 * Fills rows from this set's own file first; then from the other sets cached for the same base and
 * preprocessing (another split or a folder with a few new images still shares most samples),
 * newest first. True when this set's own file was read.
 */
async function readDiskRows(file: string, { rows, fullKeys, shape, dim, stats }: RowSet): Promise<boolean> {
  let haveOwnFile = false;
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
  return haveOwnFile;
}

/** Runs the base over the samples at `missing`, filling their rows; stops at an interrupt. */
async function runBase(run: BaseRunner | undefined, data: Dataset, missing: number[], batchSize: number | undefined, set: RowSet): Promise<void> {
  for await (const batch of onlyPositions(data, missing, batchSize)) {
    throwIfInterrupted(() => tf.dispose([batch.xs, batch.ys]));
    const out = await run!.predict(batch.xs);
    set.stats.baseBatches++;
    const values = (await out.data()) as Float32Array;
    tf.dispose([out, batch.xs, batch.ys]);
    batch.indices.forEach((pos, r) => {
      const v = values.slice(r * set.dim, (r + 1) * set.dim);
      set.rows[pos] = v;
      memSet(set.fullKeys[pos], v);
      set.stats.computed++;
    });
    await betweenBatches();
  }
}

/** Writes the set's rows to its file. The disk cache is an optimisation: a read-only or full disk must not fail training. */
async function writeSet(file: string, { rows, fullKeys, shape }: RowSet): Promise<void> {
  const present = rows.flatMap((r, i) => (r ? [i] : []));
  try {
    await writeDisk(
      file,
      present.map((i) => fullKeys[i]),
      shape,
      present.map((i) => rows[i] as Float32Array),
    );
  } catch (e) {
    console.warn(`embedding cache: could not write ${file}: ${(e as Error).message}`);
  }
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
