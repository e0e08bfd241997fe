/** Every offline sample runs headless through the runner, as `npx transfer-lab run` does. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { joinLines, validateNotebook } from './nbformat';

const root = path.resolve(__dirname, '..', '..', '..');
const samples = path.join(root, 'samples');
const out = mkdtempSync(path.join(os.tmpdir(), 'tl-samples-'));
// Samples that need the internet (a model-zoo download) are checked for form only.
const online = new Set(['mobilenet.ipynb']);

function run(name: string) {
  const target = path.join(out, name);
  const p = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'run', path.join(samples, name), '--out', target], {
    encoding: 'utf8',
    env: { ...process.env, TRANSFER_LAB_CACHE: path.join(out, 'cache') },
    timeout: 600_000,
  });
  return { ...p, nb: JSON.parse(readFileSync(target, 'utf8')) };
}

const all = readdirSync(samples).filter((f) => f.endsWith('.ipynb'));

test('the samples are valid notebooks, and the offline ones are all run here', () => {
  assert.deepEqual(all.sort(), ['hello.ipynb', 'image-folder.ipynb', 'mobilenet.ipynb', 'quickstart.ipynb', 'text.ipynb', 'typescript.ipynb']);
  for (const f of all) assert.deepEqual(validateNotebook(JSON.parse(readFileSync(path.join(samples, f), 'utf8'))), [], f);
});

for (const name of all.filter((f) => !online.has(f))) {
  test(`${name} runs offline`, () => {
    const r = run(name);
    assert.equal(r.status, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    assert.deepEqual(validateNotebook(r.nb), []);
    if (name === 'quickstart.ipynb') {
      const acc = /transfer \(pretrained on 0-4, new head\): ([\d.]+)%\n\s+from scratch \(same network\):\s+([\d.]+)%/.exec(r.stdout);
      assert.ok(acc, r.stdout.slice(-2000));
      console.log(`quickstart: transfer ${acc[1]}% vs scratch ${acc[2]}%`);
      assert.ok(Number(acc[1]) > Number(acc[2]), 'transfer beats training from scratch');
      const speed = /epoch time without the cache ([\d.]+) ms, with it ([\d.]+) ms: ([\d.]+)× faster/.exec(r.stdout);
      assert.ok(speed, 'the cache speed-up is printed');
      console.log(`quickstart: embedding cache ${speed[3]}× faster per epoch`);
      assert.ok(Number(speed[3]) > 1);
      // The chart output persists the whole history, and the layer map is there.
      const mimes = r.nb.cells.flatMap((c: any) => (c.outputs ?? []).flatMap((o: any) => Object.keys(o.data ?? {})));
      assert.ok(mimes.includes('application/vnd.transfer-lab.training+json'));
      assert.ok(mimes.includes('application/vnd.transfer-lab.layers+json'));
      assert.ok(mimes.includes('application/vnd.transfer-lab.confusion+json'));
    }
    if (name === 'text.ipynb') {
      const acc = /transfer \(pretrained GloVe vectors, new head\): ([\d.]+)%\n\s+from scratch \(same network, random vectors\):\s+([\d.]+)%/.exec(r.stdout);
      assert.ok(acc, r.stdout.slice(-2000));
      console.log(`text: transfer ${acc[1]}% vs scratch ${acc[2]}%`);
      assert.ok(Number(acc[1]) > Number(acc[2]), 'pretrained vectors beat random ones');
      assert.match(r.stdout, /saved vocab\.txt, /, 'the saved model keeps its vocabulary');
    }
    if (name === 'image-folder.ipynb') {
      // Top losses and the Grad-CAM heatmap show as galleries, with a Markdown fallback; the ONNX export predicts.
      const outs = r.nb.cells.flatMap((c: any) => c.outputs ?? []);
      const galleries = outs.filter((o: any) => o.data?.['application/vnd.transfer-lab.gallery+json']);
      assert.equal(galleries.length, 2, JSON.stringify(outs.map((o: any) => Object.keys(o.data ?? {}))));
      assert.ok(galleries.every((o: any) => joinLines(o.data['text/markdown']).length > 0));
      assert.ok(outs.some((o: any) => o.data?.['application/vnd.transfer-lab.lrfind+json']?.suggestion > 0), 'lrFind drew its curve');
      assert.match(r.stdout, /Top 8 losses on .*\n\s+1\. \d\/\d{3}\.png: true \d, predicted \d/);
      assert.ok(readdirSync(path.join(samples, 'out', 'image-folder-onnx')).includes('model.onnx'));
    }
  });
}
