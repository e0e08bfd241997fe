#!/usr/bin/env node
// Writes samples/data/fortunes/{train,test}/<topic>/<n>.txt: short texts on four topics from
// Debian's `fortunes` package (fortune-mod 1.99.1's data files computers, food, love and sports;
// BSD licence, see samples/data/fortunes/README.md) — a small real text-classification task.
// The package is not installed: download and unpack it first, then point this script at it:
//   apt-get download fortunes && dpkg -x fortunes_*.deb /tmp/fortunes
//   node scripts/make-sample-texts.mjs [--from /tmp/fortunes/usr/share/games/fortunes] [--train 30] [--test 40]
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const from = arg('from', '/tmp/fortunes/usr/share/games/fortunes');
const perTrain = Number(arg('train', 30));
const perTest = Number(arg('test', 40));
const out = path.resolve(arg('out', 'samples/data/fortunes'));
const topics = ['computers', 'food', 'love', 'sports'];

/** The fortunes of one file: entries between "%" lines, tabs and outer blank lines trimmed. */
function fortunes(topic) {
  const text = readFileSync(path.join(from, `${topic}.u8`), 'utf8');
  return text
    .split(/^%$/m)
    .map((f) => f.replace(/\t/g, ' ').replace(/ +/g, ' ').trim())
    .filter((f) => f.length >= 40 && f.length <= 400);
}

/** A fixed order that does not follow the file's (the file groups similar fortunes together). */
const byHash = (a, b) => (createHash('sha1').update(a).digest('hex') < createHash('sha1').update(b).digest('hex') ? -1 : 1);

rmSync(out, { recursive: true, force: true });
const counts = {};
for (const topic of topics) {
  const all = fortunes(topic).sort(byHash);
  if (all.length < perTrain + perTest) throw new Error(`${topic} has only ${all.length} fortunes of 40–400 characters`);
  for (const [split, items] of [['train', all.slice(0, perTrain)], ['test', all.slice(perTrain, perTrain + perTest)]]) {
    const dir = path.join(out, split, topic);
    mkdirSync(dir, { recursive: true });
    items.forEach((t, n) => writeFileSync(path.join(dir, `${String(n).padStart(3, '0')}.txt`), t + '\n'));
    counts[`${split}/${topic}`] = items.length;
  }
}
console.log(`wrote ${JSON.stringify(counts)} to ${path.relative(process.cwd(), out)}`);
