/**
 * TF.js layers model → ONNX graph, in process.
 *
 * Layout: TF.js is channels-last (NHWC); ONNX Runtime's CPU kernels are fastest channels-first. The
 * graph takes NHWC input like the TF.js model, transposes once to NCHW, and stays there. A tensor is
 * transposed back only where NHWC order is observable: Flatten (TF.js flattens H, W, C in that
 * order), Reshape, Dense on a 4-D tensor, and the graph outputs. Both directions are memoised, so a
 * tensor read by several layers is transposed once.
 *
 * BatchNormalization is emitted as ONNX BatchNormalization (inference: moving statistics, as a
 * frozen Keras base runs) and then folded into the Conv or Dense before it (see ir.ts).
 *
 * Unsupported layers: the layer calls are put in dependency order (depth-first from the outputs) and
 * the first call that cannot be converted is the cut. Everything before it becomes the ONNX graph;
 * the cut layer and everything after it is rebuilt as a TF.js model from the original layer
 * objects (so it shares their weights, and stays trainable) that takes the ONNX outputs as inputs.
 * `onUnsupported: 'error'` refuses instead, naming the layer.
 */
import * as tf from '@tensorflow/tfjs';
import { IrGraph, encodeModel, foldBatchNorms, prune, type Attr, type Dim } from './ir';
import type { Layer, NodeLike } from '../util/graph';

type ST = tf.SymbolicTensor;
type Shape = (number | null)[];

/** A converted tensor: its ONNX name, its TF.js (logical, NHWC) shape, and its physical layout. */
interface Val {
  name: string;
  shape: Shape;
  layout: 'nchw' | 'plain';
}

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

// --- which layers convert

const IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
const ELEMENTWISE: Record<string, string> = { Add: 'Sum', Multiply: 'Mul', Average: 'Mean', Maximum: 'Max', Minimum: 'Min', Subtract: 'Sub' };
const ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'elu', 'selu', 'hardSigmoid', 'swish', 'mish']);
const SUPPORTED = new Set([
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'ThresholdedReLU',
  'Softmax',
  'Concatenate',
  'ZeroPadding2D',
  'Cropping2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'UpSampling2D',
  'Dense',
  'Flatten',
  'Reshape',
  'Rescaling',
  'InputLayer',
  ...IDENTITY,
  ...Object.keys(ELEMENTWISE),
]);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfg = Record<string, any>;

/** Why this call cannot be converted, or undefined when it can. */
function unsupportedReason(call: Call): string | undefined {
  const { layer, node } = call;
  const cls = layer.getClassName();
  if (!SUPPORTED.has(cls)) return `no ONNX converter for ${cls} layers`;
  const cfg = layer.getConfig() as Cfg;
  if (cfg.dataFormat && cfg.dataFormat !== 'channelsLast') return `dataFormat '${cfg.dataFormat}' (only channelsLast converts)`;
  if (cfg.activation !== undefined && typeof cfg.activation === 'string' && !ACTIVATIONS.has(cfg.activation)) return `activation '${cfg.activation}'`;
  if (cls === 'Activation' && !ACTIVATIONS.has(cfg.activation)) return `activation '${cfg.activation}'`;
  for (const t of [...node.inputTensors, ...node.outputTensors]) {
    if (t.dtype !== 'float32') return `${t.dtype} tensors (only float32 converts)`;
  }
  const rank = node.inputTensors[0]?.shape.length ?? 0;
  const spatial = ['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'ZeroPadding2D', 'Cropping2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'UpSampling2D'];
  if (spatial.includes(cls) && rank !== 4) return `a ${rank}-D input (expected 4-D)`;
  if (cls === 'BatchNormalization') {
    const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
    if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1)) return `normalisation over axis ${JSON.stringify(cfg.axis)} (only the channel axis converts)`;
  }
  if (cls === 'Softmax' && Array.isArray(cfg.axis) && cfg.axis.length !== 1) return `softmax over several axes`;
  if (cls === 'UpSampling2D' && cfg.interpolation !== 'nearest') return `'${cfg.interpolation}' interpolation (only 'nearest' converts exactly)`;
  if (cls === 'Concatenate' || cls in ELEMENTWISE) {
    const ranks = new Set(node.inputTensors.map((t) => t.shape.length));
    if (ranks.size !== 1) return `inputs of different ranks`;
    if (cls in ELEMENTWISE && node.inputTensors.some((t) => t.shape.slice(1).join() !== node.inputTensors[0].shape.slice(1).join())) return `inputs of different shapes (broadcasting)`;
  }
  return undefined;
}

