// UI test: samples/quickstart.ipynb, Run All in the packaged extension. It trains for real, and
// the renderer's outputs are read back from the notebook's output webview: the training chart
// (pixels, legend, summary), the layer freeze map and the transfer-vs-scratch comparison.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  allCellStates,
  canvasInk,
  openNotebook,
  outputFrame,
  outputText,
  revealInNotebook,
  runAll,
  sleep,
  sweepNotebook,
  waitFor,
  waitForRunToFinish,
} from './workbench.mjs';
import { repoRoot } from '../../scripts/code-server.mjs';

export const name = 'quickstart.ipynb: Run All trains; chart, freeze map and comparison in the webview';
/** The notebook reads 'data/digits-5-9' relative to itself, so the layout of samples/ is kept. */
export const workspaceFiles = [
  { from: 'samples/quickstart.ipynb', to: 'samples/quickstart.ipynb' },
  { from: 'samples/data', to: 'samples/data' },
];

const KERNEL_LABEL = 'Transfer Lab (TensorFlow.js)';
const TRANSFER_TITLE = 'transfer: pretrained base + new head';
const SCRATCH_TITLE = 'from scratch: same network, random weights';
/** The renderer's series colours: the theme's chart colours, else its light-theme fallbacks. */
const SERIES = { train: ['--vscode-charts-blue', '#1a85ff'], val: ['--vscode-charts-orange', '#d18616'] };

const escapeRe = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What the sample asks for, read from the notebook itself so the test follows edits to it. */
function sampleFacts() {
  const nb = JSON.parse(readFileSync(path.join(repoRoot, 'samples', 'quickstart.ipynb'), 'utf8'));
  const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source));
  const fitLine = code.join('\n').split('\n').find((l) => l.includes('tl.fit(') && l.includes(TRANSFER_TITLE));
  assert.ok(fitLine, `samples/quickstart.ipynb no longer fits a run titled "${TRANSFER_TITLE}"`);
  const epochs = Number(/epochs:\s*(\d+)/.exec(fitLine)?.[1]);
  assert.ok(epochs > 0, `no epochs in: ${fitLine}`);
  return { cells: nb.cells.length, codeCells: code.length, epochs };
}

