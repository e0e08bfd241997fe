/**
 * withHead(): a new classifier on top of a base model. The new model is built from the base's own
 * layer objects, so it shares their weights (training one trains the other); nothing is copied.
 */
import * as tf from '@tensorflow/tfjs';
import { getMeta, setMeta, type ModelMeta } from './models/meta';
import { assertTrainable } from './models';
import { chooseCut, recordCut, type CutChoice } from './cut';

export { defaultCut } from './cut';
import { printable } from './util/text';
import { resolveLayerRef, type LayerRef } from './freeze';

export interface HeadOptions {
  /**
   * Where to cut the base: a layer name or index (negative counts from the end); the head goes on
   * that layer's output. Default: the feature layer the model's metadata names; otherwise the end
   * of the feature extractor when the base ends in a classifier stack (Dense, Dropout, Flatten, …
   * after its last spatial layer or global pool), as Keras' include_top=False; otherwise the base
   * without its softmax/sigmoid classifier; otherwise the whole base (cut.ts).
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
  /** Print where the base was cut and why (default true). */
  verbose?: boolean;
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
  const choice: CutChoice = opts.cutAt === undefined ? chooseCut(base) : { index: resolveLayerRef(base, opts.cutAt, 'cutAt'), reason: 'as cutAt asked' };
  const cut = choice.index;
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
  const dropped = base.layers.slice(cut + 1).map((l) => l.name);
  recordCut(base, model, { layer: cutLayer.name, reason: choice.reason, dropped, model: meta.name });
  if (opts.verbose ?? true) console.log(cutLine(base, cut, choice.reason, dropped));
  return model;
}

/** "withHead: cut at 'flatten_1' (layer 155 of 162, output [null,1280]): why. Left out: …" */
function cutLine(base: tf.LayersModel, cut: number, reason: string, dropped: string[]): string {
  const layer = base.layers[cut];
  const shape = JSON.stringify(layer.outputShape);
  const left = dropped.length
    ? ` Left out: ${dropped.length} layer(s) after it (${dropped.slice(0, 6).map((n) => `'${printable(n)}'`).join(', ')}${dropped.length > 6 ? ', …' : ''}).`
    : '';
  return `withHead: cut at '${printable(layer.name)}' (layer ${cut} of ${base.layers.length}, output ${shape}): ${reason}.${left} Pass cutAt to cut elsewhere.`;
}
