/**
 * A small in-memory ONNX graph: nodes, float/int64 initialisers, inputs and outputs, plus the two
 * passes the converter needs (BatchNormalization folded into the Conv/Gemm before it, dead nodes
 * removed) and serialisation to a ModelProto with onnx-proto.
 *
 * Weights stay as typed arrays until `encode()`, so folding can rewrite them in place.
 */
import { onnx } from 'onnx-proto';

/** Opset 13: Clip/Pad/Slice take their bounds as inputs, Softmax takes any single axis. ORT 1.x runs it everywhere. */
export const OPSET = 13;
/** IR version 7 is what opset 13 was released with; every ORT since 1.6 loads it. */
export const IR_VERSION = 7;

export type Attr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: number[] }
  | { floats: number[] };

export interface IrNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export type IrInit = { name: string; dims: number[]; data: Float32Array } | { name: string; dims: number[]; data: BigInt64Array };

/** A dimension: a size, or a symbolic name (the batch). */
export type Dim = number | string;

export interface IrValueInfo {
  name: string;
  dims: Dim[];
}

export class IrGraph {
  readonly nodes: IrNode[] = [];
  readonly inits = new Map<string, IrInit>();
  readonly inputs: IrValueInfo[] = [];
  readonly outputs: IrValueInfo[] = [];
  private readonly used = new Set<string>();

  constructor(readonly name: string) {}

  /** A name not used yet, built from `hint` (ONNX names are free text, but readable ones help in profiles). */
  fresh(hint: string): string {
    const base = hint.replace(/[^\w./:-]/g, '_') || 'v';
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  floats(hint: string, dims: number[], data: Float32Array): string {
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`ONNX initialiser ${hint}: ${data.length} values for shape [${dims.join(', ')}]`);
    const name = this.fresh(hint);
    this.inits.set(name, { name, dims, data });
    return name;
  }

  int64s(hint: string, values: readonly (number | bigint)[]): string {
    const name = this.fresh(hint);
    this.inits.set(name, { name, dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    return name;
  }

  scalar(hint: string, v: number): string {
    const name = this.fresh(hint);
    this.inits.set(name, { name, dims: [], data: Float32Array.of(v) });
    return name;
  }

  /** Adds a node and returns its output names. */
  node(op: string, inputs: string[], hint: string, attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? hint : `${hint}:${i}`));
    this.nodes.push({ op, name: this.fresh(`${hint}/${op}`), inputs, outputs: outs, attrs });
    return outs;
  }

  one(op: string, inputs: string[], hint: string, attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, hint, attrs, 1)[0];
  }

  addInput(hint: string, dims: Dim[]): string {
    const name = this.fresh(hint);
    this.inputs.push({ name, dims });
    return name;
  }

  /** Marks `value` as a graph output called `hint` (an Identity keeps names unique and inputs un-aliased). */
  addOutput(value: string, hint: string, dims: Dim[]): string {
    const name = this.fresh(hint);
    this.nodes.push({ op: 'Identity', name: this.fresh(`${hint}/Identity`), inputs: [value], outputs: [name], attrs: {} });
    this.outputs.push({ name, dims });
    return name;
  }

  consumers(): Map<string, number> {
    const n = new Map<string, number>();
    for (const node of this.nodes) for (const i of node.inputs) if (i) n.set(i, (n.get(i) ?? 0) + 1);
    for (const o of this.outputs) n.set(o.name, (n.get(o.name) ?? 0) + 1);
    return n;
  }
}

function floatInit(g: IrGraph, name: string): { name: string; dims: number[]; data: Float32Array } | undefined {
  const t = g.inits.get(name);
  return t && t.data instanceof Float32Array ? (t as { name: string; dims: number[]; data: Float32Array }) : undefined;
}

/**
 * Folds every inference BatchNormalization whose input comes straight from a Conv (or a Gemm with
 * transB = 0) that nothing else reads: W' = W·s, b' = (b − mean)·s + beta with s = gamma/√(var + ε),
 * per output channel. Arithmetic is done in float64 and rounded once. Returns how many were folded.
 */
