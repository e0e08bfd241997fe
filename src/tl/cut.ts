/**
 * Where withHead() cuts a base when the caller does not say, and what it remembers about a cut.
 *
 * The rule follows Keras' `include_top=False`: everything after the convolutional feature extractor
 * goes. A base that ends in a classifier stack (Dense, Dropout, Flatten, Activation, Reshape and the
 * like, after the last spatial layer or global pool) is cut at the output of the last pooling or
 * flatten before the stack's first Dense. Without such a stack, the older rules hold: the softmax
 * (or sigmoid) classifier alone is dropped, or nothing is.
 */
import type * as tf from '@tensorflow/tfjs';
import { INFERENCE_NO_OP_LAYERS } from './layerKinds';
import { featureLayerHint } from './models/meta';
import type { Layer } from './util/graph';
import { printable } from './util/text';

export interface CutChoice {
  /** Index, in the base's layer list, of the layer whose output the head takes. */
  index: number;
  /** Why there, in words. */
  reason: string;
}

/** A cut that was made: recorded on the model with the head and on its base. */
export interface CutRecord {
  /** The layer whose output the head takes. */
  layer: string;
  /** Why there. */
  reason: string;
  /** The base's layers after the cut, which the model with the head does not use. */
  dropped: string[];
  /** The name of the model with the head (for messages about the base). */
  model: string;
}

const ACTIVATIONS = new Set(['Activation', 'Softmax', 'ReLU', 'LeakyReLU', 'ELU', 'PReLU', 'ThresholdedReLU']);
/** Layers that pass a vector through unchanged in kind: skipped when looking for the cut before a stack. */
const PASS_THROUGH = new Set([...ACTIVATIONS, ...INFERENCE_NO_OP_LAYERS, 'Reshape']);
const STACK = new Set([...PASS_THROUGH, 'Dense', 'Flatten', 'BatchNormalization', 'LayerNormalization', 'Conv1D', 'Conv2D']);
const GLOBAL_POOLS = /^Global(Average|Max)Pooling[123]D$/;
const TAIL_SKIP = new Set(['Reshape', 'Flatten', 'Activation', 'Softmax']);

function outShape(layer: Layer): (number | null)[] | undefined {
  try {
    const s = layer.outputShape as (number | null)[] | (number | null)[][];
    return Array.isArray(s[0]) ? undefined : (s as (number | null)[]);
  } catch {
    return undefined;
  }
}

/** A vector, or a map whose spatial dimensions are all 1 (Keras' MobileNet top reshapes to 1×1×C). */
function vectorLike(layer: Layer): boolean {
  const s = outShape(layer);
  return s !== undefined && s.length >= 2 && s.slice(1, -1).every((d) => d === 1);
}

function inStack(layer: Layer): boolean {
  const cls = layer.getClassName();
  if (!STACK.has(cls)) return false;
  return cls === 'Flatten' || vectorLike(layer);
}

/** A layer that ends a feature extractor: one with a spatial output, or a global pool. */
function endsFeatures(layer: Layer): boolean {
  const cls = layer.getClassName();
  if (cls === 'InputLayer') return false;
  if (GLOBAL_POOLS.test(cls)) return true;
  const s = outShape(layer);
  return s !== undefined && s.length >= 3;
}

const weighted = (l: Layer) => l.getClassName() === 'Dense' || /^Conv[12]D$/.test(l.getClassName());

function names(list: readonly Layer[], from: number): string {
  const n = list.slice(from).map((l) => `'${printable(l.name)}'`);
  return n.length > 6 ? `${n.slice(0, 3).join(' → ')} → … → ${n[n.length - 1]}` : n.join(' → ');
}

/** The cut before a classifier stack on a feature extractor, or undefined when the base has none. */
function stackCut(list: readonly Layer[]): CutChoice | undefined {
  let j = list.length - 1;
  while (j > 0 && inStack(list[j])) j--;
  if (j === list.length - 1 || !endsFeatures(list[j])) return undefined;
  const first = list.findIndex((l, k) => k > j && weighted(l));
  if (first < 0) return undefined;
  let m = first - 1;
  while (m > j && PASS_THROUGH.has(list[m].getClassName())) m--;
  const kind = GLOBAL_POOLS.test(list[j].getClassName()) ? 'global pool' : 'spatial layer';
  return {
    index: m,
    reason: `the base ends in a classifier stack after its last ${kind} '${printable(list[j].name)}' (${names(list, first)}); the head goes on the features before it, as Keras' include_top=False`,
  };
}

function activationOf(layer: Layer): string | undefined {
  const a = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof a === 'string' ? a : undefined;
}

/** The older rule: a softmax/sigmoid Dense or conv at the end (with dropout before it) is dropped. */
function classifierCut(list: readonly Layer[]): CutChoice | undefined {
  let i = list.length - 1;
  let squashed = false;
  while (i > 0 && TAIL_SKIP.has(list[i].getClassName())) {
    const act = activationOf(list[i]);
    if (list[i].getClassName() === 'Softmax' || act === 'softmax' || act === 'sigmoid') squashed = true;
    i--;
  }
  const act = activationOf(list[i]);
  const isClassifier = weighted(list[i]) && (squashed || act === 'softmax' || act === 'sigmoid');
  if (!isClassifier || i === 0) return undefined;
  const top = i;
  i--;
  while (i > 0 && INFERENCE_NO_OP_LAYERS.has(list[i].getClassName())) i--;
  return { index: i, reason: `the base ends in the classifier '${printable(list[top].name)}' (${act ?? 'softmax'}); the head replaces it` };
}

/** Where to cut `base` when the caller did not say, and why. */
export function chooseCut(base: tf.LayersModel): CutChoice {
  const list = base.layers;
  const hint = featureLayerHint(base);
  if (hint) {
    const i = list.findIndex((l) => l.name === hint);
    if (i >= 0) return { index: i, reason: `the model's metadata names '${printable(hint)}' as its feature layer` };
  }
  return (
    stackCut(list) ??
    classifierCut(list) ?? { index: list.length - 1, reason: 'the base has no classifier on top, so the head goes on its output' }
  );
}

/** Index of the layer to cut at when the caller did not say. */
export function defaultCut(base: tf.LayersModel): number {
  return chooseCut(base).index;
}

// --- what was cut

const cuts = new WeakMap<object, CutRecord>();

/** Records a cut on the model with the head and on its base (the latest cut of that base). */
export function recordCut(base: tf.LayersModel, withHead: tf.LayersModel, record: CutRecord): void {
  cuts.set(withHead, record);
  cuts.set(base, record);
}

/** The cut that made this model, or the latest cut of this base; undefined when neither. */
export function cutOf(model: object): CutRecord | undefined {
  return cuts.get(model);
}
