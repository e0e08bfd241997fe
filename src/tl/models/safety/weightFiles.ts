/**
 * Weight files of a local model, read so that a model.json can reach nothing outside its own folder.
 *
 * A path from a manifest is checked as text first (no absolute paths, no "..", no drive letters),
 * then walked one component at a time with lstat: a symbolic link is followed only while its target
 * stays inside the folder, judged from the link text alone, so nothing outside is ever touched
 * (not even to ask whether it exists). The file is then opened without following links and without
 * blocking (a FIFO would block a plain open), and fstat on the open file decides: a regular file of
 * a size within the budget is read, anything else is refused.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { budgetHint, formatBytes, quote } from './budget';
import { checkGroupData, type SizedGroup } from './manifest';

const MAX_LINK_HOPS = 40;
const MAX_PATH_CHARS = 1024;

/** Why a manifest path is not a plain relative file name, or undefined when it is one. */
export function weightPathProblem(p: string): string | undefined {
  if (!p) return 'is empty';
  if (p.length > MAX_PATH_CHARS) return `is longer than ${MAX_PATH_CHARS} characters`;
  if (p.includes('\0')) return 'contains a NUL character';
  if (path.posix.isAbsolute(p) || path.win32.isAbsolute(p) || /^[a-zA-Z]:/.test(p)) return 'is an absolute path';
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p)) return 'is a URL; a model on disk loads weight files from its own folder only';
  if (p.split(/[\\/]+/).includes('..')) return 'goes up a folder ("..")';
  return undefined;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

class Refusal extends Error {}

class TooLarge extends Error {
  constructor(
    message: string,
    readonly size: number,
  ) {
    super(message);
  }
}

/**
 * The real path of `rel` inside `root` (itself a real path), following links that stay inside.
 * Throws a Refusal that says why otherwise; ENOENT when a component inside the folder is missing.
 */
