/**
 * Frozen feature extractors with one interface over two engines: onnxruntime-node (a converted TF.js
 * base, or a loaded .onnx file) and TF.js itself. Callers such as the embedding cache hand over a
 * batch of NHWC float32 images and get the features back, whichever engine runs.
 */
import * as tf from '@tensorflow/tfjs';
import { DISPLAY_SYMBOL, type MimeBundle } from '../../common/display';
import { getMeta, setMeta } from '../models/meta';
import { convertToOnnx, describeConversion, type ConvertOptions, type OnnxConversion } from './convert';
import { createSession, formatOrtReport, loadOrt, ortLoadError, type OrtReport, type OrtSession, type SessionOptions } from './ort';

export interface Features {
  /** Row-major, batch first. */
  data: Float32Array;
  shape: number[];
}

export interface FeatureExtractor {
  /** Which engine computes the features. */
  readonly engine: 'onnxruntime' | 'tfjs';
  /** One sample's input shape, NHWC without the batch (null where the model accepts any size). */
  readonly inputShape: (number | null)[];
  /** One sample's output shape (null where it depends on the input size). */
  readonly outputShape: (number | null)[];
  /** Human-readable: engine, provider, threads, what was converted and what was not. */
  readonly description: string;
  /** The ONNX Runtime provider report (engine 'onnxruntime'). */
  readonly ort?: OrtReport;
  /** What was converted (extractors made from a TF.js model). */
  readonly conversion?: OnnxConversion;
  /** Runs one batch: `input` is NHWC float32 of `shape` ([batch, h, w, c]). */
  run(input: Float32Array, shape: readonly number[]): Promise<Features>;
  /** Same, for a tensor; the result is a new tensor the caller disposes. */
  predict(x: tf.Tensor): Promise<tf.Tensor>;
  dispose(): Promise<void>;
}

function checkInput(input: Float32Array, shape: readonly number[], expected: (number | null)[], what: string): void {
  if (!(input instanceof Float32Array)) throw new Error(`${what}: input must be a Float32Array (NHWC), got ${Object.prototype.toString.call(input)}.`);
  if (shape.length !== expected.length + 1) throw new Error(`${what}: input shape [${shape.join(', ')}] has rank ${shape.length}; the model takes [batch, ${expected.map((d) => d ?? '?').join(', ')}].`);
  expected.forEach((d, i) => {
    if (d !== null && shape[i + 1] !== d) throw new Error(`${what}: input shape [${shape.join(', ')}] does not fit the model's [batch, ${expected.map((e) => e ?? '?').join(', ')}].`);
  });
  const n = shape.reduce((a, b) => a * b, 1);
  if (input.length !== n) throw new Error(`${what}: ${input.length} values for shape [${shape.join(', ')}] (${n} expected).`);
}

function displayable<T extends object>(obj: T, text: () => string): T {
  Object.defineProperty(obj, DISPLAY_SYMBOL, { value: (): MimeBundle => ({ 'text/plain': text() }), enumerable: false });
  return obj;
}

// --- TF.js engine

/** Any TF.js model as a FeatureExtractor (the fallback when ONNX Runtime cannot run it). */
export class TfjsFeatureExtractor implements FeatureExtractor {
  readonly engine = 'tfjs' as const;
  readonly inputShape: (number | null)[];
  readonly outputShape: (number | null)[];

  constructor(
    private readonly model: tf.LayersModel | tf.GraphModel,
    readonly description: string,
    readonly conversion?: OnnxConversion,
  ) {
    const inShape = model.inputs[0]?.shape ?? [];
    const outShape = model.outputs[0]?.shape ?? [];
    this.inputShape = (inShape as (number | null)[]).slice(1).map((d) => (d === -1 ? null : d));
    this.outputShape = (outShape as (number | null)[]).slice(1).map((d) => (d === -1 ? null : d));
    if (model.outputs.length !== 1) throw new Error(`A feature extractor needs a model with one output; this one has ${model.outputs.length}.`);
    displayable(this, () => this.description);
  }

