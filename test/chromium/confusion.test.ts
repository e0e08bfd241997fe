/** The confusion matrix in headless Chromium: counts, normalised toggle, per-class metrics, themes. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MIME, openHarness, render, screenshot, setTheme, type Harness } from './harness';
import { confusion, HOSTILE } from './fixtures';

describe('confusion matrix', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness('light');
  });
  after(async () => {
    await h?.close();
  });

  test('counts with class names on both axes and precision / recall beside them', async () => {
    const data = confusion();
    await render(h.page, 'cm', MIME.confusion, data);
    const root = h.page.locator('#out-cm');
    assert.match(await root.locator('.tl-meta').innerText(), /^Accuracy \d+\.\d% · [\d,]+ samples · 5 classes$/);
    const cols = await root.locator('thead th.tl-col').allTextContents();
    const rows = await root.locator('tbody th.tl-row').allTextContents();
    assert.deepEqual(cols, data.classes);
    assert.deepEqual(rows, data.classes);
    assert.deepEqual(await root.locator('thead th.tl-metric-head').allTextContents(), ['precision', 'recall', 'support']);
    const first = await root.locator('tbody tr').first().locator('td').allTextContents();
    assert.deepEqual(first.slice(0, 5), data.matrix[0].map(String));
    assert.equal(first[5], `${(data.perClass[0].precision * 100).toFixed(1)}%`);
    assert.equal(first[6], `${(data.perClass[0].recall * 100).toFixed(1)}%`);
    assert.equal(await root.locator('td.tl-diag').count(), 5, 'the diagonal is marked, not only coloured');
    // The hottest cell is the largest count and its text stays readable.
    const bigCell = root.locator('tbody tr').nth(4).locator('td').nth(4);
    const c = await bigCell.evaluate((e) => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]);
    assert.notEqual(c[0], c[1]);
    assert.equal(await h.page.locator('#outputs img').count(), 0, 'hostile class name is text');
    assert.equal(await root.locator('tbody th.tl-row').last().textContent(), HOSTILE);
    await screenshot(h.page, 'confusion-light', '#out-cm');
  });

  test('the normalised toggle shows shares of each true class', async () => {
    const data = confusion();
    const root = h.page.locator('#out-cm');
    await root.getByLabel('Normalised (share of each true class)').check();
    const row = await root.locator('tbody tr').nth(1).locator('td').allTextContents();
    const sum = data.matrix[1].reduce((s, v) => s + v, 0);
    assert.deepEqual(row.slice(0, 5), data.matrix[1].map((v) => `${((v / sum) * 100).toFixed(1)}%`));
    await setTheme(h.page, 'dark');
    await screenshot(h.page, 'confusion-dark', '#out-cm');
    await setTheme(h.page, 'high-contrast');
    await screenshot(h.page, 'confusion-high-contrast', '#out-cm');
    await setTheme(h.page, 'light');
    await root.getByLabel('Normalised (share of each true class)').uncheck();
    assert.equal(await root.locator('tbody tr').nth(1).locator('td').first().textContent(), String(data.matrix[1][0]));
  });

  test('a matrix that does not match its classes is a clear error', async () => {
    await render(h.page, 'cmbad', MIME.confusion, { kind: 'confusion', classes: ['a', 'b'], matrix: [[1, 2, 3], [1, 2]] });
    assert.equal(await h.page.locator('#out-cmbad [role=alert]').innerText(), 'Transfer Lab could not draw this output: confusion matrix output: matrix row 0 must have 2 entries, one per class');
    assert.deepEqual(h.errors, []);
  });
});
