/** The learning-rate finder's chart in headless Chromium: log axis, the suggestion marked, bad data refused. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect, MIME, openHarness, render, screenshot, type Harness } from './harness';

interface LrInfo {
  kind: string;
  xType: string;
  ariaLabel: string;
  datasets: { label: string; points: number; borderColor: string }[];
  suggestionPixel: number;
  suggestionExpected: number;
}

function sweep() {
  const lrs = Array.from({ length: 60 }, (_, i) => 1e-7 * Math.pow(10, (8 * i) / 59));
  const losses = lrs.map((lr) => {
    const x = Math.log10(lr);
    return 1.1 - 0.7 / (1 + Math.exp(-3 * (x + 3))) + (x > -1 ? (x + 1) ** 2 : 0);
  });
  return { kind: 'lrfind', version: 1, lrs, losses, raw: losses.map((l, i) => l + (i % 2 ? 0.03 : -0.03)), suggestion: 1e-3, minimum: 1e-2, minLr: 1e-7, maxLr: 10, steps: 100, title: 'nsfw <b>x</b>' };
}

describe('learning-rate finder chart', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness('light');
  });
  after(async () => {
    await h?.close();
  });

  test('loss against learning rate on a log axis, with the suggestion marked where it belongs', async () => {
    await render(h.page, 'lr', MIME.lrFind, sweep());
    const root = h.page.locator('#out-lr');
    assert.equal(await root.locator('.tl-title').innerText(), 'Learning-rate finder: nsfw <b>x</b>', 'the title is text, not HTML');
    assert.match(await root.locator('.tl-meta').innerText(), /^Suggested learning rate 1e-3 \(steepest descent of the smoothed loss\) · minimum\/10 1e-2 · 60 of 100 steps, ran all steps$/);
    const [info] = await inspect<LrInfo>(h.page, 'lr');
    assert.equal(info.kind, 'lrfind');
    assert.equal(info.xType, 'logarithmic');
    assert.deepEqual(info.datasets.map((d) => [d.label, d.points]), [['smoothed loss', 60], ['loss', 60], ['suggestion 1e-3', 1]]);
    assert.ok(Math.abs(info.suggestionPixel - info.suggestionExpected) < 1, 'the marker sits at the suggested rate');
    assert.match(info.ariaLabel, /^Smoothed loss against learning rate on a log axis, from 1e-7 to 10;/);
    await screenshot(h.page, 'lrfind-light', '#out-lr');
  });

  test('bad data is refused with a message, not drawn', async () => {
    await render(h.page, 'lrbad', MIME.lrFind, { ...sweep(), lrs: [1, 0.5] });
    assert.match(await h.page.locator('#out-lrbad').innerText(), /could not draw this output: .*"losses" must have 2 entries|"lrs" must be positive and increasing/);
  });
});
