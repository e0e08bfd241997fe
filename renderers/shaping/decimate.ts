/**
 * Min-max decimation: split the x range into buckets (about one per pixel) and keep, per bucket,
 * the first, lowest, highest and last point, in x order. Unlike averaging or LTTB this keeps every
 * loss spike visible, and every kept point is a real point, so tooltips still show exact values.
 */

/**
 * Indices of the points to draw. `xs` must be ascending. Returns all indices when the series is
 * already small enough (4 per bucket). `range` fixes the bucket grid (e.g. the x-axis span); with
 * it, appending points changes only the last buckets, so a live line does not shimmer.
 */
export function decimateIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, length: number, buckets: number, range?: readonly [number, number]): number[] {
  const n = Math.min(length, xs.length, ys.length);
  const b = Math.max(1, Math.floor(buckets));
  const out: number[] = [];
  if (n <= b * 4) {
    for (let i = 0; i < n; i++) out.push(i);
    return out;
  }
  const x0 = range ? Math.min(range[0], xs[0]) : xs[0];
  const span = (range ? Math.max(range[1], xs[n - 1]) : xs[n - 1]) - x0;
  const scale = span > 0 ? b / span : 0;
  let bucket = -1;
  // Per bucket: first, lowest, highest, last, and the first non-finite point. A NaN is a gap in
  // the line; it must survive decimation or the line would bridge over it.
  let first = -1, last = -1, lo = -1, hi = -1, gap = -1;
  const flush = () => {
    if (first < 0) return;
    const a = [first, lo, hi, last, gap].sort((p, q) => p - q);
    let prev = -1;
    for (const i of a) if (i >= 0 && i !== prev) out.push((prev = i));
  };
  for (let i = 0; i < n; i++) {
    const k = Math.min(b - 1, Math.floor((xs[i] - x0) * scale));
    if (k !== bucket) {
      flush();
      bucket = k;
      first = i;
      lo = hi = gap = -1;
    }
    last = i;
    const y = ys[i];
    if (!Number.isFinite(y)) {
      if (gap < 0) gap = i;
      continue;
    }
    if (lo < 0 || y < ys[lo]) lo = i;
    if (hi < 0 || y > ys[hi]) hi = i;
  }
  flush();
  return out;
}
