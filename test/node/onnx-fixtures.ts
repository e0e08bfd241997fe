/** Deterministic data shared by the ONNX tests. */

/** n values in [lo, hi) from a xorshift32 sequence seeded by `seed`. */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return a;
}
