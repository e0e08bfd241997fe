/**
 * Checks a data folder before the wizard writes a notebook for it: one subfolder per class,
 * each with PNG/JPEG images, or each with .txt files (a text folder). Plain Node; the command shows the result.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

const IMAGE = /\.(png|jpe?g)$/i;
const TEXT = /\.txt$/i;

export interface ClassCount {
  name: string;
  images: number;
  /** .txt files: the samples of a text folder. */
  texts: number;
}

export interface DataFolderReport {
  dir: string;
  /** 'text' when the class folders hold .txt files and no images. */
  kind: 'images' | 'text';
  classes: ClassCount[];
  /** Samples of that kind. */
  total: number;
  /** The start of one text of the first class (text folders), for the notebook's predict example. */
  example?: string;
  /** Reasons the folder cannot be used; empty when it can. */
  problems: string[];
  /** Usable, but worth knowing. */
  warnings: string[];
}

export function scanDataFolder(dir: string): DataFolderReport {
  const report: DataFolderReport = { dir, kind: 'images', classes: [], total: 0, problems: [], warnings: [] };
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      report.problems.push(`${dir} is a file, not a folder.`);
      return report;
    }
    entries = readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch (e) {
    report.problems.push(`${dir} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
    return report;
  }
  const loose = entries.filter((n) => IMAGE.test(n));
  for (const name of entries.sort()) {
    const sub = path.join(dir, name);
    let isDir = false;
    try {
      isDir = statSync(sub).isDirectory();
    } catch {
      continue;
    }
    if (!isDir) continue;
    let files: string[];
    try {
      files = readdirSync(sub).filter((f) => !f.startsWith('.'));
    } catch (e) {
      report.problems.push(`Class folder "${name}" cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
      continue;
    }
    report.classes.push({ name, images: files.filter((f) => IMAGE.test(f)).length, texts: files.filter((f) => TEXT.test(f)).length });
  }
  if (report.classes.some((c) => c.texts > 0) && report.classes.every((c) => c.images === 0)) return checkTextFolder(report);
  const textOnly = report.classes.filter((c) => c.images === 0 && c.texts > 0);
  if (textOnly.length) {
    const names = (cs: ClassCount[]) => cs.map((c) => `"${c.name}"`).join(', ');
    report.problems.push(
      `${path.basename(dir)} mixes images and texts: ${names(report.classes.filter((c) => c.images > 0))} hold images, ${names(textOnly)} only .txt files. ` +
        'A model trains on one kind: put the image classes and the text classes in separate folders.',
    );
    return report;
  }
  report.total = report.classes.reduce((n, c) => n + c.images, 0);
  const withImages = report.classes.filter((c) => c.images > 0);
  for (const c of report.classes) if (c.images === 0) report.problems.push(`Class folder "${c.name}" has no PNG or JPEG images.`);
  if (report.classes.length === 0) {
    report.problems.push(
      loose.length
        ? `${dir} holds ${loose.length} images but no class subfolders: put the images of each class in a subfolder named after the class.`
        : `${dir} has no class subfolders: it needs one subfolder per class, each with PNG or JPEG images.`,
    );
  } else if (withImages.length === 1) {
    report.problems.push(`Only one class ("${withImages[0].name}"): a classifier needs at least two class subfolders.`);
  }
  if (loose.length && report.classes.length) report.warnings.push(`${loose.length} images directly in ${path.basename(dir)} are not in a class folder and will be ignored.`);
  for (const c of withImages) if (c.images < 5) report.warnings.push(`Class "${c.name}" has only ${c.images} image${c.images === 1 ? '' : 's'}; validation may not see it.`);
  return report;
}

/** A text folder: every class folder needs .txt files; at least two classes. */
function checkTextFolder(report: DataFolderReport): DataFolderReport {
  report.kind = 'text';
  report.total = report.classes.reduce((n, c) => n + c.texts, 0);
  for (const c of report.classes) if (c.texts === 0) report.problems.push(`Class folder "${c.name}" has no .txt files.`);
  const withTexts = report.classes.filter((c) => c.texts > 0);
  if (withTexts.length === 1) report.problems.push(`Only one class ("${withTexts[0].name}"): a classifier needs at least two class subfolders.`);
  for (const c of withTexts) if (c.texts < 5) report.warnings.push(`Class "${c.name}" has only ${c.texts} text${c.texts === 1 ? '' : 's'}; validation may not see it.`);
  report.example = exampleText(path.join(report.dir, withTexts[0].name));
  return report;
}

/** The first words (up to 200 bytes, whole words) of the first non-empty .txt file in a class folder. */
function exampleText(classDir: string): string | undefined {
  for (const f of readdirSync(classDir).filter((n) => TEXT.test(n) && !n.startsWith('.')).sort()) {
    let fd: number | undefined;
    try {
      fd = openSync(path.join(classDir, f), 'r');
      const buf = Buffer.alloc(200);
      const n = readSync(fd, buf, 0, buf.length, 0);
      const text = buf.subarray(0, n).toString('utf8').replace(/\uFFFD+$/, '').replace(/\s+/g, ' ').trim();
      const words = n === buf.length ? text.replace(/\s+\S*$/, '') : text;
      if (words) return words;
    } catch {
      // Unreadable: try the next file; tl.textFolder reports it.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return undefined;
}

export function describeClasses(r: DataFolderReport): string {
  return r.classes.map((c) => `${c.name} (${r.kind === 'text' ? c.texts : c.images})`).join(', ');
}
