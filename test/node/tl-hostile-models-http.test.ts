/**
 * Hostile model URLs, against servers on 127.0.0.1: weight URLs on other origins, servers that never
 * answer, stall or trickle, and responses larger than the manifest or the budget. Each ends in a
 * clear error within a second or two, fetches nothing it should not, and leaves no staging folders.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { load, cacheFolderFor, type LoadOptions } from '../../src/tl/models';
import { tmpDir, useCpu } from './tl-fixtures';
import { inCellRun, InterruptedError, requestInterrupt } from '../../src/tl/output';
import { playground, type Playground } from './tl-hostile-fixtures';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Server {
  base: string;
  hits: string[];
  routes: Map<string, Handler>;
  close(): void;
}

async function startServer(): Promise<Server> {
  const routes = new Map<string, Handler>();
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    hits.push(p);
    const h = routes.get(p);
    if (h) return h(req, res);
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    hits,
    routes,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

let pg: Playground;
let main: Server;
let other: Server;
const cache = tmpDir('hostile-http-cache');
after(() => {
  main?.close();
  other?.close();
});

// Short enough for a test, long enough for a busy machine: only the silent server gets a short connect timeout.
const fast: LoadOptions['download'] = { connectTimeoutMs: 10_000, stallTimeoutMs: 1000, minBytesPerSecond: 1000 };

function send(body: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
}

/** Serves a model under /<name>/: its model.json edited by `edit`, and `weight` (default: the valid shard) as w.bin. */
function serveModel(name: string, edit: (j: Record<string, any>) => void, weight: Handler = send(pg.bin)): string {
  const json = structuredClone(pg.json) as Record<string, any>;
  json.weightsManifest[0].paths = ['w.bin'];
  edit(json);
  main.routes.set(`/${name}/model.json`, send(JSON.stringify(json)));
  main.routes.set(`/${name}/w.bin`, weight);
  return `${main.base}/${name}/model.json`;
}

interface Case {
  name: string;
  url(): string;
  expect: RegExp;
  /** Paths that must not have been requested (on either server). */
  notFetched?: string[];
  opts?: LoadOptions;
  /** Time limit; default 5 s. */
  limitMs?: number;
}

const outcomes: { name: string; clear: boolean; ms: number }[] = [];

async function refused(c: Case): Promise<void> {
  const url = c.url();
  const before = other.hits.length;
  const t0 = performance.now();
  const message = await load(url, { cacheDir: cache, onProgress: () => undefined, ...c.opts, download: { ...fast, ...c.opts?.download } }).then(
    (m) => {
      m.dispose();
      return 'loaded';
    },
    (e: Error) => e.message,
  );
  const ms = performance.now() - t0;
  const clean = !c.notFetched?.some((p) => main.hits.includes(p)) && other.hits.length === before;
  const limit = c.limitMs ?? 5000;
  outcomes.push({ name: c.name, clear: c.expect.test(message) && clean && ms < limit, ms });
  assert.match(message, c.expect, c.name);
  assert.equal(other.hits.length, before, `${c.name}: the other origin was contacted`);
  for (const p of c.notFetched ?? []) assert.ok(!main.hits.includes(p), `${c.name}: ${p} was fetched`);
  assert.ok(ms < limit, `${c.name}: ${ms} ms`);
}

const path0 = /weightsManifest\[0\]\.paths\[0\]/;
const elsewhere = (p: () => string): Case['url'] => () => serveModel(`x${outcomes.length}`, (j) => (j.weightsManifest[0].paths = [p()]));

