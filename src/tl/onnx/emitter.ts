/**
 * The emitter core shared by the layer handlers in layers/: converted values, layout changes and
 * the small helpers every family needs.
 *
 * Layout: TF.js is channels-last (NHWC); ONNX Runtime's CPU kernels are fastest channels-first. The
 * graph takes NHWC input like the TF.js model, transposes once to NCHW, and stays there. A tensor is
 * transposed back only where NHWC order is observable: Flatten (TF.js flattens H, W, C in that
 * order), Reshape, Dense on a 4-D tensor, and the graph outputs. Both directions are memoised, so a
 * tensor read by several layers is transposed once.
 */
import type * as tf from '@tensorflow/tfjs';
import type { IrGraph } from './ir';
import type { Layer, NodeLike } from '../util/graph';

export type { Layer, NodeLike };
export type ST = tf.SymbolicTensor;
export type Shape = (number | null)[];

/** A converted tensor: its ONNX name, its TF.js (logical, NHWC) shape, and its physical layout. */
export interface Val {
  name: string;
  shape: Shape;
  layout: 'nchw' | 'plain';
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Cfg = Record<string, any>;

/** What a handler's check sees: the layer's class, config and node, and the rank of its first input. */
export interface CheckArgs {
  cls: string;
  cfg: Cfg;
  node: NodeLike;
  rank: number;
}

/** What a handler's emit gets: the layer, its converted inputs (x is the first) and its output shape. */
export interface EmitArgs {
  em: Emitter;
  g: IrGraph;
  layer: Layer;
  cls: string;
  cfg: Cfg;
  name: string;
  ins: Val[];
  x: Val;
  outShape: Shape;
  /** The layer's single output value, named `n`, in `layout`. */
  out(n: string, layout: Val['layout']): Val[];
}

/**
 * How one layer class converts. `check` says why a call cannot be converted (undefined when it
 * can), before anything is emitted; `emit` adds the nodes and returns the output values, in the
 * order of the node's output tensors. `emit` may still throw on a config the check did not foresee;
 * the converter then cuts there.
 */
export interface LayerHandler {
  check?(a: CheckArgs): string | undefined;
  emit(a: EmitArgs): Val[];
}

/** A family of handlers, keyed by TF.js class name. */
export type HandlerTable = Record<string, LayerHandler>;

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

export function readWeights(layer: Layer): Float32Array[] {
  return layer.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
}

export function pair(v: number | number[] | undefined, dflt: number): [number, number] {
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

/** The check shared by the 2-D spatial layers (convolution, pooling, padding, resizing). */
export function needs4D({ rank }: CheckArgs): string | undefined {
  return rank !== 4 ? `a ${rank}-D input (expected 4-D)` : undefined;
}

/** Emits layout changes into one graph, memoised per tensor. */
export class Emitter {
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

  /** Brings several inputs to one layout: NCHW when all are 4-D and one already is, else as they are. */
  common(ins: Val[]): { names: string[]; layout: Val['layout'] } {
    const all4 = ins.every((v) => v.shape.length === 4);
    if (all4 && ins.some((v) => v.layout === 'nchw')) return { names: ins.map((v) => this.nchw(v)), layout: 'nchw' };
    return { names: ins.map((v) => this.plain(v)), layout: 'plain' };
  }

  /** Kernel, stride, dilation and padding attributes of a 2-D window over `x` (NHWC shape). */
  convPads(x: Val, padding: string, k: [number, number], s: [number, number], d: [number, number]) {
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
