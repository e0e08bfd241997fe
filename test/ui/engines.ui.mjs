// UI test: the platform package installed into a fresh code-server, opened on an EMPTY folder (no
// node_modules anywhere near it). The quick start from the template, a MobileNetV2-style extraction
// on ONNX Runtime + sharp (both loaded from the extension's own folder, at the source checkout's
// speed), and the device report as a read-only view. Screenshots: ui-engines-*.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { activeTabLabel, allCellStates, openNotebook, outputText, pickQuickItem, runAll, runCommand, sleep, waitFor, waitForRunToFinish } from './workbench.mjs';

export const name = 'platform package on an empty folder: quick start, ONNX Runtime + sharp extraction, device report';
export const workspaceFiles = [];

const KERNEL_LABEL = 'Transfer Lab (TensorFlow.js)';

/** SMOKE {...} lines the smoke notebook prints, merged. */
function smokeResults(text) {
  return Object.assign({}, ...text.split('\n').filter((l) => l.startsWith('SMOKE ')).map((l) => JSON.parse(l.slice(6))));
}

/** The same notebook with the source checkout's CLI (its node_modules), in a folder of its own. */
function sourceCheckoutRun() {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'tl-src-ws-'));
  try {
    cpSync(path.join(repoRoot, 'samples', 'data'), path.join(ws, 'data'), { recursive: true });
    cpSync(path.join(repoRoot, 'test', 'package', 'smoke.ipynb'), path.join(ws, 'smoke.ipynb'));
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'run', 'smoke.ipynb', '--out', 'out.ipynb'], { cwd: ws, encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, `the source checkout's run failed:\n${r.stdout}\n${r.stderr}`);
    return smokeResults(r.stdout);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

async function quickStart(page, workspace, resultsDir, log) {
  await runCommand(page, 'Transfer Lab: New Transfer-Learning Notebook');
  await pickQuickItem(page, 'Quick start (offline)');
  await page.locator('.notebook-editor .code-cell-row').first().waitFor({ state: 'visible', timeout: 30_000 });
  // The sample images were copied into the workspace, and the notebook reads them there.
  assert.ok(existsSync(path.join(workspace, 'data', 'digits-5-9')), 'the sample data should be copied into the workspace');
  const code = await page.locator('.notebook-editor .view-lines').allInnerTexts();
  assert.ok(!code.join('\n').includes('transfer-lab.transfer-lab-'), 'the notebook must not point into the versioned extension folder');
  await runAll(page);
  await waitForRunToFinish(page, { kernelLabel: KERNEL_LABEL, timeoutMs: 300_000, log });
  const states = await allCellStates(page);
  const failed = [...states].filter(([, s]) => s !== 'success');
  assert.deepEqual(failed, [], `every quick-start cell should succeed: ${JSON.stringify(Object.fromEntries(states))}`);
  const text = await outputText(page);
  const speedup = /with it [\d.]+ ms: ([\d.]+)× faster/.exec(text);
  log(`quick start: ${states.size} cells succeeded; cache speed-up ${speedup?.[1] ?? '?'}×`);
  await page.screenshot({ path: path.join(resultsDir, 'ui-engines-quickstart.png') });
}

async function extraction(page, workspace, resultsDir, log) {
  cpSync(path.join(repoRoot, 'test', 'package', 'smoke.ipynb'), path.join(workspace, 'smoke.ipynb'));
  await runCommand(page, 'View: Close All Editors');
  await openNotebook(page, 'smoke.ipynb', { log });
  await runAll(page);
  await waitForRunToFinish(page, { kernelLabel: KERNEL_LABEL, timeoutMs: 300_000, log });
  let smoke = {};
  await waitFor('the extraction results in the outputs', async () => {
    smoke = smokeResults(await outputText(page));
    return smoke.extract > 0;
  }, { timeoutMs: 30_000 });
  log(`in the installed extension: ONNX Runtime from ${smoke.ort}, sharp from ${smoke.decoder}, ${smoke.webgpu}; extraction ${smoke.extract.toFixed(1)} img/s (ORT ${smoke.provider}, ${smoke.decoderName})`);
  const extDir = `${path.sep}ext${path.sep}transfer-lab.transfer-lab-`;
  assert.ok(smoke.ort?.includes(extDir) && smoke.ort.includes(`${path.sep}dist${path.sep}node_modules${path.sep}onnxruntime-node`), `ONNX Runtime should come from the installed extension: ${smoke.ort}`);
  assert.ok(smoke.decoder?.includes(extDir), `sharp should come from the installed extension: ${smoke.decoder}`);
  assert.equal(smoke.decoderName, 'sharp');
  await page.screenshot({ path: path.join(resultsDir, 'ui-engines-extraction.png') });
  return smoke;
}

async function deviceReport(page, resultsDir, log) {
  await runCommand(page, 'Transfer Lab: Show Device and Backends');
  const t0 = Date.now();
  const preview = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  await waitFor('the report view', async () => (await preview.locator('h1').count()) > 0, { timeoutMs: 15_000 });
  const firstShown = (Date.now() - t0) / 1000;
  await waitFor('the engines table in the report', async () => /onnxruntime-node 1\.\d+/.test(await preview.locator('body').innerText().catch(() => '')), { timeoutMs: 90_000 });
  const body = await preview.locator('body').innerText();
  log(`device report: shown after ${firstShown.toFixed(1)} s, complete after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.match(body, /Engines/);
  assert.match(body, /sharp \d+\.\d+\.\d+ \(libvips/);
  assert.match(body, /GPU without CUDA 11\.2/);
  const tab = await activeTabLabel(page);
  log(`report tab: ${tab}`);
  await page.screenshot({ path: path.join(resultsDir, 'ui-engines-device-report.png') });
  // Nothing to save: closing the view asks nothing.
  await runCommand(page, 'View: Close All Editors');
  await sleep(1000);
  assert.equal(await page.locator('.monaco-dialog-box').count(), 0, 'closing the device report should not ask to save anything');
  return firstShown;
}

export async function run({ page, workspace, resultsDir, log }) {
  assert.deepEqual(readdirSync(workspace), [], 'the workspace starts empty');
  const before = sourceCheckoutRun();
  await quickStart(page, workspace, resultsDir, log);
  const installed = await extraction(page, workspace, resultsDir, log);
  const after = sourceCheckoutRun();
  const source = Math.max(before.extract, after.extract);
  const ratio = installed.extract / source;
  log(`extraction, same run: installed extension ${installed.extract.toFixed(1)} img/s, source checkout ${before.extract.toFixed(1)} / ${after.extract.toFixed(1)} img/s (installed ÷ best source ${ratio.toFixed(2)})`);
  assert.ok(ratio >= 0.85, `the installed extension extracts ${((1 - ratio) * 100).toFixed(0)} % slower than the source checkout (limit 15 %)`);
  const shownAfter = await deviceReport(page, resultsDir, log);
  assert.ok(shownAfter < 5, `the device report should open at once; it took ${shownAfter.toFixed(1)} s`);
}
