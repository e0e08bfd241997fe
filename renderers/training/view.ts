/** The training chart of one fit: header, status, controls, loss and accuracy panels, summary. */
import { MIME } from '../../src/common/mime';
import type { TrainingMessage, TrainingRun } from '../../src/common/shapes';
import { h, setText, uid } from '../dom';
import { formatExact } from '../shaping/format';
import { clampSmoothing } from '../shaping/smooth';
import {
  applyMessage,
  finalMetrics,
  hasMetric,
  METRICS,
  mergeRun,
  progressText,
  runLabel,
  statusText,
  summaryText,
  type MetricKey,
} from '../shaping/training';
import { toTrainingRun } from '../shaping/validate';
import type { ViewState } from '../state';
import type { Theme } from '../theme';
import type { View } from '../view';
import { MetricPanel } from './chart';
import type { RunRegistry } from './registry';

interface Ui {
  smoothing: number;
  batches: boolean;
  compare: boolean;
}

/** Quiet time after the last live batch before the Chart itself is brought up to date. */
const SETTLE_MS = 300;

const DEFAULT_UI: Ui = { smoothing: 0, batches: true, compare: false };

export class TrainingView implements View {
  readonly mime = MIME.training;
  readonly root: HTMLElement;
  run: TrainingRun;
  /** Milliseconds the last redraw took (shaping + chart update + draw). */
  lastUpdateMs = 0;
  /** Points drawn in the last redraw, after decimation. */
  lastDrawnPoints = 0;
  /** Whether the last redraw drew only the batch lines (the axes stayed as they were) or everything. */
  lastRedraw: 'quick' | 'full' = 'full';

  private readonly panels = new Map<MetricKey, MetricPanel>();
  private readonly panelsEl: HTMLElement;
  private readonly titleEl: HTMLElement;
  private readonly metaEl: HTMLElement;
  private readonly statusEl: HTMLElement;
  private readonly progressEl: HTMLElement;
  private readonly summaryEl: HTMLElement;
  private readonly smoothingInput: HTMLInputElement;
  private readonly smoothingOut: HTMLOutputElement;
  private readonly batchesInput: HTMLInputElement;
  private readonly compareInput: HTMLInputElement;
  private readonly compareLabel: HTMLElement;
  private ui: Ui;
  private frame = 0;
  /** Only batches arrived since the last redraw: panels may redraw just their batch lines. */
  private onlyBatches = false;
  /** A full redraw once batches stop arriving, so the Chart's tooltips reach the newest points. */
  private settle = 0;
  private readonly offRegistry: () => void;

  constructor(
    data: unknown,
    private theme: Theme,
    private readonly registry: RunRegistry,
    private readonly state: ViewState,
  ) {
    this.run = mergeRun(undefined, toTrainingRun(data));
    this.ui = state.get(`run:${this.run.runId}`, DEFAULT_UI);

    const sid = uid('smooth');
    this.titleEl = h('h3', { class: 'tl-title' });
    this.metaEl = h('span', { class: 'tl-meta' });
    this.statusEl = h('p', { class: 'tl-status', attrs: { role: 'status' } });
    this.progressEl = h('p', { class: 'tl-progress' });
    this.smoothingInput = h('input', { attrs: { type: 'range', id: sid, min: '0', max: '0.99', step: '0.01' } });
    this.smoothingOut = h('output', { class: 'tl-mono', attrs: { for: sid } });
    this.batchesInput = h('input', { attrs: { type: 'checkbox' } });
    this.compareInput = h('input', { attrs: { type: 'checkbox' } });
    this.compareLabel = h('span', { text: 'Compare runs' });
    this.panelsEl = h('div', { class: 'tl-panels' });
    this.summaryEl = h('aside', { class: 'tl-summary', attrs: { 'aria-label': 'Final metrics' } });

    const controls = h(
      'div',
      { class: 'tl-controls' },
      h('label', {
        attrs: { for: sid, title: 'Exponential moving average, as in TensorBoard: of the per-batch values, or of the epoch values when batches are hidden' },
        text: 'Smoothing',
      }),
      this.smoothingInput,
      this.smoothingOut,
      h('label', {}, this.batchesInput, ' Batches'),
      h('label', {}, this.compareInput, ' ', this.compareLabel),
    );
    this.root = h(
      'section',
      { class: 'tl-root tl-training', attrs: { 'aria-label': 'Training chart' } },
      h('header', { class: 'tl-header' }, this.titleEl, this.metaEl),
      this.statusEl,
      this.progressEl,
      controls,
      h('div', { class: 'tl-body' }, this.panelsEl, this.summaryEl),
    );

    this.smoothingInput.value = String(this.ui.smoothing);
    this.batchesInput.checked = this.ui.batches;
    this.compareInput.checked = this.ui.compare;
    this.smoothingInput.addEventListener('input', () => this.setUi({ smoothing: clampSmoothing(Number(this.smoothingInput.value)) }));
    this.batchesInput.addEventListener('change', () => this.setUi({ batches: this.batchesInput.checked }));
    this.compareInput.addEventListener('change', () => this.setUi({ compare: this.compareInput.checked }));

    this.offRegistry = registry.onChange(() => {
      this.updateCompareControl();
      if (this.ui.compare) this.schedule();
    });
    registry.set(this.run);
    this.flush();
  }

