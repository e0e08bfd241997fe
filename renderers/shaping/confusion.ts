/** Confusion matrix shaping: normalisation, per-class metrics, and cell intensities. */
import type { ClassMetrics, ConfusionData } from '../../src/common/shapes';

/** Rows are true classes; normalising a row gives the share of that class predicted as each class. */
export function normaliseRows(matrix: readonly (readonly number[])[]): number[][] {
  return matrix.map((row) => {
    const sum = row.reduce((s, v) => s + v, 0);
    return row.map((v) => (sum > 0 ? v / sum : 0));
  });
}

/** Precision, recall, F1 and support per class, from the counts. */
export function metricsFromMatrix(classes: readonly string[], matrix: readonly (readonly number[])[]): ClassMetrics[] {
  const n = classes.length;
  const colSum = new Array<number>(n).fill(0);
  for (const row of matrix) row.forEach((v, j) => (colSum[j] += v));
  return classes.map((label, i) => {
    const tp = matrix[i][i];
    const support = matrix[i].reduce((s, v) => s + v, 0);
    const precision = colSum[i] > 0 ? tp / colSum[i] : NaN;
    const recall = support > 0 ? tp / support : NaN;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN;
    return { label, precision, recall, f1, support };
  });
}

/** The kernel's per-class metrics when they match the classes; otherwise computed from the counts. */
export function classMetrics(data: ConfusionData): ClassMetrics[] {
  const given = data.perClass;
  if (given.length === data.classes.length && given.every((m, i) => m.label === data.classes[i])) return given;
  return metricsFromMatrix(data.classes, data.matrix);
}

export function totalCount(matrix: readonly (readonly number[])[]): number {
  return matrix.reduce((s, row) => s + row.reduce((t, v) => t + v, 0), 0);
}

export function accuracyOf(matrix: readonly (readonly number[])[]): number {
  const total = totalCount(matrix);
  return total > 0 ? matrix.reduce((s, row, i) => s + row[i], 0) / total : NaN;
}

/**
 * Heat in [0, 1] per cell. Counts are scaled by the largest count; normalised rows are already
 * shares. A square root spreads the small off-diagonal counts that matter most for reading errors.
 */
export function heat(values: readonly (readonly number[])[], normalised: boolean): number[][] {
  let max = 0;
  for (const row of values) for (const v of row) if (v > max) max = v;
  const scale = normalised ? 1 : max;
  return values.map((row) => row.map((v) => (scale > 0 ? Math.sqrt(Math.min(1, v / scale)) : 0)));
}
