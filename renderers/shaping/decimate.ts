/**
 * Min-max decimation: split the x range into buckets (about one per pixel) and keep, per bucket,
 * the lowest and highest point, in x order, plus the series' first and last points. A bucket is one
 * pixel column, so its lowest and highest points are all the line shows there: every loss spike
 * stays visible, and every kept point is a real point, so tooltips still show exact values.
 */

/** The bucket grid: x0 maps to bucket 0, x0 + span to the last of `b` buckets. */
interface Grid {
  x0: number;
  span: number;
  b: number;
}

function gridOf(xs: ArrayLike<number>, n: number, buckets: number, range?: readonly [number, number]): Grid {
  const x0 = range ? Math.min(range[0], xs[0]) : xs[0];
  const span = (range ? Math.max(range[1], xs[n - 1]) : xs[n - 1]) - x0;
  return { x0, span, b: Math.max(1, Math.floor(buckets)) };
}

/**
 * Scans points [from, n) bucket by bucket, appending kept indices to `out` (ascending, no
 * repeats). Per bucket: lowest, highest, and the first non-finite point. A NaN is a gap in the
 * line; it must survive decimation or the line would bridge over it. Returns where the last
 * bucket starts and how many indices `out` held before that bucket was flushed: everything before
 * those stays the same when points are appended.
 */
function scan(xs: ArrayLike<number>, ys: ArrayLike<number>, from: number, n: number, g: Grid, out: number[]): { open: number; closed: number } {
  const scale = g.span > 0 ? g.b / g.span : 0;
  let bucket = -1;
  let lo = -1, hi = -1, gap = -1;
  let open = from, closed = out.length;
  const keep = (i: number) => {
    if (i >= 0 && i > (out.length ? out[out.length - 1] : -1)) out.push(i);
  };
  const flush = () => {
    for (const i of [lo, hi, gap].sort((p, q) => p - q)) keep(i);
  };
  for (let i = from; i < n; i++) {
    const k = Math.min(g.b - 1, Math.floor((xs[i] - g.x0) * scale));
    if (k !== bucket) {
      if (bucket >= 0) flush();
      bucket = k;
      lo = hi = gap = -1;
      open = i;
      closed = out.length;
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
  return { open, closed };
}

/**
 * Indices of the points to draw. `xs` must be ascending. Returns all indices when the series is
 * already small enough (2 per bucket); otherwise at most 2 per bucket, the endpoints, and gaps.
 * `range` fixes the bucket grid (e.g. the x-axis span); with it, appending points changes only
 * the last buckets, so a live line does not shimmer.
 */
export function decimateIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, length: number, buckets: number, range?: readonly [number, number]): number[] {
  const n = Math.min(length, xs.length, ys.length);
  const out: number[] = [];
  if (n <= Math.max(1, Math.floor(buckets)) * 2) {
    for (let i = 0; i < n; i++) out.push(i);
    return out;
  }
  out.push(0);
  scan(xs, ys, 0, n, gridOf(xs, n, buckets, range), out);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

/**
 * decimateIndices for a series that grows at its end, mapped to points: the buckets closed at the
 * last call (and their mapped points) are kept, and only the open bucket and what follows it is
 * scanned again. A live update of a 100k-point series then costs O(new points).
 */
export class TailDecimator<T> {
  private key = '';
  private grid: Grid = { x0: NaN, span: NaN, b: 0 };
  private seen = 0;
  private open = 0;
  private idx: number[] = [];
  private pts: T[] = [];

  /**
   * The same points as decimateIndices(...).map(map). `version` must change whenever points
   * before the end of the series (or the mapping of them) change, not only grow.
   */
  points(xs: ArrayLike<number>, ys: ArrayLike<number>, length: number, buckets: number, range: readonly [number, number], version: string, map: (i: number) => T): T[] {
    const n = Math.min(length, xs.length, ys.length);
    const g = gridOf(xs, n, buckets, range);
    if (n <= g.b * 2) {
      this.key = '';
      return decimateIndices(xs, ys, n, buckets, range).map(map);
    }
    const same = version === this.key && n >= this.seen && g.x0 === this.grid.x0 && g.span === this.grid.span && g.b === this.grid.b;
    if (!same) {
      this.key = version;
      this.grid = g;
      this.idx = [];
      this.pts = [];
      this.open = 0;
    }
    const out = this.idx.slice();
    if (!out.length) out.push(0);
    const { open, closed } = scan(xs, ys, this.open, n, g, out);
    if (out[out.length - 1] !== n - 1) out.push(n - 1);
    // Cache the closed buckets' indices and points for the next call.
    for (let j = this.idx.length; j < closed; j++) this.pts.push(map(out[j]));
    this.idx = out.slice(0, closed);
    this.open = open;
    this.seen = n;
    const result = this.pts.slice();
    for (let j = closed; j < out.length; j++) result.push(map(out[j]));
    return result;
  }
}
