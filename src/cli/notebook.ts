/** Reading and writing .ipynb (nbformat 4.5) for the headless runner. */
import { randomBytes } from 'node:crypto';
import { cellKernelLanguage, notebookKernelLanguage } from '../common/notebookKind';
import type { CellError } from '../common/protocol';

export type MultilineString = string | string[];

export type NbOutput =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: MultilineString }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: 'execute_result'; execution_count: number | null; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export interface NbCell {
  id?: string;
  cell_type: 'code' | 'markdown' | 'raw';
  source: MultilineString;
  metadata: Record<string, any>;
  outputs?: NbOutput[];
  execution_count?: number | null;
  attachments?: unknown;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, any>;
  cells: NbCell[];
}

export function joinSource(s: MultilineString): string {
  return Array.isArray(s) ? s.join('') : s;
}

/** Jupyter stores text as lines that keep their newlines. */
export function splitLines(text: string): string[] {
  const parts = text.split(/(?<=\n)/);
  return parts.length === 1 && parts[0] === '' ? [] : parts;
}

export function parseNotebook(text: string, name: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} is not valid JSON: ${(e as Error).message}`);
  }
  if (!nb || typeof nb !== 'object' || !Array.isArray(nb.cells) || nb.nbformat !== 4) {
    throw new Error(`${name} is not a Jupyter notebook in nbformat 4 (it needs "nbformat": 4 and a "cells" array)`);
  }
  nb.metadata ??= {};
  // nbformat 4.5 requires cell ids; older notebooks are upgraded in place.
  if ((nb.nbformat_minor ?? 0) < 5) nb.nbformat_minor = 5;
  const seen = new Set<string>();
  for (const cell of nb.cells) {
    cell.metadata ??= {};
    if (!cell.id || !/^[a-zA-Z0-9-_]{1,64}$/.test(cell.id) || seen.has(cell.id)) cell.id = randomBytes(6).toString('hex');
    seen.add(cell.id);
  }
  return nb;
}

export function notebookLanguage(nb: Notebook): string {
  return notebookKernelLanguage(nb.metadata) ?? nb.metadata?.language_info?.name ?? nb.metadata?.kernelspec?.language ?? 'javascript';
}

/**
 * VS Code keeps a cell's language in metadata.vscode.languageId when it differs from the notebook's.
 * In a TypeScript notebook (tslab, Deno) JavaScript cells compile as TypeScript, as in VS Code.
 */
export function cellLanguage(nb: Notebook, cell: NbCell): string {
  const lang = cell.metadata?.vscode?.languageId ?? notebookLanguage(nb);
  return lang === 'javascript' || lang === 'typescript' ? cellKernelLanguage(lang, notebookKernelLanguage(nb.metadata)) : lang;
}

export function errorOutput(err: CellError): NbOutput {
  return { output_type: 'error', ename: err.ename, evalue: err.evalue, traceback: err.traceback };
}

/** MIME data as nbformat stores it: JSON types as JSON, text as lines. */
export function toNbData(bundle: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, value] of Object.entries(bundle)) {
    if (value === undefined) continue;
    if (/^application\/(.+\+)?json$/.test(mime)) out[mime] = value;
    else out[mime] = splitLines(typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}
