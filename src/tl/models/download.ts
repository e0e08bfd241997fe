/**
 * Models from http(s) URLs, downloaded into a cache folder first: model.json and its weight files,
 * each bounded in time and size (safety/http), weight URLs on model.json's origin only, the files
 * checked against the manifest, and the folder swapped in whole so a failed download leaves nothing
 * half-written. TF.js's own http loader keeps nothing on disk, so this is done here.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import type { ZooEntry } from './zoo';
import { getOutputSink, throwIfInterrupted } from '../output';
import type { DisplayHandle } from '../../common/display';
import { TEXT_PLAIN } from '../../common/mime';
import { budgetHint, formatBytes, maxModelBytes } from './safety/budget';
import { checkGroupData, type SizedGroup } from './safety/manifest';
import { declaredLength, openUrl, readBody, resolveLimits, sameOriginWeightUrl, type DownloadLimits } from './safety/http';
import { META_FILE, MAX_MODEL_JSON_BYTES, isFile, parseModelJson, readModelArtifacts, type LoadOptions, type LoadProgress } from './files';
import { cacheFolderFor } from './cache';
import { tmpName, writeFileAtomic } from '../util/atomic';

/** Turns a model URL without model.json (tfhub.dev / Kaggle style) into the model.json URL. */
export function modelJsonUrl(url: string): string {
  const u = new URL(url);
  if (/\.json$/i.test(u.pathname)) return u.toString();
  u.pathname = u.pathname.replace(/\/+$/, '') + '/model.json';
  if (/(^|\.)tfhub\.dev$|(^|\.)kaggle\.com$/i.test(u.hostname) && !u.searchParams.has('tfjs-format')) {
    u.searchParams.set('tfjs-format', 'file');
  }
  return u.toString();
}

interface DownloadContext {
  onProgress: LoadOptions['onProgress'];
  limits: Required<DownloadLimits>;
}

/** What a download may be: its size limit and the reason for it, for the error. */
interface SizeLimit {
  bytes: number;
  why: string;
}

