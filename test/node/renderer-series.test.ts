import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smoothEma, clampSmoothing } from '../../renderers/shaping/smooth';
import { decimateIndices, TailDecimator } from '../../renderers/shaping/decimate';
import { Series } from '../../renderers/shaping/series';

test('smoothing 0 returns the values unchanged', () => {
  assert.deepEqual([...smoothEma([3, 1, 2], 0)], [3, 1, 2]);
});

test('smoothing is debiased: the first point keeps its value, a constant stays constant', () => {
  const s = smoothEma([5, 5, 5, 5], 0.9);
  for (const v of s) assert.ok(Math.abs(v - 5) < 1e-12, `got ${v}`);
  assert.equal(smoothEma([2, 10], 0.6)[0], 2);
});

test('smoothing matches the EMA formula by hand', () => {
  const w = 0.5;
  const ys = [1, 3, 2];
  // acc: 0.5, 0.5*0.5+0.5*3=1.75, 1.75*0.5+0.5*2=1.875; debias 0.5, 0.75, 0.875
  const s = smoothEma(ys, w);
  assert.ok(Math.abs(s[0] - 1) < 1e-12);
  assert.ok(Math.abs(s[1] - 1.75 / 0.75) < 1e-12);
  assert.ok(Math.abs(s[2] - 1.875 / 0.875) < 1e-12);
});

test('a NaN passes through smoothing as a gap and does not poison later points', () => {
  const s = smoothEma([1, NaN, 1], 0.8);
  assert.ok(Number.isNaN(s[1]));
  assert.ok(Math.abs(s[2] - 1) < 1e-12);
});

test('clampSmoothing keeps the weight in [0, 0.999]', () => {
  assert.equal(clampSmoothing(-1), 0);
  assert.equal(clampSmoothing(NaN), 0);
  assert.equal(clampSmoothing(1), 0.999);
  assert.equal(clampSmoothing(0.3), 0.3);
});

test('Series smooths incrementally exactly as smoothing from scratch does', () => {
  const s = new Series();
  const ys: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const y = Math.sin(i / 10) + (i % 7) / 10;
    ys.push(y);
    s.push(i, y);
    if (i % 97 === 0) s.smoothed(0.7); // smooth part way, then keep appending
  }
  const inc = s.smoothed(0.7).subarray(0, s.length);
  const full = smoothEma(ys, 0.7);
  assert.equal(s.length, 1000);
  for (let i = 0; i < ys.length; i++) assert.ok(Math.abs(inc[i] - full[i]) < 1e-12, `index ${i}`);
  // a different weight recomputes
  const other = s.smoothed(0.2).subarray(0, s.length);
  assert.ok(Math.abs(other[999] - smoothEma(ys, 0.2)[999]) < 1e-12);
});

test('Series replaces a point at the same x and inserts an older x in order', () => {
  const s = new Series();
  s.push(1, 10);
  s.push(3, 30);
  s.push(3, 31);
  s.push(2, 20);
  assert.deepEqual([...s.xs.subarray(0, s.length)], [1, 2, 3]);
  assert.deepEqual([...s.ys.subarray(0, s.length)], [10, 20, 31]);
  const sm = s.smoothed(0.5);
  assert.ok(Math.abs(sm[2] - smoothEma([10, 20, 31], 0.5)[2]) < 1e-12);
});

test('decimation keeps everything when the series is small', () => {
  const xs = [0, 1, 2, 3];
  assert.deepEqual(decimateIndices(xs, [1, 2, 3, 4], 4, 10), [0, 1, 2, 3]);
});

test('decimation bounds the point count and keeps the spikes, first and last points', () => {
  const n = 100_000;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = i;
    ys[i] = 1 + Math.sin(i / 500) * 0.1;
  }
  ys[12_345] = 50; // a loss spike
  ys[77_777] = -3; // a dip
  const idx = decimateIndices(xs, ys, n, 500);
  assert.ok(idx.length <= 500 * 2 + 2, `kept ${idx.length}`);
  assert.ok(idx.length >= 500, `kept ${idx.length}`);
  assert.ok(idx.includes(12_345), 'spike kept');
  assert.ok(idx.includes(77_777), 'dip kept');
  assert.equal(idx[0], 0);
  assert.equal(idx[idx.length - 1], n - 1);
  for (let i = 1; i < idx.length; i++) assert.ok(idx[i] > idx[i - 1], 'ascending, unique');
});

