/**
 * evaluate(): accuracy, loss, per-class precision/recall/F1 and the confusion matrix, shown as a
 * ConfusionData output. predict(): top-k labels for image files or tensors, preprocessed the way the
 * model's metadata says.
 */
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_PLAIN } from '../common/mime';
import type { ClassMetrics, ConfusionData } from '../common/shapes';
import { DISPLAY_SYMBOL, type MimeBundle } from '../common/display';
import { betweenBatches, getOutputSink } from './output';
import { getMeta, imageSizeProblem, PREPROCESS_UNIT, type Preprocessing } from './models/meta';
import { asSplit, type Dataset } from './data';
import { textEncodingFor, type TextEncoding } from './text/encoding';
import { textSplitFor } from './text/bind';
import { decodeImage, type DecoderChoice } from './data/decode';
import { describeUnreadable, type UnreadableFile } from './data/readable';
import { declaredUnits, inputShapeOf, probabilities, type Classifier } from './probabilities';

type AnyModel = Classifier;

export interface EvaluateOptions {
  /** The model's class names, in output order. Default: the model's metadata, else the data's classes. */
  classes?: string[];
  batchSize?: number;
  /** Show the confusion matrix as an output (default true). */
  display?: boolean;
  title?: string;
}

export interface EvaluationResult {
  accuracy: number;
  /** Mean cross-entropy, computed as tfjs's categoricalCrossentropy does (probabilities clipped to [1e-7, 1 − 1e-7]). */
  loss: number;
  samples: number;
  perClass: ClassMetrics[];
  confusion: ConfusionData;
  /** Images that could not be decoded and were left out. */
  unreadable?: UnreadableFile[];
}

const EPS = 1e-7;

