/**
 * Gradient kernels that tfjs-backend-wasm 4.22 does not ship, so that conv nets can train on WASM.
 *
 * Without them, fitting any Conv2D / DepthwiseConv2D model on 'wasm' throws
 * "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'". The simple way to supply them
 * (cpuDelegatingKernel) copies the inputs out of the WASM heap, runs the cpu backend's own kernel
 * and copies the result back. That keeps the maths identical to the cpu backend but is very slow:
 * the cpu Conv2DBackpropFilter walks the tensors element by element (49 of 51 s of a MobileNetV2
 * fine-tune step at 96 px).
 *
 * So the three conv backprops are rebuilt from kernels the wasm backend does have (XNNPACK or its
 * C++ kernels): slices, transposes, matrix products, a depthwise convolution. Cases they do not
 * handle (NCHW, dilation > 1, a depthwise pad wider than its kernel) still go to the cpu kernels.
 * UnsortedSegmentSum (an Embedding layer's gradient) stays on the cpu kernel: it is cheap there.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Kernels the wasm backend lacks that training needs. Found by diffing
 * tf.getKernelsForBackend('cpu') against 'wasm' and fitting conv, depthwise, separable, BN and
 * embedding models on wasm: the conv/depthwise backprops are hit by every conv net, and
 * UnsortedSegmentSum is the gradient of Gather (an Embedding layer's lookup).
 */
export const WASM_MISSING_GRADIENT_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

/** The parts of the wasm backend we touch (its class is not exported in a typed way from tfjs). */
interface WasmBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

interface CpuBackendLike {
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  readSync(dataId: object): tf.backend_util.BackendValues;
  disposeData(dataId: object, force?: boolean): boolean;
  firstUse?: boolean;
}

let cpuBackend: CpuBackendLike | undefined;

function getCpuBackend(): CpuBackendLike {
  if (cpuBackend) return cpuBackend;
  const b = tf.findBackend('cpu') as unknown as CpuBackendLike | null;
  if (!b) throw new Error('registerWasmGradients: the tfjs cpu backend is not available to run the missing WASM kernels.');
  // The cpu backend prints "looks like you are running TensorFlow.js in Node.js…" on its first
  // write; here it only borrows the cpu kernels for a wasm run, so that advice would mislead.
  b.firstUse = false;
  cpuBackend = b;
  return b;
}

/**
 * The cpu-delegating kernel for `kernelName` on wasm. Exported so that tests and benchmarks can
 * measure it against the fast path; registerWasmGradients() uses it only as a fallback.
 */
export function cpuDelegatingKernel(kernelName: string): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendLike;
      const cpu = getCpuBackend();
      const cpuKernel = tf.getKernel(kernelName, 'cpu');
      if (!cpuKernel) throw new Error(`registerWasmGradients: the cpu backend has no '${kernelName}' kernel to delegate to.`);
      const written: object[] = [];
      const cpuInputs: tf.NamedTensorInfoMap = {};
      try {
        for (const [name, info] of Object.entries(inputs)) {
          if (!info) continue;
          const dataId = cpu.write(wasm.readSync(info.dataId), info.shape, info.dtype);
          written.push(dataId);
          cpuInputs[name] = { dataId, shape: info.shape, dtype: info.dtype };
        }
        const result = cpuKernel.kernelFunc({
          inputs: cpuInputs,
          backend: cpu as unknown as tf.KernelBackend,
          attrs,
        });
        const outs = Array.isArray(result) ? result : [result];
        const wasmOuts = outs.map((o) => {
          const values = cpu.readSync(o.dataId);
          cpu.disposeData(o.dataId, true);
          const out = wasm.makeOutput(o.shape, o.dtype);
          // Zero-size outputs have no heap view to fill.
          if (tf.util.sizeFromShape(o.shape) > 0) wasm.typedArrayFromHeap(out).set(values as tf.backend_util.TypedArray);
          return out;
        });
        return Array.isArray(result) ? wasmOuts : wasmOuts[0];
      } finally {
        for (const id of written) cpu.disposeData(id, true);
      }
    },
  };
}

// --- Fast paths built from the wasm backend's own kernels.

type TI = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface WasmScratchBackend extends WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * Runs wasm kernels directly (not through tf ops, which would re-enter the engine from inside a
 * kernel and record the temporaries as tensors) and frees every intermediate it made. Reshape
 * shares its input's data and bumps a reference count, so freeing by dataId is right for it too.
 */