export function foldBatchNorms(g: IrGraph): number {
  const producer = new Map<string, IrNode>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const uses = g.consumers();
  const initUses = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (g.inits.has(i)) initUses.set(i, (initUses.get(i) ?? 0) + 1);
  const removed = new Set<IrNode>();
  let folded = 0;
  for (const bn of g.nodes) {
    if (bn.op !== 'BatchNormalization') continue;
    const x = bn.inputs[0];
    const p = producer.get(x);
    if (!p || (p.op !== 'Conv' && p.op !== 'Gemm') || uses.get(x) !== 1) continue;
    if (p.op === 'Gemm' && (('transB' in p.attrs && (p.attrs.transB as { i: number }).i !== 0) || 'alpha' in p.attrs || 'beta' in p.attrs)) continue;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((n) => floatInit(g, n));
    const w = floatInit(g, p.inputs[1]);
    if (!gamma || !beta || !mean || !variance || !w || initUses.get(w.name) !== 1) continue;
    const bias = p.inputs[2] ? floatInit(g, p.inputs[2]) : undefined;
    if (p.inputs[2] && (!bias || initUses.get(bias.name) !== 1)) continue;
    const eps = 'epsilon' in bn.attrs ? (bn.attrs.epsilon as { f: number }).f : 1e-5;
    const channels = gamma.data.length;
    const outChannels = p.op === 'Conv' ? w.dims[0] : w.dims[1];
    if (outChannels !== channels) continue;
    const s = new Float64Array(channels);
    for (let c = 0; c < channels; c++) s[c] = gamma.data[c] / Math.sqrt(variance.data[c] + eps);
    if (p.op === 'Conv') {
      const per = w.data.length / channels;
      for (let c = 0; c < channels; c++) for (let k = 0; k < per; k++) w.data[c * per + k] = w.data[c * per + k] * s[c];
    } else {
      const k = w.dims[0];
      for (let r = 0; r < k; r++) for (let c = 0; c < channels; c++) w.data[r * channels + c] = w.data[r * channels + c] * s[c];
    }
    const b = new Float32Array(channels);
    for (let c = 0; c < channels; c++) b[c] = ((bias ? bias.data[c] : 0) - mean.data[c]) * s[c] + beta.data[c];
    if (bias) bias.data.set(b);
    else p.inputs[2] = g.floats(`${p.name}/folded_bias`, [channels], b);
    p.outputs[0] = bn.outputs[0];
    producer.set(bn.outputs[0], p);
    removed.add(bn);
    folded++;
  }
  if (removed.size) {
    const keep = g.nodes.filter((n) => !removed.has(n));
    g.nodes.length = 0;
    g.nodes.push(...keep);
  }
  pruneInitializers(g);
  return folded;
}

/** Drops nodes whose outputs nobody reads and initialisers no node reads (left behind by folding and cuts). */
export function prune(g: IrGraph): void {
  for (;;) {
    const uses = g.consumers();
    const keep = g.nodes.filter((n) => n.outputs.some((o) => (uses.get(o) ?? 0) > 0));
    if (keep.length === g.nodes.length) break;
    g.nodes.length = 0;
    g.nodes.push(...keep);
  }
  pruneInitializers(g);
}

function pruneInitializers(g: IrGraph): void {
  const read = new Set<string>();
  for (const n of g.nodes) for (const i of n.inputs) read.add(i);
  for (const name of [...g.inits.keys()]) if (!read.has(name)) g.inits.delete(name);
}

// --- serialisation

function attrProto(name: string, a: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('s' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  return { name, type: T.FLOATS, floats: a.floats };
}

function valueInfo(v: IrValueInfo): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian, as typed arrays are on every platform Node ships for.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The ModelProto of `g`; `metadata` goes into metadata_props (what Netron and onnx.load show as the model's properties). */
export function encodeModel(g: IrGraph, docString = '', metadata: Record<string, string> = {}): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'transfer-lab',
    producerVersion: '1',
    docString,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        opType: n.op,
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attrProto(k, v)),
      })),
      initializer: [...g.inits.values()].map((t) => ({
        name: t.name,
        dims: t.dims,
        dataType: t.data instanceof Float32Array ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64,
        rawData: bytesOf(t.data),
      })),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
