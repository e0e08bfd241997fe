/** The parts behind running tslab/Deno/tfjs-node notebooks, one by one. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { cellKernelLanguage, isJsNotebook, notebookKernelLanguage } from '../../src/common/notebookKind';
import { npmSpecifier } from '../../src/runtime/compat';
import { makeTfNode } from '../../src/runtime/compat/tfjsNode';
import { rawBundle } from '../../src/runtime/compat/tslab';
import { escapeHtml, tensorText } from '../../src/tl/show';

test('notebooks written for tslab, jslab, Deno or a JS/TS kernel are recognised; others are not', () => {
  const tslab = { kernelspec: { name: 'tslab', language: 'typescript' }, language_info: { name: 'typescript' } };
  const jslab = { kernelspec: { name: 'jslab', language: 'javascript' } };
  const deno = { kernelspec: { name: 'deno', language: 'typescript', display_name: 'Deno' } };
  const python = { kernelspec: { name: 'python3', language: 'python' }, language_info: { name: 'python' } };
  for (const m of [tslab, jslab, deno, { language_info: { name: 'JavaScript' } }, { kernelspec: { name: 'tslab' } }]) assert.equal(isJsNotebook(m), true, JSON.stringify(m));
  for (const m of [python, {}, undefined, { kernelspec: { name: 42 } }]) assert.equal(isJsNotebook(m as never), false, JSON.stringify(m));
  assert.equal(notebookKernelLanguage(tslab), 'typescript');
  assert.equal(notebookKernelLanguage(jslab), 'javascript');
  assert.equal(notebookKernelLanguage(deno), 'typescript');
  assert.equal(notebookKernelLanguage({ kernelspec: { name: 'tslab' } }), 'typescript');
  assert.equal(notebookKernelLanguage(python), undefined);
});

test('cells of a TypeScript notebook compile as TypeScript, even where the editor says JavaScript', () => {
  assert.equal(cellKernelLanguage('typescript', undefined), 'typescript');
  assert.equal(cellKernelLanguage('javascript', 'typescript'), 'typescript');
  assert.equal(cellKernelLanguage('javascript', 'javascript'), 'javascript');
  assert.equal(cellKernelLanguage('javascript', undefined), 'javascript');
});

test("Deno's npm: specifiers name npm packages", () => {
  assert.equal(npmSpecifier('npm:lodash@4.17.21'), 'lodash');
  assert.equal(npmSpecifier('npm:@tensorflow/tfjs-node@4/dist/index.js'), '@tensorflow/tfjs-node/dist/index.js');
  assert.equal(npmSpecifier('npm:chalk'), 'chalk');
  assert.equal(npmSpecifier('fs'), 'fs');
  assert.throws(() => npmSpecifier('jsr:@std/path'), /jsr: packages come from Deno's registry/);
});

test('tslab display bundles carry a text fallback; binary data travels as base64; JavaScript is never run here', () => {
  assert.deepEqual(rawBundle('text/html', '<p>a &amp; <b>b</b></p><script>x()</script>'), { 'text/html': '<p>a &amp; <b>b</b></p><script>x()</script>', 'text/plain': 'a & b' });
  assert.deepEqual(rawBundle('image/png', new Uint8Array([1, 2, 3])), { 'image/png': 'AQID', 'text/plain': '<image/png, 3 bytes>' });
  const js = rawBundle('text/javascript', 'alert(1)');
  assert.equal(js['application/javascript'], 'alert(1)');
  assert.match(js['text/plain'] as string, /trusted notebook/);
  assert.deepEqual(rawBundle('text/plain', 'hi'), { 'text/plain': 'hi' });
  assert.throws(() => rawBundle('html', 'x'), /"html" is not a MIME type/);
});

test('tf.node image functions without tfjs-node: PNG/JPEG round trips, channels as in the file or asked for', async () => {
  const node = makeTfNode() as Record<string, (...a: unknown[]) => unknown>;
  const before = tf.memory().numTensors;
  const grey = tf.tensor3d(Array.from({ length: 12 }, (_, i) => i * 20), [3, 4, 1], 'int32');
  const png = (await node.encodePng(grey)) as Uint8Array;
  const back = node.decodeImage(png) as tf.Tensor;
  assert.deepEqual(back.shape, [3, 4, 1], 'a grey PNG decodes to one channel');
  assert.deepEqual(Array.from(back.dataSync()), Array.from(grey.dataSync()));
  const rgb = node.decodeImage(png, 3) as tf.Tensor;
  assert.deepEqual(rgb.shape, [3, 4, 3]);

  const rgba = new PNG({ width: 2, height: 1 });
  rgba.data = Buffer.from([255, 0, 0, 128, 0, 255, 0, 255]);
  const withAlpha = node.decodePng(PNG.sync.write(rgba)) as tf.Tensor;
  assert.deepEqual(withAlpha.shape, [1, 2, 4]);
  assert.deepEqual(Array.from(withAlpha.dataSync()), [255, 0, 0, 128, 0, 255, 0, 255]);

  const colour = tf.fill([8, 8, 3], 200, 'int32') as tf.Tensor3D;
  const jpg = (await node.encodeJpeg(colour, '', 90)) as Uint8Array;
  const fromJpg = node.decodeJpeg(jpg) as tf.Tensor;
  assert.deepEqual(fromJpg.shape, [8, 8, 3]);
  const mean = fromJpg.mean();
  assert.ok(Math.abs((mean.arraySync() as number) - 200) < 3);
  assert.throws(() => node.decodePng(jpg), /the bytes are JPEG, not PNG/);
  assert.throws(() => node.decodeImage(Buffer.from('GIF89a......')), /GIF format is not supported without @tensorflow\/tfjs-node/);
  assert.throws(() => node.decodeImage('not bytes'), /takes the image file's bytes as a Uint8Array/);
  assert.throws(() => (node.tensorBoard as () => void)(), /tf\.node\.tensorBoard needs @tensorflow\/tfjs-node/);
  tf.dispose([grey, back, rgb, withAlpha, colour, fromJpg, mean]);
  assert.equal(tf.memory().numTensors, before, 'encoding and decoding leave no tensors behind');
});

test('a tensor preview names dtype and shape, and a disposed tensor says so; labels in HTML are escaped', () => {
  const t = tf.tensor1d([1, 2, 4]);
  assert.equal(tensorText(t), 'Tensor float32 [3] · min 1 · max 4 · mean 2.333\n[1, 2, 4]');
  t.dispose();
  assert.equal(tensorText(t), 'Tensor float32 [3] (disposed)');
  assert.equal(escapeHtml(`<img src=x onerror="a('b')">&`), '&#60;img src=x onerror=&#34;a(&#39;b&#39;)&#34;&#62;&#38;');
});
