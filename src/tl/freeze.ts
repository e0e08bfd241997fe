/**
 * freeze() / unfreeze() by name, pattern, index range or block (the BatchNormalization fix is in batchnorm.ts).
 *
 * Two tfjs-layers 4.22 behaviours make this more than flipping `layer.trainable`:
 *  - fit() trains `collectedTrainableWeights`, fixed at compile(). Freezing alone happens to work
 *    (the weight's own `trainable` flag is checked again at gradient time), but unfreezing a layer of a
 *    compiled model does nothing until compile() runs again. So a compiled model is recompiled here.
 *  - A frozen BatchNormalization still normalises with batch statistics in fit() and still moves its
 *    moving mean/variance. Keras runs a frozen BatchNormalization in inference mode; so do we (batchnorm.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { assertTrainable } from './models';
import { blocksOf, closeMatches, isFrozen } from './inspect';
import type { Layer } from './util/graph';
import { printable } from './util/text';
import { cutOf } from './cut';
import { isEncoderLayer, unfreezeError } from './text/encoderLayer';
// Freezing means Keras semantics for BatchNormalization: importing batchnorm installs them.
export { installBatchNormFix } from './batchnorm';


export type LayerRef = number | string;

/**
 * Which layers: 'all'; a layer name or names; a RegExp tested against names;
 * `{ from, to }` inclusive range by index or name (either end optional);
 * `{ upTo }` every layer up to and including one; `{ lastBlocks: N }` the last N blocks with weights.
 * Negative indices count from the end (-1 is the last layer).
 */
export type LayerSpec =
  | 'all'
  | string
  | string[]
  | RegExp
  | { from?: LayerRef; to?: LayerRef }
  | { upTo: LayerRef }
  | { lastBlocks: number };

export interface UnfreezeOptions {
  /**
   * Unfreeze matched BatchNormalization layers too (default true). Pass false to keep them frozen,
   * so they stay in inference mode while the rest fine-tunes — the usual Keras advice, since small
   * fine-tuning batches give poor batch statistics.
   */
  batchNorm?: boolean;
}

// --- selecting layers

/** The index of a layer given by name or index (negative counts from the end). */
export function resolveLayerRef(model: tf.LayersModel, ref: LayerRef, what = 'layer'): number {
  const list = model.layers;
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref)) throw new Error(`${what} index must be an integer, got ${ref}.`);
    const i = ref < 0 ? list.length + ref : ref;
    if (i < 0 || i >= list.length) {
      throw new Error(`${what} index ${ref} is out of range: the model has ${list.length} layers (0–${list.length - 1}).`);
    }
    return i;
  }
  if (typeof ref !== 'string') throw new Error(`${what} must be a layer name or index, got ${typeof ref}.`);
  const i = list.findIndex((l) => l.name === ref);
  if (i >= 0) return i;
  throw unknownLayer(list, ref);
}

function unknownLayer(list: Layer[], name: string): Error {
  const close = closeMatches(
    name,
    list.map((l) => l.name),
  );
  return new Error(
    `No layer named "${name}" in this model.` +
      (close.length ? ` Close matches: ${close.map((c) => `"${c}"`).join(', ')}.` : '') +
      ` It has ${list.length} layers; tl.layers(model) lists them.`,
  );
}

const SPEC_HELP =
  "Use 'all', a layer name or array of names, a RegExp, { from, to }, { upTo } or { lastBlocks: N }.";

/** Indices of the layers a spec selects, in model order. */
export function selectLayers(model: tf.LayersModel, spec: LayerSpec): number[] {
  const list = model.layers;
  const all = list.map((_, i) => i);
  if (spec === 'all') return all;
  if (typeof spec === 'string') return [resolveLayerRef(model, spec)];
  if (Array.isArray(spec)) {
    const missing = spec.filter((n) => typeof n !== 'string' || !list.some((l) => l.name === n));
    if (missing.length) {
      const first = missing[0];
      if (typeof first !== 'string') throw new Error(`Layer names must be strings; got ${typeof first}. ${SPEC_HELP}`);
      throw unknownLayer(list, first);
    }
    return all.filter((i) => spec.includes(list[i].name));
  }
  if (spec instanceof RegExp) {
    // A /g or /y RegExp keeps lastIndex between test() calls; a copy without those flags does not.
    const re = new RegExp(spec.source, spec.flags.replace(/[gy]/g, ''));
    const hit = all.filter((i) => re.test(list[i].name));
    if (hit.length === 0) throw new Error(`No layer name matches ${spec}. tl.layers(model) lists the names.`);
    return hit;
  }
  if (typeof spec === 'object' && spec !== null) {
    const keys = Object.keys(spec);
    if ('lastBlocks' in spec && keys.length === 1) return lastBlocks(model, spec.lastBlocks);
    if ('upTo' in spec && keys.length === 1) {
      const to = resolveLayerRef(model, spec.upTo, 'upTo');
      return all.slice(0, to + 1);
    }
    if (keys.every((k) => k === 'from' || k === 'to') && keys.length > 0) {
      const r = spec as { from?: LayerRef; to?: LayerRef };
      const from = r.from === undefined ? 0 : resolveLayerRef(model, r.from, 'from');
      const to = r.to === undefined ? list.length - 1 : resolveLayerRef(model, r.to, 'to');
      if (from > to) {
        throw new Error(`Empty range: from (${list[from].name}, index ${from}) comes after to (${list[to].name}, index ${to}).`);
      }
      return all.slice(from, to + 1);
    }
  }
  throw new Error(`Cannot read the layer selection ${describeSpec(spec)}. ${SPEC_HELP}`);
}

