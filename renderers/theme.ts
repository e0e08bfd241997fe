/**
 * Colours for canvas drawing, read from the --vscode-* variables the notebook webview defines.
 * DOM parts use the variables directly in CSS; the canvas needs concrete values, read again
 * whenever the body class (theme kind) or the variables change.
 */
import { bestText, over, parseColor, toCss, withAlpha, type RGBA } from './shaping/color';

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface Theme {
  kind: ThemeKind;
  fg: string;
  muted: string;
  bg: string;
  grid: string;
  border: string;
  fontFamily: string;
  monoFamily: string;
  fontSize: number;
  /** Series colours: blue, orange, green, purple, red, yellow. */
  series: string[];
  tooltipBg: string;
  tooltipFg: string;
  tooltipBorder: string;
  /** Parsed colours, for blending (heatmap cells). */
  rgb: { fg: RGBA; bg: RGBA; heat: RGBA };
}

const FALLBACK: Record<ThemeKind, { fg: string; bg: string; series: string[] }> = {
  light: { fg: '#3b3b3b', bg: '#ffffff', series: ['#1a85ff', '#d18616', '#388a34', '#652d90', '#e51400', '#bf8803'] },
  dark: { fg: '#cccccc', bg: '#1f1f1f', series: ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'] },
  'high-contrast': { fg: '#ffffff', bg: '#000000', series: ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'] },
  'high-contrast-light': { fg: '#292929', bg: '#ffffff', series: ['#0f4a85', '#b5200d', '#374e06', '#652d90', '#b5200d', '#895503'] },
};

export function themeKind(body: HTMLElement = document.body): ThemeKind {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-dark')) return 'dark';
  return 'light';
}

export function readTheme(): Theme {
  const kind = themeKind();
  const fb = FALLBACK[kind];
  const style = getComputedStyle(document.documentElement);
  const bodyStyle = getComputedStyle(document.body);
  const v = (name: string) => style.getPropertyValue(name).trim() || bodyStyle.getPropertyValue(name).trim();
  const pick = (fallback: string, ...names: string[]) => {
    for (const n of names) {
      const val = v(n);
      if (parseColor(val)) return val;
    }
    return fallback;
  };
  const fg = pick(fb.fg, '--vscode-editor-foreground', '--vscode-foreground');
  const bg = pick(fb.bg, '--vscode-notebook-outputContainerBackgroundColor', '--vscode-editor-background');
  const fgc = parseColor(fg)!;
  const bgc = over(parseColor(bg)!, parseColor(fb.bg)!);
  const hc = kind.startsWith('high-contrast');
  const series = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'].map((n, i) => pick(fb.series[i], `--vscode-charts-${n}`));
  const contrastBorder = v('--vscode-contrastBorder');
  return {
    kind,
    fg,
    muted: pick(toCss(withAlpha(fgc, 0.75)), '--vscode-descriptionForeground'),
    bg,
    grid: hc ? pick(toCss(withAlpha(fgc, 0.5)), '--vscode-contrastBorder') : toCss(withAlpha(fgc, 0.12)),
    border: pick(toCss(withAlpha(fgc, 0.3)), '--vscode-contrastBorder', '--vscode-panel-border', '--vscode-editorWidget-border'),
    fontFamily: v('--vscode-font-family') || 'system-ui, sans-serif',
    monoFamily: v('--vscode-editor-font-family') || 'monospace',
    fontSize: parseFloat(v('--vscode-font-size')) || 13,
    series,
    tooltipBg: pick(bg, '--vscode-editorHoverWidget-background', '--vscode-editorWidget-background'),
    tooltipFg: pick(fg, '--vscode-editorHoverWidget-foreground', '--vscode-editorWidget-foreground'),
    tooltipBorder: pick(contrastBorder || toCss(withAlpha(fgc, 0.3)), '--vscode-editorHoverWidget-border', '--vscode-contrastBorder'),
    rgb: { fg: fgc, bg: bgc, heat: parseColor(series[0])! },
  };
}

/** Heatmap cell colour at `t` in [0, 1], and a text colour that reads on it. */
export function heatColors(theme: Theme, t: number): { bg: string; fg: string } {
  const cell = over(theme.rgb.heat, theme.rgb.bg, 0.08 + 0.92 * t);
  const text = bestText(cell, [theme.rgb.fg, theme.rgb.bg]);
  return { bg: toCss(cell), fg: toCss(text) };
}

// --- change notification: one observer for every view in the iframe

const listeners = new Set<(t: Theme) => void>();
let observer: MutationObserver | undefined;
let pending = false;

function notify(): void {
  if (pending) return;
  pending = true;
  // Several attribute changes arrive together when the theme switches; read once after them.
  queueMicrotask(() => {
    pending = false;
    const t = readTheme();
    for (const l of [...listeners]) l(t);
  });
}

export function onThemeChange(cb: (t: Theme) => void): () => void {
  listeners.add(cb);
  if (!observer) {
    observer = new MutationObserver(notify);
    observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  }
  return () => {
    listeners.delete(cb);
    if (!listeners.size && observer) {
      observer.disconnect();
      observer = undefined;
    }
  };
}
