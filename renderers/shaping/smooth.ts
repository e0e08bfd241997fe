/**
 * Exponential moving average as TensorBoard's smoothing slider does it: debiased, so the first
 * points are not pulled towards zero, and non-finite values pass through without poisoning the
 * average.
 */

export const MAX_SMOOTHING = 0.999;

export function clampSmoothing(weight: number): number {
  if (!Number.isFinite(weight) || weight <= 0) return 0;
  return Math.min(weight, MAX_SMOOTHING);
}

/** Running state, so a live series is smoothed point by point instead of from the start each time. */
export interface EmaState {
  /** Biased accumulator. */
  acc: number;
  /** Finite points seen so far. */
  n: number;
}

export function emaStart(): EmaState {
  return { acc: 0, n: 0 };
}

export function emaStep(state: EmaState, weight: number, value: number): number {
  if (!Number.isFinite(value)) return value;
  state.acc = state.acc * weight + (1 - weight) * value;
  state.n++;
  const debias = weight === 0 ? 1 : 1 - Math.pow(weight, state.n);
  return state.acc / debias;
}

/** Smooths `ys` with weight in [0, 1). Weight 0 returns a copy. */
export function smoothEma(ys: ArrayLike<number>, weight: number): Float64Array {
  const w = clampSmoothing(weight);
  const out = new Float64Array(ys.length);
  const st = emaStart();
  for (let i = 0; i < ys.length; i++) out[i] = w === 0 ? ys[i] : emaStep(st, w, ys[i]);
  return out;
}
