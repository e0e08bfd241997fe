/**
 * withHead(): a new classifier on top of a base model. The new model is built from the base's own
 * layer objects, so it shares their weights (training one trains the other); nothing is copied.
 */
import * as tf from '@tensorflow/tfjs';
import { getMeta, setMeta, type ModelMeta } from './models/meta';
import { assertTrainable, featureLayerHint } from './models';
import { resolveLayerRef, type LayerRef } from './freeze';

export interface HeadOptions {
  /**
   * Where to cut the base: a layer name or index (negative counts from the end); the head goes on
   * that layer's output. Default: the zoo's feature layer for zoo models; otherwise the base without
   * its classifier when it ends in one (a softmax/sigmoid Dense or 1×1 conv, with any dropout before
   * and reshape/activation after it); otherwise the whole base.
   */
  cutAt?: LayerRef;
  /** Number of classes, or their names (which become the model's class labels). */
  classes: number | string[];
  /** Hidden Dense (ReLU) layer sizes between pooling and the output. */
  hidden?: number | number[];
  /** Dropout rate after each hidden layer (or before the output when there is none). */
  dropout?: number;
  /** How a 4-D (or 3-D) cut output becomes a vector. Default 'avg'. */
  pooling?: 'avg' | 'max' | 'flatten';
  /** Seed for the head's initial weights (and dropout), for runs that repeat exactly. */
  seed?: number;
}

const TAIL_SKIP = new Set(['Reshape', 'Flatten', 'Activation', 'Softmax']);

function activationOf(layer: tf.layers.Layer): string | undefined {
  const a = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof a === 'string' ? a : undefined;
}

/** Index of the layer to cut at when the caller did not say. */
export function defaultCut(base: tf.LayersModel): number {
  const hint = featureLayerHint(base);
  if (hint) {
    const i = base.layers.findIndex((l) => l.name === hint);
    if (i >= 0) return i;
  }
  const list = base.layers;
  let i = list.length - 1;
  let squashed = false;
  while (i > 0 && TAIL_SKIP.has(list[i].getClassName())) {
    const cls = list[i].getClassName();
    const act = activationOf(list[i]);
    if (cls === 'Softmax' || act === 'softmax' || act === 'sigmoid') squashed = true;
    i--;
  }
  const cls = list[i].getClassName();
  const act = activationOf(list[i]);
  const isClassifier = (cls === 'Dense' || cls === 'Conv2D') && (squashed || act === 'softmax' || act === 'sigmoid');
  if (!isClassifier || i === 0) return list.length - 1;
  i--;
  while (i > 0 && list[i].getClassName() === 'Dropout') i--;
  return i;
}

function checkOptions(opts: HeadOptions): { units: number; names?: string[]; hidden: number[]; dropout: number } {
  if (typeof opts !== 'object' || opts === null) throw new Error('withHead(base, options): options are required ({ classes }).');
  let units: number;
  let names: string[] | undefined;
  if (Array.isArray(opts.classes)) {
    names = opts.classes.map((c) => {
      if (typeof c !== 'string' || c.length === 0) throw new Error('withHead: class names must be non-empty strings.');
      return c;
    });
    const dup = names.find((c, i) => names!.indexOf(c) !== i);
    if (dup !== undefined) throw new Error(`withHead: class name "${dup}" appears twice.`);
    units = names.length;
  } else {
    units = opts.classes;
  }
  if (!Number.isInteger(units) || units < 2) {
    throw new Error(`withHead: classes must be at least 2 (a number or an array of names); got ${JSON.stringify(opts.classes)}.`);
  }
  const hidden = opts.hidden === undefined ? [] : Array.isArray(opts.hidden) ? opts.hidden : [opts.hidden];
  for (const h of hidden) {
    if (!Number.isInteger(h) || h < 1) throw new Error(`withHead: hidden layer sizes must be positive whole numbers; got ${h}.`);
  }
  const dropout = opts.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new Error(`withHead: dropout must be a rate in [0, 1); got ${dropout}.`);
  }
  if (opts.pooling !== undefined && !['avg', 'max', 'flatten'].includes(opts.pooling)) {
    throw new Error(`withHead: pooling must be 'avg', 'max' or 'flatten'; got ${JSON.stringify(opts.pooling)}.`);
  }
  return { units, names, hidden, dropout };
}

