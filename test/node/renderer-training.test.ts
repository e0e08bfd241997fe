import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainingRun } from '../../src/common/shapes';
import { applyMessage, batchX, chartLabel, mergeRun, progressText, statusText, summaryText, xMax } from '../../renderers/shaping/training';
import { PanelShaper } from '../../renderers/shaping/panel';
import { toTrainingMessage, toTrainingRun, DataError } from '../../renderers/shaping/validate';

function run(partial: Partial<TrainingRun> = {}): TrainingRun {
  return { kind: 'training', version: 1, runId: 'r1', status: 'running', epochs: 5, batchesPerEpoch: 4, history: [], batches: [], ...partial };
}

function batches(epochs: number, bpe: number) {
  const out = [];
  for (let e = 1; e <= epochs; e++) for (let b = 0; b < bpe; b++) out.push({ epoch: e, batch: b, step: (e - 1) * bpe + b + 1, loss: 1 / ((e - 1) * bpe + b + 1), acc: 0.5 });
  return out;
}

test('history becomes train and val datasets on an epoch x-axis', () => {
  const r = run({
    history: [
      { epoch: 2, loss: 0.5, val_loss: 0.6, acc: 0.8, val_acc: 0.7 },
      { epoch: 1, loss: 0.9, val_loss: 1.0, acc: 0.6, val_acc: 0.5 },
    ],
  });
  const merged = mergeRun(undefined, r); // sorts by epoch
  const loss = new PanelShaper('loss').build(merged, { smoothing: 0, showBatches: true, buckets: 500 });
  assert.deepEqual(loss.map((d) => d.id), ['r1:train', 'r1:val']);
  assert.deepEqual(loss[0].points.map((p) => [p.x, p.y]), [[1, 0.9], [2, 0.5]]);
  assert.deepEqual(loss[1].points.map((p) => [p.x, p.y]), [[1, 1.0], [2, 0.6]]);
  assert.equal(loss[1].label, 'val_loss');
  const acc = new PanelShaper('acc').build(merged, { smoothing: 0, showBatches: true, buckets: 500 });
  assert.deepEqual(acc.map((d) => d.label), ['acc', 'val_acc']);
});

test('batch points sit inside their epoch, the last batch at the epoch point', () => {
  assert.equal(batchX({ epoch: 1, batch: 3, step: 4 }, 4), 1);
  assert.equal(batchX({ epoch: 2, batch: 0, step: 5 }, 4), 1.25);
  const r = run({ batches: batches(2, 4) });
  const ds = new PanelShaper('loss').build(r, { smoothing: 0, showBatches: true, buckets: 500 });
  assert.equal(ds[0].kind, 'batch');
  assert.deepEqual(ds[0].points.map((p) => p.x), [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2]);
  assert.deepEqual([ds[0].points[4].epoch, ds[0].points[4].batch, ds[0].points[4].step], [2, 0, 5]);
});

test('smoothing applies to the batch series, with a faint raw twin; epoch values stay as recorded', () => {
  const r = run({ batches: batches(1, 4), history: [{ epoch: 1, loss: 0.4, val_loss: 0.5 }] });
  const ds = new PanelShaper('loss').build(r, { smoothing: 0.6, showBatches: true, buckets: 500 });
  assert.deepEqual(ds.map((d) => [d.id, d.shadow]), [
    ['r1:batch', false],
    ['r1:batch:raw', true],
    ['r1:train', false],
    ['r1:val', false],
  ]);
  const b = ds[0].points;
  assert.equal(b[0].y, 1); // debiased: first point unchanged
  assert.equal(b[1].raw, 0.5);
  assert.ok(b[1].y > b[1].raw, 'smoothed lags behind a falling loss');
  assert.equal(ds[2].points[0].y, 0.4);
});

test('without batches on the chart, smoothing applies to the epoch series', () => {
  const r = run({ history: [{ epoch: 1, loss: 1, val_loss: 1 }, { epoch: 2, loss: 0.5, val_loss: 0.8 }] });
  const ds = new PanelShaper('loss').build(r, { smoothing: 0.5, showBatches: false, buckets: 500 });
  assert.deepEqual(ds.map((d) => d.id), ['r1:train', 'r1:train:raw', 'r1:val', 'r1:val:raw']);
  assert.equal(ds[0].points[1].raw, 0.5);
  assert.ok(Math.abs(ds[0].points[1].y - (0.5 * 0.5 * 1 + 0.5 * 0.5) / 0.75) < 1e-12);
});

