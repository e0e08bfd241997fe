/**
 * Softmax, tfjs-layers' (sparse) categorical cross-entropy on its output, accuracy, and the
 * gradient of the batch's mean loss with respect to the logits, for the fused Dense-head loop.
 * The same functions as tfjs-layers, step by step, so that the gradient is the one tfjs's tape
 * finds: the loss divides each row of probabilities by its sum and clips it to [ε, 1 − ε] (the
 * sparse loss clips the probabilities once before that too), and a clipped entry passes no
 * gradient, as tfjs's ClipByValue gradient does. ε is the backend's epsilon (1e-7 on wasm). Class
 * weights multiply each row's loss before the mean over the batch, and leave accuracy alone, as in
 * tfjs-layers' training function.
 */
import * as tf from '@tensorflow/tfjs';

const f = Math.fround;

export interface LossResult {
  /** The mean loss over the batch. */
  loss: number;
  /** The fraction of rows whose largest probability is at the label (ties: the first). */
  acc: number;
  /** d(mean loss)/d(logits), [rows, classes]. */
  dLogits: Float32Array;
}

/**
 * Row `i`'s target into `out` (one-hot rows as given; a sparse label floored and one-hot, as the
 * loss does) and its label as accuracy and class weights see it: the one-hot row's first largest
 * entry, or the sparse label as given (so 1.5 matches no class, as in tfjs).
 */
function targetRow(ys: Float32Array, i: number, classes: number, sparse: boolean, out: Float64Array): number {
  out.fill(0);
  if (sparse) {
    const t = Math.floor(ys[i]);
    if (t >= 0 && t < classes) out[t] = 1;
    return ys[i];
  }
  for (let j = 0; j < classes; j++) out[j] = ys[i * classes + j];
  return argMax(out);
}

function argMax(v: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < v.length; j++) if (v[j] > v[best]) best = j;
  return best;
}

/** A row's class weight (1 without class weights); a class missing from them is an error, as in tfjs. */
function rowWeight(classWeight: Record<number, number> | undefined, label: number): number {
  if (!classWeight) return 1;
  const w = classWeight[label];
  if (w == null) throw new Error(`classWeight must contain all classes in the training data. The class ${label} exists in the data but not in classWeight`);
  return f(w);
}

/** Softmax of row `i` of `logits` in float32, into `p`. */
function softmaxRow(logits: Float32Array, i: number, p: Float64Array): void {
  const c = p.length;
  let max = -Infinity;
  for (let j = 0; j < c; j++) max = Math.max(max, logits[i * c + j]);
  let sum = 0;
  for (let j = 0; j < c; j++) sum += p[j] = Math.exp(logits[i * c + j] - max);
  for (let j = 0; j < c; j++) p[j] = f(p[j] / sum);
}

/** The loss of one row and d(loss)/d(p) into `g`, through clip → normalise → clip → −Σ y·log. */
function rowLossGrad(p: Float64Array, y: Float64Array, sparse: boolean, eps: number, g: Float64Array): number {
  const c = p.length;
  const hi = f(1 - eps);
  const p1 = p.map((v) => (sparse ? Math.min(Math.max(v, eps), hi) : v));
  const s = p1.reduce((a, b) => a + b, 0);
  let loss = 0;
  let dot = 0;
  for (let j = 0; j < c; j++) {
    const q = p1[j] / s;
    const inside = q >= eps && q <= hi;
    loss -= y[j] * Math.log(Math.min(Math.max(q, eps), hi));
    g[j] = inside ? -y[j] / q : 0;
    dot += g[j] * q;
  }
  for (let j = 0; j < c; j++) {
    const through = !sparse || (p[j] >= eps && p[j] <= hi);
    g[j] = through ? (g[j] - dot) / s : 0;
  }
  return loss;
}

/** The batch's mean loss, accuracy and d(mean loss)/d(logits). */
export function softmaxCrossEntropy(logits: Float32Array, ys: Float32Array, rows: number, classes: number, sparse: boolean, classWeight?: Record<number, number>): LossResult {
  const eps = f(tf.backend().epsilon());
  const dLogits = new Float32Array(rows * classes);
  const p = new Float64Array(classes);
  const y = new Float64Array(classes);
  const g = new Float64Array(classes);
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < rows; i++) {
    softmaxRow(logits, i, p);
    const label = targetRow(ys, i, classes, sparse, y);
    if (argMax(p) === label) correct++;
    const w = rowWeight(classWeight, label);
    loss += w * rowLossGrad(p, y, sparse, eps, g);
    // Softmax's gradient: p ⊙ (g − Σ p·g); each row's loss counts w/rows of the mean.
    let pg = 0;
    for (let j = 0; j < classes; j++) pg += p[j] * g[j];
    for (let j = 0; j < classes; j++) dLogits[i * classes + j] = (w * p[j] * (g[j] - pg)) / rows;
  }
  return { loss: loss / rows, acc: correct / rows, dLogits };
}