export async function resolveInside(root: string, rel: string): Promise<string> {
  const queue = rel.split(/[\\/]+/).filter((s) => s && s !== '.');
  let cur = root;
  let hops = 0;
  while (queue.length) {
    const part = queue.shift()!;
    if (part === '..') {
      cur = path.dirname(cur);
      if (!inside(root, cur)) throw new Refusal('is a link that leads outside the model folder');
      continue;
    }
    const next = path.join(cur, part);
    const st = await fsp.lstat(next);
    if (!st.isSymbolicLink()) {
      if (queue.length && !st.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOENT' });
      cur = next;
      continue;
    }
    if (++hops > MAX_LINK_HOPS) throw new Refusal('is a chain of more than 40 links');
    const target = await fsp.readlink(next);
    if (path.isAbsolute(target)) {
      const abs = path.resolve(target);
      if (target.split(/[\\/]+/).includes('..') || !inside(root, abs)) throw new Refusal('is a link that leads outside the model folder');
      cur = root;
      queue.unshift(...path.relative(root, abs).split(path.sep).filter(Boolean));
    } else {
      queue.unshift(...target.split(/[\\/]+/).filter((s) => s && s !== '.'));
    }
  }
  return cur;
}

function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

// O_NOFOLLOW and O_NONBLOCK do not exist on Windows, which has neither FIFOs nor this kind of link race.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

/** Reads a regular file of at most `max` bytes; `label` names it in errors. */
async function readRegular(file: string, label: string, max: number, flags = OPEN_FLAGS): Promise<Buffer> {
  const fh = await fsp.open(file, flags);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Refusal(`is ${fileKind(st)}, not a weight file`);
    if (st.size > max) throw new TooLarge(`${label} holds ${formatBytes(st.size)}`, st.size);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const { bytesRead } = await fh.read(buf, got, st.size - got, got);
      if (bytesRead === 0) throw new Error(`${label} shrank while it was read.`);
      got += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

export interface LocalWeights {
  /** One buffer per file, in manifest order. */
  parts: Buffer[];
  bytes: number;
}

/** The most bytes one group's files may hold: exactly its size when that is fixed, else what the budget leaves. */
function groupLimit(group: SizedGroup, left: number): number {
  return group.stringValues === 0 ? Math.min(group.fixedBytes, left) : left;
}

/**
 * Reads every weight file of `groups` from the folder of `modelJsonPath`, checking each group's bytes
 * against its weights and the total against `maxBytes`. Errors name model.json and the manifest entry.
 */
export async function readLocalWeights(modelJsonPath: string, groups: SizedGroup[], maxBytes: number): Promise<LocalWeights> {
  const dir = path.dirname(modelJsonPath);
  const root = await fsp.realpath(dir);
  // Every path is judged as text before the first file is opened.
  for (const group of groups) {
    for (const [i, p] of group.paths.entries()) {
      const problem = weightPathProblem(p);
      if (problem) throw new Error(`${modelJsonPath}: weightsManifest[${group.index}].paths[${i}] ${quote(p)} ${problem}; weight files must be inside the model folder ${dir}.`);
    }
  }
  const parts: Buffer[] = [];
  let total = 0;
  for (const group of groups) {
    const groupParts: Buffer[] = [];
    const files: string[] = [];
    let have = 0;
    for (const [i, p] of group.paths.entries()) {
      const label = `${modelJsonPath}: weightsManifest[${group.index}].paths[${i}] ${quote(p)}`;
      const file = path.join(dir, p);
      files.push(file);
      const limit = groupLimit(group, maxBytes - total) - have;
      const buf = await readOne({ root, rel: p, label, file, modelJsonPath, group }, Math.max(0, limit), maxBytes);
      groupParts.push(buf);
      have += buf.length;
    }
    const data = groupParts.length === 1 ? groupParts[0] : Buffer.concat(groupParts);
    checkGroupData(group, data, modelJsonPath, files);
    parts.push(...groupParts);
    total += have;
  }
  return { parts, bytes: total };
}

interface Slot {
  root: string;
  rel: string;
  /** model.json and the manifest entry, for errors. */
  label: string;
  /** The file as the manifest names it, for "missing" errors. */
  file: string;
  modelJsonPath: string;
  group: SizedGroup;
}

async function readOne(slot: Slot, limit: number, maxBytes: number): Promise<Buffer> {
  const { label, group } = slot;
  try {
    return await readRegular(await resolveInside(slot.root, slot.rel), label, limit);
  } catch (e) {
    if (e instanceof Refusal) throw new Error(`${label} ${e.message}; weight files must be regular files inside the model folder ${path.dirname(slot.modelJsonPath)}.`);
    if (e instanceof TooLarge) {
      const why = group.stringValues > 0 ? budgetHint(maxBytes) : `its group (weightsManifest[${group.index}]) lists weights of ${group.fixedBytes} bytes in all`;
      throw new Error(`${e.message}, more than fits: ${why}.`);
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`Weight file ${slot.file} is missing (listed in ${slot.modelJsonPath} as weightsManifest[${group.index}]).`);
    if (code === 'ELOOP') throw new Error(`${label} is a link; weight files must be regular files inside the model folder.`);
    throw new Error(`Cannot read weight file ${slot.file}: ${(e as Error).message}`);
  }
}

/**
 * Reads model.json (at a path the user gave, so links are followed) or, with `missingPrefix`
 * undefined, a file of the model's own beside it (transfer-lab.json: confined to the folder like a
 * weight file, and undefined when absent). Refuses FIFOs, devices and files over `max` bytes.
 */
export async function readModelFile(file: string, max: number, missingPrefix: string): Promise<string>;
export async function readModelFile(file: string, max: number, missingPrefix: undefined): Promise<string | undefined>;
export async function readModelFile(file: string, max: number, missingPrefix: string | undefined): Promise<string | undefined> {
  try {
    if (missingPrefix !== undefined) return (await readRegular(file, file, max, OPEN_FLAGS & ~(fs.constants.O_NOFOLLOW ?? 0))).toString('utf8');
    const dir = path.dirname(file);
    return (await readRegular(await resolveInside(await fsp.realpath(dir), path.basename(file)), file, max)).toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (missingPrefix === undefined) return undefined;
      throw new Error(`${missingPrefix} ${file}.`);
    }
    if (e instanceof Refusal || code === 'ELOOP') throw new Error(`${file} ${e instanceof Refusal ? e.message : 'is a link'}; it must be a regular file inside the model folder.`);
    if (e instanceof TooLarge) throw new Error(`${e.message}, more than the ${formatBytes(max)} such a file may have.`);
    throw new Error(`Cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * The size of the regular file `rel` inside `root` (a real path), checked like a weight file but not
 * read: for files another engine reads itself (ONNX external data). `label` names the entry.
 */
export async function statInside(root: string, rel: string, label: string): Promise<number> {
  const problem = weightPathProblem(rel);
  if (problem) throw new Error(`${label} ${problem}; it must name a file inside the model folder.`);
  try {
    const fh = await fsp.open(await resolveInside(root, rel), OPEN_FLAGS);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Refusal(`is ${fileKind(st)}`);
      return st.size;
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof Refusal) throw new Error(`${label} ${e.message}; it must be a regular file inside the model folder.`);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`${label} is missing from the model folder ${root}.`);
    if (code === 'ELOOP') throw new Error(`${label} is a link; it must be a regular file inside the model folder.`);
    throw new Error(`${label} cannot be read: ${(e as Error).message}`);
  }
}