test('live batches are appended incrementally and decimated to the plot width', () => {
  const shaper = new PanelShaper('loss');
  const r = run({ epochs: 100, batchesPerEpoch: 1000 });
  for (const p of batches(100, 1000)) {
    applyMessage(r, { type: 'batch', runId: 'r1', point: p });
  }
  const ds = shaper.build(r, { smoothing: 0, showBatches: true, buckets: 400 });
  assert.equal(shaper.batchCount, 100_000);
  assert.ok(ds[0].points.length <= 1600, `drew ${ds[0].points.length}`);
  applyMessage(r, { type: 'batch', runId: 'r1', point: { epoch: 101, batch: 0, step: 100_001, loss: 7 } });
  const ds2 = shaper.build(r, { smoothing: 0, showBatches: true, buckets: 400 });
  assert.equal(shaper.batchCount, 100_001);
  assert.deepEqual([ds2[0].points.at(-1)!.step, ds2[0].points.at(-1)!.y], [100_001, 7]);
});

test('long epoch histories are decimated too, keeping spikes, the last epoch and the real values', () => {
  const history = Array.from({ length: 5000 }, (_, i) => ({ epoch: i + 1, loss: 1 + Math.sin(i), val_loss: 2 }));
  history[1234].loss = 40;
  const r = run({ epochs: 5000, history });
  const ds = new PanelShaper('loss').build(r, { smoothing: 0, showBatches: false, buckets: 300 });
  assert.deepEqual(ds.map((d) => [d.id, d.total]), [['r1:train', 5000], ['r1:val', 5000]]);
  const train = ds[0].points;
  assert.ok(train.length <= 602, `drew ${train.length}`);
  assert.deepEqual([train[0].epoch, train.at(-1)!.epoch], [1, 5000]);
  assert.ok(train.some((p) => p.epoch === 1235 && p.y === 40 && p.raw === 40), 'spike drawn with its value');
  for (const p of train) assert.equal(p.y, history[p.epoch - 1].loss);
});

test('hiding batches or comparing runs leaves only epoch series', () => {
  const r = run({ batches: batches(1, 4), history: [{ epoch: 1, loss: 0.4 }] });
  const other = run({ runId: 'r2', title: 'fine-tune', history: [{ epoch: 1, loss: 0.3, val_loss: 0.35 }] });
  assert.deepEqual(new PanelShaper('loss').build(r, { smoothing: 0, showBatches: false, buckets: 100 }).map((d) => d.id), ['r1:train']);
  const cmp = new PanelShaper('loss').build(r, { smoothing: 0, showBatches: true, buckets: 100, compare: [r, other] });
  assert.deepEqual(cmp.map((d) => [d.id, d.runIndex, d.label]), [
    ['r1:train', 0, 'loss'],
    ['r2:train', 1, 'fine-tune · loss'],
    ['r2:val', 1, 'fine-tune · val_loss'],
  ]);
});

test('messages: batches append, epochs upsert, a late "running" does not undo the end', () => {
  const r = run();
  assert.equal(applyMessage(r, { type: 'batch', runId: 'other', point: { epoch: 1, batch: 0, step: 1, loss: 1 } }), undefined);
  applyMessage(r, { type: 'batch', runId: 'r1', point: { epoch: 1, batch: 0, step: 1, loss: 1 }, throughput: 120, etaSeconds: 30 });
  applyMessage(r, { type: 'batch', runId: 'r1', point: { epoch: 1, batch: 1, step: 2, loss: 0.8 } });
  const before = r.batches;
  applyMessage(r, { type: 'batch', runId: 'r1', point: { epoch: 1, batch: 1, step: 2, loss: 0.7 } });
  assert.notEqual(r.batches, before, 'a replacement gives a new array so shapers rebuild');
  assert.deepEqual(r.batches.map((b) => b.loss), [1, 0.7]);
  applyMessage(r, { type: 'epoch', runId: 'r1', point: { epoch: 1, loss: 0.9 } });
  applyMessage(r, { type: 'epoch', runId: 'r1', point: { epoch: 1, val_loss: 0.95 } });
  assert.deepEqual(r.history, [{ epoch: 1, loss: 0.9, val_loss: 0.95 }]);
  assert.equal(r.throughput, 120);
  applyMessage(r, { type: 'status', runId: 'r1', status: 'done' });
  assert.equal(applyMessage(r, { type: 'status', runId: 'r1', status: 'running' }), undefined);
  assert.equal(r.status, 'done');
});

