/** The training run as the renderer holds it: merging persisted state with live messages, and its texts. */
import type { BatchPoint, EpochPoint, TrainingMessage, TrainingRun } from '../../src/common/shapes';
import { formatDuration, formatExact, formatInt, formatShort } from './format';

export type MetricKey = 'loss' | 'acc';

export const METRICS: readonly { key: MetricKey; valKey: 'val_loss' | 'val_acc'; title: string }[] = [
  { key: 'loss', valKey: 'val_loss', title: 'Loss' },
  { key: 'acc', valKey: 'val_acc', title: 'Accuracy' },
];

const TERMINAL = new Set(['done', 'early-stopped', 'interrupted', 'error']);

export function isTerminal(run: TrainingRun): boolean {
  return TERMINAL.has(run.status);
}

function upsertEpoch(history: EpochPoint[], p: EpochPoint): void {
  let i = history.length;
  while (i > 0 && history[i - 1].epoch > p.epoch) i--;
  if (i > 0 && history[i - 1].epoch === p.epoch) history[i - 1] = { ...history[i - 1], ...p };
  else history.splice(i, 0, p);
}

/**
 * Appends in place (the common case, which the chart shapers follow incrementally). Anything
 * else gives the run a new array, which tells them to rebuild.
 */
function upsertBatch(run: TrainingRun, p: BatchPoint): void {
  const batches = run.batches;
  const n = batches.length;
  if (n === 0 || batches[n - 1].step < p.step) {
    batches.push(p);
    return;
  }
  const copy = [...batches];
  let i = n;
  while (i > 0 && copy[i - 1].step > p.step) i--;
  if (i > 0 && copy[i - 1].step === p.step) copy[i - 1] = p;
  else copy.splice(i, 0, p);
  run.batches = copy;
}

/** Applies a live message to `run` in place. Returns what changed, or undefined for no change. */
export function applyMessage(run: TrainingRun, msg: TrainingMessage): 'batch' | 'epoch' | 'status' | undefined {
  if (msg.runId !== run.runId) return undefined;
  switch (msg.type) {
    case 'batch':
      upsertBatch(run, msg.point);
      break;
    case 'epoch':
      upsertEpoch(run.history, msg.point);
      break;
    case 'status':
      // A late "running" must not undo an ending that already arrived.
      if (isTerminal(run) && msg.status === 'running') return undefined;
      run.status = msg.status;
      if (msg.message !== undefined) run.message = msg.message;
      return 'status';
  }
  if (msg.throughput !== undefined) run.throughput = msg.throughput;
  if (msg.etaSeconds !== undefined) run.etaSeconds = msg.etaSeconds;
  return msg.type;
}

/**
 * The output item was replaced (about once per epoch). It holds the full state at the time it was
 * written, but messages that arrived after that are newer, and the persisted batches may be
 * decimated: keep the union, by step and by epoch.
 */
export function mergeRun(current: TrainingRun | undefined, incoming: TrainingRun): TrainingRun {
  const merged: TrainingRun = { ...incoming, history: [...incoming.history], batches: [] };
  merged.history.sort((a, b) => a.epoch - b.epoch);
  const inc = [...incoming.batches].sort((a, b) => a.step - b.step);
  if (!current || current.runId !== incoming.runId) {
    merged.batches = dedupeSteps(inc);
    return merged;
  }
  for (const p of current.history) if (!merged.history.some((q) => q.epoch === p.epoch)) upsertEpoch(merged.history, p);
  // Two sorted lists → one, the persisted point winning on equal steps.
  const a = current.batches;
  const out: BatchPoint[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < inc.length) {
    if (j >= inc.length || (i < a.length && a[i].step < inc[j].step)) out.push(a[i++]);
    else {
      if (i < a.length && a[i].step === inc[j].step) i++;
      out.push(inc[j++]);
    }
  }
  merged.batches = dedupeSteps(out);
  if (isTerminal(current) && !isTerminal(incoming)) {
    merged.status = current.status;
    if (current.message !== undefined) merged.message = current.message;
  }
  return merged;
}

