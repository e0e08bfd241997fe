/**
 * Status bar progress while a cell trains: epoch, percent and ETA from the training outputs and
 * their per-batch messages. Clicking it interrupts the kernel (training stops after the batch).
 */
import * as vscode from 'vscode';
import { MIME } from '../common/mime';
import type { TrainingMessage, TrainingRun } from '../common/shapes';

interface RunProgress {
  notebook: vscode.NotebookDocument;
  run: Pick<TrainingRun, 'runId' | 'epochs' | 'batchesPerEpoch' | 'title' | 'phase'>;
  epoch: number;
  batch: number;
  etaSeconds?: number;
}

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export class TrainingStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('transferLab.training', vscode.StatusBarAlignment.Left, 50);
  private readonly runs = new Map<string, RunProgress>();
  private current: string | undefined;

  constructor() {
    this.item.name = 'Transfer Lab training';
  }

  /** A training output was shown or replaced. */
  onBundle(notebook: vscode.NotebookDocument, bundle: Record<string, unknown>): void {
    const run = bundle[MIME.training] as TrainingRun | undefined;
    if (!run || run.kind !== 'training') return;
    if (run.status !== 'running') {
      this.runs.delete(run.runId);
      if (this.current === run.runId) this.hide();
      return;
    }
    const last = run.history.at(-1);
    const p = this.runs.get(run.runId) ?? { notebook, run, epoch: (last?.epoch ?? 0) + 1, batch: 0 };
    p.run = run;
    p.etaSeconds = run.etaSeconds ?? p.etaSeconds;
    this.runs.set(run.runId, p);
    this.current = run.runId;
    this.render(p);
  }

  onMessage(_notebook: vscode.NotebookDocument, message: unknown): void {
    const m = message as TrainingMessage;
    if (!m || typeof m !== 'object' || !('runId' in m)) return;
    const p = this.runs.get(m.runId);
    if (!p) return;
    if (m.type === 'batch') {
      p.epoch = m.point.epoch;
      p.batch = m.point.batch + 1;
      p.etaSeconds = m.etaSeconds ?? p.etaSeconds;
    } else if (m.type === 'epoch') {
      p.epoch = m.point.epoch + 1;
      p.batch = 0;
      p.etaSeconds = m.etaSeconds ?? p.etaSeconds;
    } else if (m.type === 'status' && m.status !== 'running') {
      this.runs.delete(m.runId);
      if (this.current === m.runId) this.hide();
      return;
    }
    this.current = m.runId;
    this.render(p);
  }

  /** A cell of `notebook` ended: whatever it trained is over. Other notebooks keep theirs. */
  clear(notebook: vscode.NotebookDocument): void {
    for (const [id, p] of this.runs) if (p.notebook === notebook) this.runs.delete(id);
    const current = this.current && this.runs.get(this.current);
    if (current) this.render(current);
    else {
      const other = [...this.runs.values()].at(-1);
      if (other) this.render(other);
      else this.hide();
    }
  }

  private render(p: RunProgress): void {
    const { epochs, batchesPerEpoch } = p.run;
    const epoch = Math.min(p.epoch, epochs);
    const done = batchesPerEpoch ? ((epoch - 1) * batchesPerEpoch + Math.min(p.batch, batchesPerEpoch)) / (epochs * batchesPerEpoch) : (epoch - 1) / epochs;
    const eta = formatEta(p.etaSeconds);
    const what = p.run.phase ? `${p.run.phase} ` : '';
    this.item.text = `$(loading~spin) Training ${what}epoch ${epoch}/${epochs} · ${Math.round(done * 100)}%${eta ? ` · ETA ${eta}` : ''}`;
    this.item.tooltip = `${p.run.title ?? 'Training'} in ${p.notebook.uri.path.split('/').pop()} — click to stop after the current batch (the model keeps its weights)`;
    // Stops the notebook that trains, not whichever editor is active.
    this.item.command = { command: 'transferLab.interruptKernel', title: 'Stop training', arguments: [{ notebookUri: p.notebook.uri.toString() }] };
    this.current = p.run.runId;
    this.item.show();
  }

  private hide(): void {
    this.current = undefined;
    this.item.hide();
  }

  dispose(): void {
    this.item.dispose();
  }
}
