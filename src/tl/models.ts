/**
 * tl.load(): bundled models, the zoo, model.json files and http(s) URLs, with a download cache.
 *
 * TF.js in Node without tfjs-node has no `file://` handler, and its http loader keeps nothing on disk,
 * so both are done here: files are read with fs (modelFiles.ts) and handed to TF.js as in-memory
 * artifacts, and downloads land in a cache folder first (download.ts). Every model file is untrusted:
 * safety/ keeps its reads inside its folder and its sizes within the budget.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { getMeta, setMeta, imageSizeProblem, type ModelMeta, type Preprocessing } from './meta';
import { findZooEntry, zooNames } from './zoo';
import { closeMatches } from './inspect';
import { isOnnxPath, loadOnnx } from './onnx/load';
import type { FeatureExtractor } from './onnx/extractor';
import { budgetHint, formatBytes, maxModelBytes } from './safety/budget';
import { readModelFile } from './safety/weightFiles';
import { withBuildGuard } from './safety/buildGuard';
import { META_KEY, META_FILE, errMsg, isFile, parseJson, readModelArtifacts, type LoadOptions, type ModelJSON, type ReadResult } from './modelFiles';
import { downloadModel } from './download';

export { META_FILE, META_KEY, detectFormat, readModelArtifacts, type LoadOptions, type LoadProgress } from './modelFiles';
export { defaultCacheDir, cacheFolderFor, modelJsonUrl, writeFileAtomic, downloadModel } from './download';

export type AnyModel = tf.LayersModel | tf.GraphModel;

// --- model kinds

export function isGraphModel(m: unknown): m is tf.GraphModel {
  return m instanceof tf.GraphModel;
}

export function isLayersModel(m: unknown): m is tf.LayersModel {
  return m instanceof tf.LayersModel;
}

/**
 * Throws unless `model` is a trainable layers model. A graph model (TF-Hub, SavedModel conversions)
 * is a fixed computation: it has no layers to freeze and no variables to train.
 */
export function assertTrainable(model: unknown, what = 'This operation'): asserts model is tf.LayersModel {
  if (isGraphModel(model)) {
    const name = getMeta(model)?.name ?? 'this model';
    throw new Error(
      `${what} needs a layers model, but ${name} is a TF.js graph model: it can only be used as a frozen ` +
        `feature extractor (compute embeddings with it and train a new head on them). ` +
        `To fine-tune, load a model in the TF.js layers format (for example 'mobilenet_v1_0.25').`,
    );
  }
  if (model && typeof model === 'object' && (model as { engine?: unknown }).engine === 'onnxruntime') {
    const name = getMeta(model)?.name ?? 'this model';
    throw new Error(
      `${what} needs a layers model, but ${name} is an ONNX model run by ONNX Runtime: it can only be used as a frozen ` +
        `feature extractor. Compute features with it (await model.predict(images)) and train a new TF.js head on them.`,
    );
  }
  if (!isLayersModel(model)) {
    throw new Error(`${what} needs a TF.js layers model (tf.LayersModel); got ${describe(model)}.`);
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  const ctor = (x as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `a ${ctor}` : 'an object';
}

// --- hints that are not part of ModelMeta

const featureHints = new WeakMap<object, string>();

/** The layer whose output is the usual feature map for a head (zoo models say which). */
export function featureLayerHint(model: object): string | undefined {
  return featureHints.get(model);
}

export function setFeatureLayerHint(model: object, layerName: string): void {
  featureHints.set(model, layerName);
}

// --- where things live

/**
 * The folder that holds bundled models (media/models). The compiled code runs from several places
 * (dist/kernel.js in the extension, out/src/tl/ in tests), so walk up from this file until a
 * folder with media/models appears. TRANSFER_LAB_MODELS_DIR overrides.
 */
export function bundledModelsDir(): string | undefined {
  const env = process.env.TRANSFER_LAB_MODELS_DIR;
  if (env && env.trim()) return path.resolve(env);
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'media', 'models');
    if (isDir(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function bundledNames(): string[] {
  const dir = bundledModelsDir();
  if (!dir) return [];
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'model.json')))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function modelFromArtifacts(r: ReadResult, where: string, maxBytes: number): Promise<AnyModel> {
  const handler: tf.io.IOHandler = { load: async () => r.artifacts };
  // In strict loading every weight a layer creates must be in the manifest, so the manifest's size
  // bounds what building may allocate; a model without weights may use the whole budget.
  const hasWeights = (r.artifacts.weightSpecs?.length ?? 0) > 0;
  const limit = hasWeights ? Math.min(r.decodedBytes, maxBytes) : maxBytes;
  const why = hasWeights && r.decodedBytes <= maxBytes ? `the ${formatBytes(r.decodedBytes)} of weights its weightsManifest lists` : budgetHint(maxBytes);
  try {
    return r.format === 'graph' ? graphFromArtifacts(r.artifacts) : await withBuildGuard(where, limit, why, () => tf.loadLayersModel(handler));
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`${where}: layer `)) throw e;
    throw new Error(`Could not build the ${r.format} model from ${where}: ${errMsg(e)}`);
  }
}

