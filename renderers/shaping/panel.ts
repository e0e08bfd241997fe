/**
 * Training history → chart datasets for one metric panel (loss or accuracy). Pure and DOM-free;
 * the view maps `kind`/`shadow`/`runIndex` to colours and line styles.
 */
import type { BatchPoint, TrainingRun } from '../../src/common/shapes';
import { decimateIndices, TailDecimator } from './decimate';
import { Series } from './series';
import { clampSmoothing, smoothEma } from './smooth';
import { batchesPerEpoch, batchX, runLabel, xMax, type MetricKey } from './training';

export interface PlotPoint {
  x: number;
  /** Drawn value (smoothed when smoothing is on). */
  y: number;
  /** The value as recorded. */
  raw: number;
  epoch: number;
  batch?: number;
  step?: number;
}

export type SeriesKind = 'batch' | 'train' | 'val';

export interface DatasetSpec {
  id: string;
  label: string;
  kind: SeriesKind;
  /** The raw line drawn faintly under its smoothed twin. */
  shadow: boolean;
  /** 0 for the run this chart belongs to; 1.. for the runs overlaid by "compare". */
  runIndex: number;
  /** Points drawn: the series decimated to the plot width (every point when it is small). */
  points: PlotPoint[];
  /** Points in the series before decimation. */
  total: number;
}

export interface PanelOptions {
  /** 0 (off) … 0.999. */
  smoothing: number;
  showBatches: boolean;
  /** Decimation buckets, about the plot width in pixels. */
  buckets: number;
  /** Other runs to overlay (epoch series only). */
  compare?: readonly TrainingRun[];
}

const VAL_KEY = { loss: 'val_loss', acc: 'val_acc' } as const;

/** Keeps the batch series of one run between updates so a live update costs O(new points). */
export class PanelShaper {
  private readonly batches = new Series();
  private src: BatchPoint[] | undefined;
  private consumed = 0;
  private bpe = 0;
  /** Batch points by series index, for tooltips (epoch, batch, step). */
  private meta: BatchPoint[] = [];
  private readonly drawnBatch = new TailDecimator<PlotPoint>();
  private readonly drawnRaw = new TailDecimator<PlotPoint>();

  constructor(readonly metric: MetricKey) {}

  build(run: TrainingRun, opts: PanelOptions): DatasetSpec[] {
    const out = this.buildBatches(run, opts);
    // Smoothing is for noise: it applies to the most detailed series drawn. Epoch values are
    // already averages over an epoch, so with batches on the chart they are drawn as recorded.
    return out.concat(this.buildEpochs(run, opts, out.length ? 0 : opts.smoothing));
  }

  /**
   * The batch series (and its raw twin when smoothed), or none when batches are hidden or runs
   * compared. Cheap to call per live update: only the points since the last call are scanned.
   */
  buildBatches(run: TrainingRun, opts: PanelOptions): DatasetSpec[] {
    if (!opts.showBatches || opts.compare?.length) return [];
    this.syncBatches(run);
    const s = this.batches;
    if (!s.length) return [];
    const m = this.metric;
    const w = clampSmoothing(opts.smoothing);
    const sm = s.smoothed(w);
    const range = [0, xMax(run)] as const;
    const buckets = Math.max(16, opts.buckets);
    const toPoint = (ys: Float64Array) => (i: number): PlotPoint => {
      const b = this.meta[i];
      return { x: s.xs[i], y: ys[i], raw: s.ys[i], epoch: b.epoch, batch: b.batch, step: b.step };
    };
    const out: DatasetSpec[] = [{
      id: `${run.runId}:batch`,
      label: `${m} (batch)`,
      kind: 'batch',
      shadow: false,
      runIndex: 0,
      points: this.drawnBatch.points(s.xs, sm, s.length, buckets, range, `${s.generation}:${w}`, toPoint(sm)),
      total: s.length,
    }];
    if (w > 0) {
      out.push({
        id: `${run.runId}:batch:raw`,
        label: `${m} (batch, raw)`,
        kind: 'batch',
        shadow: true,
        runIndex: 0,
        points: this.drawnRaw.points(s.xs, s.ys, s.length, buckets, range, `${s.generation}`, toPoint(s.ys)),
        total: s.length,
      });
    }
    return out;
  }

  /** Train and val epoch series of the run and of the runs compared with it; `we` smooths them. */
  buildEpochs(run: TrainingRun, opts: PanelOptions, we: number): DatasetSpec[] {
    const m = this.metric;
    const out: DatasetSpec[] = [];
    const buckets = Math.max(16, opts.buckets);
    const range = [0, xMax(run)] as const;
    const runs = [run, ...(opts.compare ?? []).filter((r) => r.runId !== run.runId)];
    runs.forEach((r, runIndex) => {
      const prefix = runIndex === 0 ? '' : `${runLabel(r)} · `;
      for (const [kind, key] of [['train', m], ['val', VAL_KEY[m]]] as const) {
        // Typed arrays like the batch series': decimation then sees one array type and stays fast.
        const xs = new Float64Array(r.history.length);
        const raw = new Float64Array(r.history.length);
        let total = 0;
        for (const p of r.history) {
          const y = p[key];
          if (y === undefined) continue;
          xs[total] = p.epoch;
          raw[total++] = y;
        }
        if (!total) continue;
        const sm = we > 0 ? smoothEma(raw.subarray(0, total), we) : raw;
        const mk = (ys: ArrayLike<number>) =>
          decimateIndices(xs, ys, total, buckets, range).map((i): PlotPoint => ({ x: xs[i], y: ys[i], raw: raw[i], epoch: xs[i] }));
        out.push({ id: `${r.runId}:${kind}`, label: prefix + key, kind, shadow: false, runIndex, points: mk(sm), total });
        if (we > 0) out.push({ id: `${r.runId}:${kind}:raw`, label: `${prefix}${key} (raw)`, kind, shadow: true, runIndex, points: mk(raw), total });
      }
    });
    return out;
  }

  /** Number of batch points held (before decimation). */
  get batchCount(): number {
    return this.batches.length;
  }

  private syncBatches(run: TrainingRun): void {
    const bpe = batchesPerEpoch(run);
    const list = run.batches;
    // The same array grown by live messages: append. Anything else (a merged output, a new
    // batches-per-epoch guess that moves every x): rebuild once.
    if (list !== this.src || list.length < this.consumed || bpe !== this.bpe) {
      this.src = list;
      this.bpe = bpe;
      this.consumed = 0;
      this.batches.clear();
      this.meta = [];
    }
    for (let i = this.consumed; i < list.length; i++) {
      const p = list[i];
      const y = p[this.metric];
      if (y === undefined) continue;
      const x = batchX(p, bpe);
      const n = this.batches.length;
      if (n && x <= this.batches.xs[n - 1]) {
        // Steps ascend (applyMessage keeps them so); only a batch index beyond the declared
        // batches per epoch lands here. A line must not run backwards, so it is skipped.
        continue;
      }
      this.batches.push(x, y);
      this.meta.push(p);
    }
    this.consumed = list.length;
  }
}
