/**
 * tl.save(): a model folder in the TF.js format (model.json + weight shards) that plain
 * tf.loadLayersModel / tf.loadGraphModel can read, plus its metadata (classes, input size,
 * preprocessing) both in model.json's userDefinedMetadata and in transfer-lab.json beside it.
 * @tensorflow/tfjs without tfjs-node has no file:// save handler, so this one writes with fs.
 * With `{ format: 'onnx' }` the folder gets one model.onnx instead (onnx/save.ts).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getMeta, imageSizeProblem, type ModelMeta } from './models/meta';
import { META_FILE, META_KEY, isGraphModel, isLayersModel, outputUnits, type AnyModel } from './models';
import { writeFileAtomic } from './util/atomic';
import { textToSave } from './text/saved';
import { saveOnnx } from './onnx/save';

/** tfjs's converter splits weights into 4 MB shards; the same size keeps files friendly to HTTP caches. */
const SHARD_BYTES = 4 * 1024 * 1024;
const SHARD_RE = /^group\d+-shard\d+of\d+\.bin$/;

/** The first shard group number that the folder's current model.json does not reference. */
async function freeShardGroup(dir: string): Promise<number> {
  let used: string[] = [];
  try {
    const json = JSON.parse(await fsp.readFile(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    used = (json.weightsManifest ?? []).flatMap((g) => g.paths);
  } catch {
    return 1;
  }
  for (let g = 1; ; g++) if (!used.some((p) => p.startsWith(`group${g}-`))) return g;
}

export interface SaveResult {
  dir: string;
  /** Files written, relative to dir. */
  files: string[];
  /** Bytes of weights written. */
  weightBytes: number;
  meta: ModelMeta;
}

/** Metadata to save with the model, and the format: 'tfjs' (default: model.json and shards) or 'onnx' (model.onnx). */
export type SaveMeta = Omit<Partial<ModelMeta>, 'format'> & { format?: 'tfjs' | 'onnx' };

export interface SaveOptions {
  /** Extra facts stored in transfer-lab.json only (for example training accuracy). */
  extra?: Record<string, unknown>;
}

function weightBuffer(data: tf.io.ModelArtifacts['weightData']): Buffer {
  if (data == null) return Buffer.alloc(0);
  const parts = Array.isArray(data) ? data : [data];
  return Buffer.concat(parts.map((b) => Buffer.from(b)));
}

/** The metadata that goes with a saved model: what setMeta recorded, overridden by `meta`. */
function metaFor(model: AnyModel, dir: string, meta?: SaveMeta): ModelMeta {
  const known = getMeta(model);
  const merged: ModelMeta = {
    name: meta?.name ?? known?.name ?? path.basename(dir),
    source: meta?.source ?? known?.source ?? 'code',
    format: isGraphModel(model) ? 'graph' : 'layers',
  };
  const classes = meta?.classes ?? known?.classes;
  const inputSize = meta?.inputSize ?? known?.inputSize;
  const preprocessing = meta?.preprocessing ?? known?.preprocessing;
  if (classes) {
    const units = outputUnits(model);
    if (units !== undefined && units !== classes.length) {
      throw new Error(`save(): ${classes.length} class names given for a model with ${units} outputs.`);
    }
    merged.classes = [...classes];
  }
  if (inputSize) {
    // A size tl.load would refuse must not be written: the saved model could not be loaded back.
    const problem = imageSizeProblem(inputSize);
    if (problem) throw new Error(`save(): "inputSize" ${problem}.`);
    merged.inputSize = [inputSize[0], inputSize[1]];
  }
  if (preprocessing) merged.preprocessing = { ...preprocessing };
  const text = textToSave(meta?.text ?? known?.text);
  if (text) merged.text = text.info;
  const featureLayer = meta?.featureLayer ?? known?.featureLayer;
  if (featureLayer && isLayersModel(model) && model.layers.some((l) => l.name === featureLayer)) merged.featureLayer = featureLayer;
  return merged;
}

/**
 * Saves `model` into `dir` (created if needed): model.json, group1-shardNofM.bin, transfer-lab.json.
 * Each file is written atomically and model.json last, so a reader never sees a half-saved model.
 * Saving over an earlier save (a checkpoint each better epoch) writes shards under names the old
 * model.json does not use, so a crash part-way leaves the old model whole.
 */
export async function save(model: AnyModel, dir: string, meta?: SaveMeta, opts: SaveOptions = {}): Promise<SaveResult> {
  if (!isLayersModel(model) && !isGraphModel(model)) throw new Error('save(model, dir): model must be a TF.js LayersModel or GraphModel.');
  if (typeof dir !== 'string' || !dir.trim()) throw new Error('save(model, dir): dir must be a folder path.');
  const format = meta?.format ?? 'tfjs';
  if (format !== 'tfjs' && format !== 'onnx') throw new Error(`save(model, dir, { format }): format must be 'tfjs' or 'onnx', got ${JSON.stringify(format)}.`);
  const out = path.resolve(dir);
  const m = metaFor(model, out, meta);
  if (format === 'onnx') {
    if (m.text?.kind === 'sentence-encoder') throw new Error("save(model, dir, { format: 'onnx' }): the ONNX sentence encoder runs before the TF.js model, so one model.onnx cannot hold both; save in the default format (the head, encoder.onnx and tokenizer.json).");
    const r = await saveOnnx(model as tf.LayersModel, out, m);
    return { dir: out, files: [path.basename(r.file)], weightBytes: r.bytes, meta: m };
  }
  await fsp.mkdir(out, { recursive: true });

  const files: string[] = [];
  let weightBytes = 0;
  const handler: tf.io.IOHandler = {
    save: async (artifacts) => {
      const weights = weightBuffer(artifacts.weightData);
      weightBytes = weights.length;
      const count = Math.max(1, Math.ceil(weights.length / SHARD_BYTES));
      const group = await freeShardGroup(out);
      const paths: string[] = [];
      for (let i = 0; i < count; i++) {
        const name = `group${group}-shard${i + 1}of${count}.bin`;
        await writeFileAtomic(path.join(out, name), weights.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
        paths.push(name);
      }
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format ?? (isGraphModel(model) ? 'graph-model' : 'layers-model'),
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), [META_KEY]: m },
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature) json.signature = artifacts.signature;
      if (artifacts.modelInitializer) json.modelInitializer = artifacts.modelInitializer;
      if (artifacts.initializerSignature) json.initializerSignature = artifacts.initializerSignature;

      // The vocabulary before model.json, so that a model.json on disk always finds it.
      for (const [name, body] of Object.entries(textToSave(m.text)?.files ?? {})) {
        await writeFileAtomic(path.join(out, name), typeof body === 'string' ? body : await fsp.readFile(body.copyFrom));
        files.push(name);
      }
      const side = { version: 1, ...m, savedAt: new Date().toISOString(), tfjs: tf.version.tfjs, ...(opts.extra ? { extra: opts.extra } : {}) };
      await writeFileAtomic(path.join(out, META_FILE), JSON.stringify(side, null, 2) + '\n');
      await writeFileAtomic(path.join(out, 'model.json'), JSON.stringify(json));
      files.push(...paths, META_FILE, 'model.json');

      // Shards of an earlier, bigger save into the same folder are no longer referenced.
      for (const f of await fsp.readdir(out)) {
        if (SHARD_RE.test(f) && !paths.includes(f)) await fsp.rm(path.join(out, f), { force: true });
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
  if (isLayersModel(model)) await model.save(handler);
  else await model.save(handler);
  return { dir: out, files, weightBytes, meta: m };
}