class Scratch {
  private readonly temps: TI[] = [];
  constructor(readonly backend: KernelArgs['backend']) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: Record<string, unknown> = {}): TI {
    const kernel = tf.getKernel(kernelName, 'wasm');
    if (!kernel) throw new Error(`registerWasmGradients: the wasm backend has no '${kernelName}' kernel.`);
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap }) as TI;
    this.temps.push(out);
    return out;
  }

  reshape(x: TI, shape: number[]): TI {
    return this.run('Reshape', { x }, { shape });
  }

  /**
   * Strided slice along axes 2 and 3 of a 4-D tensor ([·, ·, H, W]): `rows`×`cols` positions from
   * (r0, c0) in steps of (sh, sw). Returns x itself when that is all of it.
   */
  taps(x: TI, r0: number, c0: number, rows: number, cols: number, sh: number, sw: number): TI {
    const [a, b, h, w] = x.shape;
    if (r0 === 0 && c0 === 0 && rows === h && cols === w && (sh === 1 || h === 1) && (sw === 1 || w === 1)) return x;
    return this.run('StridedSlice', { x }, {
      begin: [0, 0, r0, c0],
      end: [a, b, r0 + (rows - 1) * sh + 1, c0 + (cols - 1) * sw + 1],
      strides: [1, 1, sh, sw],
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0,
    });
  }

  /** Takes `t` out of the scratch list: it is the kernel's result. */
  keep(t: TI): TI {
    const i = this.temps.indexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  free(): void {
    const b = this.backend as unknown as WasmScratchBackend;
    for (const t of this.temps.splice(0)) b.disposeData(t.dataId);
  }
}

function pair(v: number | [number, number] | undefined): [number, number] {
  if (v === undefined) return [1, 1];
  return typeof v === 'number' ? [v, v] : v;
}

/** Zero-pads x (NHWC) on the spatial axes; padding amounts below 0 are not asked of it. */
function padSpatial(s: Scratch, x: TI, top: number, bottom: number, left: number, right: number): TI {
  if (!top && !bottom && !left && !right) return x;
  return s.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 });
}

/**
 * dW[i, j, ci, co] = Σ over batch and output positions of x_padded[b, oh·s + i, ow·s + j, ci] · dy[b, oh, ow, co]:
 * per kernel tap, one strided slice of the padded input and one [ci × rows]·[rows × co] product.
 * The input is transposed once to [ci, batch, H, W] so each slice is already the left factor:
 * wasm's BatchMatMul is 3–10× slower with transposeA than without, and with dy as the (same)
 * right factor every tap reuses XNNPACK's packed copy of it. (im2col would do it in one product
 * but needs kh·kw copies of the input at once.)
 */
function conv2dBackpropFilter(args: KernelArgs): TI | null {
  const { x, dy } = args.inputs as { x: TI; dy: TI };
  const attrs = (args.attrs ?? {}) as unknown as { strides: number | [number, number]; pad: Pad; dataFormat?: string; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const [kh, kw, ci, co] = attrs.filterShape;
  const { top, left } = info.padInfo;
  if (top < 0 || left < 0) return null;
  const b = args.backend as unknown as WasmScratchBackend;
  const s = new Scratch(args.backend);
  try {
    const { out, rows, xt } = filterGradStart(b, s, x, info, [kh, kw, ci, co]);
    if (!xt) return out;
    const dy2 = s.reshape(dy, [rows, co]);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const patch = s.reshape(s.taps(xt, i, j, info.outHeight, info.outWidth, info.strideHeight, info.strideWidth), [ci, rows]);
        const g = s.run('BatchMatMul', { a: patch, b: dy2 }, { transposeA: false, transposeB: false });
        // Views are taken afresh each time: a malloc in the kernels above may have grown the heap.
        b.typedArrayFromHeap(out).set(b.typedArrayFromHeap(g), (i * kw + j) * ci * co);
      }
    }
    return out;
  } finally {
    s.free();
  }
}

/**
 * The common start of both filter gradients: the output, the number of (batch × output pixel)
 * rows, and the padded input transposed channels-first ([ci, B, Hp, Wp]). With nothing to
 * compute, the output is zero-filled and `xt` is undefined.
 */
function filterGradStart(
  b: WasmScratchBackend,
  s: Scratch,
  x: TI,
  info: ReturnType<typeof tf.backend_util.computeConv2DInfo>,
  shape: [number, number, number, number],
): { out: TI; rows: number; xt?: TI } {
  const out = b.makeOutput(shape, 'float32');
  const rows = x.shape[0] * info.outHeight * info.outWidth;
  if (rows === 0 || tf.util.sizeFromShape(out.shape) === 0) {
    if (tf.util.sizeFromShape(out.shape) > 0) b.typedArrayFromHeap(out).fill(0);
    return { out, rows };
  }
  const { top, bottom, left, right } = info.padInfo;
  const xp = padSpatial(s, x, top, Math.max(0, bottom), left, Math.max(0, right));
  return { out, rows, xt: s.run('Transpose', { x: xp }, { perm: [3, 0, 1, 2] }) };
}