/**
 * What tf.loadGraphModel does with a handler, but with the decoded weights disposed when the graph
 * cannot be built (TF.js leaves them allocated).
 */
function graphFromArtifacts(artifacts: tf.io.ModelArtifacts): tf.GraphModel {
  const model = new tf.GraphModel({ load: async () => artifacts });
  const weights = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), artifacts.weightSpecs ?? []);
  try {
    (model as unknown as { loadWithWeightMap(a: tf.io.ModelArtifacts, w: tf.NamedTensorMap): boolean }).loadWithWeightMap(artifacts, weights);
  } catch (e) {
    tf.dispose(Object.values(weights));
    throw e;
  }
  return model;
}

// --- metadata read from files (untrusted: checked field by field)

function parseMeta(raw: unknown, where: string): Partial<ModelMeta> {
  if (raw == null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where}: metadata must be a JSON object.`);
  const r = raw as Record<string, unknown>;
  const out: Partial<ModelMeta> = {};
  if (r.name !== undefined) {
    if (typeof r.name !== 'string') throw new Error(`${where}: "name" must be a string.`);
    out.name = r.name;
  }
  if (r.classes !== undefined) {
    if (!Array.isArray(r.classes) || !r.classes.every((c) => typeof c === 'string')) {
      throw new Error(`${where}: "classes" must be an array of strings.`);
    }
    out.classes = [...(r.classes as string[])];
  }
  if (r.featureLayer !== undefined) {
    if (typeof r.featureLayer !== 'string') throw new Error(`${where}: "featureLayer" must be a layer name.`);
    out.featureLayer = r.featureLayer;
  }
  if (r.inputSize !== undefined) {
    const s = r.inputSize;
    const problem = imageSizeProblem(s);
    if (problem) throw new Error(`${where}: "inputSize" ${problem}.`);
    out.inputSize = [(s as number[])[0], (s as number[])[1]];
  }
  if (r.preprocessing !== undefined) {
    const p = r.preprocessing as Record<string, unknown> | null;
    if (
      typeof p !== 'object' ||
      p === null ||
      typeof p.scale !== 'number' ||
      !Number.isFinite(p.scale) ||
      typeof p.offset !== 'number' ||
      !Number.isFinite(p.offset) ||
      (p.channels !== 1 && p.channels !== 3)
    ) {
      throw new Error(`${where}: "preprocessing" must be {scale: number, offset: number, channels: 1 | 3}.`);
    }
    out.preprocessing = { scale: p.scale, offset: p.offset, channels: p.channels } as Preprocessing;
  }
  return out;
}

const MAX_META_BYTES = 1024 * 1024;

/** Metadata saved with a model: transfer-lab.json beside model.json wins over userDefinedMetadata. */
async function readSavedMeta(modelJsonPath: string, json: ModelJSON): Promise<Partial<ModelMeta>> {
  // model.json's own copy first: it is written in the same atomic step as the model it describes.
  // transfer-lab.json beside it serves models saved by other tools that only wrote that file.
  const udm = (json as { userDefinedMetadata?: Record<string, unknown> }).userDefinedMetadata;
  if (udm?.[META_KEY] != null) return parseMeta(udm[META_KEY], `${modelJsonPath} (userDefinedMetadata.${META_KEY})`);
  const side = path.join(path.dirname(modelJsonPath), META_FILE);
  // Read like a weight file: a link to a file outside the folder must not put that file's text in an error.
  const text = await readModelFile(side, MAX_META_BYTES, undefined);
  return text === undefined ? {} : parseMeta(parseJson(text, side), side);
}

/** [height, width] of a 4-D image input, when the model has exactly such an input. */
function inferInputSize(model: AnyModel): [number, number] | undefined {
  const shape = model.inputs[0]?.shape;
  if (shape && shape.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number' && shape[1] > 0 && shape[2] > 0) {
    const size: [number, number] = [shape[1], shape[2]];
    const problem = imageSizeProblem(size);
    if (problem) throw new Error(`the model's image input ${problem}.`);
    return size;
  }
  return undefined;
}

// --- loading from disk

function resolveModelJson(p: string): string {
  if (isDir(p)) {
    const f = path.join(p, 'model.json');
    if (!isFile(f)) throw new Error(`${p} is a folder without a model.json.`);
    return f;
  }
  return p;
}

