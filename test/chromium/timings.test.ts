/** Timings: one live update of the training chart at 1k, 10k and 100k points (headless Chromium). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect, median, MIME, openHarness, render, screenshot, type Harness, type TlWindow } from './harness';
import { trainingRun } from './fixtures';

interface TrainingInfo {
  batches: number;
  lastUpdateMs: number;
  lastDrawnPoints: number;
}

describe('training chart timings', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness('light');
  });
  after(async () => {
    await h?.close();
  });

  for (const n of [1_000, 10_000, 100_000]) {
    test(`one live update at ${n.toLocaleString('en-US')} points`, async (t) => {
      const bpe = 100;
      const epochs = n / bpe;
      const run = trainingRun({ runId: `perf-${n}`, epochs: epochs + 1, done: epochs, bpe, title: `perf ${n}` });
      const renderMs = await render(h.page, `p${n}`, MIME.training, run);
      const samples: number[] = [];
      const endToEnd: number[] = [];
      for (let i = 0; i < 15; i++) {
        const point = { epoch: epochs + 1, batch: i, step: n + i + 1, loss: 0.2 + i / 100, acc: 0.9 };
        const e2e = await h.page.evaluate(async (m) => {
          const w = window as unknown as TlWindow;
          const t0 = performance.now();
          w.tl.send(m);
          await new Promise((r) => requestAnimationFrame(r));
          return performance.now() - t0;
        }, { type: 'batch', runId: run.runId, point });
        const info = (await inspect<TrainingInfo>(h.page, `p${n}`))[0];
        samples.push(info.lastUpdateMs);
        endToEnd.push(e2e);
        assert.equal(info.batches, n + i + 1);
      }
      const info = (await inspect<TrainingInfo>(h.page, `p${n}`))[0];
      const drawn = info.lastDrawnPoints;
      const med = median(samples);
      t.diagnostic(`live update at ${n} points: median ${med.toFixed(2)} ms (max ${Math.max(...samples).toFixed(2)} ms), message→frame ${median(endToEnd).toFixed(1)} ms, ${drawn} points drawn after decimation, first render ${renderMs.toFixed(1)} ms`);
      console.log(`[timing] live update ${n} points: median ${med.toFixed(2)} ms, max ${Math.max(...samples).toFixed(2)} ms; message→next frame ${median(endToEnd).toFixed(1)} ms; drawn ${drawn}; first render ${renderMs.toFixed(1)} ms`);
      assert.ok(drawn < 12_000, `decimated: ${drawn} points drawn`);
      // Timings are reported, not asserted: a busy machine must not fail the suite. The decimation
      // bound above is what keeps updates cheap, and it does not depend on the machine.
      if (n === 100_000) await screenshot(h.page, 'training-100k-light', `#out-p${n}`);
      await h.page.evaluate((id) => (window as unknown as TlWindow).tl.remove(id), `p${n}`);
    });
  }
});
