/** Number and time formatting shared by the views. Pure: no DOM. */

/**
 * The value as the kernel sent it, without float noise. Metrics come from float32 tensors, whose
 * 7 significant digits are all the information there is, so this is exact for them.
 */
export function formatExact(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  return String(Number(v.toPrecision(7)));
}

/** Four significant digits, for summaries and axis labels. */
export function formatShort(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  return String(Number(v.toPrecision(4)));
}

/** Whole numbers with thousands separators; fixed locale so output reads the same everywhere. */
export function formatInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.round(n).toLocaleString('en-US');
}

export function formatPercent(fraction: number, digits = 1): string {
  if (!Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "[null, 7, 7, 1280]" → "(None, 7, 7, 1280)", as Keras summaries print it. */
export function formatShape(shape: unknown): string {
  if (!Array.isArray(shape)) return '—';
  if (shape.length > 0 && Array.isArray(shape[0])) return shape.map(formatShape).join(', ');
  return `(${shape.map((d) => (d === null || d === undefined ? 'None' : String(d))).join(', ')})`;
}
