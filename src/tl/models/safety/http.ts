/**
 * Bounded HTTP for model downloads: a server that never answers, stalls half-way or trickles bytes
 * makes a download fail with the reason instead of hanging the cell, and no response may grow past
 * the size it was allowed. Weight URLs from a manifest stay on the origin of their model.json.
 */
import { formatBytes, quote } from './budget';
import { errMsg } from '../../util/text';
import { currentCellRun, InterruptedError, isRunInterrupted, onInterrupt, throwIfInterrupted } from '../../output';

export interface DownloadLimits {
  /** Time to wait for the response headers (connecting included). Default 30 s. */
  connectTimeoutMs?: number;
  /** Time without a single byte before a download counts as stalled. Default 30 s. */
  stallTimeoutMs?: number;
  /**
   * Slowest accepted average speed, measured over each stall window. Default 1 KiB/s: a server that
   * sends a byte now and then never stalls, but would take days for a model.
   */
  minBytesPerSecond?: number;
}

export const DEFAULT_LIMITS: Required<DownloadLimits> = { connectTimeoutMs: 30_000, stallTimeoutMs: 30_000, minBytesPerSecond: 1024 };

export function resolveLimits(l: DownloadLimits = {}): Required<DownloadLimits> {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof DownloadLimits)[]) {
    const v = l[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`tl.load(): download.${key} must be a number ≥ 0, got ${String(v)}.`);
    out[key] = v;
  }
  return out;
}

const seconds = (ms: number) => `${ms >= 1000 ? (ms / 1000).toFixed(ms % 1000 ? 1 : 0) : (ms / 1000).toFixed(2)} s`;

/**
 * The URL of a weight file listed as `p` in the model.json at `modelUrl`: relative to it, with its
 * query (as tfjs's http loader does), and refused unless it is on the same origin.
 */
export function sameOriginWeightUrl(p: string, modelUrl: string, label: string): string {
  const base = new URL(modelUrl);
  let u: URL;
  try {
    u = new URL(p, base);
  } catch {
    throw new Error(`${label} ${quote(p)} is not a valid URL path.`);
  }
  if (u.origin !== base.origin || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new Error(`${label} ${quote(p)} points to another site; weight files must be on ${base.origin}, beside model.json.`);
  }
  if (!u.search && base.search) u.search = base.search;
  return u.toString();
}

/** fetch's own message is "fetch failed": what went wrong is its cause. */
function fetchError(e: unknown): string {
  return errMsg((e as { cause?: unknown })?.cause ?? e);
}

export interface OpenResponse {
  res: Response;
  /** Aborts the request (and its body). */
  abort(): void;
}