  async run(input: Float32Array, shape: readonly number[]): Promise<Features> {
    checkInput(input, shape, this.inputShape, 'FeatureExtractor.run');
    const y = tf.tidy(() => this.model.predict(tf.tensor(input, [...shape])) as tf.Tensor);
    try {
      return { data: (await y.data()) as Float32Array, shape: y.shape };
    } finally {
      y.dispose();
    }
  }

  async predict(x: tf.Tensor): Promise<tf.Tensor> {
    return tf.tidy(() => this.model.predict(x) as tf.Tensor);
  }

  async dispose(): Promise<void> {
    // The model belongs to the caller.
  }
}

// --- ONNX Runtime engine

export interface OnnxStage {
  session: OrtSession;
  input: string;
  output: string;
}

/**
 * Runs `main` (optionally between a small input adapter and output adapter session, which change
 * layout and normalise) and then an optional TF.js tail. Batches larger than a model's fixed batch
 * size are split.
 */
export class OnnxFeatureExtractor implements FeatureExtractor {
  readonly engine = 'onnxruntime' as const;
  private released = false;

  constructor(
    private readonly stages: { pre?: OnnxStage; main: OnnxStage & { outputs: string[] }; post?: OnnxStage },
    readonly inputShape: (number | null)[],
    readonly outputShape: (number | null)[],
    readonly ort: OrtReport,
    readonly description: string,
    private readonly opts: { tail?: tf.LayersModel; fixedBatch?: number; conversion?: OnnxConversion } = {},
  ) {
    displayable(this, () => this.description);
  }

  get conversion(): OnnxConversion | undefined {
    return this.opts.conversion;
  }

  private async runStage(stage: OnnxStage, data: Float32Array, shape: number[]): Promise<Features> {
    const ort = loadOrt();
    const out = await stage.session.run({ [stage.input]: new ort.Tensor('float32', data, shape) });
    const t = out[stage.output];
    return { data: t.data as Float32Array, shape: [...t.dims] };
  }

  private async runOnce(input: Float32Array, shape: number[]): Promise<Features[]> {
    let x: Features = { data: input, shape };
    if (this.stages.pre) x = await this.runStage(this.stages.pre, x.data, x.shape);
    const ort = loadOrt();
    const { main } = this.stages;
    const res = await main.session.run({ [main.input]: new ort.Tensor('float32', x.data, x.shape) }, main.outputs);
    let outs: Features[] = main.outputs.map((name) => ({ data: res[name].data as Float32Array, shape: [...res[name].dims] }));
    if (this.stages.post) outs = [await this.runStage(this.stages.post, outs[0].data, outs[0].shape)];
    return outs;
  }

