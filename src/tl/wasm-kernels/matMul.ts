/**
 * BatchMatMul on wasm with a transposed operand. tfjs-backend-wasm 4.22 sends every product with
 * transposeA or transposeB to a plain C++ loop (4 ms for a Dense(128) layer's dW on 1280 inputs at
 * batch 32); only untransposed 2-D products reach XNNPACK. A Dense layer's backward pass is made of
 * exactly those: dW = xᵀ·dy (transposeA) and dx = dy·Wᵀ (transposeB). Here the product is written
 * untransposed, with wasm's Transpose kernel, in whichever of two equivalent forms moves fewer
 * numbers: XNNPACK repacks its right operand on every call (its cache is keyed by tensor, and a
 * trained weight is a new tensor after every step), and Transpose costs about as much per element.
 * The values are the same product, summed in another order. Untransposed products under a
 * gradient tape (a training step's forward pass) skip XNNPACK altogether: gemm.ts.
 */
import type { KernelArgs, TI } from './scratch';
import { Scratch } from './scratch';
import { tapedMatMul } from './gemm';

function batchRows(t: TI): number {
  return t.shape.slice(0, -2).reduce((p, q) => p * q, 1);
}

function t2(s: Scratch, x: TI): TI {
  return s.run('Transpose', { x }, { perm: [1, 0] });
}

/** a·b for 2-D `a` [m, k] and `b` [k, n], untransposed: the kernel's XNNPACK path. */
function plain(s: Scratch, a: TI, b: TI): TI {
  return s.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
}

/**
 * opA(a)·opB(b) for 2-D a and b. Direct: opA(a)·opB(b) with the transposes done first. Flipped:
 * (opB(b)ᵀ·opA(a)ᵀ)ᵀ, whose transposes cancel those asked for. Each costs the elements it transposes
 * plus those of its right operand (repacked by XNNPACK).
 */
function product(s: Scratch, a: TI, b: TI, ta: boolean, tb: boolean): TI {
  const [ar, ac] = a.shape;
  const [br, bc] = b.shape;
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const n = tb ? br : bc;
  const direct = (ta ? m * k : 0) + (tb ? 2 * n * k : n * k);
  const flipped = (tb ? 0 : n * k) + (ta ? m * k : 2 * m * k) + m * n;
  if (direct <= flipped) return plain(s, ta ? t2(s, a) : a, tb ? t2(s, b) : b);
  return t2(s, plain(s, tb ? b : t2(s, b), ta ? a : t2(s, a)));
}

/**
 * A wasm BatchMatMul of one pair of float32 matrices: with transposeA or transposeB as above, and
 * untransposed under a gradient tape without XNNPACK's packing (gemm.ts); null for what it leaves
 * to the native kernel.
 */
export function wasmMatMul(args: KernelArgs): TI | null {
  const { a, b } = args.inputs as { a: TI; b: TI };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  if (batchRows(a) !== 1 || batchRows(b) !== 1) return null;
  if (!transposeA && !transposeB) return a.shape.length === 2 && b.shape.length === 2 ? tapedMatMul(args.backend, a, b) : null;
  const s = new Scratch(args.backend);
  try {
    const out = product(s, s.reshape(a, a.shape.slice(-2)), s.reshape(b, b.shape.slice(-2)), transposeA, transposeB);
    return s.keep(s.reshape(out, [...a.shape.slice(0, -2), out.shape[0], out.shape[1]]));
  } finally {
    s.free();
  }
}
