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
import { getMeta, setMeta, type ModelMeta, type Preprocessing } from './meta';
import { findZooEntry, zooNames, type ZooEntry } from './zoo';
import { closeMatches } from './inspect';
import { getOutputSink } from './output';
import { isOnnxPath, loadOnnx, type OnnxLoadOptions } from './onnx/load';
import type { FeatureExtractor } from './onnx/extractor';
import type { DisplayHandle } from '../common/display';
import { TEXT_PLAIN } from '../common/mime';

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

function checkManifest(json: ModelJSON, where: string): tf.io.WeightsManifestConfig {
  const m = (json as { weightsManifest?: unknown }).weightsManifest;
  if (m == null) return [];
  if (!Array.isArray(m)) throw new Error(`${where}: "weightsManifest" must be an array.`);
  m.forEach((g: unknown, i) => {
    const group = g as { paths?: unknown; weights?: unknown };
    if (
      typeof g !== 'object' ||
      g === null ||
      !Array.isArray(group.paths) ||
      !group.paths.every((p) => typeof p === 'string') ||
      !Array.isArray(group.weights)
    ) {
      throw new Error(`${where}: weightsManifest[${i}] needs "paths" (file names) and "weights".`);
    }
  });
  return m as tf.io.WeightsManifestConfig;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, float16: 2, uint16: 2 };

/** Bytes a weight group needs, or undefined when a weight's size cannot be known (string tensors). */
export function groupBytes(weights: ManifestEntry[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const dtype = w.quantization ? w.quantization.dtype : w.dtype;
    const bytes = DTYPE_BYTES[dtype];
    if (bytes === undefined) return undefined;
    total += n * bytes;
  }
  return total;
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
}

/** Reads model.json and its weight files; checks every file exists and each group's byte count. */
export async function readModelArtifacts(modelJsonPath: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await fsp.readFile(modelJsonPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `No model file at ${modelJsonPath}.` : `Cannot read ${modelJsonPath}: ${errMsg(e)}`);
  }
  const json = parseJson(text, modelJsonPath) as ModelJSON;
  const format = detectFormat(json, modelJsonPath);
  const manifest = checkManifest(json, modelJsonPath);
  const dir = path.dirname(modelJsonPath);
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async () => {
    const specs: ManifestEntry[] = [];
    const parts: Buffer[] = [];
    for (const group of manifest) {
      const groupParts: Buffer[] = [];
      const files: string[] = [];
      for (const p of group.paths) {
        const file = path.resolve(dir, p);
        files.push(file);
        try {
          groupParts.push(await fsp.readFile(file));
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new Error(
            code === 'ENOENT'
              ? `Weight file ${file} is missing (listed in ${modelJsonPath}).`
              : `Cannot read weight file ${file}: ${errMsg(e)}`,
          );
        }
      }
      const have = groupParts.reduce((a, b) => a + b.length, 0);
      const need = groupBytes(group.weights);
      if (need !== undefined && have !== need) {
        throw new Error(
          `Weight file${files.length > 1 ? 's' : ''} ${files.join(', ')} hold${files.length > 1 ? '' : 's'} ${have} bytes, ` +
            `but ${modelJsonPath} lists weights of ${need} bytes: the file is truncated or does not belong to this model.`,
        );
      }
      specs.push(...group.weights);
      parts.push(...groupParts);
    }
    return [specs, toArrayBuffer(parts)];
  });
  return { artifacts, format, json };
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

