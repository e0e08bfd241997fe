import { clampSmoothing, emaStart, emaStep, type EmaState } from './smooth';

/**
 * A growing (x, y) series in typed arrays, with its smoothed copy kept up to date point by point.
 * Live training appends one point per message; recomputing 100k points per message would not do.
 */
export class Series {
  private _xs = new Float64Array(256);
  private _ys = new Float64Array(256);
  private _sm = new Float64Array(256);
  private _len = 0;
  private smWeight = -1;
  private smLen = 0;
  private ema: EmaState = emaStart();
  private _generation = 0;

  get length(): number {
    return this._len;
  }
  /** Backing arrays; only the first `length` entries are meaningful. */
  get xs(): Float64Array {
    return this._xs;
  }
  get ys(): Float64Array {
    return this._ys;
  }

  /** Changes whenever points already held change (not when points are appended). */
  get generation(): number {
    return this._generation;
  }

  clear(): void {
    this._generation++;
    this._len = 0;
    this.smLen = 0;
    this.ema = emaStart();
  }

  /** Appends; a point at the last x replaces it, and an older x is inserted in order. */
  push(x: number, y: number): void {
    const n = this._len;
    if (n > 0 && x <= this._xs[n - 1]) {
      this._generation++;
      let i = n - 1;
      while (i > 0 && this._xs[i - 1] >= x) i--;
      if (this._xs[i] === x) {
        this._ys[i] = y;
      } else {
        this.grow(n + 1);
        this._xs.copyWithin(i + 1, i, n);
        this._ys.copyWithin(i + 1, i, n);
        this._xs[i] = x;
        this._ys[i] = y;
        this._len++;
      }
      if (i < this.smLen) this.resetSmoothing();
      return;
    }
    this.grow(n + 1);
    this._xs[n] = x;
    this._ys[n] = y;
    this._len = n + 1;
  }

  /** Smoothed ys for `weight` (same length as the series). Weight 0 returns the raw ys. */
  smoothed(weight: number): Float64Array {
    const w = clampSmoothing(weight);
    if (w === 0) return this._ys;
    if (w !== this.smWeight) {
      this.smWeight = w;
      this.resetSmoothing();
    }
    if (this._sm.length < this._xs.length) {
      const sm = new Float64Array(this._xs.length);
      sm.set(this._sm.subarray(0, this.smLen));
      this._sm = sm;
    }
    for (let i = this.smLen; i < this._len; i++) this._sm[i] = emaStep(this.ema, w, this._ys[i]);
    this.smLen = this._len;
    return this._sm;
  }

  private resetSmoothing(): void {
    this.smLen = 0;
    this.ema = emaStart();
  }

  private grow(min: number): void {
    if (min <= this._xs.length) return;
    let cap = this._xs.length * 2;
    while (cap < min) cap *= 2;
    for (const k of ['_xs', '_ys'] as const) {
      const a = new Float64Array(cap);
      a.set(this[k].subarray(0, this._len));
      this[k] = a;
    }
  }
}
