/**
 * `.onnx` files as frozen feature extractors (PyTorch, timm and Hugging Face vision backbones).
 *
 * The rest of Transfer Lab speaks NHWC float32 images preprocessed as x·scale + offset. Most exported
 * vision models take NCHW images normalised per channel ((x/255 − mean)/std). The gap is closed by a
 * small adapter graph in front of the model (transpose, then per-channel normalisation), run as its
 * own ONNX Runtime session, so the user's model file is loaded untouched (external weight files
 * keep working). A 4-D NCHW output is transposed back to NHWC by a second adapter, so a TF.js head
 * sees the layout it expects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setMeta, PREPROCESS_UNIT, type ModelMeta, type Preprocessing } from '../models/meta';
import { parseMeta } from '../models/savedMeta';
import { META_KEY } from '../models/files';
import { IrGraph, encodeModel } from './ir';
import { createSession, formatOrtReport, type SessionOptions } from './ort';
import { OnnxFeatureExtractor, type OnnxStage } from './extractor';
import { checkOnnxData } from './external';
import { maxModelBytes, budgetHint, formatBytes } from '../models/safety/budget';

export interface OnnxLoadOptions extends SessionOptions {
  /** Which graph output is the feature. Default: the first. */
  output?: string;
  /** Layout of the model's image input. 'auto' (default): [N, 1|3, H, W] is NCHW, [N, H, W, 1|3] is NHWC. */
  layout?: 'auto' | 'nchw' | 'nhwc';
  /**
   * Per-channel normalisation the model expects after pixels are scaled to [0, 1]: (x − mean) / std.
   * Default 'imagenet' (torchvision/timm's mean 0.485, 0.456, 0.406 and std 0.229, 0.224, 0.225) for
   * 3-channel NCHW models, none for NHWC ones. false: none.
   */
  normalize?: 'imagenet' | { mean: number[]; std: number[] } | false;
  /** [height, width] when the file leaves the image size open. */
  inputSize?: [number, number];
  /** The most bytes the model's tensors may take, external data included (tl.load passes its budget). Default: as tl.load. */
  maxBytes?: number;
}

export const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** What loadOnnx learned about the file and decided, for reports. */
export interface OnnxModelInfo {
  file: string;
  inputName: string;
  /** The file's own input shape (strings are symbolic dimensions). */
  fileInputShape: (number | string)[];
  outputName: string;
  outputNames: string[];
  layout: 'nchw' | 'nhwc';
  normalize?: { mean: number[]; std: number[] };
  /** Set when the file's batch dimension is a fixed number: batches run in chunks of it. */
  fixedBatch?: number;
}

function isDim(d: number | string | undefined): d is number {
  return typeof d === 'number' && d > 0;
}

type Session = Awaited<ReturnType<typeof createSession>>['session'];
type Fail = (msg: string) => Promise<never>;
type Shape = (number | string)[];
type Normalize = NonNullable<OnnxModelInfo['normalize']>;

/** What the file's image input says, with the options: its layout, channels and size. */
interface InputSpec {
  name: string;
  shape: Shape;
  layout: 'nchw' | 'nhwc';
  channels: number;
  size: [number, number];
  fixedBatch?: number;
}

/** Loads a .onnx file as a frozen feature extractor taking NHWC images preprocessed with PREPROCESS_UNIT (x/255). */
export async function loadOnnx(file: string, opts: OnnxLoadOptions = {}): Promise<OnnxFeatureExtractor & { info: OnnxModelInfo }> {
  const abs = path.resolve(file);
  const { session, report, props } = await openSession(abs, opts);
  const fail = async (msg: string): Promise<never> => {
    await session.release();
    throw new Error(`${path.basename(abs)}: ${msg}`);
  };
  let saved: Partial<ModelMeta> | undefined;
  try {
    saved = exportedMeta(props);
  } catch (e) {
    await fail((e as Error).message);
  }
  // A model tl.save exported takes NHWC input already preprocessed as its metadata says.
  if (saved) opts = { layout: 'nhwc', normalize: false, ...opts };
  const input = await inputSpec(session, opts, fail);
  const { layout, channels, size } = input;
  const outputName = opts.output ?? session.outputNames[0];
  const outShape = await outputShape(session, outputName, fail);
  const normalize = await normalizeFor(opts, layout, channels, fail);
  const units = outShape[outShape.length - 1];
  if (saved?.classes && isDim(units) && saved.classes.length !== units) await fail(`its metadata names ${saved.classes.length} classes for an output of ${units}.`);

  const stageOpts: SessionOptions = { providers: ['cpu'], threads: opts.threads };
  const pre = layout === 'nchw' || normalize ? await inputAdapter(input, normalize, stageOpts) : undefined;
  let post: OnnxStage | undefined;
  let featureShape: (number | null)[] = outShape.slice(1).map((d) => (isDim(d) ? d : null));
  if (layout === 'nchw' && outShape.length === 4) {
    post = await outputAdapter(outShape, stageOpts);
    featureShape = [featureShape[1], featureShape[2], featureShape[0]];
  }

  const info: OnnxModelInfo = {
    file: abs,
    inputName: input.name,
    fileInputShape: input.shape,
    outputName,
    outputNames: [...session.outputNames],
    layout,
    normalize,
    fixedBatch: input.fixedBatch,
  };
  const description = describeOnnx(info, outShape, size, channels, formatOrtReport(report), saved);
  const fx = new OnnxFeatureExtractor({ pre, main: { session, input: input.name, output: outputName, outputs: [outputName] }, post }, [size[0], size[1], channels], featureShape, report, description, { fixedBatch: input.fixedBatch });
  const preprocessing: Preprocessing = saved?.preprocessing ?? { ...PREPROCESS_UNIT, channels: channels === 1 ? 1 : 3 };
  const classes = saved?.classes ? { classes: saved.classes } : {};
  setMeta(fx, { name: saved?.name ?? path.basename(abs), source: 'file', format: 'graph', inputSize: size, preprocessing, ...classes });
  return Object.assign(fx, { info });
}

