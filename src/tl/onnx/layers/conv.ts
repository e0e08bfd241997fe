/** Convolutions: Conv2D, DepthwiseConv2D and SeparableConv2D, TF's HWIO kernels reordered to ONNX's OIHW. */
import type { IrGraph } from '../ir';
import { needs4D, pair, readWeights, type EmitArgs, type HandlerTable } from '../emitter';
import { emitActivation } from './activation';

type Attrs = ReturnType<EmitArgs['em']['convPads']>;

/** Conv2D: kernel [kh, kw, cin, cout] → [cout, cin, kh, kw]. */
function conv(a: EmitArgs, w: Float32Array[], attrs: Attrs, kh: number, kw: number): string {
  const { em, g, cfg, x, name } = a;
  const cin = x.shape[3] as number;
  const cout = cfg.filters as number;
  const W = new Float32Array(cout * cin * kh * kw);
  const K = w[0];
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < cout; o++) W[((o * cin + c) * kh + i) * kw + j] = K[((i * kw + j) * cin + c) * cout + o];
  const inputs = [em.nchw(x), g.floats(`${name}/kernel`, [cout, cin, kh, kw], W)];
  if (cfg.useBias) inputs.push(g.floats(`${name}/bias`, [cout], w[1]));
  return g.one('Conv', inputs, name, { ...attrs, group: { i: 1 } });
}

/** The depthwise kernel [kh, kw, cin, mult] as ONNX [cin·mult, 1, kh, kw] with its multiplier. */
function depthwiseKernel(K: Float32Array, kh: number, kw: number, cin: number): { W: Float32Array; mult: number } {
  const mult = K.length / (kh * kw * cin);
  // TF's depthwise output channel c·mult + m comes from input channel c: ONNX groups = cin.
  const W = new Float32Array(cin * mult * kh * kw);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let m = 0; m < mult; m++) W[((c * mult + m) * kh + i) * kw + j] = K[((i * kw + j) * cin + c) * mult + m];
  return { W, mult };
}

/** The pointwise 1×1 convolution of a SeparableConv2D: kernel [1, 1, cmid, cout] → [cout, cmid, 1, 1]. */
function pointwise(g: IrGraph, name: string, dw: string, P: Float32Array, cmid: number, cout: number, bias: Float32Array | undefined): string {
  const PW = new Float32Array(cout * cmid);
  for (let c = 0; c < cmid; c++) for (let o = 0; o < cout; o++) PW[o * cmid + c] = P[c * cout + o];
  const pwInputs = [dw, g.floats(`${name}/pointwise_kernel`, [cout, cmid, 1, 1], PW)];
  if (bias) pwInputs.push(g.floats(`${name}/bias`, [cout], bias));
  return g.one('Conv', pwInputs, name, { kernel_shape: { ints: [1, 1] }, group: { i: 1 } });
}

/** DepthwiseConv2D, or the depthwise then pointwise halves of a SeparableConv2D. */
function depthwise(a: EmitArgs, w: Float32Array[], attrs: Attrs, kh: number, kw: number): string {
  const { em, g, cls, cfg, x, name } = a;
  const cin = x.shape[3] as number;
  const { W, mult } = depthwiseKernel(w[0], kh, kw, cin);
  const dwInputs = [em.nchw(x), g.floats(`${name}/depthwise_kernel`, [cin * mult, 1, kh, kw], W)];
  if (cls === 'DepthwiseConv2D') {
    if (cfg.useBias) dwInputs.push(g.floats(`${name}/bias`, [cin * mult], w[1]));
    return g.one('Conv', dwInputs, name, { ...attrs, group: { i: cin } });
  }
  const dw = g.one('Conv', dwInputs, `${name}/depthwise`, { ...attrs, group: { i: cin } });
  return pointwise(g, name, dw, w[1], cin * mult, cfg.filters as number, cfg.useBias ? w[2] : undefined);
}

function emitConv(a: EmitArgs) {
  const { em, layer, cls, cfg, x, name, outShape, out } = a;
  const w = readWeights(layer);
  const [kh, kw] = pair(cfg.kernelSize, 1);
  const attrs = em.convPads(x, cfg.padding, [kh, kw], pair(cfg.strides, 1), pair(cfg.dilationRate, 1));
  const y = cls === 'Conv2D' ? conv(a, w, attrs, kh, kw) : depthwise(a, w, attrs, kh, kw);
  const shapeOut = { shape: outShape, layout: 'nchw' as const };
  return out(emitActivation(em, cfg.activation ?? 'linear', y, shapeOut, `${name}/${cfg.activation}`), 'nchw');
}

export const convLayers: HandlerTable = {
  Conv2D: { check: needs4D, emit: emitConv },
  DepthwiseConv2D: { check: needs4D, emit: emitConv },
  SeparableConv2D: { check: needs4D, emit: emitConv },
};
