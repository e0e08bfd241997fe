/**
 * TF.js layers model → ONNX graph, in process. Each layer class converts with its handler from
 * layers/ (see emitter.ts for the NCHW layout the graph keeps).
 *
 * Unsupported layers: the layer calls are put in dependency order (depth-first from the outputs) and
 * the first call that cannot be converted is the cut. Everything before it becomes the ONNX graph;
 * the cut layer and everything after it is rebuilt as a TF.js model from the original layer
 * objects (so it shares their weights, and stays trainable) that takes the ONNX outputs as inputs.
 * `onUnsupported: 'error'` refuses instead, naming the layer.
 */
import * as tf from '@tensorflow/tfjs';
import { Emitter, type Cfg, type Layer, type NodeLike, type Shape, type ST, type Val } from './emitter';
import { IrGraph, encodeModel, foldBatchNorms, prune, type Dim } from './ir';
import { ACTIVATIONS, LAYER_HANDLERS } from './layers';

export class UnsupportedLayerError extends Error {
  constructor(
    readonly layer: string,
    readonly className: string,
    readonly reason: string,
  ) {
    super(`Cannot convert layer '${layer}' (${className}) to ONNX: ${reason}.`);
    this.name = 'UnsupportedLayerError';
  }
}

export interface ConvertOptions {
  /**
   * 'fallback' (default): convert the layers before the first unsupported one, and run that layer
   * and the rest in TF.js. 'error': throw UnsupportedLayerError naming the layer.
   */
  onUnsupported?: 'fallback' | 'error';
  /**
   * Stop before the first layer with trainable weights: the ONNX graph is the frozen part only, and
   * the trainable part stays in TF.js (it shares the original layers, so training it trains the model).
   */
  frozenOnly?: boolean;
  /** Stop before the layer with this name (it and everything after it stay in TF.js). */
  stopBefore?: string;
}

export interface ValueSpec {
  name: string;
  /** TF.js shape, batch first (null where unknown). Data is NHWC, as in TF.js. */
  shape: Shape;
}

export interface OnnxConversion {
  /** The ONNX ModelProto, or undefined when not even the first layer converts. */
  onnx?: Uint8Array;
  /** ONNX input (the model's input, NHWC float32). */
  input: ValueSpec;
  /** ONNX outputs: the model's outputs, or the tensors the TF.js tail starts from. */
  outputs: ValueSpec[];
  /** Layers inside the ONNX graph, in order. */
  onnxLayers: string[];
  /** The rest of the model in TF.js, fed with the ONNX outputs in order (undefined when all converted). */
  tail?: tf.LayersModel;
  /** Layers in the tail, in order. */
  tailLayers: string[];
  /** Why the graph stops early: the first layer that could not be converted, or the requested stop. */
  stop?: { layer: string; className: string; reason: string; kind: 'unsupported' | 'trainable' | 'requested' };
  foldedBatchNorms: number;
  onnxNodes: number;
  /**
   * Layers with trainable weights that were copied into the ONNX graph. The graph holds a snapshot:
   * training the TF.js model later does not change it.
   */
  trainableSnapshot: string[];
}

/**
 * One application of a layer to inputs (Keras' "node"), with nested models flattened away. Tensors
 * are named by keys, not ids: a nested model called twice has the same inner tensors twice, so a
 * key is the tensor id within a scope (one scope per call of a nested model).
 */