/**
 * A new functional model: the base's inputs → its layers up to `cutAt` → pooling (when the cut output
 * is 3-D/4-D) → optional hidden Dense + dropout → softmax Dense with one unit per class.
 * Works on Sequential and functional bases, residual (Add) topologies included. Head layers are
 * named head_* so the freeze map shows them as the block "head".
 */
export function withHead(base: tf.LayersModel, opts: HeadOptions): tf.LayersModel {
  assertTrainable(base, 'withHead()');
  const { units, names, hidden, dropout } = checkOptions(opts);
  const cut = opts.cutAt === undefined ? defaultCut(base) : resolveLayerRef(base, opts.cutAt, 'cutAt');
  const cutLayer = base.layers[cut];
  let x: tf.SymbolicTensor;
  try {
    const out = cutLayer.output;
    if (Array.isArray(out)) throw new Error(`layer "${cutLayer.name}" has ${out.length} outputs; cut at a layer with one output.`);
    x = out;
  } catch (e) {
    throw new Error(`withHead: cannot cut at "${cutLayer.name}": ${e instanceof Error ? e.message : String(e)}`);
  }

  const taken = new Set(base.layers.slice(0, cut + 1).map((l) => l.name));
  const nameFor = (n: string) => {
    let name = n;
    for (let k = 2; taken.has(name); k++) name = `${n}_${k}`;
    taken.add(name);
    return name;
  };

  let seedCount = 0;
  const init = () => (opts.seed === undefined ? undefined : tf.initializers.glorotUniform({ seed: opts.seed + seedCount++ }));
  const dropoutSeed = () => (opts.seed === undefined ? undefined : opts.seed + 1000 + seedCount++);
  const pooling = opts.pooling ?? 'avg';
  const rank = x.shape.length;
  if (rank === 4 || rank === 3) {
    // Image feature maps (rank 4) pool in 2-D, sequences (rank 3) in 1-D.
    const global = pooling === 'max' ? (rank === 4 ? tf.layers.globalMaxPooling2d : tf.layers.globalMaxPooling1d) : rank === 4 ? tf.layers.globalAveragePooling2d : tf.layers.globalAveragePooling1d;
    const name = nameFor('head_pool');
    x = (pooling === 'flatten' ? tf.layers.flatten({ name }) : global({ name })).apply(x) as tf.SymbolicTensor;
  } else if (rank > 4) {
    x = tf.layers.flatten({ name: nameFor('head_flatten') }).apply(x) as tf.SymbolicTensor;
  }
  hidden.forEach((h, k) => {
    x = tf.layers.dense({ units: h, activation: 'relu', name: nameFor(`head_dense_${k + 1}`), kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
    if (dropout > 0) x = tf.layers.dropout({ rate: dropout, name: nameFor(`head_dropout_${k + 1}`), seed: dropoutSeed() }).apply(x) as tf.SymbolicTensor;
  });
  if (hidden.length === 0 && dropout > 0) {
    x = tf.layers.dropout({ rate: dropout, name: nameFor('head_dropout'), seed: dropoutSeed() }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.dense({ units, activation: 'softmax', name: nameFor('head_output'), kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;

  const model = tf.model({ inputs: base.inputs, outputs: x, name: `${base.name}_with_head` });
  const baseMeta = getMeta(base);
  const meta: ModelMeta = {
    name: `${baseMeta?.name ?? base.name} + head`,
    source: baseMeta?.source ?? 'code',
    format: 'layers',
    ...(names ? { classes: names } : {}),
    ...(baseMeta?.inputSize ? { inputSize: baseMeta.inputSize } : {}),
    ...(baseMeta?.preprocessing ? { preprocessing: baseMeta.preprocessing } : {}),
    ...(baseMeta?.text ? { text: baseMeta.text } : {}),
  };
  setMeta(model, meta);
  return model;
}
