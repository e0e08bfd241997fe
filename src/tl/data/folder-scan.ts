/**
 * Lists the images of a class-per-folder data set so that each real file is read once.
 *
 * Symbolic links are followed only while they stay inside the data folder and do not lead back to a
 * folder already being walked: a link to an ancestor (a loop) would otherwise list the same images
 * dozens of times, and the copies would land in both the training and the validation split. A file
 * reached by several paths (a link to another class's folder, a hard link) counts once, under its
 * own path when it has one that is not a link. Everything left out is listed with the reason.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { SkippedFile } from './types';

/** Which files a class folder's samples are, and what a skipped other file is told. */
export interface SampleFiles {
  extensions: ReadonlySet<string>;
  otherwise: string;
}

export const IMAGE_FILES: SampleFiles = { extensions: new Set(['.png', '.jpg', '.jpeg']), otherwise: 'not a .png, .jpg or .jpeg file' };
export const TEXT_FILES: SampleFiles = { extensions: new Set(['.txt']), otherwise: 'not a .txt file' };

/** One class folder's images (paths as found, under the root) and what was left out of it. */
export interface ClassListing {
  files: string[];
  skipped: SkippedFile[];
}

interface Found {
  file: string;
  /** Device and inode: the same for every path to one file. */
  id: string;
  viaLink: boolean;
}

interface Walk {
  /** The data folder as given, and with symbolic links resolved. */
  root: string;
  realRoot: string;
  found: Found[];
  skipped: SkippedFile[];
  /**
   * Folders already walked through a link (id → that link), shared by all class folders: a second
   * link to one of them adds nothing, and links that fan out to the same folders level after level
   * would otherwise take exponential time.
   */
  linkedDirs: Map<string, string>;
  files: SampleFiles;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function fileId(p: string): Promise<{ id: string; isDir: boolean; isFile: boolean }> {
  const st = await fsp.stat(p, { bigint: true });
  return { id: `${st.dev}:${st.ino}`, isDir: st.isDirectory(), isFile: st.isFile() };
}

/** Where a link leads, when it may be followed; otherwise the reason it is skipped. */
async function followLink(full: string, realRoot: string): Promise<{ real: string } | { reason: string }> {
  let real: string;
  try {
    real = await fsp.realpath(full);
  } catch (e) {
    return { reason: (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'symbolic link loop' : 'broken symbolic link' };
  }
  if (!isInside(realRoot, real)) return { reason: `symbolic link to ${real}, outside the data folder` };
  return { real };
}

/** Class folders: the root's subfolders (links to folders inside the root count), sorted by name. */
export async function listClassFolders(root: string, skipped: SkippedFile[]): Promise<string[]> {
  const realRoot = await fsp.realpath(root);
  const folders: string[] = [];
  for (const e of (await fsp.readdir(root, { withFileTypes: true })).sort(byName)) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(root, e.name);
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) {
      const target = await followLink(full, realRoot);
      if ('reason' in target) {
        skipped.push({ file: full, reason: target.reason });
        continue;
      }
      if (target.real === realRoot) {
        skipped.push({ file: full, reason: 'symbolic link loop: it points back to the data folder' });
        continue;
      }
      isDir = (await fileId(target.real)).isDir;
    }
    if (isDir) folders.push(e.name);
    else skipped.push({ file: full, reason: 'not inside a class folder' });
  }
  return folders;
}

/** `ancestors`: ids of the folders on the way down to `dir`, `dir` included. */
async function walk(dir: string, ancestors: Set<string>, viaLink: boolean, w: Walk): Promise<void> {
  for (const e of (await fsp.readdir(dir, { withFileTypes: true })).sort(byName)) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    let target = full;
    const isLink = e.isSymbolicLink();
    if (isLink) {
      const t = await followLink(full, w.realRoot);
      if ('reason' in t) {
        w.skipped.push({ file: full, reason: t.reason });
        continue;
      }
      target = t.real;
    } else if (!e.isDirectory() && !e.isFile()) continue;
    let info: Awaited<ReturnType<typeof fileId>>;
    try {
      info = await fileId(target);
    } catch (err) {
      // Gone or unreadable since the folder was listed.
      w.skipped.push({ file: full, reason: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
      continue;
    }
    const { id, isDir, isFile } = info;
    if (isDir) {
      if (ancestors.has(id)) {
        w.skipped.push({ file: full, reason: `symbolic link loop: it points back to ${path.relative(w.realRoot, target) || 'the data folder'}` });
        continue;
      }
      if (isLink) {
        const first = w.linkedDirs.get(id);
        if (first !== undefined) {
          w.skipped.push({ file: full, reason: `same folder as ${first}, listed once` });
          continue;
        }
        w.linkedDirs.set(id, path.relative(w.root, full));
      }
      await walk(full, new Set(ancestors).add(id), viaLink || isLink, w);
    } else if (isFile) {
      if (w.files.extensions.has(path.extname(e.name).toLowerCase())) w.found.push({ file: full, id, viaLink: viaLink || isLink });
      else w.skipped.push({ file: full, reason: w.files.otherwise });
    }
  }
}

/**
 * The images of each class folder (any depth), in sorted order, each real file once: a file found
 * by several paths belongs to the first path that is not a link, else to the first path.
 */
export async function listClassImages(root: string, folders: readonly string[], sampleFiles: SampleFiles = IMAGE_FILES): Promise<Map<string, ClassListing>> {
  const realRoot = await fsp.realpath(root);
  const rootId = (await fileId(realRoot)).id;
  const walks = new Map<string, Walk>();
  const linkedDirs = new Map<string, string>();
  for (const folder of folders) {
    const w: Walk = { root, realRoot, found: [], skipped: [], linkedDirs, files: sampleFiles };
    const classDir = path.join(root, folder);
    const { id } = await fileId(classDir);
    const viaLink = (await fsp.lstat(classDir)).isSymbolicLink();
    await walk(classDir, new Set([rootId, id]), viaLink, w);
    walks.set(folder, w);
  }
  const all = [...walks.values()].flatMap((w) => w.found);
  const owner = new Map<string, Found>();
  for (const f of all) if (!f.viaLink && !owner.has(f.id)) owner.set(f.id, f);
  for (const f of all) if (!owner.has(f.id)) owner.set(f.id, f);
  const out = new Map<string, ClassListing>();
  for (const [folder, w] of walks) {
    const files: string[] = [];
    for (const f of w.found) {
      const first = owner.get(f.id) as Found;
      if (first === f) files.push(f.file);
      else w.skipped.push({ file: f.file, reason: `same file as ${path.relative(root, first.file)}` });
    }
    out.set(folder, { files, skipped: w.skipped });
  }
  return out;
}
