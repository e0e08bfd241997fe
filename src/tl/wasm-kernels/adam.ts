/**
 * One Adam step for one variable on wasm, as a single pass over the heap. tfjs's AdamOptimizer
 * spends 13 kernels per variable (and a scalar tensor for each constant): 56 of the 171 kernels of
 * a step of a Dense(128) → Dense(10) head on cached embeddings, about a third of its time, most of it
 * per-kernel overhead and passes over memory; its Sqrt alone is a scalar loop. Here the step is
 * one SIMD loop (adam.wat) over the heap. Every operation is float32 in tfjs's order, so the
 * result is the one tfjs's kernels give, bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_WASM } from './adamModule';
import { heapFunction, type HeapFunction } from './heapModule';
import type { KernelArgs, TI, WasmBackendLike } from './scratch';

export const ADAM_KERNEL = 'TransferLabAdamUpdate';

export interface AdamAttrs {
  beta1: number;
  beta2: number;
  learningRate: number;
  epsilon: number;
}

const f = Math.fround;

function simdAdam(backend: unknown): HeapFunction | null {
  return heapFunction(backend, ADAM_WASM, 'adam');
}

/** The same arithmetic for elements [from, n) in JS, each operation rounded to float32. */
function scalarAdam(h: Float32Array[], from: number, k: number[]): void {
  const [xi, mi, vi, gi, xo, mo, vo] = h;
  const [b1, b2, c1, c2, d1, d2, eps, step] = k;
  for (let i = from; i < xo.length; i++) {
    const gr = gi[i];
    const m1 = f(f(mi[i] * b1) + f(gr * c1));
    const v1 = f(f(vi[i] * b2) + f(f(gr * gr) * c2));
    const den = f(f(Math.sqrt(f(v1 / d2))) + eps);
    mo[i] = m1;
    vo[i] = v1;
    xo[i] = f(f(f(f(m1 / d1) / den) * step) + xi[i]);
  }
}

/** [x, m, v] after one step, from x, m, v, the gradient g and the accumulated powers of beta (scalars). */
function adamUpdate(args: KernelArgs): TI[] {
  const { x, m, v, g, accBeta1, accBeta2 } = args.inputs as Record<string, TI>;
  const a = args.attrs as unknown as AdamAttrs;
  const b = args.backend as unknown as WasmBackendLike;
  const simd = simdAdam(b);
  if (!simd) throw new Error(`${ADAM_KERNEL}: the wasm backend's heap cannot be reached from the Adam module.`);
  const outs = [b.makeOutput(x.shape, 'float32'), b.makeOutput(x.shape, 'float32'), b.makeOutput(x.shape, 'float32')];
  // Views taken after makeOutput: an allocation may have grown (and moved) the heap.
  const h = [x, m, v, g, ...outs].map((t) => b.typedArrayFromHeap(t) as Float32Array);
  const d1 = f(1 - b.typedArrayFromHeap(accBeta1)[0]);
  const d2 = f(1 - b.typedArrayFromHeap(accBeta2)[0]);
  const k = [f(a.beta1), f(a.beta2), f(1 - a.beta1), f(1 - a.beta2), d1, d2, f(a.epsilon), f(-a.learningRate)];
  const n4 = h[0].length & ~3;
  if (n4 > 0) simd(...h.map((t) => t.byteOffset), n4, ...k);
  scalarAdam(h, n4, k);
  return outs;
}

/** Whether the fused step can run on this backend (the wasm one, with its heap reachable). */
export function adamKernelUsable(backend: unknown): boolean {
  return simdAdam(backend) !== null;
}

/** Registers the kernel for wasm; true when it did (the first time). */
export function registerAdamKernel(): boolean {
  if (tf.getKernel(ADAM_KERNEL, 'wasm')) return false;
  tf.registerKernel({ kernelName: ADAM_KERNEL, backendName: 'wasm', kernelFunc: adamUpdate as unknown as tf.KernelFunc });
  return true;
}
