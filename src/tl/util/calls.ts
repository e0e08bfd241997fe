/**
 * A layers model as a flat list of layer calls, and parts of it rebuilt as models of their own. The
 * ONNX converter cuts a model into an ONNX part and a TF.js tail this way; Grad-CAM cuts it at the
 * last spatial layer to take gradients there.
 */
import * as tf from '@tensorflow/tfjs';
import type { Layer, NodeLike } from './graph';

type ST = tf.SymbolicTensor;
type Shape = (number | null)[];

/**
 * One application of a layer to inputs (Keras' "node"), with nested models flattened away. Tensors
 * are named by keys, not ids: a nested model called twice has the same inner tensors twice, so a
 * key is the tensor id within a scope (one scope per call of a nested model).
 */
export interface Call {
  layer: Layer;
  node: NodeLike;
  ins: string[];
  outs: string[];
}

function inboundNode(t: ST): NodeLike {
  const layer = t.sourceLayer as Layer;
  const node = (layer as unknown as { inboundNodes: NodeLike[] }).inboundNodes[t.nodeIndex];
  if (!node) throw new Error(`tensor ${t.name} has no inbound node`);
  return node;
}

function isContainer(layer: Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/**
 * Layer calls needed for `outputs`, each after the calls it reads from, with the calls of nested
 * models inlined. Keys of `outputs` are returned too (a nested model's output is keyed by the inner
 * tensor that computes it).
 */
export function flatCalls(model: tf.LayersModel): { calls: Call[]; inputKey: string; outputKeys: string[]; shapes: Map<string, ST> } {
  const calls: Call[] = [];
  const shapes = new Map<string, ST>();
  let scopes = 0;
  const walk = (outputs: ST[], inputs: ST[], inputKeys: string[], scope: string): string[] => {
    const given = new Map<number, string>(inputs.map((t, i) => [t.id, inputKeys[i]]));
    const done = new Map<number, string>();
    const seen = new Set<NodeLike>();
    const visit = (t: ST): string => {
      const g = given.get(t.id) ?? done.get(t.id);
      if (g !== undefined) return g;
      const node = inboundNode(t);
      if (seen.has(node)) throw new Error(`internal: cycle at ${t.name}`);
      seen.add(node);
      const ins = node.inputTensors.map(visit);
      const layer = t.sourceLayer as Layer;
      let outs: string[];
      if (isContainer(layer)) {
        outs = walk(layer.outputs, layer.inputs, ins, `${scope}${++scopes}/`);
      } else {
        outs = node.outputTensors.map((o) => `${scope}${o.id}`);
        node.outputTensors.forEach((o, i) => shapes.set(outs[i], o));
        calls.push({ layer, node, ins, outs });
      }
      node.outputTensors.forEach((o, i) => done.set(o.id, outs[i]));
      return done.get(t.id) as string;
    };
    return outputs.map(visit);
  };
  const inputKey = `${model.inputs[0].id}`;
  shapes.set(inputKey, model.inputs[0]);
  const outputKeys = walk(model.outputs, model.inputs, [inputKey], '');
  return { calls, inputKey, outputKeys, shapes };
}

export type Flat = ReturnType<typeof flatCalls>;

/** The tensors that `rest` (and the model's outputs) read from what `prefix` computes, in first-use order (model outputs last). */
export function boundaryOf(flat: Flat, prefix: Call[], rest: Call[]): string[] {
  const producedByPrefix = new Set<string>([flat.inputKey]);
  for (const c of prefix) for (const k of c.outs) producedByPrefix.add(k);
  const boundary: string[] = [];
  const addBoundary = (k: string) => {
    if (producedByPrefix.has(k) && !boundary.includes(k)) boundary.push(k);
  };
  for (const c of rest) for (const k of c.ins) addBoundary(k);
  for (const k of flat.outputKeys) addBoundary(k);
  return boundary;
}

/**
 * The `calls` as a new TF.js model that shares the original layers (training it trains them): its
 * inputs stand for the `starts` tensors, its outputs are the `outputs` tensors.
 */
export function rebuild(flat: Flat, calls: Call[], starts: string[], outputs: string[], name: string, inputPrefix = `${name}_in`): tf.LayersModel {
  const mapped = new Map<string, ST>();
  const inputs = starts.map((k, i) => {
    const t = flat.shapes.get(k) as ST;
    const p = tf.input({ shape: (t.shape as Shape).slice(1), name: `${inputPrefix}_${i}`, dtype: t.dtype });
    mapped.set(k, p);
    return p;
  });
  for (const c of calls) {
    const args = c.ins.map((k) => mapped.get(k) as ST);
    const res = c.layer.apply(args.length === 1 ? args[0] : args) as ST | ST[];
    const outs = Array.isArray(res) ? res : [res];
    c.outs.forEach((k, i) => mapped.set(k, outs[i]));
  }
  return tf.model({ inputs, outputs: outputs.map((k) => mapped.get(k) as ST), name });
}
