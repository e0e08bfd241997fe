/**
 * NaN and Infinity in input data are refused where the data comes in, naming the row: one NaN in one
 * sample would otherwise turn every weight into NaN a few steps into training.
 */
import * as tf from '@tensorflow/tfjs';

export interface NonFinite {
  /** First row (sample) with a NaN or ±Infinity. */
  row: number;
  /** Flat offset of that value within its row. */
  offset: number;
  value: number;
  /** Rows with at least one such value. */
  rows: number;
}

export function findNonFinite(values: ArrayLike<number>, rowSize: number): NonFinite | undefined {
  let first: NonFinite | undefined;
  let rows = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) continue;
    const row = Math.floor(i / rowSize);
    rows++;
    first ??= { row, offset: i - row * rowSize, value: values[i], rows: 0 };
    // The rest of this row adds nothing to the count.
    i = (row + 1) * rowSize - 1;
  }
  return first && { ...first, rows };
}

/** `[2, 0, 1]` for offset 7 in shape [3, 2, 2]. */
function unravel(offset: number, shape: readonly number[]): number[] {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(offset % shape[d]);
    offset = Math.floor(offset / shape[d]);
  }
  return out;
}

const FILL_HINT = 'Remove those rows or fill the values before training.';

function nonFiniteError(what: string, bad: NonFinite, rowName: (row: number) => string, elementShape: readonly number[], hint: string): Error {
  const where = elementShape.length === 1 ? `column ${bad.offset}` : `element [${unravel(bad.offset, elementShape).join(', ')}]`;
  const more = bad.rows > 1 ? ` (${bad.rows} samples in all hold NaN or Infinity)` : '';
  return new Error(`${what}: ${rowName(bad.row)} holds ${bad.value} at ${where}${more}. ${hint}`);
}

/** Throws when a row of row-major `values` holds NaN or ±Infinity. */
export function assertFiniteRows(values: ArrayLike<number>, elementShape: readonly number[], what: string, rowName: (row: number) => string, hint = FILL_HINT): void {
  const rowSize = elementShape.reduce((a, b) => a * b, 1);
  const bad = findNonFinite(values, Math.max(1, rowSize));
  if (bad) throw nonFiniteError(what, bad, rowName, elementShape, hint);
}

/** The same for a tensor [n, ...]: checked on the backend first, read back only when something is wrong. */
export function assertFiniteTensor(x: tf.Tensor, what: string, rowName: (row: number) => string): void {
  if (x.dtype !== 'float32') return;
  const ok = tf.tidy(() => tf.all(tf.isFinite(x)).dataSync()[0]);
  if (ok) return;
  assertFiniteRows(x.dataSync(), x.shape.slice(1), what, rowName);
}

/** A CSV cell that spells NaN or an infinity, or a number beyond float32 (which becomes one), rather than something that is not a number at all. */
export function spellsNonFinite(raw: string): boolean {
  return /^[+-]?(nan|inf|infinity)$/i.test(raw) || Math.abs(Math.fround(Number(raw))) === Infinity;
}
