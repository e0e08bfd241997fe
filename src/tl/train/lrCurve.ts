/** What tl.lrFind makes of its sweep: the suggested rate, and the curve as text. */
import type { LrFindData } from '../../common/shapes';
import { formatLr } from '../../common/formatLr';

export interface LrSuggestion {
  /** The steepest descent of the smoothed loss (against log lr) before its minimum; `minimum` when there is none. */
  suggestion: number;
  /** The rate at the smallest smoothed loss, divided by 10. */
  minimum: number;
}

/**
 * The suggested rate. The first points are skipped (the moving average is still settling there),
 * and only the part before the minimum counts: past it the loss is on its way up. Slopes are taken
 * over a window of a few steps, and only where the loss has already fallen by a tenth of its whole
 * fall: on a small data set the flat start is batch-to-batch noise, whose steepest wiggle would
 * otherwise be suggested (7.7e-7 was, on 96 texts).
 */
export function suggestLr(lrs: readonly number[], losses: readonly number[]): LrSuggestion {
  if (lrs.length === 0 || lrs.length !== losses.length) throw new Error('lrFind: the sweep recorded no loss to suggest a rate from.');
  let iMin = 0;
  for (let i = 1; i < losses.length; i++) if (losses[i] < losses[iMin]) iMin = i;
  const minimum = lrs[iMin] / 10;
  const skip = Math.max(1, Math.min(10, Math.floor(lrs.length / 10)));
  const w = Math.max(1, Math.round(lrs.length / 25));
  const start = losses[Math.min(skip, iMin)];
  const fallen = start - 0.1 * (start - losses[iMin]);
  let best = -1;
  let bestSlope = 0;
  for (let i = skip; i < iMin; i++) {
    if (losses[i] > fallen) continue;
    const lo = Math.max(0, i - w);
    const hi = Math.min(losses.length - 1, i + w);
    const slope = (losses[hi] - losses[lo]) / (Math.log(lrs[hi]) - Math.log(lrs[lo]));
    if (slope < bestSlope) {
      bestSlope = slope;
      best = i;
    }
  }
  return { suggestion: best >= 0 ? lrs[best] : minimum, minimum };
}

/** The sweep as text: what it did, the suggestion, and the curve at about `rows` evenly spaced steps. */
export function formatLrFind(d: LrFindData, rows = 12): string {
  const n = d.lrs.length;
  const lines = [
    `${d.title ? `${d.title}: ` : ''}learning-rate sweep, ${n} of ${d.steps} steps from ${formatLr(d.minLr)} to ${formatLr(d.maxLr)} (log scale)` +
      (d.stoppedReason ? `; stopped: ${d.stoppedReason}` : ''),
    `suggestion: ${formatLr(d.suggestion)} (steepest descent of the smoothed loss); minimum/10: ${formatLr(d.minimum)}`,
    '  learning rate   smoothed loss',
  ];
  const every = Math.max(1, Math.ceil(n / rows));
  for (let i = 0; i < n; i += every) lines.push(`  ${formatLr(d.lrs[i]).padEnd(14)}  ${d.losses[i].toFixed(4)}`);
  if ((n - 1) % every !== 0) lines.push(`  ${formatLr(d.lrs[n - 1]).padEnd(14)}  ${d.losses[n - 1].toFixed(4)}`);
  return lines.join('\n');
}
