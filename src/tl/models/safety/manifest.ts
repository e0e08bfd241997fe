/**
 * The weightsManifest of a model.json, checked and sized before a byte of weights is read or
 * fetched. A manifest comes from whoever published the model, so every field is checked: paths are
 * strings, shapes are small non-negative whole numbers, dtypes and quantizations are the ones TF.js
 * decodes. Sizes follow TF.js's decodeWeights: fixed-size dtypes from the shape, strings as a 4-byte
 * length and the bytes of each value, which is only known once the bytes are there (checkGroupData).
 */
import type * as tf from '@tensorflow/tfjs';
import { budgetHint, formatBytes, quote } from './budget';

type ManifestEntry = tf.io.WeightsManifestEntry;

/** Bytes per value of the dtypes TF.js decodes with a fixed size. */
const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
/** Bytes per stored value of each quantization. */
const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const STRING_LENGTH_BYTES = 4;
/** TF supports rank ≤ 8 for most ops; a weight of higher rank is a broken or hostile file. */
const MAX_RANK = 8;
const MAX_PATHS = 100_000;
const MAX_WEIGHTS = 1_000_000;

export interface SizedGroup {
  index: number;
  paths: string[];
  weights: ManifestEntry[];
  /** Bytes of the weights whose size the shape fixes. */
  fixedBytes: number;
  /** Values of string weights: each takes 4 bytes plus its own length, so at least 4 bytes. */
  stringValues: number;
  /** Bytes the group's files hold at least (exactly, without string weights). */
  minBytes: number;
  /** Bytes the group's weights take as tensors once decoded. */
  decodedBytes: number;
}

export interface SizedManifest {
  groups: SizedGroup[];
  /** Bytes all weight files hold at least. */
  minBytes: number;
  /** Bytes the weights take as tensors once decoded (quantized weights grow to float32/int32). */
  decodedBytes: number;
}

function entryName(g: number, w: number, name: unknown): string {
  return `weightsManifest[${g}].weights[${w}]${typeof name === 'string' ? ` (${quote(name, 80)})` : ''}`;
}

/** Number of values of `shape`, checked to be a list of non-negative whole numbers. */
function shapeValues(shape: unknown, where: string): number {
  if (!Array.isArray(shape) || shape.length > MAX_RANK) {
    throw new Error(`${where}: "shape" must be a list of at most ${MAX_RANK} sizes, got ${quote(JSON.stringify(shape) ?? String(shape), 60)}.`);
  }
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new Error(`${where}: "shape" [${shape.map((x) => JSON.stringify(x)).join(', ').slice(0, 80)}] must hold whole numbers ≥ 0.`);
    }
    n *= d;
  }
  if (n > Number.MAX_SAFE_INTEGER) throw new Error(`${where}: shape [${shape.join(', ')}] has ${n.toExponential(2)} values, more than any memory holds.`);
  return n;
}

/** Bytes per stored value of one weight, with its dtype and quantization checked; 0 for strings. */
function storedValueBytes(spec: Record<string, unknown>, where: string): number {
  const dtype = spec.dtype;
  if (typeof dtype !== 'string' || !(dtype in VALUE_BYTES || dtype === 'string')) {
    throw new Error(`${where}: dtype ${quote(String(dtype), 40)} is not one TF.js loads (float32, int32, bool, complex64, string).`);
  }
  if (!('quantization' in spec)) return dtype === 'string' ? 0 : VALUE_BYTES[dtype];
  const q = spec.quantization as Record<string, unknown> | null;
  if (typeof q !== 'object' || q === null || typeof q.dtype !== 'string' || !(q.dtype in QUANT_BYTES)) {
    throw new Error(`${where}: "quantization" must be {dtype: "uint8" | "uint16" | "float16", ...}.`);
  }
  if (q.dtype === 'float16' ? dtype !== 'float32' : dtype !== 'float32' && dtype !== 'int32') {
    throw new Error(`${where}: ${q.dtype} quantization does not apply to ${dtype} weights.`);
  }
  if (q.dtype !== 'float16' && !(typeof q.scale === 'number' && Number.isFinite(q.scale) && typeof q.min === 'number' && Number.isFinite(q.min))) {
    throw new Error(`${where}: ${q.dtype} quantization needs finite numbers "scale" and "min".`);
  }
  return QUANT_BYTES[q.dtype];
}

interface SizedWeight {
  stored: number;
  decoded: number;
  strings: number;
}

function sizeWeight(spec: unknown, where: string, maxBytes: number): SizedWeight {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error(`${where} must be an object {name, shape, dtype}.`);
  const s = spec as Record<string, unknown>;
  if (typeof s.name !== 'string' || !s.name) throw new Error(`${where}: "name" must be a non-empty string.`);
  const n = shapeValues(s.shape, where);
  const per = storedValueBytes(s, where);
  // A string value takes its 4-byte length at least.
  const least = n * (per || STRING_LENGTH_BYTES);
  if (least > maxBytes) {
    throw new Error(`${where}: shape [${(s.shape as number[]).join(', ')}] takes ${per ? '' : 'at least '}${formatBytes(least)}; ${budgetHint(maxBytes)}.`);
  }
  if (per === 0) return { stored: 0, decoded: least, strings: n };
  return { stored: least, decoded: n * VALUE_BYTES[s.dtype as string], strings: 0 };
}

