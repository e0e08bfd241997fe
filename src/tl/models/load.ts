/**
 * tl.load(): bundled models, the zoo, model.json files and http(s) URLs, with a download cache.
 *
 * TF.js in Node without tfjs-node has no `file://` handler, and its http loader keeps nothing on disk,
 * so both are done here: files are read with fs (files.ts) and handed to TF.js as in-memory
 * artifacts, and downloads land in a cache folder first (download.ts). Every model file is untrusted:
 * safety/ keeps its reads inside its folder and its sizes within the budget.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { getMeta, setMeta, setFeatureLayerHint, type ModelMeta } from './meta';
import { findZooEntry, zooNames } from './zoo';
import { closeMatches } from '../inspect';
import { isOnnxPath, loadOnnx } from '../onnx/load';
import type { FeatureExtractor } from '../onnx/extractor';
import { budgetHint, formatBytes, maxModelBytes } from './safety/budget';
import { withBuildGuard } from './safety/buildGuard';
import { isFile, readModelArtifacts, type LoadOptions, type ReadResult } from './files';
import { errMsg } from '../util/text';
import { downloadModel } from './download';
import { throwIfInterrupted } from '../output';
import { bundledModelsDir, bundledNames, isDir } from './cache';
import { isLayersModel, type AnyModel } from './kinds';
import { inferInputSize, readSavedMeta } from './savedMeta';
import { loadTextBase } from '../text/load';
import { readSavedVocabulary } from '../text/saved';
import { readSavedEncoder, sentenceEncoderBase } from '../text/encoderBase';
import { sentenceEncoderFiles } from '../text/encoderFiles';

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

// --- loading from disk

function resolveModelJson(p: string): string {
  if (isDir(p)) {
    const f = path.join(p, 'model.json');
    if (!isFile(f)) throw new Error(`${p} is a folder without a model.json${isFile(path.join(p, 'model.onnx')) ? ' (it has a model.onnx: tl.load reads that)' : ''}.`);
    return f;
  }
  return p;
}

/** The model.onnx of a folder that holds one and no model.json (a model saved with { format: 'onnx' }). */
function onnxInFolder(p: string): string | undefined {
  if (!isDir(p) || isFile(path.join(p, 'model.json'))) return undefined;
  const f = path.join(p, 'model.onnx');
  return isFile(f) ? f : undefined;
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
    ...(saved.text ? { text: saved.text } : {}),
  };
  if (saved.text) {
    try {
      if (saved.text.kind === 'sentence-encoder') await readSavedEncoder(modelJsonPath, saved.text, model, maxBytes);
      else await readSavedVocabulary(modelJsonPath, saved.text, model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
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

/** What tl.load gives: a TF.js model, or for an .onnx file a frozen feature extractor in ONNX Runtime. */
export type LoadedModel = AnyModel | FeatureExtractor;

/**
 * Loads a model by bundled name ('digits'), zoo name ('mobilenet_v2'), model.json path or folder,
 * or http(s) URL. Records its metadata (see getMeta). Graph models come back as tf.GraphModel:
 * usable as frozen feature extractors only.
 */
export async function load(source: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  if (typeof source !== 'string' || !source.trim()) {
    throw new Error('tl.load(source): source must be a model name, a path to model.json or an http(s) URL.');
  }
  const s = source.trim();
  const maxBytes = maxModelBytes(opts.maxBytes);

  // model.onnx with a tokenizer.json beside it (or their folder) is an ONNX sentence encoder: a text base.
  const encoder = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? undefined : sentenceEncoderFiles(s);
  if (encoder) return sentenceEncoderBase(encoder, maxBytes, { ...opts.onnx, ...opts.text, name: opts.text?.name });

  // An .onnx file is a frozen feature extractor run by ONNX Runtime (a TF.js head trains on its output),
  // or a whole model exported by tl.save, which its metadata says.
  if (isOnnxPath(s) && !/^https?:\/\//i.test(s)) return loadOnnx(path.resolve(s), { maxBytes, ...opts.onnx });

  if (/^https?:\/\//i.test(s)) {
    const file = await downloadModel(s, opts);
    throwIfInterrupted(); // no model is built for a cell that was interrupted
    return loadFromFile(file, { name: s, source: 'url' }, maxBytes);
  }
  if (/^file:\/\//i.test(s)) {
    const p = fileURLToPath(s);
    const onnx = onnxInFolder(p);
    if (onnx) return loadOnnx(onnx, { maxBytes, ...opts.onnx });
    return loadFromFile(resolveModelJson(p), { name: p, source: 'file' }, maxBytes);
  }

  const textBase = await loadTextBase(s, maxBytes, opts.text);
  if (textBase) return textBase;

  const looksLikePath = /[\\/]/.test(s) || /\.json$/i.test(s) || s.startsWith('.');
  if (looksLikePath) {
    const p = path.resolve(s);
    if (!fs.existsSync(p)) throw new Error(`No model at ${p} (looked for a model.json file or a folder holding one).`);
    const onnx = onnxInFolder(p);
    if (onnx) return loadOnnx(onnx, { maxBytes, ...opts.onnx });
    return loadFromFile(resolveModelJson(p), { name: s, source: 'file' }, maxBytes);
  }

  const bundledDir = bundledModelsDir();
  if (bundledDir && isFile(path.join(bundledDir, s, 'model.json'))) {
    return loadFromFile(path.join(bundledDir, s, 'model.json'), { name: s, source: 'bundled' }, maxBytes);
  }

  const entry = findZooEntry(s);
  if (entry) {
    const file = await downloadModel(entry.url, { ...opts, known: entry.files });
    throwIfInterrupted();
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
