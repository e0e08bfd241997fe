/**
 * A read-only description of what an output element shows, from the live Chart instances and
 * views. Used by the Chromium tests; VS Code only calls `activate`.
 */
import { Chart } from 'chart.js';
import { ConfusionView } from './confusion/view';
import { LayerMapView } from './layers/view';
import { LrFindView } from './lrfind/view';
import { TrainingView } from './training/view';
import { viewsByRoot } from './view';

interface PointInfo {
  x: number;
  y: number;
}

export function inspect(element: Element): unknown[] {
  const out: unknown[] = [];
  for (const root of element.querySelectorAll('.tl-root')) {
    const v = viewsByRoot.get(root);
    if (v instanceof TrainingView) {
      out.push({
        kind: 'training',
        runId: v.run.runId,
        status: v.run.status,
        lastUpdateMs: v.lastUpdateMs,
        lastDrawnPoints: v.lastDrawnPoints,
        lastRedraw: v.lastRedraw,
        batches: v.run.batches.length,
        epochs: v.run.history.length,
        charts: [...v.charts.values()].map((p) => {
          const chart = Chart.getChart(p.canvas)!;
          const x = chart.scales.x;
          return {
            metric: p.metric,
            chartId: chart.id,
            hidden: p.root.hidden,
            ariaLabel: p.canvas.getAttribute('aria-label'),
            role: p.canvas.getAttribute('role'),
            xMax: x?.max,
            tickColor: chart.options.scales?.x?.ticks?.color,
            legendColor: chart.options.plugins?.legend?.labels?.color,
            tooltip: tooltipOf(chart),
            // Points as drawn now: a live batch may be drawn on the batch layer before the
            // Chart's own copy of the batch points catches up (see MetricPanel).
            datasets: chart.data.datasets.map((d, i) => {
              const id = (d as unknown as { tlId: string }).tlId;
              const data = (p.drawnSpecs.find((s) => s.id === id)?.points ?? d.data) as unknown as PointInfo[];
              const els = chart.getDatasetMeta(i).data;
              const lastEl = els[els.length - 1];
              const first = data[0];
              const last = data[data.length - 1];
              return {
                id,
                label: d.label,
                points: data.length,
                // The Chart's own copy (tooltips, hover), which catches up once batches pause.
                syncedPoints: d.data.length,
                first: first && { x: first.x, y: first.y },
                last: last && { x: last.x, y: last.y },
                borderColor: d.borderColor,
                borderDash: (d as { borderDash?: number[] }).borderDash,
                lastPixel: lastEl && { x: lastEl.x, y: lastEl.y },
                lastInk: id.includes(':batch') && last ? layerInk(p.root, chart, last) : undefined,
              };
            }),
          };
        }),
      });
    } else if (v instanceof LayerMapView) {
      out.push({ kind: 'layers', layers: v.layers.length, lastBuildMs: v.lastBuildMs, code: v.code });
    } else if (v instanceof ConfusionView) {
      out.push({ kind: 'confusion' });
    } else if (v instanceof LrFindView) {
      const x = v.chart.scales.x;
      out.push({
        kind: 'lrfind',
        xType: x?.type,
        ariaLabel: v.chart.canvas.getAttribute('aria-label'),
        datasets: v.chart.data.datasets.map((d) => ({ label: d.label, points: d.data.length, borderColor: d.borderColor })),
        suggestionPixel: v.chart.getDatasetMeta(2).data[0]?.x,
        suggestionExpected: x?.getPixelForValue((v.chart.data.datasets[2].data[0] as { x: number }).x),
      });
    }
  }
  return out;
}

/** Whether the batch layer has paint within a pixel of where `pt` is drawn. */
function layerInk(root: Element, chart: Chart, pt: PointInfo): boolean {
  const layer = root.querySelector<HTMLCanvasElement>('.tl-batch-layer');
  const ctx = layer?.getContext('2d');
  if (!ctx) return false;
  const dpr = chart.currentDevicePixelRatio || 1;
  const px = Math.round(chart.scales.x.getPixelForValue(pt.x) * dpr);
  const py = Math.round(chart.scales.y.getPixelForValue(pt.y) * dpr);
  const { data } = ctx.getImageData(px - 2, py - 1, 3, 3);
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
  return false;
}

function tooltipOf(chart: Chart): { title: string[]; lines: string[] } | undefined {
  const t = chart.tooltip;
  if (!t || t.opacity === 0 || !t.body?.length) return undefined;
  return { title: [...(t.title ?? [])], lines: t.body.flatMap((b) => b.lines) };
}

/** Ids of the Chart instances alive in this iframe (Chart.js keeps a registry of them). */
export function liveCharts(): number[] {
  return Object.values(Chart.instances).map((c) => Number(c.id));
}
