/**
 * tl.textFolder(): `dir/<class>/<file>.txt`, one text a file, like Keras's
 * text_dataset_from_directory. Files that are empty, too large or not UTF-8 are skipped with the
 * reason; links that leave the folder are not followed (the same walk as imageFolder).
 */
import type * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { formatBytes } from '../models/safety/budget';
import { printable } from '../util/text';
import { mapLimit } from '../util/concurrency';
import { listClassFolders, listClassImages, TEXT_FILES } from './folder-scan';
import { makeData } from './dataset';
import { TextSource } from './textSource';
import type { SkippedFile, TextData, TextFolderOptions } from './types';

export const DEFAULT_MAX_TEXT_BYTES = 1024 * 1024;

/** A text file's contents, or why it cannot be a sample. */
export async function readTextFile(file: string, maxBytes: number): Promise<{ text: string } | { reason: string }> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const st = await fh.stat();
    if (!st.isFile()) return { reason: 'not a regular file' };
    if (st.size > maxBytes) return { reason: `${formatBytes(st.size)}, more than the ${formatBytes(maxBytes)} a text may have` };
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, bytesRead));
    } catch {
      return { reason: 'not UTF-8 text' };
    }
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.includes('\0')) return { reason: 'holds NUL bytes: a binary file, not text' };
    if (text.trim() === '') return { reason: 'empty' };
    return { text };
  } catch (e) {
    return { reason: `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  } finally {
    await fh?.close();
  }
}

async function folderStat(root: string): Promise<fs.Stats> {
  try {
    return await fsp.stat(root);
  } catch {
    throw new Error(`textFolder(): folder not found: ${root}`);
  }
}

function chooseTextClasses(root: string, folders: string[], opts: TextFolderOptions): string[] {
  if (opts.classes) {
    const unknown = folders.filter((f) => !opts.classes!.includes(f));
    if (unknown.length) throw new Error(`textFolder(): folder(s) ${unknown.map((u) => `'${printable(u)}'`).join(', ')} in ${root} are not among the classes given: ${opts.classes.map(printable).join(', ')}.`);
    return [...opts.classes];
  }
  if (folders.length < 2) throw new Error(`textFolder(): ${root} has ${folders.length ? `only one class folder ('${printable(folders[0])}')` : 'no class folders'}; classification needs at least two.`);
  return folders;
}

/** Reads `dir/<class>/*.txt` (any depth below the class folder). Class = subfolder name, sorted. */
export async function textFolder(dir: string, opts: TextFolderOptions = {}): Promise<TextData> {
  const root = path.resolve(dir);
  if (!(await folderStat(root)).isDirectory()) throw new Error(`textFolder(): ${root} is a file, not a folder of class subfolders.`);
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_TEXT_BYTES;
  const skipped: SkippedFile[] = [];
  const folders = await listClassFolders(root, skipped);
  if (folders.length === 0) throw new Error(`textFolder(): ${root} has no class subfolders. Put each class's .txt files in a subfolder named after it, e.g. ${path.join(root, 'positive', '001.txt')}.`);
  const classes = chooseTextClasses(root, folders, opts);
  const listings = await listClassImages(root, folders, TEXT_FILES);
  const texts: string[] = [];
  const labels: number[] = [];
  const names: string[] = [];
  for (const folder of folders) {
    const listing = listings.get(folder)!;
    skipped.push(...listing.skipped);
    const read = await mapLimit(listing.files, 16, (f) => readTextFile(f, maxBytes));
    let kept = 0;
    read.forEach((r, i) => {
      if ('reason' in r) skipped.push({ file: listing.files[i], reason: r.reason });
      else {
        texts.push(r.text);
        labels.push(classes.indexOf(folder));
        names.push(path.relative(root, listing.files[i]));
        kept++;
      }
    });
    if (kept === 0) throw new Error(`textFolder(): class folder ${path.join(root, printable(folder))} has no readable .txt file${skipped.length ? ` (${skipped.slice(-3).map((s) => `${path.basename(s.file)}: ${s.reason}`).join('; ')})` : ''}.`);
  }
  if (skipped.length) console.warn(`textFolder(): skipped ${skipped.length} file(s) in ${root}:\n  ${skipped.slice(0, 5).map((s) => `${printable(path.relative(root, s.file))}: ${s.reason}`).join('\n  ')}${skipped.length > 5 ? '\n  …' : ''}`);
  const src = new TextSource(root, classes, labels, texts, names, skipped);
  return makeData<'text'>(src, opts, undefined, () => ({ source: root, texts })) as TextData;
}