  async run(input: Float32Array, shape: readonly number[]): Promise<Features> {
    if (this.released) throw new Error('This feature extractor was disposed.');
    checkInput(input, shape, this.inputShape, 'FeatureExtractor.run');
    const n = shape[0];
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    const chunk = this.opts.fixedBatch ?? n;
    if (n === 0) return { data: new Float32Array(0), shape: [0, ...this.outputShape.map((d) => d ?? 0)] };
    const parts: Features[] = [];
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      const slice = chunk === n ? input : input.subarray(s * per, (s + m) * per);
      if (this.opts.fixedBatch !== undefined && m !== chunk) {
        // A model exported with a fixed batch size: pad the last chunk and drop the padding after.
        const padded = new Float32Array(chunk * per);
        padded.set(slice);
        const [f] = await this.finish(await this.runOnce(padded, [chunk, ...shape.slice(1)]));
        const rowLen = f.data.length / chunk;
        parts.push({ data: f.data.subarray(0, m * rowLen), shape: [m, ...f.shape.slice(1)] });
      } else {
        parts.push((await this.finish(await this.runOnce(slice, [m, ...shape.slice(1)])))[0]);
      }
    }
    if (parts.length === 1) return parts[0];
    const total = parts.reduce((a, p) => a + p.data.length, 0);
    const data = new Float32Array(total);
    let o = 0;
    for (const p of parts) {
      data.set(p.data, o);
      o += p.data.length;
    }
    return { data, shape: [n, ...parts[0].shape.slice(1)] };
  }

  /** The TF.js tail, when part of the model could not be converted. */
  private async finish(outs: Features[]): Promise<Features[]> {
    const tail = this.opts.tail;
    if (!tail) return outs;
    const xs = outs.map((o) => tf.tensor(o.data, o.shape));
    try {
      const y = tf.tidy(() => tail.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor);
      try {
        return [{ data: (await y.data()) as Float32Array, shape: y.shape }];
      } finally {
        y.dispose();
      }
    } finally {
      tf.dispose(xs);
    }
  }

  async predict(x: tf.Tensor): Promise<tf.Tensor> {
    const data = x.dtype === 'float32' ? ((await x.data()) as Float32Array) : Float32Array.from(await x.data());
    const f = await this.run(data, x.shape);
    return tf.tensor(f.data, f.shape);
  }

  async dispose(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const s of [this.stages.pre, this.stages.main, this.stages.post]) if (s) await s.session.release();
  }
}

// --- a TF.js model with its frozen part in ONNX Runtime

export interface OnnxBaseOptions extends ConvertOptions, SessionOptions {
  /** 'auto' (default): ONNX Runtime when it loads, else TF.js. 'onnx': fail when ONNX Runtime cannot run it. 'tfjs': TF.js only. */
  engine?: 'auto' | 'onnx' | 'tfjs';
}

/**
 * A TF.js layers model as a frozen feature extractor, run by ONNX Runtime. The model is converted
 * (see convert.ts); layers that do not convert run in TF.js after it, and when nothing converts or
 * onnxruntime-node does not load, the whole model runs in TF.js. `description` says which happened.
 */
export async function onnxBase(model: tf.LayersModel, opts: OnnxBaseOptions = {}): Promise<FeatureExtractor> {
  if (!(model instanceof tf.LayersModel)) throw new Error('onnxBase(model): model must be a TF.js layers model (for a .onnx file use tl.load).');
  const engine = opts.engine ?? 'auto';
  if (engine === 'tfjs') return withMeta(model, new TfjsFeatureExtractor(model, `TF.js (${tf.getBackend()} backend): asked for TF.js.`));
  const loadErr = ortLoadError();
  if (loadErr) {
    if (engine === 'onnx') throw new Error(loadErr);
    return withMeta(model, new TfjsFeatureExtractor(model, `TF.js (${tf.getBackend()} backend): ${loadErr}.`));
  }
  const conversion = convertToOnnx(model, opts);
  if (!conversion.onnx) {
    const why = describeConversion(conversion);
    if (engine === 'onnx') throw new Error(why);
    return withMeta(model, new TfjsFeatureExtractor(model, `TF.js (${tf.getBackend()} backend). ${why}`, conversion));
  }
  if (conversion.outputs.length !== 1 && !conversion.tail) throw new Error(`onnxBase: the model has ${conversion.outputs.length} outputs; a feature extractor needs one.`);
  const { session, report } = await createSession(conversion.onnx, opts);
  const main = { session, input: conversion.input.name, output: conversion.outputs[0].name, outputs: conversion.outputs.map((o) => o.name) };
  const outShape = (model.outputs[0].shape as (number | null)[]).slice(1);
  const inShape = (conversion.input.shape as (number | null)[]).slice(1);
  const tailNote = conversion.tail ? ` Tail in TF.js on the ${tf.getBackend()} backend.` : '';
  const description = `${formatOrtReport(report)}\n${describeConversion(conversion)}${tailNote}`;
  return withMeta(model, new OnnxFeatureExtractor({ main }, inShape, outShape, report, description, { tail: conversion.tail, conversion }));
}