/** GET `url`, failing after `connectTimeoutMs` without headers or on an HTTP error. */
export async function openUrl(url: string, limits: Required<DownloadLimits>): Promise<OpenResponse> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, limits.connectTimeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: ac.signal });
  } catch (e) {
    throw new Error(`Could not download ${url}: ${timedOut ? `no answer within ${seconds(limits.connectTimeoutMs)} (connect timeout)` : fetchError(e)}`);
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    ac.abort();
    throw new Error(`Could not download ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  }
  return { res, abort: () => ac.abort() };
}

/** Content-Length when it counts the bytes the body yields (not with a content-encoding). */
export function declaredLength(res: Response): number | undefined {
  const enc = res.headers.get('content-encoding');
  if (enc && enc !== 'identity') return undefined;
  const len = res.headers.get('content-length');
  const n = len == null ? NaN : Number(len);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Resolves `woken` when the running cell is interrupted, so a read waiting on a slow server does not
 * hold the interrupt until its next chunk. `off` removes the listener.
 */
function interruptWake(): { woken: Promise<'interrupted'>; off(): void } {
  const run = currentCellRun()?.run;
  let wake!: () => void;
  const woken = new Promise<'interrupted'>((resolve) => (wake = () => resolve('interrupted')));
  const off = onInterrupt(() => {
    if (isRunInterrupted(run)) wake();
  });
  return { woken, off };
}

type Reader = ReadableStreamDefaultReader<Uint8Array>;
type Next = Awaited<ReturnType<Reader['read']>> | 'stalled' | 'interrupted';

/** The next chunk of the body, or 'stalled' after `stallTimeoutMs` without one, or 'interrupted'. */
async function nextChunk(reader: Reader, stallTimeoutMs: number, woken: Promise<'interrupted'>): Promise<Next> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<'stalled'>((resolve) => (timer = setTimeout(() => resolve('stalled'), stallTimeoutMs)));
  try {
    return await Promise.race([reader.read(), stalled, woken]);
  } finally {
    clearTimeout(timer);
  }
}

export interface BodyOptions {
  /** The most bytes this body may have; more aborts the download. */
  maxBytes: number;
  /** What the limit is, for the error ("the 1.2 MiB listed in model.json", "the loading budget of 2 GiB"). */
  maxWhy: string;
  limits: Required<DownloadLimits>;
  onChunk(chunk: Uint8Array, loaded: number): Promise<void> | void;
}

/**
 * Streams the body of `open` to `onChunk`, bounded in size, stall time and speed. Returns the byte
 * count. Errors say which limit was hit and how far the download got.
 */
export async function readBody(url: string, open: OpenResponse, o: BodyOptions): Promise<number> {
  const { res } = open;
  const declared = declaredLength(res);
  if (declared !== undefined && declared > o.maxBytes) {
    open.abort();
    throw new Error(`Download of ${url} refused: the server announces ${formatBytes(declared)}, more than ${o.maxWhy}.`);
  }
  if (!res.body) return 0;
  const reader = res.body.getReader();
  const { stallTimeoutMs, minBytesPerSecond } = o.limits;
  let loaded = 0;
  let windowStart = Date.now();
  let windowBytes = 0;
  const stop = (): void => {
    open.abort();
    void reader.cancel().catch(() => undefined);
  };
  const fail = (why: string): never => {
    stop();
    throw new Error(`Download of ${url} ${why} after ${formatBytes(loaded)}${declared !== undefined ? ` of ${formatBytes(declared)}` : ''}.`);
  };
  const interrupt = interruptWake();
  try {
    for (;;) {
      let chunk: Next;
      try {
        chunk = await nextChunk(reader, stallTimeoutMs, interrupt.woken);
      } catch (e) {
        throwIfInterrupted(stop);
        return fail(`broke off (${fetchError(e)})`);
      }
      // The cell was interrupted: the download stops here rather than carry on for a model nobody holds.
      throwIfInterrupted(stop);
      if (chunk === 'interrupted') {
        stop();
        throw new InterruptedError();
      }
      if (chunk === 'stalled') return fail(`stalled: no data for ${seconds(stallTimeoutMs)}`);
      if (chunk.done) break;
      loaded += chunk.value.length;
      windowBytes += chunk.value.length;
      if (loaded > o.maxBytes) return fail(`stopped: it is larger than ${o.maxWhy}`);
      try {
        await o.onChunk(chunk.value, loaded);
      } catch (e) {
        open.abort();
        throw e;
      }
      const elapsed = Date.now() - windowStart;
      if (elapsed >= stallTimeoutMs) {
        if ((windowBytes * 1000) / elapsed < minBytesPerSecond) {
          return fail(`is too slow: ${windowBytes} bytes in ${seconds(elapsed)} (less than ${formatBytes(minBytesPerSecond)}/s)`);
        }
        windowStart = Date.now();
        windowBytes = 0;
      }
    }
  } finally {
    interrupt.off();
  }
  if (declared !== undefined && loaded !== declared) {
    throw new Error(`Download of ${url} is truncated: received ${loaded} of ${declared} bytes.`);
  }
  return loaded;
}
