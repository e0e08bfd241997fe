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

export async function waitForWorkbench(page, { emptyFolder = false } = {}) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  // The explorer lists the folder once the remote file system answers; an empty folder lists
  // nothing, and then its section header (the folder's name) is all there is to wait for.
  const ready = emptyFolder ? page.locator('.explorer-viewlet .pane-header[aria-label]').first() : page.locator('.explorer-folders-view .monaco-list-row').first();
  await ready.waitFor({ state: 'visible', timeout: 60_000 });
}

async function quickInput(page, prefixKey, text) {
  const input = page.locator('.quick-input-widget input.input');
  await page.keyboard.press(prefixKey);
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(text);
  return input;
}

/**
 * Runs a command by its title through the command palette (F1). A palette opened while the
 * first-run walkthrough takes the focus closes again; then it is opened once more.
 */
export async function runCommand(page, title, { attempts = 3 } = {}) {
  for (let i = 1; ; i++) {
    const input = await quickInput(page, 'F1', `>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    try {
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      await input.press('Enter');
      return;
    } catch (e) {
      if (i === attempts) throw e;
      await page.keyboard.press('Escape');
      await sleep(2000);
    }
  }
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

/**
 * The notebook editor in front. Each open notebook has its own overlay, a child of the workbench;
 * the ones behind stay in the DOM with `visibility: hidden` at left -50000px.
 */
export function activeNotebook(page) {
  return page.locator('.notebookOverlay.notebook-editor:not([style*="visibility: hidden"])').first();
}

/**
 * The document all outputs of the active notebook are rendered into (a webview iframe, with the
 * content in its #active-frame). Its own inline style says `visibility: visible` even when its
 * notebook is behind, so it is found through its notebook.
 */
export function outputFrame(page) {
  return page
    .frameLocator('.notebookOverlay.notebook-editor:not([style*="visibility: hidden"]) iframe.webview.ready')
    .first()
    .frameLocator('#active-frame');
}

/** Text of every output the notebook's output webview shows (all outputs share one iframe). */
export async function outputText(page) {
  const body = outputFrame(page).locator('body');
  return (await body.innerText({ timeout: 2_000 }).catch(() => '')) ?? '';
}

/** Counts of the per-cell execution states shown in the cells' status bars. */
export async function cellStates(page) {
  const nb = activeNotebook(page);
  const count = (cls) => nb.locator(`.cell-status-item .codicon-${cls}`).count();
  return {
    success: await count('notebook-state-success'),
    error: await count('notebook-state-error'),
    // Only the cells: the notebook toolbar's kernel picker spins on its own while VS Code runs
    // kernel detection or source actions, which says nothing about whether a cell still runs.
    running: await nb.locator('.cell-list-container .codicon-notebook-state-executing, .cell-list-container .codicon-modifier-spin').count(),
    toolbarSpinning: (await nb.locator('.notebook-toolbar-container .codicon-modifier-spin').count()) > 0,
  };
}

// --- long notebooks: the cell list is virtual, so only the cells in view are in the DOM, and an
// output reaches the webview only once its cell has been scrolled into view.

/** Pixels scrolled from the top of the active notebook, and the scroll height. */
async function notebookScroll(page) {
  const rows = activeNotebook(page).locator('.cell-list-container .monaco-list-rows').first();
  return rows.evaluate((e) => ({ top: -parseFloat(e.style.top || '0'), height: parseFloat(e.style.height || '0') }));
}

/**
 * Scrolls the active notebook by about `dy` pixels with the mouse wheel over the cells' left
 * gutter (over an output the wheel goes to the webview, which forwards it late). The workbench
 * moves a fixed 50 px per wheel event whatever its delta, so this sends |dy|/50 events.
 */
export async function scrollNotebook(page, dy) {
  const list = activeNotebook(page).locator('.cell-list-container').first();
  const box = await list.boundingBox();
  if (!box) throw new Error('scrollNotebook: no notebook editor in view');
  await page.mouse.move(box.x + 8, box.y + box.height / 2);
  const n = Math.max(1, Math.round(Math.abs(dy) / 50));
  for (let i = 0; i < n; i++) await page.mouse.wheel(0, Math.sign(dy) * 50);
  await sleep(150);
}

export async function scrollNotebookToTop(page) {
  for (let i = 0; i < 50; i++) {
    const { top } = await notebookScroll(page);
    if (top <= 0) return;
    await scrollNotebook(page, -Math.max(top, 50));
  }
  throw new Error('scrollNotebookToTop: the notebook did not reach its top');
}

/**
 * Scrolls the active notebook from the top to the bottom, a screen at a time, calling `visit()` at
 * each stop; stops early when `visit` returns a truthy value and returns it.
 */
export async function sweepNotebook(page, visit, { step = 500 } = {}) {
  await scrollNotebookToTop(page);
  let last = -1;
  for (let i = 0; i < 200; i++) {
    await sleep(300);
    const r = await visit();
    if (r) return r;
    const { top } = await notebookScroll(page);
    if (top === last) return undefined;
    last = top;
    await scrollNotebook(page, step);
  }
  return undefined;
}

/**
 * Execution state of every code cell of the active notebook, by cell index (markdown cells left
 * out): 'success', 'error', 'running', 'pending' or 'none'. Reads the cells' status bars while
 * scrolling through the notebook, because only the cells in view are in the DOM.
 */
export async function allCellStates(page) {
  const states = new Map();
  const readVisible = async () => {
    const seen = await activeNotebook(page)
      .locator('.monaco-list-row.code-cell-row')
      .evaluateAll((rows) =>
        rows.map((r) => {
          const icon = r.querySelector('.cell-status-item .codicon[class*="notebook-state-"], .cell-status-item .codicon-modifier-spin');
          const m = icon && /notebook-state-(\w+)/.exec(icon.className);
          const state = !icon ? 'none' : m ? m[1].replace('executing', 'running') : 'running';
          return [Number(r.dataset.index), state];
        }),
      );
    for (const [i, s] of seen) states.set(i, s);
  };
  await sweepNotebook(page, async () => {
    await readVisible();
    return undefined;
  });
  return new Map([...states.entries()].sort((a, b) => a[0] - b[0]));
}

/** True while the notebook toolbar offers Interrupt instead of Run All (cells queued or running). */
export async function notebookBusy(page) {
  return (await activeNotebook(page).locator('.notebook-toolbar-container .action-item a[aria-label="Interrupt"]').count()) > 0;
}

/** The workbench status bar's text, for progress logs ("Training epoch 25/40 · 61% · ETA 0:12"). */
export async function statusBarText(page) {
  const items = await page.locator('.statusbar-item').evaluateAll((els) => els.map((e) => e.textContent?.trim()).filter(Boolean));
  return items.join(' | ');
}

/**
 * Waits for a notebook run to start (the toolbar's Run All turns into Interrupt) and then to
 * end. Picks the kernel named `kernelLabel` if VS Code asks for one. Logs progress from the status
 * bar every 15 s.
 */
export async function waitForRunToFinish(page, { kernelLabel, timeoutMs = 300_000, startTimeoutMs = 60_000, log = () => {} } = {}) {
  // A short run can be over before the first look; cells with a result in view count as started.
  const ran = async () => {
    const s = await cellStates(page);
    return s.success + s.error > 0;
  };
  const t0 = Date.now();
  let picked = false;
  const pick = async () => {
    if (kernelLabel && !picked && (await pickKernelIfAsked(page, kernelLabel, 0))) {
      picked = true;
      log(`picked "${kernelLabel}" in the kernel picker`);
    }
  };
  await waitFor(
    'the notebook run to start (Interrupt in the notebook toolbar)',
    async () => {
      await pick();
      return (await notebookBusy(page)) || (await ran());
    },
    { timeoutMs: startTimeoutMs },
  );
  log('run started');
  let lastLog = Date.now();
  await waitFor(
    'the notebook run to finish (Run All back in the notebook toolbar)',
    async () => {
      await pick();
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(`running… status bar: ${await statusBarText(page)}`);
      }
      return !(await notebookBusy(page));
    },
    { timeoutMs, intervalMs: 500 },
  );
  log(`run finished after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { picked };
}

/**
 * Scrolls the active notebook until `locator` (an element inside the output webview or the
 * notebook) starts `margin` px below the top of the notebook's view, or as close as the scroll
 * range allows. The element must already be rendered (see sweepNotebook).
 */
export async function revealInNotebook(page, locator, { margin = 24 } = {}) {
  const list = activeNotebook(page).locator('.cell-list-container').first();
  let lastTop;
  for (let i = 0; i < 40; i++) {
    const view = await list.boundingBox();
    const box = await locator.boundingBox();
    if (!view || !box) throw new Error('revealInNotebook: the element or the notebook has no box');
    const dy = box.y - (view.y + margin);
    const { top } = await notebookScroll(page);
    if (Math.abs(dy) < 50 || top === lastTop) {
      await sleep(300);
      return locator.boundingBox();
    }
    lastTop = top;
    await scrollNotebook(page, dy);
    await sleep(200);
  }
  throw new Error('revealInNotebook: the element did not come into view');
}

/**
 * What a chart canvas shows, read back from its pixels inside the output webview: pixels with any
 * ink, and pixels close to each of `colors` (CSS colours or lists of candidates, resolved in the
 * webview, so the theme's --vscode-charts-* variables work), over the whole canvas (`near`) and
 * over its bottom `bottomRows` rows (`nearBottom`, where Chart.js puts a bottom legend).
 * A canvas that Chart.js never drew is all transparent.
 */
export async function canvasInk(canvas, colors = {}, { bottomRows = 30 } = {}) {
  return canvas.evaluate((cv, { colors, bottomRows }) => {
    const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
    const rgb = (css) => {
      const v = css.startsWith('--') ? getComputedStyle(document.documentElement).getPropertyValue(css).trim() || getComputedStyle(document.body).getPropertyValue(css).trim() : css;
      if (!v) return undefined;
      probe.clearRect(0, 0, 1, 1);
      probe.fillStyle = '#000';
      probe.fillStyle = v;
      probe.fillRect(0, 0, 1, 1);
      return [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
    };
    const targets = Object.entries(colors).map(([name, css]) => ({ name, css, rgb: Array.isArray(css) ? css.map(rgb).find(Boolean) : rgb(css) }));
    const c = document.createElement('canvas');
    c.width = cv.width;
    c.height = cv.height;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(cv, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    const near = Object.fromEntries(targets.map((t) => [t.name, 0]));
    const nearBottom = Object.fromEntries(targets.map((t) => [t.name, 0]));
    const bottomStart = Math.max(0, c.height - bottomRows) * c.width * 4;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] === 0) continue;
      ink++;
      if (d[i + 3] < 64) continue;
      for (const t of targets) {
        if (!t.rgb) continue;
        const dist = Math.abs(d[i] - t.rgb[0]) + Math.abs(d[i + 1] - t.rgb[1]) + Math.abs(d[i + 2] - t.rgb[2]);
        if (dist < 60) {
          near[t.name]++;
          if (i >= bottomStart) nearBottom[t.name]++;
        }
      }
    }
    return {
      width: cv.width,
      height: cv.height,
      cssWidth: cv.clientWidth,
      cssHeight: cv.clientHeight,
      ink,
      near,
      nearBottom,
      colors: Object.fromEntries(targets.map((t) => [t.name, t.rgb ? `rgb(${t.rgb.join(',')})` : null])),
    };
  }, { colors, bottomRows });
}

// --- quick inputs (QuickPick, InputBox, and the simple file dialog, which is a quick input too)

export function quickInputWidget(page) {
  return page.locator('.quick-input-widget');
}

/** Waits for a visible quick input whose title contains `title`; returns its text box. */
export async function waitForQuickInput(page, title, { timeoutMs = 30_000 } = {}) {
  const w = quickInputWidget(page);
  await waitFor(
    `a quick input titled "${title}"`,
    async () => (await w.isVisible()) && (await w.locator('.quick-input-title').innerText()).includes(title),
    { timeoutMs },
  ).catch(async (e) => {
    const seen = (await w.isVisible().catch(() => false)) ? await w.locator('.quick-input-title').innerText().catch(() => '?') : '(none visible)';
    throw new Error(`${e.message}; quick input title now: ${seen}`);
  });
  return w.locator('input.input').first();
}

/** Labels (accessible names) of the rows a visible quick pick lists. */
export async function quickPickRows(page) {
  return quickInputWidget(page)
    .locator('.quick-input-list .monaco-list-row')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? r.textContent ?? ''));
}

/** Clicks the quick pick row whose text contains `label` (a string or RegExp). */
export async function pickQuickItem(page, label, { timeoutMs = 15_000 } = {}) {
  const row = quickInputWidget(page).locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ state: 'visible', timeout: timeoutMs }).catch(async () => {
    throw new Error(`no quick pick row "${label}"; rows: ${JSON.stringify(await quickPickRows(page))}`);
  });
  await row.click();
}

/** The active editor tab's label. */
export async function activeTabLabel(page) {
  return (await page.locator('.tabs-container .tab.active').first().getAttribute('aria-label').catch(() => '')) ?? '';
}