export async function run({ page, resultsDir, log }) {
  const facts = sampleFacts();
  await openNotebook(page, 'quickstart.ipynb', { log });
  log(`notebook open (${facts.cells} cells, ${facts.codeCells} code cells; the transfer run trains ${facts.epochs} epochs)`);
  await waitFor('the first code cell rendered', async () => (await page.locator('.notebook-editor .code-cell-row').count()) > 0, { timeoutMs: 20_000 });

  await runAll(page);
  const tRun = Date.now();
  await waitForRunToFinish(page, { kernelLabel: KERNEL_LABEL, timeoutMs: 360_000, log });
  const runSeconds = (Date.now() - tRun) / 1000;

  const states = await allCellStates(page);
  log(`cell states: ${JSON.stringify(Object.fromEntries(states))}`);
  assert.equal(states.size, facts.codeCells, `expected the states of ${facts.codeCells} code cells, read ${states.size}`);
  const failed = [...states].filter(([, s]) => s !== 'success');
  assert.deepEqual(failed, [], `every code cell should succeed; not: ${JSON.stringify(failed)}`);
  const kernelShown = await page.locator('.notebook-toolbar-container', { hasText: KERNEL_LABEL }).count();
  assert.ok(kernelShown > 0, `the notebook toolbar should name the kernel "${KERNEL_LABEL}"`);

  // Outputs reach the webview as their cells scroll into view.
  const f = outputFrame(page);
  const training = (title) => f.locator('section.tl-root.tl-training', { has: f.locator('h3.tl-title', { hasText: title }) });
  const layerMap = (title) => f.locator('section.tl-root.tl-layers', { has: f.locator('h3.tl-title', { hasText: new RegExp(`^${escapeRe(title)}$`) }) });
  const wanted = {
    'freeze map of the loaded model': layerMap('digits'),
    'freeze map of the model with the new head': layerMap('digits + head'),
    'transfer training chart': training(TRANSFER_TITLE),
    'from-scratch training chart': training(SCRATCH_TITLE),
    'confusion matrix': f.locator('section.tl-root[aria-label="Confusion matrix"]'),
  };
  const missing = async () => {
    const out = [];
    for (const [what, loc] of Object.entries(wanted)) if ((await loc.count()) !== 1) out.push(what);
    return out;
  };
  await sweepNotebook(page, async () => (await missing()).length === 0);
  const notFound = await missing();
  if (notFound.length) {
    const sections = await f.locator('section.tl-root').evaluateAll((els) => els.map((e) => `${e.getAttribute('aria-label')}: ${e.querySelector('.tl-title')?.textContent}`));
    assert.fail(`not in the output webview after scrolling through the notebook: ${notFound.join(', ')}; sections seen: ${JSON.stringify(sections)}`);
  }
  log('all expected outputs are in the webview');

  // --- the training chart of the transfer run
  const chart = wanted['transfer training chart'];
  const status = await chart.locator('[role="status"]').innerText();
  log(`chart status: ${status}`);
  assert.match(status, new RegExp(`^Done: ${facts.epochs} of ${facts.epochs} epochs in `), 'the run should have finished every planned epoch');
  const summary = chart.locator('aside.tl-summary[aria-label="Final metrics"]');
  assert.equal(await summary.locator('h4').innerText(), `Final metrics (epoch ${facts.epochs})`);
  const metricNames = await summary.locator('dt').allInnerTexts();
  for (const k of ['loss', 'val_loss', 'acc', 'val_acc']) assert.ok(metricNames.includes(k), `the summary should list ${k}; it lists ${metricNames.join(', ')}`);
  const values = await summary.locator('dd').allInnerTexts();
  for (const v of values) assert.ok(Number.isFinite(Number(v)), `summary value "${v}" should be a number`);

  for (const [metric, caption] of [['loss', 'Loss'], ['acc', 'Accuracy']]) {
    const panel = chart.locator(`figure.tl-panel[data-metric="${metric}"]`);
    assert.equal(await panel.locator('figcaption').innerText(), caption);
    const canvas = panel.locator('canvas[role="img"]');
    const aria = await canvas.getAttribute('aria-label');
    assert.match(aria, new RegExp(`^${caption} per epoch for ${escapeRe(TRANSFER_TITLE)}: training and validation, with per-batch values\\. Epoch ${facts.epochs}: ${metric} \\S+, val_${metric} \\S+\\.$`));
    const ink = await canvasInk(canvas, SERIES);
    log(`${metric} canvas ${ink.width}×${ink.height}: ${ink.ink} inked pixels; near the training colour ${ink.colors.train}: ${ink.near.train} (${ink.nearBottom.train} in the legend rows), near the validation colour ${ink.colors.val}: ${ink.near.val} (${ink.nearBottom.val} in the legend rows)`);
    assert.ok(ink.cssWidth >= 200 && ink.cssHeight >= 150, `the ${metric} canvas is laid out too small: ${ink.cssWidth}×${ink.cssHeight}`);
    assert.ok(ink.ink > 0.03 * ink.width * ink.height, `the ${metric} canvas is (nearly) blank: ${ink.ink} inked pixels`);
    assert.ok(ink.near.train > 300, `the ${metric} chart should draw the training line in ${ink.colors.train}: ${ink.near.train} pixels`);
    assert.ok(ink.near.val > 150, `the ${metric} chart should draw the validation line in ${ink.colors.val}: ${ink.near.val} pixels`);
    assert.ok(ink.nearBottom.train > 20 && ink.nearBottom.val > 10, `the ${metric} chart's legend (bottom rows) should show both series: ${JSON.stringify(ink.nearBottom)}`);
  }

  await revealInNotebook(page, chart, { margin: 40 });
  await page.mouse.move(900, 990);
  await sleep(500);
  await page.screenshot({ path: path.join(resultsDir, 'ui-quickstart-chart.png') });
  log('screenshot ui-quickstart-chart.png');

  // --- the freeze maps: as loaded (all trainable) and after tl.freeze(base, 'all') + a new head
  const loaded = wanted['freeze map of the loaded model'];
  const loadedMeta = await loaded.locator('.tl-layers-head .tl-meta').innerText();
  const lm = /^(\d+) layers: (\d+) frozen, (\d+) trainable/.exec(loadedMeta);
  assert.ok(lm, `freeze map header: ${loadedMeta}`);
  assert.equal(Number(lm[2]), 0, `the freshly loaded model has no frozen layer: ${loadedMeta}`);

  const map = wanted['freeze map of the model with the new head'];
  const meta = await map.locator('.tl-layers-head .tl-meta').innerText();
  log(`freeze map: ${meta}`);
  const m = /^(\d+) layers: (\d+) frozen, (\d+) trainable/.exec(meta);
  assert.ok(m, `freeze map header: ${meta}`);
  const [nLayers, nFrozen, nTrainable] = m.slice(1).map(Number);
  assert.ok(nFrozen > 0 && nTrainable > 0, `after freezing the base, the map shows frozen and trainable layers: ${meta}`);
  const legend = await map.locator('ul.tl-legend[aria-label="Legend"] li').allInnerTexts();
  for (const t of ['Trainable (solid)', 'Frozen (hatched, dashed border)']) assert.ok(legend.some((l) => l.trim() === t), `legend item "${t}" missing: ${JSON.stringify(legend)}`);
  const cells = await map.locator('button.tl-cell').evaluateAll((els) =>
    els.map((c) => {
      const s = getComputedStyle(c);
      return { label: c.getAttribute('aria-label'), frozen: c.classList.contains('tl-frozen'), border: s.borderTopStyle, image: s.backgroundImage, w: c.offsetWidth, h: c.offsetHeight };
    }),
  );
  assert.equal(cells.length, nLayers, 'one cell per layer');
  assert.equal(cells.filter((c) => c.frozen).length, nFrozen);
  const conv1 = cells.find((c) => /^\d+: conv1 \(Conv2D\), /.test(c.label));
  assert.ok(conv1, `a cell for conv1; labels: ${cells.map((c) => c.label).join(' | ')}`);
  assert.match(conv1.label, /, frozen, /);
  assert.ok(conv1.frozen && conv1.border === 'dashed' && conv1.image.includes('repeating-linear-gradient'), `conv1 is drawn hatched with a dashed border: ${JSON.stringify(conv1)}`);
  const head = cells[cells.length - 1];
  assert.match(head.label, /\(Dense\), trainable, /, 'the new head (last layer) is trainable');
  assert.ok(!head.frozen && head.border === 'solid', `the head is drawn solid: ${JSON.stringify(head)}`);
  assert.ok(cells.every((c) => c.w > 0 && c.h > 0), 'every layer cell is laid out');

  // Hovering a layer (a real mouse over the webview) fills the details panel beside the map.
  await revealInNotebook(page, map, { margin: 120 });
  const cellBox = await map.locator('button.tl-cell[aria-label*=": conv1 (Conv2D)"]').boundingBox();
  assert.ok(cellBox, 'the conv1 cell has a box on the page');
  await page.mouse.move(cellBox.x + cellBox.width / 2, cellBox.y + cellBox.height / 2);
  const details = map.locator('aside.tl-details[aria-label="Layer details"]');
  await waitFor('the details panel to show conv1 on hover', async () => (await details.locator('h4.tl-layer-name').innerText().catch(() => '')) === 'conv1', { timeoutMs: 10_000 });
  const detailText = await details.innerText();
  assert.match(detailText, /State\s+frozen/, `details of conv1: ${detailText}`);
  assert.match(detailText, /Class\s+Conv2D/, `details of conv1: ${detailText}`);
  log(`hover on conv1 shows: ${detailText.replace(/\s+/g, ' ')}`);
  await page.screenshot({ path: path.join(resultsDir, 'ui-quickstart-freeze-map.png') });
  log('screenshot ui-quickstart-freeze-map.png');

  // --- the comparison printed by the from-scratch cell
  const text = await outputText(page);
  const transfer = /transfer \(pretrained on 0-4, new head\): (\d+(?:\.\d)?)%/.exec(text);
  const scratch = /from scratch \(same network\): +(\d+(?:\.\d)?)%/.exec(text);
  assert.ok(transfer && scratch, `the transfer-vs-scratch lines are missing from the outputs:\n${text.slice(0, 4000)}`);
  log(`transfer ${transfer[1]}%, from scratch ${scratch[1]}%`);
  const [tAcc, sAcc] = [Number(transfer[1]), Number(scratch[1])];
  assert.ok(tAcc >= 0 && tAcc <= 100 && sAcc >= 0 && sAcc <= 100);
  // Five classes: chance is 20%. A pretrained base with a trained head must do far better.
  assert.ok(tAcc > 50, `transfer accuracy ${tAcc}% is near chance`);
  const verdict = /transfer wins by (\d+\.\d) points|from scratch did as well this time/.exec(text);
  assert.ok(verdict, 'the verdict line is missing');
  // The notebook subtracts unrounded accuracies; the two percentages above are rounded.
  if (verdict[1]) assert.ok(Math.abs(Number(verdict[1]) - (tAcc - sAcc)) <= 0.15, `"${verdict[0]}" does not match ${tAcc}% vs ${sAcc}%`);
  else assert.ok(tAcc <= sAcc + 0.1, `"${verdict[0]}" although transfer got ${tAcc}% and scratch ${sAcc}%`);
  log(`run took ${runSeconds.toFixed(1)} s in the workbench`);
}
