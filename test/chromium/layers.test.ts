/** The layer freeze map in headless Chromium: grouping, details, selection → freeze code, hostile names, scale. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect, MIME, openHarness, render, screenshot, setTheme, type Harness } from './harness';
import { HOSTILE, longMap, mobilenetV2Map } from './fixtures';

interface LayersInfo {
  kind: string;
  layers: number;
  lastBuildMs: number;
  code: string;
}

describe('layer freeze map', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness('light', { width: 1100, height: 1000 });
  });
  after(async () => {
    await h?.close();
  });

  test('a short model is one strip of cells; totals and legend at the top', async () => {
    const map = mobilenetV2Map();
    map.layers = map.layers.slice(0, 40);
    map.totals = { trainable: 0, nonTrainable: 12345, total: 12345 };
    for (const l of map.layers) {
      l.trainable = l.index >= 30;
      if (!l.trainable && l.className === 'BatchNormalization') l.bnInference = true;
      else delete l.bnInference;
    }
    await render(h.page, 'short', MIME.layers, map);
    const root = h.page.locator('#out-short');
    assert.equal(await root.locator('.tl-group').count(), 0);
    assert.equal(await root.locator('.tl-cell').count(), 40);
    assert.equal(await root.locator('.tl-cell.tl-frozen').count(), 30);
    assert.equal(await root.locator('.tl-totals').innerText(), 'Total params 12,345 · trainable 0 · non-trainable 12,345');
    assert.match(await root.locator('.tl-meta').first().innerText(), /^40 layers: 30 frozen, 10 trainable · \d+ BatchNormalization in inference mode$/);
    assert.deepEqual(await root.locator('.tl-legend li').allInnerTexts(), [
      'Trainable (solid)',
      'Frozen (hatched, dashed border)',
      'BatchNormalization in inference mode (dot)',
      'Selected (underlined)',
      'Cut: the head takes this output (bar on the right)',
      'Unused: after the cut (faded)',
    ]);
    // Frozen and trainable differ by more than colour: border style and fill pattern.
    const style = (sel: string) =>
      root.locator(sel).first().evaluate((e) => {
        const cs = getComputedStyle(e);
        return { border: cs.borderTopStyle, image: cs.backgroundImage };
      });
    const frozen = await style('.tl-cell.tl-frozen');
    const trainable = await style('.tl-cell.tl-trainable');
    assert.equal(frozen.border, 'dashed');
    assert.equal(trainable.border, 'solid');
    assert.match(frozen.image, /repeating-linear-gradient/);
    assert.equal(trainable.image, 'none');
    await screenshot(h.page, 'layers-short-light', '#out-short');
  });

  test('a base cut by withHead: the cut layer marked, the layers after it faded, the cut said in words', async () => {
    const map = mobilenetV2Map();
    map.layers = map.layers.slice(0, 12);
    const cutAt = map.layers[8];
    for (const l of map.layers) if (l.index > cutAt.index) l.unused = true;
    map.cut = { index: cutAt.index, layer: cutAt.name, reason: 'a classifier stack', model: 'base + head' };
    await render(h.page, 'cut', MIME.layers, map);
    const root = h.page.locator('#out-cut');
    assert.equal(await root.locator('.tl-cell.tl-cut').count(), 1);
    assert.equal(await root.locator('.tl-cell.tl-cut').getAttribute('data-pos'), '8');
    assert.equal(await root.locator('.tl-cell.tl-unused').count(), 3);
    assert.match(await root.locator('.tl-cut-note').innerText(), new RegExp(`^Cut: base \\+ head takes the output of 8 ${cutAt.name}; the 3 layer\\(s\\) after it are not part of it \\(a classifier stack\\)\\.$`));
    const opacity = await root.locator('.tl-cell.tl-unused').first().evaluate((e) => getComputedStyle(e).opacity);
    assert.equal(opacity, '0.35');
  });

  test('a text model: the tokenizer before layer 0 is said in a line of text, never HTML', async () => {
    const map = {
      kind: 'layers',
      version: 1,
      modelName: 'words + head',
      input: 'text base: 20000 word vectors of 100 numbers (<img src=x onerror=alert(1)>); unknown words are skipped',
      layers: [
        { index: 0, name: 'tokens', className: 'InputLayer', outputShape: [null, 64], trainableParams: 0, nonTrainableParams: 0, trainable: true, block: 'input' },
        { index: 1, name: 'embedding', className: 'TextEmbedding', outputShape: [null, 64, 100], trainableParams: 0, nonTrainableParams: 2000100, trainable: false, block: 'embedding' },
        { index: 2, name: 'text_pooling', className: 'TextPooling', outputShape: [null, 100], trainableParams: 0, nonTrainableParams: 0, trainable: true, block: 'text_pooling' },
        { index: 3, name: 'head_output', className: 'Dense', outputShape: [null, 4], trainableParams: 404, nonTrainableParams: 0, trainable: true, block: 'head' },
      ],
      totals: { trainable: 404, nonTrainable: 2000100, total: 2000504 },
    };
    await render(h.page, 'text', MIME.layers, map);
    const root = h.page.locator('#out-text');
    assert.equal(await root.locator('.tl-input-note').innerText(), map.input);
    assert.equal(await root.locator('.tl-input-note img').count(), 0, 'the note is text');
    assert.equal(await root.locator('.tl-cell').count(), 4);
  });

  test('MobileNetV2 (156 layers) is grouped into blocks that expand', async () => {
    const map = mobilenetV2Map(118);
    assert.equal(map.layers.length, 156);
    await render(h.page, 'mnv2', MIME.layers, map);
    const root = h.page.locator('#out-mnv2');
    const heads = root.locator('.tl-group-head');
    assert.equal(await heads.count(), 22);
    assert.deepEqual((await heads.allInnerTexts()).slice(0, 4).map((s) => s.replace(/\s+/g, ' ')), ['▸ input', '▸ Conv1', '▸ expanded_conv', '▸ block_1']);
    assert.equal(await root.locator('.tl-cell:visible').count(), 0, 'collapsed');
    const block13 = root.locator('.tl-group', { hasText: 'block_13' });
    assert.match(await block13.locator('.tl-group-summary').innerText(), /^9 layers · 2 frozen, 7 trainable · [\d,]+ params$/);
    await block13.locator('.tl-group-head').click();
    assert.equal(await block13.locator('.tl-group-head').getAttribute('aria-expanded'), 'true');
    assert.equal(await root.locator('.tl-cell:visible').count(), 9);

    // Hover shows details; focus too.
    const cell = block13.locator('.tl-cell').nth(1);
    await cell.hover();
    const details = root.locator('.tl-details');
    assert.equal(await details.locator('h4').innerText(), 'block_13_expand_BN');
    const text = await details.innerText();
    assert.match(text, /Class\s+BatchNormalization/);
    assert.match(text, /Output shape\s+\(None, 7, 7, 160\)/);
    assert.match(text, /BatchNorm\s+inference mode/);
    assert.match((await cell.getAttribute('aria-label'))!, /^\d+: block_13_expand_BN \(BatchNormalization\), frozen, [\d,]+ params, BatchNormalization in inference mode$/);
    await screenshot(h.page, 'layers-mnv2-light', '#out-mnv2');
  });

  test('selecting a range with clicks and keys gives the freeze code', async () => {
    const root = h.page.locator('#out-mnv2');
    await root.getByRole('button', { name: 'Expand all' }).click();
    const cells = root.locator('.tl-cell');
    assert.equal(await root.locator('.tl-cell:visible').count(), 156);
    await cells.nth(0).click();
    await cells.nth(155).click({ modifiers: ['Shift'] });
    const code = root.locator('.tl-code');
    assert.equal(await code.innerText(), "tl.freeze(model, 'all');\ntl.unfreeze(model, { from: \"block_13_expand_relu\", to: \"head_dense\" });");
    assert.match(await root.locator('.tl-sel-text').innerText(), /^Selected 156 layers, 0 input_1 to 155 head_dense \(118 frozen, 38 trainable\)\.$/);
    assert.equal(await root.locator('.tl-cell[aria-pressed=true]').count(), 156);

    // Keyboard: click one, then Shift+ArrowRight twice.
    await cells.nth(10).click();
    await h.page.keyboard.press('Shift+ArrowRight');
    await h.page.keyboard.press('Shift+ArrowRight');
    assert.equal(await code.innerText(), 'tl.freeze(model, { from: "block_1_expand_BN", to: "block_1_pad" });');
    assert.equal(await cells.nth(12).evaluate((e) => e === document.activeElement), true, 'focus moved with the arrows');
    assert.equal(await cells.nth(12).getAttribute('tabindex'), '0', 'roving tab stop');

    // Other code forms and the model variable.
    await root.getByLabel('Model variable').fill('base');
    await root.getByLabel('Code for').selectOption('unfreeze');
    assert.equal(await code.innerText(), 'tl.unfreeze(base, { from: "block_1_expand_BN", to: "block_1_pad" });');
    const info = (await inspect<LayersInfo>(h.page, 'mnv2'))[0];
    assert.equal(info.code, await code.innerText());
    await root.getByLabel('Code for').selectOption('reproduce');
    await root.getByLabel('Model variable').fill('model');

    // A whole block from its "Select" button; Escape clears.
    await root.getByRole('button', { name: 'Select block block_16' }).click();
    assert.equal(await code.innerText(), 'tl.unfreeze(model, { from: "block_16_expand", to: "block_16_project_BN" });');
    await cells.nth(140).focus();
    await h.page.keyboard.press('Escape');
    assert.equal(await code.isVisible(), false);
    await root.getByRole('button', { name: 'Collapse all' }).click();
  });

  test('the copy button puts the code on the clipboard, or selects it where that is denied', async () => {
    const root = h.page.locator('#out-mnv2');
    await root.getByRole('button', { name: 'Select block block_2' }).click();
    await root.getByRole('button', { name: 'Copy freeze code' }).click();
    const status = await root.locator('.tl-copy-status').innerText();
    const expected = 'tl.freeze(model, { from: "block_2_expand", to: "block_2_add" });';
    if (status.startsWith('Copied')) {
      const clip = await h.page.evaluate(() => navigator.clipboard.readText().catch(() => ''));
      if (clip) assert.equal(clip, expected);
    } else {
      assert.equal(status, 'Selected the code: press Ctrl+C (Cmd+C) to copy it.');
      assert.equal(await h.page.evaluate(() => String(getSelection())), expected);
    }
  });

  test('500 layers with a hostile and a very long name: inert text, fast to draw', async (t) => {
    const map = longMap(500);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ms = await render(h.page, `big${i}`, MIME.layers, map);
      times.push(ms);
    }
    const info = (await inspect<LayersInfo>(h.page, 'big2'))[0];
    const best = Math.min(...times);
    t.diagnostic(`500-layer map: renderOutputItem ${times.map((x) => x.toFixed(1)).join(' / ')} ms, build ${info.lastBuildMs.toFixed(1)} ms`);
    console.log(`[timing] 500-layer map: renderOutputItem ${times.map((x) => x.toFixed(1)).join(' / ')} ms (first / warm), view build ${info.lastBuildMs.toFixed(1)} ms`);
    assert.ok(best < 200, `500 layers in ${best} ms`);
    const root = h.page.locator('#out-big0');
    assert.equal(await root.locator('.tl-cell').count(), 500);
    assert.equal(await root.locator('.tl-group').count(), 50);
    // The hostile name never becomes markup and never runs.
    assert.equal(await h.page.locator('#outputs img').count(), 0);
    await root.locator('.tl-group-head').first().click();
    await root.locator('.tl-cell').nth(3).hover();
    assert.equal(await root.locator('.tl-details h4').textContent(), HOSTILE);
    assert.match((await root.locator('.tl-cell').nth(3).getAttribute('aria-label'))!, /^3: <img src=x onerror=alert\(1\)> \(Conv2D\)/);
    await root.locator('.tl-cell').nth(3).click();
    await root.locator('.tl-cell').nth(4).click({ modifiers: ['Shift'] });
    assert.equal(await root.locator('.tl-code').innerText(), `tl.freeze(model, { from: ${JSON.stringify(HOSTILE)}, to: "very_long_${'name_'.repeat(40)}end" });`);
    await root.locator('.tl-cell').nth(4).hover();
    // A very long name wraps inside the details panel instead of widening the output.
    const widths = await root.evaluate((e) => ({ scroll: e.scrollWidth, client: e.clientWidth, details: e.querySelector('.tl-details')!.getBoundingClientRect().width }));
    assert.ok(widths.scroll <= widths.client + 1, JSON.stringify(widths));
    assert.ok(widths.details < 300, JSON.stringify(widths));
    await screenshot(h.page, 'layers-500-light', '#out-big0');
    assert.deepEqual(h.dialogs, []);
    assert.deepEqual(h.errors, []);
  });

  test('dark and high-contrast themes restyle the map through CSS variables', async () => {
    await setTheme(h.page, 'dark');
    const color = () => h.page.locator('#out-mnv2 .tl-cell.tl-trainable').first().evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(await color(), 'rgb(137, 209, 133)');
    const root = h.page.locator('#out-mnv2');
    await root.locator('.tl-group', { hasText: 'block_13' }).locator('.tl-group-head').click();
    await root.getByRole('button', { name: 'Select block block_12' }).click();
    await screenshot(h.page, 'layers-mnv2-dark', '#out-mnv2');
    await screenshot(h.page, 'layers-500-dark', '#out-big0');
    await setTheme(h.page, 'high-contrast');
    await screenshot(h.page, 'layers-mnv2-high-contrast', '#out-mnv2');
    await setTheme(h.page, 'light');
    assert.equal(await color(), 'rgb(56, 138, 52)');
  });
});
