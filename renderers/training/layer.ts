/**
 * The per-batch lines of a metric panel, on a canvas of their own under the Chart's canvas. It
 * is drawn with the Chart's scales, styles and visibility, so a live batch redraws a few hundred
 * line segments instead of the whole Chart (axes, ticks, legend and every dataset).
 */
import type { Chart } from 'chart.js';
import { h } from '../dom';
import type { DatasetSpec, PlotPoint } from '../shaping/panel';

interface StyledDataset {
  tlId?: string;
  borderColor?: unknown;
  borderWidth?: unknown;
  borderDash?: number[];
}

export class BatchLayer {
  readonly canvas: HTMLCanvasElement = h('canvas', { class: 'tl-batch-layer', attrs: { 'aria-hidden': 'true' } });

  /** Clears the layer and draws the batch series of `specs` (the faint raw twin first, as the Chart orders them). */
  draw(chart: Chart<'line', PlotPoint[]>, specs: readonly DatasetSpec[]): void {
    const ctx = this.fit(chart);
    const area = chart.chartArea;
    const x = chart.scales.x;
    const y = chart.scales.y;
    if (!ctx || !area || !x || !y) return;
    const datasets = chart.data.datasets as unknown as StyledDataset[];
    const batch = specs.filter((s) => s.kind === 'batch').sort((a, b) => Number(b.shadow) - Number(a.shadow));
    for (const spec of batch) {
      const i = datasets.findIndex((d) => d.tlId === spec.id);
      if (i < 0 || !chart.isDatasetVisible(i)) continue;
      const ds = datasets[i];
      const width = typeof ds.borderWidth === 'number' ? ds.borderWidth : 1;
      ctx.save();
      // Clipped as the Chart clips a line: to the plot area, plus half the line width where the
      // axis end is not fixed (the y-axis top of the loss panel).
      const over = width / 2;
      const top = y.options.max === undefined ? over : 0;
      const bottom = y.options.min === undefined ? over : 0;
      ctx.beginPath();
      ctx.rect(area.left, area.top - top, area.right - area.left, area.bottom - area.top + top + bottom);
      ctx.clip();
      ctx.strokeStyle = String(ds.borderColor);
      ctx.lineWidth = width;
      ctx.lineCap = 'butt';
      ctx.lineJoin = 'miter';
      ctx.setLineDash(ds.borderDash ?? []);
      ctx.beginPath();
      let pen = false;
      for (const p of spec.points) {
        const px = x.getPixelForValue(p.x);
        const py = y.getPixelForValue(p.y);
        // A NaN is a gap, as in the Chart with spanGaps off.
        if (Number.isNaN(px) || Number.isNaN(py)) {
          pen = false;
          continue;
        }
        if (pen) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
        pen = true;
      }
      ctx.stroke();
      ctx.restore();
    }
  }

  /** Sizes the layer like the Chart's canvas (device pixels and CSS box) and clears it. */
  private fit(chart: Chart): CanvasRenderingContext2D | null {
    const src = chart.canvas;
    const c = this.canvas;
    if (c.width !== src.width) c.width = src.width;
    if (c.height !== src.height) c.height = src.height;
    if (c.style.width !== src.style.width) c.style.width = src.style.width;
    if (c.style.height !== src.style.height) c.style.height = src.style.height;
    const ctx = c.getContext('2d');
    if (!ctx) return null;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, c.width, c.height);
    const dpr = chart.currentDevicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }
}