/** The metadata tl.save wrote into an exported model (untrusted: checked as a model.json's is), or undefined. */
function exportedMeta(props: Record<string, string>): Partial<ModelMeta> | undefined {
  const raw = props[META_KEY];
  if (raw === undefined) return undefined;
  const at = `metadata_props "${META_KEY}"`;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${at} is not valid JSON (${(e as Error).message}).`);
  }
  return parseMeta(json, at);
}

/** An ONNX Runtime session for the file, once its size and its external data paths are checked; with the file's bytes. */
export async function openSession(abs: string, opts: Pick<OnnxLoadOptions, 'maxBytes' | 'providers' | 'threads'>): Promise<Awaited<ReturnType<typeof createSession>> & { props: Record<string, string>; bytes: Uint8Array }> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new Error(`ONNX model not found: ${abs}`);
  }
  if (!stat.isFile()) throw new Error(`ONNX model path is not a file: ${abs}`);
  const maxBytes = maxModelBytes(opts.maxBytes);
  if (stat.size > maxBytes) throw new Error(`${path.basename(abs)} holds ${formatBytes(stat.size)}; ${budgetHint(maxBytes)}.`);
  // External data paths are checked before ONNX Runtime, which would open whatever the file names.
  const bytes = await fs.promises.readFile(abs);
  const props = await checkOnnxData(abs, bytes, maxBytes);
  try {
    return { ...(await createSession(abs, { providers: opts.providers, threads: opts.threads })), props, bytes };
  } catch (e) {
    throw new Error(`Could not load ${path.basename(abs)} as an ONNX model: ${(e as Error).message}`);
  }
}

/** The one float32 4-D image input: its layout (given or told from the channel axis), channels and size. */
async function inputSpec(session: Session, opts: OnnxLoadOptions, fail: Fail): Promise<InputSpec> {
  if (session.inputNames.includes('input_ids')) await fail('it takes input_ids: a text encoder. Put its tokenizer.json beside it and tl.load the folder (or the .onnx file) again.');
  if (session.inputNames.length !== 1) await fail(`a feature extractor needs one image input; this model has ${session.inputNames.length} (${session.inputNames.join(', ')}).`);
  const inMeta = session.inputMetadata[0];
  if (!inMeta.isTensor || inMeta.type !== 'float32') await fail(`input '${inMeta.name}' is ${inMeta.isTensor ? inMeta.type : 'not a tensor'}; only float32 image inputs are supported.`);
  const inShape = [...(inMeta as { shape: readonly (number | string)[] }).shape];
  if (inShape.length !== 4) await fail(`input '${inMeta.name}' has shape [${inShape.join(', ')}]; an image input is 4-D (NCHW or NHWC).`);

  let layout = opts.layout ?? 'auto';
  if (layout === 'auto') {
    const c1 = inShape[1];
    const c3 = inShape[3];
    if ((c1 === 1 || c1 === 3) && !(c3 === 1 || c3 === 3)) layout = 'nchw';
    else if ((c3 === 1 || c3 === 3) && !(c1 === 1 || c1 === 3)) layout = 'nhwc';
    else await fail(`cannot tell whether input [${inShape.join(', ')}] is NCHW or NHWC; pass { layout: 'nchw' } or { layout: 'nhwc' }.`);
  }
  const [ch, hh, ww] = layout === 'nchw' ? [inShape[1], inShape[2], inShape[3]] : [inShape[3], inShape[1], inShape[2]];
  if (!isDim(ch)) await fail(`the channel dimension of input [${inShape.join(', ')}] is not fixed.`);
  const channels = ch as number;
  let size: [number, number];
  if (isDim(hh) && isDim(ww)) {
    size = [hh, ww];
    if (opts.inputSize && (opts.inputSize[0] !== hh || opts.inputSize[1] !== ww)) await fail(`inputSize [${opts.inputSize.join(', ')}] differs from the model's fixed ${hh}×${ww}.`);
  } else if (opts.inputSize) {
    size = opts.inputSize;
  } else {
    return fail(`the image size of input [${inShape.join(', ')}] is open; pass { inputSize: [height, width] }.`);
  }
  const fixedBatch = isDim(inShape[0]) ? inShape[0] : undefined;
  return { name: inMeta.name, shape: inShape, layout: layout as 'nchw' | 'nhwc', channels, size, fixedBatch };
}

