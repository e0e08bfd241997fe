/**
 * Running wasm kernels from inside another wasm kernel: the shared helpers of the gradient kernels
 * in this folder (see ../wasm-grads.ts for why they exist).
 */
import * as tf from '@tensorflow/tfjs';

export type TI = tf.TensorInfo;
export type KernelArgs = Parameters<tf.KernelFunc>[0];
export type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
export type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The parts of the wasm backend we touch (its class is not exported in a typed way from tfjs). */
export interface WasmBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * Runs wasm kernels directly (not through tf ops, which would re-enter the engine from inside a
 * kernel and record the temporaries as tensors) and frees every intermediate it made. Reshape
 * shares its input's data and bumps a reference count, so freeing by dataId is right for it too.
 */
export class Scratch {
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

  /** Puts `t`, made elsewhere, on the scratch list. */
  own(t: TI): TI {
    this.temps.push(t);
    return t;
  }

  /** A new float32 output of `shape`, freed with the rest unless kept. */
  alloc(shape: number[]): TI {
    const out = (this.backend as unknown as WasmBackendLike).makeOutput(shape, 'float32');
    this.temps.push(out);
    return out;
  }

  /** `t`'s float32 data on the heap; take it again after any allocation (the heap may move). */
  view(t: TI): Float32Array {
    return (this.backend as unknown as WasmBackendLike).typedArrayFromHeap(t) as Float32Array;
  }

  /** Takes `t` out of the scratch list: it is the kernel's result. */
  keep(t: TI): TI {
    const i = this.temps.indexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  free(): void {
    const b = this.backend as unknown as WasmBackendLike;
    for (const t of this.temps.splice(0)) b.disposeData(t.dataId);
  }
}

export function pair(v: number | [number, number] | undefined): [number, number] {
  if (v === undefined) return [1, 1];
  return typeof v === 'number' ? [v, v] : v;
}

/** Zero-pads x (NHWC) on the spatial axes; padding amounts below 0 are not asked of it. */
export function padSpatial(s: Scratch, x: TI, top: number, bottom: number, left: number, right: number): TI {
  if (!top && !bottom && !left && !right) return x;
  return s.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 });
}

/** A zero-filled output of `shape` (for the cases with nothing to compute). */
export function zeros(args: KernelArgs, shape: number[]): TI {
  const b = args.backend as unknown as WasmBackendLike;
  const out = b.makeOutput(shape, 'float32');
  if (tf.util.sizeFromShape(shape) > 0) b.typedArrayFromHeap(out).fill(0);
  return out;
}
