/**
 * A plain float32 matrix product on wasm during a training step's forward pass, without XNNPACK.
 * XNNPACK packs its right operand into its own layout before a product and caches that per
 * tensor, which pays off for weights that stay. A weight matrix that trains is a new tensor after
 * every optimizer step, so under a gradient tape the packing is paid every step, and for a
 * Dense(128) layer on 1280 inputs at batch 32 it cost more than the product itself. Here the
 * product reads both operands in place (gemm.wat: blocks of 4 rows by 8 columns, four lanes at a
 * time; the rows and columns left over in JavaScript), summing each output over k in order in
 * float32. Outside a tape (inference, and backward passes) the native kernel and its cache stay.
 */
import * as tf from '@tensorflow/tfjs';
import { GEMM_WASM } from './gemmModule';
import { heapFunction } from './heapModule';
import type { TI, WasmBackendLike } from './scratch';

const f = Math.fround;

/** Whether a gradient tape is recording (tfjs's own test for fusing activations into products). */
function underTape(): boolean {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
}

/** C[i, j] for rows [r0, r1) and columns [c0, c1), each sum in order in float32. */
function scalarBlock(A: Float32Array, B: Float32Array, C: Float32Array, k: number, n: number, [r0, r1, c0, c1]: number[]): void {
  for (let i = r0; i < r1; i++) {
    for (let j = c0; j < c1; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc = f(acc + f(A[i * k + p] * B[p * n + j]));
      C[i * n + j] = acc;
    }
  }
}

/**
 * Rows up to which reading B in place beats packing it: packing is paid once per product, the
 * product's work grows with the rows. Measured here: 4× faster at 32 rows, even at 256 (with
 * 1280 × 1024 weights), 1.85× slower at 512 (2048 × 2048).
 */
const MAX_ROWS = 128;

/** a·b for 2-D float32 `a` [m, k] and `b` [k, n] on the heap; null when the shapes do not match, it has too few rows or columns for a block or too many rows to win, or the heap cannot be reached. */
export function heapMatMul(backend: unknown, a: TI, b: TI): TI | null {
  const [m, k] = a.shape;
  const n = b.shape[1];
  const m4 = m & ~3;
  const n8 = n & ~7;
  if (b.shape[0] !== k || m4 === 0 || m > MAX_ROWS || n8 === 0 || k === 0) return null;
  const gemm = heapFunction(backend, GEMM_WASM, 'gemm');
  if (!gemm) return null;
  const w = backend as WasmBackendLike;
  const out = w.makeOutput([m, n], 'float32');
  // Views taken after makeOutput: an allocation may have grown (and moved) the heap.
  const [A, B, C] = [a, b, out].map((t) => w.typedArrayFromHeap(t) as Float32Array);
  gemm(A.byteOffset, B.byteOffset, C.byteOffset, m, k, n);
  scalarBlock(A, B, C, k, n, [0, m4, n8, n]);
  scalarBlock(A, B, C, k, n, [m4, m, 0, n]);
  return out;
}

/** a·b under a gradient tape; null to leave it to the native kernel (outside a tape, or too small). */
export function tapedMatMul(backend: unknown, a: TI, b: TI): TI | null {
  return underTape() ? heapMatMul(backend, a, b) : null;
}