interface Call {
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
function flatCalls(model: tf.LayersModel): { calls: Call[]; inputKey: string; outputKeys: string[]; shapes: Map<string, ST> } {
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

// --- which layers convert: the handler table's keys, with the checks every layer shares

/** Why this call cannot be converted, or undefined when it can. */
function unsupportedReason(call: Call): string | undefined {
  const { layer, node } = call;
  const cls = layer.getClassName();
  const handler = LAYER_HANDLERS[cls];
  if (!handler) return `no ONNX converter for ${cls} layers`;
  const cfg = layer.getConfig() as Cfg;
  if (cfg.dataFormat && cfg.dataFormat !== 'channelsLast') return `dataFormat '${cfg.dataFormat}' (only channelsLast converts)`;
  if (cfg.activation !== undefined && typeof cfg.activation === 'string' && !ACTIVATIONS.has(cfg.activation)) return `activation '${cfg.activation}'`;
  for (const t of [...node.inputTensors, ...node.outputTensors]) {
    if (t.dtype !== 'float32') return `${t.dtype} tensors (only float32 converts)`;
  }
  const rank = node.inputTensors[0]?.shape.length ?? 0;
  return handler.check?.({ cls, cfg, node, rank });
}

// --- emitting ONNX

/** Emits one layer call with its class's handler. Returns the output values, in the order of node.outputTensors. */
function emitLayer(em: Emitter, call: Call, ins: Val[]): Val[] {
  const { layer, node } = call;
  const cls = layer.getClassName();
  const handler = LAYER_HANDLERS[cls];
  if (!handler) throw new UnsupportedLayerError(layer.name, cls, `no ONNX converter for ${cls} layers`);
  const outShape = node.outputTensors[0].shape as Shape;
  const out = (n: string, layout: Val['layout']): Val[] => [{ name: n, shape: outShape, layout }];
  return handler.emit({ em, g: em.g, layer, cls, cfg: layer.getConfig() as Cfg, name: layer.name, ins, x: ins[0], outShape, out });
}

function emitCall(em: Emitter, call: Call, vals: Map<string, Val>): void {
  const ins = call.ins.map((k) => {
    const v = vals.get(k);
    if (!v) throw new Error(`internal: an input of '${call.layer.name}' was not converted`);
    return v;
  });
  let outs: Val[];
  try {
    outs = emitLayer(em, call, ins);
  } catch (e) {
    if (e instanceof UnsupportedLayerError) throw e;
    throw new UnsupportedLayerError(call.layer.name, call.layer.getClassName(), (e as Error).message);
  }
  call.outs.forEach((k, i) => vals.set(k, outs[i] ?? outs[0]));
}

function dims(shape: Shape, prefix: string): Dim[] {
  return shape.map((d, i) => (d === null ? (i === 0 ? 'N' : `${prefix}_${i}`) : d));
}

function hasTrainableWeights(layer: Layer): boolean {
  return layer.trainable && layer.trainableWeights.length > 0;
}

/**
 * Converts a TF.js layers model (single input) to ONNX. See the file comment for the cut rules.
 * The ONNX input is the model's input; its outputs are the model's outputs when everything
 * converted, else the tensors `tail` takes.
 */
export function convertToOnnx(model: tf.LayersModel, opts: ConvertOptions = {}): OnnxConversion {
  if (!(model instanceof tf.LayersModel)) throw new Error('convertToOnnx needs a TF.js layers model (tf.LayersModel).');
  if (model.inputs.length !== 1) throw new Error(`convertToOnnx: the model has ${model.inputs.length} inputs; only single-input models convert.`);
  const input = model.inputs[0];
  if (input.dtype !== 'float32') throw new Error(`convertToOnnx: the model's input is ${input.dtype}; only float32 inputs convert.`);
  const flat = flatCalls(model);
  const { calls } = flat;
  if (opts.stopBefore !== undefined && !calls.some((c) => c.layer.name === opts.stopBefore)) {
    throw new Error(`convertToOnnx: no layer named '${opts.stopBefore}' on the path to the output.`);
  }

  let cut = calls.length;
  let stop: OnnxConversion['stop'];
  for (let i = 0; i < calls.length && !stop; i++) {
    const { layer } = calls[i];
    if (opts.stopBefore !== undefined && layer.name === opts.stopBefore) {
      stop = { layer: layer.name, className: layer.getClassName(), reason: 'asked to stop before it', kind: 'requested' };
    } else if (opts.frozenOnly && hasTrainableWeights(layer)) {
      stop = { layer: layer.name, className: layer.getClassName(), reason: 'first layer with trainable weights', kind: 'trainable' };
    } else {
      const reason = unsupportedReason(calls[i]);
      if (reason) stop = { layer: layer.name, className: layer.getClassName(), reason, kind: 'unsupported' };
    }
    if (stop) cut = i;
  }

  // Building can still find a problem the checks did not (an odd config); move the cut there and retry.
  for (;;) {
    if (stop?.kind === 'unsupported' && opts.onUnsupported === 'error') throw new UnsupportedLayerError(stop.layer, stop.className, stop.reason);
    try {
      return build(model, flat, cut, stop);
    } catch (e) {
      if (!(e instanceof UnsupportedLayerError)) throw e;
      const at = calls.findIndex((c) => c.layer.name === e.layer);
      if (at < 0 || at >= cut) throw e;
      cut = at;
      stop = { layer: e.layer, className: e.className, reason: e.reason, kind: 'unsupported' };
    }
  }
}

type Flat = ReturnType<typeof flatCalls>;

/** The tensors the TF.js tail reads from the ONNX part, in first-use order (model outputs last). */
function boundaryOf(flat: Flat, prefix: Call[], rest: Call[]): string[] {
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

interface OnnxPart {
  bytes: Uint8Array;
  inputName: string;
  outputs: ValueSpec[];
  folded: number;
  nodes: number;
}

/** The ONNX graph of the `prefix` calls, with `onnxOutputs` as its outputs (boundary names when a tail follows). */
function emitOnnx(model: tf.LayersModel, flat: Flat, prefix: Call[], onnxOutputs: string[], hasTail: boolean): OnnxPart {
  const input = model.inputs[0];
  const shapeOf = (k: string) => (flat.shapes.get(k) as ST).shape as Shape;
  const g = new IrGraph(model.name);
  const em = new Emitter(g);
  const vals = new Map<string, Val>();
  const inputName = g.addInput('input', dims(input.shape as Shape, 'input'));
  vals.set(flat.inputKey, { name: inputName, shape: input.shape as Shape, layout: 'plain' });
  for (const c of prefix) emitCall(em, c, vals);
  const outputs = onnxOutputs.map((k, i) => {
    const v = vals.get(k) as Val;
    const name = g.addOutput(em.plain(v), hasTail ? `boundary_${i}` : `output_${i}`, dims(shapeOf(k), `output_${i}`));
    return { name, shape: shapeOf(k) };
  });
  const folded = foldBatchNorms(g);
  prune(g);
  const bytes = encodeModel(g, `Converted by Transfer Lab from the TF.js model '${model.name}'.`);
  return { bytes, inputName, outputs, folded, nodes: g.nodes.length };
}

/** The `tailCalls` rebuilt as a TF.js model (sharing the original layers) whose inputs are the `starts` tensors. */
function buildTail(model: tf.LayersModel, flat: Flat, tailCalls: Call[], starts: string[]): { tail: tf.LayersModel; tailLayers: string[] } {
  const { shapes, outputKeys } = flat;
  const tailLayers: string[] = [];
  const mapped = new Map<string, ST>();
  const tailInputs = starts.map((k, i) => {
    const t = shapes.get(k) as ST;
    const p = tf.input({ shape: (t.shape as Shape).slice(1), name: `${model.name}_from_onnx_${i}`, dtype: t.dtype });
    mapped.set(k, p);
    return p;
  });
  for (const c of tailCalls) {
    const args = c.ins.map((k) => mapped.get(k) as ST);
    const res = c.layer.apply(args.length === 1 ? args[0] : args) as ST | ST[];
    const outs = Array.isArray(res) ? res : [res];
    c.outs.forEach((k, i) => mapped.set(k, outs[i]));
    if (!tailLayers.includes(c.layer.name)) tailLayers.push(c.layer.name);
  }
  const tail = tf.model({ inputs: tailInputs, outputs: outputKeys.map((k) => mapped.get(k) as ST), name: `${model.name}_tfjs_tail` });
  return { tail, tailLayers };
}

function build(model: tf.LayersModel, flat: Flat, cut: number, stop: OnnxConversion['stop']): OnnxConversion {
  const { calls, inputKey, outputKeys } = flat;
  const prefix = calls.slice(0, cut);
  const rest = calls.slice(cut);
  const boundary = boundaryOf(flat, prefix, rest);
  const onnxOutputs = rest.length ? boundary : outputKeys;
  const onnxIsUseful = prefix.length > 0 && onnxOutputs.some((k) => k !== inputKey);
  const part = onnxIsUseful ? emitOnnx(model, flat, prefix, onnxOutputs, rest.length > 0) : undefined;
  const tailPart = rest.length || !onnxIsUseful ? buildTail(model, flat, onnxIsUseful ? rest : calls, onnxIsUseful ? boundary : [inputKey]) : undefined;
  return {
    onnx: part?.bytes,
    input: { name: part?.inputName ?? 'input', shape: model.inputs[0].shape as Shape },
    outputs: part?.outputs ?? [],
    onnxLayers: onnxIsUseful ? unique(prefix.map((c) => c.layer.name)) : [],
    tail: tailPart?.tail,
    tailLayers: tailPart?.tailLayers ?? [],
    stop,
    foldedBatchNorms: part?.folded ?? 0,
    onnxNodes: part?.nodes ?? 0,
    trainableSnapshot: onnxIsUseful ? unique(prefix.filter((c) => hasTrainableWeights(c.layer)).map((c) => c.layer.name)) : [],
  };
}

function unique(a: string[]): string[] {
  return [...new Set(a)];
}

/** One line per fact, for reports and errors. */
export function describeConversion(c: OnnxConversion): string {
  const lines: string[] = [];
  if (!c.onnx) {
    lines.push(`Nothing converted to ONNX${c.stop ? `: the first layer, '${c.stop.layer}' (${c.stop.className}), ${c.stop.kind === 'unsupported' ? `cannot be converted (${c.stop.reason})` : c.stop.reason}` : ''}; the whole model runs in TF.js.`);
    return lines.join('\n');
  }
  lines.push(`ONNX: ${c.onnxLayers.length} layers → ${c.onnxNodes} nodes (${c.foldedBatchNorms} BatchNormalization folded into convolutions).`);
  if (c.tail && c.stop) {
    const why = c.stop.kind === 'unsupported' ? `cannot be converted: ${c.stop.reason}` : c.stop.reason;
    lines.push(`TF.js: ${c.tailLayers.length} layers from '${c.stop.layer}' (${c.stop.className}; ${why}) onwards.`);
  }
  if (c.trainableSnapshot.length) lines.push(`Note: ${c.trainableSnapshot.length} trainable layers were copied as they are now; training the TF.js model later does not change the ONNX copy.`);
  return lines.join('\n');
}
