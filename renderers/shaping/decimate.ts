/**
 * Min-max decimation: split the x range into buckets (about one per pixel) and keep, per bucket,
 * the lowest and highest point, in x order, plus the series' first and last points. A bucket is one
 * pixel column, so its lowest and highest points are all the line shows there: every loss spike
 * stays visible, and every kept point is a real point, so tooltips still show exact values.
 */

/**
 * Indices of the points to draw. `xs` must be ascending. Returns all indices when the series is
 * already small enough (2 per bucket); otherwise at most 2 per bucket, the endpoints, and gaps.
 * `range` fixes the bucket grid (e.g. the x-axis span); with it, appending points changes only
 * the last buckets, so a live line does not shimmer.
 */
export function decimateIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, length: number, buckets: number, range?: readonly [number, number]): number[] {
  const n = Math.min(length, xs.length, ys.length);
  const b = Math.max(1, Math.floor(buckets));
  const out: number[] = [];
  if (n <= b * 2) {
    for (let i = 0; i < n; i++) out.push(i);
    return out;
  }
  const x0 = range ? Math.min(range[0], xs[0]) : xs[0];
  const span = (range ? Math.max(range[1], xs[n - 1]) : xs[n - 1]) - x0;
  const scale = span > 0 ? b / span : 0;
  let bucket = -1;
  // Per bucket: lowest, highest, and the first non-finite point. A NaN is a gap in the line; it
  // must survive decimation or the line would bridge over it. Index 0 and n - 1 are always kept.
  let lo = -1, hi = -1, gap = -1;
  const keep = (i: number) => {
    if (i >= 0 && i > (out.length ? out[out.length - 1] : -1)) out.push(i);
  };
  const flush = () => {
    for (const i of [lo, hi, gap].sort((p, q) => p - q)) keep(i);
  };
  keep(0);
  for (let i = 0; i < n; i++) {
    const k = Math.min(b - 1, Math.floor((xs[i] - x0) * scale));
    if (k !== bucket) {
      if (bucket >= 0) flush();
      bucket = k;
      lo = hi = gap = -1;
    }
    const y = ys[i];
    if (!Number.isFinite(y)) {
      if (gap < 0) gap = i;
      continue;
    }
    if (lo < 0 || y < ys[lo]) lo = i;
    if (hi < 0 || y > ys[hi]) hi = i;
  }
  flush();
  keep(n - 1);
  return out;
}
