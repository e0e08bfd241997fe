/**
 * The built-in `tslab` module: the display API tslab notebooks call (`tslab.display.html(…)`,
 * `tslab.newDisplay()`, `tslab.versions`), on the kernel's own output sink. A notebook's own
 * installed `tslab` package is resolved first (see CellRequire); this one needs nothing installed.
 * Deno's `Deno.jupyter` helpers live on the same module (see deno.ts).
 */
import type { DisplayHandle, MimeBundle } from '../../common/display';
import { getOutputSink } from '../../tl/output';
import { describeValue } from '../../tl/util/text';
import type { DenoJupyter } from './deno';

/** The methods of tslab's `Display`. Binary data is given as bytes and sent as base64. */
export interface TslabDisplay {
  javascript(s: string): void;
  html(s: string): void;
  markdown(s: string): void;
  latex(s: string): void;
  svg(s: string): void;
  png(b: Uint8Array): void;
  jpeg(b: Uint8Array): void;
  gif(b: Uint8Array): void;
  pdf(b: Uint8Array): void;
  text(s: string): void;
  raw(contentType: string, data: string | Uint8Array): void;
}

/** VS Code renders JavaScript output under this type (in trusted notebooks), not tslab's text/javascript. */
const JS_MIME = 'application/javascript';

/** One display entry, or (updatable) one that each call after the first replaces in place. */
function makeDisplay(updatable: boolean): TslabDisplay {
  let handle: DisplayHandle | undefined;
  const raw = (contentType: string, data: string | Uint8Array): void => {
    const bundle = rawBundle(contentType, data);
    if (handle) handle.update(bundle);
    else {
      const h = getOutputSink().display(bundle);
      if (updatable) handle = h;
    }
  };
  const text = (mime: string) => (s: string) => raw(mime, expectString(s, mime));
  const bytes = (mime: string) => (b: Uint8Array) => raw(mime, expectBytes(b, mime));
  return {
    javascript: text('text/javascript'),
    html: text('text/html'),
    markdown: text('text/markdown'),
    latex: text('text/latex'),
    svg: text('image/svg+xml'),
    png: bytes('image/png'),
    jpeg: bytes('image/jpeg'),
    gif: bytes('image/gif'),
    pdf: bytes('application/pdf'),
    text: text('text/plain'),
    raw,
  };
}

function expectString(s: unknown, mime: string): string {
  if (typeof s !== 'string') throw new TypeError(`tslab display of ${mime} takes a string, got ${describeValue(s)}`);
  return s;
}

function expectBytes(b: unknown, mime: string): Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`tslab display of ${mime} takes a Uint8Array or Buffer, got ${describeValue(b)}`);
  return b;
}

/** A single-MIME output as tslab sends it, plus the text fallback every output carries. */
export function rawBundle(contentType: string, data: string | Uint8Array): MimeBundle {
  if (typeof contentType !== 'string' || !/^[a-z]+\/[\w.+-]+$/i.test(contentType)) {
    throw new TypeError(`tslab display: ${JSON.stringify(contentType)} is not a MIME type such as 'text/html'`);
  }
  const mime = contentType.toLowerCase() === 'text/javascript' ? JS_MIME : contentType.toLowerCase();
  const value = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  if (mime === 'text/plain') return { 'text/plain': value };
  return { [mime]: value, 'text/plain': textFallback(mime, data) };
}

function textFallback(mime: string, data: string | Uint8Array): string {
  if (typeof data !== 'string') return `<${mime}, ${data.byteLength} bytes>`;
  switch (mime) {
    case 'text/html':
      return htmlText(data) || '<HTML output>';
    case 'text/markdown':
    case 'text/latex':
      return data;
    case JS_MIME:
      return '<JavaScript output: VS Code runs it only in a trusted notebook, in the output view>';
    default:
      return `<${mime}, ${data.length} characters>`;
  }
}

/** The readable text of an HTML fragment, for terminals and text-only viewers. */
function htmlText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ')
    .replace(/\s*\n\s*/g, '\n')
    .trim()
    .slice(0, 4000);
}

/**
 * The module object `require('tslab')` returns. `display` is both tslab's object of methods
 * (`display.html(s)`) and Deno's function (`display(obj)`), so either kind of notebook runs.
 */
export function createTslabModule(versions: { tslab: string; typescript: string }, jupyter: DenoJupyter): Record<string, unknown> {
  const display = Object.assign((obj: unknown, options?: Parameters<DenoJupyter['display']>[1]) => jupyter.display(obj, options), makeDisplay(false));
  return {
    display,
    newDisplay: (): TslabDisplay => makeDisplay(true),
    versions: Object.freeze({ ...versions, node: process.version }),
    isNode: () => true,
    isBrowser: () => false,
    html: jupyter.html,
    md: jupyter.md,
    svg: jupyter.svg,
    format: jupyter.format,
    image: jupyter.image,
    jupyter,
  };
}