function withMeta<T extends object>(model: object, x: T): T {
  const meta = getMeta(model);
  if (meta) setMeta(x, { ...meta, format: 'graph' });
  return x;
}

/** A FeatureExtractor for any model: ONNX Runtime for layers models where it works, TF.js otherwise. */
export async function featureExtractor(model: tf.LayersModel | tf.GraphModel | FeatureExtractor, opts: OnnxBaseOptions = {}): Promise<FeatureExtractor> {
  if (isFeatureExtractor(model)) return model;
  if (model instanceof tf.LayersModel) return onnxBase(model, opts);
  if (model instanceof tf.GraphModel) {
    if (opts.engine === 'onnx') throw new Error('TF.js graph models do not convert to ONNX here (only layers models do); use engine "tfjs" or convert the original model with tf2onnx.');
    return withMeta(model, new TfjsFeatureExtractor(model, `TF.js (${tf.getBackend()} backend): graph models run in TF.js.`));
  }
  throw new Error('featureExtractor(model): expected a TF.js model or a feature extractor.');
}

export function isFeatureExtractor(x: unknown): x is FeatureExtractor {
  return !!x && typeof x === 'object' && typeof (x as FeatureExtractor).run === 'function' && ((x as FeatureExtractor).engine === 'onnxruntime' || (x as FeatureExtractor).engine === 'tfjs');
}

export interface FrozenSplit {
  /** The frozen part, in ONNX Runtime. Its output is the trainable part's input. */
  frozen: FeatureExtractor;
  /** The trainable part as a TF.js model built from the original layers (training it trains them). */
  trainable: tf.LayersModel;
  conversion: OnnxConversion;
}

/**
 * Splits a partly frozen model for fine-tuning: everything before the first layer with trainable
 * weights goes to ONNX Runtime (it needs no gradients), the rest stays in TF.js. Each training step
 * then runs the frozen part forward in ORT and only the trainable part in TF.js. The frozen part
 * runs in inference mode (BatchNormalization on moving statistics, Dropout off), as Keras runs
 * frozen layers.
 */
export async function splitFrozen(model: tf.LayersModel, opts: SessionOptions & Omit<ConvertOptions, 'frozenOnly'> = {}): Promise<FrozenSplit> {
  if (!(model instanceof tf.LayersModel)) throw new Error('splitFrozen(model): model must be a TF.js layers model.');
  const conversion = convertToOnnx(model, { ...opts, frozenOnly: true });
  if (!conversion.onnx || !conversion.tail) throw new Error(`splitFrozen: ${describeConversion(conversion)}${conversion.tail ? '' : ' (no trainable layers: use onnxBase for a fully frozen model)'}`);
  if (conversion.outputs.length !== 1) {
    throw new Error(`splitFrozen: the trainable part reads ${conversion.outputs.length} tensors from the frozen part (${conversion.stop?.layer ? `cut before '${conversion.stop.layer}'` : ''}); only a cut through one tensor is supported. Unfreeze or freeze so that the cut falls between blocks.`);
  }
  if (conversion.stop?.kind === 'unsupported') {
    throw new Error(`splitFrozen: layer '${conversion.stop.layer}' (${conversion.stop.className}) is frozen but cannot be converted (${conversion.stop.reason}); the frozen part would have to run in TF.js.`);
  }
  const { session, report } = await createSession(conversion.onnx, opts);
  const out = conversion.outputs[0];
  const main = { session, input: conversion.input.name, output: out.name, outputs: [out.name] };
  const description = `${formatOrtReport(report)}\n${describeConversion(conversion)}`;
  const frozen = new OnnxFeatureExtractor({ main }, conversion.input.shape.slice(1), out.shape.slice(1), report, description, { conversion });
  return { frozen, trainable: conversion.tail, conversion };
}
