// UI test: "Transfer Lab: Fine-tune Model" driven through the command palette in code-server, as a
// person would: the bundled model, the sample data folder typed into the simple file dialog,
// Feature extraction, 2 epochs and the defaults. The notebook it writes must open, run with our
// kernel, and draw its training chart.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  activeTabLabel,
  allCellStates,
  canvasInk,
  outputFrame,
  pickQuickItem,
  quickInputWidget,
  quickPickRows,
  revealInNotebook,
  runCommand,
  sleep,
  sweepNotebook,
  waitFor,
  waitForQuickInput,
  waitForRunToFinish,
} from './workbench.mjs';
import { repoRoot } from '../../scripts/code-server.mjs';

export const name = 'Fine-tune wizard: command palette → notebook that trains and draws its chart';
const DATA = 'samples/data/digits-5-9';
export const workspaceFiles = [{ from: DATA, to: DATA }];

const KERNEL_LABEL = 'Transfer Lab (TensorFlow.js)';
const EPOCHS = 2;
const NOTEBOOK = 'fine-tune-digits-digits-5-9.ipynb';
const SERIES = { train: ['--vscode-charts-blue', '#1a85ff'], val: ['--vscode-charts-orange', '#d18616'] };

/** Classes (subfolders) and images in the sample data, as the wizard should count them. */
function dataFacts() {
  const dir = path.join(repoRoot, DATA);
  const classes = readdirSync(dir).filter((d) => statSync(path.join(dir, d)).isDirectory());
  const images = classes.reduce((n, c) => n + readdirSync(path.join(dir, c)).filter((f) => /\.(png|jpe?g)$/i.test(f)).length, 0);
  return { classes, images };
}

