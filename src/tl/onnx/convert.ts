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
import { Emitter, type Cfg, type Layer, type Shape, type ST, type Val } from './emitter';
import { IrGraph, encodeModel, foldBatchNorms, prune, type Dim } from './ir';
import { ACTIVATIONS, LAYER_HANDLERS } from './layers';
import { boundaryOf, flatCalls, rebuild, type Call, type Flat } from '../util/calls';

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
  /** Written into the ONNX file's metadata_props (a whole-model export's classes and preprocessing). */
  metadata?: Record<string, string>;
  /** The ONNX model's doc string (default: where it was converted from). */
  docString?: string;
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
      return build(model, flat, cut, stop, opts);
    } catch (e) {
      if (!(e instanceof UnsupportedLayerError)) throw e;
      const at = calls.findIndex((c) => c.layer.name === e.layer);
      if (at < 0 || at >= cut) throw e;
      cut = at;
      stop = { layer: e.layer, className: e.className, reason: e.reason, kind: 'unsupported' };
    }
  }
}

interface OnnxPart {
  bytes: Uint8Array;
  inputName: string;
  outputs: ValueSpec[];
  folded: number;
  nodes: number;
}

/** The ONNX graph of the `prefix` calls, with `onnxOutputs` as its outputs (boundary names when a tail follows). */
function emitOnnx(model: tf.LayersModel, flat: Flat, prefix: Call[], onnxOutputs: string[], hasTail: boolean, opts: ConvertOptions): OnnxPart {
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
  const bytes = encodeModel(g, opts.docString ?? `Converted by Transfer Lab from the TF.js model '${model.name}'.`, opts.metadata);
  return { bytes, inputName, outputs, folded, nodes: g.nodes.length };
}

function build(model: tf.LayersModel, flat: Flat, cut: number, stop: OnnxConversion['stop'], opts: ConvertOptions): OnnxConversion {
  const { calls, inputKey, outputKeys } = flat;
  const prefix = calls.slice(0, cut);
  const rest = calls.slice(cut);
  const boundary = boundaryOf(flat, prefix, rest);
  const onnxOutputs = rest.length ? boundary : outputKeys;
  const onnxIsUseful = prefix.length > 0 && onnxOutputs.some((k) => k !== inputKey);
  const part = onnxIsUseful ? emitOnnx(model, flat, prefix, onnxOutputs, rest.length > 0, opts) : undefined;
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

/** The `tailCalls` as a TF.js model (sharing the original layers) whose inputs are the `starts` tensors. */
function buildTail(model: tf.LayersModel, flat: Flat, tailCalls: Call[], starts: string[]): { tail: tf.LayersModel; tailLayers: string[] } {
  const tail = rebuild(flat, tailCalls, starts, flat.outputKeys, `${model.name}_tfjs_tail`, `${model.name}_from_onnx`);
  return { tail, tailLayers: unique(tailCalls.map((c) => c.layer.name)) };
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
