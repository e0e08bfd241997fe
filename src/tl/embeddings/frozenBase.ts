/** The frozen base of a model: where to cut it, and a hash of what its layers compute. */
import * as crypto from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import '../batchnorm';
import { isFrozen } from '../inspect';
import { RANDOM_LAYERS } from '../layerKinds';
import { producer, type Layer, type NodeLike } from '../util/graph';

// --- hashing

function configWithoutNames(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(configWithoutNames);
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (k !== 'name') out[k] = configWithoutNames(v);
    return out;
  }
  return x;
}

/**
 * Hash of what the layers compute: class, config (names left out: they differ between two loads of
 * the same model) and every weight's shape and values.
 */
export function layersHash(layers: readonly Layer[]): string {
  const h = crypto.createHash('sha256');
  for (const layer of layers) {
    h.update(layer.getClassName());
    h.update(JSON.stringify(configWithoutNames(layer.getConfig())));
    for (const w of layer.weights) {
      const v = w.read();
      h.update(`${w.dtype}[${v.shape.join(',')}]`);
      const data = v.dataSync() as tf.TypedArray;
      h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  return h.digest('hex').slice(0, 32);
}

// --- finding the frozen base

function nestedLayers(layer: Layer): Layer[] | undefined {
  const inner = (layer as unknown as { layers?: Layer[] }).layers;
  return Array.isArray(inner) ? inner : undefined;
}

/** Why this layer cannot be part of a cached base, or undefined when it can. */
function notCacheable(layer: Layer): string | undefined {
  const inner = nestedLayers(layer);
  if (inner) {
    for (const l of inner) {
      const r = notCacheable(l);
      if (r) return r;
    }
    return undefined;
  }
  const cls = layer.getClassName();
  if (cls === 'InputLayer') return undefined;
  if (layer.trainableWeights.length > 0 && !isFrozen(layer)) return `layer '${layer.name}' is trainable`;
  if (RANDOM_LAYERS.has(cls)) return `layer '${layer.name}' (${cls}) is random in training`;
  return undefined;
}

export interface FrozenSplit {
  /** Model from the inputs to the cut. */
  base: tf.LayersModel;
  /** Model from the cut to the output; built from the original head layers, so it shares their weights. */
  head: tf.LayersModel;
  /** Layers upstream of the cut, for hashing. */
  baseLayers: Layer[];
  headLayers: Layer[];
  /** Name of the layer whose output is the cut. */
  cutAfter: string;
}

const splits = new WeakMap<tf.LayersModel, { signature: string; split: FrozenSplit }>();

function releaseSplitWithModel(model: tf.LayersModel): void {
  const dispose = model.dispose.bind(model);
  model.dispose = () => {
    const result = dispose();
    splits.get(model)?.split.head.dispose();
    splits.delete(model);
    return result;
  };
}

function trainableSignature(model: tf.LayersModel): string {
  const parts: string[] = [];
  const walk = (layers: Layer[]) => {
    for (const l of layers) {
      parts.push(`${l.name}:${l.trainable ? 1 : 0}:${isFrozen(l) ? 1 : 0}`);
      const inner = nestedLayers(l);
      if (inner) walk(inner);
    }
  };
  walk(model.layers);
  return parts.join('|');
}

function isInput(t: tf.SymbolicTensor): boolean {
  return (t.sourceLayer as Layer).getClassName() === 'InputLayer';
}

/**
 * Splits a model at the deepest tensor that (a) has a frozen, deterministic graph upstream and
 * (b) lies on every path from the input to the output, so the rest of the model can run from it
 * alone. That covers a head on a frozen base (the cut lands after pooling) and a base whose top
 * blocks are unfrozen, residual connections included (the cut lands at the last frozen block's
 * output). Returns the reason when there is no such tensor.
 */
export function splitAtFrozenBase(model: tf.LayersModel): FrozenSplit | { reason: string } {
  const signature = trainableSignature(model);
  const known = splits.get(model);
  if (known && known.signature === signature) return known.split;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return { reason: 'the model has several inputs or outputs' };
  const output = model.outputs[0];
  const found = findCut(output);
  if ('reason' in found) return found;
  const cutTensor = found.cut;
  const baseLayers = layersUpTo(cutTensor);
  const { headInput, y, headLayers } = rebuildHead(model, cutTensor, output);

  const base = tf.model({ inputs: model.inputs, outputs: cutTensor, name: `${model.name}_cached_base` });
  const head = tf.model({ inputs: headInput, outputs: y, name: `${model.name}_head_only` });
  const split: FrozenSplit = { base, head, baseLayers, headLayers, cutAfter: (cutTensor.sourceLayer as Layer).name };
  // The head-only model re-applies the model's layers, which counts as another owner of their weights:
  // it is released when it is replaced, and when the model itself is disposed.
  if (known) known.split.head.dispose();
  else releaseSplitWithModel(model);
  splits.set(model, { signature, split });
  return split;
}

/** The deepest tensor with a frozen, deterministic graph upstream that every path to `output` passes through. */
function findCut(output: tf.SymbolicTensor): { cut: tf.SymbolicTensor } | { reason: string } {
  const problems = new Map<tf.SymbolicTensor, string | null>();
  const upstreamProblem = (t: tf.SymbolicTensor): string | undefined => {
    const memo = problems.get(t);
    if (memo !== undefined) return memo ?? undefined;
    let r = notCacheable(t.sourceLayer as Layer);
    // An input layer's node lists its own output as its input: the walk ends there.
    if (!r && !isInput(t)) {
      for (const inp of producer(t)?.inputTensors ?? []) {
        r = upstreamProblem(inp);
        if (r) break;
      }
    }
    problems.set(t, r ?? null);
    return r;
  };

  // Every tensor the output depends on, inputs before their consumers.
  const order: tf.SymbolicTensor[] = [];
  const seen = new Set<tf.SymbolicTensor>();
  const visit = (t: tf.SymbolicTensor) => {
    if (seen.has(t)) return;
    seen.add(t);
    if (!isInput(t)) for (const inp of producer(t)?.inputTensors ?? []) visit(inp);
    order.push(t);
  };
  visit(output);

  /** True when every path from the input to the output passes through `cut`. */
  const dominates = (cut: tf.SymbolicTensor): boolean => {
    const done = new Set<tf.SymbolicTensor>();
    const reachesInput = (t: tf.SymbolicTensor): boolean => {
      if (t === cut || done.has(t)) return false;
      done.add(t);
      if (isInput(t)) return true;
      return (producer(t)?.inputTensors ?? []).some(reachesInput);
    };
    return !reachesInput(output);
  };

  // Reverse post-order visits a later dominator before an earlier one, so the first hit is the deepest.
  let cut: tf.SymbolicTensor | undefined;
  // The reason given is the one nearest the input (the walk ends there): the layer that keeps the
  // whole base from being cached, not the head that trains on top of it.
  let nearestProblem: string | undefined;
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    if (isInput(t)) continue;
    const problem = upstreamProblem(t);
    if (problem) {
      nearestProblem = problem;
      continue;
    }
    if (t === output) return { reason: 'every layer is frozen: nothing to train' };
    if (dominates(t)) {
      cut = t;
      break;
    }
  }
  return cut ? { cut } : { reason: nearestProblem ?? 'no frozen layers before the trainable ones' };
}

/** The layers upstream of `cut`, inputs first. */
function layersUpTo(cutTensor: tf.SymbolicTensor): Layer[] {
  const baseLayers: Layer[] = [];
  const inBase = new Set<Layer>();
  const collect = (x: tf.SymbolicTensor) => {
    const l = x.sourceLayer as Layer;
    if (inBase.has(l)) return;
    inBase.add(l);
    if (!isInput(x)) for (const inp of producer(x)?.inputTensors ?? []) collect(inp);
    baseLayers.push(l);
  };
  collect(cutTensor);
  return baseLayers;
}

/** The layers after the cut, re-applied from a new input shaped like the cut tensor. */
function rebuildHead(model: tf.LayersModel, cutTensor: tf.SymbolicTensor, output: tf.SymbolicTensor): { headInput: tf.SymbolicTensor; y: tf.SymbolicTensor; headLayers: Layer[] } {
  // The head re-applies the original layer objects (shared weights) from a new input at the cut.
  const headInput = tf.input({ shape: cutTensor.shape.slice(1) as number[], name: `${model.name}_embedding` });
  const rebuilt = new Map<tf.SymbolicTensor, tf.SymbolicTensor>([[cutTensor, headInput]]);
  const headLayers: Layer[] = [];
  const rebuild = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const done = rebuilt.get(t);
    if (done) return done;
    const node = producer(t) as NodeLike;
    const layer = t.sourceLayer as Layer;
    const ins = node.inputTensors.map(rebuild);
    const out = layer.apply(ins.length === 1 ? ins[0] : ins, node.callArgs ?? {}) as tf.SymbolicTensor | tf.SymbolicTensor[];
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((o, k) => rebuilt.set(o, outs[k]));
    if (!headLayers.includes(layer)) headLayers.push(layer);
    return rebuilt.get(t) as tf.SymbolicTensor;
  };
  const y = rebuild(output);
  return { headInput, y, headLayers };
}
