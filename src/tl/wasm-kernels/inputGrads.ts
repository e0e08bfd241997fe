/**
 * Input gradients of convolutions on wasm, as forward convolutions that XNNPACK runs: dx is the full
 * correlation of dy (zeros inserted between its rows and columns for a stride > 1) with the filter
 * rotated by 180°. A 1×1, stride-1 convolution's dx is one matrix product.
 */
import * as tf from '@tensorflow/tfjs';
import { pair, Scratch, zeros, type ConvInfo, type KernelArgs, type Pad, type TI } from './scratch';

export interface ConvAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: Pad;
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/**
 * dy [B, oh, ow, C] dilated by the strides and cut or padded so that a stride-1 kh×kw correlation
 * with explicit `pad` yields the input's H×W; null when the forward padding was wider than the kernel.
 */
function dilatedDy(s: Scratch, dy: TI, info: ConvInfo, kh: number, kw: number): { d: TI; pad: [[0, 0], [number, number], [number, number], [0, 0]] } | null {
  const { batchSize: B, inHeight: H, inWidth: W, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const pt = kh - 1 - info.padInfo.top;
  const pl = kw - 1 - info.padInfo.left;
  if (pt < 0 || pl < 0) return null;
  const c = dy.shape[3];
  let d = dy;
  // Zero insertion as pads of a unit axis, rows then columns, so each step stays 4-D.
  if (sh > 1) {
    d = s.run('PadV2', { x: s.reshape(d, [B, oh, 1, ow * c]) }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0]], constantValue: 0 });
    d = s.reshape(d, [B, oh * sh, ow, c]);
  }
  if (sw > 1) {
    d = s.run('PadV2', { x: s.reshape(d, [B * d.shape[1], ow, 1, c]) }, { paddings: [[0, 0], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
    d = s.reshape(d, [B, oh * sh, ow * sw, c]);
  }
  // Rows/cols of d now in use: oh·sh (the last sh − 1 of them zeros). Needed: H + kh − 1 in all.
  let pb = H + kh - 1 - pt - d.shape[1];
  let pr = W + kw - 1 - pl - d.shape[2];
  if (pb < 0 || pr < 0) {
    d = s.run('Slice', { x: d }, { begin: [0, 0, 0, 0], size: [B, d.shape[1] + Math.min(0, pb), d.shape[2] + Math.min(0, pr), c] });
    pb = Math.max(0, pb);
    pr = Math.max(0, pr);
  }
  return { d, pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]] };
}

const empty = (shape: number[]) => shape.some((n) => n === 0);

/**
 * With a channel multiplier m, dy's C·m channels each get their own rotated filter slice and every
 * m of them are then summed into their input channel.
 */
export function depthwiseBackpropInput(args: KernelArgs): TI | null {
  const { dy, filter } = args.inputs as { dy: TI; filter: TI };
  const attrs = (args.attrs ?? {}) as unknown as ConvAttrs;
  const [dh, dw] = pair(attrs.dilations);
  if (dh !== 1 || dw !== 1 || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const [B, H, W, C] = attrs.inputShape;
  const [kh, kw, , mult] = filter.shape;
  if (empty(attrs.inputShape) || empty(dy.shape)) return zeros(args, attrs.inputShape);
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, true);
  const s = new Scratch(args.backend);
  try {
    const dil = dilatedDy(s, dy, info, kh, kw);
    if (!dil) return null;
    const rotated = s.run('Reverse', { x: s.reshape(filter, [kh, kw, C * mult, 1]) }, { dims: [0, 1] });
    const dx = s.run('DepthwiseConv2dNative', { x: dil.d, filter: rotated }, { strides: [1, 1], dilations: [1, 1], pad: dil.pad });
    if (mult === 1) return s.keep(dx);
    return s.keep(s.run('Sum', { x: s.reshape(dx, [B, H, W, C, mult]) }, { axis: [4], keepDims: false }));
  } finally {
    s.free();
  }
}

/**
 * dx for Conv2D (NHWC). 1×1 at stride 1: dy [rows, co] times the filter transposed ([co, ci]).
 * Otherwise a stride-1 Conv2D of the dilated dy with the filter rotated by 180° and its channel
 * axes swapped ([kh, kw, co, ci]).
 */
export function conv2dBackpropInput(args: KernelArgs): TI | null {
  const { dy, filter } = args.inputs as { dy: TI; filter: TI };
  const attrs = (args.attrs ?? {}) as unknown as ConvAttrs;
  const [dh, dw] = pair(attrs.dilations);
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || dh !== 1 || dw !== 1 || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const [B, H, W, ci] = attrs.inputShape;
  const [kh, kw, , co] = filter.shape;
  if (empty(attrs.inputShape) || empty(dy.shape)) return zeros(args, attrs.inputShape);
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const s = new Scratch(args.backend);
  try {
    const swapped = s.run('Transpose', { x: filter }, { perm: [0, 1, 3, 2] });
    if (kh === 1 && kw === 1 && info.strideHeight === 1 && info.strideWidth === 1 && info.outHeight === H && info.outWidth === W) {
      const dx = s.run('BatchMatMul', { a: s.reshape(dy, [1, B * H * W, co]), b: s.reshape(swapped, [1, co, ci]) }, { transposeA: false, transposeB: false });
      return s.keep(s.reshape(dx, [B, H, W, ci]));
    }
    const dil = dilatedDy(s, dy, info, kh, kw);
    if (!dil) return null;
    const rotated = s.run('Reverse', { x: swapped }, { dims: [0, 1] });
    return s.keep(s.run('Conv2D', { x: dil.d, filter: rotated }, { strides: [1, 1], dilations: [1, 1], pad: dil.pad, dataFormat: 'NHWC' }));
  } finally {
    s.free();
  }
}
