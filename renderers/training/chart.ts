/**
 * One metric panel (loss or accuracy): a canvas with one Chart that lives as long as the view.
 * Updates swap dataset data in place and call update('none'): no animation, no new Chart.
 *
 * The dense per-batch lines are drawn on a canvas of their own under the Chart's (BatchLayer);
 * the Chart keeps those datasets, without their line, for the legend, tooltips and hover. A live
 * batch that leaves the axes as they are redraws only that layer ("quick"): the Chart's axes,
 * legend and epoch lines stay as drawn, and its copy of the batch points catches up at the next
 * full update.
 */
import {
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
  type TooltipItem,
} from 'chart.js';
import type { TrainingRun } from '../../src/common/shapes';
import { h } from '../dom';
import { formatExact } from '../shaping/format';
import { PanelShaper, type DatasetSpec, type PanelOptions, type PlotPoint } from '../shaping/panel';
import { chartLabel, METRICS, xMax, type MetricKey } from '../shaping/training';
import { parseColor, toCss, withAlpha } from '../shaping/color';
import type { Theme } from '../theme';
import { STILL_CHART, styleAxesAndLegend } from '../chartStyle';
import { BatchLayer } from './layer';

// Only the parts a line chart with tooltips and a legend needs; keeps the bundle small.
Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

type LineDataset = ChartDataset<'line', PlotPoint[]> & { tlId: string; tlSpec: DatasetSpec };

function fade(color: string, a: number): string {
  const c = parseColor(color);
  return c ? toCss(withAlpha(c, a)) : color;
}

export class MetricPanel {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly chart: Chart<'line', PlotPoint[]>;
  private readonly shaper: PanelShaper;
  private compareMode = false;
  private readonly layer = new BatchLayer();
  /** The datasets drawn now (the Chart's copy of the batch ones may be older: see above). */
  private drawn: DatasetSpec[] = [];
  /** What the last full update drew with: a quick update must leave all of it as it is. */
  private base: { opts: string; buckets: number; xMax: number; yMax: number } | undefined;
  /** The Chart's copy of the batch points is older than the batch layer's. */
  behind = false;
  /** The last render redrew only the batch layer. */
  lastQuick = false;

