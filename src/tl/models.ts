/**
 * tl.load(): bundled models, the zoo, model.json files and http(s) URLs, with a download cache.
 *
 * TF.js in Node without tfjs-node has no `file://` handler, and its http loader keeps nothing on disk,
 * so both are done here: files are read with fs and handed to TF.js as in-memory artifacts, and
 * downloads land in a cache folder first (atomic renames, size checks against the weightsManifest).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { getMeta, setMeta, imageSizeProblem, type ModelMeta, type Preprocessing } from './meta';
import { findZooEntry, zooNames, type ZooEntry } from './zoo';
import { closeMatches } from './inspect';
import { getOutputSink } from './output';
import { isOnnxPath, loadOnnx, type OnnxLoadOptions } from './onnx/load';
import type { FeatureExtractor } from './onnx/extractor';
import type { DisplayHandle } from '../common/display';
import { TEXT_PLAIN } from '../common/mime';
import { budgetHint, formatBytes, maxModelBytes } from './safety/budget';
import { sizeManifest, checkGroupData, type SizedGroup, type SizedManifest } from './safety/manifest';
import { readLocalWeights, readModelFile } from './safety/weightFiles';
import { withBuildGuard } from './safety/buildGuard';
import { checkGraphTopology } from './safety/topology';
import { declaredLength, openUrl, readBody, resolveLimits, sameOriginWeightUrl, type DownloadLimits } from './safety/http';

export type AnyModel = tf.LayersModel | tf.GraphModel;

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

export function defaultCacheDir(): string {
  const env = process.env.TRANSFER_LAB_CACHE;
  if (env && env.trim()) return path.resolve(env);
  return path.join(os.homedir(), '.cache', 'transfer-lab');
}

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

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

// --- model.json

type ModelJSON = tf.io.ModelJSON;
type ManifestEntry = tf.io.WeightsManifestEntry;

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

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not valid JSON (${errMsg(e)}); is it a TF.js model.json?`);
  }
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface ReadResult {
  artifacts: tf.io.ModelArtifacts;
  format: 'layers' | 'graph';
  json: ModelJSON;
  /** Bytes the weights take as tensors. */
  decodedBytes: number;
}