  /** The output item was replaced (about once per epoch): merge, keep the Chart. */
  update(data: unknown): void {
    const before = this.run.runId;
    this.run = mergeRun(this.run, toTrainingRun(data));
    if (this.run.runId !== before) this.registry.delete(before);
    this.registry.set(this.run);
    this.flush();
  }

  onMessage(msg: TrainingMessage): void {
    const changed = applyMessage(this.run, msg);
    if (!changed) return;
    if (changed !== 'batch') this.registry.set(this.run);
    this.schedule(changed === 'batch');
  }

  applyTheme(theme: Theme): void {
    this.theme = theme;
    for (const p of this.panels.values()) p.applyTheme(theme);
  }

  /**
   * Coalesces bursts of messages into one redraw per frame. `onlyBatches`: this change is live
   * batches only; the frame stays quick while every change coalesced into it is.
   */
  schedule(onlyBatches = false): void {
    this.onlyBatches = onlyBatches && (!this.frame || this.onlyBatches);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.flush(this.onlyBatches);
    });
  }

  /** Redraws now; `quick` lets panels redraw only their batch lines when the axes stay as they are. */
  flush(quick = false): void {
    if (this.frame) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
    }
    this.onlyBatches = false;
    clearTimeout(this.settle);
    this.settle = 0;
    const t0 = performance.now();
    const run = this.run;
    setText(this.titleEl, runLabel(run));
    const meta = [run.samples ? `${run.samples.toLocaleString('en-US')} samples` : '', run.batchesPerEpoch ? `${run.batchesPerEpoch} batches per epoch` : '']
      .filter(Boolean)
      .join(' · ');
    setText(this.metaEl, meta);
    setText(this.statusEl, statusText(run));
    this.statusEl.dataset.status = run.status;
    setText(this.progressEl, progressText(run));
    setText(this.smoothingOut, this.ui.smoothing.toFixed(2));
    this.updateCompareControl();

    const drawn = this.renderPanels(quick);
    if ([...this.panels.values()].some((p) => p.behind)) this.settle = window.setTimeout(() => this.catchUp(), SETTLE_MS);
    this.renderSummary();
    this.lastDrawnPoints = drawn;
    this.lastRedraw = [...this.panels.values()].every((p) => p.root.hidden || p.lastQuick) ? 'quick' : 'full';
    this.lastUpdateMs = performance.now() - t0;
  }

  /**
   * Batches stopped arriving after quick redraws: bring the Charts' own copy of the batch points
   * up to date (for tooltips and hover). What is drawn stays the same, so this is not an update
   * of the chart and is not timed as one.
   */
  private catchUp(): void {
    this.settle = 0;
    if (!this.frame) this.renderPanels(false);
  }

  /** Shows, creates or hides the metric panels and draws them. Returns the number of points drawn. */
  private renderPanels(quick: boolean): number {
    const run = this.run;
    const compare = this.ui.compare ? this.registry.list().filter((r) => r.runId !== run.runId) : [];
    let drawn = 0;
    for (const { key } of METRICS) {
      const needed = hasMetric(run, key) || compare.some((r) => hasMetric(r, key)) || key === 'loss';
      let panel = this.panels.get(key);
      if (!needed) {
        if (panel) panel.root.hidden = true;
        continue;
      }
      if (!panel) {
        panel = new MetricPanel(key, this.theme);
        this.panels.set(key, panel);
        this.panelsEl.append(panel.root);
      }
      panel.root.hidden = false;
      drawn += panel.render(run, { smoothing: this.ui.smoothing, showBatches: this.ui.batches, buckets: 0, compare }, this.theme, quick);
    }
    return drawn;
  }

  /** Chart instances by metric, for inspection in tests. */
  get charts(): ReadonlyMap<MetricKey, MetricPanel> {
    return this.panels;
  }

  dispose(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    clearTimeout(this.settle);
    this.settle = 0;
    this.offRegistry();
    this.registry.delete(this.run.runId);
    for (const p of this.panels.values()) p.destroy();
    this.panels.clear();
    this.root.remove();
  }

  private setUi(patch: Partial<Ui>): void {
    this.ui = { ...this.ui, ...patch };
    this.state.set(`run:${this.run.runId}`, this.ui);
    this.schedule();
  }

  private updateCompareControl(): void {
    const others = this.registry.size - 1;
    this.compareInput.disabled = others < 1 && !this.compareInput.checked;
    setText(this.compareLabel, others > 0 ? `Compare with ${others} other run${others === 1 ? '' : 's'}` : 'Compare runs (no other run yet)');
  }

  private summaryKey = '';

  private renderSummary(): void {
    const f = finalMetrics(this.run);
    const heading = this.run.status === 'running' ? 'Latest metrics' : 'Final metrics';
    const best = this.run.best;
    const bestText = best ? `Best ${best.monitor}: ${formatExact(best.value)} at epoch ${best.epoch}` : '';
    // This runs on every live update; rebuild only when the words change.
    const key = JSON.stringify([heading, f, bestText]);
    if (key === this.summaryKey) return;
    this.summaryKey = key;
    const items: Node[] = [h('h4', { text: f ? `${heading} (epoch ${f.epoch})` : heading })];
    if (f) {
      const dl = h('dl');
      for (const it of f.items) dl.append(h('dt', { text: it.key }), h('dd', { class: 'tl-mono', text: it.value }));
      items.push(dl);
    } else {
      items.push(h('p', { text: summaryText(this.run) }));
    }
    if (bestText) items.push(h('p', { class: 'tl-best', text: bestText }));
    this.summaryEl.replaceChildren(...items);
  }
}