  constructor(readonly metric: MetricKey, theme: Theme) {
    const title = METRICS.find((m) => m.key === metric)!.title;
    this.shaper = new PanelShaper(metric);
    this.canvas = h('canvas', { attrs: { role: 'img', 'aria-label': title } });
    this.root = h(
      'figure',
      { class: 'tl-panel', attrs: { 'data-metric': metric } },
      h('figcaption', { class: 'tl-panel-title', text: title }),
      h('div', { class: 'tl-canvas-wrap' }, this.layer.canvas, this.canvas),
    );
    this.chart = new Chart(this.canvas, {
      type: 'line',
      data: { datasets: [] },
      // Whenever the Chart lays out and draws (update, resize, theme, a legend click), the batch
      // lines are drawn again with its scales.
      plugins: [{ id: 'tlBatchLayer', afterUpdate: (chart) => this.layer.draw(chart as Chart<'line', PlotPoint[]>, this.drawn) }],
      options: {
        ...STILL_CHART,
        normalized: true,
        spanGaps: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { line: { tension: 0 } },
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'epoch' }, ticks: { precision: 0 } },
          // Loss is never negative and accuracy lies in [0, 1]: fixed bounds keep the grace margin from
          // drawing axes past what the metric can take.
          y: { type: 'linear', grace: '5%', min: 0, ...(metric === 'acc' ? { max: 1 } : {}), title: { display: true, text: metric === 'acc' ? 'accuracy' : 'loss' } },
        },
        plugins: {
          legend: {
            position: 'bottom',
            labels: { boxWidth: 24, boxHeight: 2, filter: (item, data) => !(data.datasets[item.datasetIndex ?? 0] as LineDataset).tlSpec?.shadow },
          },
          tooltip: {
            filter: (item) => !(item.dataset as LineDataset).tlSpec?.shadow,
            callbacks: {
              title: (items) => tooltipTitle(items),
              label: (item) => tooltipLabel(item),
            },
          },
        },
      },
    });
    this.applyTheme(theme, false);
  }

  /**
   * Shapes the run and redraws. `quick`: only batches arrived since the last call, so when the
   * axes stay the same only the batch layer is redrawn. Returns the number of points drawn.
   */
  render(run: TrainingRun, opts: PanelOptions, theme: Theme, quick = false): number {
    const buckets = this.plotWidth();
    this.lastQuick = quick && this.quickRender(run, opts, buckets);
    if (!this.lastQuick) this.fullRender(run, opts, buckets, theme);
    return this.drawn.reduce((n, s) => n + s.points.length, 0);
  }

  /** The datasets drawn now, in the Chart's order. */
  get drawnSpecs(): readonly DatasetSpec[] {
    return this.drawn;
  }

  private fullRender(run: TrainingRun, opts: PanelOptions, buckets: number, theme: Theme): void {
    const specs = this.shaper.build(run, { ...opts, buckets });
    this.compareMode = !!opts.compare?.length;
    this.drawn = specs;
    this.syncDatasets(specs, theme);
    const x = this.chart.options.scales!.x!;
    const maxX = Math.max(xMax(run), ...(opts.compare ?? []).map(xMax));
    x.max = maxX;
    (x.ticks as { stepSize?: number }).stepSize = maxX <= 20 ? 1 : undefined;
    this.canvas.setAttribute('aria-label', chartLabel(run, this.metric));
    this.base = { opts: optionsKey(opts), buckets, xMax: maxX, yMax: this.dataMax(specs) };
    this.behind = false;
    this.chart.update('none');
  }

  /**
   * Redraws only the batch layer when a full update would lay the Chart out exactly as it is:
   * same options and plot width, same x-axis end, and the same largest value drawn (the y-axis
   * end follows it; its start is fixed). Returns false when a full update is needed.
   */
  private quickRender(run: TrainingRun, opts: PanelOptions, buckets: number): boolean {
    const base = this.base;
    if (!base || opts.compare?.length || base.opts !== optionsKey(opts) || base.buckets !== buckets || base.xMax !== xMax(run)) return false;
    const batch = this.shaper.buildBatches(run, { ...opts, buckets });
    const old = this.drawn.filter((s) => s.kind === 'batch');
    if (batch.length !== old.length || batch.some((s, i) => s.id !== old[i].id)) return false;
    if (!batch.length) {
      // Batches hidden: nothing drawn depends on them.
      this.canvas.setAttribute('aria-label', chartLabel(run, this.metric));
      return true;
    }
    const specs = [...batch, ...this.drawn.filter((s) => s.kind !== 'batch')];
    if (this.dataMax(specs) !== base.yMax) return false;
    this.drawn = specs;
    this.behind = true;
    this.canvas.setAttribute('aria-label', chartLabel(run, this.metric));
    this.layer.draw(this.chart, specs);
    return true;
  }

  /** The largest value the Chart would see in its visible datasets; 0 when the y-axis is fixed. */
  private dataMax(specs: readonly DatasetSpec[]): number {
    const y = this.chart.options.scales!.y!;
    if (y.max !== undefined) return 0;
    let max = -Infinity;
    specs.forEach((s, i) => {
      if (i < this.chart.data.datasets.length && !this.chart.isDatasetVisible(i)) return;
      for (const p of s.points) if (p.y > max) max = p.y;
    });
    return max;
  }

  get batchCount(): number {
    return this.shaper.batchCount;
  }

  applyTheme(theme: Theme, redraw = true): void {
    const o = this.chart.options;
    const font = styleAxesAndLegend(o, theme);
    const tip = o.plugins!.tooltip!;
    Object.assign(tip, {
      backgroundColor: theme.tooltipBg,
      titleColor: theme.tooltipFg,
      bodyColor: theme.tooltipFg,
      borderColor: theme.tooltipBorder,
      borderWidth: 1,
      titleFont: { ...font, weight: 'bold' },
      bodyFont: { family: theme.monoFamily, size: font.size },
    });
    for (const ds of this.chart.data.datasets as LineDataset[]) this.styleDataset(ds, ds.tlSpec, theme);
    if (redraw) this.chart.update('none');
  }

  destroy(): void {
    this.chart.destroy();
    this.layer.canvas.remove();
  }

  private plotWidth(): number {
    const w = this.chart.chartArea?.width ?? this.canvas.clientWidth;
    return Math.max(100, Math.round(w || 600));
  }

  /** Reuses dataset objects by id so Chart.js keeps legend visibility and does no re-parsing. */
  private syncDatasets(specs: DatasetSpec[], theme: Theme): void {
    const current = this.chart.data.datasets as LineDataset[];
    const byId = new Map(current.map((d) => [d.tlId, d]));
    const next = specs.map((spec) => {
      let ds = byId.get(spec.id);
      if (!ds) ds = { tlId: spec.id, tlSpec: spec, data: [] } as unknown as LineDataset;
      ds.tlSpec = spec;
      ds.label = spec.label;
      ds.data = spec.points;
      this.styleDataset(ds, spec, theme);
      return ds;
    });
    const same = next.length === current.length && next.every((d, i) => d === current[i]);
    if (!same) this.chart.data.datasets = next;
  }

  private styleDataset(ds: LineDataset, spec: DatasetSpec, theme: Theme): void {
    const pal = theme.series;
    const base = this.compareMode ? pal[spec.runIndex % pal.length] : spec.kind === 'val' ? pal[1] : pal[0];
    const epochPoints = spec.kind !== 'batch' && spec.total <= 200;
    ds.borderColor = spec.shadow ? fade(base, 0.25) : spec.kind === 'batch' ? fade(base, 0.55) : base;
    ds.backgroundColor = ds.borderColor;
    ds.borderWidth = spec.kind === 'batch' || spec.shadow ? 1 : 2;
    // Validation differs from training by dash and marker too, not by colour alone.
    ds.borderDash = spec.kind === 'val' ? [6, 4] : [];
    ds.pointStyle = spec.kind === 'val' ? 'rectRot' : 'circle';
    ds.pointRadius = epochPoints && !spec.shadow ? 3 : 0;
    ds.pointHoverRadius = spec.shadow ? 0 : 4;
    ds.pointHitRadius = spec.shadow ? 0 : 4;
    ds.order = spec.shadow ? 3 : spec.kind === 'batch' ? 2 : 1;
    // The batch lines are drawn by the batch layer; the Chart keeps their points and legend entry.
    ds.showLine = spec.kind !== 'batch';
  }
}

/** What a quick update must not have changed in the panel options. */
function optionsKey(o: PanelOptions): string {
  return `${o.smoothing}:${o.showBatches}:${o.compare?.length ?? 0}`;
}

function tooltipTitle(items: TooltipItem<'line'>[]): string {
  const p = items[0]?.raw as PlotPoint | undefined;
  if (!p) return '';
  return p.batch !== undefined ? `Epoch ${p.epoch}, batch ${p.batch + 1} (step ${p.step})` : `Epoch ${p.epoch}`;
}

function tooltipLabel(item: TooltipItem<'line'>): string {
  const p = item.raw as PlotPoint;
  const base = `${item.dataset.label}: ${formatExact(p.y)}`;
  return p.raw !== p.y && !(Number.isNaN(p.raw) && Number.isNaN(p.y)) ? `${base} (raw ${formatExact(p.raw)})` : base;
}