/** model.json files larger than this are not models (MobileNet's is 100 KiB, big graph models a few MiB). */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/** Reads and checks model.json: JSON, format and a sized weightsManifest within the budget. */
function parseModelJson(text: string, where: string, maxBytes: number): { json: ModelJSON; format: 'layers' | 'graph'; manifest: SizedManifest } {
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

// --- downloads

/** The cache folder for one model URL: readable slug + hash, so different URLs never share files. */
export function cacheFolderFor(url: string, cacheDir = defaultCacheDir()): string {
  const hash = crypto.createHash('sha256').update(url).digest('hex').slice(0, 16);
  let slug = '';
  try {
    const u = new URL(url);
    slug = (u.hostname + u.pathname)
      .replace(/\/model\.json$/, '')
      .replace(/[^a-zA-Z0-9._-]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(-60);
  } catch {
    // an unparsable URL still gets a hashed folder
  }
  return path.join(path.resolve(cacheDir), slug ? `${slug}-${hash}` : hash);
}

/** Turns a model URL without model.json (tfhub.dev / Kaggle style) into the model.json URL. */
export function modelJsonUrl(url: string): string {
  const u = new URL(url);
  if (/\.json$/i.test(u.pathname)) return u.toString();
  u.pathname = u.pathname.replace(/\/+$/, '') + '/model.json';
  if (/(^|\.)tfhub\.dev$|(^|\.)kaggle\.com$/i.test(u.hostname) && !u.searchParams.has('tfjs-format')) {
    u.searchParams.set('tfjs-format', 'file');
  }
  return u.toString();
}

function tmpName(dest: string): string {
  return `${dest}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
}

/** Writes a file so that readers see either the old file or the whole new one, never a part. */
export async function writeFileAtomic(dest: string, data: string | Uint8Array): Promise<void> {
  const tmp = tmpName(dest);
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

interface DownloadContext {
  onProgress: LoadOptions['onProgress'];
  limits: Required<DownloadLimits>;
}

/** What a download may be: its size limit and the reason for it, for the error. */
interface SizeLimit {
  bytes: number;
  why: string;
}

/** Downloads `url` into `dest` (atomically), bounded in time and size. Returns its byte count. */
async function download(url: string, dest: string, file: string, ctx: DownloadContext, limit: SizeLimit, expected?: number): Promise<number> {
  const open = await openUrl(url, ctx.limits);
  const total = declaredLength(open.res) ?? expected;
  const tmp = tmpName(dest);
  const fh = await fsp.open(tmp, 'w');
  try {
    ctx.onProgress?.({ loaded: 0, total, file });
    const loaded = await readBody(url, open, {
      maxBytes: limit.bytes,
      maxWhy: limit.why,
      limits: ctx.limits,
      onChunk: async (chunk, n) => {
        await fh.write(chunk);
        ctx.onProgress?.({ loaded: n, total, file });
      },
    });
    await fh.close();
    await fsp.rename(tmp, dest);
    return loaded;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** model.json from `url`, bounded like any download. */
async function downloadText(url: string, ctx: DownloadContext, limit: SizeLimit): Promise<string> {
  const open = await openUrl(url, ctx.limits);
  const chunks: Uint8Array[] = [];
  await readBody(url, open, { maxBytes: limit.bytes, maxWhy: limit.why, limits: ctx.limits, onChunk: (c) => void chunks.push(c) });
  return Buffer.concat(chunks).toString('utf8');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes staging folders of `dir` left by processes that died mid-download (killed kernels). */
async function removeStaleStaging(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let names: string[];
  try {
    names = await fsp.readdir(parent);
  } catch {
    return;
  }
  for (const n of names) {
    const m = n.startsWith(`${base}.`) ? /^\.(?:partial|old)-(\d+)-[0-9a-f]+$/.exec(n.slice(base.length)) : null;
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    await fsp.rm(path.join(parent, n), { recursive: true, force: true });
  }
}

async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  h.update(await fsp.readFile(file));
  return h.digest('hex');
}

/**
 * Downloads model.json and its weight files into the cache and returns the local model.json path.
 * Weight files are saved under safe local names (the manifest is rewritten to match), and model.json
 * is written last, so a folder with model.json holds a complete download.
 */
/**
 * Progress shown in the cell while a download runs, when the caller passed no onProgress: one
 * text output, replaced at most 4 times a second, ending with the total.
 */
function progressDisplay(url: string): { onProgress: (p: LoadProgress) => void; done(): void } {
  let handle: DisplayHandle | undefined;
  let last = 0;
  let shown = '';
  const bytes = new Map<string, { loaded: number; total?: number }>();
  const text = () => {
    let loaded = 0;
    let total = 0;
    let known = true;
    for (const b of bytes.values()) {
      loaded += b.loaded;
      if (b.total === undefined) known = false;
      else total += b.total;
    }
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    return `Downloading ${url}: ${bytes.size} file${bytes.size === 1 ? '' : 's'}, ${mb(loaded)} MB${known && total ? ` of ${mb(total)} MB (${Math.floor((100 * loaded) / total)}%)` : ''}`;
  };
  return {
    onProgress(p) {
      bytes.set(p.file, { loaded: p.loaded, total: p.total });
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      shown = text();
      if (handle) handle.update({ [TEXT_PLAIN]: shown });
      else handle = getOutputSink().display({ [TEXT_PLAIN]: shown });
    },
    done() {
      if (!handle && !bytes.size) return;
      const final = `${text().replace(/^Downloading/, 'Downloaded')} — cached`;
      if (final === shown) return;
      if (handle) handle.update({ [TEXT_PLAIN]: final });
      else getOutputSink().display({ [TEXT_PLAIN]: final });
    },
  };
}

export async function downloadModel(
  url: string,
  opts: LoadOptions & { known?: ZooEntry['files'] } = {},
): Promise<string> {
  if (!opts.onProgress) {
    const shown = progressDisplay(url);
    const file = await downloadModel(url, { ...opts, onProgress: shown.onProgress });
    shown.done();
    return file;
  }
  const jsonUrl = modelJsonUrl(url);
  const dir = cacheFolderFor(jsonUrl, opts.cacheDir);
  const local = path.join(dir, 'model.json');
  if (!opts.force && isFile(local)) {
    try {
      await readModelArtifacts(local, maxModelBytes(opts.maxBytes));
      return local;
    } catch {
      // A damaged cache entry is downloaded again below.
    }
  }
  // Downloaded into a staging folder beside the cache entry and swapped in when complete: a failed
  // (forced) download leaves what was cached before untouched.
  await removeStaleStaging(dir);
  const stage = `${dir}.partial-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  await fsp.mkdir(stage, { recursive: true });
  try {
    await fetchInto(stage, jsonUrl, opts);
    const old = `${dir}.old-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    const hadOld = fs.existsSync(dir);
    if (hadOld) await fsp.rename(dir, old);
    await fsp.rename(stage, dir);
    if (hadOld) await fsp.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fsp.rm(stage, { recursive: true, force: true });
    throw e;
  }
  return local;
}

async function fetchInto(dir: string, jsonUrl: string, opts: LoadOptions & { known?: ZooEntry['files'] }): Promise<void> {
  const maxBytes = maxModelBytes(opts.maxBytes);
  const ctx: DownloadContext = { onProgress: opts.onProgress, limits: resolveLimits(opts.download) };
  const text = await downloadText(jsonUrl, ctx, { bytes: MAX_MODEL_JSON_BYTES, why: `the ${formatBytes(MAX_MODEL_JSON_BYTES)} a model.json may have` });
  opts.onProgress?.({ loaded: Buffer.byteLength(text), total: Buffer.byteLength(text), file: 'model.json' });
  const { json, manifest } = parseModelJson(text, jsonUrl, maxBytes);
  const knownJson = opts.known?.['model.json'];
  if (knownJson?.sha256 && crypto.createHash('sha256').update(text).digest('hex') !== knownJson.sha256) {
    throw new Error(`${jsonUrl} does not match its known SHA-256: the download is corrupt or the file has changed.`);
  }
  // Every weight URL is checked before the first is fetched: one on another site fails the whole load.
  const urls = manifest.groups.map((g) => g.paths.map((p, i) => sameOriginWeightUrl(p, jsonUrl, `${jsonUrl}: weightsManifest[${g.index}].paths[${i}]`)));

  const used = new Set<string>(['model.json', META_FILE, 'source.json']);
  const localManifest: tf.io.WeightsManifestConfig = [];
  let total = 0;
  for (const group of manifest.groups) {
    const localPaths: string[] = [];
    let have = 0;
    for (const [pi, p] of group.paths.entries()) {
      const remote = urls[group.index][pi];
      const name = localWeightName(remote, group.index, pi, used);
      const dest = path.join(dir, name);
      const limit: SizeLimit =
        group.stringValues === 0
          ? { bytes: group.fixedBytes - have, why: `the ${group.fixedBytes} bytes weightsManifest[${group.index}] lists` }
          : { bytes: maxBytes - total - have, why: budgetHint(maxBytes) };
      have += await download(remote, dest, p, ctx, limit, group.paths.length === 1 && group.stringValues === 0 ? group.fixedBytes : undefined);
      await checkKnownFile(remote, dest, opts.known?.[p]);
      localPaths.push(name);
    }
    await checkDownloadedGroup(group, have, localPaths.map((n) => path.join(dir, n)), urls[group.index], jsonUrl);
    total += have;
    localManifest.push({ paths: localPaths, weights: group.weights });
  }
  const localJson = { ...json, weightsManifest: localManifest };
  await writeFileAtomic(path.join(dir, 'source.json'), JSON.stringify({ url: jsonUrl, fetchedAt: new Date().toISOString() }, null, 2));
  await writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(localJson));
}

/** A safe local file name for a downloaded weight file, unique in the folder. */
function localWeightName(remote: string, gi: number, pi: number, used: Set<string>): string {
  let name = path.posix.basename(new URL(remote).pathname).replace(/[^a-zA-Z0-9._-]+/g, '_').replace(/^\.+/, '') || `group${gi + 1}-shard${pi + 1}`;
  if (!name.endsWith('.bin') && !/\.[a-z0-9]+$/i.test(name)) name += '.bin';
  while (used.has(name)) name = `${gi + 1}_${pi + 1}_${name}`;
  used.add(name);
  return name;
}

async function checkKnownFile(remote: string, dest: string, known: { bytes?: number; sha256?: string } | undefined): Promise<void> {
  if (!known) return;
  const size = (await fsp.stat(dest)).size;
  if (known.bytes !== undefined && known.bytes !== size) throw new Error(`${remote} has ${size} bytes, expected ${known.bytes}.`);
  if (known.sha256 && (await sha256File(dest)) !== known.sha256) throw new Error(`${remote} does not match its known SHA-256: the download is corrupt.`);
}

/** The downloaded bytes of a group must be exactly what its weights take. */
async function checkDownloadedGroup(group: SizedGroup, have: number, files: string[], urls: string[], jsonUrl: string): Promise<void> {
  if (group.stringValues > 0) {
    const data = Buffer.concat(await Promise.all(files.map((f) => fsp.readFile(f))));
    checkGroupData(group, data, jsonUrl, urls);
    return;
  }
  if (have !== group.fixedBytes) {
    throw new Error(
      `Weight file${urls.length > 1 ? 's' : ''} ${urls.join(', ')} gave ${have} bytes, but ${jsonUrl} lists weights of ` +
        `${group.fixedBytes} bytes: the download is truncated or the files do not belong to this model.`,
    );
  }
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