interface DepthwiseAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Per kernel tap: a strided slice of the padded input times dy, summed over batch and space. */
function depthwiseBackpropFilter(args: KernelArgs): TI | null {
  const { x, dy } = args.inputs as { x: TI; dy: TI };
  const attrs = (args.attrs ?? {}) as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
  const [dh, dw] = pair(attrs.dilations);
  if (dh !== 1 || dw !== 1 || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, true);
  const [kh, kw, ci, mult] = attrs.filterShape;
  const { top, left } = info.padInfo;
  if (top < 0 || left < 0) return null;
  const b = args.backend as unknown as WasmScratchBackend;
  const s = new Scratch(args.backend);
  try {
    // Channels first, so that the sum over batch and space is over the innermost axis (wasm's Sum
    // would otherwise transpose every product). dy's channel c·mult + m pairs with input channel c.
    const { out, rows, xt } = filterGradStart(b, s, x, info, [kh, kw, ci, mult]);
    if (!xt) return out;
    const dyt = s.reshape(s.run('Transpose', { x: dy }, { perm: [3, 0, 1, 2] }), [ci, mult, rows]);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const patch = s.reshape(s.taps(xt, i, j, info.outHeight, info.outWidth, info.strideHeight, info.strideWidth), [ci, 1, rows]);
        const prod = s.run('Multiply', { a: patch, b: dyt });
        const g = s.run('Sum', { x: prod }, { axis: [2], keepDims: false });
        b.typedArrayFromHeap(out).set(b.typedArrayFromHeap(g), (i * kw + j) * ci * mult);
      }
    }
    return out;
  } finally {
    s.free();
  }
}

/**
 * dx is the full correlation of dy (zeros inserted between its rows and columns for a stride > 1)
 * with the filter rotated by 180°: a stride-1 depthwise convolution, which XNNPACK runs. With a
 * channel multiplier m, dy's C·m channels each get their own rotated filter slice and every m of
 * them are then summed into their input channel.
 */
function depthwiseBackpropInput(args: KernelArgs): TI | null {
  const { dy, filter } = args.inputs as { dy: TI; filter: TI };
  const attrs = (args.attrs ?? {}) as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
  const [dh, dw] = pair(attrs.dilations);
  if (dh !== 1 || dw !== 1 || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const [B, H, W, C] = attrs.inputShape;
  const [kh, kw, , mult] = filter.shape;
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, true);
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  // Padding of the (dilated) dy so that a stride-1 'valid' kh×kw correlation yields H×W.
  const pt = kh - 1 - info.padInfo.top;
  const pl = kw - 1 - info.padInfo.left;
  if (pt < 0 || pl < 0) return null;
  const b = args.backend as unknown as WasmScratchBackend;
  if (B * H * W * C === 0 || dy.shape.some((d) => d === 0)) {
    const out = b.makeOutput([B, H, W, C], 'float32');
    if (B * H * W * C > 0) b.typedArrayFromHeap(out).fill(0);
    return out;
  }
  const s = new Scratch(args.backend);
  try {
    const cm = C * mult;
    let d = dy;
    // Zero insertion as pads of a unit axis, rows then columns, so each step stays 4-D.
    if (sh > 1) {
      d = s.run('PadV2', { x: s.reshape(d, [B, oh, 1, ow * cm]) }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0]], constantValue: 0 });
      d = s.reshape(d, [B, oh * sh, ow, cm]);
    }
    if (sw > 1) {
      d = s.run('PadV2', { x: s.reshape(d, [B * d.shape[1], ow, 1, cm]) }, { paddings: [[0, 0], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
      d = s.reshape(d, [B, oh * sh, ow * sw, cm]);
    }
    // Rows/cols of d now in use: oh·sh (the last sh − 1 of them zeros). Needed: H + kh − 1 in all.
    let pb = H + kh - 1 - pt - d.shape[1];
    let pr = W + kw - 1 - pl - d.shape[2];
    if (pb < 0 || pr < 0) {
      d = s.run('Slice', { x: d }, { begin: [0, 0, 0, 0], size: [B, d.shape[1] + Math.min(0, pb), d.shape[2] + Math.min(0, pr), cm] });
      pb = Math.max(0, pb);
      pr = Math.max(0, pr);
    }
    const rotated = s.run('Reverse', { x: s.reshape(filter, [kh, kw, cm, 1]) }, { dims: [0, 1] });
    const dx = s.run('DepthwiseConv2dNative', { x: d, filter: rotated }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
    });
    if (mult === 1) return s.keep(dx);
    return s.keep(s.run('Sum', { x: s.reshape(dx, [B, H, W, C, mult]) }, { axis: [4], keepDims: false }));
  } finally {
    s.free();
  }
}

const FAST: Record<string, (args: KernelArgs) => TI | null> = {
  Conv2DBackpropFilter: conv2dBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
};

/** The fast wasm kernel for `kernelName`, falling back to the cpu kernel where it returns null; undefined when there is none. */
export function fastWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  const fast = FAST[kernelName];
  if (!fast) return undefined;
  const fallback = cpuDelegatingKernel(kernelName);
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (args) => fast(args) ?? fallback.kernelFunc(args),
  };
}

/**
 * Registers the missing WASM gradient kernels; returns the names it added. Safe to call any number of
 * times, before or after the wasm backend starts. (The kernel process's WASM set-up — .wasm paths,
 * single thread — lives in src/runtime/nodeHost.ts, which takes this function as its callback.)
 */
export function registerWasmGradients(): string[] {
  const added: string[] = [];
  for (const name of WASM_MISSING_GRADIENT_KERNELS) {
    if (tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel(fastWasmKernel(name) ?? cpuDelegatingKernel(name));
    added.push(name);
  }
  return added;
}