// --- emitting ONNX

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

function readWeights(layer: Layer): Float32Array[] {
  return layer.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
}

function pair(v: number | number[] | undefined, dflt: number): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

/** TF's 'same' padding: the total is split with the extra pixel at the end (bottom/right). */
function samePads(size: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

class Emitter {
  private readonly toNchwMemo = new Map<string, string>();
  private readonly toPlainMemo = new Map<string, string>();

  constructor(readonly g: IrGraph) {}

  nchw(v: Val): string {
    if (v.layout === 'nchw') return v.name;
    if (v.shape.length !== 4) throw new Error(`internal: NCHW of a ${v.shape.length}-D tensor`);
    let n = this.toNchwMemo.get(v.name);
    if (!n) {
      n = this.g.one('Transpose', [v.name], `${v.name}/nchw`, { perm: { ints: NHWC_TO_NCHW } });
      this.toNchwMemo.set(v.name, n);
      this.toPlainMemo.set(n, v.name);
    }
    return n;
  }

  plain(v: Val): string {
    if (v.layout === 'plain') return v.name;
    let n = this.toPlainMemo.get(v.name);
    if (!n) {
      n = this.g.one('Transpose', [v.name], `${v.name}/nhwc`, { perm: { ints: NCHW_TO_NHWC } });
      this.toPlainMemo.set(v.name, n);
      this.toNchwMemo.set(n, v.name);
    }
    return n;
  }

  /** Physical axis of logical (NHWC) axis `a` of `v`. */
  axis(v: Val, a: number): number {
    const r = v.shape.length;
    const n = a < 0 ? r + a : a;
    return v.layout === 'nchw' ? [0, 2, 3, 1][n] : n;
  }

  activation(act: string, x: string, v: Omit<Val, 'name'>, hint: string): string {
    const g = this.g;
    switch (act) {
      case 'linear':
        return x;
      case 'relu':
        return g.one('Relu', [x], hint);
      case 'relu6':
        return g.one('Clip', [x, g.scalar(`${hint}/min`, 0), g.scalar(`${hint}/max`, 6)], hint);
      case 'sigmoid':
        return g.one('Sigmoid', [x], hint);
      case 'tanh':
        return g.one('Tanh', [x], hint);
      case 'softmax':
        return g.one('Softmax', [x], hint, { axis: { i: this.axis({ ...v, name: x }, -1) } });
      case 'softplus':
        return g.one('Softplus', [x], hint);
      case 'softsign':
        return g.one('Softsign', [x], hint);
      case 'elu':
        return g.one('Elu', [x], hint, { alpha: { f: 1 } });
      case 'selu':
        return g.one('Selu', [x], hint);
      case 'hardSigmoid':
        return g.one('HardSigmoid', [x], hint, { alpha: { f: 0.2 }, beta: { f: 0.5 } });
      case 'swish':
        return g.one('Mul', [x, g.one('Sigmoid', [x], `${hint}/sigmoid`)], hint);
      case 'mish':
        return g.one('Mul', [x, g.one('Tanh', [g.one('Softplus', [x], `${hint}/softplus`)], `${hint}/tanh`)], hint);
      default:
        throw new Error(`activation '${act}'`);
    }
  }

  /** Emits one layer call. Returns the output values, in the order of node.outputTensors. */
  layer(call: Call, ins: Val[]): Val[] {
    const { layer, node } = call;
    const g = this.g;
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Cfg;
    const name = layer.name;
    const outShape = node.outputTensors[0].shape as Shape;
    const x = ins[0];
    const out = (n: string, layout: Val['layout']): Val[] => [{ name: n, shape: outShape, layout }];

    if (IDENTITY.has(cls)) return [{ ...x, shape: outShape }];

    switch (cls) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        const w = readWeights(layer);
        const [kh, kw] = pair(cfg.kernelSize, 1);
        const strides = pair(cfg.strides, 1);
        const dil = pair(cfg.dilationRate, 1);
        const cin = x.shape[3] as number;
        const attrs = this.convPads(x, cfg.padding, [kh, kw], strides, dil);
        let y: string;
        if (cls === 'Conv2D') {
          const cout = cfg.filters as number;
          const W = new Float32Array(cout * cin * kh * kw);
          const K = w[0];
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++)
              for (let c = 0; c < cin; c++)
                for (let o = 0; o < cout; o++) W[((o * cin + c) * kh + i) * kw + j] = K[((i * kw + j) * cin + c) * cout + o];
          const inputs = [this.nchw(x), g.floats(`${name}/kernel`, [cout, cin, kh, kw], W)];
          if (cfg.useBias) inputs.push(g.floats(`${name}/bias`, [cout], w[1]));
          y = g.one('Conv', inputs, name, { ...attrs, group: { i: 1 } });
        } else {
          const K = w[0];
          const mult = K.length / (kh * kw * cin);
          // TF's depthwise output channel c·mult + m comes from input channel c: ONNX groups = cin.
          const W = new Float32Array(cin * mult * kh * kw);
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++)
              for (let c = 0; c < cin; c++)
                for (let m = 0; m < mult; m++) W[((c * mult + m) * kh + i) * kw + j] = K[((i * kw + j) * cin + c) * mult + m];
          const dwInputs = [this.nchw(x), g.floats(`${name}/depthwise_kernel`, [cin * mult, 1, kh, kw], W)];
          if (cls === 'DepthwiseConv2D') {
            if (cfg.useBias) dwInputs.push(g.floats(`${name}/bias`, [cin * mult], w[1]));
            y = g.one('Conv', dwInputs, name, { ...attrs, group: { i: cin } });
          } else {
            const dw = g.one('Conv', dwInputs, `${name}/depthwise`, { ...attrs, group: { i: cin } });
            const P = w[1];
            const cout = cfg.filters as number;
            const cmid = cin * mult;
            const PW = new Float32Array(cout * cmid);
            for (let c = 0; c < cmid; c++) for (let o = 0; o < cout; o++) PW[o * cmid + c] = P[c * cout + o];
            const pwInputs = [dw, g.floats(`${name}/pointwise_kernel`, [cout, cmid, 1, 1], PW)];
            if (cfg.useBias) pwInputs.push(g.floats(`${name}/bias`, [cout], w[2]));
            y = g.one('Conv', pwInputs, name, { kernel_shape: { ints: [1, 1] }, group: { i: 1 } });
          }
        }
        const shapeOut = { shape: outShape, layout: 'nchw' as const };
        return out(this.activation(cfg.activation ?? 'linear', y, shapeOut, `${name}/${cfg.activation}`), 'nchw');
      }
      case 'Dense': {
        const w = readWeights(layer);
        const units = cfg.units as number;
        const k = w[0].length / units;
        let y: string;
        if (x.shape.length === 2) {
          const inputs = [x.name, g.floats(`${name}/kernel`, [k, units], w[0])];
          if (cfg.useBias) inputs.push(g.floats(`${name}/bias`, [units], w[1]));
          y = g.one('Gemm', inputs, name);
        } else {
          y = g.one('MatMul', [this.plain(x), g.floats(`${name}/kernel`, [k, units], w[0])], `${name}/matmul`);
          if (cfg.useBias) y = g.one('Add', [y, g.floats(`${name}/bias`, [units], w[1])], name);
        }
        return out(this.activation(cfg.activation ?? 'linear', y, { shape: outShape, layout: 'plain' }, `${name}/${cfg.activation}`), 'plain');
      }
      case 'BatchNormalization': {
        const w = readWeights(layer);
        let i = 0;
        const channels = x.shape[x.shape.length - 1] as number;
        const gamma = cfg.scale === false ? new Float32Array(channels).fill(1) : w[i++];
        const beta = cfg.center === false ? new Float32Array(channels) : w[i++];
        const mean = w[i++];
        const variance = w[i++];
        const eps = cfg.epsilon ?? 1e-3;
        if (x.shape.length === 4 || x.shape.length === 2) {
          const input = x.shape.length === 4 ? this.nchw(x) : x.name;
          const y = g.one(
            'BatchNormalization',
            [input, g.floats(`${name}/gamma`, [channels], gamma), g.floats(`${name}/beta`, [channels], beta), g.floats(`${name}/moving_mean`, [channels], mean), g.floats(`${name}/moving_variance`, [channels], variance)],
            name,
            { epsilon: { f: eps } },
          );
          return out(y, x.shape.length === 4 ? 'nchw' : 'plain');
        }
        // Other ranks: a per-channel affine map on the last axis, broadcast.
        const s = new Float32Array(channels);
        const b = new Float32Array(channels);
        for (let c = 0; c < channels; c++) {
          s[c] = gamma[c] / Math.sqrt(variance[c] + eps);
          b[c] = beta[c] - mean[c] * s[c];
        }
        const scaled = g.one('Mul', [this.plain(x), g.floats(`${name}/scale`, [channels], s)], `${name}/mul`);
        return out(g.one('Add', [scaled, g.floats(`${name}/shift`, [channels], b)], name), 'plain');
      }
      case 'Activation':
        return out(this.activation(cfg.activation, x.name, x, name), x.layout);
      case 'ReLU': {
        const y = cfg.maxValue === null || cfg.maxValue === undefined ? g.one('Relu', [x.name], name) : g.one('Clip', [x.name, g.scalar(`${name}/min`, 0), g.scalar(`${name}/max`, cfg.maxValue)], name);
        return out(y, x.layout);
      }
      case 'LeakyReLU':
        return out(g.one('LeakyRelu', [x.name], name, { alpha: { f: cfg.alpha ?? 0.3 } }), x.layout);
      case 'ELU':
        return out(g.one('Elu', [x.name], name, { alpha: { f: cfg.alpha ?? 1 } }), x.layout);
      case 'ThresholdedReLU':
        return out(g.one('ThresholdedRelu', [x.name], name, { alpha: { f: cfg.theta ?? 1 } }), x.layout);
      case 'Softmax': {
        const a = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis ?? -1;
        return out(g.one('Softmax', [x.name], name, { axis: { i: this.axis(x, a) } }), x.layout);
      }
      case 'Concatenate': {
        const { names, layout } = this.common(ins);
        const probe: Val = { ...x, layout };
        return out(g.one('Concat', names, name, { axis: { i: this.axis(probe, cfg.axis ?? -1) } }), layout);
      }
      case 'Add':
      case 'Multiply':
      case 'Average':
      case 'Maximum':
      case 'Minimum':
      case 'Subtract': {
        const { names, layout } = this.common(ins);
        const op = ELEMENTWISE[cls];
        if (op === 'Mul' || op === 'Sub') {
          let y = names[0];
          for (let k = 1; k < names.length; k++) y = g.one(op, [y, names[k]], k === names.length - 1 ? name : `${name}/${k}`);
          return out(y, layout);
        }
        return out(names.length === 1 ? names[0] : g.one(op, names, name), layout);
      }
      case 'ZeroPadding2D': {
        const [[t, b], [l, r]] = cfg.padding as [[number, number], [number, number]];
        const pads = g.int64s(`${name}/pads`, [0, 0, t, l, 0, 0, b, r]);
        return out(g.one('Pad', [this.nchw(x), pads], name, { mode: { s: 'constant' } }), 'nchw');
      }
      case 'Cropping2D': {
        const [[t, b], [l, r]] = cfg.cropping as [[number, number], [number, number]];
        const BIG = 2n ** 62n;
        const starts = g.int64s(`${name}/starts`, [t, l]);
        const ends = g.int64s(`${name}/ends`, [b > 0 ? -b : BIG, r > 0 ? -r : BIG]);
        const axes = g.int64s(`${name}/axes`, [2, 3]);
        return out(g.one('Slice', [this.nchw(x), starts, ends, axes], name), 'nchw');
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const k = pair(cfg.poolSize, 2);
        const s = pair(cfg.strides ?? cfg.poolSize, 2);
        const attrs = this.convPads(x, cfg.padding, k, s, [1, 1]);
        // TF averages over the window's pixels inside the image only: count_include_pad = 0.
        const extra: Record<string, Attr> = cls === 'AveragePooling2D' ? { count_include_pad: { i: 0 } } : {};
        delete (attrs as Record<string, unknown>).dilations;
        return out(g.one(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [this.nchw(x)], name, { ...attrs, ...extra }), 'nchw');
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const pooled = g.one(cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [this.nchw(x)], `${name}/pool`);
        return out(g.one('Flatten', [pooled], name, { axis: { i: 1 } }), 'plain');
      }
      case 'UpSampling2D': {
        const [sh, sw] = pair(cfg.size, 2);
        const scales = g.floats(`${name}/scales`, [4], Float32Array.of(1, 1, sh, sw));
        return out(
          g.one('Resize', [this.nchw(x), '', scales], name, {
            mode: { s: 'nearest' },
            coordinate_transformation_mode: { s: 'asymmetric' },
            nearest_mode: { s: 'floor' },
          }),
          'nchw',
        );
      }
      case 'Flatten':
        if (x.shape.length === 2) return [{ ...x, shape: outShape }];
        return out(g.one('Flatten', [this.plain(x)], name, { axis: { i: 1 } }), 'plain');
      case 'Reshape': {
        const target = (cfg.targetShape as (number | null)[]).map((d) => (d === null ? -1 : d));
        return out(g.one('Reshape', [this.plain(x), g.int64s(`${name}/shape`, [0, ...target])], name), 'plain');
      }
      case 'Rescaling': {
        const scaled = g.one('Mul', [x.name, g.scalar(`${name}/scale`, cfg.scale)], `${name}/mul`);
        return out(g.one('Add', [scaled, g.scalar(`${name}/offset`, cfg.offset ?? 0)], name), x.layout);
      }
    }
    throw new UnsupportedLayerError(name, cls, `no ONNX converter for ${cls} layers`);
  }

  /** Brings several inputs to one layout: NCHW when all are 4-D and one already is, else as they are. */
  private common(ins: Val[]): { names: string[]; layout: Val['layout'] } {
    const all4 = ins.every((v) => v.shape.length === 4);
    if (all4 && ins.some((v) => v.layout === 'nchw')) return { names: ins.map((v) => this.nchw(v)), layout: 'nchw' };
    return { names: ins.map((v) => this.plain(v)), layout: 'plain' };
  }

  private convPads(x: Val, padding: string, k: [number, number], s: [number, number], d: [number, number]) {
    const attrs: Record<string, { ints: number[] } | { s: string }> = {
      kernel_shape: { ints: k },
      strides: { ints: s },
      dilations: { ints: d },
    };
    if (padding === 'same') {
      const [h, w] = [x.shape[1], x.shape[2]];
      if (typeof h === 'number' && typeof w === 'number') {
        const [t, b] = samePads(h, k[0], s[0], d[0]);
        const [l, r] = samePads(w, k[1], s[1], d[1]);
        attrs.pads = { ints: [t, l, b, r] };
      } else {
        // Unknown image size: ORT's SAME_UPPER puts the odd pixel at the end, as TF does.
        attrs.auto_pad = { s: 'SAME_UPPER' };
      }
    } else if (padding !== 'valid') {
      throw new Error(`padding '${padding}'`);
    }
    return attrs;
  }
}