const cases: Case[] = [
  { name: 'absolute weight URL on another port', url: elsewhere(() => `${other.base}/w.bin`), expect: new RegExp(`${path0.source} ".*" points to another site; weight files must be on http://127\\.0\\.0\\.1:\\d+, beside model\\.json`) },
  { name: 'protocol-relative weight URL', url: elsewhere(() => `//${new URL(other.base).host}/w.bin`), expect: /points to another site/ },
  { name: 'weight URL on another host name', url: elsewhere(() => 'http://evil.invalid/w.bin'), expect: /points to another site/ },
  { name: 'file:// weight URL', url: elsewhere(() => 'file:///etc/passwd'), expect: /"file:\/\/\/etc\/passwd" points to another site/ },
  { name: 'data: weight URL', url: elsewhere(() => 'data:application/octet-stream;base64,AAAA'), expect: /points to another site/ },
  { name: 'https on the same host', url: elsewhere(() => main.base.replace('http:', 'https:') + '/w.bin'), expect: /points to another site/ },
  {
    name: 'second weight URL cross-origin: nothing fetched',
    url: () => serveModel('mixed', (j) => (j.weightsManifest[0].paths = ['w.bin', `${other.base}/w2.bin`])),
    expect: /weightsManifest\[0\]\.paths\[1\] ".*w2\.bin" points to another site/,
    notFetched: ['/mixed/w.bin'],
  },
  {
    name: 'server never answers model.json',
    url: () => {
      main.routes.set('/silent/model.json', () => undefined);
      return `${main.base}/silent/model.json`;
    },
    opts: { download: { connectTimeoutMs: 300 } },
    expect: /Could not download http:\/\/127\.0\.0\.1:\d+\/silent\/model\.json: no answer within 0\.30 s \(connect timeout\)/,
  },
  {
    name: 'weight download stalls half-way',
    url: () =>
      serveModel('stall', () => undefined, (_req, res) => {
        res.writeHead(200, { 'content-length': pg.bin.length });
        res.write(pg.bin.subarray(0, 30));
      }),
    expect: /Download of http:\/\/127\.0\.0\.1:\d+\/stall\/w\.bin stalled: no data for 1 s after 30 bytes of 60 bytes/,
  },
  {
    name: 'weight download trickles a byte at a time',
    url: () =>
      serveModel('trickle', () => undefined, (_req, res) => {
        res.writeHead(200, { 'content-length': pg.bin.length });
        let i = 0;
        const t = setInterval(() => {
          if (i >= pg.bin.length || res.destroyed) return clearInterval(t);
          res.write(pg.bin.subarray(i, ++i));
        }, 40);
      }),
    expect: /\/trickle\/w\.bin is too slow: \d+ bytes in [\d.]+ s \(less than 1000 bytes\/s\)/,
  },
  {
    name: 'weight file announced larger than the manifest',
    url: () => serveModel('announced', () => undefined, send(Buffer.alloc(10 * 1024 * 1024))),
    expect: /\/announced\/w\.bin refused: the server announces 10\.0 MiB, more than the 60 bytes weightsManifest\[0\] lists/,
  },
  {
    name: 'endless weight stream without a length',
    url: () =>
      serveModel('endless', () => undefined, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
      }),
    expect: /\/endless\/w\.bin stopped: it is larger than the 60 bytes weightsManifest\[0\] lists after 64\.0 KiB/,
  },
  {
    name: 'endless model.json',
    url: () => {
      main.routes.set('/endless-json/model.json', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1024 * 1024, 32);
        res.write('{"modelTopology": {}, "x": "');
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
      });
      return `${main.base}/endless-json/model.json`;
    },
    expect: /\/endless-json\/model\.json stopped: it is larger than the 64\.0 MiB a model\.json may have/,
    // 64 MiB go through before the limit stops it: seconds on a busy machine.
    limitMs: 20_000,
  },
  {
    name: 'manifest over the budget: no weight fetched',
    url: () => serveModel('over', (j) => (j.weightsManifest[0].weights[0].shape = [100000, 100000])),
    expect: /weights\[0\] \("d\/kernel"\): shape \[100000, 100000\] takes 37\.3 GiB; the loading budget is 2\.0 GiB/,
    notFetched: ['/over/w.bin'],
  },
  {
    name: 'string weight with a huge shape: no weight fetched',
    url: () => serveModel('strings', (j) => Object.assign(j.weightsManifest[0].weights[0], { shape: [1e9], dtype: 'string' })),
    expect: /takes at least 3\.7 GiB; the loading budget/,
    notFetched: ['/strings/w.bin'],
  },
  {
    name: 'weights over a small maxBytes: no weight fetched',
    url: () => serveModel('small-budget', () => undefined),
    opts: { maxBytes: 50 },
    expect: /lists at least 60 bytes of weights; the loading budget is 50 bytes/,
    notFetched: ['/small-budget/w.bin'],
  },
];

