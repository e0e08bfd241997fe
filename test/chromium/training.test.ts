/** The training chart in headless Chromium: live messages, output replacement, compare, theme, timings. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainingMessage } from '../../src/common/shapes';
import { frame, inspect, liveCharts, median, MIME, openHarness, render, screenshot, send, setTheme, THEMES, type Harness, type TlWindow } from './harness';
import { batchPoints, epochPoints, HOSTILE, trainingRun } from './fixtures';

interface DatasetInfo {
  id: string;
  label: string;
  points: number;
  first?: { x: number; y: number };
  last?: { x: number; y: number };
  borderColor: string;
  borderDash: number[];
  lastPixel?: { x: number; y: number };
  lastInk?: boolean;
  syncedPoints: number;
}
interface ChartInfo {
  metric: string;
  chartId: number;
  hidden: boolean;
  ariaLabel: string;
  role: string;
  xMax: number;
  tickColor: string;
  legendColor: string;
  tooltip?: { title: string[]; lines: string[] };
  datasets: DatasetInfo[];
}
interface TrainingInfo {
  kind: string;
  runId: string;
  status: string;
  lastUpdateMs: number;
  lastDrawnPoints: number;
  lastRedraw: string;
  batches: number;
  epochs: number;
  charts: ChartInfo[];
}

const one = async (h: Harness, id: string) => (await inspect<TrainingInfo>(h.page, id))[0];
const chart = (t: TrainingInfo, metric: string) => t.charts.find((c) => c.metric === metric)!;
const ds = (c: ChartInfo, id: string) => c.datasets.find((d) => d.id === id);

describe('training chart', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness('light');
  });
  after(async () => {
    await h?.close();
  });

  test('draws the output item: loss and accuracy, train and val, batch detail, accessible text', async () => {
    const run = trainingRun({ runId: 'run-a', epochs: 10, done: 3, bpe: 20, title: 'head' });
    await render(h.page, 'a', MIME.training, run);
    const t = await one(h, 'a');
    assert.deepEqual(t.charts.map((c) => c.metric), ['loss', 'acc']);
    const loss = chart(t, 'loss');
    assert.deepEqual(loss.datasets.map((d) => d.id), ['run-a:batch', 'run-a:train', 'run-a:val']);
    assert.equal(ds(loss, 'run-a:batch')!.points, 60);
    assert.deepEqual(ds(loss, 'run-a:train')!.last, { x: 3, y: run.history[2].loss });
    assert.deepEqual(ds(loss, 'run-a:val')!.borderDash, [6, 4], 'validation is dashed, not only another colour');
    assert.equal(loss.xMax, 10, 'axis spans the planned epochs');
    assert.equal(loss.role, 'img');
    assert.match(loss.ariaLabel, /^Loss per epoch for head: training and validation, with per-batch values\. Epoch 3: loss [\d.]+, val_loss [\d.]+\.$/);
    const status = h.page.locator('#out-a [role=status]').first();
    assert.equal(await status.textContent(), 'Training: epoch 3 of 10 finished');
    const summary = await h.page.locator('#out-a .tl-summary').innerText();
    assert.match(summary, /Latest metrics \(epoch 3\)/);
    assert.ok(summary.includes(String(Number(run.history[2].val_loss!.toPrecision(7)))), summary);
    assert.equal(await h.page.locator('#out-a canvas[role=img][aria-label]').count(), 2);
    assert.deepEqual(h.errors, []);
  });

  test('live messages update the same Chart in place; the output replacement keeps it', async () => {
    const before = await one(h, 'a');
    const ids = before.charts.map((c) => c.chartId);
    const charts0 = (await liveCharts(h.page)).length;
    const msgs: TrainingMessage[] = batchPoints(10, 20, 1)
      .filter((b) => b.epoch === 4)
      .map((point) => ({ type: 'batch', runId: 'run-a', point, throughput: 900, etaSeconds: 14 }));
    await send(h.page, msgs.slice(0, 10));
    await frame(h.page);
    let t = await one(h, 'a');
    assert.equal(ds(chart(t, 'loss'), 'run-a:batch')!.points, 70);
    assert.deepEqual(ds(chart(t, 'loss'), 'run-a:batch')!.last!.y, msgs[9].type === 'batch' ? msgs[9].point.loss : NaN);
    for (const metric of ['loss', 'acc']) assert.equal(ds(chart(t, metric), 'run-a:batch')!.lastInk, true, `${metric}: the newest batch is drawn`);
    assert.match(await h.page.locator('#out-a .tl-progress').innerText(), /^epoch 4, batch 10 of 20 · loss [\d.]+ · 900 samples\/s · about 14 s left$/);
    await send(h.page, msgs.slice(10, 11));
    await frame(h.page);
    t = await one(h, 'a');
    assert.equal(t.lastRedraw, 'quick', 'a batch inside the axes redraws only the batch lines');
    assert.equal(ds(chart(t, 'loss'), 'run-a:batch')!.points, 71);
    // The Chart's own copy of the points (tooltips, hover) waits; once batches pause, it catches up with what is drawn.
    await h.page.waitForFunction(() => {
      const info = (window as unknown as TlWindow).tl.inspect('a')[0] as TrainingInfo;
      return info.charts.every((c) => c.datasets.every((d) => d.syncedPoints === d.points));
    });
    // The batch line is drawn under the Chart, and its points still answer the pointer.
    const lastBatch = ds(chart(await one(h, 'a'), 'loss'), 'run-a:batch')!.lastPixel!;
    const box = (await h.page.locator('#out-a canvas[role=img]').first().boundingBox())!;
    await h.page.mouse.move(box.x + lastBatch.x, box.y + lastBatch.y);
    await frame(h.page);
    assert.deepEqual(chart(await one(h, 'a'), 'loss').tooltip?.title, ['Epoch 4, batch 11 (step 71)']);
    await h.page.mouse.move(0, 0);
    await send(h.page, msgs.slice(11));
    const ep4 = epochPoints(10, 20, 1)[3];
    await send(h.page, [{ type: 'epoch', runId: 'run-a', point: ep4 }]);
    await frame(h.page);
    t = await one(h, 'a');
    assert.deepEqual(ds(chart(t, 'loss'), 'run-a:val')!.last, { x: 4, y: ep4.val_loss });
    assert.equal(await h.page.locator('#out-a [role=status]').first().textContent(), 'Training: epoch 4 of 10 finished');

    // VS Code persists the output about once per epoch: dispose, clear the element, render again.
    // The persisted batches are decimated (every other one) and lag behind the messages.
    const persisted = trainingRun({ runId: 'run-a', epochs: 10, done: 4, bpe: 20, title: 'head' });
    persisted.batches = persisted.batches.filter((b) => b.step % 2 === 0 || b.epoch < 4);
    await h.page.evaluate(() => (window as unknown as TlWindow).tl.clear('a'));
    await render(h.page, 'a', MIME.training, persisted);
    t = await one(h, 'a');
    assert.deepEqual(t.charts.map((c) => c.chartId), ids, 'same Chart instances');
    assert.equal((await liveCharts(h.page)).length, charts0, 'no new Chart');
    assert.equal(t.batches, 80, 'live points kept through the decimated output');
    assert.equal(await h.page.locator('#out-a .tl-training').count(), 1);
  });

  test('messages for a run whose output is not drawn yet are applied when it is', async () => {
    const run = trainingRun({ runId: 'run-late', epochs: 3, done: 0, bpe: 5, title: 'late' });
    const early = batchPoints(3, 5, 3).slice(0, 3).map((point) => ({ type: 'batch', runId: 'run-late', point }));
    await send(h.page, early);
    await render(h.page, 'late', MIME.training, run);
    const t = await one(h, 'late');
    assert.equal(t.batches, 3);
    await h.page.evaluate(() => (window as unknown as TlWindow).tl.remove('late'));
  });

  test('the end of training: final state saved in the output redraws the same on reopen', async () => {
    await send(h.page, [{ type: 'status', runId: 'run-a', status: 'early-stopped', message: 'val_loss stopped improving' }]);
    await frame(h.page);
    assert.match(await h.page.locator('#out-a [role=status]').first().innerText(), /^Stopped early: 4 of 10 epochs in 10 s\. val_loss stopped improving$/);
    const final = trainingRun({ runId: 'run-a', epochs: 10, done: 4, bpe: 20, title: 'head', status: 'early-stopped' });
    final.best = { epoch: 3, monitor: 'val_loss', value: final.history[2].val_loss! };
    await render(h.page, 'a', MIME.training, final);
    const live = await one(h, 'a');

    // Reopen: a fresh page with only the saved output, no messages.
    const h2 = await openHarness('light');
    try {
      await render(h2.page, 'a', MIME.training, JSON.parse(JSON.stringify(final)));
      const reopened = await one(h2, 'a');
      for (const metric of ['loss', 'acc']) {
        const a = chart(live, metric).datasets.map((d) => [d.id, d.points, d.last]);
        const b = chart(reopened, metric).datasets.map((d) => [d.id, d.points, d.last]);
        assert.deepEqual(b, a, `${metric} redraws identically`);
      }
      assert.match(await h2.page.locator('#out-a .tl-summary').innerText(), /Final metrics \(epoch 4\)[\s\S]*Best val_loss: [\d.]+ at epoch 3/);
      assert.deepEqual(h2.errors, []);
    } finally {
      await h2.close();
    }
  });

  test('several fits get their own charts; compare overlays the runs of the notebook', async () => {
    const ft = trainingRun({ runId: 'run-b', epochs: 6, done: 6, bpe: 20, title: 'fine-tune', phase: 'phase 2', seed: 7 });
    await render(h.page, 'b', MIME.training, ft);
    const a = await one(h, 'a');
    const b = await one(h, 'b');
    assert.notDeepEqual(a.charts.map((c) => c.chartId), b.charts.map((c) => c.chartId));
    assert.equal(await h.page.locator('#out-b canvas[role=img]').count(), 2);
    const toggle = h.page.locator('#out-b label', { hasText: 'Compare with 1 other run' }).locator('input');
    await toggle.check();
    await frame(h.page);
    const cmp = chart(await one(h, 'b'), 'loss');
    assert.deepEqual(cmp.datasets.map((d) => [d.id, d.label]), [
      ['run-b:train', 'loss'],
      ['run-b:val', 'val_loss'],
      ['run-a:train', 'head · loss'],
      ['run-a:val', 'head · val_loss'],
    ]);
    assert.equal(cmp.xMax, 10, 'axis covers the longest run');
    assert.notEqual(ds(cmp, 'run-a:train')!.borderColor, ds(cmp, 'run-b:train')!.borderColor, 'each run its own colour');
    await screenshot(h.page, 'training-compare-light', '#out-b');
    await toggle.uncheck();
    await frame(h.page);
  });

  test('smoothing control: smoothed line over a faint raw one; tooltips show exact values', async () => {
    const slider = h.page.locator('#out-a input[type=range]');
    await slider.fill('0.8');
    await frame(h.page);
    const t = await one(h, 'a');
    const loss = chart(t, 'loss');
    assert.deepEqual(loss.datasets.map((d) => d.id), ['run-a:batch', 'run-a:batch:raw', 'run-a:train', 'run-a:val']);
    assert.notEqual(ds(loss, 'run-a:batch')!.last!.y, ds(loss, 'run-a:batch:raw')!.last!.y);
    assert.equal(await h.page.locator('#out-a output').innerText(), '0.80');
    await screenshot(h.page, 'training-smoothed-light', '#out-a');

    // Batches hidden: the epoch series are smoothed instead. Hover the last validation point:
    // the tooltip shows its smoothed value and the exact recorded one.
    await h.page.locator('#out-a label', { hasText: 'Batches' }).locator('input').uncheck();
    await frame(h.page);
    let noBatches = chart(await one(h, 'a'), 'loss');
    assert.deepEqual(noBatches.datasets.map((d) => d.id), ['run-a:train', 'run-a:train:raw', 'run-a:val', 'run-a:val:raw']);
    // With batches hidden, a live batch changes nothing drawn: the Chart is left as it is.
    const late = batchPoints(10, 20, 1)[80];
    await send(h.page, [{ type: 'batch', runId: 'run-a', point: late }]);
    await frame(h.page);
    const afterBatch = await one(h, 'a');
    assert.equal(afterBatch.lastRedraw, 'quick');
    noBatches = chart(afterBatch, 'loss');
    assert.deepEqual(noBatches.datasets.map((d) => d.id), ['run-a:train', 'run-a:train:raw', 'run-a:val', 'run-a:val:raw']);
    const val = ds(noBatches, 'run-a:val')!;
    const box = (await h.page.locator('#out-a canvas').first().boundingBox())!;
    await h.page.mouse.move(box.x + val.lastPixel!.x, box.y + val.lastPixel!.y);
    await frame(h.page);
    const tip = chart(await one(h, 'a'), 'loss').tooltip!;
    assert.ok(tip, 'tooltip shown');
    assert.deepEqual(tip.title, ['Epoch 4']);
    const raw = trainingRun({ runId: 'run-a', epochs: 10, done: 4, bpe: 20 }).history[3].val_loss!;
    const line = tip.lines.find((l) => l.startsWith('val_loss:'));
    assert.ok(line, tip.lines.join(' | '));
    assert.ok(line!.endsWith(`(raw ${Number(raw.toPrecision(7))})`), line);
    await h.page.mouse.move(0, 0);
    await h.page.locator('#out-a label', { hasText: 'Batches' }).locator('input').check();
    await slider.fill('0');
    await frame(h.page);
  });

  test('a hostile title is text, never HTML', async () => {
    const run = trainingRun({ runId: 'run-evil', epochs: 2, done: 1, bpe: 4, title: HOSTILE });
    await render(h.page, 'evil', MIME.training, run);
    assert.equal(await h.page.locator('#out-evil img').count(), 0);
    assert.equal(await h.page.locator('#out-evil h3').textContent(), HOSTILE);
    assert.deepEqual(h.dialogs, []);
    await h.page.evaluate(() => (window as unknown as TlWindow).tl.remove('evil'));
  });

  test('view settings live in the renderer state and survive the view being rebuilt', async () => {
    const run = trainingRun({ runId: 'run-c', epochs: 3, done: 2, bpe: 10, title: 'settings' });
    await render(h.page, 'c', MIME.training, run);
    await h.page.locator('#out-c input[type=range]').fill('0.3');
    await h.page.locator('#out-c label', { hasText: 'Batches' }).locator('input').uncheck();
    await h.page.evaluate(() => (window as unknown as TlWindow).tl.remove('c'));
    await h.page.waitForTimeout(1100); // past the re-render grace: the view is gone
    await render(h.page, 'c2', MIME.training, run);
    assert.equal(await h.page.locator('#out-c2 output').innerText(), '0.30');
    assert.equal(await h.page.locator('#out-c2 label', { hasText: 'Batches' }).locator('input').isChecked(), false);
    const t = await one(h, 'c2');
    assert.deepEqual(chart(t, 'loss').datasets.map((d) => d.id), ['run-c:train', 'run-c:train:raw', 'run-c:val', 'run-c:val:raw']);
    await h.page.evaluate(() => (window as unknown as TlWindow).tl.remove('c2'));
  });

  test('bad data gives a clear error, as text', async () => {
    await render(h.page, 'bad', MIME.training, { kind: 'training', runId: 7, status: 'running' });
    assert.equal(await h.page.locator('#out-bad [role=alert]').innerText(), 'Transfer Lab could not draw this output: training output: "runId" must be a string');
    await render(h.page, 'bad2', MIME.training, '{not json');
    assert.match(await h.page.locator('#out-bad2 [role=alert]').innerText(), /^Transfer Lab could not draw this output: .*JSON/);
  });

  test('theme: colours come from --vscode-* variables and follow a theme change', async () => {
    await screenshot(h.page, 'training-light', '#out-a');
    for (const theme of ['dark', 'high-contrast', 'light'] as const) {
      await setTheme(h.page, theme);
      const t = await one(h, 'a');
      const loss = chart(t, 'loss');
      const blue = THEMES[theme].vars['--vscode-charts-blue'];
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(blue.slice(i, i + 2), 16));
      assert.equal(ds(loss, 'run-a:train')!.borderColor, blue, `${theme}: train line is --vscode-charts-blue`);
      assert.equal(ds(loss, 'run-a:batch')!.borderColor, `rgba(${r}, ${g}, ${b}, 0.55)`);
      assert.equal(loss.legendColor, THEMES[theme].vars['--vscode-editor-foreground']);
      if (theme !== 'light') await screenshot(h.page, `training-${theme}`, '#out-a');
    }
  });

  test('dispose destroys the Charts (after the re-render grace period)', async () => {
    const a = (await one(h, 'a')).charts.map((c) => c.chartId);
    const b = (await one(h, 'b')).charts.map((c) => c.chartId);
    await h.page.evaluate(() => (window as unknown as TlWindow).tl.remove('b'));
    await h.page.waitForTimeout(1200);
    const live = await liveCharts(h.page);
    assert.ok(b.every((id) => !live.includes(id)), `b's charts destroyed: ${live}`);
    assert.ok(a.every((id) => live.includes(id)), 'a untouched');
    assert.deepEqual(h.errors, []);
  });
});
