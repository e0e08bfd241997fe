// Driving the VS Code workbench (code-server's web build) with playwright-core, as a person would:
// quick open, the command palette, the notebook toolbar, and the output webview.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; the error names what was awaited. */
export async function waitFor(what, fn, { timeoutMs = 30_000, intervalMs = 250 } = {}) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`${what}: not seen in ${timeoutMs} ms${last ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

export async function waitForWorkbench(page) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  // The explorer lists the folder once the remote file system answers.
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ state: 'visible', timeout: 60_000 });
}

async function quickInput(page, prefixKey, text) {
  const input = page.locator('.quick-input-widget input.input');
  await page.keyboard.press(prefixKey);
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(text);
  return input;
}

/** Runs a command by its title through the command palette (F1). */
export async function runCommand(page, title) {
  const input = await quickInput(page, 'F1', `>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await input.press('Enter');
}

/**
 * Opens a workspace file with quick open and waits for the notebook editor. An .ipynb opened before
 * the extension host has registered the notebook serializer opens as JSON text, so that case is
 * closed and retried.
 */
export async function openNotebook(page, fileName, { attempts = 5, log = () => {} } = {}) {
  for (let i = 1; i <= attempts; i++) {
    const input = await quickInput(page, 'Control+P', fileName);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: fileName }).first();
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    await input.press('Enter');
    try {
      await page.locator('.notebook-editor .cell-list-container').first().waitFor({ state: 'visible', timeout: 10_000 });
      return;
    } catch {
      log(`attempt ${i}: ${fileName} did not open as a notebook; closing and retrying`);
      await runCommand(page, 'View: Close All Editors');
      await sleep(2000);
    }
  }
  throw new Error(`${fileName} never opened in the notebook editor`);
}

/** Clicks the notebook toolbar's Run All, falling back to the command palette. */
export async function runAll(page) {
  const button = page.locator('.notebook-toolbar-container .action-item a[aria-label^="Run All"]').first();
  if (await button.isVisible().catch(() => false)) await button.click();
  else await runCommand(page, 'Notebook: Run All');
}

/** If VS Code asks which kernel to use, picks the one whose label contains `label`. */
export async function pickKernelIfAsked(page, label, timeoutMs = 5_000) {
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first();
  if (timeoutMs <= 0) {
    if (!(await row.isVisible().catch(() => false))) return false;
  } else {
    try {
      await row.waitFor({ state: 'visible', timeout: timeoutMs });
    } catch {
      return false;
    }
  }
  await row.click();
  return true;
}

/** Text of every output the notebook's output webview shows (all outputs share one iframe). */
export async function outputText(page) {
  const body = page.frameLocator('iframe.webview.ready').first().frameLocator('#active-frame').locator('body');
  return (await body.innerText({ timeout: 2_000 }).catch(() => '')) ?? '';
}

/** Counts of the per-cell execution states shown in the cells' status bars. */
export async function cellStates(page) {
  const count = (cls) => page.locator(`.notebook-editor .cell-status-item .codicon-${cls}`).count();
  return {
    success: await count('notebook-state-success'),
    error: await count('notebook-state-error'),
    running: await page.locator('.notebook-editor .codicon-notebook-state-executing, .notebook-editor .codicon-modifier-spin').count(),
  };
}
