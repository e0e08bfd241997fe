/**
 * Fixtures for the hostile-model tests: a tiny valid model to mutate, and a sentinel file outside
 * its folder whose bytes must never show up in a loaded model nor its path in an error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { save } from '../../src/tl/export';
import { tmpDir } from './tl-fixtures';

/** A pattern no real weight has: 60 bytes, the size of the tiny model's weights. */
export const SENTINEL = Buffer.from('SENTINEL-outside-7f3a9c'.repeat(3).slice(0, 60));
export const WEIGHT_BYTES = 60;

export interface Playground {
  /** A folder that holds the sentinel and, below it, the model folders. */
  root: string;
  /** The sentinel file: outside every model folder. */
  secret: string;
  /** A valid model folder written by tl.save (model.json, group1-shard1of1.bin, transfer-lab.json). */
  valid: string;
  json: Record<string, unknown>;
  bin: Buffer;
}

/** Dense 4 → 3: kernel [4, 3] and bias [3], 60 bytes of float32. */
export function tinyModel(): tf.LayersModel {
  const m = tf.sequential({ name: 'tiny' });
  m.add(tf.layers.dense({ inputShape: [4], units: 3, name: 'd', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  return m;
}

export async function playground(tag: string): Promise<Playground> {
  const root = tmpDir(tag);
  const secret = path.join(root, 'secret.bin');
  fs.writeFileSync(secret, SENTINEL);
  const valid = path.join(root, 'models', 'valid');
  const m = tinyModel();
  await save(m, valid, { classes: ['a', 'b', 'c'] });
  m.dispose();
  const json = JSON.parse(fs.readFileSync(path.join(valid, 'model.json'), 'utf8')) as Record<string, unknown>;
  const bin = fs.readFileSync(path.join(valid, 'group1-shard1of1.bin'));
  return { root, secret, valid, json, bin };
}

let n = 0;

/** A fresh model folder next to the valid one: its model.json mutated by `edit`, the valid shard copied. */
export function variant(pg: Playground, edit: (json: Record<string, any>) => void, files: Record<string, Buffer> = {}): string {
  const dir = path.join(pg.root, 'models', `v${n++}`);
  fs.mkdirSync(dir, { recursive: true });
  const json = structuredClone(pg.json) as Record<string, any>;
  edit(json);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), pg.bin);
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
  return dir;
}

/** Sets the one weight path of the valid model. */
export function withPath(p: string): (json: Record<string, any>) => void {
  return (json) => {
    json.weightsManifest[0].paths = [p];
  };
}

/** True when any weight of `model` holds the sentinel's bytes (a part of them is enough). */
export function holdsSentinel(model: { getWeights?: () => tf.Tensor[]; weights?: unknown }): boolean {
  // A layers model lists its weights; a graph model maps names to lists of tensors.
  const tensors: tf.Tensor[] =
    typeof model.getWeights === 'function' ? model.getWeights() : Object.values((model as unknown as { weights: Record<string, tf.Tensor[]> }).weights ?? {}).flat();
  const probe = SENTINEL.subarray(0, 8);
  return tensors.some((t) => {
    if (t.dtype === 'string') return (t.dataSync() as unknown as Uint8Array[]).some((b) => Buffer.from(b).includes(probe));
    const d = t.dataSync() as unknown as ArrayLike<number> & { buffer: ArrayBuffer; byteOffset: number; byteLength: number };
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength).includes(probe);
  });
}

/** Words by which an error would tell something about a file outside the model folder (existence, size, contents). */
const LEAK = /SENTINEL|missing|not found|no such|exists|ENOENT|EACCES|EISDIR|ENOTDIR|holds \d/i;

export function leaksOutside(message: string): boolean {
  return LEAK.test(message);
}