/** Downloads `url` into `dest` (atomically), bounded in time and size. Returns its byte count. */
async function download(url: string, dest: string, file: string, ctx: DownloadContext, limit: SizeLimit, expected?: number): Promise<number> {
  const open = await openUrl(url, ctx.limits);
  const total = declaredLength(open.res) ?? expected;
  const tmp = tmpName(dest);
  const fh = await fsp.open(tmp, 'w');
  try {
    ctx.onProgress?.({ loaded: 0, total, file });
    const loaded = await readBody(url, open, {
      maxBytes: limit.bytes,
      maxWhy: limit.why,
      limits: ctx.limits,
      onChunk: async (chunk, n) => {
        await fh.write(chunk);
        ctx.onProgress?.({ loaded: n, total, file });
      },
    });
    await fh.close();
    await fsp.rename(tmp, dest);
    return loaded;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** model.json from `url`, bounded like any download. */
async function downloadText(url: string, ctx: DownloadContext, limit: SizeLimit): Promise<string> {
  const open = await openUrl(url, ctx.limits);
  const chunks: Uint8Array[] = [];
  await readBody(url, open, { maxBytes: limit.bytes, maxWhy: limit.why, limits: ctx.limits, onChunk: (c) => void chunks.push(c) });
  return Buffer.concat(chunks).toString('utf8');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes staging folders of `dir` left by processes that died mid-download (killed kernels). */
async function removeStaleStaging(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let names: string[];
  try {
    names = await fsp.readdir(parent);
  } catch {
    return;
  }
  for (const n of names) {
    const m = n.startsWith(`${base}.`) ? /^\.(?:partial|old)-(\d+)-[0-9a-f]+$/.exec(n.slice(base.length)) : null;
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    await fsp.rm(path.join(parent, n), { recursive: true, force: true });
  }
}

async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  h.update(await fsp.readFile(file));
  return h.digest('hex');
}

/**
 * Progress shown in the cell while a download runs, when the caller passed no onProgress: one
 * text output, replaced at most 4 times a second, ending with the total.
 */
function progressDisplay(url: string): { onProgress: (p: LoadProgress) => void; done(): void } {
  let handle: DisplayHandle | undefined;
  let last = 0;
  let shown = '';
  const bytes = new Map<string, { loaded: number; total?: number }>();
  const text = () => {
    let loaded = 0;
    let total = 0;
    let known = true;
    for (const b of bytes.values()) {
      loaded += b.loaded;
      if (b.total === undefined) known = false;
      else total += b.total;
    }
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    return `Downloading ${url}: ${bytes.size} file${bytes.size === 1 ? '' : 's'}, ${mb(loaded)} MB${known && total ? ` of ${mb(total)} MB (${Math.floor((100 * loaded) / total)}%)` : ''}`;
  };
  return {
    onProgress(p) {
      bytes.set(p.file, { loaded: p.loaded, total: p.total });
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      shown = text();
      if (handle) handle.update({ [TEXT_PLAIN]: shown });
      else handle = getOutputSink().display({ [TEXT_PLAIN]: shown });
    },
    done() {
      if (!handle && !bytes.size) return;
      const final = `${text().replace(/^Downloading/, 'Downloaded')} — cached`;
      if (final === shown) return;
      if (handle) handle.update({ [TEXT_PLAIN]: final });
      else getOutputSink().display({ [TEXT_PLAIN]: final });
    },
  };
}

/**
 * Downloads model.json and its weight files into the cache and returns the local model.json path.
 * Weight files are saved under safe local names (the manifest is rewritten to match), and model.json
 * is written last, so a folder with model.json holds a complete download.
 */
export async function downloadModel(
  url: string,
  opts: LoadOptions & { known?: ZooEntry['files'] } = {},
): Promise<string> {
  if (!opts.onProgress) {
    const shown = progressDisplay(url);
    const file = await downloadModel(url, { ...opts, onProgress: shown.onProgress });
    shown.done();
    return file;
  }
  const jsonUrl = modelJsonUrl(url);
  const dir = cacheFolderFor(jsonUrl, opts.cacheDir);
  const local = path.join(dir, 'model.json');
  if (!opts.force && isFile(local)) {
    try {
      await readModelArtifacts(local, maxModelBytes(opts.maxBytes));
      return local;
    } catch {
      // A damaged cache entry is downloaded again below.
    }
  }
  // Downloaded into a staging folder beside the cache entry and swapped in when complete: a failed
  // (forced) download leaves what was cached before untouched.
  await removeStaleStaging(dir);
  const stage = `${dir}.partial-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  await fsp.mkdir(stage, { recursive: true });
  try {
    await fetchInto(stage, jsonUrl, opts);
    throwIfInterrupted(); // interrupted as the last file arrived: the staging folder goes, as on any failure
    const old = `${dir}.old-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    const hadOld = fs.existsSync(dir);
    if (hadOld) await fsp.rename(dir, old);
    await fsp.rename(stage, dir);
    if (hadOld) await fsp.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fsp.rm(stage, { recursive: true, force: true });
    throw e;
  }
  return local;
}

async function fetchInto(dir: string, jsonUrl: string, opts: LoadOptions & { known?: ZooEntry['files'] }): Promise<void> {
  const maxBytes = maxModelBytes(opts.maxBytes);
  const ctx: DownloadContext = { onProgress: opts.onProgress, limits: resolveLimits(opts.download) };
  const text = await downloadText(jsonUrl, ctx, { bytes: MAX_MODEL_JSON_BYTES, why: `the ${formatBytes(MAX_MODEL_JSON_BYTES)} a model.json may have` });
  opts.onProgress?.({ loaded: Buffer.byteLength(text), total: Buffer.byteLength(text), file: 'model.json' });
  const { json, manifest } = parseModelJson(text, jsonUrl, maxBytes);
  const knownJson = opts.known?.['model.json'];
  if (knownJson?.sha256 && crypto.createHash('sha256').update(text).digest('hex') !== knownJson.sha256) {
    throw new Error(`${jsonUrl} does not match its known SHA-256: the download is corrupt or the file has changed.`);
  }
  // Every weight URL is checked before the first is fetched: one on another site fails the whole load.
  const urls = manifest.groups.map((g) => g.paths.map((p, i) => sameOriginWeightUrl(p, jsonUrl, `${jsonUrl}: weightsManifest[${g.index}].paths[${i}]`)));

  const used = new Set<string>(['model.json', META_FILE, 'source.json']);
  const localManifest: tf.io.WeightsManifestConfig = [];
  let total = 0;
  for (const group of manifest.groups) {
    const localPaths: string[] = [];
    let have = 0;
    for (const [pi, p] of group.paths.entries()) {
      const remote = urls[group.index][pi];
      const name = localWeightName(remote, group.index, pi, used);
      const dest = path.join(dir, name);
      const limit: SizeLimit =
        group.stringValues === 0
          ? { bytes: group.fixedBytes - have, why: `the ${group.fixedBytes} bytes weightsManifest[${group.index}] lists` }
          : { bytes: maxBytes - total - have, why: budgetHint(maxBytes) };
      have += await download(remote, dest, p, ctx, limit, group.paths.length === 1 && group.stringValues === 0 ? group.fixedBytes : undefined);
      await checkKnownFile(remote, dest, opts.known?.[p]);
      localPaths.push(name);
    }
    await checkDownloadedGroup(group, have, localPaths.map((n) => path.join(dir, n)), urls[group.index], jsonUrl);
    total += have;
    localManifest.push({ paths: localPaths, weights: group.weights });
  }
  const localJson = { ...json, weightsManifest: localManifest };
  await writeFileAtomic(path.join(dir, 'source.json'), JSON.stringify({ url: jsonUrl, fetchedAt: new Date().toISOString() }, null, 2));
  await writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(localJson));
}

