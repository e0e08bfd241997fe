/**
 * The sample images that ship with the extension live in its versioned install folder
 * (…/transfer-lab.transfer-lab-0.1.0/samples/data), which an update removes. Notebooks point at a
 * copy instead: in the workspace, or in the extension's global storage when no folder is open.
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Copies `sampleDir` (a folder of the extension's samples/data) to `<intoDir>/data/<name>` and
 * returns the copy's path. Files already there are kept as they are: a second run, or images the
 * user added, are never overwritten.
 */
export function copySampleData(sampleDir: string, intoDir: string): string {
  if (!existsSync(sampleDir)) throw new Error(`The sample data folder ${sampleDir} is missing from the extension.`);
  const to = path.join(intoDir, 'data', path.basename(sampleDir));
  mkdirSync(to, { recursive: true });
  cpSync(sampleDir, to, { recursive: true, force: false, errorOnExist: false });
  return to;
}

/** Rewrites the samples' relative data paths ('data/…') to point at `dataParent/data/…`. */
export function pointAtData(code: string, dataParent: string): string {
  const dir = dataParent.split('\\').join('/');
  return code.replace(/(['"`])data\//g, (_m, q: string) => `${q}${dir}/data/`);
}