/** The shape of the float32 output named `outputName`. */
async function outputShape(session: Session, outputName: string, fail: Fail): Promise<Shape> {
  const outIndex = session.outputNames.indexOf(outputName);
  if (outIndex < 0) await fail(`no output named '${outputName}'; outputs: ${session.outputNames.join(', ')}.`);
  const outMeta = session.outputMetadata[outIndex];
  if (!outMeta.isTensor || outMeta.type !== 'float32') await fail(`output '${outputName}' is not a float32 tensor.`);
  return [...(outMeta as { shape: readonly (number | string)[] }).shape];
}

/** The normalisation after x/255: as given, or ImageNet's for a 3-channel NCHW model (the PyTorch convention). */
async function normalizeFor(opts: OnnxLoadOptions, layout: 'nchw' | 'nhwc', channels: number, fail: Fail): Promise<Normalize | undefined> {
  const normalize = opts.normalize === undefined ? (layout === 'nchw' && channels === 3 ? IMAGENET : undefined) : opts.normalize === 'imagenet' ? IMAGENET : opts.normalize || undefined;
  if (normalize && (normalize.mean.length !== channels || normalize.std.length !== channels || normalize.std.some((s) => !(s > 0)))) {
    await fail(`normalize needs ${channels} means and ${channels} positive standard deviations.`);
  }
  return normalize;
}

/** A small ONNX stage before the model: NHWC to NCHW, and (x − mean)/std. */
async function inputAdapter({ layout, size, channels }: InputSpec, normalize: Normalize | undefined, stageOpts: SessionOptions): Promise<OnnxStage> {
  const g = new IrGraph('transfer_lab_input_adapter');
  let x = g.addInput('nhwc', ['N', size[0], size[1], channels]);
  if (layout === 'nchw') x = g.one('Transpose', [x], 'nchw', { perm: { ints: [0, 3, 1, 2] } });
  if (normalize) {
    const cdims = layout === 'nchw' ? [1, channels, 1, 1] : [channels];
    const scale = Float32Array.from(normalize.std, (s) => 1 / s);
    const shift = Float32Array.from(normalize.mean, (m, i) => -m / normalize.std[i]);
    x = g.one('Mul', [x, g.floats('inv_std', cdims, scale)], 'scaled');
    x = g.one('Add', [x, g.floats('shift', cdims, shift)], 'normalised');
  }
  const outDims = layout === 'nchw' ? ['N', channels, size[0], size[1]] : ['N', size[0], size[1], channels];
  const o = g.addOutput(x, 'out', outDims);
  const s = await createSession(encodeModel(g), stageOpts);
  return { session: s.session, input: g.inputs[0].name, output: o };
}

/** A small ONNX stage after an NCHW model's 4-D output: back to NHWC. */
async function outputAdapter(outShape: Shape, stageOpts: SessionOptions): Promise<OnnxStage> {
  const g = new IrGraph('transfer_lab_output_adapter');
  const x = g.addInput('nchw', outShape.map((d, i) => (isDim(d) ? d : `d${i}`)));
  const o = g.addOutput(g.one('Transpose', [x], 'nhwc', { perm: { ints: [0, 2, 3, 1] } }), 'out', ['N', 'H', 'W', 'C']);
  const s = await createSession(encodeModel(g), stageOpts);
  return { session: s.session, input: g.inputs[0].name, output: o };
}

/** The extractor's description: what the file takes and gives, what runs it, and how images are prepared. */
function describeOnnx(info: OnnxModelInfo, outShape: Shape, size: [number, number], channels: number, ortReport: string, saved?: Partial<ModelMeta>): string {
  const { normalize, fixedBatch } = info;
  const p = saved?.preprocessing;
  const what = saved ? `model exported by Transfer Lab${saved.classes ? ` (${saved.classes.length} classes)` : ''}` : 'frozen ONNX feature extractor';
  const pixels = p ? `pixels × ${p.scale} + ${p.offset}` : `pixels scaled to [0, 1]${normalize ? `, then (x − mean)/std with mean ${normalize.mean.join(', ')} and std ${normalize.std.join(', ')}` : ''}`;
  const lines = [
    `${path.basename(info.file)}: ${what}, input '${info.inputName}' [${info.fileInputShape.join(', ')}] (${info.layout.toUpperCase()}), output '${info.outputName}' [${outShape.join(', ')}]`,
    ortReport,
    `Images: ${size[0]}×${size[1]}×${channels}, ${pixels}.`,
  ];
  if (fixedBatch !== undefined) lines.push(`The file fixes the batch size at ${fixedBatch}: batches run in chunks of ${fixedBatch} (export with a dynamic batch axis for speed).`);
  return lines.join('\n');
}

export function isOnnxPath(p: unknown): p is string {
  return typeof p === 'string' && /\.onnx$/i.test(p.trim());
}