test('setup: servers and a valid model that downloads and loads', async () => {
  await useCpu();
  pg = await playground('hostile-http');
  main = await startServer();
  other = await startServer();
  other.routes.set('/w.bin', send(pg.bin));
  other.routes.set('/w2.bin', send(pg.bin));
  const m = (await load(serveModel('valid', () => undefined), { cacheDir: cache, onProgress: () => undefined })) as tf.LayersModel;
  assert.deepEqual(m.getWeights()[0].shape, [4, 3]);
  m.dispose();
});

for (const c of cases) test(`refused: ${c.name}`, () => refused(c));

test('a download killed part-way leaves nothing behind for the next one', async () => {
  const url = serveModel('stale', () => undefined);
  const folder = cacheFolderFor(url, cache);
  // A kernel killed while downloading leaves its staging folder; its process no longer exists.
  const stale = `${folder}.partial-999999999-abcdef`;
  fs.mkdirSync(stale, { recursive: true });
  fs.writeFileSync(path.join(stale, 'w.bin'), 'half');
  (await load(url, { cacheDir: cache, onProgress: () => undefined })).dispose();
  assert.ok(!fs.existsSync(stale), 'stale staging folder removed');
});

test('interrupting tl.load(url) stops the download: the connection closes, no model is built, nothing is cached', async () => {
  let closed = false;
  let sent = 0;
  const url = serveModel('interrupted', () => undefined, (req, res) => {
    res.writeHead(200, { 'content-length': pg.bin.length });
    req.socket.on('close', () => (closed = true));
    const t = setInterval(() => {
      if (sent >= pg.bin.length || res.destroyed) return clearInterval(t);
      res.write(pg.bin.subarray(sent, ++sent));
    }, 40);
  });
  const run = 4242;
  // Patient limits: without the interrupt the trickle would finish (60 bytes in about 2.4 s) and build the model.
  const loading = inCellRun(run, 'cell-interrupt', () => load(url, { cacheDir: cache, onProgress: () => undefined, download: { stallTimeoutMs: 10_000, minBytesPerSecond: 1 } }));
  const outcome = loading.then((m) => (m.dispose(), 'loaded'), (e: unknown) => e);
  await new Promise((r) => setTimeout(r, 400));
  const t0 = performance.now();
  requestInterrupt(run);
  const e = await outcome;
  assert.ok(e instanceof InterruptedError, `expected an InterruptedError, got ${e instanceof Error ? e.message : String(e)}`);
  assert.ok(performance.now() - t0 < 500, 'the download stops at once');
  const sentAtStop = sent;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(closed, 'the connection to the server is closed');
  assert.ok(sent < pg.bin.length && sent <= sentAtStop + 1, `the server stopped sending (${sent} of ${pg.bin.length} bytes)`);
  assert.ok(!fs.existsSync(path.join(cacheFolderFor(url, cache), 'model.json')), 'nothing cached');
});

test('no staging folders or temporary files are left by the failed downloads', () => {
  const left = fs.readdirSync(cache, { recursive: true }) as string[];
  assert.deepEqual(left.filter((f) => /\.partial-|\.old-|\.tmp$/.test(f)), []);
});

test('figures: hostile model URLs and clear errors', () => {
  const clear = outcomes.filter((o) => o.clear).length;
  const slowest = outcomes.reduce((a, o) => (o.ms > a.ms ? o : a), { name: '-', ms: 0, clear: true });
  console.log(`hostile URL model cases: ${outcomes.length}, clear errors: ${clear}, slowest: ${slowest.ms.toFixed(0)} ms (${slowest.name})`);
  assert.equal(clear, outcomes.length);
});