async function loadFromFile(
  modelJsonPath: string,
  base: Pick<ModelMeta, 'name' | 'source'> & Partial<ModelMeta>,
  maxBytes: number,
): Promise<AnyModel> {
  const r = await readModelArtifacts(modelJsonPath, maxBytes);
  const saved = await readSavedMeta(modelJsonPath, r.json);
  const model = await modelFromArtifacts(r, modelJsonPath, maxBytes);
  let inputSize: [number, number] | undefined;
  try {
    inputSize = saved.inputSize ?? base.inputSize ?? inferInputSize(model);
  } catch (e) {
    model.dispose();
    throw new Error(`${modelJsonPath}: ${(e as Error).message}`);
  }
  // Without saved metadata the pixel range is unknown, so preprocessing stays unset rather than guessed.
  const preprocessing = saved.preprocessing ?? base.preprocessing;
  const meta: ModelMeta = {
    // A saved model keeps the name it was saved under; bundled and zoo models keep their known names.
    name: base.source === 'file' ? (saved.name ?? base.name) : base.name,
    source: base.source,
    format: r.format,
    ...(saved.classes ?? base.classes ? { classes: saved.classes ?? base.classes } : {}),
    ...(inputSize ? { inputSize } : {}),
    ...(preprocessing ? { preprocessing } : {}),
    ...(saved.featureLayer ? { featureLayer: saved.featureLayer } : {}),
  };
  setMeta(model, meta);
  if (saved.featureLayer && model instanceof tf.LayersModel) {
    if (!model.layers.some((l) => l.name === saved.featureLayer)) {
      model.dispose();
      throw new Error(`${modelJsonPath}: metadata names feature layer ${JSON.stringify(saved.featureLayer)}, which the model does not have.`);
    }
    setFeatureLayerHint(model, saved.featureLayer);
  }
  return model;
}

/** Loads a layers model saved by tl.save() (or any layers-format folder), restoring its metadata. */
export async function loadLayersFromDir(dirOrModelJson: string, opts: Pick<LoadOptions, 'maxBytes'> = {}): Promise<tf.LayersModel> {
  const file = resolveModelJson(path.resolve(dirOrModelJson));
  const model = await loadFromFile(file, { name: path.basename(path.dirname(file)), source: 'file' }, maxModelBytes(opts.maxBytes));
  if (!isLayersModel(model)) {
    model.dispose();
    throw new Error(`${file} holds a graph model; loadLayersFromDir() needs a layers model.`);
  }
  return model;
}

// --- tl.load

/**
 * Loads a model by bundled name ('digits'), zoo name ('mobilenet_v2'), model.json path or folder,
 * or http(s) URL. Records its metadata (see getMeta). Graph models come back as tf.GraphModel:
 * usable as frozen feature extractors only.
 */
/** What tl.load gives: a TF.js model, or for an .onnx file a frozen feature extractor in ONNX Runtime. */
export type LoadedModel = AnyModel | FeatureExtractor;

export async function load(source: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  if (typeof source !== 'string' || !source.trim()) {
    throw new Error('tl.load(source): source must be a model name, a path to model.json or an http(s) URL.');
  }
  const s = source.trim();
  const maxBytes = maxModelBytes(opts.maxBytes);

  // An .onnx file is a frozen feature extractor run by ONNX Runtime (a TF.js head trains on its output).
  if (isOnnxPath(s) && !/^https?:\/\//i.test(s)) return loadOnnx(path.resolve(s), { maxBytes, ...opts.onnx });

  if (/^https?:\/\//i.test(s)) {
    const file = await downloadModel(s, opts);
    return loadFromFile(file, { name: s, source: 'url' }, maxBytes);
  }
  if (/^file:\/\//i.test(s)) {
    const p = fileURLToPath(s);
    return loadFromFile(resolveModelJson(p), { name: p, source: 'file' }, maxBytes);
  }

  const looksLikePath = /[\\/]/.test(s) || /\.json$/i.test(s) || s.startsWith('.');
  if (looksLikePath) {
    const p = path.resolve(s);
    if (!fs.existsSync(p)) throw new Error(`No model at ${p} (looked for a model.json file or a folder holding one).`);
    return loadFromFile(resolveModelJson(p), { name: s, source: 'file' }, maxBytes);
  }

  const bundledDir = bundledModelsDir();
  if (bundledDir && isFile(path.join(bundledDir, s, 'model.json'))) {
    return loadFromFile(path.join(bundledDir, s, 'model.json'), { name: s, source: 'bundled' }, maxBytes);
  }

  const entry = findZooEntry(s);
  if (entry) {
    const file = await downloadModel(entry.url, { ...opts, known: entry.files });
    const model = await loadFromFile(file, {
      name: entry.name,
      source: 'zoo',
      inputSize: entry.inputSize,
      preprocessing: entry.preprocessing,
    }, maxBytes);
    // The zoo knows the pixel range and input size better than anything stored with the files.
    const meta = getMeta(model);
    if (meta) setMeta(model, { ...meta, inputSize: entry.inputSize, preprocessing: entry.preprocessing });
    if (entry.featureLayer) setFeatureLayerHint(model, entry.featureLayer);
    return model;
  }

  if (fs.existsSync(s)) return loadFromFile(resolveModelJson(path.resolve(s)), { name: s, source: 'file' }, maxBytes);

  const known = [...bundledNames(), ...zooNames()];
  const close = closeMatches(s, known);
  throw new Error(
    `Unknown model "${s}". ` +
      (close.length ? `Did you mean ${close.map((c) => `"${c}"`).join(' or ')}? ` : '') +
      `Known names: ${known.join(', ')}. A path to a model.json or an http(s) URL also works.`,
  );
}
