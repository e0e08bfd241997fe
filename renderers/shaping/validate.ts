/**
 * Output data and messages come from the kernel, which runs user code: treat them as untrusted.
 * These checks turn them into the shared shapes or fail with an error that names what is wrong.
 */
import type {
  BatchPoint,
  ClassMetrics,
  ConfusionData,
  CutMark,
  EpochPoint,
  GalleryData,
  GalleryItem,
  LayerInfo,
  LayerMap,
  LrFindData,
  RunStatus,
  TrainingMessage,
  TrainingRun,
} from '../../src/common/shapes';

export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

const STATUSES: readonly RunStatus[] = ['running', 'done', 'early-stopped', 'interrupted', 'error'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new DataError(`${what} must be an object`);
  return v;
}

function str(o: Obj, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new DataError(`${what}: "${key}" must be a string`);
  return v;
}

function optStr(o: Obj, key: string): string | undefined {
  return typeof o[key] === 'string' ? (o[key] as string) : undefined;
}

function num(o: Obj, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new DataError(`${what}: "${key}" must be a finite number`);
  return v;
}

/** JSON has no NaN: JSON.stringify writes a NaN loss as null. Keep it as NaN so the chart shows a gap. */
function metric(o: Obj, key: string): number | undefined {
  const v = o[key];
  if (typeof v === 'number') return v;
  if (v === null) return NaN;
  return undefined;
}