test('a replaced output merges with newer live points instead of dropping them', () => {
  const live = run({ batches: batches(2, 4), history: [{ epoch: 1, loss: 0.5 }, { epoch: 2, loss: 0.4 }] });
  // The output was written after epoch 1, with every other batch (decimated).
  const persisted = run({ batches: batches(1, 4).filter((_, i) => i % 2 === 0), history: [{ epoch: 1, loss: 0.5, val_loss: 0.55 }] });
  const m = mergeRun(live, persisted);
  assert.deepEqual(m.batches.map((b) => b.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(m.history, [{ epoch: 1, loss: 0.5, val_loss: 0.55 }, { epoch: 2, loss: 0.4 }]);
  // A different run under the same output id starts over.
  const fresh = mergeRun(live, run({ runId: 'r9' }));
  assert.equal(fresh.batches.length, 0);
});

test('texts: status, progress, summary and the canvas label', () => {
  const r = run({
    title: 'head',
    batches: [{ epoch: 3, batch: 1, step: 10, loss: 0.25 }],
    history: [{ epoch: 1, loss: 0.9 }, { epoch: 2, loss: 0.123456789, val_loss: 0.2, acc: 0.9, val_acc: 0.85, seconds: 3 }],
    throughput: 1234.4,
    etaSeconds: 75,
  });
  assert.equal(statusText(r), 'Training: epoch 2 of 5 finished');
  assert.equal(progressText(r), 'epoch 3, batch 2 of 4 · loss 0.25 · 1,234 samples/s · about 1 min 15 s left');
  assert.equal(summaryText(r), 'After epoch 2: loss 0.1234568, val_loss 0.2, acc 0.9, val_acc 0.85.');
  assert.match(chartLabel(r, 'loss'), /^Loss per epoch for head: training and validation, with per-batch values\. Epoch 2: loss 0\.1235, val_loss 0\.2\.$/);
  r.status = 'early-stopped';
  r.best = { epoch: 2, monitor: 'val_loss', value: 0.2 };
  assert.equal(statusText(r), 'Stopped early: 2 of 5 epochs in 3.0 s. Best val_loss 0.2 at epoch 2');
  assert.equal(progressText(r), '');
  assert.equal(summaryText(r).startsWith('Final (epoch 2)'), true);
  assert.equal(xMax(r), 5);
});

test('untrusted training data: NaN arrives as null and stays a gap; bad data is named', () => {
  const r = toTrainingRun({ kind: 'training', runId: 'x', status: 'running', epochs: 2, history: [{ epoch: 1, loss: null, val_loss: 0.5 }], batches: [] });
  assert.ok(Number.isNaN(r.history[0].loss));
  assert.throws(() => toTrainingRun({ kind: 'training', status: 'running' }), (e: Error) => e instanceof DataError && /"runId" must be a string/.test(e.message));
  assert.throws(() => toTrainingRun({ kind: 'training', runId: 'x', status: 'bogus' }), /"status" must be one of/);
  assert.throws(() => toTrainingRun({ kind: 'training', runId: 'x', status: 'done', history: [{ loss: 1 }] }), /history\[0\]: "epoch" must be a finite number/);
  assert.throws(() => toTrainingRun('nope'), /training output must be an object/);
  assert.equal(toTrainingMessage({ type: 'batch', runId: 'x', point: { epoch: 1 } }), undefined);
  assert.equal(toTrainingMessage({ hello: 1 }), undefined);
  assert.deepEqual(toTrainingMessage({ type: 'status', runId: 'x', status: 'done' }), { type: 'status', runId: 'x', status: 'done', message: undefined });
});

test('a shaper fed live batches one by one draws what a fresh one draws from the whole run', () => {
  const live = new PanelShaper('loss');
  const r = run({ epochs: 30, batchesPerEpoch: 200 });
  const all = batches(30, 200);
  for (const p of all) p.loss = 1 + Math.sin(p.step * 0.7) / p.step ** 0.3;
  all[2500].loss = NaN;
  for (const [k, smoothing] of [0, 0.6].entries()) {
    const opts = { smoothing, showBatches: true, buckets: 300 };
    for (let i = k * 3000; i < (k + 1) * 3000; i++) {
      applyMessage(r, { type: 'batch', runId: 'r1', point: all[i] });
      if (i % 97 === 0 || i % 3000 > 2990) live.buildBatches(r, opts);
    }
    assert.deepEqual(live.build(r, opts), new PanelShaper('loss').build(r, opts), `smoothing ${smoothing}`);
  }
});
