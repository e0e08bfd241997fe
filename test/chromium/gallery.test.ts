/** The image gallery (top losses, Grad-CAM) in headless Chromium: pictures, captions as text, refusals. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MIME, openHarness, render, screenshot, type Harness } from './harness';
import { HOSTILE } from './fixtures';

/** A 2×2 PNG (red, green / blue, white). */
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAAMIM/4EAAB/uBfsL2WiLAAAAAElFTkSuQmCC';

describe('image gallery', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness('light');
  });
  after(async () => {
    await h?.close();
  });

  test('thumbnails with their lines; a hostile file or class name stays text', async () => {
    const items = [
      { image: PNG, alt: `${HOSTILE}.png`, lines: [`${HOSTILE}.png`, 'true: cat', 'predicted: dog (93.0 %)', 'loss 2.659'], flag: true },
      { image: PNG, alt: 'b.png', lines: ['b.png', 'true: dog', 'predicted: dog (51.0 %)', 'loss 0.673'] },
      { alt: 'row 7', lines: ['row 7', 'true: cat', 'predicted: dog (60.0 %)', 'loss 0.916'] },
    ];
    await render(h.page, 'gal', MIME.gallery, { kind: 'gallery', version: 1, title: 'Top 3 losses on data (validation)', items });
    const root = h.page.locator('#out-gal');
    assert.equal(await root.locator('h3').innerText(), 'Top 3 losses on data (validation)');
    assert.equal(await root.locator('li.tl-gallery-item').count(), 3);
    assert.equal(await root.locator('li.tl-flag').count(), 1);
    assert.equal(await root.locator('img').count(), 2, 'the hostile name made no image');
    const srcs = await root.locator('img').evaluateAll((els) => els.map((e) => (e as HTMLImageElement).src));
    assert.ok(srcs.every((s) => s.startsWith('data:image/png;base64,')));
    // The inline PNG decodes: 2×2 pixels.
    const sizes = await root.locator('img').evaluateAll(async (els) => Promise.all(els.map(async (e) => { const i = e as HTMLImageElement; await i.decode(); return [i.naturalWidth, i.naturalHeight]; })));
    assert.deepEqual(sizes, [[2, 2], [2, 2]]);
    assert.equal(await root.locator('figcaption').first().locator('div').first().textContent(), `${HOSTILE}.png`);
    assert.equal(await root.locator('img').first().getAttribute('alt'), `${HOSTILE}.png`);
    assert.deepEqual(await root.locator('figcaption').nth(2).locator('div').allTextContents(), items[2].lines);
    assert.deepEqual(h.errors, []);
    await screenshot(h.page, 'gallery-light', '#out-gal');
  });

  test('a picture from anywhere but the output itself is refused with a clear error', async () => {
    await render(h.page, 'galbad', MIME.gallery, { kind: 'gallery', items: [{ image: 'https://example.com/x.png', lines: ['x'] }] });
    assert.equal(await h.page.locator('#out-galbad [role=alert]').innerText(), 'Transfer Lab could not draw this output: gallery output: items[0]: "image" must be an inline PNG (data:image/png;base64,…)');
    assert.equal(await h.page.locator('#out-galbad img').count(), 0);
  });
});