function emitCall(em: Emitter, call: Call, vals: Map<string, Val>): void {
  const ins = call.ins.map((k) => {
    const v = vals.get(k);
    if (!v) throw new Error(`internal: an input of '${call.layer.name}' was not converted`);
    return v;
  });
  let outs: Val[];
  try {
    outs = em.layer(call, ins);
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

function build(model: tf.LayersModel, flat: ReturnType<typeof flatCalls>, cut: number, stop: OnnxConversion['stop']): OnnxConversion {
  const { calls, inputKey, outputKeys, shapes } = flat;
  const input = model.inputs[0];
  const prefix = calls.slice(0, cut);
  const rest = calls.slice(cut);
  const producedByPrefix = new Set<string>([inputKey]);
  for (const c of prefix) for (const k of c.outs) producedByPrefix.add(k);

  // The tensors the TF.js tail reads from the ONNX part, in first-use order (model outputs last).
  const boundary: string[] = [];
  const addBoundary = (k: string) => {
    if (producedByPrefix.has(k) && !boundary.includes(k)) boundary.push(k);
  };
  for (const c of rest) for (const k of c.ins) addBoundary(k);
  for (const k of outputKeys) addBoundary(k);
  const onnxOutputs = rest.length ? boundary : outputKeys;
  const shapeOf = (k: string) => (shapes.get(k) as ST).shape as Shape;
  const inputSpec: ValueSpec = { name: 'input', shape: input.shape as Shape };

  let onnxBytes: Uint8Array | undefined;
  let outputs: ValueSpec[] = [];
  let folded = 0;
  let nodes = 0;
  const onnxIsUseful = prefix.length > 0 && onnxOutputs.some((k) => k !== inputKey);
  if (onnxIsUseful) {
    const g = new IrGraph(model.name);
    const em = new Emitter(g);
    const vals = new Map<string, Val>();
    const inName = g.addInput('input', dims(input.shape as Shape, 'input'));
    inputSpec.name = inName;
    vals.set(inputKey, { name: inName, shape: input.shape as Shape, layout: 'plain' });
    for (const c of prefix) emitCall(em, c, vals);
    outputs = onnxOutputs.map((k, i) => {
      const v = vals.get(k) as Val;
      const name = g.addOutput(em.plain(v), rest.length ? `boundary_${i}` : `output_${i}`, dims(shapeOf(k), `output_${i}`));
      return { name, shape: shapeOf(k) };
    });
    folded = foldBatchNorms(g);
    prune(g);
    nodes = g.nodes.length;
    onnxBytes = encodeModel(g, `Converted by Transfer Lab from the TF.js model '${model.name}'.`);
  }

  let tail: tf.LayersModel | undefined;
  const tailLayers: string[] = [];
  if (rest.length || !onnxIsUseful) {
    const tailCalls = onnxIsUseful ? rest : calls;
    const starts = onnxIsUseful ? boundary : [inputKey];
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
    tail = tf.model({ inputs: tailInputs, outputs: outputKeys.map((k) => mapped.get(k) as ST), name: `${model.name}_tfjs_tail` });
  }

  const onnxLayers = onnxIsUseful ? unique(prefix.map((c) => c.layer.name)) : [];
  return {
    onnx: onnxBytes,
    input: inputSpec,
    outputs,
    onnxLayers,
    tail,
    tailLayers,
    stop,
    foldedBatchNorms: folded,
    onnxNodes: nodes,
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
