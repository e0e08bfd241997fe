/**
 * Checks a data folder before the wizard writes a notebook for it: one subfolder per class,
 * each with PNG/JPEG images. Plain Node; the command shows the result.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const IMAGE = /\.(png|jpe?g)$/i;

export interface ClassCount {
  name: string;
  images: number;
}

export interface DataFolderReport {
  dir: string;
  classes: ClassCount[];
  total: number;
  /** Reasons the folder cannot be used; empty when it can. */
  problems: string[];
  /** Usable, but worth knowing. */
  warnings: string[];
}

export function scanDataFolder(dir: string): DataFolderReport {
  const report: DataFolderReport = { dir, classes: [], total: 0, problems: [], warnings: [] };
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
    let images = 0;
    try {
      images = readdirSync(sub).filter((f) => IMAGE.test(f)).length;
    } catch (e) {
      report.problems.push(`Class folder "${name}" cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
      continue;
    }
    report.classes.push({ name, images });
    report.total += images;
  }
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

export function describeClasses(r: DataFolderReport): string {
  return r.classes.map((c) => `${c.name} (${c.images})`).join(', ');
}
