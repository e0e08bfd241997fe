/** What the views' Chart.js line charts share: how they draw, and their colours and fonts from the theme. */
import type { ChartOptions } from 'chart.js';
import type { Theme } from './theme';

/** Drawn at once (no animation), sized by their box, fed points as they are (no parsing). */
export const STILL_CHART = { animation: false, responsive: true, maintainAspectRatio: false, parsing: false } as const;

/**
 * Axis and legend colours and fonts from the theme: the canvas needs concrete values, read again
 * when the theme changes. Returns the font, for the parts each chart styles itself.
 */
export function styleAxesAndLegend(o: ChartOptions<'line'>, theme: Theme): { family: string; size: number } {
  const font = { family: theme.fontFamily, size: Math.max(11, theme.fontSize - 1) };
  for (const axis of ['x', 'y'] as const) {
    const s = o.scales![axis]!;
    s.grid = { ...s.grid, color: theme.grid };
    s.border = { ...s.border, color: theme.border };
    s.ticks = { ...s.ticks, color: theme.muted, font };
    (s as { title: { color?: string; font?: object } }).title.color = theme.muted;
    (s as { title: { color?: string; font?: object } }).title.font = font;
  }
  const legend = o.plugins!.legend!;
  legend.labels = { ...legend.labels, color: theme.fg, font };
  return font;
}
