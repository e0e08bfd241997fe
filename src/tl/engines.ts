/**
 * Where the native engines (onnxruntime-node, sharp, webgpu) are loaded from.
 *
 * A platform package of the extension carries them in `dist/node_modules`, beside the bundles; a
 * source checkout has them in its own `node_modules`. Those "own" folders are searched first, so an
 * installed extension works on an empty folder. With `preferWorkspace` (the setting
 * `transferLab.engines: "workspace"`, or TRANSFER_LAB_ENGINES=workspace for the CLI) the workspace's
 * `node_modules` folders win instead. The choice lives in the environment so that decode worker
 * threads and child processes make the same one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { firstLine } from './util/text';

export type EngineName = 'onnxruntime-node' | 'sharp' | 'webgpu';

const ENV_ORDER = 'TRANSFER_LAB_ENGINES';
const ENV_DIRS = 'TRANSFER_LAB_ENGINE_DIRS';

export interface EngineConfig {
  /** Folders of the workspace (and the notebook's folder); their `node_modules` are searched. */
  workspaceDirs: string[];
  /** true: the workspace's node_modules before the extension's own. Default: TRANSFER_LAB_ENGINES=workspace. */
  preferWorkspace?: boolean;
}

/** Records the search for this process and the workers and processes it starts. */
export function configureEngines(cfg: EngineConfig, env: NodeJS.ProcessEnv = process.env): void {
  const preferWorkspace = cfg.preferWorkspace ?? env[ENV_ORDER] === 'workspace';
  env[ENV_ORDER] = preferWorkspace ? 'workspace' : 'extension';
  env[ENV_DIRS] = cfg.workspaceDirs.filter(Boolean).join(path.delimiter);
  cache.clear();
}

/** The package root of this extension or checkout: the nearest folder above `from` whose package.json is ours. */
export function ownRoot(from: string = __dirname): string | undefined {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    try {
      if (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'transfer-lab') return dir;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** This extension's version (from the package.json ownRoot finds), or 'unknown'. */
export function ownVersion(root: string | undefined = ownRoot()): string {
  try {
    return root ? String(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version) : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The `node_modules` folders Node searches for a package required from `dir`: its own, then each
 * ancestor's up to the root (a notebook in `notebooks/`, a monorepo, the CLI run in a subfolder).
 */
export function ancestorModuleDirs(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (path.basename(d) !== 'node_modules') out.push(path.join(d, 'node_modules'));
    if (path.dirname(d) === d) return out;
  }
}

/** The `node_modules` folders searched for engines, in order, each once. */
export function engineDirs(env: NodeJS.ProcessEnv = process.env, root: string | undefined = ownRoot()): string[] {
  const own = root ? [path.join(root, 'dist', 'node_modules'), path.join(root, 'node_modules')] : [];
  const workspace = (env[ENV_DIRS] ?? '').split(path.delimiter).filter(Boolean).flatMap(ancestorModuleDirs);
  const ordered = env[ENV_ORDER] === 'workspace' ? [...workspace, ...own] : [...own, ...workspace];
  return [...new Set(ordered.map((d) => path.resolve(d)))];
}

/** What the extension package says it carries (written by scripts/package.mjs), or undefined in a checkout. */
export interface PackageManifest {
  target: string;
  engines: Record<string, string>;
}

export function packageManifest(root: string | undefined = ownRoot()): PackageManifest | undefined {
  if (!root) return undefined;
  try {
    return JSON.parse(readFileSync(path.join(root, 'dist', 'engines.json'), 'utf8')) as PackageManifest;
  } catch {
    return undefined;
  }
}

export interface EngineFound {
  /** The package folder it was found in. */
  dir: string;
  version: string;
  /** Its entry point (the file `require(dir)` loads). */
  entry: string;
}

/**
 * The package in the first of `places` that has it, or undefined: the one lookup for native
 * packages, so backend selection and tl's engines load the same copy. Each place is a
 * `node_modules` folder, a folder holding one, or the package folder itself; nothing else is
 * searched (engineDirs lists the ancestors), so a report can say exactly where it looked.
 */
export function findEngine(name: string, places: string[] = engineDirs()): EngineFound | undefined {
  for (const p of places.filter(Boolean)) {
    for (const dir of [path.join(p, name), p, path.join(p, 'node_modules', name)]) {
      const found = packageAt(dir, name);
      if (found) return found;
    }
  }
  return undefined;
}

/** The package `name` if `dir` holds it and its entry point resolves. */
function packageAt(dir: string, name: string): EngineFound | undefined {
  const pj = path.join(dir, 'package.json');
  if (!existsSync(pj)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(pj, 'utf8'));
    if (meta.name !== name) return undefined;
    return { dir, version: String(meta.version ?? '?'), entry: createRequire(pj).resolve(dir) };
  } catch {
    return undefined; // unreadable package.json or no entry point: keep looking
  }
}

export interface EngineLoad<T> {
  module?: T;
  found?: EngineFound;
  /** Why it is not available (not installed, or its loader error). */
  error?: string;
  lookedIn: string[];
}

const cache = new Map<string, EngineLoad<unknown>>();

/** Why an engine is missing, with the fix that fits this build (platform package, universal package, checkout). */
export function missingReason(name: string, lookedIn: string[], manifest: PackageManifest | undefined = packageManifest()): string {
  const where = `looked in ${lookedIn.length ? lookedIn.join(', ') : 'no folders'}`;
  const platform = `${process.platform}-${process.arch}`;
  if (manifest?.target === 'universal') {
    return `${name} is not installed: this is the universal Transfer Lab package, which carries no native engines (${where}). Install the package for your platform (transfer-lab-${platform}-<version>.vsix), or run \`npm i ${name}\` in the workspace.`;
  }
  if (manifest && manifest.target !== platform) {
    return `${name} is not installed: this Transfer Lab package was built for ${manifest.target}, and this machine is ${platform} (${where}). Install the package for ${platform}.`;
  }
  return `${name} is not installed (${where}).`;
}

/** Where engine `name` is, or why it is not there: the search requireEngine and importEngine share. */
function locate<T>(name: EngineName): EngineLoad<T> {
  const lookedIn = engineDirs();
  const found = findEngine(name, lookedIn);
  return found ? { lookedIn, found } : { lookedIn, error: missingReason(name, lookedIn) };
}

function loadFailed(name: EngineName, found: EngineFound, e: unknown): string {
  return `${name} ${found.version} in ${found.dir} did not load: ${firstLine(e)}`;
}

/** Loads a CommonJS engine from the first folder that has it. Never throws; the result says why not. */
export function requireEngine<T>(name: EngineName): EngineLoad<T> {
  let result = cache.get(name) as EngineLoad<T> | undefined;
  if (result) return result;
  result = locate<T>(name);
  const { found } = result;
  if (found) {
    try {
      result.module = createRequire(found.entry)(found.entry) as T;
    } catch (e) {
      result.error = loadFailed(name, found, e);
    }
  }
  cache.set(name, result);
  return result;
}

/** Loads an ES-module engine (the `webgpu` package) from the first folder that has it. */
export async function importEngine<T>(name: EngineName): Promise<EngineLoad<T>> {
  let result = cache.get(name) as EngineLoad<T> | undefined;
  if (result) return result;
  result = locate<T>(name);
  const { found } = result;
  if (found) {
    try {
      result.module = (await dynamicImport(pathToFileURL(found.entry).href)) as T;
    } catch (e) {
      result.error = loadFailed(name, found, e);
    }
  }
  cache.set(name, result);
  return result;
}

const dynamicImport = new Function('s', 'return import(s)') as (s: string) => Promise<unknown>;