export async function run({ page, workspace, resultsDir, log }) {
  const facts = dataFacts();
  const t0 = Date.now();

  await runCommand(page, 'Transfer Lab: Fine-tune Model');
  // Step 1 starts with a choice: your own folder, or the bundled sample. This test browses to a folder.
  // The command activates the extension first, so the first step may take a moment.
  await waitForQuickInput(page, 'Fine-tune model (1/4): data', { timeoutMs: 60_000 });
  await pickQuickItem(page, /Choose a folder/);

  // Step 1: showOpenDialog is code-server's simple file dialog, a quick input with a path box.
  const pathBox = await waitForQuickInput(page, 'Fine-tune model (1/4): data folder');
  // The dialog fills its path box in steps as it resolves the default folder.
  const start = await waitFor(
    `the folder dialog to start in the workspace folder ${workspace}`,
    async () => {
      const v = await pathBox.inputValue();
      return v.replace(/\/$/, '') === workspace ? v : undefined;
    },
    { timeoutMs: 15_000 },
  ).catch(async (e) => {
    throw new Error(`${e.message}; path box: ${await pathBox.inputValue()}`);
  });
  log(`step 1 (data): the folder dialog opened at ${start}`);
  const okButton = quickInputWidget(page).locator('.monaco-button', { hasText: 'Use this data folder' });
  assert.ok(await okButton.isVisible(), 'the dialog\'s button should say "Use this data folder"');
  const dataDir = path.join(workspace, DATA);
  await pathBox.fill(dataDir + '/');
  // The dialog lists the folder typed, one row per class folder.
  await waitFor(
    `the dialog to list the class folders ${facts.classes.join(', ')}`,
    async () => {
      const rows = await quickPickRows(page);
      return facts.classes.every((c) => rows.includes(c)) ? rows : undefined;
    },
    { timeoutMs: 15_000 },
  );
  await pathBox.press('Enter');
  log(`step 1 (data): typed ${dataDir}/ and pressed Enter`);

  await waitForQuickInput(page, `Fine-tune model (1/4): ${path.basename(DATA)}`);
  const confirm = `Use ${facts.classes.length} classes, ${facts.images} images`;
  log(`step 1 (classes): ${JSON.stringify(await quickPickRows(page))}`);
  await pickQuickItem(page, confirm);

  // Step 2: an image folder gets the image models.
  await waitForQuickInput(page, 'Fine-tune model (2/4): pretrained model');
  log(`step 2 (model): ${(await quickPickRows(page)).length} offers`);
  await pickQuickItem(page, /^digits\s*bundled/);

  await waitForQuickInput(page, 'Fine-tune model (3/4): strategy');
  await pickQuickItem(page, /^Feature extraction/);

  const epochsBox = await waitForQuickInput(page, 'Fine-tune model (4/4): epochs');
  await epochsBox.fill(String(EPOCHS));
  await epochsBox.press('Enter');
  const lrBox = await waitForQuickInput(page, 'Fine-tune model (4/4): learning rate');
  const lr = await lrBox.inputValue();
  assert.equal(lr, '0.001', 'default learning rate');
  await lrBox.press('Enter');
  const bsBox = await waitForQuickInput(page, 'Fine-tune model (4/4): batch size');
  const batchSize = await bsBox.inputValue();
  assert.match(batchSize, /^\d+$/, 'default batch size');
  await bsBox.press('Enter');
  log(`step 4: epochs ${EPOCHS}, learning rate ${lr}, batch size ${batchSize} (defaults kept)`);

  // The wizard writes the notebook, opens it, selects our kernel and runs it.
  await waitFor(`the tab ${NOTEBOOK}`, async () => (await activeTabLabel(page)).includes(NOTEBOOK), { timeoutMs: 30_000 });
  log(`notebook tab open: ${await activeTabLabel(page)} (${((Date.now() - t0) / 1000).toFixed(1)} s after the command)`);
  const file = path.join(workspace, NOTEBOOK);
  assert.ok(existsSync(file), `${file} should be written`);
  const nb = JSON.parse(readFileSync(file, 'utf8'));
  const source = nb.cells.map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source)).join('\n');
  assert.match(source, new RegExp(`epochs: ${EPOCHS},`), 'the notebook trains the epochs asked for');
  assert.match(source, new RegExp(`learningRate: ${lr.replace('.', '\\.')},`));
  assert.match(source, new RegExp(`batchSize: ${batchSize},`));
  assert.ok(source.includes(`"./${DATA}"`), `the notebook reads the data folder relative to itself ("./${DATA}")`);
  const codeCells = nb.cells.filter((c) => c.cell_type === 'code').length;

  await waitForRunToFinish(page, { kernelLabel: KERNEL_LABEL, timeoutMs: 180_000, log });
  const states = await allCellStates(page);
  log(`cell states: ${JSON.stringify(Object.fromEntries(states))}`);
  assert.equal(states.size, codeCells, `expected the states of ${codeCells} code cells, read ${states.size}`);
  const failed = [...states].filter(([, s]) => s !== 'success');
  assert.deepEqual(failed, [], `every code cell should succeed; not: ${JSON.stringify(failed)}`);
  const kernelShown = await page.locator('.notebook-toolbar-container', { hasText: KERNEL_LABEL }).count();
  assert.ok(kernelShown > 0, `the wizard should have selected the kernel "${KERNEL_LABEL}"`);

  const f = outputFrame(page);
  const chart = f.locator('section.tl-root.tl-training');
  const map = f.locator('section.tl-root.tl-layers', { has: f.locator('h3.tl-title', { hasText: /^digits \+ head$/ }) });
  await sweepNotebook(page, async () => (await chart.count()) === 1 && (await map.count()) === 1);
  assert.equal(await chart.count(), 1, 'one training chart in the output webview');
  assert.equal(await map.count(), 1, 'the freeze map of the model with its new head');

  const status = await chart.locator('[role="status"]').innerText();
  log(`chart status: ${status}`);
  assert.match(status, new RegExp(`^Done: ${EPOCHS} of ${EPOCHS} epochs`));
  assert.equal(await chart.locator('aside.tl-summary h4').innerText(), `Final metrics (epoch ${EPOCHS})`);
  for (const metric of ['loss', 'acc']) {
    const canvas = chart.locator(`figure.tl-panel[data-metric="${metric}"] canvas[role="img"]`);
    const ink = await canvasInk(canvas, SERIES);
    log(`${metric} canvas ${ink.width}×${ink.height}: ${ink.ink} inked pixels, training colour ${ink.near.train}, validation colour ${ink.near.val}, legend rows ${JSON.stringify(ink.nearBottom)}`);
    assert.ok(ink.ink > 0.02 * ink.width * ink.height, `the ${metric} canvas is (nearly) blank: ${ink.ink} inked pixels`);
    assert.ok(ink.near.train > 100 && ink.near.val > 50, `the ${metric} chart should draw training and validation lines: ${JSON.stringify(ink.near)}`);
    assert.ok(ink.nearBottom.train > 20 && ink.nearBottom.val > 10, `the ${metric} legend should show both series: ${JSON.stringify(ink.nearBottom)}`);
  }

  // Feature extraction: the base frozen, the new head trainable.
  const meta = await map.locator('.tl-layers-head .tl-meta').innerText();
  const m = /^(\d+) layers: (\d+) frozen, (\d+) trainable/.exec(meta);
  assert.ok(m && Number(m[2]) > 0 && Number(m[3]) > 0, `feature extraction freezes the base and trains the head: ${meta}`);
  log(`freeze map: ${meta}`);

  const exported = path.join(workspace, 'export', path.basename(NOTEBOOK, '.ipynb'), 'model.json');
  assert.ok(existsSync(exported), `the last cell should export the model to ${exported}`);

  await revealInNotebook(page, chart, { margin: 40 });
  await page.mouse.move(900, 990);
  await sleep(500);
  await page.screenshot({ path: path.join(resultsDir, 'ui-wizard.png') });
  log('screenshot ui-wizard.png');
}
