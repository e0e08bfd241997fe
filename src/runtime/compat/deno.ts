/**
 * Deno's Jupyter display protocol: values with a `[Symbol.for('Jupyter.display')]()` method that
 * returns a MIME bundle, `display(obj)`, and the `html`/`md`/`svg` tagged templates of
 * `Deno.jupyter`. They are exported by the built-in `tslab` module and, for Deno notebooks, as
 * `Deno.jupyter` in cells that use `Deno` (see transform.ts); no global `Deno` is defined, since
 * libraries take one to mean they run on Deno.
 */
import type { DisplayHandle, MimeBundle } from '../../common/display';
import { readFileSync } from 'node:fs';
import { sniffFormat } from '../../tl/data/decode';
import { getOutputSink } from '../../tl/output';
import { rawBundle } from './tslab';

export const JUPYTER_DISPLAY = Symbol.for('Jupyter.display');

/** Turns any value into the MIME bundle the kernel would show for it. */
export type ToBundle = (value: unknown) => Promise<MimeBundle | undefined>;

export interface DenoDisplayOptions {
  /** `obj` is a MIME bundle already. */
  raw?: boolean;
  /** Replace the output shown earlier with the same `display_id`. */
  update?: boolean;
  display_id?: string;
}

/** A value that shows itself as one MIME type (the result of html``, md``, svg``). */
function displayable(mime: string, text: string): object {
  return { [JUPYTER_DISPLAY]: (): MimeBundle => rawBundle(mime, text) };
}

function template(mime: string) {
  return (strings: TemplateStringsArray | string, ...values: unknown[]): object => {
    if (typeof strings === 'string') return displayable(mime, strings);
    let s = strings[0];
    values.forEach((v, i) => (s += String(v) + strings[i + 1]));
    return displayable(mime, s);
  };
}

/** `Deno.jupyter.image(pathOrBytes)`: a PNG or JPEG file shown as an image. */
function image(input: string | Uint8Array): object {
  const bytes = typeof input === 'string' ? readFileSync(input) : input;
  if (!(bytes instanceof Uint8Array)) throw new TypeError('image() takes a file path or the bytes of a PNG or JPEG image');
  const format = sniffFormat(bytes);
  if (!format) throw new Error(`image(): ${typeof input === 'string' ? input : 'the bytes'} is not a PNG or JPEG image`);
  return { [JUPYTER_DISPLAY]: (): MimeBundle => rawBundle(`image/${format}`, bytes) };
}

export interface DenoJupyter {
  /** The symbol a value's display method is keyed by. */
  $display: symbol;
  display(obj: unknown, options?: DenoDisplayOptions): Promise<void>;
  image: typeof image;
  format(obj: unknown): Promise<MimeBundle>;
  html: ReturnType<typeof template>;
  md: ReturnType<typeof template>;
  svg: ReturnType<typeof template>;
}

export function denoJupyter(toBundle: ToBundle): DenoJupyter {
  const byId = new Map<string, DisplayHandle>();
  const format = async (obj: unknown): Promise<MimeBundle> => (await toBundle(obj)) ?? { 'text/plain': 'undefined' };
  return {
    $display: JUPYTER_DISPLAY,
    format,
    image,
    async display(obj, options = {}) {
      const bundle = options.raw ? checkBundle(obj) : await format(obj);
      const id = options.display_id;
      const shown = id !== undefined ? byId.get(id) : undefined;
      if (shown && options.update) return shown.update(bundle);
      const handle = getOutputSink().display(bundle);
      if (id !== undefined) byId.set(id, handle);
    },
    html: template('text/html'),
    md: template('text/markdown'),
    svg: template('image/svg+xml'),
  };
}

function checkBundle(obj: unknown): MimeBundle {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || !Object.keys(obj).every((k) => /^[a-z]+\/[\w.+-]+$/i.test(k))) {
    throw new TypeError('display(obj, { raw: true }) takes a MIME bundle: an object whose keys are MIME types, such as { "text/html": "<b>hi</b>" }');
  }
  return obj as MimeBundle;
}

/**
 * What cells see as `Deno`: only `Deno.jupyter`. Any other Deno API fails with its name rather than
 * as "undefined is not a function".
 */
export function denoNamespace(jupyter: DenoJupyter): object {
  const target = { jupyter };
  return new Proxy(target, {
    get(t, key) {
      if (key in t || typeof key === 'symbol' || key === 'then' || key in Object.prototype) return (t as Record<string | symbol, unknown>)[key];
      throw new Error(`Deno.${String(key)} is not available: Transfer Lab runs cells on Node.js, with only Deno.jupyter from Deno's API (use Node's modules, e.g. require('node:fs'))`);
    },
  });
}