function describeSpec(spec: unknown): string {
  try {
    return JSON.stringify(spec) ?? String(spec);
  } catch {
    return String(spec);
  }
}

function hasWeights(layer: Layer): boolean {
  return layer.weights.length > 0;
}

/** The last N blocks that hold weights, plus any weightless layers after the first of them. */
function lastBlocks(model: tf.LayersModel, n: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`lastBlocks must be a whole number ≥ 0, got ${n}.`);
  const list = model.layers;
  if (n === 0) return [];
  const blocks = blocksOf(list);
  const weighted: string[] = [];
  for (let i = list.length - 1; i >= 0; i--) {
    if (hasWeights(list[i]) && !weighted.includes(blocks[i])) weighted.push(blocks[i]);
  }
  if (n > weighted.length) {
    throw new Error(`lastBlocks: ${n} asks for more blocks than the model has: ${weighted.length} blocks hold weights.`);
  }
  const chosen = new Set(weighted.slice(0, n));
  const start = blocks.findIndex((b) => chosen.has(b));
  return list.map((_, i) => i).slice(start);
}

// --- switching

function setTrainable(layer: Layer, value: boolean): void {
  layer.trainable = value;
  // A nested model's own setter flips its layers' weights but not their flags; keep both in step.
  const inner = (layer as unknown as { layers?: Layer[] }).layers;
  if (Array.isArray(inner)) for (const l of inner) setTrainable(l, value);
}

interface CompiledInternals {
  optimizer_?: tf.Optimizer;
  isOptimizerOwned?: boolean;
  collectedTrainableWeights?: tf.LayerVariable[];
  isTraining?: boolean;
  /** A Sequential compiles its inner functional model, which holds the collected weights. */
  model?: CompiledInternals;
}

/**
 * Recompiles a compiled model when its set of trainable weights no longer matches what compile()
 * collected. The optimizer is rebuilt from its config: tfjs optimizers keep slot variables (Adam's
 * moments, momentum) by position in the weight list, so reusing one across a changed list would pair
 * slots with the wrong weights. Returns whether it recompiled.
 */
export function recompileIfNeeded(model: tf.LayersModel): boolean {
  const m = model as unknown as CompiledInternals;
  const old = m.optimizer_;
  if (!old) return false;
  const collected = m.collectedTrainableWeights ?? m.model?.collectedTrainableWeights ?? [];
  const now = model.trainableWeights;
  if (collected.length === now.length && collected.every((w, i) => w === now[i])) return false;
  const cls = old.constructor as unknown as {
    fromConfig: (c: unknown, config: tf.serialization.ConfigDict) => tf.Optimizer;
  };
  const fresh = cls.fromConfig(cls, old.getConfig());
  const ownedOld = m.isOptimizerOwned === true;
  model.compile({ optimizer: fresh, loss: model.loss, metrics: model.metrics });
  // The new optimizer was made here, so the model owns it and disposes it with itself.
  m.isOptimizerOwned = true;
  if (ownedOld) old.dispose();
  return true;
}

function change(model: tf.LayersModel, spec: LayerSpec, value: boolean, skipBatchNorm: boolean, what: string): string[] {
  assertTrainable(model, what);
  if ((model as unknown as CompiledInternals).isTraining) {
    throw new Error(`${what}: the model is training; change frozen layers between fits, not during one.`);
  }
  const list = model.layers;
  const picked = selectLayers(model, spec).filter((i) => !(skipBatchNorm && list[i].getClassName() === 'BatchNormalization'));
  // An ONNX sentence encoder runs in ONNX Runtime: refused before any layer changes.
  const encoder = value ? picked.find((i) => isEncoderLayer(list[i])) : undefined;
  if (encoder !== undefined) throw new Error(unfreezeError(printable(list[encoder].name)));
  for (const i of picked) setTrainable(list[i], value);
  recompileIfNeeded(model);
  const names = picked.map((i) => list[i].name);
  if (value) warnIfUnused(model, names);
  return names;
}

/** Unfreezing a base's layers that withHead cut off trains nothing: says so, by name. */
function warnIfUnused(model: tf.LayersModel, names: string[]): void {
  const cut = cutOf(model);
  if (!cut) return;
  const unused = names.filter((n) => cut.dropped.includes(n) && model.layers.some((l) => l.name === n && l.weights.length > 0));
  if (unused.length === 0) return;
  const list = unused.map((n) => `'${printable(n)}'`).join(', ');
  console.warn(
    `unfreeze(): ${list} ${unused.length === 1 ? 'is' : 'are'} not part of '${printable(cut.model)}', which withHead cut from this base at '${printable(cut.layer)}'; ` +
      `${unused.length === 1 ? 'it' : 'they'} will not train. Unfreeze layers of the model with the head instead (for example tl.unfreeze(model, { lastBlocks: 2 })).`,
  );
}

/** Freezes the selected layers; returns their names. A compiled model is recompiled. */
export function freeze(model: tf.LayersModel, spec: LayerSpec = 'all'): string[] {
  return change(model, spec, false, false, 'freeze()');
}

/** Unfreezes the selected layers; returns their names. A compiled model is recompiled. */
export function unfreeze(model: tf.LayersModel, spec: LayerSpec = 'all', opts: UnfreezeOptions = {}): string[] {
  return change(model, spec, true, opts.batchNorm === false, 'unfreeze()');
}
