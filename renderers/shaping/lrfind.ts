/** tl.lrFind's sweep → what its chart draws. Pure and DOM-free. */
import type { LrFindData } from '../../src/common/shapes';
import { formatLr } from '../../src/common/formatLr';
import { formatShort } from './format';

export interface LrPoint {
  x: number;
  y: number;
}

export interface LrChartSpec {
  /** The smoothed loss against the rate. */
  curve: LrPoint[];
  /** The measured loss, drawn faintly. */
  raw: LrPoint[];
  /** The suggested rate on the curve. */
  suggestion: LrPoint;
  /** y-axis bounds: from the lowest loss to a little above the first, so a diverging tail does not flatten the curve. */
  yMin: number;
  yMax: number;
}

/** The curve's loss at `lr`: the point with the closest rate. */
function lossAt(d: LrFindData, lr: number): number {
  let best = 0;
  for (let i = 1; i < d.lrs.length; i++) if (Math.abs(Math.log(d.lrs[i] / lr)) < Math.abs(Math.log(d.lrs[best] / lr))) best = i;
  return d.losses[best];
}

export function lrChartSpec(d: LrFindData): LrChartSpec {
  const curve = d.lrs.map((x, i) => ({ x, y: d.losses[i] }));
  const raw = d.raw ? d.lrs.map((x, i) => ({ x, y: d.raw![i] })).filter((p) => Number.isFinite(p.y)) : [];
  const lo = Math.min(...d.losses);
  const first = d.losses[0];
  const span = Math.max(first - lo, Math.abs(first) * 0.05, 1e-6);
  return { curve, raw, suggestion: { x: d.suggestion, y: lossAt(d, d.suggestion) }, yMin: lo - span * 0.1, yMax: first + span * 0.5 };
}

/** The caption under the chart's title. */
export function lrCaption(d: LrFindData): string {
  const end = d.stoppedReason ? `stopped: ${d.stoppedReason}` : 'ran all steps';
  return `Suggested learning rate ${formatLr(d.suggestion)} (steepest descent of the smoothed loss) · minimum/10 ${formatLr(d.minimum)} · ${d.lrs.length} of ${d.steps} steps, ${end}`;
}

/** The chart's accessible description. */
export function lrAriaLabel(d: LrFindData): string {
  const lo = Math.min(...d.losses);
  return `Smoothed loss against learning rate on a log axis, from ${formatLr(d.lrs[0])} to ${formatLr(d.lrs[d.lrs.length - 1])}; lowest loss ${formatShort(lo)}; suggested rate ${formatLr(d.suggestion)}.`;
}
