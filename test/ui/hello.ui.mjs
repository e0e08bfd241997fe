// UI test: the packaged extension, installed into code-server from its .vsix, runs
// samples/hello.ipynb from the notebook toolbar, and the outputs appear in the page.
import assert from 'node:assert/strict';
import path from 'node:path';
import { cellStates, openNotebook, outputText, pickKernelIfAsked, runAll, waitFor } from './workbench.mjs';

export const name = 'hello.ipynb: Run All in the packaged extension';
/** Files from the repository copied into the run's workspace. */
export const workspaceFiles = ['samples/hello.ipynb'];

const KERNEL_LABEL = 'Transfer Lab (TensorFlow.js)';

export async function run({ page, resultsDir, log }) {
  await openNotebook(page, 'hello.ipynb', { log });
  log('notebook open');
  // The editor shows before its cells are laid out.
  await waitFor('3 code cells rendered', async () => (await page.locator('.notebook-editor .code-cell-row').count()) === 3, { timeoutMs: 20_000 });

  await runAll(page);
  let picked = false;
  const states = await waitFor(
    'all 3 code cells finished',
    async () => {
      // When several kernels match, Run All first asks which one to use.
      if (!picked && (await pickKernelIfAsked(page, KERNEL_LABEL, 0))) {
        picked = true;
        log(`picked "${KERNEL_LABEL}" in the kernel picker`);
      }
      const s = await cellStates(page);
      return s.success + s.error >= 3 && s.running === 0 ? s : undefined;
    },
    { timeoutMs: 120_000 },
  );
  if (!picked) log('no kernel picker (the only kernel was selected automatically)');
  log(`cell states: ${JSON.stringify(states)}`);
  const kernelShown = await page.locator('.notebook-toolbar-container', { hasText: KERNEL_LABEL }).count();
  assert.ok(kernelShown > 0, `the notebook toolbar should name the kernel "${KERNEL_LABEL}"`);

  const expected = ['hello from the kernel', 'HELLO FROM THE KERNEL 30', /final loss \d+\.\d{4}/];
  const text = await waitFor(
    'the expected output text in the output webview',
    async () => {
      const t = await outputText(page);
      return expected.every((e) => (typeof e === 'string' ? t.includes(e) : e.test(t))) ? t : undefined;
    },
    { timeoutMs: 20_000 },
  ).catch(async (e) => {
    throw new Error(`${e.message}\n--- webview text ---\n${await outputText(page)}`);
  });
  log(`output text:\n${text.split('\n').map((l) => `    | ${l}`).join('\n')}`);

  // Move off the Run All button so its hover tooltip is gone from the screenshot.
  await page.mouse.move(900, 990);
  await waitFor('the toolbar tooltip to hide', async () => !(await page.locator('.monaco-hover, .workbench-hover').first().isVisible().catch(() => false)), { timeoutMs: 3_000 }).catch(() => undefined);
  await page.screenshot({ path: path.join(resultsDir, 'ui-hello.png') });
  assert.equal(states.error, 0, 'no cell may fail');
  assert.equal(states.success, 3);
  const backend = /'(cpu|wasm|webgpu|tensorflow|tensorflow-gpu|webgl)'/.exec(text);
  assert.ok(backend, `cell 1's value should name the TF.js backend; text: ${text}`);
  log(`backend shown: ${backend[1]}`);
}
