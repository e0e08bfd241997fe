/**
 * Loads the built renderer bundle (dist/renderers/main.js) into headless Chromium with a small
 * stand-in for VS Code's renderer context, and drives it the way the notebook does: render an
 * output item, post messages, dispose, switch the theme.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const BUNDLE = path.join(ROOT, 'dist', 'renderers', 'main.js');
export const SHOTS = path.join(ROOT, 'test-results', 'renderer');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ORIGIN = 'http://renderer.test';

export const MIME = {
  training: 'application/vnd.transfer-lab.training+json',
  layers: 'application/vnd.transfer-lab.layers+json',
  confusion: 'application/vnd.transfer-lab.confusion+json',
  lrFind: 'application/vnd.transfer-lab.lrfind+json',
  gallery: 'application/vnd.transfer-lab.gallery+json',
} as const;

function newestSource(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newestSource(p) : name.endsWith('.ts') ? s.mtimeMs : 0);
  }
  return t;
}

/** Fails loudly when the bundle is missing or older than the sources it is built from. */
export function checkBundle(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node esbuild.mjs renderers" first (or node scripts/run-renderer-tests.mjs).`);
  const newest = Math.max(newestSource(path.join(ROOT, 'renderers')), newestSource(path.join(ROOT, 'src', 'common')));
  if (statSync(BUNDLE).mtimeMs < newest) throw new Error(`${BUNDLE} is older than renderers/ or src/common/: rebuild with "node esbuild.mjs renderers".`);
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH).`);
}

const HARNESS = `<!doctype html>
<html><head><meta charset="utf-8"><title>renderer harness</title>
<style>
  body { margin: 0; padding: 12px; background: var(--vscode-editor-background); color: var(--vscode-foreground); }
  .output { padding: 8px 0; }
</style></head>
<body class="vscode-light"><div id="outputs"></div>
<script type="module">
  const mod = await import('/main.js');
  const listeners = new Set();
  const posted = [];
  let state;
  const ctx = {
    postMessage: (m) => posted.push(m),
    onDidReceiveMessage(cb) { listeners.add(cb); return { dispose: () => listeners.delete(cb) }; },
    setState(s) { state = structuredClone(s); },
    getState() { return state; },
  };
  const api = mod.activate(ctx);
  const el = (id) => document.getElementById('out-' + id);
  window.tl = {
    mod, api, posted,
    render(id, mime, data) {
      let e = el(id);
      if (!e) {
        e = document.createElement('div');
        e.id = 'out-' + id;
        e.className = 'output';
        document.getElementById('outputs').append(e);
      }
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      const t0 = performance.now();
      api.renderOutputItem({ id, mime, text: () => text, json: () => JSON.parse(text) }, e, new AbortController().signal);
      return performance.now() - t0;
    },
    /** What VS Code does before re-rendering or on clear: dispose, then empty the element. */
    clear(id) { api.disposeOutputItem(id); el(id)?.replaceChildren(); },
    remove(id) { api.disposeOutputItem(id); el(id)?.remove(); },
    send(m) { for (const l of listeners) l(m); },
    inspect(id) { return mod.inspect(el(id)); },
    liveCharts() { return mod.liveCharts(); },
    frame() { return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); },
  };
  window.tlReady = true;