async function modelFromArtifacts(r: ReadResult, where: string): Promise<AnyModel> {
  const handler: tf.io.IOHandler = { load: async () => r.artifacts };
  try {
    return r.format === 'graph' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  } catch (e) {
    throw new Error(`Could not build the ${r.format} model from ${where}: ${errMsg(e)}`);
  }
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
    if (!Array.isArray(s) || s.length !== 2 || !s.every((v) => Number.isInteger(v) && (v as number) > 0)) {
      throw new Error(`${where}: "inputSize" must be [height, width] in pixels.`);
    }
    out.inputSize = [s[0] as number, s[1] as number];
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

/** Metadata saved with a model: transfer-lab.json beside model.json wins over userDefinedMetadata. */
async function readSavedMeta(modelJsonPath: string, json: ModelJSON): Promise<Partial<ModelMeta>> {
  // model.json's own copy first: it is written in the same atomic step as the model it describes.
  // transfer-lab.json beside it serves models saved by other tools that only wrote that file.
  const udm = (json as { userDefinedMetadata?: Record<string, unknown> }).userDefinedMetadata;
  if (udm?.[META_KEY] != null) return parseMeta(udm[META_KEY], `${modelJsonPath} (userDefinedMetadata.${META_KEY})`);
  const side = path.join(path.dirname(modelJsonPath), META_FILE);
  if (isFile(side)) {
    const text = await fsp.readFile(side, 'utf8');
    return parseMeta(parseJson(text, side), side);
  }
  return {};
}

/** [height, width] of a 4-D image input, when the model has exactly such an input. */
function inferInputSize(model: AnyModel): [number, number] | undefined {
  const shape = model.inputs[0]?.shape;
  if (shape && shape.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number' && shape[1] > 0 && shape[2] > 0) {
    return [shape[1], shape[2]];
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
): Promise<AnyModel> {
  const r = await readModelArtifacts(modelJsonPath);
  const model = await modelFromArtifacts(r, modelJsonPath);
  const saved = await readSavedMeta(modelJsonPath, r.json);
  const inputSize = saved.inputSize ?? base.inputSize ?? inferInputSize(model);
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
    if (!model.layers.some((l) => l.name === saved.featureLayer)) throw new Error(`${modelJsonPath}: metadata names feature layer "${saved.featureLayer}", which the model does not have.`);
    setFeatureLayerHint(model, saved.featureLayer);
  }
  return model;
}

/** Loads a layers model saved by tl.save() (or any layers-format folder), restoring its metadata. */
export async function loadLayersFromDir(dirOrModelJson: string): Promise<tf.LayersModel> {
  const file = resolveModelJson(path.resolve(dirOrModelJson));
  const model = await loadFromFile(file, { name: path.basename(path.dirname(file)), source: 'file' });
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

/** Weight URL as tfjs's http loader builds it: relative to model.json, keeping model.json's query. */
function weightUrl(p: string, modelUrl: string): string {
  const base = new URL(modelUrl);
  const u = new URL(p, base);
  if (!u.search && base.search) u.search = base.search;
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

async function httpGet(url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    throw new Error(`Could not download ${url}: ${errMsg(cause ?? e)}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`Could not download ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  }
  return res;
}

function declaredLength(res: Response): number | undefined {
  // With a content-encoding the header counts compressed bytes, not what the body stream yields.
  const enc = res.headers.get('content-encoding');
  if (enc && enc !== 'identity') return undefined;
  const len = res.headers.get('content-length');
  const n = len == null ? NaN : Number(len);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

async function download(
  url: string,
  dest: string,
  file: string,
  onProgress: LoadOptions['onProgress'],
  expected?: number,
): Promise<number> {
  const res = await httpGet(url);
  const total = declaredLength(res) ?? expected;
  const tmp = tmpName(dest);
  const fh = await fsp.open(tmp, 'w');
  let loaded = 0;
  try {
    onProgress?.({ loaded, total, file });
    if (res.body) {
      const reader = res.body.getReader();
      const next = () =>
        reader.read().catch((e: unknown) => {
          const cause = (e as { cause?: unknown }).cause;
          throw new Error(`Download of ${url} broke off after ${loaded} bytes: ${errMsg(cause ?? e)}`);
        });
      for (;;) {
        const chunk = await next();
        if (chunk.done) break;
        await fh.write(chunk.value);
        loaded += chunk.value.length;
        onProgress?.({ loaded, total, file });
      }
    }
    const declared = declaredLength(res);
    if (declared !== undefined && loaded !== declared) {
      throw new Error(`Download of ${url} is truncated: received ${loaded} of ${declared} bytes.`);
    }
    await fh.close();
    await fsp.rename(tmp, dest);
    return loaded;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
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
      await readModelArtifacts(local);
      return local;
    } catch {
      // A damaged cache entry is downloaded again below.
    }
  }
  // Downloaded into a staging folder beside the cache entry and swapped in when complete: a failed
  // (forced) download leaves what was cached before untouched.
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
  const local = path.join(dir, 'model.json');
  const res = await httpGet(jsonUrl);
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new Error(`Could not download ${jsonUrl}: ${errMsg(e)}`);
  }
  opts.onProgress?.({ loaded: Buffer.byteLength(text), total: Buffer.byteLength(text), file: 'model.json' });
  const json = parseJson(text, jsonUrl) as ModelJSON;
  detectFormat(json, jsonUrl);
  const manifest = checkManifest(json, jsonUrl);
  const knownJson = opts.known?.['model.json'];
  if (knownJson?.sha256 && crypto.createHash('sha256').update(text).digest('hex') !== knownJson.sha256) {
    throw new Error(`${jsonUrl} does not match its known SHA-256: the download is corrupt or the file has changed.`);
  }

  const used = new Set<string>(['model.json', META_FILE, 'source.json']);
  const localManifest: tf.io.WeightsManifestConfig = [];
  for (const [gi, group] of manifest.entries()) {
    const localPaths: string[] = [];
    let have = 0;
    const urls: string[] = [];
    for (const [pi, p] of group.paths.entries()) {
      const remote = weightUrl(p, jsonUrl);
      urls.push(remote);
      let name = path.posix.basename(new URL(remote).pathname).replace(/[^a-zA-Z0-9._-]+/g, '_') || `group${gi + 1}-shard${pi + 1}`;
      if (!name.endsWith('.bin') && !/\.[a-z0-9]+$/i.test(name)) name += '.bin';
      while (used.has(name)) name = `${gi + 1}_${pi + 1}_${name}`;
      used.add(name);
      const need = group.paths.length === 1 ? groupBytes(group.weights) : undefined;
      const dest = path.join(dir, name);
      have += await download(remote, dest, p, opts.onProgress, need);
      const known = opts.known?.[p];
      if (known?.bytes !== undefined && known.bytes !== (await fsp.stat(dest)).size) {
        throw new Error(`${remote} has ${(await fsp.stat(dest)).size} bytes, expected ${known.bytes}.`);
      }
      if (known?.sha256 && (await sha256File(dest)) !== known.sha256) {
        throw new Error(`${remote} does not match its known SHA-256: the download is corrupt.`);
      }
      localPaths.push(name);
    }
    const need = groupBytes(group.weights);
    if (need !== undefined && have !== need) {
      throw new Error(
        `Weight file${urls.length > 1 ? 's' : ''} ${urls.join(', ')} gave ${have} bytes, but ${jsonUrl} lists weights of ` +
          `${need} bytes: the download is truncated or the files do not belong to this model.`,
      );
    }
    localManifest.push({ ...group, paths: localPaths });
  }
  const localJson = { ...json, weightsManifest: localManifest };
  await writeFileAtomic(path.join(dir, 'source.json'), JSON.stringify({ url: jsonUrl, fetchedAt: new Date().toISOString() }, null, 2));
  await writeFileAtomic(local, JSON.stringify(localJson));
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

  // An .onnx file is a frozen feature extractor run by ONNX Runtime (a TF.js head trains on its output).
  if (isOnnxPath(s) && !/^https?:\/\//i.test(s)) return loadOnnx(path.resolve(s), opts.onnx);

  if (/^https?:\/\//i.test(s)) {
    const file = await downloadModel(s, opts);
    return loadFromFile(file, { name: s, source: 'url' });
  }
  if (/^file:\/\//i.test(s)) {
    const p = fileURLToPath(s);
    return loadFromFile(resolveModelJson(p), { name: p, source: 'file' });
  }

  const looksLikePath = /[\\/]/.test(s) || /\.json$/i.test(s) || s.startsWith('.');
  if (looksLikePath) {
    const p = path.resolve(s);
    if (!fs.existsSync(p)) throw new Error(`No model at ${p} (looked for a model.json file or a folder holding one).`);
    return loadFromFile(resolveModelJson(p), { name: s, source: 'file' });
  }

  const bundledDir = bundledModelsDir();
  if (bundledDir && isFile(path.join(bundledDir, s, 'model.json'))) {
    return loadFromFile(path.join(bundledDir, s, 'model.json'), { name: s, source: 'bundled' });
  }

  const entry = findZooEntry(s);
  if (entry) {
    const file = await downloadModel(entry.url, { ...opts, known: entry.files });
    const model = await loadFromFile(file, {
      name: entry.name,
      source: 'zoo',
      inputSize: entry.inputSize,
      preprocessing: entry.preprocessing,
    });
    // The zoo knows the pixel range and input size better than anything stored with the files.
    const meta = getMeta(model);
    if (meta) setMeta(model, { ...meta, inputSize: entry.inputSize, preprocessing: entry.preprocessing });
    if (entry.featureLayer) setFeatureLayerHint(model, entry.featureLayer);
    return model;
  }

  if (fs.existsSync(s)) return loadFromFile(resolveModelJson(path.resolve(s)), { name: s, source: 'file' });

  const known = [...bundledNames(), ...zooNames()];
  const close = closeMatches(s, known);
  throw new Error(
    `Unknown model "${s}". ` +
      (close.length ? `Did you mean ${close.map((c) => `"${c}"`).join(' or ')}? ` : '') +
      `Known names: ${known.join(', ')}. A path to a model.json or an http(s) URL also works.`,
  );
}