export function classMetrics(matrix: number[][], classes: readonly string[]): ClassMetrics[] {
  return classes.map((label, i) => {
    const tp = matrix[i][i];
    const support = matrix[i].reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((a, row) => a + row[i], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
}

const f4 = (v: number) => v.toFixed(4);

/** The text/plain fallback: summary line, confusion matrix (rows true, columns predicted), per-class table. */
export function formatConfusion(c: ConfusionData, loss?: number, title?: string): string {
  const total = c.matrix.reduce((a, r) => a + r.reduce((x, y) => x + y, 0), 0);
  const lines = [`${title ?? 'Evaluation'}: accuracy ${f4(c.accuracy)}${loss !== undefined ? `, loss ${f4(loss)}` : ''} (${total} samples)`];
  const w0 = Math.max(4, ...c.classes.map((s) => s.length));
  const wc = c.classes.map((s, j) => Math.max(s.length, ...c.matrix.map((r) => String(r[j]).length)));
  lines.push('confusion (rows: true, columns: predicted)');
  lines.push([''.padEnd(w0), ...c.classes.map((s, j) => s.padStart(wc[j]))].join('  '));
  c.matrix.forEach((r, i) => lines.push([c.classes[i].padEnd(w0), ...r.map((v, j) => String(v).padStart(wc[j]))].join('  ')));
  lines.push('');
  lines.push(['class'.padEnd(w0), 'precision', 'recall', 'f1    ', 'support'].join('  '));
  for (const m of c.perClass) lines.push([m.label.padEnd(w0), f4(m.precision).padEnd(9), f4(m.recall).padEnd(6), f4(m.f1), String(m.support)].join('  '));
  return lines.join('\n');
}

/** Maps the data's class indices to the model's output indices, by name when names are known. */
function labelMap(modelClasses: readonly string[], data: Dataset, named: boolean, what: string): number[] {
  if (!named) return data.classes.map((_, i) => i);
  return data.classes.map((c) => {
    const j = modelClasses.indexOf(c);
    if (j < 0) throw new Error(`${what}: the data's label '${c}' is not one of the model's classes (${modelClasses.join(', ')}).`);
    return j;
  });
}

/**
 * The model's class names (given, from its metadata, else the data's) for a model with `units`
 * outputs, and where each of the data's labels is among them.
 */
export function classMapping(model: AnyModel, ds: Dataset, given: string[] | undefined, units: number, what: string): { classes: string[]; toModel: number[] } {
  const k = units === 1 ? 2 : units;
  const metaClasses = given ?? getMeta(model)?.classes;
  const named = !!metaClasses && metaClasses.length === k;
  if (given && !named) throw new Error(`${what}: ${given.length} class names given for a model with ${k} classes.`);
  if (!named && ds.classes.length !== k) {
    throw new Error(`${what}: the model has ${k} classes but the data has ${ds.classes.length} (${ds.classes.join(', ')}), and the model's class names are unknown.`);
  }
  const classes = named ? [...(metaClasses as string[])] : [...ds.classes];
  return { classes, toModel: labelMap(classes, ds, named, what) };
}

/**
 * Evaluates on the validation split when the data has one, else on all of it (never augmented).
 * Shows the confusion matrix and returns the numbers.
 */
export async function evaluate(model: AnyModel, data: unknown, opts: EvaluateOptions = {}): Promise<EvaluationResult> {
  const split = textSplitFor(model, asSplit(data, 'evaluate()'), 'evaluate()');
  const ds = split.validation ?? split.train;
  let classes: string[] = [];
  let toModel: number[] = [];
  let matrix: number[][] = [];
  /** Fixed from the model's declared output, or from the first batch's predictions when it declares none. */
  const setUp = (units: number) => {
    ({ classes, toModel } = classMapping(model, ds, opts.classes, units, 'evaluate()'));
    matrix = classes.map(() => classes.map(() => 0));
  };
  const declared = declaredUnits(model);
  if (declared !== undefined) setUp(declared);
  let lossSum = 0;
  let n = 0;
  for await (const batch of ds.batches({ batchSize: opts.batchSize, augment: false, shuffle: false })) {
    let probs: Float32Array;
    let labels: Int32Array;
    let k: number;
    try {
      const p = await probabilities(model, batch.xs);
      const y = tf.argMax(batch.ys, 1);
      k = p.shape[1];
      probs = (await p.data()) as Float32Array;
      labels = (await y.data()) as Int32Array;
      tf.dispose([p, y]);
    } finally {
      tf.dispose([batch.xs, batch.ys]);
    }
    if (matrix.length === 0) setUp(k);
    for (let r = 0; r < labels.length; r++) {
      const row = probs.subarray(r * k, (r + 1) * k);
      const truth = toModel[labels[r]];
      let arg = 0;
      let sum = 0;
      for (let j = 0; j < k; j++) {
        sum += row[j];
        if (row[j] > row[arg]) arg = j;
      }
      matrix[truth][arg]++;
      const p = Math.min(1 - EPS, Math.max(EPS, sum > 0 ? row[truth] / sum : 0));
      lossSum += -Math.log(p);
      n++;
    }
    await betweenBatches();
  }
  if (n === 0) throw new Error(`evaluate(): ${ds.name} has no samples that could be read.`);
  const correct = matrix.reduce((a, r, i) => a + r[i], 0);
  const perClass = classMetrics(matrix, classes);
  const confusion: ConfusionData = { kind: 'confusion', version: 1, classes, matrix, accuracy: correct / n, perClass };
  const result: EvaluationResult = { accuracy: correct / n, loss: lossSum / n, samples: n, perClass, confusion };
  const which = ds === split.validation ? 'validation' : 'train';
  const unreadable: UnreadableFile[] = ds.unreadable().map((u) => ({ file: u.name, split: which, reason: u.reason }));
  if (unreadable.length) {
    result.unreadable = unreadable;
    console.warn(`evaluate(): ${describeUnreadable(unreadable)}`);
  }
  // As a cell's last value: the whole matrix when it was not shown already, else one line.
  const summary = `accuracy ${f4(result.accuracy)}, loss ${f4(result.loss)} on ${n} samples${unreadable.length ? ` (${unreadable.length} unreadable image(s) left out)` : ''}`;
  Object.defineProperty(result, DISPLAY_SYMBOL, {
    value: (): MimeBundle => (opts.display === false ? { [MIME.confusion]: confusion, [TEXT_PLAIN]: formatConfusion(confusion, result.loss) } : { [TEXT_PLAIN]: summary }),
    enumerable: false,
  });
  if (opts.display !== false) {
    getOutputSink().display({ [MIME.confusion]: confusion, [TEXT_PLAIN]: formatConfusion(confusion, result.loss, opts.title ?? `Evaluation on ${ds.name}`) });
  }
  return result;
}

// --- predict

export interface Prediction {
  label: string;
  probability: number;
  /** Output index of the class. */
  index: number;
}

export interface PredictOptions {
  /** Classes per image, most probable first (default 3, at most the number of classes). */
  topK?: number;
  /** Tensors are already preprocessed model input (default: they hold pixels in 0..255). */
  preprocessed?: boolean;
  decoder?: DecoderChoice;
  batchSize?: number;
}

interface ImageInput {
  size: [number, number];
  channels: 1 | 3;
  preprocessing: Preprocessing;
}

export function imageInput(model: AnyModel): ImageInput | undefined {
  const shape = inputShapeOf(model);
  if (!shape || shape.length !== 4) return undefined;
  const meta = getMeta(model);
  const h = meta?.inputSize?.[0] ?? shape[1];
  const w = meta?.inputSize?.[1] ?? shape[2];
  if (typeof h !== 'number' || typeof w !== 'number' || h <= 0 || w <= 0) {
    throw new Error('predict(): the model input has no fixed image size; set it in the model metadata (inputSize).');
  }
  // Metadata read from a file is checked when loaded; this catches sizes set in code or on a model built by hand.
  const problem = imageSizeProblem([h, w]);
  if (problem) throw new Error(`predict(): the model's input size${meta?.inputSize ? ' (metadata inputSize)' : ''} ${problem}.`);
  const c = meta?.preprocessing?.channels ?? (shape[3] === 1 ? 1 : 3);
  return { size: [h, w], channels: c, preprocessing: meta?.preprocessing ?? { ...PREPROCESS_UNIT, channels: c } };
}

function topK(probs: Float32Array, k: number, classes: readonly string[], n: number): Prediction[][] {
  // The output width, not the metadata, decides how many classes there are; names fill in when known.
  const width = probs.length / n;
  const out: Prediction[][] = [];
  for (let r = 0; r < n; r++) {
    const row = Array.from(probs.subarray(r * width, (r + 1) * width), (p, index) => ({ index, probability: p }));
    row.sort((a, b) => b.probability - a.probability || a.index - b.index);
    out.push(row.slice(0, k).map((e) => ({ label: classes[e.index] ?? String(e.index), probability: e.probability, index: e.index })));
  }
  return out;
}

/** Top-k classes of each text, for a text model. */
async function predictTexts(model: AnyModel, enc: TextEncoding, texts: string[], k: number, classes: readonly string[], batchSize = 32): Promise<Prediction[][]> {
  const out: Prediction[][] = [];
  for (let i = 0; i < texts.length; i += batchSize) {
    const chunk = texts.slice(i, i + batchSize);
    const x = tf.tensor(await enc.encode(chunk), [chunk.length, ...enc.elementShape], 'float32');
    const p = await probabilities(model, x).finally(() => x.dispose());
    const probs = (await p.data()) as Float32Array;
    p.dispose();
    out.push(...topK(probs, k, classes, chunk.length));
  }
  return out;
}

/**
 * Top-k classes per image (or per text, for a text model: then strings are the texts themselves).
 * A path gives Prediction[]; an array of paths or a 4-D batch gives one Prediction[] per image. Tensors hold pixels in 0..255 unless `preprocessed` is set; they are
 * resized to the model's input and preprocessed like training images.
 */
export async function predict(model: AnyModel, images: string, opts?: PredictOptions): Promise<Prediction[]>;
export async function predict(model: AnyModel, images: string[], opts?: PredictOptions): Promise<Prediction[][]>;
export async function predict(model: AnyModel, images: tf.Tensor, opts?: PredictOptions): Promise<Prediction[] | Prediction[][]>;
export async function predict(model: AnyModel, images: string | string[] | tf.Tensor, opts: PredictOptions = {}): Promise<Prediction[] | Prediction[][]> {
  const classes = getMeta(model)?.classes ?? [];
  const want = opts.topK ?? 3;
  if (!(Number.isInteger(want) && want > 0)) throw new Error(`predict(): topK must be a positive whole number, got ${opts.topK}`);
  const enc = textEncodingFor(model);
  if (enc && !(images instanceof tf.Tensor)) {
    const texts = typeof images === 'string' ? [images] : images;
    if (!Array.isArray(texts) || texts.some((s) => typeof s !== 'string')) throw new Error('predict(): give a text or an array of texts.');
    const out = await predictTexts(model, enc, texts, want, classes, opts.batchSize);
    return typeof images === 'string' ? out[0] : out;
  }
  const img = imageInput(model);

  if (images instanceof tf.Tensor) {
    const single = img ? images.rank === 3 : images.rank === 1;
    const x = tf.tidy(() => {
      let x = images.toFloat();
      if (single) x = x.expandDims(0);
      if (img && !opts.preprocessed) {
        if (x.rank !== 4) throw new Error(`predict(): expected an image [h, w, c] or a batch [n, h, w, c], got shape [${images.shape.join(', ')}]`);
        let x4 = x as tf.Tensor4D;
        if (x4.shape[1] !== img.size[0] || x4.shape[2] !== img.size[1]) x4 = tf.image.resizeBilinear(x4, img.size);
        x = tf.add(tf.mul(x4, img.preprocessing.scale), img.preprocessing.offset);
      }
      return x;
    });
    const p = await probabilities(model, x).finally(() => x.dispose());
    const n = p.shape[0];
    const probs = (await p.data()) as Float32Array;
    p.dispose();
    const out = topK(probs, want, classes, n);
    return single ? out[0] : out;
  }

  const paths = typeof images === 'string' ? [images] : images;
  if (!Array.isArray(paths) || paths.some((s) => typeof s !== 'string')) throw new Error('predict(): give an image path, an array of paths, or a tensor.');
  if (!img) throw new Error('predict(): image paths need a model that takes images (input [null, h, w, c]).');
  const [h, w] = img.size;
  const c = img.channels;
  const per = h * w * c;
  const out: Prediction[][] = [];
  const bs = opts.batchSize ?? 32;
  for (let i = 0; i < paths.length; i += bs) {
    const chunk = paths.slice(i, i + bs);
    const decoded = await Promise.all(
      chunk.map((f) =>
        decodeImage(f, { size: img.size, channels: c, decoder: opts.decoder }).catch((e: Error) => {
          throw new Error(`predict(): cannot read ${f}: ${e.message}`);
        }),
      ),
    );
    const buf = new Float32Array(chunk.length * per);
    const s32 = Math.fround(img.preprocessing.scale);
    const o32 = Math.fround(img.preprocessing.offset);
    decoded.forEach((d, r) => {
      for (let j = 0; j < per; j++) buf[r * per + j] = Math.fround(d.data[j] * s32) + o32;
    });
    const x = tf.tensor4d(buf, [chunk.length, h, w, c]);
    const p = await probabilities(model, x).finally(() => x.dispose());
    const probs = (await p.data()) as Float32Array;
    p.dispose();
    out.push(...topK(probs, want, classes, chunk.length));
  }
  return typeof images === 'string' ? out[0] : out;
}
