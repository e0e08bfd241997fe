/**
 * What a notebook's own metadata says about the kernel it was written for: tslab/jslab, Deno's
 * Jupyter kernel or any JavaScript/TypeScript kernel. Used for kernel affinity in VS Code and to
 * compile a TypeScript notebook's cells as TypeScript.
 */
import type { KernelLanguage } from './mime';

/** nbformat's notebook-level metadata, as far as it is read here. */
export interface NbMetadata {
  kernelspec?: { name?: unknown; language?: unknown; display_name?: unknown };
  language_info?: { name?: unknown };
}

const JS_KERNELS = /^(tslab|jslab|javascript|typescript|deno|ijavascript|itypescript|node(js)?)$/i;

function lower(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim().toLowerCase() : undefined;
}

/** The notebook's language, when its metadata names one we run. */
export function notebookKernelLanguage(meta: NbMetadata | undefined): KernelLanguage | undefined {
  const names = [lower(meta?.language_info?.name), lower(meta?.kernelspec?.language)];
  if (names.includes('typescript')) return 'typescript';
  if (names.includes('javascript')) return 'javascript';
  // tslab and Deno run TypeScript; jslab runs JavaScript.
  const kernel = lower(meta?.kernelspec?.name);
  if (kernel === 'tslab' || kernel === 'deno') return 'typescript';
  if (kernel === 'jslab' || kernel === 'javascript') return 'javascript';
  return undefined;
}

/** Whether the notebook was written for a JavaScript or TypeScript kernel (tslab, jslab, Deno, …). */
export function isJsNotebook(meta: NbMetadata | undefined): boolean {
  const names = [meta?.kernelspec?.name, meta?.kernelspec?.language, meta?.language_info?.name].map(lower).filter((n): n is string => !!n);
  return names.some((n) => JS_KERNELS.test(n));
}

/**
 * The language a cell is compiled as. A TypeScript notebook's cells are TypeScript even where the
 * editor marks them JavaScript (VS Code falls back to JavaScript for kernels it does not know).
 */
export function cellKernelLanguage(cellLanguageId: string, notebook: KernelLanguage | undefined): KernelLanguage {
  if (cellLanguageId === 'typescript') return 'typescript';
  if (cellLanguageId === 'javascript' && notebook === 'typescript') return 'typescript';
  return 'javascript';
}