test('decimation keeps each bucket\'s lowest and highest point, at most 2 per bucket plus the endpoints', () => {
  const n = 10_007;
  const xs = Float64Array.from({ length: n }, (_, i) => i * 0.3);
  const ys = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) + Math.cos(i * 0.013));
  const b = 137;
  const idx = decimateIndices(xs, ys, n, b);
  assert.ok(idx.length <= 2 * b + 2, `kept ${idx.length}`);
  assert.deepEqual([idx[0], idx.at(-1)], [0, n - 1]);
  // Reference, bucket by bucket: the extremes of each pixel column are drawn.
  const span = xs[n - 1] - xs[0];
  const lo = new Map<number, number>(), hi = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const k = Math.min(b - 1, Math.floor(((xs[i] - xs[0]) * b) / span));
    if (!lo.has(k) || ys[i] < ys[lo.get(k)!]) lo.set(k, i);
    if (!hi.has(k) || ys[i] > ys[hi.get(k)!]) hi.set(k, i);
  }
  for (const i of [...lo.values(), ...hi.values()]) assert.ok(idx.includes(i), `extreme ${i} kept`);
  // Exact at the threshold: 2 points per bucket or fewer are all drawn.
  assert.deepEqual(decimateIndices(xs, ys, 2 * b, b), Array.from({ length: 2 * b }, (_, i) => i));
});

test('decimation keeps a NaN so the line shows a gap', () => {
  const n = 10_000;
  const xs = Array.from({ length: n }, (_, i) => i);
  const ys = xs.map(() => 1);
  ys[5000] = NaN;
  const idx = decimateIndices(xs, ys, n, 100);
  assert.ok(idx.includes(5000));
});

test('decimation honours the length argument of a typed-array buffer', () => {
  const xs = new Float64Array(1000);
  const ys = new Float64Array(1000);
  for (let i = 0; i < 10; i++) xs[i] = i;
  assert.deepEqual(decimateIndices(xs, ys, 10, 100), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('with a fixed range, appending points leaves the earlier buckets unchanged', () => {
  const n = 50_000;
  const xs = Float64Array.from({ length: n }, (_, i) => i / 100);
  const ys = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + i / n);
  const range = [0, 1000] as const; // planned axis: 100k points' worth
  const a = decimateIndices(xs, ys, 40_000, 500, range);
  const b = decimateIndices(xs, ys, n, 500, range);
  const stable = a.filter((i) => i < 39_800); // buckets closed before the first call's end
  assert.deepEqual(b.slice(0, stable.length), stable);
  // Without the range the grid stretches with the data and earlier choices move.
  const c = decimateIndices(xs, ys, 40_000, 500);
  const d = decimateIndices(xs, ys, n, 500);
  assert.notDeepEqual(d.slice(0, 100), c.slice(0, 100));
});

test('a growing series decimated tail-first gives exactly what decimating it from scratch gives', () => {
  const n = 30_000;
  const xs = Float64Array.from({ length: n }, (_, i) => i / 97);
  const ys = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 1013 === 0 ? 20 : 0)) + i / n);
  for (let i = 0; i < n; i += 4099) ys[i] = NaN; // gaps
  const range = [0, n / 97] as const;
  const tail = new TailDecimator<number>();
  let rescans = 0;
  const map = (i: number) => {
    rescans++;
    return i;
  };
  // Small steps and big ones, through the point where decimation starts (2 per bucket).
  for (let len = 1; len <= n; len += len < 1200 ? 7 : 1 + (len % 331)) {
    assert.deepEqual(tail.points(xs, ys, len, 500, range, 'v1', map), decimateIndices(xs, ys, len, 500, range), `length ${len}`);
  }
  const before = rescans;
  tail.points(xs, ys, n, 500, range, 'v1', map);
  assert.ok(rescans - before < 50, `a repeat maps only the open bucket's points (${rescans - before})`);
  // Changed points (a new version), or a new grid, decimate from scratch.
  ys[10] = 99;
  assert.deepEqual(tail.points(xs, ys, n, 500, range, 'v2', map), decimateIndices(xs, ys, n, 500, range));
  assert.deepEqual(tail.points(xs, ys, n, 333, range, 'v2', map), decimateIndices(xs, ys, n, 333, range));
  assert.deepEqual(tail.points(xs, ys, n, 333, [0, 1000], 'v2', map), decimateIndices(xs, ys, n, 333, [0, 1000]));
});
