/** Where models live on disk: the download cache and the bundled models folder. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The download cache: TRANSFER_LAB_CACHE, else ~/.cache/transfer-lab. */
export function defaultCacheDir(): string {
  const env = process.env.TRANSFER_LAB_CACHE;
  if (env && env.trim()) return path.resolve(env);
  return path.join(os.homedir(), '.cache', 'transfer-lab');
}

/** The cache folder for one model URL: readable slug + hash, so different URLs never share files. */
export function cacheFolderFor(url: string, cacheDir = defaultCacheDir()): string {
  const hash = crypto.createHash('sha256').update(url).digest('hex').slice(0, 16);
  let slug = '';
  try {
    const u = new URL(url);
    slug = (u.hostname + u.pathname)
      .replace(/\/model\.json$/, '')
      .replace(/[^a-zA-Z0-9._-]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(-60);
  } catch {
    // an unparsable URL still gets a hashed folder
  }
  return path.join(path.resolve(cacheDir), slug ? `${slug}-${hash}` : hash);
}

/**
 * The folder that holds bundled models (media/models). The compiled code runs from several places
 * (dist/kernel.js in the extension, out/src/tl/ in tests), so walk up from this file until a
 * folder with media/models appears. TRANSFER_LAB_MODELS_DIR overrides.
 */
export function bundledModelsDir(): string | undefined {
  const env = process.env.TRANSFER_LAB_MODELS_DIR;
  if (env && env.trim()) return path.resolve(env);
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'media', 'models');
    if (isDir(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function bundledNames(): string[] {
  const dir = bundledModelsDir();
  if (!dir) return [];
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'model.json')))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