function dedupeSteps(sorted: BatchPoint[]): BatchPoint[] {
  const out: BatchPoint[] = [];
  for (const p of sorted) {
    if (out.length && out[out.length - 1].step === p.step) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

/** Batches per epoch: declared, or guessed from the largest batch index seen. */
export function batchesPerEpoch(run: TrainingRun): number {
  if (run.batchesPerEpoch && run.batchesPerEpoch > 0) return run.batchesPerEpoch;
  let max = 0;
  for (const b of run.batches) if (b.batch + 1 > max) max = b.batch + 1;
  return Math.max(1, max);
}

/** Where a batch sits on the epoch axis: the end of epoch e is x = e, like its epoch point. */
export function batchX(p: BatchPoint, bpe: number): number {
  return p.epoch - 1 + (p.batch + 1) / bpe;
}

export function hasMetric(run: TrainingRun, key: MetricKey): boolean {
  const val = key === 'loss' ? 'val_loss' : 'val_acc';
  return run.history.some((p) => p[key] !== undefined || p[val] !== undefined) || run.batches.some((b) => b[key] !== undefined);
}

/** The x-axis end: the planned epochs, so the axis does not rescale every epoch while training. */
export function xMax(run: TrainingRun): number {
  const last = run.history.length ? run.history[run.history.length - 1].epoch : 0;
  const lastBatch = run.batches.length ? run.batches[run.batches.length - 1].epoch : 0;
  return Math.max(1, run.epochs || 0, last, lastBatch);
}

export function runLabel(run: TrainingRun): string {
  const parts = [run.title, run.phase].filter((s): s is string => !!s && s.trim() !== '');
  return parts.length ? parts.join(' · ') : `run ${run.runId.slice(0, 8)}`;
}

const STATUS_WORDS: Record<TrainingRun['status'], string> = {
  running: 'Training',
  done: 'Done',
  'early-stopped': 'Stopped early',
  interrupted: 'Interrupted',
  error: 'Failed',
};

/** Epoch-level status: the text of the role="status" line, so it changes at most once per epoch. */
export function statusText(run: TrainingRun): string {
  const done = run.history.length ? run.history[run.history.length - 1].epoch : 0;
  const total = run.epochs ? ` of ${run.epochs}` : '';
  let s = `${STATUS_WORDS[run.status]}: ${run.status === 'running' ? `epoch ${done}${total} finished` : `${done}${total} epochs`}`;
  if (run.status !== 'running') {
    const seconds = run.history.reduce((t, p) => t + (p.seconds ?? 0), 0);
    if (seconds > 0) s += ` in ${formatDuration(seconds)}`;
  }
  if (run.best) s += `. Best ${run.best.monitor} ${formatShort(run.best.value)} at epoch ${run.best.epoch}`;
  if (run.message) s += `. ${run.message}`;
  return s;
}

/** Batch-level progress; changes with every message, so it is not a live region. */
export function progressText(run: TrainingRun): string {
  if (run.status !== 'running') return '';
  const parts: string[] = [];
  const last = run.batches[run.batches.length - 1];
  const lastEpoch = run.history.length ? run.history[run.history.length - 1].epoch : 0;
  if (last && last.epoch > lastEpoch) {
    const bpe = run.batchesPerEpoch ? ` of ${run.batchesPerEpoch}` : '';
    parts.push(`epoch ${last.epoch}, batch ${last.batch + 1}${bpe}`);
    if (last.loss !== undefined) parts.push(`loss ${formatShort(last.loss)}`);
  }
  if (run.throughput !== undefined) parts.push(`${formatInt(run.throughput)} samples/s`);
  if (run.etaSeconds !== undefined) parts.push(`about ${formatDuration(run.etaSeconds)} left`);
  return parts.join(' · ');
}

export interface SummaryItem {
  key: string;
  value: string;
}

/** The last epoch's metrics, exact, for the text summary beside the chart. */
export function finalMetrics(run: TrainingRun): { epoch: number; items: SummaryItem[] } | undefined {
  const last = run.history[run.history.length - 1];
  if (!last) return undefined;
  const items: SummaryItem[] = [];
  for (const k of ['loss', 'val_loss', 'acc', 'val_acc', 'lr'] as const) {
    const v = last[k];
    if (v !== undefined) items.push({ key: k, value: formatExact(v) });
  }
  return { epoch: last.epoch, items };
}

export function summaryText(run: TrainingRun): string {
  const f = finalMetrics(run);
  if (!f) return 'No epoch has finished yet.';
  const head = run.status === 'running' ? `After epoch ${f.epoch}` : `Final (epoch ${f.epoch})`;
  return `${head}: ${f.items.map((i) => `${i.key} ${i.value}`).join(', ')}.`;
}

/** The canvas's accessible name: what it shows and where it ended. */
export function chartLabel(run: TrainingRun, key: MetricKey): string {
  const m = METRICS.find((x) => x.key === key)!;
  const last = run.history[run.history.length - 1];
  let s = `${m.title} per epoch for ${runLabel(run)}: training and validation`;
  if (run.batches.length) s += ', with per-batch values';
  if (last) {
    const tr = last[key];
    const va = last[m.valKey];
    const vals = [tr !== undefined ? `${key} ${formatShort(tr)}` : '', va !== undefined ? `${m.valKey} ${formatShort(va)}` : ''].filter(Boolean);
    s += `. Epoch ${last.epoch}${vals.length ? ': ' + vals.join(', ') : ''}`;
  } else {
    s += '. No epoch has finished yet';
  }
  return s + '.';
}