function sizeGroup(g: unknown, index: number, where: string, maxBytes: number): SizedGroup {
  const group = g as { paths?: unknown; weights?: unknown };
  if (typeof g !== 'object' || g === null || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
    throw new Error(`${where}: weightsManifest[${index}] needs "paths" (file names) and "weights".`);
  }
  group.paths.forEach((p, i) => {
    if (typeof p !== 'string') throw new Error(`${where}: weightsManifest[${index}].paths[${i}] must be a file name (a string).`);
  });
  let fixedBytes = 0;
  let stringValues = 0;
  let decoded = 0;
  group.weights.forEach((spec, w) => {
    const sized = sizeWeight(spec, `${where}: ${entryName(index, w, (spec as { name?: unknown })?.name)}`, maxBytes);
    fixedBytes += sized.stored;
    stringValues += sized.strings;
    decoded += sized.decoded;
  });
  if (group.paths.length === 0 && group.weights.length > 0) {
    throw new Error(`${where}: weightsManifest[${index}] lists ${group.weights.length} weight${group.weights.length === 1 ? '' : 's'} but no files ("paths" is empty).`);
  }
  return {
    index,
    paths: group.paths as string[],
    weights: group.weights as ManifestEntry[],
    fixedBytes,
    stringValues,
    minBytes: fixedBytes + stringValues * STRING_LENGTH_BYTES,
    decodedBytes: decoded,
  };
}

/** Checks model.json's weightsManifest and sizes it; throws a clear error naming the entry otherwise. */
export function sizeManifest(json: unknown, where: string, maxBytes: number): SizedManifest {
  const m = (json as { weightsManifest?: unknown }).weightsManifest;
  if (m == null) return { groups: [], minBytes: 0, decodedBytes: 0 };
  if (!Array.isArray(m)) throw new Error(`${where}: "weightsManifest" must be an array.`);
  const paths = m.reduce((a: number, g) => a + (Array.isArray((g as { paths?: unknown })?.paths) ? (g as { paths: unknown[] }).paths.length : 0), 0);
  const weights = m.reduce((a: number, g) => a + (Array.isArray((g as { weights?: unknown })?.weights) ? (g as { weights: unknown[] }).weights.length : 0), 0);
  if (paths > MAX_PATHS || weights > MAX_WEIGHTS) {
    throw new Error(`${where}: weightsManifest lists ${paths} files and ${weights} weights; a model has at most ${MAX_PATHS} files and ${MAX_WEIGHTS} weights.`);
  }
  const groups = m.map((g, i) => sizeGroup(g, i, where, maxBytes));
  const minBytes = groups.reduce((a, g) => a + g.minBytes, 0);
  const decodedBytes = groups.reduce((a, g) => a + g.decodedBytes, 0);
  if (minBytes > maxBytes) {
    throw new Error(`${where}: weightsManifest lists at least ${formatBytes(minBytes)} of weights; ${budgetHint(maxBytes)}.`);
  }
  return { groups, minBytes, decodedBytes };
}

/**
 * Bytes of a group's weights laid out in `data`, walking string values one by one. Stops at the end
 * of `data`, so a hostile shape cannot make it loop for longer than the bytes that are there.
 * Returns undefined when the weights need more bytes than `data` has.
 */
export function layoutBytes(group: SizedGroup, data: Uint8Array): number | undefined {
  if (group.stringValues === 0) return group.fixedBytes;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  for (const spec of group.weights) {
    if (spec.dtype !== 'string') {
      offset += (spec.shape.reduce((a, b) => a * b, 1)) * storedValueBytes(spec as unknown as Record<string, unknown>, '');
      continue;
    }
    const n = spec.shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) {
      if (offset + STRING_LENGTH_BYTES > data.byteLength) return undefined;
      offset += STRING_LENGTH_BYTES + view.getUint32(offset, true);
    }
  }
  return offset;
}

/** Throws unless the bytes read for `group` are exactly what its weights take. */
export function checkGroupData(group: SizedGroup, data: Uint8Array, where: string, files: string[]): void {
  const need = layoutBytes(group, data);
  if (need === data.byteLength) return;
  const plural = files.length > 1;
  const what = need === undefined ? `string weights longer than that` : `weights of ${need} bytes`;
  throw new Error(
    `Weight file${plural ? 's' : ''} ${files.join(', ')} hold${plural ? '' : 's'} ${data.byteLength} bytes, ` +
      `but ${where} lists ${what} (weightsManifest[${group.index}]): the file is truncated or does not belong to this model.`,
  );
}
