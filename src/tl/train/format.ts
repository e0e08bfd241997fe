/** Text for training runs: the history table (the chart's text fallback) and a fit's one-line summary. */
import type { EpochPoint, TrainingRun } from '../../common/shapes';
import { describeUnreadable } from '../data/readable';
import type { FitResult } from './options';

export function fmt(v: number | undefined, digits = 4): string {
  if (v === undefined) return '';
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

/** The text/plain fallback: one row per epoch with the final metrics, then the status. */
export function formatHistoryTable(run: TrainingRun): string {
  const cols: [keyof EpochPoint, string][] = [
    ['epoch', 'epoch'],
    ['loss', 'loss'],
    ['acc', 'acc'],
    ['val_loss', 'val_loss'],
    ['val_acc', 'val_acc'],
    ['lr', 'lr'],
    ['seconds', 'time'],
  ];
  const used = cols.filter(([k]) => k === 'epoch' || run.history.some((p) => p[k] !== undefined));
  const rows = run.history.map((p) =>
    used.map(([k]) => (k === 'epoch' ? String(p.epoch) : k === 'seconds' ? `${fmt(p.seconds, 1)}s` : fmt(p[k] as number | undefined))),
  );
  const widths = used.map(([, h], i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const title = `${run.title ?? 'Training'}${run.phase ? ` [${run.phase}]` : ''}: ${run.status}, ${run.history.length}/${run.epochs} epochs`;
  const out = [title];
  if (rows.length) out.push(line(used.map(([, h]) => h)), ...rows.map(line));
  if (run.best) out.push(`best ${run.best.monitor} ${fmt(run.best.value)} at epoch ${run.best.epoch}`);
  if (run.message) out.push(run.message);
  return out.join('\n');
}

export function summarizeFit(r: FitResult): string {
  const last = r.history[r.history.length - 1];
  const metrics = last ? (['loss', 'acc', 'val_loss', 'val_acc'] as const).filter((k) => last[k] !== undefined).map((k) => `${k} ${fmt(last[k])}`).join(', ') : '';
  const best = r.best ? `; best ${r.best.monitor} ${fmt(r.best.value)} at epoch ${r.best.epoch}` : '';
  const cache = r.embeddingCache ? `; head trained on cached embeddings (${r.embeddingCache.samples} samples)` : '';
  const stopped = r.stoppedReason ? `\nstopped: ${r.stoppedReason}` : '';
  const unreadable = r.unreadable?.length ? `\n${describeUnreadable(r.unreadable)}` : '';
  return `fit ${r.status} after ${r.history.length} epoch(s) in ${r.seconds.toFixed(1)} s${metrics ? `: ${metrics}` : ''}${best}${cache}${stopped}${unreadable}`;
}