</script></body></html>`;

export type ThemeName = 'light' | 'dark' | 'high-contrast';

/** A subset of VS Code's default themes' values (Light+/Dark+ Modern/High Contrast). */
export const THEMES: Record<ThemeName, { body: string; vars: Record<string, string> }> = {
  light: {
    body: 'vscode-light',
    vars: {
      '--vscode-editor-background': '#ffffff',
      '--vscode-editor-foreground': '#3b3b3b',
      '--vscode-foreground': '#3b3b3b',
      '--vscode-descriptionForeground': '#717171',
      '--vscode-focusBorder': '#005fb8',
      '--vscode-panel-border': '#e5e5e5',
      '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-green': '#388a34',
      '--vscode-charts-purple': '#652d90',
      '--vscode-charts-red': '#e51400',
      '--vscode-charts-yellow': '#bf8803',
      '--vscode-button-secondaryBackground': '#e5e5e5',
      '--vscode-button-secondaryForeground': '#3b3b3b',
      '--vscode-input-background': '#ffffff',
      '--vscode-input-foreground': '#3b3b3b',
      '--vscode-input-border': '#cecece',
      '--vscode-textCodeBlock-background': '#f8f8f8',
      '--vscode-editorHoverWidget-background': '#f8f8f8',
      '--vscode-editorHoverWidget-foreground': '#3b3b3b',
      '--vscode-editorHoverWidget-border': '#c8c8c8',
      '--vscode-errorForeground': '#f85149',
      '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-editor-font-family': 'Menlo, Monaco, "Courier New", monospace',
    },
  },
  dark: {
    body: 'vscode-dark',
    vars: {
      '--vscode-editor-background': '#1f1f1f',
      '--vscode-editor-foreground': '#cccccc',
      '--vscode-foreground': '#cccccc',
      '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-focusBorder': '#0078d4',
      '--vscode-panel-border': '#2b2b2b',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-charts-yellow': '#cca700',
      '--vscode-button-secondaryBackground': '#313131',
      '--vscode-button-secondaryForeground': '#cccccc',
      '--vscode-input-background': '#313131',
      '--vscode-input-foreground': '#cccccc',
      '--vscode-input-border': '#3c3c3c',
      '--vscode-textCodeBlock-background': '#2b2b2b',
      '--vscode-editorHoverWidget-background': '#202020',
      '--vscode-editorHoverWidget-foreground': '#cccccc',
      '--vscode-editorHoverWidget-border': '#454545',
      '--vscode-errorForeground': '#f85149',
      '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-editor-font-family': 'Menlo, Monaco, "Courier New", monospace',
    },
  },
  'high-contrast': {
    body: 'vscode-high-contrast',
    vars: {
      '--vscode-editor-background': '#000000',
      '--vscode-editor-foreground': '#ffffff',
      '--vscode-foreground': '#ffffff',
      '--vscode-descriptionForeground': '#ffffff',
      '--vscode-focusBorder': '#f38518',
      '--vscode-contrastBorder': '#6fc3df',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-charts-yellow': '#cca700',
      '--vscode-button-border': '#6fc3df',
      '--vscode-input-background': '#000000',
      '--vscode-input-foreground': '#ffffff',
      '--vscode-input-border': '#6fc3df',
      '--vscode-editorHoverWidget-background': '#0c141f',
      '--vscode-editorHoverWidget-foreground': '#ffffff',
      '--vscode-editorHoverWidget-border': '#6fc3df',
      '--vscode-errorForeground': '#f48771',
      '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-editor-font-family': 'Menlo, Monaco, "Courier New", monospace',
    },
  },
};

export interface Harness {
  browser: Browser;
  page: Page;
  /** Script errors and console errors seen in the page. */
  errors: string[];
  dialogs: string[];
  close(): Promise<void>;
}

export async function openHarness(theme: ThemeName = 'light', viewport = { width: 1100, height: 800 }): Promise<Harness> {
  checkBundle();
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  // Nothing leaves the machine: the harness origin is served from memory and disk, anything else fails.
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin !== ORIGIN) return route.abort();
    if (url.pathname === '/' || url.pathname === '/index.html') return route.fulfill({ contentType: 'text/html', body: HARNESS });
    if (url.pathname === '/main.js') return route.fulfill({ contentType: 'text/javascript', body: readFileSync(BUNDLE) });
    return route.fulfill({ status: 404, body: 'not found' });
  });
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForFunction(() => (window as unknown as { tlReady?: boolean }).tlReady === true);
  await setTheme(page, theme);
  return { browser, page, errors, dialogs, close: () => browser.close() };
}

export async function setTheme(page: Page, theme: ThemeName): Promise<void> {
  const t = THEMES[theme];
  await page.evaluate(({ body, vars }) => {
    const root = document.documentElement;
    const names = Array.from({ length: root.style.length }, (_, i) => root.style.item(i));
    for (const name of names) if (name.startsWith("--vscode-")) root.style.removeProperty(name);
    for (const [k, v] of Object.entries(vars)) root.style.setProperty(k, v);
    document.body.className = body;
  }, t);
  // The renderer reads the theme in a microtask after the mutation; give it a frame to redraw.
  await frame(page);
}

/** Types of the stand-in exposed on window.tl. */
export interface TlWindow {
  tl: {
    render(id: string, mime: string, data: unknown): number;
    clear(id: string): void;
    remove(id: string): void;
    send(m: unknown): void;
    inspect(id: string): unknown[];
    liveCharts(): number[];
    frame(): Promise<void>;
  };
}

export function render(page: Page, id: string, mime: string, data: unknown): Promise<number> {
  return page.evaluate(([id, mime, data]) => (window as unknown as TlWindow).tl.render(id as string, mime as string, data), [id, mime, data] as const);
}

export function send(page: Page, messages: unknown[]): Promise<void> {
  return page.evaluate((ms) => {
    for (const m of ms) (window as unknown as TlWindow).tl.send(m);
  }, messages);
}

export function frame(page: Page): Promise<void> {
  return page.evaluate(() => (window as unknown as TlWindow).tl.frame());
}

export function inspect<T = Record<string, unknown>>(page: Page, id: string): Promise<T[]> {
  return page.evaluate((id) => (window as unknown as TlWindow).tl.inspect(id), id) as Promise<T[]>;
}

export function liveCharts(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as TlWindow).tl.liveCharts());
}

export async function screenshot(page: Page, name: string, selector = '#outputs'): Promise<string> {
  const file = path.join(SHOTS, `${name}.png`);
  await page.locator(selector).screenshot({ path: file });
  return file;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