/** A safe local file name for a downloaded weight file, unique in the folder. */
function localWeightName(remote: string, gi: number, pi: number, used: Set<string>): string {
  let name = path.posix.basename(new URL(remote).pathname).replace(/[^a-zA-Z0-9._-]+/g, '_').replace(/^\.+/, '') || `group${gi + 1}-shard${pi + 1}`;
  if (!name.endsWith('.bin') && !/\.[a-z0-9]+$/i.test(name)) name += '.bin';
  while (used.has(name)) name = `${gi + 1}_${pi + 1}_${name}`;
  used.add(name);
  return name;
}

async function checkKnownFile(remote: string, dest: string, known: { bytes?: number; sha256?: string } | undefined): Promise<void> {
  if (!known) return;
  const size = (await fsp.stat(dest)).size;
  if (known.bytes !== undefined && known.bytes !== size) throw new Error(`${remote} has ${size} bytes, expected ${known.bytes}.`);
  if (known.sha256 && (await sha256File(dest)) !== known.sha256) throw new Error(`${remote} does not match its known SHA-256: the download is corrupt.`);
}

/** The downloaded bytes of a group must be exactly what its weights take. */
async function checkDownloadedGroup(group: SizedGroup, have: number, files: string[], urls: string[], jsonUrl: string): Promise<void> {
  if (group.stringValues > 0) {
    const data = Buffer.concat(await Promise.all(files.map((f) => fsp.readFile(f))));
    checkGroupData(group, data, jsonUrl, urls);
    return;
  }
  if (have !== group.fixedBytes) {
    throw new Error(
      `Weight file${urls.length > 1 ? 's' : ''} ${urls.join(', ')} gave ${have} bytes, but ${jsonUrl} lists weights of ` +
        `${group.fixedBytes} bytes: the download is truncated or the files do not belong to this model.`,
    );
  }
}
