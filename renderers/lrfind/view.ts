/**
 * tl.lrFind's chart: the smoothed loss against the learning rate on a log axis, the measured loss
 * faintly under it, and the suggested rate marked. One Chart for the life of the view.
 */
import { Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, ScatterController, Tooltip, type ChartDataset } from 'chart.js';
import { MIME } from '../../src/common/mime';
import type { LrFindData } from '../../src/common/shapes';
import { formatLr } from '../../src/common/formatLr';
import { h } from '../dom';
import { formatShort } from '../shaping/format';
import { lrAriaLabel, lrCaption, lrChartSpec, type LrPoint } from '../shaping/lrfind';
import { toLrFind } from '../shaping/validate';
import { parseColor, toCss, withAlpha } from '../shaping/color';
import type { Theme } from '../theme';
import { STILL_CHART, styleAxesAndLegend } from '../chartStyle';
import type { View } from '../view';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip);

function fade(color: string, a: number): string {
  const c = parseColor(color);
  return c ? toCss(withAlpha(c, a)) : color;
}

export class LrFindView implements View {
  readonly mime = MIME.lrFind;
  readonly root: HTMLElement;
  readonly chart: Chart<'line', LrPoint[]>;
  private data!: LrFindData;
  private readonly canvas = h('canvas', { attrs: { role: 'img' } });
  private readonly headEl = h('div', { class: 'tl-layers-head' });

  constructor(data: unknown, private theme: Theme) {
    this.root = h('section', { class: 'tl-root tl-lrfind', attrs: { 'aria-label': 'Learning-rate finder' } }, this.headEl, h('div', { class: 'tl-canvas-wrap' }, this.canvas));
    this.chart = new Chart(this.canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        ...STILL_CHART,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'logarithmic', title: { display: true, text: 'learning rate (log scale)' }, ticks: { callback: (v) => formatLr(Number(v)) } },
          y: { type: 'linear', title: { display: true, text: 'loss' } },
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { title: (items) => `learning rate ${formatLr(items[0]?.parsed.x ?? NaN)}`, label: (item) => `${item.dataset.label}: ${formatShort(item.parsed.y)}` } },
        },
      },
    });
    this.update(data);
  }

  update(data: unknown): void {
    this.data = toLrFind(data);
    const d = this.data;
    this.headEl.replaceChildren(h('h3', { class: 'tl-title', text: d.title ? `Learning-rate finder: ${d.title}` : 'Learning-rate finder' }), h('p', { class: 'tl-meta', text: lrCaption(d) }));
    this.canvas.setAttribute('aria-label', lrAriaLabel(d));
    const spec = lrChartSpec(d);
    const y = this.chart.options.scales!.y!;
    y.min = spec.yMin;
    y.max = spec.yMax;
    this.chart.data.datasets = [
      { label: 'smoothed loss', data: spec.curve, pointRadius: 0, borderWidth: 2 },
      { label: 'loss', data: spec.raw, pointRadius: 0, borderWidth: 1 },
      { label: `suggestion ${formatLr(d.suggestion)}`, data: [spec.suggestion], type: 'scatter', pointRadius: 6, pointStyle: 'circle' } as unknown as ChartDataset<'line', LrPoint[]>,
    ];
    this.applyTheme(this.theme);
  }

  applyTheme(theme: Theme): void {
    this.theme = theme;
    styleAxesAndLegend(this.chart.options, theme);
    const [curve, raw, mark] = this.chart.data.datasets;
    const [blue, orange] = theme.series;
    Object.assign(curve, { borderColor: blue, backgroundColor: blue });
    Object.assign(raw, { borderColor: fade(blue, 0.3), backgroundColor: fade(blue, 0.3) });
    Object.assign(mark, { borderColor: orange, backgroundColor: orange });
    this.chart.update('none');
  }

  dispose(): void {
    this.chart.destroy();
    this.root.remove();
  }
}