function optNum(o: Obj, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function arr(o: Obj, key: string, what: string): unknown[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new DataError(`${what}: "${key}" must be an array`);
  return v;
}

function status(v: unknown, what: string): RunStatus {
  if (typeof v === 'string' && (STATUSES as readonly string[]).includes(v)) return v as RunStatus;
  throw new DataError(`${what}: "status" must be one of ${STATUSES.join(', ')}`);
}

export function toEpochPoint(v: unknown, what = 'epoch point'): EpochPoint {
  const o = obj(v, what);
  const p: EpochPoint = { epoch: num(o, 'epoch', what) };
  for (const k of ['loss', 'acc', 'val_loss', 'val_acc', 'lr', 'seconds'] as const) {
    const m = metric(o, k);
    if (m !== undefined) p[k] = m;
  }
  return p;
}

export function toBatchPoint(v: unknown, what = 'batch point'): BatchPoint {
  const o = obj(v, what);
  const p: BatchPoint = { epoch: num(o, 'epoch', what), batch: num(o, 'batch', what), step: num(o, 'step', what) };
  for (const k of ['loss', 'acc'] as const) {
    const m = metric(o, k);
    if (m !== undefined) p[k] = m;
  }
  return p;
}

export function toTrainingRun(data: unknown): TrainingRun {
  const what = 'training output';
  const o = obj(data, what);
  if (o.kind !== 'training') throw new DataError(`${what}: "kind" must be "training"`);
  const run: TrainingRun = {
    kind: 'training',
    version: 1,
    runId: str(o, 'runId', what),
    status: status(o.status, what),
    epochs: optNum(o, 'epochs') ?? 0,
    history: arr(o, 'history', what).map((p, i) => toEpochPoint(p, `${what}: history[${i}]`)),
    batches: arr(o, 'batches', what).map((p, i) => toBatchPoint(p, `${what}: batches[${i}]`)),
  };
  const title = optStr(o, 'title');
  if (title !== undefined) run.title = title;
  const phase = optStr(o, 'phase');
  if (phase !== undefined) run.phase = phase;
  const message = optStr(o, 'message');
  if (message !== undefined) run.message = message;
  for (const k of ['batchesPerEpoch', 'samples', 'throughput', 'etaSeconds', 'startedAt'] as const) {
    const n = optNum(o, k);
    if (n !== undefined) run[k] = n;
  }
  if (isObj(o.best)) {
    const b = o.best;
    run.best = { epoch: num(b, 'epoch', `${what}: best`), monitor: str(b, 'monitor', `${what}: best`), value: metric(b, 'value') ?? NaN };
  }
  return run;
}

/** A renderer message, or undefined when it is not one of ours (the channel may carry others). */
export function toTrainingMessage(v: unknown): TrainingMessage | undefined {
  if (!isObj(v) || typeof v.runId !== 'string') return undefined;
  try {
    const extra = { throughput: optNum(v, 'throughput'), etaSeconds: optNum(v, 'etaSeconds') };
    if (v.type === 'batch') return { type: 'batch', runId: v.runId, point: toBatchPoint(v.point), ...extra };
    if (v.type === 'epoch') return { type: 'epoch', runId: v.runId, point: toEpochPoint(v.point), ...extra };
    if (v.type === 'status') return { type: 'status', runId: v.runId, status: status(v.status, 'status message'), message: optStr(v, 'message') };
  } catch {
    return undefined;
  }
  return undefined;
}

function toShape(v: unknown): LayerInfo['outputShape'] {
  if (!Array.isArray(v)) return [];
  const dim = (d: unknown) => (typeof d === 'number' && Number.isFinite(d) ? d : null);
  if (v.length > 0 && Array.isArray(v[0])) return v.map((s) => (Array.isArray(s) ? s.map(dim) : []));
  return v.map(dim);
}

export function toLayerMap(data: unknown): LayerMap {
  const what = 'layer map output';
  const o = obj(data, what);
  if (o.kind !== 'layers') throw new DataError(`${what}: "kind" must be "layers"`);
  const layers = arr(o, 'layers', what).map((l, i): LayerInfo => {
    const w = `${what}: layers[${i}]`;
    const lo = obj(l, w);
    const info: LayerInfo = {
      index: optNum(lo, 'index') ?? i,
      name: str(lo, 'name', w),
      className: optStr(lo, 'className') ?? '',
      outputShape: toShape(lo.outputShape),
      trainableParams: optNum(lo, 'trainableParams') ?? 0,
      nonTrainableParams: optNum(lo, 'nonTrainableParams') ?? 0,
      trainable: lo.trainable === true,
      block: optStr(lo, 'block') ?? '',
    };
    if (lo.bnInference === true) info.bnInference = true;
    if (lo.unused === true) info.unused = true;
    return info;
  });
  layers.sort((a, b) => a.index - b.index);
  const cut = toCutMark(o.cut, layers);
  const t = isObj(o.totals) ? o.totals : {};
  const trainable = optNum(t, 'trainable') ?? layers.reduce((s, l) => s + l.trainableParams, 0);
  const nonTrainable = optNum(t, 'nonTrainable') ?? layers.reduce((s, l) => s + l.nonTrainableParams, 0);
  return {
    kind: 'layers',
    version: 1,
    modelName: optStr(o, 'modelName') ?? 'model',
    layers,
    totals: { trainable, nonTrainable, total: optNum(t, 'total') ?? trainable + nonTrainable },
    ...(cut ? { cut } : {}),
    ...(optStr(o, 'input') !== undefined ? { input: optStr(o, 'input') } : {}),
  };
}

/** The cut mark, when there is one and it names a layer of the map. */
function toCutMark(v: unknown, layers: readonly LayerInfo[]): CutMark | undefined {
  if (v === undefined) return undefined;
  const what = 'layer map output: cut';
  const o = obj(v, what);
  const index = num(o, 'index', what);
  if (!layers.some((l) => l.index === index)) throw new DataError(`${what}: "index" ${index} is not a layer of the map`);
  const model = optStr(o, 'model');
  return { index, layer: str(o, 'layer', what), reason: str(o, 'reason', what), ...(model !== undefined ? { model } : {}) };
}

export function toConfusion(data: unknown): ConfusionData {
  const what = 'confusion matrix output';
  const o = obj(data, what);
  if (o.kind !== 'confusion') throw new DataError(`${what}: "kind" must be "confusion"`);
  const classes = arr(o, 'classes', what).map((c) => String(c));
  const matrix = arr(o, 'matrix', what).map((row, i) => {
    if (!Array.isArray(row) || row.length !== classes.length) {
      throw new DataError(`${what}: matrix row ${i} must have ${classes.length} entries, one per class`);
    }
    return row.map((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new DataError(`${what}: matrix[${i}][${j}] must be a count ≥ 0`);
      return v;
    });
  });
  if (matrix.length !== classes.length) throw new DataError(`${what}: matrix must have ${classes.length} rows, one per class`);
  const perClass: ClassMetrics[] = [];
  for (const p of arr(o, 'perClass', what)) {
    if (!isObj(p)) continue;
    perClass.push({
      label: String(p.label ?? ''),
      precision: metric(p, 'precision') ?? NaN,
      recall: metric(p, 'recall') ?? NaN,
      f1: metric(p, 'f1') ?? NaN,
      support: optNum(p, 'support') ?? 0,
    });
  }
  return { kind: 'confusion', version: 1, classes, matrix, accuracy: metric(o, 'accuracy') ?? NaN, perClass };
}

function positives(o: Obj, key: string, what: string, n?: number): number[] {
  const a = arr(o, key, what);
  if (n !== undefined && a.length !== n) throw new DataError(`${what}: "${key}" must have ${n} entries, one per rate`);
  return a.map((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new DataError(`${what}: ${key}[${i}] must be a finite number`);
    return v;
  });
}

export function toLrFind(data: unknown): LrFindData {
  const what = 'learning-rate finder output';
  const o = obj(data, what);
  if (o.kind !== 'lrfind') throw new DataError(`${what}: "kind" must be "lrfind"`);
  const lrs = positives(o, 'lrs', what);
  if (lrs.length < 2) throw new DataError(`${what}: "lrs" must hold at least 2 rates`);
  if (lrs.some((lr, i) => lr <= 0 || (i > 0 && lr <= lrs[i - 1]))) throw new DataError(`${what}: "lrs" must be positive and increasing`);
  const losses = positives(o, 'losses', what, lrs.length);
  const raw = o.raw === undefined ? undefined : arr(o, 'raw', what).map((v) => (typeof v === 'number' ? v : NaN));
  const suggestion = num(o, 'suggestion', what);
  if (!(suggestion > 0)) throw new DataError(`${what}: "suggestion" must be above 0`);
  const d: LrFindData = {
    kind: 'lrfind',
    version: 1,
    lrs,
    losses,
    suggestion,
    minimum: optNum(o, 'minimum') ?? suggestion,
    minLr: optNum(o, 'minLr') ?? lrs[0],
    maxLr: optNum(o, 'maxLr') ?? lrs[lrs.length - 1],
    steps: optNum(o, 'steps') ?? lrs.length,
  };
  if (raw && raw.length === lrs.length) d.raw = raw;
  const stopped = optStr(o, 'stoppedReason');
  if (stopped !== undefined) d.stoppedReason = stopped;
  const title = optStr(o, 'title');
  if (title !== undefined) d.title = title;
  return d;
}

/** Inline PNGs only: a gallery never makes the output load anything. */
const PNG_URI = /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/;
const MAX_GALLERY_ITEMS = 500;
const MAX_LINES = 12;

function toGalleryItem(v: unknown, what: string): GalleryItem {
  const o = obj(v, what);
  const item: GalleryItem = { alt: optStr(o, 'alt') ?? '', lines: arr(o, 'lines', what).slice(0, MAX_LINES).map((l) => String(l)) };
  if (o.image !== undefined) {
    if (typeof o.image !== 'string' || !PNG_URI.test(o.image)) throw new DataError(`${what}: "image" must be an inline PNG (data:image/png;base64,…)`);
    item.image = o.image;
  }
  if (o.flag === true) item.flag = true;
  return item;
}

export function toGallery(data: unknown): GalleryData {
  const what = 'gallery output';
  const o = obj(data, what);
  if (o.kind !== 'gallery') throw new DataError(`${what}: "kind" must be "gallery"`);
  const raw = arr(o, 'items', what);
  if (raw.length > MAX_GALLERY_ITEMS) throw new DataError(`${what}: ${raw.length} items; at most ${MAX_GALLERY_ITEMS} are drawn`);
  const g: GalleryData = { kind: 'gallery', version: 1, title: optStr(o, 'title') ?? 'Images', items: raw.map((it, i) => toGalleryItem(it, `${what}: items[${i}]`)) };
  const subtitle = optStr(o, 'subtitle');
  if (subtitle !== undefined) g.subtitle = subtitle;
  return g;
}
